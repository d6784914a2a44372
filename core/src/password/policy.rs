use crate::config::PasswordPolicySettings;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use thiserror::Error;

/// The most common passwords, lowercased, one a line (from zxcvbn's list, MIT).
const SHIPPED_COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

/// A rule a new password broke. The `rule` names it for machines; the
/// message explains it to a person.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyViolation {
    /// Fewer characters than the minimum.
    #[error("the password has {actual} characters; at least {min} are needed")]
    TooShort {
        /// Characters given.
        actual: usize,
        /// Characters required.
        min: usize,
    },
    /// More characters than the maximum.
    #[error("the password has {actual} characters; at most {max} are allowed")]
    TooLong {
        /// Characters given.
        actual: usize,
        /// Characters allowed.
        max: usize,
    },
    /// The password contains the username or the local part of the mail address.
    #[error("the password must not contain your username or the name part of your mail address")]
    ContainsIdentity,
    /// The password is on the list of common passwords.
    #[error("this password is one of the most common passwords; choose another")]
    Common,
    /// zxcvbn estimates the password as easy to guess.
    #[error(
        "the password is too easy to guess (strength {score} of 4, at least {min} needed){hint}"
    )]
    TooGuessable {
        /// zxcvbn's score.
        score: u8,
        /// The least score accepted.
        min: u8,
        /// zxcvbn's suggestion, with a leading separator, or empty.
        hint: String,
    },
}

impl PolicyViolation {
    /// A stable identifier of the rule, used in problem types and by the UI.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "too-short",
            Self::TooLong { .. } => "too-long",
            Self::ContainsIdentity => "contains-identity",
            Self::Common => "common-password",
            Self::TooGuessable { .. } => "too-guessable",
        }
    }
}

/// The account's names a password must not contain, lowercased: the uid
/// and the local part of the mail address, when 3 characters or longer.
fn identities(uid: &str, mail: Option<&str>) -> Vec<String> {
    let local_part = mail.and_then(|mail| mail.split('@').next());
    [Some(uid), local_part]
        .into_iter()
        .flatten()
        .map(str::to_lowercase)
        .filter(|identity| identity.chars().count() >= 3)
        .collect()
}

/// How a candidate password fares, for a strength meter: zxcvbn's score
/// (0 to 4) and the first rule it breaks, if any.
#[derive(Debug)]
pub struct Assessment {
    /// zxcvbn's score, 0 (too guessable) to 4 (very unguessable).
    pub score: u8,
    /// The first rule broken; `None` when the password would be accepted.
    pub violation: Option<PolicyViolation>,
}

/// The rules a new password must meet.
#[derive(Debug)]
pub struct PasswordPolicy {
    settings: PasswordPolicySettings,
    common: HashSet<String>,
}

impl PasswordPolicy {
    /// Builds the policy, loading the shipped list and the operator's own.
    pub fn new(settings: PasswordPolicySettings) -> std::io::Result<Self> {
        let mut common: HashSet<String> = SHIPPED_COMMON_PASSWORDS
            .lines()
            .map(str::to_owned)
            .collect();
        if let Some(path) = &settings.common_passwords_file {
            let extra = std::fs::read_to_string(path)?;
            common.extend(extra.lines().map(|line| line.trim().to_lowercase()));
        }
        Ok(Self { settings, common })
    }

    /// How many passwords the common list holds.
    pub fn common_list_len(&self) -> usize {
        self.common.len()
    }

    /// The settings the rules come from, to explain them before a user breaks one.
    pub fn settings(&self) -> &PasswordPolicySettings {
        &self.settings
    }

    /// Assesses `candidate` as [`Self::check`] would, and always gives a score.
    pub fn assess(&self, candidate: &SecretString, uid: &str, mail: Option<&str>) -> Assessment {
        let violation = self.check(candidate, uid, mail).err();
        let score = match &violation {
            Some(PolicyViolation::TooGuessable { score, .. }) => *score,
            Some(PolicyViolation::TooLong { .. } | PolicyViolation::Common) => 0,
            _ => {
                let identities = identities(uid, mail);
                let inputs: Vec<&str> = identities.iter().map(String::as_str).collect();
                let password = candidate.expose_secret();
                if password.is_empty() {
                    0
                } else {
                    u8::from(zxcvbn::zxcvbn(password, &inputs).score())
                }
            }
        };
        Assessment { score, violation }
    }

    /// Checks `candidate` for the account `uid` with mail `mail`; the first
    /// broken rule is returned. CPU-bound for long inputs (zxcvbn).
    pub fn check(
        &self,
        candidate: &SecretString,
        uid: &str,
        mail: Option<&str>,
    ) -> Result<(), PolicyViolation> {
        let password = candidate.expose_secret();
        let length = password.chars().count();
        if length < self.settings.min_length {
            return Err(PolicyViolation::TooShort {
                actual: length,
                min: self.settings.min_length,
            });
        }
        if length > self.settings.max_length {
            return Err(PolicyViolation::TooLong {
                actual: length,
                max: self.settings.max_length,
            });
        }
        let lowered = password.to_lowercase();
        let identities = identities(uid, mail);
        if identities.iter().any(|identity| lowered.contains(identity)) {
            return Err(PolicyViolation::ContainsIdentity);
        }
        if self.common.contains(&lowered) {
            return Err(PolicyViolation::Common);
        }
        let inputs: Vec<&str> = identities.iter().map(String::as_str).collect();
        let estimate = zxcvbn::zxcvbn(password, &inputs);
        let score = u8::from(estimate.score());
        if score < self.settings.min_score {
            let hint = estimate
                .feedback()
                .and_then(|feedback| feedback.suggestions().first().map(|s| format!(": {s}")))
                .unwrap_or_default();
            return Err(PolicyViolation::TooGuessable {
                score,
                min: self.settings.min_score,
                hint,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::new(PasswordPolicySettings {
            min_length: 12,
            max_length: 256,
            min_score: 3,
            common_passwords_file: None,
        })
        .unwrap()
    }

    fn check(password: &str) -> Result<(), PolicyViolation> {
        policy().check(
            &SecretString::from(password),
            "alice",
            Some("alice.l@example.org"),
        )
    }

    #[test]
    fn the_shipped_list_has_at_least_ten_thousand_entries() {
        assert!(policy().common_list_len() >= 10_000);
    }

    #[test]
    fn length_counts_unicode_characters_not_bytes() {
        // Eleven characters but 22 bytes.
        assert_eq!(
            check("ééééééééééé"),
            Err(PolicyViolation::TooShort {
                actual: 11,
                min: 12
            })
        );
        assert_eq!(
            check(&"x".repeat(257)),
            Err(PolicyViolation::TooLong {
                actual: 257,
                max: 256
            })
        );
    }

    #[test]
    fn the_username_and_mail_name_are_refused() {
        assert_eq!(
            check("Xq7#ALICE#Lm2p9"),
            Err(PolicyViolation::ContainsIdentity)
        );
        assert_eq!(
            check("Xq7#alice.l#Lm2p9"),
            Err(PolicyViolation::ContainsIdentity)
        );
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert_eq!(check("Password1234"), Err(PolicyViolation::Common));
    }

    #[test]
    fn guessable_passwords_are_refused_and_strong_ones_pass() {
        assert!(matches!(
            check("aaaaaaaaaaaaaaaa"),
            Err(PolicyViolation::TooGuessable { .. })
        ));
        assert_eq!(check("Wonderland-Tea-Party-42"), Ok(()));
    }
}
