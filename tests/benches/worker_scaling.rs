//! How credential jobs per second grow with worker processes: queues N
//! password changes while no worker runs (each with its job record and an
//! envelope sealed as the gateway seals it), then starts 1, then 2, then 4
//! real `latchkey-worker` processes (release build) and times them draining
//! the queue until every job record says `succeeded`. In the same run it
//! measures raw argon2id hashing with the same parameters on 1 and 2
//! threads, since each job hashes the new password once.
//!
//! `cargo bench -p latchkey-tests --bench worker_scaling [-- JOBS]`
//!
//! Under `cargo test` (no `--bench` flag) it runs as a smoke test: a few
//! jobs, with the worker binary `cargo build --bins` made.

use futures_util::StreamExt;
use latchkey_core::broker::{AmqpPublisher, Publisher};
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::directory::JobStore;
use latchkey_core::domain::{Dn, JobId};
use latchkey_core::job::{ChangePassword, Envelope, JobKind, JobMessage, JobRecord, Queue};
use latchkey_core::password::PasswordHasher;
use latchkey_core::seal::Keyring;
use latchkey_tests::bench::{self, Argon2Operation, Args};
use latchkey_tests::{AppOptions, TestApp, demo, eventually, ldap, spawn_app};
use std::time::{Duration, Instant};

const START_PASSWORD: &str = "Scale-Start-Password-Vq93";
const PROCESS_COUNTS: [usize; 3] = [1, 2, 4];
/// Jobs queued at once while setting up a round.
const ENQUEUE_CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() {
    let args = Args::from_env();
    let jobs = args.count(2_000, 6);
    bench::ensure_worker_binary(&args);
    let app = spawn_app(AppOptions {
        workers: 0,
        // The queue waits unconsumed while a round is queued.
        queue_expires_ms: Some(30 * 60_000),
        ..Default::default()
    })
    .await;
    println!("setting up {jobs} accounts...");
    let uids = bench::add_accounts(&app, "scale", jobs, START_PASSWORD).await;

    let mut rounds = Vec::new();
    for (round, processes) in PROCESS_COUNTS.into_iter().enumerate() {
        println!("queueing {jobs} password changes with no worker running...");
        enqueue_changes(&app, &uids, round).await;
        let elapsed = drain(&app, processes, jobs, jobs * (round + 1)).await;
        let per_second = jobs as f64 / elapsed.as_secs_f64();
        println!("{processes} worker process(es): {elapsed:.2?}, {per_second:.1} jobs/s");
        rounds.push((processes, elapsed, per_second));
    }

    let hasher = PasswordHasher::new(app.settings.argon2).expect("argon2 settings");
    let span = args.span(5);
    let raw_one = bench::raw_argon2_rate(&hasher, Argon2Operation::Hash, 1, span);
    let raw_two = bench::raw_argon2_rate(&hasher, Argon2Operation::Hash, 2, span);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let single = rounds[0].2;
    println!();
    println!("jobs per round: {jobs} password changes; {cores} cores");
    println!("processes | elapsed | jobs/s | scaling vs 1 | jobs/s / raw argon2id (2 threads)");
    for (processes, elapsed, per_second) in &rounds {
        println!(
            "{processes:>9} | {elapsed:>7.2?} | {per_second:>6.1} | {:>11.2}x | {:.2}",
            per_second / single,
            per_second / raw_two
        );
    }
    println!(
        "raw argon2id hashes/s, same parameters: {raw_one:.1} (1 thread), {raw_two:.1} (2 threads, {:.2}x)",
        raw_two / raw_one
    );
}

/// Queues a password change for each of `uids` as the gateway would: the
/// job's record first, then its sealed envelope, published with confirms.
async fn enqueue_changes(app: &TestApp, uids: &[String], round: usize) {
    let settings = &app.gateway_settings;
    let keyring = Keyring::for_jobs(&settings.secrets).expect("the sealing key");
    let publisher = AmqpPublisher::new(&settings.broker);
    let directory = app.gateway_directory();
    futures_util::stream::iter(uids.iter().enumerate())
        .for_each_concurrent(ENQUEUE_CONCURRENCY, |(index, uid)| {
            let (keyring, publisher, directory) = (&keyring, &publisher, &directory);
            async move {
                let job_id = JobId::new();
                let account = Dn::from_directory(demo::dn(uid));
                let new = format!("Scale-Round{round}-Password-{index:05}-Kx7q");
                let message = JobMessage::ChangePassword(ChangePassword {
                    job_id,
                    account: account.clone(),
                    sealed_password: keyring
                        .seal(&ChangePassword::seal_context(job_id), new.as_bytes()),
                    keep_session: None,
                });
                let now = SystemClock.now();
                let now = now.replace_nanosecond(0).unwrap_or(now);
                let record = JobRecord::queued(job_id, JobKind::ChangePassword, account, 1, now);
                directory.create_job(&record).await.expect("the job record");
                let envelope = Envelope::new(message, now, None).seal(keyring);
                publisher
                    .publish_job(Queue::Credentials, &envelope, uuid::Uuid::new_v4())
                    .await
                    .expect("the broker confirms the job");
            }
        })
        .await;
}

/// Starts `processes` worker processes and answers how long they took to
/// finish the `queued` jobs, until `succeeded` job records (over all rounds)
/// are in the directory; stops them.
async fn drain(app: &TestApp, processes: usize, queued: usize, succeeded: usize) -> Duration {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let workers: Vec<_> = (0..processes).map(|_| app.worker_process()).collect();
    let (dn, password) = app.service();
    eventually("the workers to drain the queue", 3_600, || {
        let (http, workers, dn, password) = (&http, &workers, &dn, &password);
        async move {
            let mut done = 0;
            for worker in workers {
                done += bench::jobs_done(http, worker).await as usize;
            }
            if done < queued {
                return None;
            }
            // The workers say so; the records must agree.
            let recorded = ldap::count(
                &app.slapd.url(),
                (dn, password),
                "ou=jobs,dc=example,dc=org",
                "(latchkeyJobState=succeeded)",
            )
            .await;
            (recorded >= succeeded).then_some(())
        }
    })
    .await;
    let elapsed = started.elapsed();
    for worker in workers {
        worker.kill();
    }
    elapsed
}
