//! Passwords: the policy a new one must meet, and argon2id hashing in the
//! `{ARGON2}` form that slapd, Dovecot and Stalwart verify.

mod hashing;
mod policy;

pub use hashing::{ARGON2_SCHEME, PasswordHasher};
pub use policy::{Assessment, PasswordPolicy, PolicyViolation};
