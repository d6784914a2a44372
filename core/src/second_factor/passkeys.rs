//! Passkeys (WebAuthn credentials) as a second factor, and, where the
//! user turns it on per passkey, as a sign-in without a password. Each
//! passkey is one `latchkeyPasskey` value on the account: its id, name,
//! dates, the passwordless flag and the credential as `webauthn-rs` keeps
//! it (credential id, public key, signature counter, backup flags). None
//! of it is secret, so it is stored as JSON, unsealed.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

/// Longest passkey name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A passkey's name as the user gave it: 1 to 64 characters after trimming,
/// no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PasskeyName(String);

/// Why a passkey name was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PasskeyNameError {
    /// Nothing but white space.
    #[error("give the passkey a name, such as the device it lives on")]
    Empty,
    /// Over [`MAX_NAME_CHARS`].
    #[error("a passkey name has at most {MAX_NAME_CHARS} characters")]
    TooLong,
    /// Line breaks, tabs and other control characters.
    #[error("a passkey name cannot contain line breaks or other control characters")]
    ControlCharacter,
}

impl PasskeyName {
    /// Parses a name as typed.
    pub fn parse(raw: &str) -> Result<Self, PasskeyNameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(PasskeyNameError::Empty);
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(PasskeyNameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(PasskeyNameError::ControlCharacter);
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PasskeyName {
    type Error = PasskeyNameError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<PasskeyName> for String {
    fn from(name: PasskeyName) -> Self {
        name.0
    }
}

impl fmt::Display for PasskeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One registered passkey, as stored in `latchkeyPasskey`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPasskey {
    /// Latchkey's id of the passkey (the API's `{id}`); not the credential id.
    pub id: Uuid,
    /// What the user called it.
    pub name: PasskeyName,
    /// When it was registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// When it last proved a sign-in or step-up. A ceremony started before
    /// this instant is refused, so each authentication is accepted once.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_used: Option<OffsetDateTime>,
    /// Whether it signs in on its own, without the password (a
    /// discoverable credential the user chose to allow that for).
    #[serde(default)]
    pub passwordless: bool,
    /// The credential: id, public key, counter, backup flags.
    pub credential: Passkey,
}

impl StoredPasskey {
    /// The value written to the directory.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("a passkey serialises")
    }

    /// Reads a stored value; `None` if it is not one.
    pub fn from_stored(raw: &str) -> Option<Self> {
        serde_json::from_str(raw).ok()
    }

    /// The WebAuthn credential id.
    pub fn credential_id(&self) -> &[u8] {
        self.credential.cred_id().as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PasskeyName::parse("  Laptop ").unwrap().as_str(), "Laptop");
        assert_eq!(PasskeyName::parse("   "), Err(PasskeyNameError::Empty));
        assert_eq!(
            PasskeyName::parse(&"é".repeat(MAX_NAME_CHARS + 1)),
            Err(PasskeyNameError::TooLong)
        );
        assert!(PasskeyName::parse(&"é".repeat(MAX_NAME_CHARS)).is_ok());
        assert_eq!(
            PasskeyName::parse("a\nb"),
            Err(PasskeyNameError::ControlCharacter)
        );
    }
}
