//! Encryption at rest: the methods and algorithms a user picks, their public
//! keys (validated before anything is stored), and the [`Encryptor`] that
//! rewrites messages into PGP/MIME (RFC 3156) or S/MIME (RFC 8551) for them.

mod detect;
mod encryptor;
mod framing;
mod headers;
mod keys;
mod label;
mod openpgp;
mod paste;
mod smime;
mod stored;
mod summary;
#[cfg(test)]
mod tests;
mod writers;

pub use detect::{AlreadyEncrypted, is_already_encrypted};
pub use encryptor::{EncryptError, Encrypted, Encryptor, SettingsError};
pub use keys::{KeyError, MAX_KEY_BYTES, Recipients, load_stored, parse_keys};
pub use label::KeyLabel;
pub use stored::StoredKeys;
pub use summary::{KeySummary, summarize};

use serde::{Deserialize, Serialize};

/// How messages are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// OpenPGP, written as PGP/MIME.
    Openpgp,
    /// S/MIME (CMS), written as `application/pkcs7-mime`.
    Smime,
}

impl Method {
    /// The stored and API form.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Openpgp => "openpgp",
            Method::Smime => "smime",
        }
    }

    /// Parses the stored form.
    pub fn parse(raw: &str) -> Option<Self> {
        [Method::Openpgp, Method::Smime]
            .into_iter()
            .find(|method| method.as_str() == raw)
    }
}

/// The content cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    /// OpenPGP with AES-128.
    #[serde(rename = "aes-128")]
    Aes128,
    /// OpenPGP with AES-256.
    #[serde(rename = "aes-256")]
    Aes256,
    /// S/MIME EnvelopedData with AES-128-CBC.
    #[serde(rename = "aes-128-cbc")]
    Aes128Cbc,
    /// S/MIME EnvelopedData with AES-256-CBC.
    #[serde(rename = "aes-256-cbc")]
    Aes256Cbc,
    /// S/MIME AuthEnvelopedData with AES-128-GCM.
    #[serde(rename = "aes-128-gcm")]
    Aes128Gcm,
    /// S/MIME AuthEnvelopedData with AES-256-GCM.
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
}

impl Algorithm {
    /// Every algorithm.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Aes128,
        Algorithm::Aes256,
        Algorithm::Aes128Cbc,
        Algorithm::Aes256Cbc,
        Algorithm::Aes128Gcm,
        Algorithm::Aes256Gcm,
    ];

    /// The method this algorithm belongs to.
    pub fn method(self) -> Method {
        match self {
            Algorithm::Aes128 | Algorithm::Aes256 => Method::Openpgp,
            _ => Method::Smime,
        }
    }

    /// The stored and API form.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Aes128 => "aes-128",
            Algorithm::Aes256 => "aes-256",
            Algorithm::Aes128Cbc => "aes-128-cbc",
            Algorithm::Aes256Cbc => "aes-256-cbc",
            Algorithm::Aes128Gcm => "aes-128-gcm",
            Algorithm::Aes256Gcm => "aes-256-gcm",
        }
    }

    /// Parses the stored form.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.as_str() == raw)
    }
}
