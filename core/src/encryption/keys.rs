//! Public keys as users upload them, checked until they can encrypt now.

use super::{Algorithm, Method, openpgp, smime};
use base64::Engine;
use thiserror::Error;

/// The most key data accepted in one upload, in bytes.
pub const MAX_KEY_BYTES: usize = 256 * 1024;

/// Why an upload of keys was refused; `index` is the key's position (from 0).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyError {
    /// No key was given.
    #[error("upload at least one public key")]
    NoKeys,
    /// More keys than allowed.
    #[error("at most {max} keys are allowed")]
    TooMany {
        /// The limit.
        max: usize,
    },
    /// More key data than allowed.
    #[error("the keys are larger than {MAX_KEY_BYTES} bytes together")]
    TooLarge,
    /// Not a key of either method.
    #[error("key {index} is neither an OpenPGP certificate nor an X.509 certificate")]
    Garbage {
        /// Which key.
        index: usize,
    },
    /// A key of the other method.
    #[error("key {index} is {found}, but {expected} was chosen")]
    WrongMethod {
        /// Which key.
        index: usize,
        /// The chosen method.
        expected: &'static str,
        /// What the key is.
        found: &'static str,
    },
    /// The key or certificate has expired (or is not valid yet).
    #[error("key {index} is not valid now ({detail})")]
    NotValidNow {
        /// Which key.
        index: usize,
        /// Expired when, or valid from when.
        detail: String,
    },
    /// The key was revoked.
    #[error("key {index} has been revoked")]
    Revoked {
        /// Which key.
        index: usize,
    },
    /// No part of the key may encrypt.
    #[error("key {index} cannot encrypt (it has no encryption-capable {part})")]
    CannotEncrypt {
        /// Which key.
        index: usize,
        /// `subkey` or `key usage`.
        part: &'static str,
    },
    /// RSA shorter than 2048 bits, or an algorithm we do not encrypt to.
    #[error(
        "key {index} is too weak: {detail}; use RSA of at least 2048 bits or an elliptic curve"
    )]
    Weak {
        /// Which key.
        index: usize,
        /// What it is.
        detail: String,
    },
    /// Encrypting a test message to the key failed.
    #[error("a trial encryption to key {index} failed: {detail}")]
    TrialFailed {
        /// Which key.
        index: usize,
        /// What the library said.
        detail: String,
    },
}

/// Validated keys of one method, ready to encrypt to.
pub enum Recipients {
    /// OpenPGP certificates.
    Openpgp(Vec<sequoia_openpgp::Cert>),
    /// X.509 certificates.
    Smime(Vec<openssl::x509::X509>),
}

impl std::fmt::Debug for Recipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recipients::Openpgp(certs) => write!(f, "Openpgp({} certs)", certs.len()),
            Recipients::Smime(certs) => write!(f, "Smime({} certs)", certs.len()),
        }
    }
}

impl Recipients {
    /// The keys in their stored form (binary OpenPGP or DER), for the directory.
    pub fn to_stored(&self) -> Vec<Vec<u8>> {
        match self {
            Recipients::Openpgp(certs) => certs.iter().map(openpgp::to_binary).collect(),
            Recipients::Smime(certs) => certs
                .iter()
                .map(|cert| cert.to_der().expect("a parsed certificate re-encodes"))
                .collect(),
        }
    }
}

/// What one uploaded key looks like.
enum Kind {
    Openpgp,
    X509,
}

/// The bytes of one key as uploaded: armored OpenPGP, PEM, or base64 of
/// binary OpenPGP or DER.
fn decode(raw: &str) -> Option<(Kind, Vec<u8>)> {
    let text = raw.trim();
    if text.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
        return Some((Kind::Openpgp, text.as_bytes().to_vec()));
    }
    if text.starts_with("-----BEGIN CERTIFICATE-----") {
        return Some((Kind::X509, text.as_bytes().to_vec()));
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    // DER starts with a SEQUENCE; binary OpenPGP with a packet tag (high bit set).
    match bytes.first() {
        Some(0x30) => Some((Kind::X509, bytes)),
        Some(tag) if tag & 0x80 != 0 => Some((Kind::Openpgp, bytes)),
        _ => None,
    }
}

/// Parses and checks the uploaded keys for `algorithm`: each must be of the
/// algorithm's method, able to encrypt at `now`, strong enough, and take a
/// trial encryption.
pub fn parse_keys<S: AsRef<str>>(
    algorithm: Algorithm,
    uploaded: &[S],
    max_keys: usize,
    now: std::time::SystemTime,
) -> Result<Recipients, KeyError> {
    if uploaded.is_empty() {
        return Err(KeyError::NoKeys);
    }
    if uploaded.len() > max_keys {
        return Err(KeyError::TooMany { max: max_keys });
    }
    if uploaded.iter().map(|key| key.as_ref().len()).sum::<usize>() > MAX_KEY_BYTES {
        return Err(KeyError::TooLarge);
    }
    let method = algorithm.method();
    let mut openpgp_certs = Vec::new();
    let mut x509_certs = Vec::new();
    for (index, raw) in uploaded.iter().enumerate() {
        let (kind, bytes) = decode(raw.as_ref()).ok_or(KeyError::Garbage { index })?;
        match (kind, method) {
            (Kind::Openpgp, Method::Openpgp) => {
                openpgp_certs.push(openpgp::validate(index, &bytes, now)?)
            }
            (Kind::X509, Method::Smime) => x509_certs.push(smime::validate(index, &bytes, now)?),
            (Kind::Openpgp, Method::Smime) => {
                return Err(KeyError::WrongMethod {
                    index,
                    expected: "S/MIME",
                    found: "an OpenPGP key",
                });
            }
            (Kind::X509, Method::Openpgp) => {
                return Err(KeyError::WrongMethod {
                    index,
                    expected: "OpenPGP",
                    found: "an X.509 certificate",
                });
            }
        }
    }
    let recipients = match method {
        Method::Openpgp => Recipients::Openpgp(openpgp_certs),
        Method::Smime => Recipients::Smime(x509_certs),
    };
    trial(algorithm, &recipients, now)?;
    Ok(recipients)
}

/// Encrypts a short message to every key, as the workers will.
fn trial(
    algorithm: Algorithm,
    recipients: &Recipients,
    now: std::time::SystemTime,
) -> Result<(), KeyError> {
    let sample = b"Content-Type: text/plain\r\n\r\nLatchkey trial encryption\r\n";
    let mut sink = Vec::new();
    super::encryptor::encrypt_body(algorithm, recipients, now, &mut &sample[..], &mut sink).map_err(
        |error| KeyError::TrialFailed {
            index: 0,
            detail: error.to_string(),
        },
    )
}

/// Loads keys from their stored form, as a worker does before a pass.
pub fn load_stored(method: Method, stored: &[Vec<u8>]) -> Result<Recipients, KeyError> {
    match method {
        Method::Openpgp => stored
            .iter()
            .enumerate()
            .map(|(index, bytes)| openpgp::parse(index, bytes))
            .collect::<Result<_, _>>()
            .map(Recipients::Openpgp),
        Method::Smime => stored
            .iter()
            .enumerate()
            .map(|(index, bytes)| {
                openssl::x509::X509::from_der(bytes).map_err(|_| KeyError::Garbage { index })
            })
            .collect::<Result<_, _>>()
            .map(Recipients::Smime),
    }
}
