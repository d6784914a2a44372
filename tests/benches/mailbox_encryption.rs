//! Encrypts a synthetic Maildir (2,000 messages, 2 KB to 2 MB, about 185 MB)
//! the way the mailbox worker does, and in the same run: a loop that runs the
//! gpg CLI once per message (what gpgit and zeyple do), a loop that runs
//! `openssl cms` once per message, and raw in-process encryption of the same
//! bytes without disk (the ceiling, best of three runs). Reports
//! messages/s, MB/s and the process's peak RSS during Latchkey's passes.
//!
//! `cargo bench -p latchkey-tests --bench mailbox_encryption [-- MESSAGES]`
//!
//! Under `cargo test` (no `--bench` flag) it runs as a smoke test on 20 messages.

// A benchmark that meets an error has nothing to report: stop there.
#![allow(clippy::unwrap_used)]

mod mailbox_setup;

use latchkey_core::encryption::{Algorithm, Encryptor, parse_keys};
use latchkey_tests::keys::{GpgHome, SmimeIdentity};
use latchkey_workers::mailbox::encrypt::{BatchProgress, encrypt_batch};
use latchkey_workers::mailbox::maildir::{Maildir, deliver};
use mailbox_setup::{encrypt_in_memory, message};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Sizes: 85% from 2 KB to 50 KB, 12% to 500 KB, 3% to 2 MB (deterministic).
fn size_of(index: usize) -> usize {
    let spread = (index * 2_654_435_761) % 1000;
    match index % 100 {
        0..=84 => 2_000 + spread * 48,
        85..=96 => 50_000 + spread * 450,
        _ => 500_000 + spread * 1_500,
    }
}

fn build_maildir(root: &Path, messages: usize) -> u64 {
    (0..messages)
        .map(|index| {
            let content = message(index, size_of(index));
            deliver(root, &format!("{index}.bench"), Some("S"), &content).unwrap();
            content.len() as u64
        })
        .sum()
}

fn files(root: &Path) -> Vec<PathBuf> {
    Maildir::new(root)
        .messages()
        .unwrap()
        .into_iter()
        .map(|m| m.path)
        .collect()
}

/// Peak resident memory of this process so far, in MiB (VmHWM).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

struct Measured {
    elapsed: Duration,
}

fn rate(name: &str, messages: usize, bytes: u64, measured: &Measured) -> f64 {
    let seconds = measured.elapsed.as_secs_f64();
    let per_second = messages as f64 / seconds;
    println!(
        "{name:<38} {per_second:>9.1} msg/s {:>9.1} MB/s  ({seconds:.2} s)",
        bytes as f64 / 1e6 / seconds
    );
    per_second
}

/// The worker's own step: every message of the Maildir on `threads` threads.
fn latchkey_pass(root: &Path, encryptor: &Encryptor, threads: usize) -> Measured {
    let messages = Maildir::new(root).messages().unwrap();
    let progress = BatchProgress::default();
    let started = Instant::now();
    encrypt_batch(&messages, encryptor, threads, &progress).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(
        progress.encrypted.load(Ordering::Relaxed),
        messages.len() as u64
    );
    Measured { elapsed }
}

/// Threads of the durable-copy floor: as many as the pass's commit threads.
const FLOOR_THREADS: usize = 8;

/// The pass's file work without its encryption: each message copied as it
/// is into `tmp/`, synced and renamed over itself, with the worker's own
/// `stage` and `commit`. Encryption that cost nothing could not beat this.
fn durable_copy_floor(root: &Path) -> Measured {
    let messages = Maildir::new(root).messages().unwrap();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..FLOOR_THREADS {
            scope.spawn(|| {
                while let Some(message) = messages.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let copied = message.stage(io::copy);
                    copied.unwrap().1.commit().unwrap();
                }
            });
        }
    });
    Measured {
        elapsed: started.elapsed(),
    }
}

/// How often the ceiling is measured; the fastest run counts, so that a
/// busy machine lowers Latchkey's ratio rather than raising it.
const CEILING_RUNS: usize = 3;

/// The same encryption of the same bytes from memory to nowhere, on as
/// many threads: the fastest of [`CEILING_RUNS`].
fn raw_ceiling(root: &Path, encryptor: &Encryptor, threads: usize) -> Measured {
    let contents: Vec<Vec<u8>> = files(root)
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect();
    let elapsed = (0..CEILING_RUNS)
        .map(|_| encrypt_in_memory(&contents, encryptor, threads))
        .min()
        .unwrap();
    Measured { elapsed }
}

fn cli_loop(root: &Path, command: impl Fn(&Path, &Path) -> Command) -> Measured {
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    for (index, path) in files(root).iter().enumerate() {
        let target = out.path().join(index.to_string());
        let status = command(path, &target)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
    Measured {
        elapsed: started.elapsed(),
    }
}

fn main() {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let messages: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(if benchmarking { 2000 } else { 20 });
    let gpg = GpgHome::new();
    let fingerprint = gpg.generate_alice();
    let pgp_key = gpg.export(&fingerprint);
    let smime = SmimeIdentity::new("rsa:2048", "keyEncipherment");
    let now = SystemTime::now() + Duration::from_secs(1);
    let pgp_keys = parse_keys(Algorithm::Aes256, &[pgp_key], 5, now).unwrap();
    let pgp = Encryptor::new(Algorithm::Aes256, pgp_keys, false, now);
    let cms_keys = parse_keys(Algorithm::Aes256Cbc, &[smime.certificate_pem()], 5, now).unwrap();
    let cms = Encryptor::new(Algorithm::Aes256Cbc, cms_keys, false, now);

    let source = tempfile::tempdir().unwrap();
    let bytes = build_maildir(source.path(), messages);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "mailbox: {messages} messages, {:.1} MB; Latchkey and the ceiling use {threads} threads, the CLIs run once per message",
        bytes as f64 / 1e6
    );
    let copy = |name: &str| {
        let target = tempfile::tempdir().unwrap();
        let status = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", source.path().display()))
            .arg(target.path())
            .status()
            .unwrap();
        assert!(status.success(), "copying the mailbox for {name}");
        // The copy's dirty pages are the setup's to write, not the pass's.
        let synced = Command::new("sync").status().unwrap();
        assert!(synced.success(), "sync after copying for {name}");
        target
    };

    let rss_before = peak_rss_mib();
    let pgp_dir = copy("openpgp");
    let latchkey_pgp = rate(
        "Latchkey OpenPGP (AES-256), in place",
        messages,
        bytes,
        &latchkey_pass(pgp_dir.path(), &pgp, threads),
    );
    let smime_dir = copy("smime");
    let latchkey_cms = rate(
        "Latchkey S/MIME (AES-256-CBC), in place",
        messages,
        bytes,
        &latchkey_pass(smime_dir.path(), &cms, threads),
    );
    let rss_after = peak_rss_mib();
    let floor_dir = copy("the floor");
    let floor = rate(
        "durable copy, no encryption (floor)",
        messages,
        bytes,
        &durable_copy_floor(floor_dir.path()),
    );
    let ceiling_pgp = rate(
        "raw OpenPGP, in memory (ceiling)",
        messages,
        bytes,
        &raw_ceiling(source.path(), &pgp, threads),
    );
    let ceiling_cms = rate(
        "raw S/MIME, in memory (ceiling)",
        messages,
        bytes,
        &raw_ceiling(source.path(), &cms, threads),
    );
    let gpg_loop = rate(
        "gpg CLI once per message",
        messages,
        bytes,
        &cli_loop(source.path(), |input, output| {
            let mut command = gpg.command();
            command
                .args([
                    "--trust-model",
                    "always",
                    "--armor",
                    "--encrypt",
                    "-r",
                    &fingerprint,
                    "--output",
                ])
                .arg(output)
                .arg(input);
            command
        }),
    );
    let cert = smime.certificate_path();
    let openssl_loop = rate(
        "openssl cms once per message",
        messages,
        bytes,
        &cli_loop(source.path(), |input, output| {
            let mut command = Command::new("openssl");
            command
                .args(["cms", "-encrypt", "-aes256", "-in"])
                .arg(input)
                .arg("-out")
                .arg(output)
                .arg(&cert);
            command
        }),
    );
    println!();
    println!(
        "OpenPGP: Latchkey / gpg loop        = {:.1}x (target >= 5)",
        latchkey_pgp / gpg_loop
    );
    println!(
        "OpenPGP: Latchkey / raw ceiling     = {:.2} (target >= 0.5)",
        latchkey_pgp / ceiling_pgp
    );
    println!(
        "S/MIME:  Latchkey / openssl loop    = {:.1}x",
        latchkey_cms / openssl_loop
    );
    println!(
        "S/MIME:  Latchkey / raw ceiling     = {:.2} (target >= 0.5)",
        latchkey_cms / ceiling_cms
    );
    println!(
        "floor / raw ceiling                 = {:.2} OpenPGP, {:.2} S/MIME (the most any in-place pass could reach)",
        floor / ceiling_pgp,
        floor / ceiling_cms
    );
    println!(
        "peak RSS: {rss_before:.1} MiB before the passes, {rss_after:.1} MiB after (largest message {:.1} MB)",
        (0..messages).map(size_of).max().unwrap_or(0) as f64 / 1e6
    );
}
