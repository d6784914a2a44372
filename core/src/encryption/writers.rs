//! Output adapters for the encrypted part: the message's own line ending
//! for armor, and base64 in lines for CMS, both streaming.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::io::Write;

/// Input bytes per base64 line: 57 bytes make 76 characters (RFC 2045).
const LINE_INPUT: usize = 57;

/// Writes armor (which Sequoia ends with `\n`) with the message's line ending.
pub(super) struct NewlineWriter<'a> {
    /// Where the text goes.
    pub inner: &'a mut (dyn Write + Send + Sync),
    /// `\n` or `\r\n`.
    pub newline: &'static str,
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

/// Encodes what it is given as base64 in lines of 76 characters; call
/// [`Base64Lines::finish`] for the last, padded line.
pub(super) struct Base64Lines<'a> {
    inner: &'a mut (dyn Write + Send + Sync),
    newline: &'static str,
    /// Input that does not fill a line yet (fewer than 57 bytes).
    pending: Vec<u8>,
    /// Encoded lines waiting to be written together.
    encoded: Vec<u8>,
}

impl<'a> Base64Lines<'a> {
    /// Lines end with `newline`.
    pub(super) fn new(inner: &'a mut (dyn Write + Send + Sync), newline: &'static str) -> Self {
        Self {
            inner,
            newline,
            pending: Vec::with_capacity(LINE_INPUT),
            encoded: Vec::new(),
        }
    }

    /// Writes the last line (padded) and flushes.
    pub(super) fn finish(mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            push_line(&mut self.encoded, self.newline, &self.pending);
        }
        self.inner.write_all(&self.encoded)?;
        self.inner.flush()
    }
}

/// Appends the base64 of `input` and a line ending to `encoded`.
fn push_line(encoded: &mut Vec<u8>, newline: &str, input: &[u8]) {
    let start = encoded.len();
    encoded.resize(start + input.len().div_ceil(3) * 4, 0);
    let written = STANDARD
        .encode_slice(input, &mut encoded[start..])
        .expect("the buffer fits the encoding");
    encoded.truncate(start + written);
    encoded.extend_from_slice(newline.as_bytes());
}

impl Write for Base64Lines<'_> {
    fn write(&mut self, mut buffer: &[u8]) -> std::io::Result<usize> {
        let taken = buffer.len();
        if !self.pending.is_empty() {
            let missing = (LINE_INPUT - self.pending.len()).min(buffer.len());
            self.pending.extend_from_slice(&buffer[..missing]);
            buffer = &buffer[missing..];
            if self.pending.len() < LINE_INPUT {
                return Ok(taken);
            }
            push_line(&mut self.encoded, self.newline, &self.pending);
            self.pending.clear();
        }
        let mut lines = buffer.chunks_exact(LINE_INPUT);
        for line in &mut lines {
            push_line(&mut self.encoded, self.newline, line);
        }
        self.pending.extend_from_slice(lines.remainder());
        self.inner.write_all(&self.encoded)?;
        self.encoded.clear();
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_lines_match_a_one_shot_encoding_whatever_the_writes() {
        let data: Vec<u8> = (0..1000u32).map(|n| (n * 7 % 251) as u8).collect();
        let expected: String = STANDARD
            .encode(&data)
            .as_bytes()
            .chunks(76)
            .map(|line| format!("{}\r\n", String::from_utf8_lossy(line)))
            .collect();
        for split in [1, 5, 57, 58, 300, 1000] {
            let mut out = Vec::new();
            let mut lines = Base64Lines::new(&mut out, "\r\n");
            for piece in data.chunks(split) {
                lines.write_all(piece).unwrap();
            }
            lines.finish().unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                expected,
                "writes of {split}"
            );
        }
    }
}
