//! One uploaded string taken apart into the keys it holds, in order. A paste
//! or file may hold several: PEM blocks with text before and between them
//! (the `Bag Attributes` of a PKCS#12 export, the dump `openssl x509 -text`
//! writes), several armored OpenPGP blocks, a keyring in one block, a
//! PKCS#7 bundle, or base64 of binary OpenPGP or DER.

use base64::Engine;
use openssl::pkcs7::Pkcs7;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::PKey;
use openssl::x509::X509;
use sequoia_openpgp::Cert;
use sequoia_openpgp::cert::CertParser;
use sequoia_openpgp::parse::Parse;

/// A key read from an upload, of either method.
pub(super) enum Found {
    /// An OpenPGP certificate (secret parts, if pasted, already dropped).
    Openpgp(Box<Cert>),
    /// An X.509 certificate.
    X509(X509),
}

/// Why one piece of an upload is not a key that can be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Unreadable {
    /// Nothing recognisable.
    Garbage,
    /// A private key, which must never be uploaded; says what holds it.
    PrivateKey(&'static str),
    /// Something recognisable that is not a key, e.g. "a certificate request".
    NotAKey(String),
    /// A PEM or armor block without its END line; holds the missing line.
    Truncated(String),
}

/// One key of an upload, or why it cannot be read.
pub(super) type Piece = Result<Found, Unreadable>;

/// Every key in `raw`, in the order it holds them; at least one piece.
pub(super) fn pieces(raw: &str) -> Vec<Piece> {
    let blocks = blocks(raw);
    let pieces: Vec<Piece> = if blocks.is_empty() {
        binary(raw)
    } else {
        blocks.iter().flat_map(Block::pieces).collect()
    };
    if pieces.is_empty() {
        vec![Err(Unreadable::Garbage)]
    } else {
        pieces
    }
}

/// One `-----BEGIN <label>-----` ... `-----END <label>-----` block, its lines
/// trimmed (a paste from a mail may indent them); `text` lacks the END line
/// when the block was cut off.
struct Block<'a> {
    label: &'a str,
    text: String,
    complete: bool,
}

/// The PEM and armor blocks of `raw`. As OpenSSL's PEM reader does, any
/// text outside the blocks is skipped.
fn blocks(raw: &str) -> Vec<Block<'_>> {
    let mut found = Vec::new();
    let mut open: Option<Block<'_>> = None;
    for line in raw.lines().map(str::trim) {
        if let Some(label) = armor_line(line, "BEGIN") {
            found.extend(open.take());
            open = Some(Block {
                label,
                text: format!("{line}\n"),
                complete: false,
            });
        } else if let Some(block) = open.as_mut() {
            block.text.push_str(line);
            block.text.push('\n');
            if armor_line(line, "END") == Some(block.label) {
                block.complete = true;
                found.extend(open.take());
            }
        }
    }
    found.extend(open);
    found
}

/// The label of a `-----BEGIN <label>-----` (or END) line.
fn armor_line<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    line.strip_prefix("-----")?
        .strip_prefix(word)?
        .strip_prefix(' ')?
        .strip_suffix("-----")
}

impl Block<'_> {
    fn pieces(&self) -> Vec<Piece> {
        if !self.complete {
            return vec![Err(Unreadable::Truncated(format!(
                "-----END {}-----",
                self.label
            )))];
        }
        let bytes = self.text.as_bytes();
        match self.label {
            "PGP PUBLIC KEY BLOCK" | "PGP PRIVATE KEY BLOCK" => openpgp(bytes),
            "CERTIFICATE" | "X509 CERTIFICATE" => {
                vec![
                    X509::from_pem(bytes)
                        .map(Found::X509)
                        .map_err(|_| Unreadable::Garbage),
                ]
            }
            "PKCS7" => {
                Pkcs7::from_pem(bytes).map_or_else(|_| vec![Err(Unreadable::Garbage)], bundle)
            }
            label if label.ends_with("PRIVATE KEY") => {
                vec![Err(Unreadable::PrivateKey("a private key"))]
            }
            label => vec![Err(Unreadable::NotAKey(not_a_key(label)))],
        }
    }
}

/// What a PEM or armor block that holds no key is, in words.
fn not_a_key(label: &str) -> String {
    match label {
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => {
            "a certificate request (upload the certificate issued for it)".into()
        }
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {
            "a bare public key (S/MIME needs the certificate that holds it)".into()
        }
        "X509 CRL" => "a certificate revocation list".into(),
        "PGP MESSAGE" => "an encrypted OpenPGP message".into(),
        "PGP SIGNATURE" | "PGP SIGNED MESSAGE" => "an OpenPGP signature".into(),
        other => format!("a block of type \"{other}\""),
    }
}

/// The certificates of OpenPGP data (armored or binary): one, or a keyring
/// of several, each certificate one piece.
fn openpgp(bytes: &[u8]) -> Vec<Piece> {
    let Ok(parser) = CertParser::from_bytes(bytes) else {
        return vec![Err(Unreadable::Garbage)];
    };
    parser
        .map(|cert| {
            cert.map(|cert| Found::Openpgp(Box::new(super::openpgp::public_only(cert))))
                .map_err(|_| Unreadable::Garbage)
        })
        .collect()
}

/// The certificates of a PKCS#7 bundle (`.p7b`, `.p7c`).
fn bundle(pkcs7: Pkcs7) -> Vec<Piece> {
    let certificates = pkcs7
        .signed()
        .and_then(|signed| signed.certificates())
        .map(|stack| {
            stack
                .iter()
                .map(|cert| Ok(Found::X509(cert.to_owned())))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if certificates.is_empty() {
        vec![Err(Unreadable::NotAKey(
            "a PKCS #7 file without certificates".into(),
        ))]
    } else {
        certificates
    }
}

/// Base64 of binary OpenPGP or of DER, as files are uploaded.
fn binary(raw: &str) -> Vec<Piece> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(compact) else {
        return vec![Err(Unreadable::Garbage)];
    };
    // DER starts with a SEQUENCE; binary OpenPGP with a packet tag (high bit set).
    match bytes.first() {
        Some(0x30) => der(&bytes),
        Some(tag) if tag & 0x80 != 0 => openpgp(&bytes),
        _ => vec![Err(Unreadable::Garbage)],
    }
}

/// DER elements one after another (certificates, a PKCS#7 bundle, ...).
fn der(mut rest: &[u8]) -> Vec<Piece> {
    let mut pieces = Vec::new();
    while !rest.is_empty() {
        // An element of indefinite length (BER) is taken to run to the end.
        let len = der_len(rest).unwrap_or(rest.len());
        let (element, tail) = rest.split_at(len);
        pieces.extend(der_element(element));
        rest = tail;
    }
    pieces
}

fn der_element(element: &[u8]) -> Vec<Piece> {
    if let Ok(cert) = X509::from_der(element) {
        return vec![Ok(Found::X509(cert))];
    }
    if let Ok(pkcs7) = Pkcs7::from_der(element) {
        return bundle(pkcs7);
    }
    if Pkcs12::from_der(element).is_ok() {
        return vec![Err(Unreadable::PrivateKey(
            "a PKCS #12 file (.p12, .pfx), which holds a private key",
        ))];
    }
    if PKey::private_key_from_der(element).is_ok() {
        return vec![Err(Unreadable::PrivateKey("a private key"))];
    }
    vec![Err(Unreadable::Garbage)]
}

/// The whole length (header and content) of the DER element at the start of
/// `input`, if its length is definite and it fits.
fn der_len(input: &[u8]) -> Option<usize> {
    let first = *input.get(1)?;
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > std::mem::size_of::<usize>() {
            return None;
        }
        let bytes = input.get(2..2 + count)?;
        let len = bytes
            .iter()
            .fold(0usize, |len, byte| (len << 8) | usize::from(*byte));
        (2 + count, len)
    };
    let whole = header.checked_add(len)?;
    (whole <= input.len()).then_some(whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(raw: &str) -> Vec<&'static str> {
        pieces(raw)
            .iter()
            .map(|piece| match piece {
                Ok(Found::Openpgp(_)) => "openpgp",
                Ok(Found::X509(_)) => "x509",
                Err(Unreadable::Garbage) => "garbage",
                Err(Unreadable::PrivateKey(_)) => "private",
                Err(Unreadable::NotAKey(_)) => "not a key",
                Err(Unreadable::Truncated(_)) => "truncated",
            })
            .collect()
    }

    #[test]
    fn text_outside_blocks_is_skipped_and_every_block_counts() {
        assert_eq!(kinds("garbage"), ["garbage"]);
        assert_eq!(kinds(""), ["garbage"]);
        assert_eq!(
            kinds(
                "Bag Attributes\n  localKeyID: 01\n-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
            ),
            ["private"]
        );
        assert_eq!(
            kinds(
                "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n-----BEGIN CERTIFICATE-----\nMIIB\n"
            ),
            ["not a key", "truncated"]
        );
    }

    #[test]
    fn der_lengths_are_read_from_the_header() {
        assert_eq!(der_len(&[0x30, 0x03, 1, 2, 3, 0x30]), Some(5));
        assert_eq!(der_len(&[0x30, 0x82, 0x00, 0x02, 1, 2]), Some(6));
        assert_eq!(der_len(&[0x30, 0x80, 1, 2]), None, "indefinite");
        assert_eq!(der_len(&[0x30, 0x05, 1]), None, "cut short");
    }
}
