//! The RFC 2589 refresh operation, which sets how long a dynamic entry lives.

use bytes::BytesMut;
use ldap3::asn1::{ASNTag, Integer, OctetString, Sequence, Tag, TagClass, write};
use ldap3::exop::Exop;

/// OID of the Refresh extended request (RFC 2589).
const REFRESH_OID: &str = "1.3.6.1.4.1.1466.101.119.1";

/// A Refresh request for the dynamic entry `dn`, to live `ttl_seconds` more.
pub(super) fn refresh(dn: &str, ttl_seconds: u32) -> Exop {
    let value = Tag::Sequence(Sequence {
        inner: vec![
            Tag::OctetString(OctetString {
                id: 0,
                class: TagClass::Context,
                inner: dn.as_bytes().to_vec(),
            }),
            Tag::Integer(Integer {
                id: 1,
                class: TagClass::Context,
                inner: i64::from(ttl_seconds),
            }),
        ],
        ..Default::default()
    })
    .into_structure();
    let mut buffer = BytesMut::new();
    write::encode_into(&mut buffer, value).expect("encoding into memory cannot fail");
    Exop {
        name: Some(REFRESH_OID.to_owned()),
        val: Some(buffer.to_vec()),
    }
}
