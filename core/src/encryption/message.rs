//! Rewriting one RFC 5322 message: the headers other than `Content-*` stay
//! outside, the `Content-*` headers and the body go inside the encryption.

use super::{Algorithm, Recipients, openpgp, smime};
use base64::Engine;
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
    /// It was encrypted already, and was left as it was.
    Already,
}

/// The header block of a message, as fields of raw text (folded lines kept).
struct Headers {
    fields: Vec<String>,
    newline: &'static str,
}

impl Headers {
    /// Reads headers up to and including the blank line.
    fn read(input: &mut dyn BufRead) -> Result<Self, EncryptError> {
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
    fn value(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|field| Self::name(field).eq_ignore_ascii_case(name))
            .and_then(|field| field.split_once(':'))
            .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// Whether a message is encrypted already: multipart/encrypted or
/// pkcs7-mime at the top, an inline PGP message, or a `.p7m` attachment.
/// Reads the whole message once, a line at a time.
pub fn is_already_encrypted(input: &mut dyn BufRead) -> Result<bool, EncryptError> {
    let headers = Headers::read(input)?;
    let content_type = headers
        .value("Content-Type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/encrypted")
        || content_type.starts_with("application/pkcs7-mime")
        || content_type.starts_with("application/x-pkcs7-mime")
    {
        return Ok(true);
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(false);
        }
        let text = line.trim_ascii_end();
        if text == b"-----BEGIN PGP MESSAGE-----" {
            return Ok(true);
        }
        // Only short lines can be MIME headers of an encrypted part; body
        // lines are skipped without allocating.
        if text.len() < 1024
            && (contains_ignore_case(text, b".p7m") || contains_ignore_case(text, b"pkcs7-mime"))
        {
            let text = String::from_utf8_lossy(text).to_ascii_lowercase();
            let p7m_attachment = (text.contains("name=") || text.contains("name*="))
                && text.trim_end_matches(['"', ';']).ends_with(".p7m");
            let p7m_part = text.starts_with("content-type:") && text.contains("pkcs7-mime");
            if p7m_attachment || p7m_part {
                return Ok(true);
            }
        }
    }
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

/// Encrypts the inner part (`Content-*` headers and body) of the message in
/// `input` to `recipients` and writes the whole new message to `output`.
/// With `protect_subject`, the outer Subject becomes `...` and the real one
/// travels inside as a protected header (`protected-headers="v1"`, as
/// Thunderbird reads it). Call [`is_already_encrypted`] first: this
/// function encrypts whatever it gets.
pub fn encrypt_message(
    algorithm: Algorithm,
    recipients: &Recipients,
    protect_subject: bool,
    input: &mut dyn BufRead,
    output: &mut (dyn Write + Send + Sync),
) -> Result<Encrypted, EncryptError> {
    let headers = Headers::read(input)?;
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
    let mut inner = std::io::Cursor::new(inner_headers.into_bytes()).chain(input);
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
            let mut der = Vec::new();
            encrypt_body(algorithm, recipients, &mut inner, &mut der)?;
            let encoded = base64::engine::general_purpose::STANDARD.encode(der);
            for chunk in encoded.as_bytes().chunks(76) {
                output.write_all(chunk)?;
                output.write_all(nl.as_bytes())?;
            }
        }
    }
    output.flush()?;
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
    result.map_err(|error| EncryptError::Crypto(error.to_string()))
}

/// Writes armor (which Sequoia ends with `\n`) with the message's line ending.
struct NewlineWriter<'a> {
    inner: &'a mut (dyn Write + Send + Sync),
    newline: &'static str,
}

impl Write for NewlineWriter<'_> {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        if self.newline == "\n" {
            return self.inner.write(buffer);
        }
        for piece in buffer.split_inclusive(|byte| *byte == b'\n') {
            match piece.strip_suffix(b"\n") {
                Some(line) => {
                    self.inner
                        .write_all(line.strip_suffix(b"\r").unwrap_or(line))?;
                    self.inner.write_all(b"\r\n")?;
                }
                None => self.inner.write_all(piece)?,
            }
        }
        Ok(buffer.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
