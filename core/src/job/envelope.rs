//! The envelope every job travels in. The broker is a trust boundary: a
//! worker applies only what it can prove a gateway made. The whole
//! envelope (header and typed body) is sealed with AES-256-GCM under the
//! shared sealing key, so a message that anyone else published, or that
//! was altered on the way, does not open; the key id in the seal lets the
//! key rotate as for sealed secrets.

use super::{JobKind, JobMessage};
use crate::domain::{Dn, JobId};
use crate::seal::{Keyring, SealError};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::OffsetDateTime;

/// The envelope version this code writes and reads.
pub const ENVELOPE_VERSION: u32 = 1;

/// What the seal binds the envelope to, so no other sealed value of ours
/// (a secret inside a job, a TOTP token) passes for a job.
const SEAL_CONTEXT: &str = "latchkey/job-envelope/v1";

/// A job as it travels: who asked for what, when, and the typed request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// [`ENVELOPE_VERSION`] when written.
    pub version: u32,
    /// The job; its record in the directory must exist and match.
    pub job_id: JobId,
    /// What the job does; must be what the body is.
    pub kind: JobKind,
    /// The account the job changes; must be the record's owner.
    pub account: Dn,
    /// When the gateway accepted the request (its clock).
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// The id the gateway made for the HTTP request that caused it (never
    /// one a client chose), for logs; none for a job a worker scheduled.
    pub request_id: Option<String>,
    /// The address of the client that asked (as the gateway's limits
    /// count it), for the audit log; none for a job a worker scheduled.
    #[serde(default)]
    pub client_address: Option<std::net::IpAddr>,
    /// The request itself.
    pub body: JobMessage,
}

/// How an envelope travels: the version in the clear (so a worker can say
/// what it met), everything else inside the seal.
#[derive(Serialize, Deserialize)]
struct Wire {
    latchkey_envelope: u32,
    sealed: String,
}

/// Why a message on a job queue is not a job to apply.
#[derive(Debug, Error)]
pub enum EnvelopeError {
    /// Not an envelope at all: a forgery, or a message queued by a gateway
    /// older than the envelope.
    #[error("the message is not a sealed job envelope")]
    Unsealed,
    /// An envelope of a version this worker does not read.
    #[error("the envelope has version {0}, which this worker does not read")]
    Version(u32),
    /// The seal does not open: forged, altered, or sealed with a key this
    /// worker does not have.
    #[error("the envelope's seal does not verify: {0}")]
    Forged(#[from] SealError),
    /// The seal opened but what it holds does not decode.
    #[error("the sealed envelope does not decode: {0}")]
    Undecodable(String),
    /// The header says one thing and the body another.
    #[error("the envelope's {0} disagrees with its body")]
    Inconsistent(&'static str),
}

impl Envelope {
    /// The envelope of `body`, accepted at `requested_at`.
    pub fn new(body: JobMessage, requested_at: OffsetDateTime, request_id: Option<String>) -> Self {
        Self {
            version: ENVELOPE_VERSION,
            job_id: body.job_id(),
            kind: body.kind(),
            account: body.account().clone(),
            requested_at,
            request_id,
            client_address: None,
            body,
        }
    }

    /// The envelope, saying the request came from `client`.
    pub fn from_client(self, client: std::net::IpAddr) -> Self {
        Self {
            client_address: Some(client),
            ..self
        }
    }

    /// The bytes to publish.
    pub fn seal(&self, keyring: &Keyring) -> Vec<u8> {
        let inner = serde_json::to_vec(self).expect("an envelope serialises");
        let wire = Wire {
            latchkey_envelope: self.version,
            sealed: keyring.seal(SEAL_CONTEXT, &inner).into_string(),
        };
        serde_json::to_vec(&wire).expect("a sealed envelope serialises")
    }

    /// Opens published bytes, checking the seal and that header and body agree.
    pub fn open(keyring: &Keyring, bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let wire: Wire = serde_json::from_slice(bytes).map_err(|_| EnvelopeError::Unsealed)?;
        if wire.latchkey_envelope != ENVELOPE_VERSION {
            return Err(EnvelopeError::Version(wire.latchkey_envelope));
        }
        let inner = keyring.open(SEAL_CONTEXT, &wire.sealed)?;
        let envelope: Self = serde_json::from_slice(&inner)
            .map_err(|error| EnvelopeError::Undecodable(error.to_string()))?;
        if envelope.version != wire.latchkey_envelope {
            return Err(EnvelopeError::Inconsistent("version"));
        }
        if envelope.job_id != envelope.body.job_id() {
            return Err(EnvelopeError::Inconsistent("job id"));
        }
        if envelope.kind != envelope.body.kind() {
            return Err(EnvelopeError::Inconsistent("kind"));
        }
        if &envelope.account != envelope.body.account() {
            return Err(EnvelopeError::Inconsistent("account"));
        }
        Ok(envelope)
    }
}

/// An envelope of a new job turning bob's TOTP off, request id `r1`, for tests.
#[cfg(test)]
pub(crate) fn sample() -> Envelope {
    let body = JobMessage::DisableTotp(super::DisableTotp {
        job_id: JobId::new(),
        account: Dn::from_directory("uid=bob,ou=people,dc=example,dc=org"),
    });
    Envelope::new(body, OffsetDateTime::now_utc(), Some("r1".into()))
}

#[cfg(test)]
mod tests {
    use super::sample as envelope;
    use super::*;

    #[test]
    fn a_sealed_envelope_opens_with_the_key_and_keeps_its_header() {
        let keyring = Keyring::random("k1");
        let envelope = envelope();
        let opened = Envelope::open(&keyring, &envelope.seal(&keyring)).unwrap();
        assert_eq!(opened.job_id, envelope.job_id);
        assert_eq!(opened.kind, JobKind::DisableTotp);
        assert_eq!(opened.account, envelope.account);
        assert_eq!(opened.request_id.as_deref(), Some("r1"));
    }

    #[test]
    fn an_unsealed_forged_or_altered_message_does_not_open() {
        let keyring = Keyring::random("k1");
        let forged = br#"{"type":"disable_totp/v1","job_id":"0190b7b4-8d3e-7000-8000-000000000000","account":"uid=bob,ou=people,dc=example,dc=org"}"#;
        assert!(matches!(
            Envelope::open(&keyring, forged),
            Err(EnvelopeError::Unsealed)
        ));
        let other_key = Keyring::random("k1");
        let sealed_elsewhere = envelope().seal(&other_key);
        assert!(matches!(
            Envelope::open(&keyring, &sealed_elsewhere),
            Err(EnvelopeError::Forged(_))
        ));
        let mut wire: serde_json::Value =
            serde_json::from_slice(&envelope().seal(&keyring)).unwrap();
        let sealed = wire["sealed"].as_str().unwrap().to_owned();
        let mut altered = sealed.into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        wire["sealed"] = String::from_utf8(altered).unwrap().into();
        assert!(matches!(
            Envelope::open(&keyring, &serde_json::to_vec(&wire).unwrap()),
            Err(EnvelopeError::Forged(_))
        ));
        wire["latchkey_envelope"] = 2.into();
        assert!(matches!(
            Envelope::open(&keyring, &serde_json::to_vec(&wire).unwrap()),
            Err(EnvelopeError::Version(2))
        ));
    }

    #[test]
    fn a_header_that_disagrees_with_the_body_is_refused() {
        let keyring = Keyring::random("k1");
        let mut envelope = envelope();
        envelope.account = Dn::from_directory("uid=alice,ou=people,dc=example,dc=org");
        assert!(matches!(
            Envelope::open(&keyring, &envelope.seal(&keyring)),
            Err(EnvelopeError::Inconsistent("account"))
        ));
    }
}
