use crate::config::Argon2Settings;
use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

/// The LDAP scheme prefix of argon2 hashes (slapd's `argon2` module).
pub const ARGON2_SCHEME: &str = "{ARGON2}";

/// Hashes and verifies passwords with argon2id.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", self.argon2.params())
            .finish()
    }
}

impl PasswordHasher {
    /// A hasher with the given cost; fails if the parameters are out of range.
    pub fn new(settings: Argon2Settings) -> Result<Self, argon2::Error> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )?;
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        })
    }

    /// The `{ARGON2}$argon2id$...` value to store for `password`. CPU-bound:
    /// call it from a blocking thread.
    pub fn hash(&self, password: &SecretString) -> String {
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let hash = self
            .argon2
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .expect("argon2 with validated parameters and a generated salt cannot fail");
        format!("{ARGON2_SCHEME}{hash}")
    }

    /// Whether `stored` (an `{ARGON2}` value, argon2i or argon2id, with its own
    /// parameters) matches `candidate`. Any other scheme never matches.
    /// CPU-bound: call it from a blocking thread.
    pub fn verify(&self, stored: &str, candidate: &SecretString) -> bool {
        let Some(phc) = stored.strip_prefix(ARGON2_SCHEME) else {
            return false;
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        // The stored hash carries its own algorithm and cost.
        Argon2::default()
            .verify_password(candidate.expose_secret().as_bytes(), &parsed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let hasher = cheap();
        let stored = hasher.hash(&SecretString::from("correct horse"));
        assert!(stored.starts_with("{ARGON2}$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(hasher.verify(&stored, &SecretString::from("correct horse")));
        assert!(!hasher.verify(&stored, &SecretString::from("correct horsE")));
    }

    #[test]
    fn other_schemes_and_garbage_never_verify() {
        let hasher = cheap();
        let password = SecretString::from("secret");
        assert!(!hasher.verify("{SSHA}abcd", &password));
        assert!(!hasher.verify("{ARGON2}$argon2id$garbage", &password));
        assert!(!hasher.verify("", &password));
    }
}
