//! Every key in a paste becomes a recipient, or the upload is refused
//! naming the key as a person would.

use super::{Gpg, Openssl};
use crate::encryption::{Algorithm, KeyError, Recipients, parse_keys};
use std::time::{Duration, SystemTime};

/// After the keys exist: a key is not valid before its creation.
fn soon() -> SystemTime {
    SystemTime::now() + Duration::from_secs(2)
}

fn smime(keys: &[&str]) -> Result<Recipients, KeyError> {
    parse_keys(Algorithm::Aes256Gcm, keys, 10, soon())
}

fn openpgp(keys: &[&str]) -> Result<Recipients, KeyError> {
    parse_keys(Algorithm::Aes256, keys, 10, soon())
}

fn count(recipients: &Recipients) -> usize {
    match recipients {
        Recipients::Openpgp(certs) => certs.len(),
        Recipients::Smime(certs) => certs.len(),
    }
}

fn subjects(recipients: &Recipients) -> Vec<String> {
    let Recipients::Smime(certs) = recipients else {
        panic!("S/MIME recipients expected, got {recipients:?}");
    };
    certs
        .iter()
        .map(|cert| crate::encryption::summary::x509_name(cert))
        .collect()
}

#[test]
fn two_pem_certificates_in_one_string_give_two_recipients() {
    let openssl = Openssl::new();
    let alice = openssl.certificate("alice", "/CN=Alice Example", "rsa:2048", 30);
    let bob = openssl.certificate("bob", "/CN=Bob Example", "ec:P-256", 30);
    let recipients = smime(&[&format!("{alice}{bob}")]).unwrap();
    assert_eq!(
        subjects(&recipients),
        ["CN=Alice Example", "CN=Bob Example"]
    );
}

#[test]
fn a_pkcs12_export_with_bag_attributes_is_read_as_openssl_reads_it() {
    let openssl = Openssl::new();
    openssl.certificate(
        "alice",
        "/CN=Alice Example/emailAddress=alice@example.org",
        "rsa:2048",
        30,
    );
    let dump = openssl.pkcs12_dump("alice", false);
    assert!(dump.starts_with("Bag Attributes"), "{dump}");
    let recipients = smime(&[&dump]).unwrap();
    assert_eq!(
        subjects(&recipients),
        ["CN=Alice Example, alice@example.org"]
    );
}

#[test]
fn the_dump_of_openssl_x509_text_before_the_pem_is_skipped() {
    let openssl = Openssl::new();
    openssl.certificate("bob", "/CN=Bob Example", "ec:P-256", 30);
    openssl.certificate("alice", "/CN=Alice Example", "rsa:2048", 30);
    let dump = openssl.text_dump("bob");
    assert!(dump.starts_with("Certificate:\n"), "{dump}");
    // As `openssl ca` leaves a file: the dump, then the PEM; two such in one paste.
    let paste = format!("{dump}\n{}", openssl.text_dump("alice"));
    let recipients = smime(&[&paste]).unwrap();
    assert_eq!(
        subjects(&recipients),
        ["CN=Bob Example", "CN=Alice Example"]
    );
}

#[test]
fn an_expired_certificate_behind_a_preamble_is_refused_as_expired_by_its_subject() {
    let openssl = Openssl::new();
    openssl.certificate(
        "old",
        "/CN=Old Example/emailAddress=old@example.org",
        "rsa:2048",
        1,
    );
    let dump = openssl.pkcs12_dump("old", false);
    let in_two_days = soon() + Duration::from_secs(2 * 86_400);
    let error = parse_keys(Algorithm::Aes256Cbc, &[&dump], 10, in_two_days).unwrap_err();
    assert!(
        matches!(&error, KeyError::NotValidNow { detail, .. } if detail.contains("expired")),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.starts_with(
            "the first key (CN=Old Example, old@example.org) is not valid now (it expired on "
        ),
        "{text}"
    );
}

#[test]
fn an_openpgp_key_followed_by_a_certificate_is_refused_naming_the_certificate() {
    let gpg = Gpg::new();
    let fingerprint = gpg.generate("Alice <alice@example.org>", "ed25519", "cv25519", "never");
    let openssl = Openssl::new();
    let cert = openssl.certificate("bob", "/CN=Bob Example", "rsa:2048", 30);
    let paste = format!("{}\n{cert}", gpg.export(&[&fingerprint]));
    let error = openpgp(&[&paste]).unwrap_err();
    assert!(
        matches!(&error, KeyError::WrongMethod { key, .. } if key.position() == 2),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the second key (CN=Bob Example) is an X.509 certificate, but OpenPGP was chosen; \
         all keys must be of one method"
    );
    // Chosen the other way round, the OpenPGP key is the one named.
    let error = smime(&[&paste]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("the first key (Alice <alice@example.org>, fingerprint "),
        "{error}"
    );
}

#[test]
fn two_armored_openpgp_blocks_in_one_paste_give_two_certificates() {
    let first = Gpg::new();
    let second = Gpg::new();
    let one = first.generate("One <one@example.org>", "ed25519", "cv25519", "never");
    let two = second.generate("Two <two@example.org>", "rsa3072", "rsa3072", "never");
    let paste = format!(
        "Here are our keys:\n{}\nand\n{}",
        first.export(&[&one]),
        second.export(&[&two])
    );
    let Recipients::Openpgp(certs) = openpgp(&[&paste]).unwrap() else {
        panic!("OpenPGP recipients expected");
    };
    let fingerprints: Vec<String> = certs
        .iter()
        .map(|cert| cert.fingerprint().to_hex())
        .collect();
    assert_eq!(fingerprints, [one, two]);
}

#[test]
fn a_keyring_in_one_armored_block_gives_each_certificate() {
    let gpg = Gpg::new();
    let one = gpg.generate("One <one@example.org>", "ed25519", "cv25519", "never");
    let two = gpg.generate("Two <two@example.org>", "ed25519", "cv25519", "never");
    let keyring = gpg.export(&[&one, &two]);
    assert_eq!(
        keyring
            .matches("-----BEGIN PGP PUBLIC KEY BLOCK-----")
            .count(),
        1
    );
    let recipients = openpgp(&[&keyring]).unwrap();
    assert_eq!(count(&recipients), 2);
    // The limit counts keys, not strings.
    let error = parse_keys(Algorithm::Aes256, &[&keyring], 1, soon()).unwrap_err();
    assert_eq!(error, KeyError::TooMany { max: 1, found: 2 });
}

#[test]
fn keys_are_counted_across_the_whole_upload() {
    let openssl = Openssl::new();
    let alice = openssl.certificate("alice", "/CN=Alice Example", "rsa:2048", 30);
    let bob = openssl.certificate("bob", "/CN=Bob Example", "rsa:2048", 30);
    let weak = openssl.certificate("weak", "/CN=Weak Example", "rsa:1024", 30);
    let error = smime(&[&alice, &format!("{bob}{weak}")]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("the third key (CN=Weak Example) is too weak: RSA with 1024 bits"),
        "{error}"
    );
    let error = smime(&[&alice, &format!("{bob}{alice}")]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the third key (CN=Alice Example) is the same as the first key"
    );
}

#[test]
fn a_private_key_in_a_paste_is_refused_saying_so() {
    let openssl = Openssl::new();
    openssl.certificate("alice", "/CN=Alice Example", "ec:P-256", 30);
    let with_key = openssl.pkcs12_dump("alice", true);
    let error = smime(&[&with_key]).unwrap_err();
    assert!(
        matches!(&error, KeyError::PrivateKey { .. }),
        "{error:?} for\n{with_key}"
    );
    assert!(
        error
            .to_string()
            .contains("keep the private key to yourself")
    );
}

#[test]
fn what_is_not_a_key_is_refused_for_what_it_is() {
    let openssl = Openssl::new();
    let cert = openssl.certificate("alice", "/CN=Alice Example", "rsa:2048", 30);
    let cut = &cert[..cert.len() - 30];
    assert_eq!(
        smime(&[cut]).unwrap_err().to_string(),
        "the first key is cut off: the line -----END CERTIFICATE----- is missing"
    );
    assert_eq!(
        smime(&["garbage"]).unwrap_err().to_string(),
        "the first key is neither an OpenPGP certificate nor an X.509 certificate"
    );
}
