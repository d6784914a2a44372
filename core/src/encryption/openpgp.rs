//! OpenPGP with Sequoia: checking certificates and streaming encryption.

use super::{Algorithm, KeyError, KeyLabel};
use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::crypto::mpi::PublicKey;
use sequoia_openpgp::parse::Parse;
use sequoia_openpgp::policy::StandardPolicy;
use sequoia_openpgp::serialize::MarshalInto;
use sequoia_openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message};
use sequoia_openpgp::types::{KeyFlags, RevocationStatus, SymmetricAlgorithm};
use std::io::{Read, Write};
use std::time::SystemTime;

/// Keys that may encrypt data at rest or in transit (gpg marks both).
pub(super) fn encryption_flags() -> KeyFlags {
    KeyFlags::empty()
        .set_storage_encryption()
        .set_transport_encryption()
}

/// Parses one stored certificate (binary, or armored).
pub(super) fn parse(key: &KeyLabel, bytes: &[u8]) -> Result<Cert, KeyError> {
    let cert = Cert::from_bytes(bytes).map_err(|_| KeyError::Garbage { key: key.clone() })?;
    Ok(public_only(cert))
}

/// The certificate without secret key material: a secret key pasted by
/// mistake keeps only its public parts.
pub(super) fn public_only(cert: Cert) -> Cert {
    if cert.is_tsk() {
        cert.strip_secret_key_material()
    } else {
        cert
    }
}

/// The certificate in binary form, for the directory.
pub(super) fn to_binary(cert: &Cert) -> Vec<u8> {
    cert.to_vec().expect("a parsed certificate serialises")
}

/// When the certificate was last changed by its owner: the newest of its
/// keys and self-signatures.
pub(super) fn made(cert: &Cert) -> SystemTime {
    let keys = cert.keys().map(|key| key.key().creation_time());
    let signatures = cert
        .keys()
        .flat_map(|key| key.self_signatures().collect::<Vec<_>>())
        .chain(
            cert.userids()
                .flat_map(|id| id.self_signatures().collect::<Vec<_>>()),
        )
        .filter_map(|signature| signature.signature_creation_time());
    keys.chain(signatures)
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Checks a certificate: valid at `now`, not revoked, with an alive
/// encryption-capable key of an algorithm we accept.
pub(super) fn validate(key: &KeyLabel, cert: Cert, now: SystemTime) -> Result<Cert, KeyError> {
    let policy = StandardPolicy::new();
    let valid = cert.with_policy(&policy, now).map_err(|error| {
        // The policy refuses short RSA keys outright; say so plainly.
        match cert.keys().find_map(|key| weak_rsa(key.key().mpis())) {
            Some(bits) => KeyError::Weak {
                key: key.clone(),
                detail: format!("RSA with {bits} bits"),
            },
            None => KeyError::NotValidNow {
                key: key.clone(),
                detail: error.to_string(),
            },
        }
    })?;
    if let RevocationStatus::Revoked(_) = valid.revocation_status() {
        return Err(KeyError::Revoked { key: key.clone() });
    }
    if let Err(error) = valid.alive() {
        return Err(KeyError::NotValidNow {
            key: key.clone(),
            detail: error.to_string(),
        });
    }
    let capable: Vec<_> = valid.keys().key_flags(encryption_flags()).collect();
    if capable.is_empty() {
        return Err(KeyError::CannotEncrypt {
            key: key.clone(),
            part: "subkey",
        });
    }
    let usable: Vec<_> = valid
        .keys()
        .key_flags(encryption_flags())
        .supported()
        .alive()
        .revoked(false)
        .collect();
    if usable.is_empty() {
        return Err(KeyError::NotValidNow {
            key: key.clone(),
            detail: "every encryption subkey has expired or been revoked".into(),
        });
    }
    for subkey in &usable {
        if let Some(bits) = weak_rsa(subkey.key().mpis()) {
            return Err(KeyError::Weak {
                key: key.clone(),
                detail: format!("RSA with {bits} bits"),
            });
        }
        match subkey.key().mpis() {
            PublicKey::RSA { .. }
            | PublicKey::ECDH { .. }
            | PublicKey::X25519 { .. }
            | PublicKey::X448 { .. } => {}
            other => {
                return Err(KeyError::Weak {
                    key: key.clone(),
                    detail: format!("{:?}", other.algo()),
                });
            }
        }
    }
    Ok(cert)
}

/// The size of an RSA key shorter than 2048 bits.
fn weak_rsa(key: &PublicKey) -> Option<usize> {
    match key {
        PublicKey::RSA { n, .. } if n.bits() < 2048 => Some(n.bits()),
        _ => None,
    }
}

/// Encrypts `input` to every certificate's encryption keys that were
/// usable at `valid_at` (or when the certificate was made, if later: its
/// maker's clock may have been a little ahead, see `keys::CLOCK_SKEW`), ASCII armored, streaming. Sequoia writes SEIPDv1
/// unless every recipient advertises SEIPDv2, so what gpg 2.2 made, gpg
/// 2.2 reads.
pub(super) fn encrypt(
    algorithm: Algorithm,
    certs: &[Cert],
    valid_at: SystemTime,
    input: &mut dyn Read,
    output: &mut (dyn Write + Send + Sync),
) -> anyhow::Result<()> {
    let symmetric = match algorithm {
        Algorithm::Aes128 => SymmetricAlgorithm::AES128,
        _ => SymmetricAlgorithm::AES256,
    };
    let policy = StandardPolicy::new();
    let mut recipients = Vec::new();
    for cert in certs {
        let valid = cert.with_policy(&policy, valid_at.max(made(cert)))?;
        recipients.extend(
            valid
                .keys()
                .key_flags(encryption_flags())
                .supported()
                .alive()
                .revoked(false),
        );
    }
    let message = Message::new(output);
    let message = Armorer::new(message).build()?;
    let message = Encryptor::for_recipients(message, recipients)
        .symmetric_algo(symmetric)
        .build()?;
    let mut literal = LiteralWriter::new(message).build()?;
    std::io::copy(input, &mut literal)?;
    literal.finalize()?;
    Ok(())
}
