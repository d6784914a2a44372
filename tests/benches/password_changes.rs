//! Drives password changes through one or more gateways, RabbitMQ, two
//! workers and slapd, and measures raw argon2id throughput with the same
//! parameters and thread count in the same run, to report how much of the
//! hashing capacity the whole pipeline turns into changes.
//!
//! `cargo bench -p latchkey-tests --bench password_changes [-- CHANGES] [--gateways=N]`
//!
//! With `--gateways=2` a second gateway instance (another port, the same
//! directory, broker and keys, as behind a load balancer) takes every
//! second change.
//!
//! Under `cargo test` (no `--bench` flag) it runs as a smoke test: a few
//! changes and a short reference, so the benchmark keeps working.

use latchkey_core::password::PasswordHasher;
use latchkey_tests::bench::{self, Argon2Operation, Args};
use latchkey_tests::{AppOptions, eventually, ldap, spawn_app};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

const WORKERS: usize = 2;
const START_PASSWORD: &str = "Bench-Start-Password-Vq93";
/// Changes in flight at once from the benchmark's clients.
const CLIENT_CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() {
    let args = Args::from_env();
    let changes = args.count(200, 4);
    let gateways = args.option("gateways", 1).max(1);
    let app = spawn_app(AppOptions {
        workers: WORKERS,
        address_failures: u32::MAX,
        ..Default::default()
    })
    .await;
    let mut addresses = vec![app.address.clone()];
    for _ in 1..gateways {
        addresses.push(app.start_replica().await);
    }
    println!("setting up {changes} accounts and sessions...");
    let uids = bench::add_accounts(&app, "bench", changes, START_PASSWORD).await;
    let mut clients = Vec::with_capacity(changes);
    for (index, uid) in uids.iter().enumerate() {
        // The session lives in the directory: any gateway knows it.
        let client = app.signed_in((uid, START_PASSWORD)).await;
        clients.push(client.at(&addresses[index % gateways]));
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
        ldap::count(
            &app.slapd.url(),
            (&dn, &password),
            "ou=jobs,dc=example,dc=org",
            "(latchkeyJobState=succeeded)",
        )
        .await
    };
    eventually("every change to be applied", 600, || {
        let app = Arc::clone(&app);
        async move { (succeeded(app).await >= changes).then_some(()) }
    })
    .await;
    let elapsed = started.elapsed();

    let hasher = PasswordHasher::new(app.settings.argon2).expect("argon2 settings");
    let raw_per_second =
        bench::raw_argon2_rate(&hasher, Argon2Operation::Hash, WORKERS, args.span(5));
    let changes_per_second = changes as f64 / elapsed.as_secs_f64();
    // The gateway verifies the current password once, the worker hashes the new one once.
    let argon2_per_change = 2.0;
    let achieved = changes_per_second * argon2_per_change;
    println!(
        "changes:                 {changes} ({gateways} gateway(s), {WORKERS} workers, all accepted in {accepted:.2?})"
    );
    println!("elapsed:                 {elapsed:.2?}");
    println!("changes/s:               {changes_per_second:.1}");
    println!("argon2 ops per change:   {argon2_per_change} (gateway verify + worker hash)");
    println!("argon2 ops/s achieved:   {achieved:.1}");
    println!("raw argon2id ops/s:      {raw_per_second:.1} ({WORKERS} threads, same parameters)");
    println!("ratio achieved/raw:      {:.2}", achieved / raw_per_second);
}
