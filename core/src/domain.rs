//! Values parsed at the boundary into types that cannot be wrong.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Why a value was refused at the boundary.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InvalidValue {
    /// The username is empty, too long, or holds control characters.
    #[error("a username is 1 to {max} characters without control characters", max = Uid::MAX_CHARS)]
    Uid,
    /// A job id is not a UUID.
    #[error("a job id is a UUID")]
    JobId,
    /// A username that cannot stand for `%u` in a Maildir path.
    #[error("the username {uid:?} cannot name a Maildir: {why}")]
    MailboxName {
        /// The username as the directory holds it.
        uid: String,
        /// What makes it unsafe in a path.
        why: UnsafeMailboxName,
    },
}

/// Why a username cannot stand for `%u` in a Maildir path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum UnsafeMailboxName {
    /// The path would name the directory that holds every mailbox.
    #[error("it is empty, which would name the directory of every mailbox")]
    Empty,
    /// A path separator makes it several directories, or an absolute path.
    #[error("it holds `/`, which would make it more than one directory")]
    Slash,
    /// `..` climbs out of the directory the template names.
    #[error("it holds `..`, which names the directory above")]
    DotDot,
    /// NUL ends a path early; other control characters hide in logs.
    #[error("it holds NUL or another control character, which a path cannot carry safely")]
    Control,
    /// `.` and `..` are not the user's directory, and a dot-name is a
    /// hidden file or a Maildir++ folder (another user's, next to theirs).
    #[error(
        "it starts with `.`, which names the directory itself, the one above, or a hidden one such as a Maildir++ folder"
    )]
    LeadingDot,
}

/// A directory username (the `uid` attribute). Any printable text is allowed,
/// since operators' directories differ; it is escaped wherever it reaches LDAP.
/// Naming a Maildir asks more of it: see [`MailboxName`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Uid(String);

impl Uid {
    /// The longest username accepted, in characters.
    pub const MAX_CHARS: usize = 256;

    /// Parses a username as typed by a person.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        let length = trimmed.chars().count();
        if length == 0 || length > Self::MAX_CHARS || trimmed.chars().any(char::is_control) {
            return Err(InvalidValue::Uid);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An LDAP filter matching this username, escaped per RFC 4515.
    pub fn filter(&self) -> String {
        format!("(uid={})", ldap3::ldap_escape(self.0.as_str()))
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A username that can stand for `%u` in a Maildir template: exactly one
/// path component, never `.` or `..` nor a hidden name, so the filled
/// template stays the directory it names for that user. Checked on the
/// username as the directory holds it (which names the mailbox), not as
/// typed at sign-in; sign-in accepts any [`Uid`], since only a path needs this.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailboxName(String);

impl MailboxName {
    /// Checks that `uid` can name a Maildir; says why not otherwise.
    pub fn parse(uid: &str) -> Result<Self, InvalidValue> {
        let why = if uid.is_empty() {
            Some(UnsafeMailboxName::Empty)
        } else if uid.chars().any(char::is_control) {
            Some(UnsafeMailboxName::Control)
        } else if uid.contains('/') {
            Some(UnsafeMailboxName::Slash)
        } else if uid.starts_with('.') {
            Some(UnsafeMailboxName::LeadingDot)
        } else if uid.contains("..") {
            // Harmless as one component, but refused anywhere: a template
            // may put `%u` after other text, and no real username needs it.
            Some(UnsafeMailboxName::DotDot)
        } else {
            None
        };
        match why {
            Some(why) => Err(InvalidValue::MailboxName {
                uid: uid.to_owned(),
                why,
            }),
            None => Ok(Self(uid.to_owned())),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A distinguished name as the directory returned it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Dn(String);

impl Dn {
    /// Wraps a DN that came from the directory or from a trusted template.
    pub fn from_directory(dn: impl Into<String>) -> Self {
        Self(dn.into())
    }

    /// A child entry `attr=value,<self>`, with `value` escaped per RFC 4514.
    pub fn child(&self, attribute: &str, value: &str) -> Dn {
        Dn(format!(
            "{attribute}={},{}",
            ldap3::dn_escape(value),
            self.0
        ))
    }

    /// The DN as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of a job: a UUIDv7, so ids sort by the time they were requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(uuid::Uuid);

impl JobId {
    /// A new id for a job requested now.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// Parses an id from a URL or the directory.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        uuid::Uuid::parse_str(raw)
            .map(Self)
            .map_err(|_| InvalidValue::JobId)
    }

    /// Whether `id`, a UUIDv7 made for another request, was made before
    /// this job was requested; ids of any other version (made before ids
    /// were ordered) count as earlier.
    pub fn follows(&self, id: uuid::Uuid) -> bool {
        id.get_version_num() != 7 || id < self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_injection_is_escaped() {
        let uid = Uid::parse("*)(uid=*").unwrap();
        assert_eq!(uid.filter(), r"(uid=\2a\29\28uid=\2a)");
    }

    #[test]
    fn control_characters_and_empty_names_are_refused() {
        assert_eq!(Uid::parse(" "), Err(InvalidValue::Uid));
        assert_eq!(Uid::parse("al\u{0}ice"), Err(InvalidValue::Uid));
        assert_eq!(Uid::parse(&"a".repeat(257)), Err(InvalidValue::Uid));
    }

    fn refused(uid: &str) -> Option<UnsafeMailboxName> {
        match MailboxName::parse(uid) {
            Err(InvalidValue::MailboxName { why, .. }) => Some(why),
            Err(other) => panic!("{other}"),
            Ok(_) => None,
        }
    }

    #[test]
    fn a_mailbox_name_is_one_path_component_that_climbs_nowhere() {
        assert_eq!(refused(""), Some(UnsafeMailboxName::Empty));
        assert_eq!(refused("bob/../alice"), Some(UnsafeMailboxName::Slash));
        assert_eq!(refused("/etc"), Some(UnsafeMailboxName::Slash));
        assert_eq!(refused("alice/"), Some(UnsafeMailboxName::Slash));
        assert_eq!(refused(".."), Some(UnsafeMailboxName::LeadingDot));
        assert_eq!(refused("."), Some(UnsafeMailboxName::LeadingDot));
        assert_eq!(refused(".Sent"), Some(UnsafeMailboxName::LeadingDot));
        assert_eq!(refused("a..b"), Some(UnsafeMailboxName::DotDot));
        assert_eq!(refused("alice.."), Some(UnsafeMailboxName::DotDot));
        assert_eq!(refused("al\u{0}ice"), Some(UnsafeMailboxName::Control));
        assert_eq!(refused("alice\n"), Some(UnsafeMailboxName::Control));
    }

    #[test]
    fn ordinary_usernames_name_their_mailbox() {
        for uid in [
            "alice",
            "alice.liddell",
            "alice@example.org",
            "o'brien",
            "jürgen",
            "a b",
            "a.",
        ] {
            assert_eq!(MailboxName::parse(uid).unwrap().as_str(), uid);
        }
    }

    #[test]
    fn a_refused_mailbox_name_says_which_and_why() {
        let error = MailboxName::parse("../bob").unwrap_err().to_string();
        assert_eq!(
            error,
            "the username \"../bob\" cannot name a Maildir: it holds `/`, which would make it more than one directory"
        );
    }

    #[test]
    fn child_dn_values_are_escaped() {
        let base = Dn::from_directory("ou=jobs,dc=example,dc=org");
        assert_eq!(
            base.child("cn", "a,b=c").as_str(),
            r"cn=a\2cb\3dc,ou=jobs,dc=example,dc=org"
        );
    }

    #[test]
    fn job_ids_sort_by_creation() {
        let first = JobId::new();
        let second = JobId::new();
        assert!(first < second);
    }
}
