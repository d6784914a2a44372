//! A worker killed (SIGKILL) at any moment of a mailbox pass leaves every
//! message intact or encrypted once (at most beside its intact original),
//! and the pass finishes when the job is delivered again, with each message
//! there exactly once, encrypted.

use latchkey_core::encryption::is_already_encrypted;
use latchkey_tests::client::Client;
use latchkey_tests::demo::ALICE;
use latchkey_tests::keys::GpgHome;
use latchkey_tests::{AppOptions, TestApp, eventually, spawn_app};
use latchkey_workers::mailbox::maildir::{Maildir, deliver};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const MESSAGES: usize = 80;

/// A mailbox of `MESSAGES` messages from 1 KiB to about 60 KiB; returns
/// each message's content by its unique name.
fn fill_mailbox(root: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let mut originals = BTreeMap::new();
    for index in 0..MESSAGES {
        let lines = 16 + (index * 7919) % 800;
        let body: String = (0..lines)
            .map(|line| format!("{:076}\n", (line * 31 + index) % 1_000_003))
            .collect();
        let content = format!(
            "From: sender{index}@example.org\nTo: alice@example.org\nSubject: Message {index}\nMessage-ID: <{index}@example.org>\nContent-Type: text/plain; charset=us-ascii\n\n{body}"
        );
        let unique = format!("17640{index:05}.M{index}P1.test");
        let flags = if index % 3 == 0 { None } else { Some("S") };
        deliver(root, &unique, flags, content.as_bytes()).unwrap();
        originals.insert(unique, content.into_bytes());
    }
    originals
}

/// How many messages are encrypted, while a worker may be renaming files
/// (so a listing may miss or repeat one): an estimate for waiting on.
fn encrypted_so_far(root: &std::path::Path) -> usize {
    let Ok(messages) = Maildir::new(root).messages() else {
        return 0;
    };
    messages
        .iter()
        .filter(|message| {
            std::fs::read(&message.path).is_ok_and(|content| {
                is_already_encrypted(&mut content.as_slice()).is_ok_and(|verdict| verdict.is_some())
            })
        })
        .count()
}

/// What a mailbox holds, checked with no worker running.
#[derive(Debug, PartialEq, Eq)]
struct Census {
    /// Messages with an encrypted copy.
    encrypted: usize,
    /// Messages there twice: the original beside its complete encrypted
    /// copy, as a worker killed between putting the copy in place and
    /// removing the original leaves them (the next pass settles them).
    pairs: usize,
}

/// Checks that no message is lost and that each is there once, original
/// or encrypted, or (left by a kill) as its original beside a complete
/// encrypted copy, and counts them.
fn census(root: &std::path::Path, originals: &BTreeMap<String, Vec<u8>>) -> Census {
    let mut files: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    for message in Maildir::new(root).messages().unwrap() {
        let content = std::fs::read(&message.path).unwrap();
        let encrypted = is_already_encrypted(&mut content.as_slice())
            .unwrap()
            .is_some();
        if encrypted {
            assert_eq!(
                message.size_in_name(),
                Some(content.len() as u64),
                "an encrypted copy is whole: {}",
                message.path.display()
            );
        } else {
            assert!(
                content == originals[&message.unique()],
                "intact or encrypted"
            );
        }
        files.entry(message.unique()).or_default().push(encrypted);
    }
    assert_eq!(files.len(), originals.len(), "no message lost");
    let mut census = Census {
        encrypted: 0,
        pairs: 0,
    };
    for (unique, mut encrypted) in files {
        encrypted.sort_unstable();
        match encrypted[..] {
            [false] => {}
            [true] => census.encrypted += 1,
            [false, true] => {
                census.encrypted += 1;
                census.pairs += 1;
            }
            _ => panic!("{unique} is there as {encrypted:?} (true: encrypted)"),
        }
    }
    census
}

async fn job_state(app: &TestApp, client: &Client, job: &str) -> Value {
    app.get_json(client, &format!("/api/jobs/{job}")).await
}

#[tokio::test]
async fn a_worker_killed_mid_pass_loses_nothing_and_the_pass_finishes() {
    let gpg = GpgHome::new();
    let key = gpg.alice_key();
    let app = spawn_app(AppOptions {
        workers: 0,
        retry_delays_ms: vec![200; 3],
        ..Default::default()
    })
    .await;
    let root = app.maildir("alice");
    let originals = fill_mailbox(&root);
    let client = app.signed_in(ALICE).await;
    let body = json!({"method": "openpgp", "algorithm": "aes-256", "keys": [key]});
    let response = app.put(&client, "/api/encryption", body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let job = accepted["job"]["id"].as_str().unwrap().to_owned();

    // Kill a worker after more and more messages: wherever it was, nothing is lost.
    for threshold in [1, MESSAGES / 4, MESSAGES / 2] {
        let worker = app.worker_process();
        eventually("the worker to encrypt more messages", 120, || {
            let reached = encrypted_so_far(&root) >= threshold;
            async move { reached.then_some(()) }
        })
        .await;
        worker.kill();
        let census = census(&root, &originals);
        assert!(census.encrypted >= threshold, "{census:?}");
    }
    let worker = app.worker_process();
    let finished = eventually("the pass to finish after the kills", 120, || {
        let (app, client, job) = (&app, &client, &job);
        async move {
            let state = job_state(app, client, job).await;
            (state["state"] == "succeeded").then_some(state)
        }
    })
    .await;
    worker.kill();
    assert_eq!(finished["done"], finished["total"]);
    let settled = Census {
        encrypted: MESSAGES,
        pairs: 0,
    };
    assert_eq!(
        census(&root, &originals),
        settled,
        "each message once, encrypted"
    );
    // Encrypted once: each decrypts straight to its original inner part.
    for message in Maildir::new(&root).messages().unwrap() {
        let text = String::from_utf8(std::fs::read(&message.path).unwrap()).unwrap();
        let name = message
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.contains(&format!(",S={}", text.len())),
            "S= is right in {name}"
        );
        let inner = gpg.decrypt_in(text.as_bytes());
        let original = String::from_utf8(originals[&message.unique()].clone()).unwrap();
        let body = original.split_once("\n\n").unwrap().1;
        assert_eq!(
            inner,
            format!("Content-Type: text/plain; charset=us-ascii\n\n{body}")
        );
    }
}

/// Turns encryption on for alice with `key` (again: the same settings start
/// another pass) and waits until the job succeeds.
async fn encrypt_alice(app: &TestApp, client: &Client, key: &str) {
    let body = json!({"method": "openpgp", "algorithm": "aes-256", "keys": [key]});
    let response = app.put(client, "/api/encryption", body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let job = accepted["job"]["id"].as_str().unwrap();
    let finished = app.finished_job(client, job).await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
}

#[tokio::test]
async fn a_pass_resumed_after_a_kill_between_copy_and_removal_keeps_one_copy() {
    let gpg = GpgHome::new();
    let key = gpg.alice_key();
    let app = spawn_app(AppOptions::default()).await;
    let root = app.maildir("alice");
    let originals = fill_mailbox(&root);
    let files: Vec<(std::path::PathBuf, Vec<u8>)> = Maildir::new(&root)
        .messages()
        .unwrap()
        .into_iter()
        .map(|message| {
            let content = std::fs::read(&message.path).unwrap();
            (message.path, content)
        })
        .collect();
    let client = app.signed_in(ALICE).await;
    encrypt_alice(&app, &client, &key).await;
    let encrypted: BTreeMap<std::path::PathBuf, Vec<u8>> = Maildir::new(&root)
        .messages()
        .unwrap()
        .into_iter()
        .map(|message| {
            let content = std::fs::read(&message.path).unwrap();
            (message.path, content)
        })
        .collect();

    // What a worker killed after putting each copy in place and before
    // removing its original leaves: every third original back beside its copy.
    for (path, content) in files.iter().step_by(3) {
        std::fs::write(path, content).unwrap();
    }
    let left = census(&root, &originals);
    assert_eq!(left.pairs, MESSAGES.div_ceil(3), "{left:?}");

    encrypt_alice(&app, &client, &key).await;
    let settled = Census {
        encrypted: MESSAGES,
        pairs: 0,
    };
    assert_eq!(
        census(&root, &originals),
        settled,
        "each message once, encrypted"
    );
    for (path, content) in &encrypted {
        assert_eq!(
            &std::fs::read(path).unwrap(),
            content,
            "{} is the copy of the first pass, not encrypted twice",
            path.display()
        );
    }
}
