//! Drives password changes through gateway, RabbitMQ, two workers and slapd,
//! and measures raw argon2id throughput with the same parameters and thread
//! count in the same run, to report how much of the hashing capacity the
//! whole pipeline turns into changes.
//!
//! `cargo bench -p latchkey-tests --bench password_changes [-- CHANGES]`
//!
//! Under `cargo test` (no `--bench` flag) it runs as a smoke test: a few
//! changes and a short reference, so the benchmark keeps working.

use latchkey_core::SecretString;
use latchkey_core::password::PasswordHasher;
use latchkey_tests::{AppOptions, eventually, ldap, spawn_app};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

const WORKERS: usize = 2;
const START_PASSWORD: &str = "Bench-Start-Password-Vq93";
/// Changes in flight at once from the benchmark's clients.
const CLIENT_CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let changes: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(if benchmarking { 200 } else { 4 });
    let reference_span = Duration::from_secs(if benchmarking { 5 } else { 1 });
    let app = spawn_app(AppOptions {
        workers: WORKERS,
        address_failures: u32::MAX,
        ..Default::default()
    })
    .await;
    let hasher = PasswordHasher::new(app.settings.argon2).expect("argon2 settings");
    let (service_dn, service_password) = app.service();
    let start_hash = hasher.hash(&SecretString::from(START_PASSWORD));
    println!("setting up {changes} accounts and sessions...");
    let mut clients = Vec::with_capacity(changes);
    for index in 0..changes {
        let uid = format!("bench{index}");
        ldap::add_account(
            &app.slapd.url(),
            (&service_dn, &service_password),
            &uid,
            &start_hash,
        )
        .await;
        clients.push(app.signed_in((&uid, START_PASSWORD)).await);
    }

    let slots = Arc::new(Semaphore::new(CLIENT_CONCURRENCY));
    let app = Arc::new(app);
    let started = Instant::now();
    let mut requests = Vec::with_capacity(changes);
    for (index, client) in clients.into_iter().enumerate() {
        let (app, slots) = (Arc::clone(&app), Arc::clone(&slots));
        requests.push(tokio::spawn(async move {
            let _slot = slots.acquire().await.expect("open");
            let new = format!("Bench-New-Password-{index:05}-Kx7q");
            let response = app
                .post(
                    &client,
                    "/api/password",
                    json!({"current": START_PASSWORD, "new": new}),
                )
                .await;
            assert_eq!(response.status(), 202, "change {index} is accepted");
        }));
    }
    for request in requests {
        request.await.expect("the request task");
    }
    let accepted = started.elapsed();
    let succeeded = |app: Arc<latchkey_tests::TestApp>| async move {
        let (dn, password) = app.service();
        ldap::search(
            &app.slapd.url(),
            (&dn, &password),
            "ou=jobs,dc=example,dc=org",
            "(latchkeyJobState=succeeded)",
        )
        .await
        .len()
    };
    eventually("every change to be applied", 600, || {
        let app = Arc::clone(&app);
        async move { (succeeded(app).await >= changes).then_some(()) }
    })
    .await;
    let elapsed = started.elapsed();

    let raw_per_second = raw_argon2_rate(&hasher, WORKERS, reference_span);
    let changes_per_second = changes as f64 / elapsed.as_secs_f64();
    // The gateway verifies the current password once, the worker hashes the new one once.
    let argon2_per_change = 2.0;
    let achieved = changes_per_second * argon2_per_change;
    println!(
        "changes:                 {changes} ({WORKERS} workers, all accepted in {accepted:.2?})"
    );
    println!("elapsed:                 {elapsed:.2?}");
    println!("changes/s:               {changes_per_second:.1}");
    println!("argon2 ops per change:   {argon2_per_change} (gateway verify + worker hash)");
    println!("argon2 ops/s achieved:   {achieved:.1}");
    println!("raw argon2id ops/s:      {raw_per_second:.1} ({WORKERS} threads, same parameters)");
    println!("ratio achieved/raw:      {:.2}", achieved / raw_per_second);
}

/// Hashes per second with `threads` threads hashing back to back for `span`.
fn raw_argon2_rate(hasher: &PasswordHasher, threads: usize, span: Duration) -> f64 {
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let hasher = hasher.clone();
            std::thread::spawn(move || {
                let password = SecretString::from("raw-argon2-reference");
                let mut count = 0u64;
                while started.elapsed() < span {
                    std::hint::black_box(hasher.hash(&password));
                    count += 1;
                }
                count
            })
        })
        .collect();
    let total: u64 = handles
        .into_iter()
        .map(|h| h.join().expect("hash thread"))
        .sum();
    total as f64 / started.elapsed().as_secs_f64()
}
