//! RecipientInfos: the content key, made recoverable for each certificate's
//! owner. RSA certificates get a KeyTransRecipientInfo (PKCS#1 v1.5, as
//! `openssl cms` writes); EC certificates a KeyAgreeRecipientInfo
//! (ephemeral-static ECDH, X9.63 KDF with SHA-256, AES key wrap; RFC 5753).

use super::der::{
    self, BIT_STRING, INTEGER, OCTET_STRING, SEQUENCE, constructed, context, oid, tlv,
};
use anyhow::{Context, anyhow};
use openssl::aes::{AesKey, wrap_key};
use openssl::bn::BigNumContext;
use openssl::derive::Deriver;
use openssl::ec::{EcKey, PointConversionForm};
use openssl::encrypt::Encrypter;
use openssl::pkey::{Id, PKey};
use openssl::rsa::Padding;
use openssl::sha::Sha256;
use openssl::x509::X509;
use zeroize::Zeroizing;

const RSA_ENCRYPTION: &[u32] = &[1, 2, 840, 113549, 1, 1, 1];
const EC_PUBLIC_KEY: &[u32] = &[1, 2, 840, 10045, 2, 1];
const DH_SINGLE_PASS_STD_DH_SHA256_KDF: &[u32] = &[1, 3, 132, 1, 11, 1];
const AES128_WRAP: &[u32] = &[2, 16, 840, 1, 101, 3, 4, 1, 5];
const AES256_WRAP: &[u32] = &[2, 16, 840, 1, 101, 3, 4, 1, 45];

/// One encoded RecipientInfo and its version (which sets the EnvelopedData's).
pub(super) struct RecipientInfo {
    /// The DER encoding (a CHOICE alternative, tagged as such).
    pub der: Vec<u8>,
    /// 0 for key transport, 3 for key agreement.
    pub version: u8,
}

/// The RecipientInfo that lets the owner of `cert` recover `key`.
pub(super) fn recipient_info(cert: &X509, key: &[u8]) -> anyhow::Result<RecipientInfo> {
    let rid = der::issuer_and_serial(&cert.to_der()?)
        .context("the certificate's issuer and serial number are unreadable")?;
    let public = cert.public_key()?;
    match public.id() {
        Id::RSA => key_transport(&public, &rid, key),
        Id::EC => key_agreement(&public, &rid, key),
        other => Err(anyhow!("cannot encrypt to a {other:?} key")),
    }
}

fn key_transport(
    public: &PKey<openssl::pkey::Public>,
    rid: &[u8],
    key: &[u8],
) -> anyhow::Result<RecipientInfo> {
    let mut encrypter = Encrypter::new(public)?;
    encrypter.set_rsa_padding(Padding::PKCS1)?;
    let mut encrypted = vec![0; encrypter.encrypt_len(key)?];
    let written = encrypter.encrypt(key, &mut encrypted)?;
    encrypted.truncate(written);
    let algorithm = constructed(SEQUENCE, &[&oid(RSA_ENCRYPTION), &[0x05, 0x00]]);
    let der = constructed(
        SEQUENCE,
        &[
            &der::small_integer(0),
            rid,
            &algorithm,
            &tlv(OCTET_STRING, &encrypted),
        ],
    );
    Ok(RecipientInfo { der, version: 0 })
}

fn key_agreement(
    public: &PKey<openssl::pkey::Public>,
    rid: &[u8],
    key: &[u8],
) -> anyhow::Result<RecipientInfo> {
    let recipient = public.ec_key()?;
    let group = recipient.group();
    let ephemeral = EcKey::generate(group)?;
    let mut numbers = BigNumContext::new()?;
    let point =
        ephemeral
            .public_key()
            .to_bytes(group, PointConversionForm::UNCOMPRESSED, &mut numbers)?;
    let ephemeral = PKey::from_ec_key(ephemeral)?;
    let mut deriver = Deriver::new(&ephemeral)?;
    deriver.set_peer(public)?;
    let shared = Zeroizing::new(deriver.derive_to_vec()?);

    // The key-encryption key is as long as the content key (as OpenSSL chooses).
    let (wrap, kek_len) = if key.len() <= 16 {
        (AES128_WRAP, 16)
    } else {
        (AES256_WRAP, 32)
    };
    let wrap_algorithm = constructed(SEQUENCE, &[&oid(wrap)]);
    let bits = u32::try_from(kek_len * 8)?.to_be_bytes();
    let shared_info = constructed(
        SEQUENCE,
        &[
            &wrap_algorithm,
            &constructed(context(2), &[&tlv(OCTET_STRING, &bits)]),
        ],
    );
    let kek = x963_kdf(&shared, &shared_info, kek_len);
    let kek = AesKey::new_encrypt(&kek).map_err(|_| anyhow!("bad key-encryption key"))?;
    let mut wrapped = vec![0; key.len() + 8];
    wrap_key(&kek, None, &mut wrapped, key).map_err(|_| anyhow!("AES key wrap failed"))?;

    let mut bit_string = vec![0u8];
    bit_string.extend_from_slice(&point);
    let originator_key = constructed(
        context(1),
        &[
            &constructed(SEQUENCE, &[&oid(EC_PUBLIC_KEY)]),
            &tlv(BIT_STRING, &bit_string),
        ],
    );
    let algorithm = constructed(
        SEQUENCE,
        &[&oid(DH_SINGLE_PASS_STD_DH_SHA256_KDF), &wrap_algorithm],
    );
    let encrypted_keys = constructed(
        SEQUENCE,
        &[&constructed(SEQUENCE, &[rid, &tlv(OCTET_STRING, &wrapped)])],
    );
    let der = constructed(
        context(1),
        &[
            &tlv(INTEGER, &[3]),
            &constructed(context(0), &[&originator_key]),
            &algorithm,
            &encrypted_keys,
        ],
    );
    Ok(RecipientInfo { der, version: 3 })
}

/// The ANSI X9.63 key derivation with SHA-256 (RFC 5753, section 7.2).
fn x963_kdf(shared: &[u8], shared_info: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + 32));
    let mut counter = 1u32;
    while out.len() < len {
        let mut hash = Sha256::new();
        hash.update(shared);
        hash.update(&counter.to_be_bytes());
        hash.update(shared_info);
        out.extend_from_slice(&hash.finish());
        counter += 1;
    }
    out.truncate(len);
    out
}
