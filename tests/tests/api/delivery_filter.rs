//! The delivery filter `latchkey-encrypt` as a mail server runs it: it
//! never passes mail through in the clear silently, and a key that expires
//! after upload keeps receiving mail, in a pass and at delivery.

use latchkey_tests::demo::ALICE;
use latchkey_tests::keys::GpgHome;
use latchkey_tests::{AppOptions, TestApp, spawn_app};
use latchkey_workers::mailbox::maildir::{Maildir, deliver};
use serde_json::{Value, json};

const MESSAGE: &[u8] = b"From: Bob <bob@example.org>\nSubject: Hello\n\nthe code is 4711\n";
const INNER: &[u8] = b"\nthe code is 4711\n";

async fn turn_on_encryption(app: &TestApp, key: String) -> Value {
    let client = app.signed_in(ALICE).await;
    let body = json!({"method": "openpgp", "algorithm": "aes-256", "keys": [key]});
    let response = app.put(&client, "/api/encryption", body).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let accepted: Value = response.json().await.unwrap();
    app.finished_job(&client, accepted["job"]["id"].as_str().unwrap())
        .await
}

#[tokio::test]
async fn a_key_that_expired_after_upload_still_receives_mail_in_a_pass_and_at_delivery() {
    let app = spawn_app(AppOptions::default()).await;
    let gpg = GpgHome::new();
    // Made 20 days ago, valid for 15: it expired 5 days ago.
    let fingerprint = gpg.generate_in_the_past("Alice <alice@example.org>", 20, "15d");
    // The gateway accepted it 10 days ago, while it was valid; the worker runs now.
    app.clock.advance(-time::Duration::days(10));
    let inbox = app.maildir("alice");
    deliver(&inbox, "1.old", Some("S"), MESSAGE).unwrap();
    let job = turn_on_encryption(&app, gpg.export(&fingerprint)).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let messages = Maildir::new(&inbox).messages().unwrap();
    assert_eq!(messages.len(), 1);
    let stored = std::fs::read(&messages[0].path).unwrap();
    assert_eq!(
        gpg.decrypt_bytes_in(&stored),
        INNER,
        "the pass encrypted it"
    );

    let delivered = app.delivery_filter("alice", MESSAGE);
    assert!(delivered.status.success(), "{delivered:?}");
    assert!(!delivered.stdout.windows(4).any(|window| window == b"4711"));
    assert_eq!(
        gpg.decrypt_bytes_in(&delivered.stdout),
        INNER,
        "new mail is encrypted too"
    );
}

#[tokio::test]
async fn the_delivery_filter_defers_mail_for_an_unknown_user_and_maps_user_at_domain() {
    let app = spawn_app(AppOptions::default()).await;
    let gpg = GpgHome::new();
    let job = turn_on_encryption(&app, gpg.alice_key()).await;
    assert_eq!(job["state"], "succeeded", "{job}");

    let unknown = app.delivery_filter("alcie", MESSAGE);
    assert_eq!(
        unknown.status.code(),
        Some(75),
        "EX_TEMPFAIL: the server keeps the message"
    );
    assert!(unknown.stdout.is_empty(), "nothing passes through");
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        said.contains("no account `alcie` in the directory"),
        "{said}"
    );

    for user in ["Alice@Example.org", "ALICE"] {
        let mapped = app.delivery_filter(user, MESSAGE);
        assert!(mapped.status.success(), "{user}: {mapped:?}");
        assert_eq!(
            gpg.decrypt_bytes_in(&mapped.stdout),
            INNER,
            "{user} is alice"
        );
    }
    let off = app.delivery_filter("bob", MESSAGE);
    assert!(off.status.success());
    assert_eq!(
        off.stdout, MESSAGE,
        "bob has encryption off: his mail passes as it came"
    );
}
