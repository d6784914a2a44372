//! The second factor, one family: TOTP codes from an authenticator app,
//! single-use recovery codes, and passkeys.

pub mod passkeys;
pub mod recovery_codes;
pub mod totp;

pub use passkeys::{PasskeyName, PasskeyNameError, StoredPasskey};
pub use recovery_codes::{RecoveryCode, RecoveryCodeError};
