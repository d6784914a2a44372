//! Every key in a paste or file is a recipient (or the upload is refused,
//! naming the key), and the user sees what is stored: the API lists each
//! key, and the portal warns before one expires.

use super::mailbox_encryption::{check_every_message, encrypt_mailbox, snapshot};
use latchkey_tests::demo::ALICE;
use latchkey_tests::keys::{GpgHome, SmimeIdentity};
use latchkey_tests::{AppOptions, TestApp, spawn_app};
use serde_json::{Value, json};

/// The demo mailbox as it is before any pass, to compare with afterwards.
fn mailbox_before(app: &TestApp) -> std::collections::BTreeMap<String, (String, Vec<u8>)> {
    latchkey_workers::mailbox::demo::write(&app.maildir("alice")).unwrap();
    let before = snapshot(&app.maildir("alice"));
    std::fs::remove_dir_all(app.maildir("alice")).unwrap();
    before
}

async fn settings(app: &TestApp) -> Value {
    let client = app.signed_in(ALICE).await;
    app.get_json(&client, "/api/encryption").await
}

/// The listed key with `fingerprint` (the directory keeps no order of values).
fn key_with<'a>(settings: &'a Value, fingerprint: &str) -> &'a Value {
    settings["keys"]
        .as_array()
        .expect("a list of keys")
        .iter()
        .find(|key| key["fingerprint"] == fingerprint)
        .unwrap_or_else(|| panic!("a key with fingerprint {fingerprint} in {settings}"))
}

async fn refusal(app: &TestApp, body: Value) -> Value {
    let client = app.signed_in(ALICE).await;
    let response = app.put(&client, "/api/encryption", body.clone()).await;
    assert_eq!(response.status(), 422, "{body}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn two_certificates_in_one_paste_encrypt_the_mailbox_for_each_of_their_keys() {
    // Keys first: the gateway's clock stands at its start.
    let rsa = SmimeIdentity::issued(
        "rsa:2048",
        "keyEncipherment",
        "/CN=Alice Example/emailAddress=alice@example.org",
        365,
    );
    let ec = SmimeIdentity::issued("ec:P-256", "keyAgreement", "/CN=Alice Laptop", 30);
    let app = spawn_app(AppOptions::default()).await;
    let before = mailbox_before(&app);
    let paste = format!("{}{}", rsa.certificate_pem(), ec.certificate_pem());
    let job = encrypt_mailbox(
        &app,
        json!({"method": "smime", "algorithm": "aes-256-cbc", "keys": [paste]}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    for identity in [&rsa, &ec] {
        check_every_message(&app, &before, |content| {
            String::from_utf8(identity.decrypt(content)).unwrap()
        });
    }

    let settings = settings(&app).await;
    assert_eq!(settings["keys"].as_array().unwrap().len(), 2, "{settings}");
    let first = key_with(&settings, &rsa.fingerprint());
    assert_eq!(
        first["subject"],
        "CN=Alice Example, emailAddress=alice@example.org"
    );
    assert_eq!(first["emails"], json!(["alice@example.org"]));
    assert_eq!(first["algorithm"], "RSA 2048");
    let second = key_with(&settings, &ec.fingerprint());
    assert_eq!(second["subject"], "CN=Alice Laptop");
    assert_eq!(second["algorithm"], "EC P-256");
    let expires = time::OffsetDateTime::parse(
        second["expires"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let in_thirty_days = time::OffsetDateTime::now_utc() + time::Duration::days(30);
    assert!((expires - in_thirty_days).abs() < time::Duration::minutes(5));
}

#[tokio::test]
async fn two_openpgp_keys_in_one_paste_encrypt_the_mailbox_for_each_of_them() {
    let first = GpgHome::new();
    let second = GpgHome::new();
    let one = first.generate(
        "Alice <alice@example.org>",
        "ed25519",
        Some("cv25519"),
        "never",
    );
    let two = second.generate(
        "Alice at work <alice@work.example>",
        "rsa3072",
        Some("rsa3072"),
        "2y",
    );
    let app = spawn_app(AppOptions::default()).await;
    let before = mailbox_before(&app);
    let paste = format!(
        "My keys:\n\n{}\n{}",
        first.export(&one),
        second.export(&two)
    );
    let job = encrypt_mailbox(
        &app,
        json!({"method": "openpgp", "algorithm": "aes-256", "keys": [paste]}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    for home in [&first, &second] {
        check_every_message(&app, &before, |content| home.decrypt_in(content));
    }

    let settings = settings(&app).await;
    assert_eq!(settings["keys"].as_array().unwrap().len(), 2, "{settings}");
    let first = key_with(&settings, &one);
    assert_eq!(first["user_ids"], json!(["Alice <alice@example.org>"]));
    assert_eq!(first["algorithm"], "Curve25519");
    assert_eq!(first["expires"], Value::Null, "it never expires");
    let second = key_with(&settings, &two);
    assert_eq!(second["emails"], json!(["alice@work.example"]));
    assert_eq!(second["algorithm"], "RSA 3072");
    let expires = time::OffsetDateTime::parse(
        second["expires"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let in_two_years = time::OffsetDateTime::now_utc() + time::Duration::days(730);
    assert!(
        (expires - in_two_years).abs() < time::Duration::days(2),
        "{expires}"
    );
}

#[tokio::test]
async fn a_certificate_file_with_bag_attributes_is_accepted() {
    let identity = SmimeIdentity::issued(
        "ec:P-384",
        "keyAgreement",
        "/CN=Alice Example/emailAddress=alice@example.org",
        365,
    );
    let file = identity.pkcs12_certificate_dump();
    assert!(file.starts_with("Bag Attributes"), "{file}");
    let app = spawn_app(AppOptions::default()).await;
    let job = encrypt_mailbox(
        &app,
        json!({"method": "smime", "algorithm": "aes-128-gcm", "keys": [file]}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let settings = settings(&app).await;
    assert_eq!(settings["keys"][0]["fingerprint"], identity.fingerprint());
    assert_eq!(settings["keys"][0]["algorithm"], "EC P-384");
}

#[tokio::test]
async fn pastes_that_cannot_be_used_whole_are_refused_naming_the_key() {
    let gpg = GpgHome::new();
    let openpgp = gpg.alice_key();
    let certificate = SmimeIdentity::issued("rsa:2048", "keyEncipherment", "/CN=Bob Example", 30);
    let short_lived = SmimeIdentity::issued(
        "rsa:2048",
        "keyEncipherment",
        "/CN=Old Example/emailAddress=old@example.org",
        1,
    );
    let app = spawn_app(AppOptions::without_workers()).await;

    let mixed = format!("{openpgp}\n{}", certificate.certificate_pem());
    let problem = refusal(
        &app,
        json!({"method": "openpgp", "algorithm": "aes-256", "keys": [mixed]}),
    )
    .await;
    assert_eq!(problem["field"], "keys");
    assert_eq!(
        problem["detail"],
        "the second key (CN=Bob Example) is an X.509 certificate, but OpenPGP was chosen; \
         all keys must be of one method"
    );

    // An OpenPGP key first, then a file of two certificates, for S/MIME.
    let two = format!(
        "{}{}",
        certificate.certificate_pem(),
        short_lived.certificate_pem()
    );
    let problem = refusal(
        &app,
        json!({"method": "smime", "algorithm": "aes-256-gcm", "keys": [openpgp, two]}),
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("the first key (Alice <alice@example.org>, fingerprint "),
        "{problem}"
    );

    // Two days on, the certificate behind its Bag Attributes has expired: say so.
    app.clock.advance(time::Duration::days(2));
    let problem = refusal(
        &app,
        json!({"method": "smime", "algorithm": "aes-256-gcm", "keys": [short_lived.pkcs12_certificate_dump()]}),
    )
    .await;
    assert_eq!(problem["field"], "keys");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(
            "the first key (CN=Old Example, old@example.org) is not valid now (it expired on "
        ),
        "{detail}"
    );
    assert!(app.job_entries().await.is_empty(), "nothing was queued");
}

#[tokio::test]
async fn the_maximum_counts_the_keys_of_a_paste_not_its_strings() {
    let gpg = GpgHome::new();
    let one = gpg.generate("One <one@example.org>", "ed25519", Some("cv25519"), "never");
    let two = gpg.generate("Two <two@example.org>", "ed25519", Some("cv25519"), "never");
    let paste = format!("{}{}", gpg.export(&one), gpg.export(&two));
    let app = spawn_app(AppOptions {
        settings: vec![("MAILBOX__MAX_KEYS", "1".into())],
        ..AppOptions::without_workers()
    })
    .await;
    let problem = refusal(
        &app,
        json!({"method": "openpgp", "algorithm": "aes-256", "keys": [paste]}),
    )
    .await;
    assert_eq!(
        problem["detail"],
        "at most 1 keys are allowed, and this upload holds 2"
    );
}

#[tokio::test]
async fn the_encryption_page_warns_from_thirty_days_before_a_key_expires() {
    let lasting = GpgHome::new();
    let lasting_key = lasting.export(&lasting.generate(
        "Alice <alice@example.org>",
        "ed25519",
        Some("cv25519"),
        "never",
    ));
    let expiring = GpgHome::new();
    let expiring_fingerprint = expiring.generate(
        "Alice travelling <alice@travel.example>",
        "ed25519",
        Some("cv25519"),
        "40d",
    );
    let app = spawn_app(AppOptions::default()).await;
    let keys = [lasting_key, expiring.export(&expiring_fingerprint)];
    let job = encrypt_mailbox(
        &app,
        json!({"method": "openpgp", "algorithm": "aes-256", "keys": keys}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let today = encryption_page(&app).await;
    assert_eq!(today.matches("<li data-key>").count(), 2, "{today}");
    let spaced: Vec<String> = expiring_fingerprint
        .as_bytes()
        .chunks(4)
        .map(|group| String::from_utf8_lossy(group).into_owned())
        .collect();
    assert!(today.contains(&spaced.join(" ")), "{today}");
    assert!(
        !today.contains("data-key-warning"),
        "40 days ahead: {today}"
    );

    app.clock.advance(time::Duration::days(11));
    let soon = encryption_page(&app).await;
    let warning = warning_of(&soon);
    assert!(
        warning
            .starts_with("Your key “Alice travelling &#60;alice@travel.example&#62;” expires on ")
            && warning.ends_with("Upload a new one before then."),
        "{warning}"
    );
    assert_eq!(soon.matches("data-key-warning").count(), 1, "{soon}");

    app.clock.advance(time::Duration::days(30));
    let late = encryption_page(&app).await;
    assert!(
        warning_of(&late).contains("” expired on "),
        "{}",
        warning_of(&late)
    );
}

/// The encryption page, seen after a new sign-in (moving the clock ends
/// the old session).
async fn encryption_page(app: &TestApp) -> String {
    let client = app.signed_in(ALICE).await;
    let response = app.get(&client, "/encryption").await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The text of the page's key warning.
fn warning_of(page: &str) -> &str {
    let start = page
        .find("data-key-warning>")
        .unwrap_or_else(|| panic!("a key warning in {page}"))
        + "data-key-warning>".len();
    let end = page[start..].find("</p>").unwrap() + start;
    &page[start..end]
}
