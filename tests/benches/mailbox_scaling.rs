//! One account's large mailbox (20,000 messages of 1 to 12 KB in five
//! folders) encrypted end to end by 1, 2 and 4 real worker processes: the
//! gateway queues the job, a worker splits the pass into part jobs
//! (`mailbox.split_above`, `mailbox.part_messages` as configured by
//! default), and the workers drain them. Each worker takes one part at a
//! time (`worker.prefetch = 1`) with its default encryption threads (one
//! per core). Reports msg/s from the 202 to the job record's `succeeded`,
//! the speed-up over one worker, and, measured in the same run, the raw
//! in-memory encryption of the same bytes on one thread and on every core
//! (best of three): no number of workers can beat the second on this machine.
//!
//! `cargo build --release --bins && cargo bench -p latchkey-tests --bench mailbox_scaling [-- MESSAGES]`
//!
//! Under `cargo test` (no `--bench` flag) it runs as a smoke test on 300
//! messages split into small parts.

// A benchmark that meets an error has nothing to report: stop there.
#![allow(clippy::unwrap_used)]

mod mailbox_setup;

use latchkey_core::encryption::{Algorithm, Encryptor, parse_keys};
use latchkey_tests::demo::ALICE;
use latchkey_tests::keys::GpgHome;
use latchkey_tests::{AppOptions, TestApp, WorkerProcess, eventually, spawn_app};
use latchkey_workers::mailbox::maildir::{Maildir, deliver};
use mailbox_setup::{encrypt_in_memory, message};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

const FOLDERS: [&str; 5] = ["", ".Archive", ".Lists", ".Sent", ".Work"];
/// Worker processes, and whether the pass may split: the first run is
/// the pass as one job (`mailbox.split_above = 0`), the reference of the
/// speed-ups.
const RUNS: [(usize, bool); 4] = [(1, false), (1, true), (2, true), (4, true)];

/// Sizes from 1 KB to 12 KB, deterministic.
fn size_of(index: usize) -> usize {
    1_000 + (index * 2_654_435_761) % 11_000
}

fn build_mailbox(root: &Path, messages: usize) -> u64 {
    (0..messages)
        .map(|index| {
            let content = message(index, size_of(index));
            let folder = root.join(FOLDERS[index % FOLDERS.len()]);
            deliver(&folder, &format!("{index}.bench"), Some("S"), &content).unwrap();
            content.len() as u64
        })
        .sum()
}

fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split(' ').take(3).collect::<Vec<_>>().join(" ")
}

/// Replaces alice's Maildir with a fresh copy of `source`, on disk.
fn fresh_copy(source: &Path, maildir: &Path) {
    let _ = std::fs::remove_dir_all(maildir);
    std::fs::create_dir_all(maildir).unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", source.display()))
        .arg(maildir)
        .status()
        .unwrap();
    assert!(copied.success(), "copying the mailbox");
    // The copy's dirty pages are the setup's to write, not the pass's.
    assert!(Command::new("sync").status().unwrap().success());
}

async fn ready(worker: &WorkerProcess) {
    let url = format!("{}/readyz", worker.health_address);
    eventually("a worker to be ready", 60, || {
        let url = url.clone();
        async move {
            let answer = reqwest::get(url).await.ok()?;
            answer.status().is_success().then_some(())
        }
    })
    .await;
}

/// Encrypts alice's mailbox with `workers` worker processes; answers the
/// time from the request to the job's success, and the parts it had.
async fn drain(
    app: &TestApp,
    key: &str,
    workers: usize,
    settings: &[(&str, String)],
) -> (Duration, usize) {
    let processes: Vec<WorkerProcess> = (0..workers)
        .map(|_| app.worker_process_with(settings))
        .collect();
    for worker in &processes {
        ready(worker).await;
    }
    let client = app.signed_in(ALICE).await;
    let body = json!({"method": "openpgp", "algorithm": "aes-256", "keys": [key]});
    let started = Instant::now();
    let response = app.put(&client, "/api/encryption", body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let job = accepted["job"]["id"].as_str().unwrap().to_owned();
    let finished = eventually("the pass to finish", 1800, || async {
        let state = app.get_json(&client, &format!("/api/jobs/{job}")).await;
        let ended = ["succeeded", "superseded", "failed"];
        ended.contains(&state["state"].as_str()?).then_some(state)
    })
    .await;
    let elapsed = started.elapsed();
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert_eq!(finished["done"], finished["total"], "{finished}");
    let entries = app.job_entries().await;
    let record = entries
        .iter()
        .find(|entry| entry.attrs["latchkeyJobId"][0] == job)
        .unwrap();
    let parts = record.attrs.get("latchkeyJobPart").map_or(0, Vec::len);
    drop(processes);
    (elapsed, parts)
}

#[tokio::main]
async fn main() {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let messages: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(if benchmarking { 20_000 } else { 300 });
    let mut settings = vec![("WORKER__PREFETCH", "1".to_owned())];
    // Splitting is off by default; the bench turns it on at the sizes an
    // operator would pick (a smoke run under `cargo test`: small ones).
    let (split_above, part_messages) = if benchmarking {
        ("5000", "2000")
    } else {
        ("100", "40")
    };
    settings.push(("MAILBOX__SPLIT_ABOVE", split_above.into()));
    settings.push(("MAILBOX__PART_MESSAGES", part_messages.into()));
    let app = spawn_app(AppOptions {
        workers: 0,
        settings: settings.clone(),
        ..Default::default()
    })
    .await;
    let gpg = GpgHome::new();
    let key = gpg.export(&gpg.generate_alice());
    let source = tempfile::tempdir().unwrap();
    let bytes = build_mailbox(source.path(), messages);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "mailbox: {messages} messages in {} folders, {:.1} MB; {cores} cores; split above {}, parts of {}",
        FOLDERS.len(),
        bytes as f64 / 1e6,
        app.settings.mailbox.split_above,
        app.settings.mailbox.part_messages,
    );

    let now = SystemTime::now() + Duration::from_secs(1);
    let keys = parse_keys(Algorithm::Aes256, std::slice::from_ref(&key), 5, now).unwrap();
    let encryptor = Encryptor::new(Algorithm::Aes256, keys, false, now);
    let contents: Vec<Vec<u8>> = Maildir::new(source.path())
        .messages()
        .unwrap()
        .iter()
        .map(|m| std::fs::read(&m.path).unwrap())
        .collect();
    let ceiling = |threads: usize| {
        let best = (0..3)
            .map(|_| encrypt_in_memory(&contents, &encryptor, threads))
            .min()
            .unwrap();
        messages as f64 / best.as_secs_f64()
    };
    let (raw_one, raw_all) = (ceiling(1), ceiling(cores));
    println!("raw OpenPGP in memory, 1 thread        {raw_one:>9.1} msg/s");
    println!("raw OpenPGP in memory, {cores} threads      {raw_all:>9.1} msg/s  (the ceiling)");

    let maildir = app.maildir("alice");
    let mut one_job = None;
    for (workers, split) in RUNS {
        fresh_copy(source.path(), &maildir);
        let load = load_average();
        let mut run_settings = settings.clone();
        if !split {
            run_settings.push(("MAILBOX__SPLIT_ABOVE", "0".into()));
        }
        let (elapsed, parts) = drain(&app, &key, workers, &run_settings).await;
        let rate = messages as f64 / elapsed.as_secs_f64();
        let base = *one_job.get_or_insert(rate);
        println!(
            "{workers} worker process(es), {parts:>2} parts: {rate:>9.1} msg/s ({:.2} s)  speed-up {:.2}x  of ceiling {:.2}  load before {load}",
            elapsed.as_secs_f64(),
            rate / base,
            rate / raw_all,
        );
    }
}
