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
}

/// A directory username (the `uid` attribute). Any printable text is allowed,
/// since operators' directories differ; it is escaped wherever it reaches LDAP.
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
