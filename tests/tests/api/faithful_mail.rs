//! Mail from old and broken mailers through the real worker, gpg and
//! `openssl cms`: every message decrypts to exactly its original inner
//! bytes, its outer header fields stay byte for byte, nothing of its text
//! is left in the clear, and only messages encrypted as a whole are left
//! alone (counted by reason in the job).

use latchkey_tests::demo::ALICE;
use latchkey_tests::keys::{GpgHome, SmimeIdentity};
use latchkey_tests::{AppOptions, TestApp, spawn_app};
use latchkey_workers::mailbox::maildir::{Maildir, deliver};
use serde_json::{Value, json};

/// The secret every plaintext case carries: it must not be readable after.
const SECRET: &[u8] = b"4711";
/// [`SECRET`] inside base64 content (`"the code is 4711"` encoded).
const SECRET_BASE64: &[u8] = b"dGhlIGNvZGUgaXMgNDcxMQ";

/// A message, what must stay outside, and what must decrypt inside.
struct Case {
    name: &'static str,
    message: &'static [u8],
    outer: &'static [u8],
    inner: &'static [u8],
}

const CASES: &[Case] = &[
    Case {
        name: "no-blank-line",
        message: b"From: Bob <bob@example.org>\r\nSubject: Lunch\r\nDear Alice,\r\nthe code is 4711.\r\n",
        outer: b"From: Bob <bob@example.org>\r\nSubject: Lunch\r\nMIME-Version: 1.0\r\n",
        inner: b"\r\nDear Alice,\r\nthe code is 4711.\r\n",
    },
    Case {
        name: "no-headers",
        message: b"the code is 4711.\nno headers at all: none.\n",
        outer: b"MIME-Version: 1.0\n",
        inner: b"\nthe code is 4711.\nno headers at all: none.\n",
    },
    Case {
        name: "latin1",
        message: b"From: J\xf6rg <j@example.org>\r\nSubject: Gr\xfc\xdfe aus K\xf6ln\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSch\xf6ne Gr\xfc\xdfe, the code is 4711.\r\n",
        outer: b"From: J\xf6rg <j@example.org>\r\nSubject: Gr\xfc\xdfe aus K\xf6ln\r\nMIME-Version: 1.0\r\n",
        inner: b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSch\xf6ne Gr\xfc\xdfe, the code is 4711.\r\n",
    },
    Case {
        name: "mbox-envelope",
        message: b"From bob@example.org Mon Nov 30 10:00:00 2026\nFrom: bob@example.org\nSubject: s\n\nthe code is 4711\n",
        outer: b"From bob@example.org Mon Nov 30 10:00:00 2026\nFrom: bob@example.org\nSubject: s\nMIME-Version: 1.0\n",
        inner: b"\nthe code is 4711\n",
    },
    Case {
        name: "forwarded-pgp-block",
        message: b"Subject: Fwd\nContent-Type: text/plain\n\nthe code is 4711, and here is what Carol sent:\n-----BEGIN PGP MESSAGE-----\n\nhQEMA1b2RkZbxd7y\n=Ab12\n-----END PGP MESSAGE-----\n",
        outer: b"Subject: Fwd\nMIME-Version: 1.0\n",
        inner: b"Content-Type: text/plain\n\nthe code is 4711, and here is what Carol sent:\n-----BEGIN PGP MESSAGE-----\n\nhQEMA1b2RkZbxd7y\n=Ab12\n-----END PGP MESSAGE-----\n",
    },
    Case {
        name: "p7m-attachment",
        message: b"Subject: Att\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nthe code is 4711\n--b\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\nContent-Transfer-Encoding: base64\n\nMIIBAA==\n--b--\n",
        outer: b"Subject: Att\nMIME-Version: 1.0\n",
        inner: b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nthe code is 4711\n--b\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\nContent-Transfer-Encoding: base64\n\nMIIBAA==\n--b--\n",
    },
    Case {
        name: "smime-signed-data",
        message: b"Subject: Signed\nMIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\nContent-Transfer-Encoding: base64\n\ndGhlIGNvZGUgaXMgNDcxMQ==\n",
        outer: b"Subject: Signed\nMIME-Version: 1.0\n",
        inner: b"Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\nContent-Transfer-Encoding: base64\n\ndGhlIGNvZGUgaXMgNDcxMQ==\n",
    },
];

/// Messages encrypted already as a whole, and the reason the job counts.
const ALREADY: &[(&str, &[u8], &str)] = &[
    (
        "pgp-mime",
        b"Subject: e\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=x\n\n--x\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n--x--\n",
        "pgp-mime",
    ),
    (
        "smime",
        b"Subject: e\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\n\nMIIBAA==\n",
        "smime",
    ),
    (
        "inline",
        b"Subject: e\n\n\n-----BEGIN PGP MESSAGE-----\n\nhQEMA1b2RkZbxd7y\n=Ab12\n-----END PGP MESSAGE-----\n\n",
        "inline-pgp",
    ),
];

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Fills alice's INBOX with every case, turns encryption on with `body`,
/// and checks each message with `decrypt` (the encrypted file to its inner part).
async fn every_case_survives(
    app: &TestApp,
    body: Value,
    frame: &str,
    decrypt: impl Fn(&[u8]) -> Vec<u8>,
) {
    let inbox = app.maildir("alice");
    for (number, case) in CASES.iter().enumerate() {
        deliver(
            &inbox,
            &format!("{number}.{}", case.name),
            Some("S"),
            case.message,
        )
        .unwrap();
    }
    for (name, message, _) in ALREADY {
        deliver(&inbox, &format!("9.{name}"), None, message).unwrap();
    }
    let client = app.signed_in(ALICE).await;
    let response = app.put(&client, "/api/encryption", body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let job = app
        .finished_job(&client, accepted["job"]["id"].as_str().unwrap())
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        job["skipped"],
        json!({"inline-pgp": 1, "pgp-mime": 1, "smime": 1}),
        "skipped messages are counted by reason"
    );

    let messages = Maildir::new(&inbox).messages().unwrap();
    assert_eq!(
        messages.len(),
        CASES.len() + ALREADY.len(),
        "none lost or doubled"
    );
    for message in &messages {
        let content = std::fs::read(&message.path).unwrap();
        let unique = message.unique();
        if let Some((_, original, _)) = ALREADY
            .iter()
            .find(|(name, ..)| unique == format!("9.{name}"))
        {
            assert_eq!(&content, original, "{unique} is left exactly as it was");
            continue;
        }
        let case = CASES
            .iter()
            .find(|case| unique.ends_with(case.name))
            .unwrap();
        assert!(
            !contains(&content, SECRET),
            "{}: the text is not in the clear",
            case.name
        );
        assert!(
            !contains(&content, SECRET_BASE64),
            "{}: nor its base64",
            case.name
        );
        let mut expected_start = case.outer.to_vec();
        expected_start.extend_from_slice(frame.as_bytes());
        assert!(
            content.starts_with(&expected_start),
            "{}: the outer header fields stay byte for byte:\n{}",
            case.name,
            String::from_utf8_lossy(&content)
        );
        assert_eq!(
            decrypt(&content),
            case.inner,
            "{}: decrypts to exactly its inner part",
            case.name
        );
    }
}

#[tokio::test]
async fn every_byte_of_odd_mail_survives_openpgp_and_none_stays_in_the_clear() {
    let app = spawn_app(AppOptions::default()).await;
    let gpg = GpgHome::new();
    let body = json!({"method": "openpgp", "algorithm": "aes-256", "keys": [gpg.alice_key()]});
    every_case_survives(
        &app,
        body,
        "Content-Type: multipart/encrypted;",
        |content| gpg.decrypt_bytes_in(content),
    )
    .await;
}

#[tokio::test]
async fn every_byte_of_odd_mail_survives_smime_and_none_stays_in_the_clear() {
    let app = spawn_app(AppOptions::default()).await;
    let identity = SmimeIdentity::new("rsa:2048", "keyEncipherment");
    let body = json!({"method": "smime", "algorithm": "aes-256-gcm", "keys": [identity.certificate_pem()]});
    every_case_survives(
        &app,
        body,
        "Content-Type: application/pkcs7-mime;",
        |content| {
            // openssl reads the S/MIME part alone: the outer fields are not its to parse.
            let at = content
                .windows(13)
                .position(|window| window == b"Content-Type:".as_slice())
                .unwrap();
            identity.decrypt(&content[at..])
        },
    )
    .await;
}
