//! Messages encrypted by Latchkey open with the real tools: gpg 2.2 and
//! `openssl cms`, byte for byte; bad keys are refused with their reasons.

use latchkey_core::encryption::{
    Algorithm, AlreadyEncrypted, Encrypted, Encryptor, KeyError, KeyLabel, is_already_encrypted,
    parse_keys,
};
use latchkey_tests::keys::{GpgHome, SmimeIdentity};
use std::time::{Duration, SystemTime};

const OUTER: &str = "Return-Path: <bob@example.org>\n\
Received: from mx.example.org by mail.example.org; Fri, 27 Nov 2026 10:00:00 +0000\n\
From: Bob <bob@example.org>\n\
To: Alice <alice@example.org>\n\
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\n\
Date: Fri, 27 Nov 2026 10:00:00 +0000\n\
Message-ID: <1@example.org>\n\
MIME-Version: 1.0\n";

const INNER: &str = "Content-Type: multipart/mixed; boundary=\"b1\"\n\
Content-Transfer-Encoding: 7bit\n\
\n\
--b1\n\
Content-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: 8bit\n\
\n\
Grüße, see the attachment.\n\
--b1\n\
Content-Type: application/octet-stream; name=\"data.bin\"\n\
Content-Disposition: attachment; filename=\"data.bin\"\n\
Content-Transfer-Encoding: base64\n\
\n\
AAECAwQFBgcICQ==\n\
--b1--\n";

fn message() -> String {
    // The Content-* headers are interleaved with the others, as mail often has them.
    let (content_type, rest) = INNER.split_once('\n').unwrap();
    format!("{OUTER}{content_type}\n{rest}")
}

fn encrypt(algorithm: Algorithm, key: &str) -> String {
    let recipients = parse_keys(algorithm, &[key], 10, SystemTime::now()).unwrap();
    let mut output = Vec::new();
    let input = message();
    let outcome = Encryptor::new(algorithm, recipients, false, SystemTime::now())
        .encrypt(&mut input.as_bytes(), &mut output)
        .unwrap();
    assert_eq!(outcome, Encrypted::Now);
    String::from_utf8(output).unwrap()
}

fn assert_outer_headers_kept(encrypted: &str, content_type: &str) {
    assert!(
        encrypted.starts_with(OUTER),
        "the outer headers stay in the clear:\n{encrypted}"
    );
    let after = &encrypted[OUTER.len()..];
    assert!(
        after.starts_with(&format!("Content-Type: {content_type}")),
        "{after}"
    );
    assert!(!encrypted.contains("Grüße"), "the body is not in the clear");
    assert!(
        !encrypted.contains("boundary=\"b1\""),
        "the inner headers are not in the clear"
    );
}

#[test]
fn openpgp_messages_decrypt_with_gpg_to_the_original_inner_part() {
    let gpg = GpgHome::new();
    let rsa = gpg.generate("RSA <rsa@example.org>", "rsa2048", Some("rsa2048"), "never");
    let curve = gpg.generate("EC <ec@example.org>", "ed25519", Some("cv25519"), "never");
    for fingerprint in [rsa, curve] {
        for algorithm in [Algorithm::Aes128, Algorithm::Aes256] {
            let encrypted = encrypt(algorithm, &gpg.export(&fingerprint));
            assert_outer_headers_kept(
                &encrypted,
                "multipart/encrypted; protocol=\"application/pgp-encrypted\"",
            );
            assert!(encrypted.contains("Content-Type: application/pgp-encrypted\n"));
            let decrypted = gpg.decrypt_in(encrypted.as_bytes());
            assert_eq!(decrypted, INNER, "{algorithm:?}");
        }
    }
}

#[test]
fn smime_messages_decrypt_with_openssl_cms_to_the_original_inner_part() {
    let identities = [
        SmimeIdentity::new("rsa:2048", "keyEncipherment"),
        SmimeIdentity::new("ec:P-256", "keyAgreement"),
        SmimeIdentity::new("ec:P-384", "keyAgreement"),
    ];
    for identity in &identities {
        for algorithm in [
            Algorithm::Aes128Cbc,
            Algorithm::Aes256Cbc,
            Algorithm::Aes128Gcm,
            Algorithm::Aes256Gcm,
        ] {
            let encrypted = encrypt(algorithm, &identity.certificate_pem());
            let smime_type = match algorithm {
                Algorithm::Aes128Gcm | Algorithm::Aes256Gcm => "authEnveloped-data",
                _ => "enveloped-data",
            };
            assert_outer_headers_kept(
                &encrypted,
                &format!("application/pkcs7-mime; smime-type={smime_type}"),
            );
            let decrypted = identity.decrypt(encrypted.as_bytes());
            assert_eq!(
                String::from_utf8(decrypted).unwrap(),
                INNER,
                "{algorithm:?}"
            );
        }
    }
}

#[test]
fn a_message_is_encrypted_to_every_key() {
    let first = GpgHome::new();
    let second = GpgHome::new();
    let one = first.generate("One <one@example.org>", "ed25519", Some("cv25519"), "never");
    let two = second.generate("Two <two@example.org>", "ed25519", Some("cv25519"), "never");
    let keys = [first.export(&one), second.export(&two)];
    let recipients = parse_keys(Algorithm::Aes256, &keys, 10, SystemTime::now()).unwrap();
    let mut output = Vec::new();
    Encryptor::new(Algorithm::Aes256, recipients, false, SystemTime::now())
        .encrypt(&mut message().as_bytes(), &mut output)
        .unwrap();
    let encrypted = String::from_utf8(output).unwrap();
    for home in [&first, &second] {
        assert_eq!(home.decrypt_in(encrypted.as_bytes()), INNER);
    }
}

#[test]
fn unusable_keys_are_refused_with_their_reason() {
    let gpg = GpgHome::new();
    let good = gpg.export(&gpg.generate(
        "Good <good@example.org>",
        "ed25519",
        Some("cv25519"),
        "never",
    ));
    let expiring =
        gpg.export(&gpg.generate("Soon <soon@example.org>", "ed25519", Some("cv25519"), "1d"));
    let sign_only = gpg.export(&gpg.generate("Sign <sign@example.org>", "ed25519", None, "never"));
    let weak = gpg.export(&gpg.generate(
        "Weak <weak@example.org>",
        "rsa1024",
        Some("rsa1024"),
        "never",
    ));
    let revoked_fingerprint = gpg.generate(
        "Gone <gone@example.org>",
        "ed25519",
        Some("cv25519"),
        "never",
    );
    gpg.revoke(&revoked_fingerprint);
    let revoked = gpg.export(&revoked_fingerprint);
    let smime = SmimeIdentity::new("rsa:2048", "keyEncipherment");
    let smime_weak = SmimeIdentity::new("rsa:1024", "keyEncipherment");
    let smime_sign_only = SmimeIdentity::new("rsa:2048", "digitalSignature");
    // After the keys exist: a key is not valid before its creation.
    let now = SystemTime::now() + Duration::from_secs(1);
    let in_two_days = now + Duration::from_secs(2 * 86_400);
    let in_sixty_days = now + Duration::from_secs(60 * 86_400);

    let check = |algorithm, key: &str, at| parse_keys(algorithm, &[key], 10, at).err();
    assert!(matches!(
        check(Algorithm::Aes256, &expiring, in_two_days),
        Some(KeyError::NotValidNow { key, .. }) if key.position() == 1
    ));
    assert!(
        check(Algorithm::Aes256, &expiring, now).is_none(),
        "valid until it expires"
    );
    assert!(matches!(
        check(Algorithm::Aes256, &revoked, now),
        Some(KeyError::Revoked { key }) if key.position() == 1
    ));
    assert!(matches!(
        check(Algorithm::Aes256, &sign_only, now),
        Some(KeyError::CannotEncrypt {
            key,
            part: "subkey"
        }) if key.position() == 1
    ));
    let weak_error = check(Algorithm::Aes256, &weak, now);
    assert!(
        matches!(&weak_error, Some(KeyError::Weak { key, .. }) if key.position() == 1),
        "{weak_error:?}"
    );
    assert_eq!(
        check(Algorithm::Aes256, "garbage", now),
        Some(KeyError::Garbage {
            key: KeyLabel::nth(1)
        })
    );
    assert!(matches!(
        check(Algorithm::Aes256Cbc, &good, now),
        Some(KeyError::WrongMethod { key, .. }) if key.position() == 1
    ));
    assert!(matches!(
        check(Algorithm::Aes256, &smime.certificate_pem(), now),
        Some(KeyError::WrongMethod { .. })
    ));
    assert!(matches!(
        check(Algorithm::Aes256Gcm, &smime_weak.certificate_pem(), now),
        Some(KeyError::Weak { .. })
    ));
    assert!(matches!(
        check(
            Algorithm::Aes256Gcm,
            &smime_sign_only.certificate_pem(),
            now
        ),
        Some(KeyError::CannotEncrypt {
            key,
            part: "key usage"
        }) if key.position() == 1
    ));
    assert!(matches!(
        check(
            Algorithm::Aes256Gcm,
            &smime.certificate_pem(),
            in_sixty_days
        ),
        Some(KeyError::NotValidNow { .. })
    ));

    let second_bad = [good.clone(), "garbage".to_owned()];
    assert_eq!(
        parse_keys(Algorithm::Aes256, &second_bad, 10, now).err(),
        Some(KeyError::Garbage {
            key: KeyLabel::nth(2)
        })
    );
    let many = [good.clone(), good.clone(), good.clone()];
    assert_eq!(
        parse_keys(Algorithm::Aes256, &many, 2, now).err(),
        Some(KeyError::TooMany { max: 2, found: 3 })
    );
    assert_eq!(
        parse_keys::<&str>(Algorithm::Aes256, &[], 2, now).err(),
        Some(KeyError::NoKeys)
    );
    let huge = "A".repeat(300 * 1024);
    assert_eq!(
        parse_keys(Algorithm::Aes256, &[huge], 2, now).err(),
        Some(KeyError::TooLarge)
    );
}

#[test]
fn messages_encrypted_already_as_a_whole_are_recognised_and_no_others() {
    let encrypted_top = "From: a@example.org\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=x\n\n--x--\n";
    let smime_top = "From: a@example.org\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\n\nMIAG\n";
    let inline = "From: a@example.org\nContent-Type: text/plain\n\n-----BEGIN PGP MESSAGE-----\n\nhQEM\n-----END PGP MESSAGE-----\n";
    for (sample, reason) in [
        (encrypted_top, AlreadyEncrypted::PgpMime),
        (smime_top, AlreadyEncrypted::Smime),
        (inline, AlreadyEncrypted::InlinePgp),
    ] {
        assert_eq!(
            is_already_encrypted(&mut sample.as_bytes()).unwrap(),
            Some(reason),
            "{sample}"
        );
    }
    let attachment = "From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nplain words\n--b\nContent-Type: application/octet-stream; name=\"mail.p7m\"\n\nMIAG\n--b--\n";
    let mentions = "From: a@example.org\n\nHow do I read a -----BEGIN PGP MESSAGE----- block?\n";
    let forwarded = format!(
        "From: a@example.org\n\nForwarded:\n{}",
        inline.split_once("\n\n").unwrap().1
    );
    for sample in [attachment, mentions, &forwarded, &message()] {
        assert_eq!(
            is_already_encrypted(&mut sample.as_bytes()).unwrap(),
            None,
            "{sample}"
        );
    }
}

#[test]
fn a_protected_subject_travels_inside_and_the_outer_one_says_nothing() {
    let gpg = GpgHome::new();
    let fingerprint = gpg.generate_alice();
    let key = gpg.export(&fingerprint);
    let now = SystemTime::now() + Duration::from_secs(1);
    let recipients = parse_keys(Algorithm::Aes256, &[key], 10, now).unwrap();
    let mut output = Vec::new();
    Encryptor::new(Algorithm::Aes256, recipients, true, SystemTime::now())
        .encrypt(&mut message().as_bytes(), &mut output)
        .unwrap();
    let encrypted = String::from_utf8(output).unwrap();
    assert!(encrypted.contains("\nSubject: ...\n"), "{encrypted}");
    assert!(
        !encrypted.contains("Gr=C3=BC=C3=9Fe"),
        "the real subject is not outside"
    );
    let inner = gpg.decrypt_in(encrypted.as_bytes());
    let (inner_headers, inner_body) = inner.split_once("\n\n").unwrap();
    assert!(
        inner_headers.starts_with(
            "Content-Type: multipart/mixed; boundary=\"b1\"; protected-headers=\"v1\"\n"
        ),
        "{inner_headers}"
    );
    assert!(inner_headers.contains("Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?="));
    assert_eq!(inner_body, INNER.split_once("\n\n").unwrap().1);
}
