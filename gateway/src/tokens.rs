//! Sealed tokens: state the gateway hands the browser between two steps
//! (a TOTP enrolment, a sign-in challenge) instead of keeping it, so any
//! replica finishes what another began. A token opens only for the context
//! it was sealed for, and holds nothing the browser may read.

use latchkey_core::seal::Keyring;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

/// Seals `value` as a token that opens only for `context`.
pub fn seal_token<T: Serialize>(keyring: &Keyring, context: &str, value: &T) -> String {
    let json = Zeroizing::new(serde_json::to_vec(value).expect("tokens serialise"));
    keyring.seal(context, &json).into_string()
}

/// Opens a token sealed for `context`, or `None` if it is not one.
pub fn open_token<T: DeserializeOwned>(keyring: &Keyring, context: &str, token: &str) -> Option<T> {
    let json = keyring.open(context, token).ok()?;
    serde_json::from_slice(&json).ok()
}
