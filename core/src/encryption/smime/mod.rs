//! S/MIME: checking certificates, and CMS encryption that streams (the
//! structure is written here, the cryptography is OpenSSL's).

mod der;
mod envelope;
mod recipients;

pub(super) use envelope::encrypt;

use super::{KeyError, KeyLabel};
use openssl::asn1::Asn1Time;
use openssl::pkey::Id;
use openssl::x509::{X509, X509KeyUsage};
use std::time::SystemTime;

/// When the certificate starts to be valid (its notBefore).
pub(super) fn made(cert: &X509) -> SystemTime {
    let since_epoch = Asn1Time::from_unix(0)
        .and_then(|epoch| epoch.diff(cert.not_before()))
        .map(|diff| i64::from(diff.days) * 86_400 + i64::from(diff.secs))
        .unwrap_or(0);
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(since_epoch.max(0).unsigned_abs())
}

/// Checks a certificate: valid at `now`, allowed to encrypt by its key
/// usage, RSA of at least 2048 bits or an elliptic curve.
pub(super) fn validate(key: &KeyLabel, cert: X509, now: SystemTime) -> Result<X509, KeyError> {
    let seconds = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_secs() as i64)
        .unwrap_or(0);
    let at = Asn1Time::from_unix(seconds).map_err(|_| KeyError::Garbage { key: key.clone() })?;
    if cert.not_after() < at {
        return Err(KeyError::NotValidNow {
            key: key.clone(),
            detail: format!("it expired on {}", cert.not_after()),
        });
    }
    if cert.not_before() > at {
        return Err(KeyError::NotValidNow {
            key: key.clone(),
            detail: format!("it is valid from {}", cert.not_before()),
        });
    }
    let public = cert
        .public_key()
        .map_err(|_| KeyError::Garbage { key: key.clone() })?;
    let usage_needed = match public.id() {
        Id::RSA => {
            let bits = public.bits();
            if bits < 2048 {
                return Err(KeyError::Weak {
                    key: key.clone(),
                    detail: format!("RSA with {bits} bits"),
                });
            }
            X509KeyUsage::KEY_ENCIPHERMENT
        }
        Id::EC => X509KeyUsage::KEY_AGREEMENT,
        other => {
            return Err(KeyError::Weak {
                key: key.clone(),
                detail: format!("a {other:?} key"),
            });
        }
    };
    if cert
        .key_usage()
        .is_some_and(|usage| !usage.contains(usage_needed))
    {
        return Err(KeyError::CannotEncrypt {
            key: key.clone(),
            part: "key usage",
        });
    }
    Ok(cert)
}
