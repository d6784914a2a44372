//! Public keys as users upload them, checked until they can encrypt now.
//! An upload is an array of strings (pastes or files); each may hold several
//! keys, and every key becomes a recipient or the upload is refused.

use super::paste::{self, Found, Piece, Unreadable};
use super::{Algorithm, KeyLabel, Method, openpgp, smime, summary};
use std::time::{Duration, SystemTime};
use thiserror::Error;

/// How far ahead of this server's clock a key may have been made: the
/// clock of the computer (or CA) that made it is often a little ahead, and
/// a key made seconds ago must not be refused as "not valid yet".
const CLOCK_SKEW: Duration = Duration::from_secs(10 * 60);

/// When a key made at `made` is judged: now, or when it was made if that is
/// a little ahead of now; a key made further ahead is refused, naming the clock.
fn judged_at(key: &KeyLabel, made: SystemTime, now: SystemTime) -> Result<SystemTime, KeyError> {
    match made.duration_since(now) {
        Err(_) => Ok(now),
        Ok(ahead) if ahead <= CLOCK_SKEW => Ok(made),
        Ok(ahead) => Err(KeyError::NotValidNow {
            key: key.clone(),
            detail: format!(
                "it was made {} minutes after this server's time; check the clock of the computer that made it",
                ahead.as_secs().div_ceil(60)
            ),
        }),
    }
}

/// The most key data accepted in one upload, in bytes.
pub const MAX_KEY_BYTES: usize = 256 * 1024;

/// Why an upload of keys was refused; `key` says which key, counted across
/// the whole upload (see [`KeyLabel`]).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyError {
    /// No key was given.
    #[error("upload at least one public key")]
    NoKeys,
    /// More keys than allowed.
    #[error("at most {max} keys are allowed, and this upload holds {found}")]
    TooMany {
        /// The limit.
        max: usize,
        /// How many keys the upload holds (not how many strings).
        found: usize,
    },
    /// More key data than allowed.
    #[error("the keys are larger than {MAX_KEY_BYTES} bytes together")]
    TooLarge,
    /// Not a key of either method.
    #[error("{key} is neither an OpenPGP certificate nor an X.509 certificate")]
    Garbage {
        /// Which key.
        key: KeyLabel,
    },
    /// A private key, which the server must never hold.
    #[error(
        "{key} is {found}: upload only the public key or certificate, and keep the private key to yourself"
    )]
    PrivateKey {
        /// Which key.
        key: KeyLabel,
        /// What it is, e.g. "a private key".
        found: &'static str,
    },
    /// Something recognisable that is not a key.
    #[error("{key} is {found}, not an OpenPGP certificate or an X.509 certificate")]
    NotAKey {
        /// Which key.
        key: KeyLabel,
        /// What it is, e.g. "a certificate request".
        found: String,
    },
    /// A PEM or armor block without its end.
    #[error("{key} is cut off: the line {missing} is missing")]
    Truncated {
        /// Which key.
        key: KeyLabel,
        /// The END line that was expected.
        missing: String,
    },
    /// A key of the other method.
    #[error("{key} is {found}, but {expected} was chosen; all keys must be of one method")]
    WrongMethod {
        /// Which key.
        key: KeyLabel,
        /// The chosen method.
        expected: &'static str,
        /// What the key is.
        found: &'static str,
    },
    /// The same key twice.
    #[error("{key} is the same as {earlier}")]
    Duplicate {
        /// Which key.
        key: KeyLabel,
        /// The earlier copy (position only).
        earlier: KeyLabel,
    },
    /// The key or certificate has expired (or is not valid yet).
    #[error("{key} is not valid now ({detail})")]
    NotValidNow {
        /// Which key.
        key: KeyLabel,
        /// Expired when, or valid from when.
        detail: String,
    },
    /// The key was revoked.
    #[error("{key} has been revoked")]
    Revoked {
        /// Which key.
        key: KeyLabel,
    },
    /// No part of the key may encrypt.
    #[error("{key} cannot encrypt (it has no encryption-capable {part})")]
    CannotEncrypt {
        /// Which key.
        key: KeyLabel,
        /// `subkey` or `key usage`.
        part: &'static str,
    },
    /// RSA shorter than 2048 bits, or an algorithm we do not encrypt to.
    #[error("{key} is too weak: {detail}; use RSA of at least 2048 bits or an elliptic curve")]
    Weak {
        /// Which key.
        key: KeyLabel,
        /// What it is.
        detail: String,
    },
    /// Encrypting a test message to the key failed.
    #[error("a trial encryption to {key} failed: {detail}")]
    TrialFailed {
        /// Which key.
        key: KeyLabel,
        /// What the library said.
        detail: String,
    },
    /// Each key took a trial encryption, but all of them together did not.
    #[error("a trial encryption to all the keys together failed: {detail}")]
    TrialFailedTogether {
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

/// Parses and checks the uploaded keys for `algorithm`. Each string of
/// `uploaded` (a paste or a file) may hold several keys; every one becomes a
/// recipient, and each must be of the algorithm's method, able to encrypt at
/// `now`, strong enough, and take a trial encryption. `max_keys` counts keys,
/// not strings.
pub fn parse_keys<S: AsRef<str>>(
    algorithm: Algorithm,
    uploaded: &[S],
    max_keys: usize,
    now: SystemTime,
) -> Result<Recipients, KeyError> {
    if uploaded.is_empty() {
        return Err(KeyError::NoKeys);
    }
    if uploaded.iter().map(|key| key.as_ref().len()).sum::<usize>() > MAX_KEY_BYTES {
        return Err(KeyError::TooLarge);
    }
    let pieces: Vec<Piece> = uploaded
        .iter()
        .flat_map(|raw| paste::pieces(raw.as_ref()))
        .collect();
    if pieces.len() > max_keys {
        return Err(KeyError::TooMany {
            max: max_keys,
            found: pieces.len(),
        });
    }
    let method = algorithm.method();
    let mut accepted = Accepted::default();
    for (index, piece) in pieces.into_iter().enumerate() {
        let position = KeyLabel::nth(index + 1);
        let found = piece.map_err(|why| unreadable(position.clone(), why))?;
        match (found, method) {
            (Found::Openpgp(cert), Method::Openpgp) => {
                let key = position.named(summary::openpgp_name(&cert));
                accepted.check_new(&key, cert.fingerprint().as_bytes())?;
                let at = judged_at(&key, openpgp::made(&cert), now)?;
                let cert = openpgp::validate(&key, *cert, at)?;
                trial(
                    algorithm,
                    &Recipients::Openpgp(vec![cert.clone()]),
                    &key,
                    at,
                )?;
                accepted.openpgp.push(cert);
            }
            (Found::X509(cert), Method::Smime) => {
                let key = position.named(summary::x509_name(&cert));
                let der = cert
                    .to_der()
                    .map_err(|_| KeyError::Garbage { key: key.clone() })?;
                accepted.check_new(&key, &der)?;
                let at = judged_at(&key, smime::made(&cert), now)?;
                let cert = smime::validate(&key, cert, at)?;
                trial(algorithm, &Recipients::Smime(vec![cert.clone()]), &key, at)?;
                accepted.x509.push(cert);
            }
            (Found::Openpgp(cert), Method::Smime) => {
                return Err(KeyError::WrongMethod {
                    key: position.named(summary::openpgp_name(&cert)),
                    expected: "S/MIME",
                    found: "an OpenPGP key",
                });
            }
            (Found::X509(cert), Method::Openpgp) => {
                return Err(KeyError::WrongMethod {
                    key: position.named(summary::x509_name(&cert)),
                    expected: "OpenPGP",
                    found: "an X.509 certificate",
                });
            }
        }
    }
    let recipients = match method {
        Method::Openpgp => Recipients::Openpgp(accepted.openpgp),
        Method::Smime => Recipients::Smime(accepted.x509),
    };
    if accepted.seen.len() > 1 {
        together(algorithm, &recipients, now)?;
    }
    Ok(recipients)
}

/// The keys accepted so far, and what identifies each (fingerprint or DER)
/// with its position, to refuse the same key twice.
#[derive(Default)]
struct Accepted {
    openpgp: Vec<sequoia_openpgp::Cert>,
    x509: Vec<openssl::x509::X509>,
    seen: Vec<(Vec<u8>, KeyLabel)>,
}

impl Accepted {
    fn check_new(&mut self, key: &KeyLabel, identity: &[u8]) -> Result<(), KeyError> {
        if let Some((_, earlier)) = self.seen.iter().find(|(seen, _)| seen == identity) {
            return Err(KeyError::Duplicate {
                key: key.clone(),
                earlier: earlier.clone(),
            });
        }
        self.seen.push((identity.to_vec(), key.unnamed()));
        Ok(())
    }
}

/// The refusal for a piece of the upload that holds no readable key.
fn unreadable(key: KeyLabel, why: Unreadable) -> KeyError {
    match why {
        Unreadable::Garbage => KeyError::Garbage { key },
        Unreadable::PrivateKey(found) => KeyError::PrivateKey { key, found },
        Unreadable::NotAKey(found) => KeyError::NotAKey { key, found },
        Unreadable::Truncated(missing) => KeyError::Truncated { key, missing },
    }
}

/// What a trial encryption encrypts: a tiny MIME body.
const TRIAL_MESSAGE: &[u8] = b"Content-Type: text/plain\r\n\r\nLatchkey trial encryption\r\n";

/// Encrypts a short message to one key, as the workers will.
fn trial(
    algorithm: Algorithm,
    recipient: &Recipients,
    key: &KeyLabel,
    now: SystemTime,
) -> Result<(), KeyError> {
    let mut sink = Vec::new();
    super::encryptor::encrypt_body(
        algorithm,
        recipient,
        now,
        &mut &TRIAL_MESSAGE[..],
        &mut sink,
    )
    .map_err(|error| KeyError::TrialFailed {
        key: key.clone(),
        detail: error.to_string(),
    })
}

/// Encrypts a short message to every key at once, as the workers will.
fn together(
    algorithm: Algorithm,
    recipients: &Recipients,
    now: SystemTime,
) -> Result<(), KeyError> {
    let mut sink = Vec::new();
    super::encryptor::encrypt_body(
        algorithm,
        recipients,
        now,
        &mut &TRIAL_MESSAGE[..],
        &mut sink,
    )
    .map_err(|error| KeyError::TrialFailedTogether {
        detail: error.to_string(),
    })
}

/// Loads keys from their stored form, as a worker does before a pass.
pub fn load_stored(method: Method, stored: &[Vec<u8>]) -> Result<Recipients, KeyError> {
    let labels = (1..).map(KeyLabel::nth);
    match method {
        Method::Openpgp => stored
            .iter()
            .zip(labels)
            .map(|(bytes, key)| openpgp::parse(&key, bytes))
            .collect::<Result<_, _>>()
            .map(Recipients::Openpgp),
        Method::Smime => stored
            .iter()
            .zip(labels)
            .map(|(bytes, key)| {
                openssl::x509::X509::from_der(bytes).map_err(|_| KeyError::Garbage { key })
            })
            .collect::<Result<_, _>>()
            .map(Recipients::Smime),
    }
}

#[cfg(test)]
mod clock_skew_tests {
    use super::*;

    #[test]
    fn a_key_made_a_little_ahead_is_judged_when_made_and_one_far_ahead_is_refused() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let key = KeyLabel::nth(1);
        let earlier = now - Duration::from_secs(3600);
        assert_eq!(judged_at(&key, earlier, now).unwrap(), now);
        let soon = now + Duration::from_secs(90);
        assert_eq!(judged_at(&key, soon, now).unwrap(), soon);
        let Err(KeyError::NotValidNow { detail, .. }) =
            judged_at(&key, now + Duration::from_secs(3600), now)
        else {
            panic!("a key made an hour ahead is refused");
        };
        assert!(detail.contains("60 minutes after"), "{detail}");
    }
}
