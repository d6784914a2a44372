//! A full disk while the encrypted copy is written: the original stays as
//! it was, no half-written copy is left, and the job retries until there is
//! room, then encrypts the message once. The Maildir lives on a small tmpfs
//! (the suite runs as root, as `.ci/run` does on its machine).

use latchkey_tests::demo::ALICE;
use latchkey_tests::keys::GpgHome;
use latchkey_tests::{AppOptions, TestApp, spawn_app};
use latchkey_workers::mailbox::maildir::deliver;
use serde_json::{Value, json};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted at a folder for the length of a test.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Self {
        std::fs::create_dir_all(at).unwrap();
        mount(&["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"], at);
        Self(at.to_owned())
    }

    fn grow(&self, size: &str) {
        mount(&["-o", &format!("remount,size={size}")], &self.0);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: the worker may still hold a file open when a test fails.
        let _ = Command::new("umount").arg("--lazy").arg(&self.0).status();
    }
}

fn mount(options: &[&str], at: &Path) {
    let status = Command::new("mount")
        .args(options)
        .arg(at)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "mount {options:?} {} (needs root)",
        at.display()
    );
}

/// Every file under `root`, with the SHA-256 of its content (the message
/// is too large to compare in a failure message).
fn files(root: &Path) -> Vec<(PathBuf, String)> {
    latchkey_tests::tree(root)
        .into_iter()
        .map(|(path, _, content)| (path, format!("{:x}", sha2::Sha256::digest(content))))
        .collect()
}

async fn job_of(app: &TestApp, client: &latchkey_tests::client::Client, id: &str) -> Value {
    app.get_json(client, &format!("/api/jobs/{id}")).await
}

#[tokio::test]
async fn a_full_disk_keeps_the_original_and_the_job_retries_until_there_is_room() {
    let app = spawn_app(AppOptions {
        // The second failure waits long enough to look at the Maildir
        // while no attempt runs.
        retry_delays_ms: vec![200, 5_000, 5_000],
        ..AppOptions::default()
    })
    .await;
    let maildir = app.maildir("alice");
    let disk = Tmpfs::mount(maildir.parent().unwrap(), "512k");
    let mut message = b"From: Bob <bob@example.org>\nSubject: the big one\n\n".to_vec();
    // Random text, so that compression cannot make the copy small.
    for _ in 0..5_000 {
        let line: String = (0..15)
            .map(|_| format!("{:04x}", rand::random::<u16>()))
            .collect();
        message.extend_from_slice(format!("{line}\n").as_bytes());
    }
    assert!(message.len() > 256 * 1024, "the copy cannot fit beside it");
    deliver(&maildir, "1.big.host", Some("S"), &message).unwrap();
    let before = files(&maildir);

    let gpg = GpgHome::new();
    let client = app.signed_in(ALICE).await;
    let body = json!({"method": "openpgp", "algorithm": "aes-256", "keys": [gpg.alice_key()]});
    let response = app.put(&client, "/api/encryption", body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let id = accepted["job"]["id"].as_str().unwrap().to_owned();

    let failing = latchkey_tests::eventually("the job to retry for want of room", 30, || async {
        let job = job_of(&app, &client, &id).await;
        let waiting = job["attempts"].as_u64()? >= 2 && job["state"] == "queued";
        waiting.then_some(job)
    })
    .await;
    assert_ne!(failing["state"], "succeeded", "{failing}");
    assert!(
        failing["error"]
            .as_str()
            .unwrap_or("")
            .contains("retried automatically"),
        "the user is told it will be retried: {failing}"
    );
    assert_eq!(
        files(&maildir),
        before,
        "the original is as it was, nothing half-written left"
    );

    disk.grow("8m");
    let job = app.finished_job(&client, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let after = files(&maildir);
    assert_eq!(
        after.len(),
        1,
        "one message, encrypted once: {:?}",
        after.iter().map(|(path, _)| path).collect::<Vec<_>>()
    );
    let inner = gpg.decrypt_bytes_in(&std::fs::read(&after[0].0).unwrap());
    let original_body =
        &message[message.windows(2).position(|pair| pair == b"\n\n").unwrap() + 2..];
    assert!(
        inner.ends_with(original_body),
        "every byte of the body survives"
    );
}
