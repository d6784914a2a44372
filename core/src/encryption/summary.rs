//! What a stored key is, in the words its owner knows it by: fingerprint,
//! user IDs or subject and addresses, algorithm and size, and expiry.

use super::{KeyError, Method, openpgp};
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::x509::X509Ref;
use sequoia_openpgp::Cert;
use sequoia_openpgp::crypto::mpi::PublicKey;
use sequoia_openpgp::policy::StandardPolicy;
use sequoia_openpgp::types::Curve;
use serde::Serialize;
use std::time::SystemTime;
use time::OffsetDateTime;

/// One stored key as the API and the portal show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySummary {
    /// OpenPGP: the fingerprint in hex, as `gpg --with-colons` prints it.
    /// S/MIME: the certificate's SHA-256, colon-separated hex, as
    /// `openssl x509 -fingerprint -sha256` prints it.
    pub fingerprint: String,
    /// OpenPGP user IDs, as the certificate holds them; empty for S/MIME.
    pub user_ids: Vec<String>,
    /// The certificate's subject, e.g. `CN=Alice Example, O=Example`;
    /// `None` for OpenPGP.
    pub subject: Option<String>,
    /// The e-mail addresses: of the user IDs (OpenPGP), or of the subject
    /// and the subject alternative names (S/MIME).
    pub emails: Vec<String>,
    /// What mail is encrypted to, e.g. `RSA 3072`, `ECDH P-256`,
    /// `EC P-256`, `Curve25519`.
    pub algorithm: String,
    /// When the key stops encrypting (the certificate's or encryption
    /// subkeys' expiry); `None` if it does not expire.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires: Option<OffsetDateTime>,
}

/// Summaries of keys in their stored form (binary OpenPGP or DER, see
/// [`super::load_stored`]); `now` picks the self-signatures in force.
pub fn summarize(
    method: Method,
    stored: &[Vec<u8>],
    now: SystemTime,
) -> Result<Vec<KeySummary>, KeyError> {
    Ok(match super::load_stored(method, stored)? {
        super::Recipients::Openpgp(certs) => certs
            .iter()
            .map(|cert| KeySummary::of_openpgp(cert, now))
            .collect(),
        super::Recipients::Smime(certs) => {
            certs.iter().map(|cert| KeySummary::of_x509(cert)).collect()
        }
    })
}

impl KeySummary {
    /// The summary of an OpenPGP certificate.
    pub(super) fn of_openpgp(cert: &Cert, now: SystemTime) -> Self {
        let user_ids: Vec<String> = cert
            .userids()
            .map(|uid| String::from_utf8_lossy(uid.userid().value()).into_owned())
            .collect();
        let emails = distinct(
            cert.userids()
                .filter_map(|uid| uid.userid().email().ok().flatten().map(str::to_owned)),
        );
        let policy = StandardPolicy::new();
        let (algorithm, expires) = match cert.with_policy(&policy, now) {
            Ok(valid) => {
                let keys: Vec<_> = valid
                    .keys()
                    .key_flags(openpgp::encryption_flags())
                    .supported()
                    .revoked(false)
                    .collect();
                let algorithm =
                    distinct(keys.iter().map(|key| openpgp_algorithm(key.key().mpis()))).join(", ");
                // Mail can be encrypted while the certificate lives and one
                // encryption key does: the earlier of the two ends.
                let subkeys_end = if keys.iter().any(|key| key.key_expiration_time().is_none()) {
                    None
                } else {
                    keys.iter()
                        .filter_map(|key| key.key_expiration_time())
                        .max()
                };
                let expires = match (valid.primary_key().key_expiration_time(), subkeys_end) {
                    (Some(cert_end), Some(keys_end)) => Some(cert_end.min(keys_end)),
                    (one, other) => one.or(other),
                };
                (algorithm, expires)
            }
            Err(_) => (String::new(), None),
        };
        let algorithm = if algorithm.is_empty() {
            openpgp_algorithm(cert.primary_key().key().mpis())
        } else {
            algorithm
        };
        Self {
            fingerprint: cert.fingerprint().to_hex(),
            user_ids,
            subject: None,
            emails,
            algorithm,
            expires: expires.map(OffsetDateTime::from),
        }
    }

    /// The summary of an X.509 certificate.
    pub(super) fn of_x509(cert: &X509Ref) -> Self {
        let subject = subject(cert);
        Self {
            fingerprint: x509_fingerprint(cert),
            user_ids: Vec::new(),
            subject: (!subject.is_empty()).then_some(subject),
            emails: x509_emails(cert),
            algorithm: x509_algorithm(cert),
            expires: asn1_time(cert.not_after()),
        }
    }
}

/// How a refusal names an OpenPGP certificate: its first user ID and its
/// fingerprint, spaced as gpg shows it.
pub(super) fn openpgp_name(cert: &Cert) -> String {
    let fingerprint = format!("fingerprint {}", cert.fingerprint().to_spaced_hex());
    match cert.userids().next() {
        Some(uid) => format!(
            "{}, {fingerprint}",
            String::from_utf8_lossy(uid.userid().value())
        ),
        None => fingerprint,
    }
}

/// How a refusal names an X.509 certificate: its common name (or whole
/// subject) and e-mail addresses, or its fingerprint when it has neither.
pub(super) fn x509_name(cert: &X509Ref) -> String {
    let mut parts: Vec<String> = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .filter_map(|entry| entry.data().to_string().ok())
        .map(|name| format!("CN={name}"))
        .collect();
    if parts.is_empty() {
        parts.push(subject(cert));
        parts.retain(|part| !part.is_empty());
    }
    for email in x509_emails(cert) {
        if !parts.contains(&format!("CN={email}")) {
            parts.push(email);
        }
    }
    if parts.is_empty() {
        parts.push(format!("fingerprint {}", x509_fingerprint(cert)));
    }
    parts.join(", ")
}

/// The subject in the order the certificate holds it, e.g. `C=DE, CN=Alice`.
fn subject(cert: &X509Ref) -> String {
    cert.subject_name()
        .entries()
        .map(|entry| {
            let kind = entry
                .object()
                .nid()
                .short_name()
                .map_or_else(|_| entry.object().to_string(), str::to_owned);
            let value = entry.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{kind}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The subject's `emailAddress` values and the alternative names' e-mails.
fn x509_emails(cert: &X509Ref) -> Vec<String> {
    let in_subject = cert
        .subject_name()
        .entries_by_nid(Nid::PKCS9_EMAILADDRESS)
        .filter_map(|entry| entry.data().to_string().ok())
        .collect::<Vec<_>>();
    let alternative = cert
        .subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|name| name.email().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    distinct(in_subject.into_iter().chain(alternative))
}

fn x509_fingerprint(cert: &X509Ref) -> String {
    cert.digest(MessageDigest::sha256())
        .map(|digest| {
            digest
                .iter()
                .map(|byte| format!("{byte:02X}"))
                .collect::<Vec<_>>()
                .join(":")
        })
        .unwrap_or_default()
}

fn x509_algorithm(cert: &X509Ref) -> String {
    let Ok(public) = cert.public_key() else {
        return "unknown".into();
    };
    match public.id() {
        Id::RSA => format!("RSA {}", public.bits()),
        Id::EC => {
            let curve = public
                .ec_key()
                .ok()
                .and_then(|key| key.group().curve_name())
                .map_or_else(|| "(unnamed curve)".to_owned(), curve_name);
            format!("EC {curve}")
        }
        Id::ED25519 => "Ed25519".into(),
        Id::X25519 => "Curve25519".into(),
        other => format!("{other:?} {}", public.bits()),
    }
}

/// The NIST names of the curves S/MIME uses, OpenSSL's short name otherwise.
fn curve_name(nid: Nid) -> String {
    match nid {
        Nid::X9_62_PRIME256V1 => "P-256".into(),
        Nid::SECP384R1 => "P-384".into(),
        Nid::SECP521R1 => "P-521".into(),
        other => other.short_name().unwrap_or("(unknown curve)").to_owned(),
    }
}

fn openpgp_algorithm(key: &PublicKey) -> String {
    let curve = |curve: &Curve| match curve {
        Curve::NistP256 => "P-256".to_owned(),
        Curve::NistP384 => "P-384".to_owned(),
        Curve::NistP521 => "P-521".to_owned(),
        Curve::BrainpoolP256 => "brainpoolP256r1".to_owned(),
        Curve::BrainpoolP384 => "brainpoolP384r1".to_owned(),
        Curve::BrainpoolP512 => "brainpoolP512r1".to_owned(),
        other => other.to_string(),
    };
    match key {
        PublicKey::RSA { n, .. } => format!("RSA {}", n.bits()),
        PublicKey::ECDH {
            curve: Curve::Cv25519,
            ..
        }
        | PublicKey::X25519 { .. } => "Curve25519".into(),
        PublicKey::X448 { .. } => "Curve448".into(),
        PublicKey::ECDH { curve: c, .. } => format!("ECDH {}", curve(c)),
        PublicKey::ECDSA { curve: c, .. } => format!("ECDSA {}", curve(c)),
        PublicKey::EdDSA { .. } | PublicKey::Ed25519 { .. } => "Ed25519".into(),
        other => {
            let name = other.algo().map_or_else(
                || "an unknown algorithm".to_owned(),
                |algo| algo.to_string(),
            );
            match other.bits() {
                Some(bits) => format!("{name} {bits}"),
                None => name,
            }
        }
    }
}

/// An ASN.1 time as a point in time.
fn asn1_time(at: &openssl::asn1::Asn1TimeRef) -> Option<OffsetDateTime> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let since = epoch.diff(at).ok()?;
    let seconds = i64::from(since.days) * 86_400 + i64::from(since.secs);
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

/// The values without repeats, first seen first.
fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}
