//! How a refusal names the key it is about: by its place in the whole upload
//! ("the second key"), and once it could be read, by what a person
//! recognises it by (its subject and addresses, or its fingerprint).

use std::fmt;

/// The ordinals spelled out; keys further down are "key 11", "key 12", ...
const ORDINALS: [&str; 10] = [
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
];

/// Which key of an upload something is about. Keys are counted across the
/// whole upload in order, every string of the `keys` array and every key
/// inside each string, from one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLabel {
    position: usize,
    name: Option<String>,
}

impl KeyLabel {
    /// The key at `position`, counted from 1 (0 is read as 1).
    pub fn nth(position: usize) -> Self {
        Self {
            position: position.max(1),
            name: None,
        }
    }

    /// The same key, named by what identifies it (a subject, a fingerprint).
    pub fn named(self, name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            name: (!name.trim().is_empty()).then_some(name),
            ..self
        }
    }

    /// The key's place in the upload, counted from 1.
    pub fn position(&self) -> usize {
        self.position
    }

    /// What identifies the key, if it could be read.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The label without the name, e.g. to refer back to an earlier key.
    pub fn unnamed(&self) -> Self {
        Self::nth(self.position)
    }
}

impl fmt::Display for KeyLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match ORDINALS.get(self.position - 1) {
            Some(ordinal) => write!(f, "the {ordinal} key")?,
            None => write!(f, "key {}", self.position)?,
        }
        match &self.name {
            Some(name) => write!(f, " ({name})"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KeyLabel;

    #[test]
    fn labels_read_as_a_person_counts() {
        let said: Vec<String> = (1..=12)
            .map(|position| KeyLabel::nth(position).to_string())
            .collect();
        assert_eq!(
            said,
            [
                "the first key",
                "the second key",
                "the third key",
                "the fourth key",
                "the fifth key",
                "the sixth key",
                "the seventh key",
                "the eighth key",
                "the ninth key",
                "the tenth key",
                "key 11",
                "key 12",
            ]
        );
    }

    #[test]
    fn a_named_label_says_what_the_key_is() {
        let label = KeyLabel::nth(2).named("CN=Alice Example, alice@example.org");
        assert_eq!(
            label.to_string(),
            "the second key (CN=Alice Example, alice@example.org)"
        );
        assert_eq!(
            KeyLabel::nth(11).named("fingerprint 0123 4567").to_string(),
            "key 11 (fingerprint 0123 4567)"
        );
        assert_eq!(label.unnamed().to_string(), "the second key");
        assert_eq!(KeyLabel::nth(1).named("  ").name(), None);
    }
}
