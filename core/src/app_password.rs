//! Application passwords: named secrets for mail clients, each limited to
//! the services it may log in to.

pub mod last_use;

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use thiserror::Error;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Characters of generated app passwords: no 0/o, 1/l/i.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// Characters drawn (log2(31) * 24 = 118.9 bits), shown in groups of four.
const SECRET_CHARS: usize = 24;

/// A mail service, named as Dovecot's `%s` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// Reading mail over IMAP.
    Imap,
    /// Reading mail over POP3.
    Pop3,
    /// Sending mail through Dovecot's submission service.
    Submission,
    /// Sending mail through Postfix SASL (service `smtp`).
    Smtp,
    /// Managing Sieve filters.
    Sieve,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 5] = [
        Service::Imap,
        Service::Pop3,
        Service::Submission,
        Service::Smtp,
        Service::Sieve,
    ];

    /// The name as Dovecot gives it in `%s`, and the `cn` of the child entry.
    pub fn name(self) -> &'static str {
        match self {
            Service::Imap => "imap",
            Service::Pop3 => "pop3",
            Service::Submission => "submission",
            Service::Smtp => "smtp",
            Service::Sieve => "sieve",
        }
    }
}

/// What an app password may do: everything, or some services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Any bind as the account: its hash joins the account's `userPassword`.
    All,
    /// Only these services: its hash sits in `cn=<service>,<account>`.
    Services(BTreeSet<Service>),
}

/// Why a scope list was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ScopeError {
    /// A name that is not a scope.
    #[error("unknown scope `{0}`; choose from all, mail, imap, pop3, submission, smtp, sieve")]
    Unknown(String),
    /// No scope at all.
    #[error("choose at least one scope")]
    Empty,
}

impl Scope {
    /// Parses scope names as a user gives them; `mail` means imap, pop3,
    /// submission and smtp; `all` anywhere means all.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Scope, ScopeError> {
        let mut services = BTreeSet::new();
        let mut all = false;
        for name in names {
            match name.as_ref().trim().to_ascii_lowercase().as_str() {
                "all" => all = true,
                "mail" => services.extend([
                    Service::Imap,
                    Service::Pop3,
                    Service::Submission,
                    Service::Smtp,
                ]),
                other => {
                    let service = Service::ALL
                        .into_iter()
                        .find(|service| service.name() == other)
                        .ok_or_else(|| ScopeError::Unknown(name.as_ref().to_owned()))?;
                    services.insert(service);
                }
            }
        }
        match (all, services.is_empty()) {
            (true, _) => Ok(Scope::All),
            (false, true) => Err(ScopeError::Empty),
            (false, false) => Ok(Scope::Services(services)),
        }
    }

    /// The scope's names, for display.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            Scope::All => vec!["all"],
            Scope::Services(services) => services.iter().map(|service| service.name()).collect(),
        }
    }
}

/// A name a person gave an app password: 1 to 64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppPasswordName(String);

/// Why a name was refused.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("a name has 1 to 64 characters and no control characters")]
pub struct InvalidName;

impl AppPasswordName {
    /// Parses a name as typed.
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        let name = raw.trim();
        let length = name.chars().count();
        if length == 0 || length > 64 || name.chars().any(char::is_control) {
            return Err(InvalidName);
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether two names are the same to a person (case-insensitive).
    pub fn same_as(&self, other: &AppPasswordName) -> bool {
        self.0.to_lowercase() == other.0.to_lowercase()
    }
}

impl fmt::Display for AppPasswordName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An app password's metadata as stored in `latchkeyAppPassword`, with the
/// hash that finds its `userPassword` values again. Never leaves the
/// directory with the hash: the API shows [`AppPassword::id`] and the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPassword {
    /// Its id, used in URLs.
    pub id: uuid::Uuid,
    /// What the user called it.
    pub name: AppPasswordName,
    /// What it may do.
    pub scope: Scope,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// When it stops working, if ever.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires: Option<OffsetDateTime>,
    /// The `{ARGON2}` hash in `userPassword`.
    pub hash: String,
}

impl AppPassword {
    /// Whether it has expired at `now`.
    pub fn expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }

    /// The stored form (one `latchkeyAppPassword` value).
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("app password metadata serialises")
    }

    /// Parses a stored value.
    pub fn from_stored(raw: &str) -> Option<Self> {
        serde_json::from_str(raw).ok()
    }
}

/// A fresh app password, as shown to the user once: `abcd-efgh-...` (the
/// dashes are part of it, so what is copied is what works).
pub fn generate_secret() -> Zeroizing<String> {
    let mut rng = rand::rngs::OsRng;
    let chars: Vec<char> = (0..SECRET_CHARS)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    Zeroizing::new(
        chars
            .chunks(4)
            .map(|group| group.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_expands_and_all_wins() {
        let mail = Scope::parse(&["mail"]).unwrap();
        assert_eq!(mail.names(), vec!["imap", "pop3", "submission", "smtp"]);
        assert_eq!(Scope::parse(&["imap", "all"]).unwrap(), Scope::All);
        assert_eq!(Scope::parse(&["SIEVE"]).unwrap().names(), vec!["sieve"]);
    }

    #[test]
    fn unknown_and_empty_scopes_are_refused() {
        assert_eq!(
            Scope::parse(&["imap", "ftp"]),
            Err(ScopeError::Unknown("ftp".into()))
        );
        assert_eq!(Scope::parse::<&str>(&[]), Err(ScopeError::Empty));
    }

    #[test]
    fn names_are_bounded_and_printable() {
        assert!(AppPasswordName::parse("Thunderbird on laptop").is_ok());
        assert_eq!(AppPasswordName::parse("  "), Err(InvalidName));
        assert_eq!(AppPasswordName::parse(&"x".repeat(65)), Err(InvalidName));
        assert_eq!(AppPasswordName::parse("tab\there"), Err(InvalidName));
        assert!(AppPasswordName::parse(&"é".repeat(64)).is_ok());
    }

    #[test]
    fn generated_secrets_have_over_100_bits_in_typeable_groups() {
        let secret = generate_secret();
        let groups: Vec<&str> = secret.split('-').collect();
        assert_eq!(groups.len(), 6);
        assert!(groups.iter().all(|group| group.len() == 4));
        assert!(
            secret
                .chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
        );
        assert!((SECRET_CHARS as f64) * (ALPHABET.len() as f64).log2() >= 100.0);
        assert_ne!(generate_secret(), secret);
    }

    #[test]
    fn metadata_round_trips_through_its_stored_form() {
        let entry = AppPassword {
            id: uuid::Uuid::new_v4(),
            name: AppPasswordName::parse("Phone").unwrap(),
            scope: Scope::parse(&["submission"]).unwrap(),
            created: OffsetDateTime::UNIX_EPOCH,
            expires: None,
            hash: "{ARGON2}$argon2id$x".into(),
        };
        assert_eq!(AppPassword::from_stored(&entry.to_stored()), Some(entry));
    }
}
