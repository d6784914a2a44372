//! Recognising messages that are encrypted already: multipart/encrypted or
//! pkcs7-mime at the top, an inline PGP message, or a `.p7m` attachment.
//! The body is looked at line by line as it streams past, so the check can
//! ride along with the encryption instead of reading the message twice.

use super::message::{EncryptError, Headers};
use std::io::{BufRead, Read};

/// Lines longer than this cannot be MIME headers of an encrypted part.
const MAX_INTERESTING_LINE: usize = 1024;

/// Whether the top-level headers say the message is encrypted.
pub(super) fn headers_say_encrypted(headers: &Headers) -> bool {
    let content_type = headers
        .value("Content-Type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    content_type.starts_with("multipart/encrypted")
        || content_type.starts_with("application/pkcs7-mime")
        || content_type.starts_with("application/x-pkcs7-mime")
}

/// Whether a message is encrypted already: multipart/encrypted or
/// pkcs7-mime at the top, an inline PGP message, or a `.p7m` attachment.
/// Reads the whole message once.
pub fn is_already_encrypted(input: &mut dyn BufRead) -> Result<bool, EncryptError> {
    let headers = Headers::read(input)?;
    if headers_say_encrypted(&headers) {
        return Ok(true);
    }
    let mut scanner = BodyScanner::default();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match input.read(&mut buffer) {
            Ok(0) => return Ok(scanner.finish()),
            Ok(read) => scanner.feed(&buffer[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
    }
}

/// Watches the lines of a body for an encrypted part.
#[derive(Default)]
pub(super) struct BodyScanner {
    /// The current line so far (up to [`MAX_INTERESTING_LINE`] bytes).
    line: Vec<u8>,
    /// The current line is longer than that.
    long: bool,
    found: bool,
}

impl BodyScanner {
    /// Looks at the next bytes of the body.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) {
        while !self.found && !bytes.is_empty() {
            let (piece, ends_line) = match bytes.iter().position(|byte| *byte == b'\n') {
                Some(at) => (&bytes[..at], true),
                None => (bytes, false),
            };
            bytes = &bytes[piece.len() + usize::from(ends_line)..];
            if !self.long {
                if self.line.len() + piece.len() > MAX_INTERESTING_LINE {
                    self.long = true;
                } else {
                    self.line.extend_from_slice(piece);
                }
            }
            if ends_line {
                self.end_line();
            }
        }
    }

    fn end_line(&mut self) {
        if !self.long && line_is_encrypted(self.line.trim_ascii_end()) {
            self.found = true;
        }
        self.line.clear();
        self.long = false;
    }

    /// Whether an encrypted part was seen, once the body has ended.
    pub(super) fn finish(&mut self) -> bool {
        self.end_line();
        self.found
    }
}

/// Whether one line of a body opens an encrypted part.
fn line_is_encrypted(text: &[u8]) -> bool {
    if text == b"-----BEGIN PGP MESSAGE-----" {
        return true;
    }
    // Both markers contain "p7" or "s7": a cheap test that lets body lines pass.
    let may_match = text
        .windows(2)
        .any(|pair| pair[1] == b'7' && matches!(pair[0] | 0x20, b'p' | b's'));
    if !may_match
        || !(contains_ignore_case(text, b".p7m") || contains_ignore_case(text, b"pkcs7-mime"))
    {
        return false;
    }
    let text = String::from_utf8_lossy(text).to_ascii_lowercase();
    let p7m_attachment = (text.contains("name=") || text.contains("name*="))
        && text.trim_end_matches(['"', ';']).ends_with(".p7m");
    let p7m_part = text.starts_with("content-type:") && text.contains("pkcs7-mime");
    p7m_attachment || p7m_part
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

/// Passes a body through, showing every byte to a [`BodyScanner`].
pub(super) struct Scanning<'a> {
    /// What is read.
    pub input: &'a mut dyn BufRead,
    /// What looks at it.
    pub scanner: &'a mut BodyScanner,
}

impl Read for Scanning<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.input.read(buffer)?;
        self.scanner.feed(&buffer[..read]);
        Ok(read)
    }
}
