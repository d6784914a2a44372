//! S/MIME written by Latchkey's own streaming CMS encoder opens with the
//! real `openssl cms -decrypt` for every recipient of a message, RSA and
//! EC alike, when the content spans many encrypted chunks.

use latchkey_core::encryption::{Algorithm, Encrypted, Encryptor, parse_keys};
use latchkey_tests::keys::SmimeIdentity;
use std::time::SystemTime;

/// A message of about 1 MB with CRLF line endings: far more than one chunk.
fn large_message() -> (String, String) {
    let body: String = (0..13_000)
        .map(|line| format!("{line:08} {}\r\n", "lorem ipsum dolor sit amet ".repeat(2)))
        .collect();
    let inner = format!("Content-Type: text/plain; charset=us-ascii\r\n\r\n{body}");
    let message = format!(
        "From: Bob <bob@example.org>\r\nTo: Alice <alice@example.org>\r\nSubject: Big\r\n{inner}"
    );
    (message, inner)
}

#[test]
fn every_recipient_of_a_large_smime_message_decrypts_it_with_openssl_cms() {
    let identities = [
        SmimeIdentity::new("rsa:2048", "keyEncipherment"),
        SmimeIdentity::new("ec:P-256", "keyAgreement"),
        SmimeIdentity::new("ec:P-384", "keyAgreement"),
    ];
    let keys: Vec<String> = identities
        .iter()
        .map(SmimeIdentity::certificate_pem)
        .collect();
    let (message, inner) = large_message();
    for algorithm in [Algorithm::Aes256Cbc, Algorithm::Aes128Gcm] {
        let recipients = parse_keys(algorithm, &keys, 10, SystemTime::now()).unwrap();
        let mut output = Vec::new();
        let outcome = Encryptor::new(algorithm, recipients, false, SystemTime::now())
            .encrypt(&mut message.as_bytes(), &mut output)
            .unwrap();
        assert_eq!(outcome, Encrypted::Now);
        let text = String::from_utf8(output).unwrap();
        let (headers, base64) = text.split_once("\r\n\r\n").unwrap();
        assert!(headers.contains("Subject: Big\r\n"), "{headers}");
        assert!(
            base64
                .split_terminator("\r\n")
                .all(|line| line.len() <= 76 && !line.contains('\n')),
            "base64 in lines of 76 with the message's line ending"
        );
        for identity in &identities {
            let decrypted = identity.decrypt(text.as_bytes());
            assert!(
                decrypted == inner.as_bytes(),
                "{algorithm:?}: the inner part comes back byte for byte"
            );
        }
    }
}
