//! Just enough ASN.1 for CMS: a DER writer for the small structures, the BER
//! indefinite-length markers that let the content stream, and a reader that
//! finds the issuer and serial number in a certificate.

/// SEQUENCE (constructed).
pub(super) const SEQUENCE: u8 = 0x30;
/// SET (constructed).
pub(super) const SET: u8 = 0x31;
/// OCTET STRING (primitive).
pub(super) const OCTET_STRING: u8 = 0x04;
/// INTEGER.
pub(super) const INTEGER: u8 = 0x02;
/// BIT STRING (primitive).
pub(super) const BIT_STRING: u8 = 0x03;
/// Context-specific constructed tag `[n]`.
pub(super) const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// The header of a constructed element of indefinite length (BER).
pub(super) fn open(tag: u8) -> [u8; 2] {
    [tag, 0x80]
}

/// The end-of-contents marker closing an indefinite-length element.
pub(super) const END: [u8; 2] = [0, 0];

/// The header (tag and definite length) of an element of `len` content bytes.
pub(super) fn header(tag: u8, len: usize) -> Vec<u8> {
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|byte| **byte == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out
}

/// One element with definite length.
pub(super) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = header(tag, content.len());
    out.extend_from_slice(content);
    out
}

/// A constructed element holding `parts` in order.
pub(super) fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// An OBJECT IDENTIFIER from its arcs.
pub(super) fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut content = Vec::new();
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (a * 40 + b, rest),
        _ => (0, arcs),
    };
    for arc in std::iter::once(first).chain(rest.iter().copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut value = arc >> 7;
        while value > 0 {
            groups.push(0x80 | (value & 0x7f) as u8);
            value >>= 7;
        }
        content.extend(groups.iter().rev());
    }
    tlv(0x06, &content)
}

/// A small non-negative INTEGER.
pub(super) fn small_integer(value: u8) -> Vec<u8> {
    if value < 0x80 {
        tlv(INTEGER, &[value])
    } else {
        tlv(INTEGER, &[0, value])
    }
}

/// A SET OF its elements, sorted by encoding as DER asks.
pub(super) fn set_of(mut elements: Vec<Vec<u8>>) -> Vec<u8> {
    elements.sort();
    tlv(SET, &elements.concat())
}

/// Splits the first DER element (definite length) off `input`: its tag,
/// its whole encoding, and its content.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > std::mem::size_of::<usize>() || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |len, byte| (len << 8) | usize::from(*byte));
        (len, &rest[count..])
    };
    let header_len = input.len() - rest.len();
    let content = rest.get(..len)?;
    Some((tag, &input[..header_len + len], content))
}

/// Takes the next element off `rest`: its tag and its whole encoding.
fn next<'a>(rest: &mut &'a [u8]) -> Option<(u8, &'a [u8])> {
    let (tag, all, _) = element(rest)?;
    *rest = &rest[all.len()..];
    Some((tag, all))
}

/// The DER of `IssuerAndSerialNumber` for a certificate given in DER.
pub(super) fn issuer_and_serial(certificate: &[u8]) -> Option<Vec<u8>> {
    let (_, _, certificate) = element(certificate)?;
    let (_, _, mut tbs) = element(certificate)?;
    // The version is an optional explicit [0]; without it the serial comes first.
    let (tag, mut serial) = next(&mut tbs)?;
    if tag == context(0) {
        serial = next(&mut tbs)?.1;
    }
    let _signature = next(&mut tbs)?;
    let (_, issuer) = next(&mut tbs)?;
    Some(constructed(SEQUENCE, &[issuer, serial]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_identifiers_encode_as_der() {
        assert_eq!(header(OCTET_STRING, 5), [4, 5]);
        assert_eq!(header(OCTET_STRING, 200), [4, 0x81, 200]);
        assert_eq!(header(OCTET_STRING, 65_536), [4, 0x83, 1, 0, 0]);
        // id-aes256-CBC, 2.16.840.1.101.3.4.1.42
        assert_eq!(
            oid(&[2, 16, 840, 1, 101, 3, 4, 1, 42]),
            [6, 9, 0x60, 0x86, 0x48, 1, 0x65, 3, 4, 1, 0x2a]
        );
        assert_eq!(small_integer(2), [2, 1, 2]);
    }
}
