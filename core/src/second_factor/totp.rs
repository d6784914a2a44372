//! TOTP (RFC 6238): parameters, secrets, codes as typed values, and the
//! checks, with time passed in.

use crate::config::TotpSettings;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;
use zeroize::Zeroizing;

/// Bytes of a TOTP secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

/// Steps accepted on each side of the current one (clock drift, typing time).
const SKEW: u16 = 1;

/// The hash function of a TOTP generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TotpAlgorithm {
    /// HMAC-SHA1: what every authenticator app supports.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// How codes are made: algorithm, digits and period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpParams {
    /// The HMAC.
    pub algorithm: TotpAlgorithm,
    /// 6 or 8.
    pub digits: u8,
    /// Seconds per step.
    pub period: u64,
}

/// Why TOTP input was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TotpError {
    /// The code has the wrong number of characters.
    #[error("the code has {expected} digits")]
    WrongLength {
        /// Digits expected.
        expected: u8,
    },
    /// The code holds something other than digits.
    #[error("the code is made of digits only")]
    NotDigits,
    /// The stored parameters cannot be read.
    #[error("the stored TOTP parameters are unreadable")]
    BadParams,
}

impl TotpParams {
    /// The parameters the settings ask for (validated when the config loads).
    pub fn from_settings(settings: &TotpSettings) -> Self {
        Self {
            algorithm: settings.algorithm,
            digits: settings.digits,
            period: settings.period_seconds,
        }
    }

    /// The stored form, e.g. `SHA1/6/30`.
    pub fn to_stored(self) -> String {
        let algorithm = match self.algorithm {
            TotpAlgorithm::Sha1 => "SHA1",
            TotpAlgorithm::Sha256 => "SHA256",
            TotpAlgorithm::Sha512 => "SHA512",
        };
        format!("{algorithm}/{}/{}", self.digits, self.period)
    }

    /// Parses the stored form.
    pub fn from_stored(raw: &str) -> Result<Self, TotpError> {
        let mut parts = raw.split('/');
        let algorithm = match parts.next() {
            Some("SHA1") => TotpAlgorithm::Sha1,
            Some("SHA256") => TotpAlgorithm::Sha256,
            Some("SHA512") => TotpAlgorithm::Sha512,
            _ => return Err(TotpError::BadParams),
        };
        let digits = parts
            .next()
            .and_then(|d| d.parse().ok())
            .ok_or(TotpError::BadParams)?;
        let period = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or(TotpError::BadParams)?;
        if !matches!(digits, 6 | 8) || period == 0 || parts.next().is_some() {
            return Err(TotpError::BadParams);
        }
        Ok(Self {
            algorithm,
            digits,
            period,
        })
    }

    fn generator(self, secret: &[u8]) -> totp_rs::Totp {
        let algorithm = match self.algorithm {
            TotpAlgorithm::Sha1 => totp_rs::Algorithm::SHA1,
            TotpAlgorithm::Sha256 => totp_rs::Algorithm::SHA256,
            TotpAlgorithm::Sha512 => totp_rs::Algorithm::SHA512,
        };
        totp_rs::Builder::new()
            .with_algorithm(algorithm)
            .with_digits(self.digits)
            .with_step_duration(self.period)
            .with_skew(SKEW)
            .with_secret(secret.to_vec())
            .build_noncompliant()
    }

    /// The time step a code is valid for, if `code` matches at `unix_time`
    /// or one step either side. Replay protection is the caller's: accept a
    /// step only if it is newer than the last one accepted.
    pub fn matching_step(self, secret: &[u8], code: &TotpCode, unix_time: u64) -> Option<u64> {
        self.generator(secret).check(&code.0, unix_time)
    }

    /// The code for `unix_time` (for tests and the trial at enrolment).
    pub fn code_at(self, secret: &[u8], unix_time: u64) -> String {
        self.generator(secret).generate(unix_time).to_string()
    }
}

/// The sealing context of an account's TOTP secret in the directory.
pub fn secret_context(account: &crate::domain::Dn) -> String {
    format!("totp-secret/{account}")
}

/// A fresh random secret.
pub fn new_secret() -> Zeroizing<Vec<u8>> {
    let mut secret = Zeroizing::new(vec![0u8; SECRET_BYTES]);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The secret in base32 without padding, as authenticator apps take it.
pub fn base32(secret: &[u8]) -> String {
    totp_rs::Secret::from(secret.to_vec()).to_base32()
}

/// The secret from its base32 form, if it is one.
pub fn decode_base32(encoded: &str) -> Option<Zeroizing<Vec<u8>>> {
    let secret = totp_rs::Secret::try_from_base32(encoded).ok()?;
    Some(Zeroizing::new(secret.as_ref().to_vec()))
}

/// What an authenticator app needs: the `otpauth://` URI, and a QR code of it
/// as a base64 PNG.
pub fn provisioning(
    params: TotpParams,
    secret: &[u8],
    issuer: &str,
    account: &str,
) -> Result<(String, String), totp_rs::TotpError> {
    // The otpauth label cannot hold a colon.
    let label = account.replace(':', "_");
    let generator = totp_rs::Builder::new()
        .with_algorithm(match params.algorithm {
            TotpAlgorithm::Sha1 => totp_rs::Algorithm::SHA1,
            TotpAlgorithm::Sha256 => totp_rs::Algorithm::SHA256,
            TotpAlgorithm::Sha512 => totp_rs::Algorithm::SHA512,
        })
        .with_digits(params.digits)
        .with_step_duration(params.period)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer.replace(':', "_")))
        .with_account_name(label)
        .build_noncompliant();
    let uri = generator.to_url()?;
    let png = generator.to_qr_png()?;
    Ok((uri, base64::engine::general_purpose::STANDARD.encode(png)))
}

/// A code as typed: only digits, of the configured length.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(..)")
    }
}

impl TotpCode {
    /// Parses a code for `params`; spaces people type between groups are ignored.
    pub fn parse(raw: &str, params: TotpParams) -> Result<Self, TotpError> {
        let code: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if !code.chars().all(|c| c.is_ascii_digit()) {
            return Err(TotpError::NotDigits);
        }
        if code.len() != usize::from(params.digits) {
            return Err(TotpError::WrongLength {
                expected: params.digits,
            });
        }
        Ok(Self(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1_6_30: TotpParams = TotpParams {
        algorithm: TotpAlgorithm::Sha1,
        digits: 6,
        period: 30,
    };

    #[test]
    fn rfc6238_test_vector_matches_at_its_step_and_one_either_side() {
        // RFC 6238 appendix B, SHA1, T = 59 s: 94287082 (8 digits).
        let params = TotpParams {
            digits: 8,
            ..SHA1_6_30
        };
        let secret = b"12345678901234567890";
        let code = TotpCode::parse("94287082", params).unwrap();
        assert_eq!(params.matching_step(secret, &code, 59), Some(1));
        assert_eq!(params.matching_step(secret, &code, 89), Some(1));
        assert_eq!(params.matching_step(secret, &code, 120), None);
    }

    #[test]
    fn codes_of_the_wrong_shape_are_refused() {
        assert_eq!(
            TotpCode::parse("12345", SHA1_6_30),
            Err(TotpError::WrongLength { expected: 6 })
        );
        assert_eq!(
            TotpCode::parse("12a456", SHA1_6_30),
            Err(TotpError::NotDigits)
        );
        assert!(TotpCode::parse("123 456", SHA1_6_30).is_ok());
    }

    #[test]
    fn params_round_trip_through_their_stored_form() {
        let params = TotpParams {
            algorithm: TotpAlgorithm::Sha512,
            digits: 8,
            period: 60,
        };
        assert_eq!(TotpParams::from_stored(&params.to_stored()), Ok(params));
        assert_eq!(
            TotpParams::from_stored("MD5/6/30"),
            Err(TotpError::BadParams)
        );
        assert_eq!(
            TotpParams::from_stored("SHA1/7/30"),
            Err(TotpError::BadParams)
        );
    }

    #[test]
    fn the_provisioning_uri_names_issuer_account_and_parameters() {
        let secret = new_secret();
        let (uri, png) =
            provisioning(SHA1_6_30, &secret, "Example Mail", "alice@example.org").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Example%20Mail:alice%40example.org?"),
            "{uri}"
        );
        assert!(
            uri.contains(&format!("secret={}", base32(&secret))),
            "{uri}"
        );
        let decoded = decode_base32(&base32(&secret)).unwrap();
        assert_eq!(decoded.as_slice(), secret.as_slice());
        assert!(!png.is_empty());
    }
}
