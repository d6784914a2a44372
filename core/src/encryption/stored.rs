//! Public keys in the form they are stored and sent to workers: the binary
//! form of each (OpenPGP packets or DER), already validated when uploaded.

use super::{KeyError, Method, Recipients, load_stored};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Validated public keys, binary; travel as base64 strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKeys(Vec<Vec<u8>>);

impl StoredKeys {
    /// The stored form of keys just validated.
    pub fn of(recipients: &Recipients) -> Self {
        Self(recipients.to_stored())
    }

    /// The keys as the directory holds them (`latchkeyEncryptionKey` values).
    pub fn to_base64(&self) -> Vec<String> {
        self.0.iter().map(|key| STANDARD.encode(key)).collect()
    }

    /// Keys read back from the directory's base64 values.
    pub fn from_base64(values: &[String]) -> Option<Self> {
        let keys = values.iter().map(|value| STANDARD.decode(value).ok());
        keys.collect::<Option<Vec<_>>>().map(Self)
    }

    /// The keys, ready to encrypt to.
    pub fn recipients(&self, method: Method) -> Result<Recipients, KeyError> {
        load_stored(method, &self.0)
    }
}

impl Serialize for StoredKeys {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_base64().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StoredKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let values = Vec::<String>::deserialize(deserializer)?;
        Self::from_base64(&values).ok_or_else(|| serde::de::Error::custom("a key is not base64"))
    }
}
