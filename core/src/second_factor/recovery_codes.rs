//! Single-use recovery codes: the way in when the authenticator is lost.
//! Only their hashes are stored; each opens one sign-in or one step-up.

use rand::Rng;
use std::fmt;
use thiserror::Error;
use zeroize::Zeroizing;

/// Characters of recovery codes: lowercase letters and digits without the
/// ones people confuse (0/o, 1/l/i).
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Characters in a recovery code, shown in groups of four.
const RECOVERY_CHARS: usize = 12;

/// A recovery code of the wrong shape.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("a recovery code has {RECOVERY_CHARS} letters and digits, like abcd-efgh-jkmn")]
pub struct RecoveryCodeError;

/// A single-use recovery code, normalised (lowercase, no separators).
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(Zeroizing<String>);

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(..)")
    }
}

impl RecoveryCode {
    /// `count` fresh codes (about 59 bits each).
    pub fn generate(count: usize) -> Vec<RecoveryCode> {
        let mut rng = rand::rngs::OsRng;
        (0..count)
            .map(|_| {
                let code: String = (0..RECOVERY_CHARS)
                    .map(|_| {
                        char::from(RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())])
                    })
                    .collect();
                RecoveryCode(Zeroizing::new(code))
            })
            .collect()
    }

    /// Parses a code as typed: case, spaces and dashes do not matter.
    pub fn parse(raw: &str) -> Result<Self, RecoveryCodeError> {
        let code: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let valid =
            code.len() == RECOVERY_CHARS && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
        if !valid {
            return Err(RecoveryCodeError);
        }
        Ok(Self(Zeroizing::new(code)))
    }

    /// The normalised code, the form that is hashed.
    pub fn normalised(&self) -> &str {
        &self.0
    }

    /// The code as shown to people: `abcd-efgh-jkmn`.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_parse_as_people_type_them() {
        let code = &RecoveryCode::generate(1)[0];
        let typed = code.display().to_uppercase().replace('-', " - ");
        assert_eq!(&RecoveryCode::parse(&typed).unwrap(), code);
        assert_eq!(
            RecoveryCode::parse("abcd-efgh-jkm0"),
            Err(RecoveryCodeError)
        );
        assert_eq!(RecoveryCode::parse("abcd"), Err(RecoveryCodeError));
    }
}
