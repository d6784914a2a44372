//! S/MIME: checking certificates, and CMS encryption that streams (the
//! structure is written here, the cryptography is OpenSSL's).

mod der;
mod envelope;
mod recipients;

pub(super) use envelope::encrypt;

use super::KeyError;
use openssl::asn1::Asn1Time;
use openssl::pkey::Id;
use openssl::x509::{X509, X509KeyUsage};
use std::time::SystemTime;

/// Parses and checks a certificate: valid at `now`, allowed to encrypt by
/// its key usage, RSA of at least 2048 bits or an elliptic curve.
pub(super) fn validate(index: usize, bytes: &[u8], now: SystemTime) -> Result<X509, KeyError> {
    let cert = X509::from_pem(bytes)
        .or_else(|_| X509::from_der(bytes))
        .map_err(|_| KeyError::Garbage { index })?;
    let seconds = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_secs() as i64)
        .unwrap_or(0);
    let at = Asn1Time::from_unix(seconds).map_err(|_| KeyError::Garbage { index })?;
    if cert.not_after() < at {
        return Err(KeyError::NotValidNow {
            index,
            detail: format!("it expired on {}", cert.not_after()),
        });
    }
    if cert.not_before() > at {
        return Err(KeyError::NotValidNow {
            index,
            detail: format!("it is valid from {}", cert.not_before()),
        });
    }
    let key = cert.public_key().map_err(|_| KeyError::Garbage { index })?;
    let usage_needed = match key.id() {
        Id::RSA => {
            let bits = key.bits();
            if bits < 2048 {
                return Err(KeyError::Weak {
                    index,
                    detail: format!("RSA with {bits} bits"),
                });
            }
            X509KeyUsage::KEY_ENCIPHERMENT
        }
        Id::EC => X509KeyUsage::KEY_AGREEMENT,
        other => {
            return Err(KeyError::Weak {
                index,
                detail: format!("a {other:?} key"),
            });
        }
    };
    if cert
        .key_usage()
        .is_some_and(|usage| !usage.contains(usage_needed))
    {
        return Err(KeyError::CannotEncrypt {
            index,
            part: "key usage",
        });
    }
    Ok(cert)
}
