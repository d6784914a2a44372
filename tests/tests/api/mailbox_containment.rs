//! A mailbox pass stays inside the user's Maildir: links to messages or
//! folders elsewhere are skipped and counted, never followed, and an
//! account whose uid cannot name a Maildir fails the job before anything
//! changes.

use super::mailbox_encryption::{check_every_message, encrypt_mailbox, snapshot};
use latchkey_core::directory::{Accounts, JobStore};
use latchkey_core::domain::{Dn, JobId};
use latchkey_core::encryption::{Algorithm, StoredKeys, parse_keys};
use latchkey_core::job::{EncryptMailbox, JobKind, JobMessage, JobRecord};
use latchkey_tests::demo;
use latchkey_tests::keys::GpgHome;
use latchkey_tests::{AppOptions, spawn_app};
use latchkey_workers::mailbox::demo::{self as demo_mail, MESSAGES};
use latchkey_workers::{Outcome, step::process};
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::time::SystemTime;

#[tokio::test]
async fn links_out_of_the_maildir_are_left_alone_and_counted_while_real_mail_is_encrypted() {
    let gpg = GpgHome::new();
    let key = gpg.alice_key();
    let app = spawn_app(AppOptions::default()).await;
    let alice = app.maildir("alice");
    demo_mail::write(&alice).unwrap();
    let before = snapshot(&alice);
    // Outside alice's Maildir: a plain message of someone else's, and bob's Maildir.
    let outside = tempfile::tempdir().unwrap();
    let elsewhere = outside.path().join("1764000099.M9P1.other,S=120:2,S");
    fs::write(&elsewhere, MESSAGES[0].content).unwrap();
    let bob = app.maildir("bob");
    demo_mail::write(&bob).unwrap();
    let message_link = alice.join("cur/1764000099.M9P1.other,S=120:2,S");
    symlink(&elsewhere, &message_link).unwrap();
    let folder_link = alice.join(".Bob");
    symlink(&bob, &folder_link).unwrap();
    let (outside_before, bob_before) = (
        latchkey_tests::tree(outside.path()),
        latchkey_tests::tree(&bob),
    );

    let job = encrypt_mailbox(
        &app,
        json!({"method": "openpgp", "algorithm": "aes-256", "keys": [key]}),
    )
    .await;

    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        job["skipped"]["symlink"], 2,
        "both links are counted: {job}"
    );
    assert_eq!(
        (job["done"].as_u64(), job["total"].as_u64()),
        (Some(9), Some(9)),
        "seven messages and two links: {job}"
    );
    assert_eq!(
        latchkey_tests::tree(outside.path()),
        outside_before,
        "the linked file is unchanged"
    );
    assert_eq!(
        latchkey_tests::tree(&bob),
        bob_before,
        "bob's Maildir is unchanged"
    );
    assert_eq!(fs::read_link(&message_link).unwrap(), elsewhere);
    assert_eq!(fs::read_link(&folder_link).unwrap(), bob);
    check_every_message(&app, &before, |content| gpg.decrypt_in(content));
}

#[tokio::test]
async fn a_uid_that_cannot_name_a_maildir_fails_the_job_and_changes_nothing() {
    let gpg = GpgHome::new();
    let app = spawn_app(AppOptions::without_workers()).await;
    let bob = app.maildir("bob");
    demo_mail::write(&bob).unwrap();
    let bob_before = latchkey_tests::tree(&bob);
    // An entry whose uid fills the template with bob's Maildir:
    // `<mail>/alice/../bob/Maildir`.
    let crafted = "alice/../bob";
    latchkey_tests::ldap::add_account(
        &app.slapd.url(),
        (&app.service().0, &app.service().1),
        crafted,
        "{SSHA}x",
    )
    .await;
    let account = Dn::from_directory(demo::dn(crafted));
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let recipients =
        parse_keys(Algorithm::Aes256, &[gpg.alice_key()], 5, SystemTime::now()).unwrap();
    let job = EncryptMailbox {
        job_id: JobId::new(),
        account: account.clone(),
        algorithm: Algorithm::Aes256,
        keys: StoredKeys::of(&recipients),
        protect_subject: false,
        accepted_at: None,
    };
    let record = JobRecord::queued(job.job_id, JobKind::EncryptMailbox, account.clone(), 1, now);
    app.gateway_directory().create_job(&record).await.unwrap();

    let message = JobMessage::EncryptMailbox(job);
    let outcome = process(
        &app.context(app.directory()),
        &latchkey_tests::envelope(&message),
        1,
    )
    .await;

    let Outcome::Failed(error) = outcome else {
        panic!("fails for good, not {outcome:?}");
    };
    assert_eq!(
        error,
        "the username \"alice/../bob\" cannot name a Maildir: it holds `/`, which would make it more than one directory; nothing was changed"
    );
    assert_eq!(
        latchkey_tests::tree(&bob),
        bob_before,
        "bob's Maildir is unchanged"
    );
    let entry = app.directory().account_at(&account).await.unwrap().unwrap();
    assert_eq!(entry.uid, crafted);
    assert!(entry.encryption.is_none(), "no settings were stored");
}
