//! One encryptor, built once from a user's settings, that rewrites
//! messages: the header fields other than `Content-*` stay outside, the
//! `Content-*` fields and the body go inside (see [`super::headers`]),
//! framed as PGP/MIME or S/MIME (see [`super::framing`]); messages that are
//! encrypted already as a whole (see [`super::detect`]) are left alone.

use super::detect::{AlreadyEncrypted, HeaderVerdict, InlinePgpScanner, Scanning, judge_headers};
use super::framing::{self, Sink};
use super::headers::Headers;
use super::{Algorithm, KeyError, Method, Recipients, StoredKeys, openpgp, smime};
use std::io::{BufRead, Read};
use std::time::SystemTime;
use thiserror::Error;

/// Why a message could not be encrypted.
#[derive(Debug, Error)]
pub enum EncryptError {
    /// Reading or writing failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The cryptographic library failed.
    #[error("encryption failed: {0}")]
    Crypto(String),
}

/// Why stored settings give no encryptor.
#[derive(Debug, Error)]
pub enum SettingsError {
    /// The method or algorithm is not one we know.
    #[error("the stored method or algorithm `{0}` is unknown")]
    Unknown(String),
    /// The algorithm belongs to the other method.
    #[error("{algorithm} is not an algorithm of {method}")]
    Mismatch {
        /// The stored method.
        method: &'static str,
        /// The stored algorithm.
        algorithm: &'static str,
    },
    /// A stored key is not readable as a key.
    #[error("a stored key cannot be read: {0}")]
    Key(#[from] KeyError),
    /// A stored key is not base64.
    #[error("a stored key is not base64")]
    Encoding,
    /// The keys refuse a trial encryption.
    #[error("the stored keys cannot encrypt: {0}")]
    Unusable(EncryptError),
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encrypted {
    /// It was encrypted.
    Now,
    /// It was encrypted already, for this reason. Nothing was written if
    /// its top-level headers said so; otherwise what was written is to be
    /// thrown away.
    Already(AlreadyEncrypted),
}

/// Encrypts messages for one account's settings.
pub struct Encryptor {
    algorithm: Algorithm,
    recipients: Recipients,
    protect_subject: bool,
    /// The keys are judged as they were at this time, when they were
    /// accepted: a key that expires later keeps receiving mail, which its
    /// owner's private key still opens, instead of mail piling up unencrypted.
    valid_at: SystemTime,
}

impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryptor")
            .field("algorithm", &self.algorithm)
            .field("recipients", &self.recipients)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// An encryptor for keys the caller has just validated at `valid_at`.
    pub fn new(
        algorithm: Algorithm,
        recipients: Recipients,
        protect_subject: bool,
        valid_at: SystemTime,
    ) -> Self {
        Self {
            algorithm,
            recipients,
            protect_subject,
            valid_at,
        }
    }

    /// The encryptor for settings as the directory stores them (method and
    /// algorithm names, base64 keys), with keys judged at `valid_at`.
    pub fn from_stored(
        method: &str,
        algorithm: &str,
        keys: &[String],
        protect_subject: bool,
        valid_at: SystemTime,
    ) -> Result<Self, SettingsError> {
        let method = Method::parse(method).ok_or_else(|| SettingsError::Unknown(method.into()))?;
        let algorithm =
            Algorithm::parse(algorithm).ok_or_else(|| SettingsError::Unknown(algorithm.into()))?;
        if algorithm.method() != method {
            return Err(SettingsError::Mismatch {
                method: method.as_str(),
                algorithm: algorithm.as_str(),
            });
        }
        let keys = StoredKeys::from_base64(keys).ok_or(SettingsError::Encoding)?;
        Self::for_keys(algorithm, &keys, protect_subject, valid_at)
    }

    /// The encryptor for validated keys, judged at `valid_at`; checked with
    /// a trial encryption.
    pub fn for_keys(
        algorithm: Algorithm,
        keys: &StoredKeys,
        protect_subject: bool,
        valid_at: SystemTime,
    ) -> Result<Self, SettingsError> {
        let recipients = keys.recipients(algorithm.method())?;
        let encryptor = Self::new(algorithm, recipients, protect_subject, valid_at);
        encryptor
            .encrypt_body(&mut &b"Latchkey trial encryption"[..], &mut std::io::sink())
            .map_err(SettingsError::Unusable)?;
        Ok(encryptor)
    }

    /// Encrypts the message in `input` and writes the whole new message to
    /// `output`, or says that it is encrypted already. A text body is
    /// checked as it is encrypted, so the message is read only once.
    pub fn encrypt(
        &self,
        input: &mut dyn BufRead,
        output: &mut Sink<'_>,
    ) -> Result<Encrypted, EncryptError> {
        let headers = Headers::read(input)?;
        let mut scanner = match judge_headers(&headers) {
            HeaderVerdict::Encrypted(reason) => return Ok(Encrypted::Already(reason)),
            HeaderVerdict::ScanBody => Some(InlinePgpScanner::default()),
            HeaderVerdict::Plain => None,
        };
        if let Some(scanner) = scanner.as_mut() {
            scanner.feed(headers.body_read());
        }
        let nl = headers.newline;
        let split = headers.split(self.protect_subject);
        let body = Scanning {
            input,
            scanner: scanner.as_mut(),
        };
        let mut inner = std::io::Cursor::new(split.inner_start).chain(body);
        let encrypt = |sink: &mut Sink<'_>| self.encrypt_body(&mut inner, sink);
        match self.recipients {
            Recipients::Openpgp(_) => framing::pgp_mime(&split.outer, nl, output, encrypt)?,
            Recipients::Smime(_) => {
                framing::smime(&split.outer, nl, self.algorithm, output, encrypt)?
            }
        }
        output.flush()?;
        match scanner.is_some_and(|mut scanner| scanner.finish()) {
            true => Ok(Encrypted::Already(AlreadyEncrypted::InlinePgp)),
            false => Ok(Encrypted::Now),
        }
    }

    /// Encrypts `input` as it is (no MIME frame).
    fn encrypt_body(
        &self,
        input: &mut dyn Read,
        output: &mut Sink<'_>,
    ) -> Result<(), EncryptError> {
        encrypt_body(
            self.algorithm,
            &self.recipients,
            self.valid_at,
            input,
            output,
        )
    }
}

/// Encrypts `input` as it is (no MIME frame): armored OpenPGP or DER CMS,
/// to the keys as they were at `valid_at`.
pub(super) fn encrypt_body(
    algorithm: Algorithm,
    recipients: &Recipients,
    valid_at: SystemTime,
    input: &mut dyn Read,
    output: &mut Sink<'_>,
) -> Result<(), EncryptError> {
    let result = match recipients {
        Recipients::Openpgp(certs) => openpgp::encrypt(algorithm, certs, valid_at, input, output),
        Recipients::Smime(certs) => smime::encrypt(algorithm, certs, input, output),
    };
    // Keep I/O errors as such: the caller tells a vanished file from a crypto failure.
    result.map_err(|error| match error.downcast::<std::io::Error>() {
        Ok(io) => EncryptError::Io(io),
        Err(other) => EncryptError::Crypto(other.to_string()),
    })
}
