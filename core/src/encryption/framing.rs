//! The MIME frames around an encrypted part: PGP/MIME (RFC 3156) and
//! S/MIME `application/pkcs7-mime` (RFC 8551). Each writes the outer header
//! fields it was given, its own Content-Type, and the encrypted bytes that
//! `encrypt` streams into the writer it is handed.

use super::Algorithm;
use super::encryptor::EncryptError;
use super::writers::{Base64Lines, NewlineWriter};
use std::io::Write;

/// Where an encrypted part is written.
pub(super) type Sink<'a> = dyn Write + Send + Sync + 'a;

/// A PGP/MIME message: a version part and the armored OpenPGP message,
/// with the message's own line ending.
pub(super) fn pgp_mime(
    outer: &[u8],
    nl: &'static str,
    output: &mut Sink<'_>,
    encrypt: impl FnOnce(&mut Sink<'_>) -> Result<(), EncryptError>,
) -> Result<(), EncryptError> {
    let boundary = format!("latchkey-{}", uuid::Uuid::new_v4().simple());
    output.write_all(outer)?;
    write!(
        output,
        "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";{nl} boundary=\"{boundary}\"{nl}{nl}\
         This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156){nl}\
         --{boundary}{nl}Content-Type: application/pgp-encrypted{nl}Content-Description: PGP/MIME version identification{nl}{nl}Version: 1{nl}{nl}\
         --{boundary}{nl}Content-Type: application/octet-stream; name=\"encrypted.asc\"{nl}Content-Description: OpenPGP encrypted message{nl}Content-Disposition: inline; filename=\"encrypted.asc\"{nl}{nl}"
    )?;
    encrypt(&mut NewlineWriter {
        inner: &mut *output,
        newline: nl,
    })?;
    write!(output, "{nl}--{boundary}--{nl}")?;
    Ok(())
}

/// An S/MIME message: the CMS structure in base64 lines of 76 characters.
pub(super) fn smime(
    outer: &[u8],
    nl: &'static str,
    algorithm: Algorithm,
    output: &mut Sink<'_>,
    encrypt: impl FnOnce(&mut Sink<'_>) -> Result<(), EncryptError>,
) -> Result<(), EncryptError> {
    let smime_type = match algorithm {
        Algorithm::Aes128Gcm | Algorithm::Aes256Gcm => "authEnveloped-data",
        _ => "enveloped-data",
    };
    output.write_all(outer)?;
    write!(
        output,
        "Content-Type: application/pkcs7-mime; smime-type={smime_type}; name=\"smime.p7m\"{nl}\
         Content-Transfer-Encoding: base64{nl}Content-Disposition: attachment; filename=\"smime.p7m\"{nl}{nl}"
    )?;
    let mut lines = Base64Lines::new(&mut *output, nl);
    encrypt(&mut lines)?;
    lines.finish()?;
    Ok(())
}
