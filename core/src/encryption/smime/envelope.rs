//! CMS EnvelopedData (RFC 5652, CBC) and AuthEnvelopedData (RFC 5083 and
//! 5084, GCM), written as they are encrypted: the small parts in DER, the
//! content as a BER constructed OCTET STRING of indefinite length, one
//! chunk at a time, so memory does not grow with the message. OpenSSL's
//! own streaming (`openssl cms -encrypt -stream`) writes the same shape;
//! the `openssl` crate only offers CMS in memory.

use super::der::{self, END, OCTET_STRING, SEQUENCE, constructed, context, oid, open, tlv};
use super::recipients::recipient_info;
use crate::encryption::Algorithm;
use openssl::rand::rand_bytes;
use openssl::symm::{Cipher, Crypter, Mode};
use openssl::x509::X509;
use std::io::{ErrorKind, Read, Write};
use zeroize::Zeroizing;

/// How much plaintext is encrypted at a time.
const CHUNK: usize = 64 * 1024;
/// The GCM tag length written and announced (`aes-ICVlen`), as OpenSSL does.
const TAG_LEN: usize = 16;

const ID_DATA: &[u32] = &[1, 2, 840, 113549, 1, 7, 1];
const ID_ENVELOPED_DATA: &[u32] = &[1, 2, 840, 113549, 1, 7, 3];
const ID_AUTH_ENVELOPED_DATA: &[u32] = &[1, 2, 840, 113549, 1, 9, 16, 1, 23];

/// The content cipher of an S/MIME algorithm.
struct Content {
    cipher: Cipher,
    oid: &'static [u32],
    authenticated: bool,
}

impl Content {
    fn of(algorithm: Algorithm) -> anyhow::Result<Self> {
        let (cipher, oid, authenticated) = match algorithm {
            Algorithm::Aes128Cbc => (Cipher::aes_128_cbc(), AES128_CBC, false),
            Algorithm::Aes256Cbc => (Cipher::aes_256_cbc(), AES256_CBC, false),
            Algorithm::Aes128Gcm => (Cipher::aes_128_gcm(), AES128_GCM, true),
            Algorithm::Aes256Gcm => (Cipher::aes_256_gcm(), AES256_GCM, true),
            Algorithm::Aes128 | Algorithm::Aes256 => {
                anyhow::bail!("{} is an OpenPGP algorithm", algorithm.as_str())
            }
        };
        Ok(Self {
            cipher,
            oid,
            authenticated,
        })
    }

    /// The AlgorithmIdentifier with its parameters: the CBC IV, or the GCM
    /// nonce and tag length.
    fn algorithm_identifier(&self, iv: &[u8]) -> Vec<u8> {
        let iv = tlv(OCTET_STRING, iv);
        let parameters = if self.authenticated {
            constructed(SEQUENCE, &[&iv, &der::small_integer(TAG_LEN as u8)])
        } else {
            iv
        };
        constructed(SEQUENCE, &[&oid(self.oid), &parameters])
    }
}

const AES128_CBC: &[u32] = &[2, 16, 840, 1, 101, 3, 4, 1, 2];
const AES256_CBC: &[u32] = &[2, 16, 840, 1, 101, 3, 4, 1, 42];
const AES128_GCM: &[u32] = &[2, 16, 840, 1, 101, 3, 4, 1, 6];
const AES256_GCM: &[u32] = &[2, 16, 840, 1, 101, 3, 4, 1, 46];

/// Encrypts `input` to every certificate and writes the BER ContentInfo
/// to `output`: EnvelopedData for CBC, AuthEnvelopedData for GCM.
pub(in crate::encryption) fn encrypt(
    algorithm: Algorithm,
    certs: &[X509],
    input: &mut dyn Read,
    output: &mut (dyn Write + Send + Sync),
) -> anyhow::Result<()> {
    let content = Content::of(algorithm)?;
    let mut key = Zeroizing::new(vec![0; content.cipher.key_len()]);
    rand_bytes(&mut key)?;
    let mut iv = vec![0; if content.authenticated { 12 } else { 16 }];
    rand_bytes(&mut iv)?;
    let infos = certs
        .iter()
        .map(|cert| recipient_info(cert, &key))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if infos.is_empty() {
        anyhow::bail!("no recipient");
    }
    // RFC 5652, 6.1: 0 when every recipient uses key transport, else 2; RFC 5083: always 0.
    let version = if content.authenticated || infos.iter().all(|info| info.version == 0) {
        0
    } else {
        2
    };
    let content_type = if content.authenticated {
        ID_AUTH_ENVELOPED_DATA
    } else {
        ID_ENVELOPED_DATA
    };
    let recipient_infos = der::set_of(infos.into_iter().map(|info| info.der).collect());
    let head = [
        &open(SEQUENCE)[..],
        &oid(content_type),
        &open(context(0)),
        &open(SEQUENCE),
        &der::small_integer(version),
        &recipient_infos,
        &open(SEQUENCE),
        &oid(ID_DATA),
        &content.algorithm_identifier(&iv),
        &open(context(0)),
    ]
    .concat();
    output.write_all(&head)?;

    let mut crypter = Crypter::new(content.cipher, Mode::Encrypt, &key, Some(&iv))?;
    let mut plain = vec![0; CHUNK];
    let mut encrypted = vec![0; CHUNK + content.cipher.block_size()];
    loop {
        let read = match input.read(&mut plain) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(error.into()),
        };
        let written = crypter.update(&plain[..read], &mut encrypted)?;
        write_chunk(output, &encrypted[..written])?;
    }
    let written = crypter.finalize(&mut encrypted)?;
    write_chunk(output, &encrypted[..written])?;
    // Close the encrypted content and the EncryptedContentInfo.
    output.write_all(&[END, END].concat())?;
    if content.authenticated {
        let mut tag = [0; TAG_LEN];
        crypter.get_tag(&mut tag)?;
        output.write_all(&tlv(OCTET_STRING, &tag))?;
    }
    // Close the (Auth)EnvelopedData, the [0] and the ContentInfo.
    output.write_all(&[END, END, END].concat())?;
    Ok(())
}

/// One primitive OCTET STRING of the constructed encrypted content.
fn write_chunk(output: &mut dyn Write, chunk: &[u8]) -> std::io::Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    output.write_all(&der::header(OCTET_STRING, chunk.len()))?;
    output.write_all(chunk)
}
