//! The second factor's jobs: TOTP on and off, new recovery codes,
//! passkeys registered and removed.

mod passkeys;
mod recovery_codes;
mod totp;

pub use passkeys::{add_passkey, remove_passkey};
pub use recovery_codes::regenerate_recovery_codes;
pub use totp::{disable_totp, enable_totp};

use super::unreadable;
use crate::outcome::Outcome;
use latchkey_core::domain::JobId;
use latchkey_core::job::seal_context;
use latchkey_core::seal::{Keyring, Sealed};
use secrecy::SecretString;

/// Opens a job's sealed list of recovery codes.
fn open_codes(
    keyring: &Keyring,
    job_id: JobId,
    sealed: &Sealed,
) -> Result<Vec<SecretString>, Outcome> {
    let json = keyring
        .open(&seal_context(job_id, "recovery_codes"), sealed)
        .map_err(unreadable)?;
    let codes: Vec<String> = serde_json::from_slice(&json).map_err(unreadable)?;
    Ok(codes.into_iter().map(SecretString::from).collect())
}
