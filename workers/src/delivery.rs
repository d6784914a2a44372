//! Encryption at delivery: one message in, the same message out, encrypted
//! for its recipient if the account asks for it (a Dovecot Sieve `filter`
//! or an LDA pipe runs `latchkey-encrypt <user>`).

use base64::Engine;
use latchkey_core::directory::Accounts;
use latchkey_core::domain::Uid;
use latchkey_core::encryption::{Algorithm, Encrypted, Method, encrypt_message, load_stored};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};

/// What delivery-time encryption did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// It was encrypted.
    Encrypted,
    /// It passes through as it came; the text says why.
    Unchanged(&'static str),
}

/// Writes `message` to `output`, encrypted for `uid` if the account has
/// encryption at rest on and the message is not encrypted yet. Errors (the
/// directory unreachable, keys unusable) are for the caller to turn into a
/// temporary failure, so that mail is retried rather than stored in the clear.
pub async fn encrypt_for_delivery<D: Accounts>(
    directory: &D,
    uid: &Uid,
    message: &mut (impl Read + Seek),
    output: &mut (dyn Write + Send + Sync),
) -> anyhow::Result<Delivered> {
    let account = directory.find_account(uid).await?;
    let settings = account.and_then(|account| account.encryption);
    let Some(settings) = settings else {
        std::io::copy(message, output)?;
        return Ok(Delivered::Unchanged(
            "encryption at rest is off for this account",
        ));
    };
    let method = Method::parse(&settings.method)
        .ok_or_else(|| anyhow::anyhow!("unknown method {}", settings.method))?;
    let algorithm = Algorithm::parse(&settings.algorithm)
        .ok_or_else(|| anyhow::anyhow!("unknown algorithm {}", settings.algorithm))?;
    let keys = settings
        .keys
        .iter()
        .map(|key| base64::engine::general_purpose::STANDARD.decode(key))
        .collect::<Result<Vec<_>, _>>()?;
    let recipients = load_stored(method, &keys)?;
    // Whether the message was encrypted already is known only at its end:
    // encrypt into a spool, then pass on the spool or the message as it came.
    let mut spool = std::io::BufWriter::new(tempfile::tempfile()?);
    let outcome = encrypt_message(
        algorithm,
        &recipients,
        settings.protect_subject,
        &mut BufReader::new(&mut *message),
        &mut spool,
    )?;
    match outcome {
        Encrypted::Now => {
            let mut encrypted = spool.into_inner().map_err(|error| error.into_error())?;
            encrypted.seek(SeekFrom::Start(0))?;
            std::io::copy(&mut encrypted, output)?;
            Ok(Delivered::Encrypted)
        }
        Encrypted::Already => {
            message.seek(SeekFrom::Start(0))?;
            std::io::copy(message, output)?;
            Ok(Delivered::Unchanged("the message is encrypted already"))
        }
    }
}
