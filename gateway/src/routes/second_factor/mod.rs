//! The second factor's routes: TOTP enrolment and removal, recovery codes.

pub mod recovery_codes;
pub mod totp;
