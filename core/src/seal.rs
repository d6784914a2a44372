//! Sealing of secrets with AES-256-GCM under a named key, so a secret can
//! cross the broker or rest in the directory without being readable there.
//!
//! A sealed value is `<key id>.<base64url(nonce || ciphertext)>`. The key id
//! lets keys rotate: new values are sealed with the current key, values sealed
//! with a previous key still open. The associated data binds a sealed value
//! to its context (a job id, an account), so it cannot be replayed elsewhere.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use thiserror::Error;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;

/// Why a key could not be loaded or a value could not be opened.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SealError {
    /// A key line is not `<id>:<base64 of 32 bytes>`.
    #[error(
        "a sealing key is written as `<id>:<base64 of 32 random bytes>`, for example `k1:$(openssl rand -base64 32)`"
    )]
    MalformedKey,
    /// The sealed value names a key this keyring does not have.
    #[error("the value was sealed with key `{0}`, which is not configured")]
    UnknownKey(String),
    /// The value was altered, truncated, or sealed for another context.
    #[error("the sealed value is damaged or belongs to another context")]
    Damaged,
}

/// A value sealed for one context (`<key id>.<base64url>`): safe to carry
/// through the broker or keep in the directory; it opens only with the
/// keyring and the context it was sealed for.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Sealed(String);

impl Sealed {
    /// The sealed text, to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sealed text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for Sealed {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.0.split_once('.').map_or("?", |(id, _)| id);
        write!(f, "Sealed({key}.…)")
    }
}

/// One named AES-256 key.
struct NamedKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The keys that seal and open values: the first seals, all of them open.
pub struct Keyring {
    keys: Vec<NamedKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|key| key.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

impl Keyring {
    /// The keyring of job messages and their sealed secrets:
    /// `secrets.sealing_key`, and the older keys it still opens.
    pub fn for_jobs(secrets: &crate::config::SecretSettings) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        Self::from_lines(&secrets.sealing_key, &secrets.previous_sealing_keys)
            .context("secrets.sealing_key")
    }

    /// The keyring of secrets stored in the directory (`secrets.directory_key`).
    pub fn for_directory(secrets: &crate::config::SecretSettings) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        Self::from_lines(&secrets.directory_key, []).context("secrets.directory_key")
    }

    /// Builds a keyring from the current key and any previous ones, each
    /// written as `<id>:<base64 of 32 bytes>`.
    pub fn from_lines<'a>(
        current: &'a SecretString,
        previous: impl IntoIterator<Item = &'a SecretString>,
    ) -> Result<Self, SealError> {
        let keys = std::iter::once(current)
            .chain(previous)
            .map(|line| parse_key(line.expose_secret()))
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// A keyring with one random key; for tests and throwaway instances.
    pub fn random(id: &str) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::thread_rng().fill_bytes(key.as_mut());
        let cipher = Aes256Gcm::new_from_slice(key.as_ref()).expect("32-byte key");
        Self {
            keys: vec![NamedKey {
                id: id.to_owned(),
                cipher,
            }],
        }
    }

    /// Seals `secret` for the context `context`.
    pub fn seal(&self, context: &str, secret: &[u8]) -> Sealed {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret,
            aad: context.as_bytes(),
        };
        let ciphertext = key
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Sealed(format!("{}.{}", key.id, URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// Opens a value sealed for `context`.
    pub fn open(
        &self,
        context: &str,
        sealed: impl AsRef<str>,
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let (id, body) = sealed.as_ref().split_once('.').ok_or(SealError::Damaged)?;
        let key = self
            .keys
            .iter()
            .find(|key| key.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Damaged)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        key.cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map(Zeroizing::new)
            .map_err(|_| SealError::Damaged)
    }

    /// Opens a sealed UTF-8 secret.
    pub fn open_string(
        &self,
        context: &str,
        sealed: impl AsRef<str>,
    ) -> Result<SecretString, SealError> {
        let bytes = self.open(context, sealed)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| SealError::Damaged)?;
        Ok(SecretString::from(text.to_owned()))
    }
}

fn parse_key(line: &str) -> Result<NamedKey, SealError> {
    let (id, encoded) = line.trim().split_once(':').ok_or(SealError::MalformedKey)?;
    let valid_id = !id.is_empty()
        && id.len() <= 16
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_id {
        return Err(SealError::MalformedKey);
    }
    let key = Zeroizing::new(
        STANDARD
            .decode(encoded)
            .map_err(|_| SealError::MalformedKey)?,
    );
    let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| SealError::MalformedKey)?;
    Ok(NamedKey {
        id: id.to_owned(),
        cipher,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_line(id: &str, byte: u8) -> SecretString {
        SecretString::from(format!("{id}:{}", STANDARD.encode([byte; 32])))
    }

    #[test]
    fn a_sealed_value_opens_only_in_its_context() {
        let ring = Keyring::from_lines(&key_line("k1", 7), []).unwrap();
        let sealed = ring.seal("job-1", b"hunter2hunter2");
        assert!(!sealed.as_str().contains("hunter2"));
        assert_eq!(
            ring.open("job-1", &sealed).unwrap().as_slice(),
            b"hunter2hunter2"
        );
        assert_eq!(ring.open("job-2", &sealed), Err(SealError::Damaged));
    }

    #[test]
    fn values_sealed_with_a_previous_key_still_open_after_rotation() {
        let old = Keyring::from_lines(&key_line("k1", 1), []).unwrap();
        let sealed = old.seal("ctx", b"secret");
        let previous = [key_line("k1", 1)];
        let rotated = Keyring::from_lines(&key_line("k2", 2), &previous).unwrap();
        assert!(rotated.seal("ctx", b"x").as_str().starts_with("k2."));
        assert_eq!(rotated.open("ctx", &sealed).unwrap().as_slice(), b"secret");
        let fresh = Keyring::from_lines(&key_line("k2", 2), []).unwrap();
        assert_eq!(
            fresh.open("ctx", &sealed),
            Err(SealError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn a_tampered_value_is_refused() {
        let ring = Keyring::random("t");
        let mut sealed = ring.seal("ctx", b"secret").into_string();
        sealed.push('A');
        assert_eq!(ring.open("ctx", &sealed), Err(SealError::Damaged));
    }

    #[test]
    fn malformed_key_lines_are_refused() {
        for line in [
            "nokey",
            "k1:not base64!",
            "k1:c2hvcnQ=",
            ":AAAA",
            "bad id:AAAA",
        ] {
            let line = SecretString::from(line.to_owned());
            assert_eq!(
                Keyring::from_lines(&line, []).err(),
                Some(SealError::MalformedKey),
                "{line:?}"
            );
        }
    }
}
