//! The second factor's routes: TOTP enrolment and removal, recovery codes,
//! passkeys (managed, and at sign-in).

pub mod passkey_sign_in;
pub mod passkeys;
pub mod recovery_codes;
pub mod totp;
