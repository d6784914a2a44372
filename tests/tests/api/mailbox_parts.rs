//! A mailbox above `mailbox.split_above` is encrypted in parts that
//! several real worker processes take at once, still as one pass per
//! account: every message exactly once, the job's progress the sum of its
//! parts, a newer pass stops the parts of an older one, and a worker
//! killed in the middle of a part loses nothing.

use latchkey_core::encryption::is_already_encrypted;
use latchkey_tests::client::Client;
use latchkey_tests::demo::ALICE;
use latchkey_tests::keys::GpgHome;
use latchkey_tests::{AppOptions, TestApp, WorkerProcess, eventually, spawn_app};
use latchkey_workers::mailbox::maildir::{Maildir, deliver};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// Folders and how many messages each holds: 600 in all, split at 50 into
/// parts of at most 60, so `.Archive` alone makes five parts.
const FOLDERS: [(&str, usize); 4] = [("", 150), (".Archive", 300), (".Lists", 30), (".Sent", 120)];
const PARTS: usize = 3 + 5 + 1 + 2;

fn split_settings() -> Vec<(&'static str, String)> {
    vec![
        ("MAILBOX__SPLIT_ABOVE", "50".into()),
        ("MAILBOX__PART_MESSAGES", "60".into()),
    ]
}

/// Fills alice's folders; returns each message by its unique name.
fn fill_mailbox(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut originals = BTreeMap::new();
    for (folder, count) in FOLDERS {
        for index in 0..count {
            let lines = 12 + (index * 7919) % 400;
            let body: String = (0..lines)
                .map(|line| format!("{folder} {:070}\n", (line * 31 + index) % 1_000_003))
                .collect();
            let content = format!(
                "From: sender{index}@example.org\nTo: alice@example.org\nSubject: {folder} {index}\nContent-Type: text/plain; charset=us-ascii\n\n{body}"
            );
            let label = folder.strip_prefix('.').unwrap_or("INBOX");
            let unique = format!("1764{index:06}.M{index}P7.{label}");
            let flags = (index % 2 == 0).then_some("S");
            deliver(&root.join(folder), &unique, flags, content.as_bytes()).unwrap();
            originals.insert(unique, content.into_bytes());
        }
    }
    originals
}

/// Checks, with no worker running, that every message is there exactly
/// once, encrypted whole, in the folder it was in, and decrypts to its
/// original inner part.
fn assert_each_message_encrypted_once(
    root: &Path,
    originals: &BTreeMap<String, Vec<u8>>,
    gpg: &GpgHome,
) {
    let messages = Maildir::new(root).messages().unwrap();
    let mut seen = BTreeMap::new();
    for message in &messages {
        *seen.entry(message.unique()).or_insert(0) += 1;
        let content = std::fs::read(&message.path).unwrap();
        let encrypted = is_already_encrypted(&mut content.as_slice()).unwrap();
        assert!(
            encrypted.is_some(),
            "{} is encrypted",
            message.path.display()
        );
        assert_eq!(message.size_in_name(), Some(content.len() as u64));
        let label = message.unique().rsplit('.').next().unwrap().to_owned();
        let folder = if label == "INBOX" {
            String::new()
        } else {
            format!(".{label}")
        };
        assert_eq!(message.folder_name(), folder, "stays in its folder");
        let original = String::from_utf8(originals[&message.unique()].clone()).unwrap();
        let body = original.split_once("\n\n").unwrap().1;
        assert_eq!(
            gpg.decrypt_in(&content),
            format!("Content-Type: text/plain; charset=us-ascii\n\n{body}"),
            "{} decrypts to its original",
            message.path.display()
        );
    }
    assert_eq!(seen.len(), originals.len(), "no message lost");
    assert!(seen.values().all(|count| *count == 1), "none twice");
}

/// How many message files are encrypted so far, while workers may be
/// renaming them: an estimate to wait on.
/// Waits until a pass has encrypted at least `count` messages in `root`.
async fn until_encrypted(root: &Path, count: usize, what: &str) {
    eventually(what, 120, || {
        let reached = encrypted_so_far(root) >= count;
        async move { reached.then_some(()) }
    })
    .await;
}

fn encrypted_so_far(root: &Path) -> usize {
    let Ok(messages) = Maildir::new(root).messages() else {
        return 0;
    };
    let encrypted = |path: &Path| {
        std::fs::read(path).is_ok_and(|content| {
            is_already_encrypted(&mut content.as_slice()).is_ok_and(|verdict| verdict.is_some())
        })
    };
    messages.iter().filter(|m| encrypted(&m.path)).count()
}

async fn turn_on(app: &TestApp, client: &Client, key: &str) -> String {
    let body = json!({"method": "openpgp", "algorithm": "aes-256", "keys": [key]});
    let response = app.put(client, "/api/encryption", body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    accepted["job"]["id"].as_str().unwrap().to_owned()
}

async fn job_ending(app: &TestApp, client: &Client, job: &str, seconds: u64) -> Value {
    eventually(&format!("job {job} to end"), seconds, || async move {
        let state = app.get_json(client, &format!("/api/jobs/{job}")).await;
        let ended = ["succeeded", "superseded", "failed"];
        ended.contains(&state["state"].as_str()?).then_some(state)
    })
    .await
}

/// The `latchkeyJobPart` values of job `job`'s record.
async fn part_values(app: &TestApp, job: &str) -> Vec<String> {
    let entries = app.job_entries().await;
    let entry = entries
        .iter()
        .find(|entry| entry.attrs["latchkeyJobId"][0] == job)
        .expect("the job's record");
    entry
        .attrs
        .get("latchkeyJobPart")
        .cloned()
        .unwrap_or_default()
}

async fn ready(worker: &WorkerProcess) {
    let url = format!("{}/readyz", worker.health_address);
    eventually("the worker to be ready", 30, || {
        let url = url.clone();
        async move {
            let answer = reqwest::get(url).await.ok()?;
            answer.status().is_success().then_some(())
        }
    })
    .await;
}

/// Parts of mailbox passes a worker applied, from its `/metrics`.
async fn parts_done(worker: &WorkerProcess) -> u64 {
    let metrics = reqwest::get(format!("{}/metrics", worker.health_address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .filter(|line| line.starts_with("latchkey_jobs_total{"))
        .filter(|line| {
            line.contains(r#"kind="encrypt_mailbox""#) && line.contains(r#"outcome="done""#)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn two_workers_encrypt_a_split_mailbox_each_message_exactly_once() {
    let gpg = GpgHome::new();
    let key = gpg.alice_key();
    let app = spawn_app(AppOptions {
        workers: 0,
        settings: split_settings(),
        ..Default::default()
    })
    .await;
    let root = app.maildir("alice");
    let originals = fill_mailbox(&root);
    let workers = [app.worker_process(), app.worker_process()];
    for worker in &workers {
        ready(worker).await;
    }
    let client = app.signed_in(ALICE).await;
    let job = turn_on(&app, &client, &key).await;
    let finished = job_ending(&app, &client, &job, 180).await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert_eq!(finished["total"], originals.len(), "{finished}");
    assert_eq!(finished["done"], finished["total"], "{finished}");

    let parts = part_values(&app, &job).await;
    assert_eq!(parts.len(), PARTS, "{parts:?}");
    assert!(
        parts.iter().all(|part| part.contains(" succeeded ")),
        "{parts:?}"
    );
    let by_worker = [parts_done(&workers[0]).await, parts_done(&workers[1]).await];
    assert_eq!(by_worker.iter().sum::<u64>(), PARTS as u64, "{by_worker:?}");
    assert!(
        by_worker.iter().all(|done| *done > 0),
        "both workers took parts: {by_worker:?}"
    );
    drop(workers);
    assert_each_message_encrypted_once(&root, &originals, &gpg);
}

#[tokio::test]
async fn a_newer_pass_stops_the_parts_of_a_running_split_pass() {
    let gpg = GpgHome::new();
    let first_key = gpg.alice_key();
    let second = gpg.generate(
        "Alice Two <alice@example.org>",
        "ed25519",
        Some("cv25519"),
        "never",
    );
    let second_key = gpg.export(&second);
    let mut settings = split_settings();
    settings.push(("MAILBOX__THREADS", "1".into()));
    let app = spawn_app(AppOptions {
        workers: 0,
        settings,
        // The newer pass waits for the lease while the older one stops.
        retry_delays_ms: vec![500; 10],
        ..Default::default()
    })
    .await;
    let root = app.maildir("alice");
    let originals = fill_mailbox(&root);
    let client = app.signed_in(ALICE).await;
    let first_job = turn_on(&app, &client, &first_key).await;

    // Hold the first pass in the middle of its parts, as a slow worker would.
    let first_worker = app.worker_process();
    until_encrypted(&root, 5, "the first pass to encrypt some messages").await;
    first_worker.signal("STOP");
    let held = part_values(&app, &first_job).await;
    assert_eq!(held.len(), PARTS, "{held:?}");
    assert!(
        held.iter().any(|part| !part.contains(" succeeded ")),
        "{held:?}"
    );

    let second_job = turn_on(&app, &client, &second_key).await;
    let second_worker = app.worker_process();
    eventually(
        "the newer pass to meet the older one's lease",
        60,
        || async {
            let state = app
                .get_json(&client, &format!("/api/jobs/{second_job}"))
                .await;
            (state["attempts"].as_u64()? >= 1).then_some(())
        },
    )
    .await;
    first_worker.signal("CONT");

    let first = job_ending(&app, &client, &first_job, 120).await;
    assert_eq!(first["state"], "superseded", "{first}");
    assert!(
        first["done"].as_u64() < first["total"].as_u64(),
        "stopped early: {first}"
    );
    let second = job_ending(&app, &client, &second_job, 180).await;
    assert_eq!(second["state"], "succeeded", "{second}");
    assert_eq!(second["done"], originals.len(), "{second}");
    drop((first_worker, second_worker));
    // Each message once: encrypted by whichever pass reached it, never both.
    assert_each_message_encrypted_once(&root, &originals, &gpg);
}

#[tokio::test]
async fn a_worker_killed_in_the_middle_of_a_part_loses_nothing() {
    let gpg = GpgHome::new();
    let key = gpg.alice_key();
    let app = spawn_app(AppOptions {
        workers: 0,
        settings: split_settings(),
        ..Default::default()
    })
    .await;
    let root = app.maildir("alice");
    let originals = fill_mailbox(&root);
    let client = app.signed_in(ALICE).await;
    let job = turn_on(&app, &client, &key).await;
    let doomed = app.worker_process();
    until_encrypted(&root, 20, "the worker to be inside its parts").await;
    doomed.kill();
    let killed_in = part_values(&app, &job).await;
    assert!(
        killed_in.iter().any(|part| part.contains(" running ")),
        "{killed_in:?}"
    );

    // Its parts go back to the queue and another worker takes them over.
    let survivor = app.worker_process();
    let finished = job_ending(&app, &client, &job, 180).await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert_eq!(finished["done"], finished["total"], "{finished}");
    assert_eq!(finished["total"], originals.len(), "{finished}");
    drop(survivor);
    assert_each_message_encrypted_once(&root, &originals, &gpg);
}
