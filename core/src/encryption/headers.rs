//! The header block of an RFC 5322 message, as raw bytes: where it ends,
//! which fields stay outside the encryption and which go inside.
//!
//! The block ends at a blank line, or at the first line that is neither a
//! header field (`name:` with a name of printable ASCII) nor a continuation
//! of one; that line belongs to the body. Bytes are kept exactly as they
//! came, 8-bit ones included: nothing is decoded, only looked at.

use std::io::BufRead;

/// A header block is read up to this size; a longer one is not a header
/// block but text, and the whole message goes inside the encryption.
pub(super) const MAX_HEADER_BYTES: usize = 1024 * 1024;

/// The header block of a message and the bytes read past it.
pub(super) struct Headers {
    /// An mbox `From ` envelope line at the very top, kept outside.
    envelope: Vec<u8>,
    /// Each field with its continuation lines and line ending, raw.
    fields: Vec<Vec<u8>>,
    /// The blank line that ended the block, if one did.
    separator: Option<Vec<u8>>,
    /// Body bytes read while looking for the end of the block.
    body_start: Vec<u8>,
    /// `\r\n` if the first line ends so, else `\n`: for the lines we add.
    pub(super) newline: &'static str,
}

/// Whether `line` opens a header field: a name of printable ASCII other
/// than `:`, optional white space (obsolete syntax), then `:`.
fn is_field(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|byte| *byte == b':') else {
        return false;
    };
    let name = line[..colon].trim_ascii_end();
    !name.is_empty() && name.iter().all(|byte| (33..=126).contains(byte))
}

fn is_blank(line: &[u8]) -> bool {
    matches!(line, b"\n" | b"\r\n")
}

impl Headers {
    /// Reads the header block from `input`, leaving it at the body (or at
    /// the line after the one that ended the block).
    pub(super) fn read(input: &mut dyn BufRead) -> std::io::Result<Self> {
        let mut headers = Self {
            envelope: Vec::new(),
            fields: Vec::new(),
            separator: None,
            body_start: Vec::new(),
            newline: "\n",
        };
        let mut total = 0;
        loop {
            let mut line = Vec::new();
            let read = input.read_until(b'\n', &mut line)?;
            if read == 0 {
                return Ok(headers);
            }
            if total == 0 && line.ends_with(b"\r\n") {
                headers.newline = "\r\n";
            }
            total += read;
            if total > MAX_HEADER_BYTES {
                headers.give_up(line);
                return Ok(headers);
            }
            let continues = line.starts_with(b" ") || line.starts_with(b"\t");
            match headers.fields.last_mut() {
                _ if total == read && line.starts_with(b"From ") => headers.envelope = line,
                Some(last) if continues => last.extend_from_slice(&line),
                _ if is_field(&line) => headers.fields.push(line),
                _ if is_blank(&line) => {
                    headers.separator = Some(line);
                    return Ok(headers);
                }
                _ => {
                    headers.body_start = line;
                    return Ok(headers);
                }
            }
        }
    }

    /// Turns what was read into body: a block that never ends is text.
    fn give_up(&mut self, line: Vec<u8>) {
        self.body_start = self.fields.drain(..).flatten().chain(line).collect();
    }

    /// The body bytes read while looking for the end of the block.
    pub(super) fn body_read(&self) -> &[u8] {
        &self.body_start
    }

    fn name(field: &[u8]) -> &[u8] {
        let colon = field.iter().position(|byte| *byte == b':');
        field[..colon.unwrap_or(0)].trim_ascii()
    }

    fn is_named(field: &[u8], name: &str) -> bool {
        Self::name(field).eq_ignore_ascii_case(name.as_bytes())
    }

    /// Whether a field describes the content (`Content-*`), and so goes inside.
    fn is_content(field: &[u8]) -> bool {
        let name = Self::name(field);
        name.len() > 8 && name[..8].eq_ignore_ascii_case(b"content-")
    }

    /// The unfolded value of the first field called `name` (8-bit bytes
    /// shown lossily: for decisions, never for output).
    pub(super) fn value(&self, name: &str) -> Option<String> {
        let field = self
            .fields
            .iter()
            .find(|field| Self::is_named(field, name))?;
        let colon = field.iter().position(|byte| *byte == b':')?;
        let value = String::from_utf8_lossy(&field[colon + 1..]);
        Some(value.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// Splits the message for encryption: the envelope and the fields other
    /// than `Content-*` (and, with `protect_subject`, the Subject, which
    /// becomes `...`) stay outside; the `Content-*` fields, a blank line and
    /// the body read so far go inside, followed by the rest of the input.
    pub(super) fn split(self, protect_subject: bool) -> Split {
        let nl = self.newline;
        let mut outer = self.envelope;
        let mut content = Vec::new();
        let mut subject = Vec::new();
        let mut has_mime_version = false;
        for field in self.fields {
            has_mime_version |= Self::is_named(&field, "MIME-Version");
            if Self::is_content(&field) {
                content.push(field);
            } else if protect_subject && Self::is_named(&field, "Subject") {
                subject = field;
                outer.extend_from_slice(format!("Subject: ...{nl}").as_bytes());
            } else {
                outer.extend_from_slice(&field);
            }
        }
        if !has_mime_version {
            outer.extend_from_slice(format!("MIME-Version: 1.0{nl}").as_bytes());
        }
        let mut inner = if subject.is_empty() {
            content.concat()
        } else {
            mark_protected(content, nl, subject)
        };
        inner.extend(self.separator.unwrap_or_else(|| nl.as_bytes().to_vec()));
        inner.extend(self.body_start);
        Split {
            outer,
            inner_start: inner,
        }
    }
}

/// A message cut in two for encryption.
pub(super) struct Split {
    /// The header fields that stay in the clear, raw.
    pub outer: Vec<u8>,
    /// The start of what goes inside: `Content-*` fields, a blank line and
    /// the body read so far; the rest of the input follows it.
    pub inner_start: Vec<u8>,
}

/// The inner `Content-*` fields with `protected-headers="v1"` on the
/// Content-Type (made explicit when the message relied on the default),
/// followed by the protected Subject.
fn mark_protected(content: Vec<Vec<u8>>, nl: &str, subject: Vec<u8>) -> Vec<u8> {
    let marker = format!("; protected-headers=\"v1\"{nl}");
    let mut marked = Vec::new();
    let mut found = false;
    for field in content {
        if !found && Headers::is_named(&field, "Content-Type") {
            found = true;
            marked.extend_from_slice(field.trim_ascii_end());
            marked.extend_from_slice(marker.as_bytes());
        } else {
            marked.extend(field);
        }
    }
    if !found {
        let default = format!("Content-Type: text/plain; charset=us-ascii{marker}");
        marked.splice(0..0, default.into_bytes());
    }
    marked.extend(subject);
    marked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(message: &[u8], protect_subject: bool) -> (Vec<u8>, Vec<u8>) {
        let mut input = message;
        let headers = Headers::read(&mut input).unwrap();
        let split = headers.split(protect_subject);
        let mut inner = split.inner_start;
        inner.extend_from_slice(input);
        (split.outer, inner)
    }

    #[test]
    fn content_fields_and_the_body_go_inside_and_the_rest_stays_outside() {
        let (outer, inner) = split(
            b"From: a@example.org\nContent-Type: text/plain\nSubject: hi\n\tthere\nMIME-Version: 1.0\n\nbody\n",
            false,
        );
        assert_eq!(
            outer,
            b"From: a@example.org\nSubject: hi\n\tthere\nMIME-Version: 1.0\n"
        );
        assert_eq!(inner, b"Content-Type: text/plain\n\nbody\n");
    }

    #[test]
    fn a_line_that_is_no_header_field_ends_the_block_and_goes_inside() {
        let (outer, inner) = split(
            b"Subject: no blank line\r\nthis is the body: it has a colon\r\nmore\r\n",
            false,
        );
        assert_eq!(outer, b"Subject: no blank line\r\nMIME-Version: 1.0\r\n");
        assert_eq!(inner, b"\r\nthis is the body: it has a colon\r\nmore\r\n");
        let (outer, inner) = split(b"Subject: x\nDear Alice,\nsecret\n", false);
        assert_eq!(outer, b"Subject: x\nMIME-Version: 1.0\n");
        assert_eq!(inner, b"\nDear Alice,\nsecret\n");
    }

    #[test]
    fn a_message_without_headers_goes_inside_whole() {
        for message in [
            &b"Dear Alice,\nthe code is 1234.\n"[..],
            b" starts with a space\nsecret\n",
            b"\nafter a blank line\n",
            b"no newline at all",
        ] {
            let (outer, inner) = split(message, false);
            assert_eq!(outer, b"MIME-Version: 1.0\n");
            let mut expected = b"\n".to_vec();
            if !message.starts_with(b"\n") {
                expected.extend_from_slice(message);
            } else {
                expected = message.to_vec();
            }
            assert_eq!(inner, expected, "{}", String::from_utf8_lossy(message));
        }
    }

    #[test]
    fn an_mbox_envelope_line_stays_outside() {
        let (outer, inner) = split(
            b"From alice@example.org Mon Nov 30 10:00:00 2026\nSubject: s\n\nbody\n",
            false,
        );
        assert_eq!(
            outer,
            b"From alice@example.org Mon Nov 30 10:00:00 2026\nSubject: s\nMIME-Version: 1.0\n"
        );
        assert_eq!(inner, b"\nbody\n");
    }

    #[test]
    fn eight_bit_header_bytes_are_kept_as_they_are() {
        let message = b"Subject: Gr\xfc\xdfe aus K\xf6ln\r\nFrom: J\xf6rg <j@example.org>\r\nContent-Type: text/plain; name=\"\xe9t\xe9.txt\"\r\n\r\n\xe9\r\n";
        let (outer, inner) = split(message, false);
        assert_eq!(
            outer,
            b"Subject: Gr\xfc\xdfe aus K\xf6ln\r\nFrom: J\xf6rg <j@example.org>\r\nMIME-Version: 1.0\r\n"
        );
        assert_eq!(
            inner,
            b"Content-Type: text/plain; name=\"\xe9t\xe9.txt\"\r\n\r\n\xe9\r\n"
        );
    }

    #[test]
    fn a_protected_subject_goes_inside_with_its_bytes() {
        let (outer, inner) = split(b"Subject: K\xf6ln\nContent-Type: text/plain\n\nx\n", true);
        assert_eq!(outer, b"Subject: ...\nMIME-Version: 1.0\n");
        assert_eq!(
            inner,
            b"Content-Type: text/plain; protected-headers=\"v1\"\nSubject: K\xf6ln\n\nx\n"
        );
    }

    #[test]
    fn a_header_block_that_never_ends_goes_inside_whole() {
        let mut message = Vec::new();
        while message.len() <= MAX_HEADER_BYTES {
            message.extend_from_slice(b"X-Filler: 0123456789012345678901234567890123456789\n");
        }
        message.extend_from_slice(b"\nbody\n");
        let (outer, inner) = split(&message, false);
        assert_eq!(outer, b"MIME-Version: 1.0\n");
        assert_eq!(inner[1..], message[..]);
    }

    #[test]
    fn field_names_are_printable_ascii_before_a_colon() {
        assert!(is_field(b"Subject: x\n"));
        assert!(is_field(b"Subject : obsolete but real\n"));
        assert!(is_field(b"X-8bit:\xe9\n"));
        assert!(!is_field(b"no colon here\n"));
        assert!(!is_field(b"two words: value\n"));
        assert!(!is_field(b": empty name\n"));
        assert!(!is_field(b"N\xe4me: 8-bit name\n"));
    }
}
