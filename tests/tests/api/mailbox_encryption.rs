use latchkey_core::directory::{Accounts, LdapDirectory};
use latchkey_core::domain::Dn;
use latchkey_core::job::{EncryptMailbox, JobKind, JobMessage, JobRecord};
use latchkey_tests::demo::{self, ALICE};
use latchkey_tests::keys::{GpgHome, SmimeIdentity};
use latchkey_tests::{AppOptions, TestApp, spawn_app};
use latchkey_workers::mailbox::demo::MESSAGES;
use latchkey_workers::{Outcome, step::process};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Every message file of a Maildir: unique name -> (folder and flags part, content).
pub(super) fn snapshot(root: &std::path::Path) -> BTreeMap<String, (String, Vec<u8>)> {
    let maildir = latchkey_workers::mailbox::maildir::Maildir::new(root);
    maildir
        .messages()
        .unwrap()
        .into_iter()
        .map(|message| {
            let path: PathBuf = message.path;
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let unique = name.split([',', ':']).next().unwrap().to_owned();
            let flags = name
                .split_once(':')
                .map(|(_, info)| info.to_owned())
                .unwrap_or_default();
            let folder = path
                .parent()
                .unwrap()
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            let content = std::fs::read(&path).unwrap();
            let size_field = name.split(',').find_map(|field| field.strip_prefix("S="));
            if let Some(size) = size_field {
                let size: usize = size.split(':').next().unwrap().parse().unwrap();
                assert_eq!(size, content.len(), "S= matches the size of {name}");
            }
            (unique, (format!("{folder} {flags}"), content))
        })
        .collect()
}

/// The original message's inner part (Content-* headers and body).
pub(super) fn inner_part(original: &str) -> String {
    let (headers, body) = original.split_once("\n\n").unwrap();
    let content: Vec<&str> = headers
        .lines()
        .filter(|line| line.to_ascii_lowercase().starts_with("content-"))
        .collect();
    let mut inner = content.join("\n");
    if !inner.is_empty() {
        inner.push('\n');
    }
    format!("{inner}\n{body}")
}

pub(super) async fn encrypt_mailbox(app: &TestApp, body: Value) -> Value {
    latchkey_workers::mailbox::demo::write(&app.maildir("alice")).unwrap();
    let client = app.signed_in(ALICE).await;
    let response = app.put(&client, "/api/encryption", body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    assert!(
        accepted["notice"]
            .as_str()
            .unwrap()
            .contains("cannot decrypt")
    );
    let job = accepted["job"]["id"].as_str().unwrap();
    app.finished_job(&client, job).await
}

pub(super) fn check_every_message(
    app: &TestApp,
    before: &BTreeMap<String, (String, Vec<u8>)>,
    decrypt: impl Fn(&[u8]) -> String,
) {
    let after = snapshot(&app.maildir("alice"));
    assert_eq!(after.len(), before.len(), "no message lost or doubled");
    for message in MESSAGES {
        let (place_before, _) = &before[message.unique];
        let (place_after, content) = &after[message.unique];
        assert_eq!(place_after, place_before, "folder and flags kept");
        if message.encrypted {
            assert_eq!(
                content.as_slice(),
                message.content.as_bytes(),
                "left as it was"
            );
            continue;
        }
        let text = String::from_utf8(content.clone()).unwrap();
        for line in message.content.split("\n\n").next().unwrap().lines() {
            if !line.to_ascii_lowercase().starts_with("content-") {
                assert!(
                    text.contains(&format!("{line}\n")),
                    "outer header {line} kept"
                );
            }
        }
        assert_eq!(
            decrypt(content),
            inner_part(message.content),
            "{}",
            message.unique
        );
    }
}

#[tokio::test]
async fn every_message_of_the_mailbox_decrypts_with_gpg_to_its_original() {
    // Keys first: the gateway's clock stands at its start, and keys from its future are not valid yet.
    let gpg = GpgHome::new();
    let key = gpg.export(&gpg.generate(
        "Alice <alice@example.org>",
        "rsa2048",
        Some("rsa2048"),
        "never",
    ));
    let app = spawn_app(AppOptions::default()).await;
    latchkey_workers::mailbox::demo::write(&app.maildir("alice")).unwrap();
    let before = snapshot(&app.maildir("alice"));
    std::fs::remove_dir_all(app.maildir("alice")).unwrap();
    let job = encrypt_mailbox(
        &app,
        json!({"method": "openpgp", "algorithm": "aes-256", "keys": [key]}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        (job["done"].as_u64(), job["total"].as_u64()),
        (Some(7), Some(7))
    );
    check_every_message(&app, &before, |content| gpg.decrypt_in(content));
    let client = app.signed_in(ALICE).await;
    let settings: Value = app.get_json(&client, "/api/encryption").await;
    assert_eq!(
        (settings["enabled"].as_bool(), settings["method"].as_str()),
        (Some(true), Some("openpgp"))
    );
    let keys = settings["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{settings}");
}

#[tokio::test]
async fn every_message_of_the_mailbox_decrypts_with_openssl_cms_to_its_original() {
    let identity = SmimeIdentity::new("ec:P-256", "keyAgreement");
    let app = spawn_app(AppOptions::default()).await;
    latchkey_workers::mailbox::demo::write(&app.maildir("alice")).unwrap();
    let before = snapshot(&app.maildir("alice"));
    std::fs::remove_dir_all(app.maildir("alice")).unwrap();
    let body = json!({"method": "smime", "algorithm": "aes-128-gcm", "keys": [identity.certificate_pem()]});
    let job = encrypt_mailbox(&app, body).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    check_every_message(&app, &before, |content| {
        String::from_utf8(identity.decrypt(content)).unwrap()
    });
}

#[tokio::test]
async fn unusable_keys_are_refused_by_the_api_with_their_reason() {
    let gpg = GpgHome::new();
    let sign_only = gpg.export(&gpg.generate("Sign <sign@example.org>", "ed25519", None, "never"));
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let cases = [
        (
            json!({"method": "openpgp", "algorithm": "aes-256", "keys": [sign_only]}),
            "keys",
            "cannot encrypt",
        ),
        (
            json!({"method": "openpgp", "algorithm": "aes-256", "keys": ["garbage"]}),
            "keys",
            "neither",
        ),
        (
            json!({"method": "openpgp", "algorithm": "aes-256-gcm", "keys": []}),
            "algorithm",
            "not an algorithm of openpgp",
        ),
        (
            json!({"method": "pgp", "algorithm": "aes-256", "keys": []}),
            "method",
            "openpgp",
        ),
        (
            json!({"method": "openpgp", "algorithm": "aes-256", "keys": []}),
            "keys",
            "at least one",
        ),
    ];
    for (body, field, words) in cases {
        let response = app.put(&client, "/api/encryption", body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["field"], field, "{body}");
        assert!(
            problem["detail"].as_str().unwrap().contains(words),
            "{problem}"
        );
    }
    let huge =
        json!({"method": "openpgp", "algorithm": "aes-256", "keys": ["A".repeat(300 * 1024)]});
    let response = app.put(&client, "/api/encryption", huge).await;
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["detail"],
        "the keys are larger than 262144 bytes together"
    );
    assert!(app.job_entries().await.is_empty(), "nothing was queued");
    let off = app.delete(&client, "/api/encryption", None).await;
    assert_eq!(off.status(), 409);
}

#[tokio::test]
async fn a_second_pass_for_the_same_account_waits_for_the_first() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let directory: LdapDirectory = app.directory();
    let account_dn = Dn::from_directory(demo::dn("alice"));
    let account = directory.account_at(&account_dn).await.unwrap().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let until = now + time::Duration::minutes(2);
    directory
        .take_lease(&account, "another-worker/job", now, until)
        .await
        .unwrap();

    let gpg = GpgHome::new();
    let key = gpg.alice_key();
    let recipients = latchkey_core::encryption::parse_keys(
        latchkey_core::encryption::Algorithm::Aes256,
        &[key],
        5,
        std::time::SystemTime::now(),
    )
    .unwrap();
    let job = EncryptMailbox {
        job_id: latchkey_core::domain::JobId::new(),
        account: account_dn.clone(),
        algorithm: latchkey_core::encryption::Algorithm::Aes256,
        keys: latchkey_core::encryption::StoredKeys::of(&recipients),
        protect_subject: false,
        accepted_at: None,
    };
    use latchkey_core::directory::JobStore;
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    app.gateway_directory()
        .create_job(&JobRecord::queued(
            job.job_id,
            JobKind::EncryptMailbox,
            account_dn.clone(),
            1,
            now,
        ))
        .await
        .unwrap();
    let context = app.context(app.directory());
    let message = JobMessage::EncryptMailbox(job);
    assert_eq!(
        process(&context, &latchkey_tests::envelope(&message), 1).await,
        Outcome::Retry("another encryption pass is running for this account".into())
    );
    directory
        .release_lease(&account_dn, "another-worker/job")
        .await
        .unwrap();
    assert_eq!(
        process(&context, &latchkey_tests::envelope(&message), 2).await,
        Outcome::Done
    );
}

#[tokio::test]
async fn mail_delivered_later_is_encrypted_by_the_delivery_filter() {
    use latchkey_workers::delivery::{Delivered, encrypt_for_delivery};
    use std::io::{Seek, Write};

    let gpg = GpgHome::new();
    let key = gpg.alice_key();
    let app = spawn_app(AppOptions::default()).await;
    let job = encrypt_mailbox(
        &app,
        json!({"method": "openpgp", "algorithm": "aes-128", "keys": [key]}),
    )
    .await;
    assert_eq!(job["state"], "succeeded");

    let deliver = |uid: &'static str, content: &'static str| {
        let directory = app.directory();
        async move {
            let mut spool = tempfile::tempfile().unwrap();
            spool.write_all(content.as_bytes()).unwrap();
            spool.rewind().unwrap();
            let mut output = Vec::new();
            let outcome = encrypt_for_delivery(&directory, uid, &mut spool, &mut output)
                .await
                .unwrap();
            (outcome, String::from_utf8(output).unwrap())
        }
    };
    let plain = MESSAGES[0].content;
    let (outcome, output) = deliver("alice", plain).await;
    assert_eq!(outcome, Delivered::Encrypted);
    assert_eq!(gpg.decrypt_in(output.as_bytes()), inner_part(plain));

    let (outcome, output) = deliver("bob", plain).await;
    assert!(matches!(outcome, Delivered::Unchanged(_)));
    assert_eq!(output, plain, "bob has encryption off");
    let encrypted = MESSAGES[4].content;
    let (outcome, output) = deliver("alice", encrypted).await;
    assert!(matches!(outcome, Delivered::Unchanged(_)));
    assert_eq!(output, encrypted, "encrypted mail is not encrypted twice");
}
