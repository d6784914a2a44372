//! The second factor, one family: TOTP codes from an authenticator app and
//! single-use recovery codes.

pub mod recovery_codes;
pub mod totp;

pub use recovery_codes::{RecoveryCode, RecoveryCodeError};
