//! Rewriting one RFC 5322 message: the headers other than `Content-*` stay
//! outside, the `Content-*` headers and the body go inside the encryption.

use super::detect::{BodyScanner, Scanning, headers_say_encrypted};
use super::writers::{Base64Lines, NewlineWriter};
use super::{Algorithm, Recipients, openpgp, smime};
use std::io::{BufRead, Read, Write};
use thiserror::Error;

/// The longest header block read before giving up on a message.
const MAX_HEADER_BYTES: usize = 1024 * 1024;

/// Why a message could not be encrypted.
#[derive(Debug, Error)]
pub enum EncryptError {
    /// Reading or writing failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The header block never ends, or is larger than we read.
    #[error("the message has no end of headers within {MAX_HEADER_BYTES} bytes")]
    Headers,
    /// The cryptographic library failed.
    #[error("encryption failed: {0}")]
    Crypto(String),
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encrypted {
    /// It was encrypted.
    Now,
    /// It was encrypted already. Nothing was written if its top-level
    /// headers said so; otherwise what was written is to be thrown away.
    Already,
}

/// The header block of a message, as fields of raw text (folded lines kept).
pub(super) struct Headers {
    fields: Vec<String>,
    newline: &'static str,
}

impl Headers {
    /// Reads headers up to and including the blank line.
    pub(super) fn read(input: &mut dyn BufRead) -> Result<Self, EncryptError> {
        let mut fields: Vec<String> = Vec::new();
        let mut newline = "\n";
        let mut total = 0;
        loop {
            let mut line = Vec::new();
            let read = input.read_until(b'\n', &mut line)?;
            total += read;
            if read == 0 || total > MAX_HEADER_BYTES {
                // A message of headers only ends at end of file; anything else is damage.
                if read == 0 && !fields.is_empty() {
                    break;
                }
                return Err(EncryptError::Headers);
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            if fields.is_empty() && text.ends_with("\r\n") {
                newline = "\r\n";
            }
            if text.trim_end_matches(['\r', '\n']).is_empty() {
                break;
            }
            match (text.starts_with([' ', '\t']), fields.last_mut()) {
                (true, Some(last)) => last.push_str(&text),
                _ => fields.push(text),
            }
        }
        Ok(Self { fields, newline })
    }

    fn name(field: &str) -> &str {
        field.split(':').next().unwrap_or_default().trim()
    }

    fn is_content(field: &str) -> bool {
        Self::name(field)
            .to_ascii_lowercase()
            .starts_with("content-")
    }

    /// The unfolded value of the first field called `name`.
    pub(super) fn value(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|field| Self::name(field).eq_ignore_ascii_case(name))
            .and_then(|field| field.split_once(':'))
            .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// Encrypts the inner part (`Content-*` headers and body) of the message in
/// `input` to `recipients` and writes the whole new message to `output`.
/// With `protect_subject`, the outer Subject becomes `...` and the real one
/// travels inside as a protected header (`protected-headers="v1"`, as
/// Thunderbird reads it). A message that turns out to be encrypted already
/// (see [`super::is_already_encrypted`]) gives [`Encrypted::Already`]; the
/// body is checked as it is encrypted, so the message is read only once.
pub fn encrypt_message(
    algorithm: Algorithm,
    recipients: &Recipients,
    protect_subject: bool,
    input: &mut dyn BufRead,
    output: &mut (dyn Write + Send + Sync),
) -> Result<Encrypted, EncryptError> {
    let headers = Headers::read(input)?;
    if headers_say_encrypted(&headers) {
        return Ok(Encrypted::Already);
    }
    let nl = headers.newline;
    let mut inner_headers = String::new();
    let mut outer = String::new();
    let mut protected = String::new();
    for field in &headers.fields {
        if Headers::is_content(field) {
            inner_headers.push_str(field);
        } else if protect_subject && Headers::name(field).eq_ignore_ascii_case("Subject") {
            protected.push_str(field);
            outer.push_str(&format!("Subject: ...{nl}"));
        } else {
            outer.push_str(field);
        }
    }
    if !protected.is_empty() {
        inner_headers = mark_protected(&inner_headers, nl) + &protected;
    }
    if headers.value("MIME-Version").is_none() {
        outer.push_str(&format!("MIME-Version: 1.0{nl}"));
    }
    inner_headers.push_str(nl);
    let mut scanner = BodyScanner::default();
    let body = Scanning {
        input,
        scanner: &mut scanner,
    };
    let mut inner = std::io::Cursor::new(inner_headers.into_bytes()).chain(body);
    match recipients {
        Recipients::Openpgp(_) => {
            let boundary = format!("latchkey-{}", uuid::Uuid::new_v4().simple());
            write!(
                output,
                "{outer}Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";{nl} boundary=\"{boundary}\"{nl}{nl}\
                 This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156){nl}\
                 --{boundary}{nl}Content-Type: application/pgp-encrypted{nl}Content-Description: PGP/MIME version identification{nl}{nl}Version: 1{nl}{nl}\
                 --{boundary}{nl}Content-Type: application/octet-stream; name=\"encrypted.asc\"{nl}Content-Description: OpenPGP encrypted message{nl}Content-Disposition: inline; filename=\"encrypted.asc\"{nl}{nl}"
            )?;
            let mut armored = NewlineWriter {
                inner: &mut *output,
                newline: nl,
            };
            encrypt_body(algorithm, recipients, &mut inner, &mut armored)?;
            write!(output, "{nl}--{boundary}--{nl}")?;
        }
        Recipients::Smime(_) => {
            let smime_type = match algorithm {
                Algorithm::Aes128Gcm | Algorithm::Aes256Gcm => "authEnveloped-data",
                _ => "enveloped-data",
            };
            write!(
                output,
                "{outer}Content-Type: application/pkcs7-mime; smime-type={smime_type}; name=\"smime.p7m\"{nl}\
                 Content-Transfer-Encoding: base64{nl}Content-Disposition: attachment; filename=\"smime.p7m\"{nl}{nl}"
            )?;
            let mut lines = Base64Lines::new(&mut *output, nl);
            encrypt_body(algorithm, recipients, &mut inner, &mut lines)?;
            lines.finish()?;
        }
    }
    output.flush()?;
    drop(inner);
    if scanner.finish() {
        return Ok(Encrypted::Already);
    }
    Ok(Encrypted::Now)
}

/// The inner `Content-*` headers with `protected-headers="v1"` on the
/// Content-Type (made explicit when the message relied on the default).
fn mark_protected(content_headers: &str, nl: &str) -> String {
    let mut marked = String::new();
    let mut found = false;
    for field in content_headers.split_inclusive('\n') {
        if Headers::name(field).eq_ignore_ascii_case("Content-Type") && !found {
            found = true;
            let value = field.trim_end_matches(['\r', '\n']);
            marked.push_str(&format!("{value}; protected-headers=\"v1\"{nl}"));
        } else {
            marked.push_str(field);
        }
    }
    if !found {
        marked.insert_str(
            0,
            &format!("Content-Type: text/plain; charset=us-ascii; protected-headers=\"v1\"{nl}"),
        );
    }
    marked
}

/// Encrypts `input` as it is (no MIME wrapping): armored OpenPGP or DER CMS.
pub(super) fn encrypt_body(
    algorithm: Algorithm,
    recipients: &Recipients,
    input: &mut dyn Read,
    output: &mut (dyn Write + Send + Sync),
) -> Result<(), EncryptError> {
    let result = match recipients {
        Recipients::Openpgp(certs) => openpgp::encrypt(algorithm, certs, input, output),
        Recipients::Smime(certs) => smime::encrypt(algorithm, certs, input, output),
    };
    // Keep I/O errors as such: the caller tells a vanished file from a crypto failure.
    result.map_err(|error| match error.downcast::<std::io::Error>() {
        Ok(io) => EncryptError::Io(io),
        Err(other) => EncryptError::Crypto(other.to_string()),
    })
}
