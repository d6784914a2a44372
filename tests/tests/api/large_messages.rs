//! A 200 MB message is encrypted by the real worker process with memory
//! that does not grow with the message, for OpenPGP and for S/MIME, and
//! decrypts with gpg or `openssl cms` to exactly its original inner part.
//! Neither side holds the message in memory: it is written, hashed and
//! checked as a stream.

use latchkey_tests::demo::ALICE;
use latchkey_tests::keys::{GpgHome, SmimeIdentity};
use latchkey_tests::{AppOptions, TestApp, eventually, spawn_app};
use latchkey_workers::mailbox::maildir::Maildir;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{BufWriter, Read, Write};
use std::process::{Command, Stdio};

/// Body lines of 77 bytes: about 200 MB.
const LINES: usize = 2_600_000;
/// What the worker may use at most, whatever the message size. A debug
/// worker is about 40 MiB resident before any mail (code pages and
/// runtime), and Sequoia buffers up to 2 x 4 MiB of partial-body chunks per
/// message in flight. The former in-memory encoder held this message, its
/// DER and its base64 at once: over 600 MB.
const MEMORY_LIMIT: u64 = 96 * 1024 * 1024;

const OUTER: &str = "From: Bob <bob@example.org>\nTo: Alice <alice@example.org>\nSubject: A very large message\nMessage-ID: <large@example.org>\n";
const CONTENT_TYPE: &str = "Content-Type: text/plain; charset=us-ascii\n";

fn body_line(index: usize) -> String {
    format!(
        "{:076x}\n",
        (index as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15) % (1 << 120)
    )
}

/// Writes the message into the Maildir's `cur/` with a correct `S=` and
/// returns the SHA-256 of its inner part (what decryption must give back).
fn deliver_large_message(root: &std::path::Path) -> [u8; 32] {
    for folder in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
    }
    let size = OUTER.len() + CONTENT_TYPE.len() + 1 + LINES * 77;
    let path = root.join(format!("cur/1764000000.M1P1.large,S={size}:2,S"));
    let mut file = BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut inner = Sha256::new();
    file.write_all(OUTER.as_bytes()).unwrap();
    let head = format!("{CONTENT_TYPE}\n");
    file.write_all(head.as_bytes()).unwrap();
    inner.update(head.as_bytes());
    for index in 0..LINES {
        let line = body_line(index);
        file.write_all(line.as_bytes()).unwrap();
        inner.update(line.as_bytes());
    }
    let file = file.into_inner().unwrap();
    assert_eq!(file.metadata().unwrap().len() as usize, size);
    file.sync_all().unwrap();
    inner.finalize().into()
}

/// Runs a decryption command on the message file and hashes what it prints.
fn decrypted_hash(mut command: Command, message: &std::path::Path) -> [u8; 32] {
    let mut child = command
        .stdin(std::fs::File::open(message).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut hash = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = stdout.read(&mut buffer).unwrap();
        if read == 0 {
            break;
        }
        hash.update(&buffer[..read]);
    }
    assert!(child.wait().unwrap().success(), "{command:?}");
    hash.finalize().into()
}

/// Turns encryption on for Alice, lets a worker process encrypt her
/// mailbox, and answers its peak RSS and the encrypted message's path.
async fn encrypt_with_a_worker_process(app: &TestApp, body: Value) -> (u64, std::path::PathBuf) {
    let client = app.signed_in(ALICE).await;
    let response = app.put(&client, "/api/encryption", body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let job = accepted["job"]["id"].as_str().unwrap().to_owned();
    let worker = app.worker_process();
    let state = eventually("the worker to encrypt the large message", 600, || {
        let (client, job) = (&client, &job);
        async move {
            let state: Value = app
                .get(client, &format!("/api/jobs/{job}"))
                .await
                .json()
                .await
                .ok()?;
            matches!(state["state"].as_str(), Some("succeeded" | "failed")).then_some(state)
        }
    })
    .await;
    assert_eq!(state["state"], "succeeded", "{state}");
    // Read while the worker is still running: its high-water mark covers the whole pass.
    let peak = worker.peak_rss_bytes();
    worker.kill();
    let messages = Maildir::new(app.maildir("alice")).messages().unwrap();
    assert_eq!(messages.len(), 1);
    (peak, messages[0].path.clone())
}

fn assert_flat(peak: u64, method: &str) {
    eprintln!(
        "{method}: the worker's peak RSS was {:.1} MiB for a 200 MB message",
        peak as f64 / 1048576.0
    );
    assert!(
        peak < MEMORY_LIMIT,
        "{method}: the worker used {peak} bytes for a 200 MB message"
    );
}

#[tokio::test]
async fn a_200_mb_message_is_encrypted_with_openpgp_in_flat_memory() {
    let gpg = GpgHome::new();
    let fingerprint = gpg.generate_alice();
    let app = spawn_app(AppOptions::without_workers()).await;
    let expected = deliver_large_message(&app.maildir("alice"));
    let body =
        json!({"method": "openpgp", "algorithm": "aes-256", "keys": [gpg.export(&fingerprint)]});
    let (peak, encrypted) = encrypt_with_a_worker_process(&app, body).await;
    assert_flat(peak, "OpenPGP");
    let mut decrypt = gpg.command();
    decrypt.arg("--decrypt");
    assert_eq!(decrypted_hash(decrypt, &encrypted), expected);
}

#[tokio::test]
async fn a_200_mb_message_is_encrypted_with_smime_in_flat_memory() {
    let identity = SmimeIdentity::new("ec:P-256", "keyAgreement");
    let app = spawn_app(AppOptions::without_workers()).await;
    let expected = deliver_large_message(&app.maildir("alice"));
    let body = json!({"method": "smime", "algorithm": "aes-256-gcm", "keys": [identity.certificate_pem()]});
    let (peak, encrypted) = encrypt_with_a_worker_process(&app, body).await;
    assert_flat(peak, "S/MIME");
    assert_eq!(
        decrypted_hash(identity.decrypt_command(), &encrypted),
        expected
    );
}
