//! Whether a message as a whole is encrypted already, the one rule that the
//! mailbox pass and the delivery filter share. Only these are left alone:
//! a top-level `multipart/encrypted`; a top-level `application/pkcs7-mime`
//! whose `smime-type` is `enveloped-data` or `authEnveloped-data` (or absent
//! with a `.p7m` name); and a single text body that is one
//! `-----BEGIN PGP MESSAGE-----` block with only white space around it.
//! Anything else is encrypted: a PGP block quoted among other text, an
//! encrypted attachment beside plaintext parts, S/MIME `signed-data`.

use super::headers::Headers;
use std::io::{BufRead, Read};

/// Why a message is left as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlreadyEncrypted {
    /// PGP/MIME (RFC 3156): top-level `multipart/encrypted`.
    PgpMime,
    /// S/MIME (RFC 8551): top-level enveloped or auth-enveloped data.
    Smime,
    /// A text body that is one ASCII-armored OpenPGP message.
    InlinePgp,
}

impl AlreadyEncrypted {
    /// Every reason, in the order reports list them.
    pub const ALL: [AlreadyEncrypted; 3] = [Self::PgpMime, Self::Smime, Self::InlinePgp];

    /// The stable name, as job records count them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PgpMime => "pgp-mime",
            Self::Smime => "smime",
            Self::InlinePgp => "inline-pgp",
        }
    }

    /// Parses the stable name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == raw)
    }
}

/// What the top-level headers tell.
pub(super) enum HeaderVerdict {
    /// Encrypted already; the body need not be read.
    Encrypted(AlreadyEncrypted),
    /// A single text body: encrypted already only if it is one PGP block.
    ScanBody,
    /// Anything else: to be encrypted.
    Plain,
}

/// A header value's media type (lowercase) and parameters (names lowercase,
/// values unquoted; RFC 2231 `name*=charset''value` reduced to the value).
struct MediaType {
    essence: String,
    parameters: Vec<(String, String)>,
}

impl MediaType {
    fn parse(value: &str) -> Self {
        let mut pieces = value.split(';');
        let essence = pieces
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let parameters = pieces
            .filter_map(|piece| piece.split_once('='))
            .map(|(name, value)| {
                let name = name.trim().trim_end_matches('*').to_ascii_lowercase();
                let value = value.trim().trim_matches('"');
                let value = value.rsplit_once("''").map_or(value, |(_, value)| value);
                (name, value.to_owned())
            })
            .collect();
        Self {
            essence,
            parameters,
        }
    }

    fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(found, _)| found == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The verdict of the top-level headers.
pub(super) fn judge_headers(headers: &Headers) -> HeaderVerdict {
    let content_type = MediaType::parse(&headers.value("Content-Type").unwrap_or_default());
    match content_type.essence.as_str() {
        "multipart/encrypted" => HeaderVerdict::Encrypted(AlreadyEncrypted::PgpMime),
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
            let smime_type = content_type.parameter("smime-type");
            let enveloped = match smime_type.map(str::to_ascii_lowercase).as_deref() {
                Some("enveloped-data" | "authenveloped-data") => true,
                Some(_) => false,
                None => named_p7m(headers, &content_type),
            };
            match enveloped {
                true => HeaderVerdict::Encrypted(AlreadyEncrypted::Smime),
                false => HeaderVerdict::Plain,
            }
        }
        // No Content-Type means text/plain (RFC 2045).
        "" => HeaderVerdict::ScanBody,
        essence if essence.starts_with("text/") => HeaderVerdict::ScanBody,
        _ => HeaderVerdict::Plain,
    }
}

/// Whether the Content-Type `name` or the Content-Disposition `filename`
/// ends in `.p7m` (the sign of enveloped data when `smime-type` is absent).
fn named_p7m(headers: &Headers, content_type: &MediaType) -> bool {
    let disposition = MediaType::parse(&headers.value("Content-Disposition").unwrap_or_default());
    [
        content_type.parameter("name"),
        disposition.parameter("filename"),
    ]
    .into_iter()
    .flatten()
    .any(|name| name.to_ascii_lowercase().ends_with(".p7m"))
}

/// Whether a message is encrypted already as a whole, and why; reads the
/// whole message once when its headers do not settle it.
pub fn is_already_encrypted(input: &mut dyn BufRead) -> std::io::Result<Option<AlreadyEncrypted>> {
    let headers = Headers::read(input)?;
    let mut scanner = match judge_headers(&headers) {
        HeaderVerdict::Encrypted(reason) => return Ok(Some(reason)),
        HeaderVerdict::Plain => return Ok(None),
        HeaderVerdict::ScanBody => InlinePgpScanner::default(),
    };
    scanner.feed(headers.body_read());
    let mut buffer = vec![0; 64 * 1024];
    while !scanner.is_settled() {
        match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => scanner.feed(&buffer[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(scanner.finish().then_some(AlreadyEncrypted::InlinePgp))
}

/// Where a text body stands against "one PGP MESSAGE block, white space
/// around it".
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Armor {
    /// Only white space so far.
    #[default]
    Before,
    /// After the BEGIN line: armor headers (`Key: value`) until a blank line.
    Headers,
    /// Base64 lines and the `=` checksum.
    Data,
    /// After the END line: only white space may follow.
    After,
    /// Not one armored block: settled, to be encrypted.
    Not,
}

/// Longest line an armored block may have; longer lines settle it as text.
const MAX_ARMOR_LINE: usize = 1024;

/// Follows a text body line by line as it streams past, to tell whether it
/// is exactly one armored OpenPGP message.
#[derive(Debug, Default)]
pub(super) struct InlinePgpScanner {
    state: Armor,
    line: Vec<u8>,
}

impl InlinePgpScanner {
    /// Looks at the next bytes of the body.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) {
        while !self.is_settled() && !bytes.is_empty() {
            let (piece, ends_line) = match bytes.iter().position(|byte| *byte == b'\n') {
                Some(at) => (&bytes[..at], true),
                None => (bytes, false),
            };
            bytes = &bytes[piece.len() + usize::from(ends_line)..];
            self.line.extend_from_slice(piece);
            if self.line.len() > MAX_ARMOR_LINE {
                self.state = Armor::Not;
            } else if ends_line {
                self.end_line();
            }
        }
    }

    /// Whether the verdict is known whatever follows (it is "not").
    pub(super) fn is_settled(&self) -> bool {
        self.state == Armor::Not
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        let text = line.trim_ascii();
        self.state = match (self.state, text) {
            (Armor::Not, _) => Armor::Not,
            (Armor::Before | Armor::After, b"") => self.state,
            (Armor::Before, b"-----BEGIN PGP MESSAGE-----") => Armor::Headers,
            (Armor::Headers, b"") => Armor::Data,
            (Armor::Headers, header) if is_armor_header(header) => Armor::Headers,
            (Armor::Data, b"-----END PGP MESSAGE-----") => Armor::After,
            (Armor::Data, data) if is_base64_line(data) => Armor::Data,
            _ => Armor::Not,
        };
        self.line = line;
        self.line.clear();
    }

    /// Whether the whole body was one armored block, once it has ended.
    pub(super) fn finish(&mut self) -> bool {
        if !self.line.is_empty() {
            self.end_line();
        }
        self.state == Armor::After
    }
}

fn is_armor_header(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    text.split_once(": ").is_some_and(|(key, _)| {
        !key.is_empty()
            && key
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    })
}

fn is_base64_line(line: &[u8]) -> bool {
    !line.is_empty()
        && line
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'='))
}

/// Passes a body through, showing every byte to an [`InlinePgpScanner`].
pub(super) struct Scanning<'a> {
    /// What is read.
    pub input: &'a mut dyn BufRead,
    /// What looks at it, if the headers asked for a look.
    pub scanner: Option<&'a mut InlinePgpScanner>,
}

impl Read for Scanning<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.input.read(buffer)?;
        if let Some(scanner) = self.scanner.as_deref_mut() {
            scanner.feed(&buffer[..read]);
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(message: &str) -> Option<AlreadyEncrypted> {
        is_already_encrypted(&mut message.as_bytes()).unwrap()
    }

    const ARMOR: &str = "-----BEGIN PGP MESSAGE-----\n\
Version: GnuPG v2\n\
\n\
hQEMA1b2RkZbxd7yAQf/Xk0+/7\n\
bWFjIQ==\n\
=Ab12\n\
-----END PGP MESSAGE-----\n";

    #[test]
    fn whole_messages_encrypted_already_are_left_alone() {
        let cases = [
            (
                "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\n\nx\n",
                AlreadyEncrypted::PgpMime,
            ),
            (
                "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\n\nMIIB\n",
                AlreadyEncrypted::Smime,
            ),
            (
                "Content-Type: application/pkcs7-mime; smime-type=\"authEnveloped-data\"\n\nMIIB\n",
                AlreadyEncrypted::Smime,
            ),
            (
                "Content-Type: application/x-pkcs7-mime; name=\"smime.p7m\"\n\nMIIB\n",
                AlreadyEncrypted::Smime,
            ),
            (
                "Content-Type: application/pkcs7-mime\nContent-Disposition: attachment; filename=\"msg.P7M\"\n\nMIIB\n",
                AlreadyEncrypted::Smime,
            ),
        ];
        for (message, reason) in cases {
            assert_eq!(verdict(message), Some(reason), "{message}");
        }
        for body in [
            ARMOR.to_owned(),
            format!("\n  \n{ARMOR}\n\n"),
            ARMOR.replace('\n', "\r\n"),
        ] {
            let message = format!("Subject: s\nContent-Type: text/plain\n\n{body}");
            assert_eq!(
                verdict(&message),
                Some(AlreadyEncrypted::InlinePgp),
                "{message}"
            );
            let untyped = format!("Subject: s\n\n{body}");
            assert_eq!(
                verdict(&untyped),
                Some(AlreadyEncrypted::InlinePgp),
                "{untyped}"
            );
        }
    }

    #[test]
    fn messages_that_merely_contain_encryption_are_encrypted() {
        let cases = [
            format!("Subject: fwd\n\nSee below.\n{ARMOR}"),
            format!("Subject: fwd\n\n{ARMOR}Thanks!\n"),
            format!("Subject: quoted\n\n> {}", ARMOR.replace('\n', "\n> ")),
            format!("Subject: two\n\n{ARMOR}{ARMOR}"),
            "Subject: s\n\n-----BEGIN PGP MESSAGE-----\n\nThis is no base64, it is a secret.\n-----END PGP MESSAGE-----\n".into(),
            "Subject: s\n\n-----BEGIN PGP MESSAGE-----\n\nhQEMA1b2\n".into(),
            format!("Content-Type: text/html\n\n<p>x</p>\n{ARMOR}"),
            format!("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n{ARMOR}--b--\n"),
            "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\n--b\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\n\nMIIB\n--b--\n".into(),
            "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nhello\n--b\nContent-Type: application/octet-stream; name=\"x.p7m\"\n\nMIIB\n--b--\n".into(),
            "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\n\nMIIB\n".into(),
            "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\n\n--b\n\nsigned text\n--b--\n".into(),
            "Content-Type: application/pkcs7-mime\n\nMIIB\n".into(),
            format!("Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n{}", "LS0tLS1CRUdJTiBQR1A=\n"),
            "Subject: no body\n".into(),
        ];
        for message in cases {
            assert_eq!(verdict(&message), None, "{message}");
        }
    }

    #[test]
    fn media_type_parameters_are_read_as_mime_writes_them() {
        let parsed = MediaType::parse(
            "Application/PKCS7-MIME; Smime-Type=\"enveloped-data\"; name*=utf-8''m%C3%BC.p7m",
        );
        assert_eq!(parsed.essence, "application/pkcs7-mime");
        assert_eq!(parsed.parameter("smime-type"), Some("enveloped-data"));
        assert_eq!(parsed.parameter("name"), Some("m%C3%BC.p7m"));
    }
}
