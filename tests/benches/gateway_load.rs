//! Load on the gateway from a fixed number of concurrent clients, each
//! sending its next request as soon as the last is answered: sign-ins
//! (`POST /api/session`) and account reads (`GET /api/account` with a
//! session). In the same run, the raw references: ldap3 searches for the
//! same account entries in the same slapd at the same concurrency, and
//! argon2id verifications with the same parameters on 2 threads (a sign-in
//! costs one). Reports requests/s, p50 and p99.
//!
//! The gateway keeps its deployed sign-in limits (5 failures per account,
//! 20 per address): the clients sign in to many accounts, each client from
//! its own address in 127.0.0.0/8, and every sign-in succeeds, so no limit
//! is reached and the bench measures throughput.
//!
//! `cargo bench -p latchkey-tests --bench gateway_load [-- SECONDS]`
//!
//! Under `cargo test` (no `--bench` flag) each phase runs for 0.3 s.

use latchkey_core::password::PasswordHasher;
use latchkey_tests::bench::{self, Argon2Operation, Args};
use latchkey_tests::client::Client;
use latchkey_tests::slapd::ServiceAccount;
use latchkey_tests::{AppOptions, ldap, spawn_app};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

/// Requests in flight at once.
const CLIENTS: usize = 16;
/// Accounts the clients sign in to, in turn.
const ACCOUNTS: usize = 256;
const PASSWORD: &str = "Load-Bench-Password-Vq93";
/// The argon2id threads of the reference: the gateway verifies at most
/// `gateway.max_concurrent_hashes` (2) passwords at once.
const HASH_THREADS: usize = 2;

#[tokio::main]
async fn main() {
    let args = Args::from_env();
    let span = if args.benchmarking() {
        Duration::from_secs(args.count(10, 0) as u64)
    } else {
        args.span(0)
    };
    let app = Arc::new(
        spawn_app(AppOptions {
            workers: 0,
            account_failures: 5,
            address_failures: 20,
            ..Default::default()
        })
        .await,
    );
    println!("setting up {ACCOUNTS} accounts...");
    let uids = Arc::new(bench::add_accounts(&app, "load", ACCOUNTS, PASSWORD).await);
    let clients: Arc<Vec<Client>> = Arc::new(
        (0..CLIENTS)
            .map(|index| app.client_from(client_address(index)))
            .collect(),
    );

    println!("sign-ins for {span:.0?}...");
    let sign_ins = bench::closed_loop(CLIENTS, span, {
        let (app, clients, uids) = (Arc::clone(&app), Arc::clone(&clients), Arc::clone(&uids));
        move |client, sequence| {
            let (app, clients, uids) = (Arc::clone(&app), Arc::clone(&clients), Arc::clone(&uids));
            async move {
                let uid = &uids[(client + sequence * CLIENTS) % ACCOUNTS];
                let body = json!({"username": uid, "password": PASSWORD});
                let response = app.post(&clients[client], "/api/session", body).await;
                assert_eq!(response.status(), 200, "{uid} signs in");
            }
        }
    })
    .await;

    // Each client now holds the session of its last sign-in.
    println!("account reads for {span:.0?}...");
    let reads = bench::closed_loop(CLIENTS, span, {
        let (app, clients) = (Arc::clone(&app), Arc::clone(&clients));
        move |client, _| {
            let (app, clients) = (Arc::clone(&app), Arc::clone(&clients));
            async move {
                let response = app.get(&clients[client], "/api/account").await;
                assert_eq!(response.status(), 200, "the account is read");
            }
        }
    })
    .await;

    println!("raw LDAP searches for {span:.0?}...");
    let gateway_account = (
        ServiceAccount::Gateway.dn(),
        app.slapd.password(ServiceAccount::Gateway),
    );
    let mut connections = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let credentials = (gateway_account.0.as_str(), gateway_account.1.as_str());
        connections.push(ldap::connect_as(&app.slapd.url(), credentials).await);
    }
    let connections = Arc::new(connections);
    let searches = bench::closed_loop(CLIENTS, span, {
        let (connections, uids) = (Arc::clone(&connections), Arc::clone(&uids));
        move |client, sequence| {
            let mut connection = connections[client].clone();
            let uid = uids[(client + sequence * CLIENTS) % ACCOUNTS].clone();
            async move {
                let (entries, _) = connection
                    .search(
                        "ou=people,dc=example,dc=org",
                        ldap3::Scope::Subtree,
                        &format!("(uid={uid})"),
                        vec!["*"],
                    )
                    .await
                    .and_then(|result| result.success())
                    .expect("the search succeeds");
                assert_eq!(entries.len(), 1, "{uid} is found");
            }
        }
    })
    .await;

    println!("raw argon2id verifications for {span:.0?}...");
    let hasher = PasswordHasher::new(app.settings.argon2).expect("argon2 settings");
    let verifies = bench::raw_argon2_rate(&hasher, Argon2Operation::Verify, HASH_THREADS, span);

    println!();
    println!("{CLIENTS} concurrent clients, {ACCOUNTS} accounts, {span:.0?} per phase");
    println!("{}", sign_ins.line("sign-ins (POST /api/session)"));
    println!("{}", reads.line("account reads (GET /api/account)"));
    println!("{}", searches.line("raw ldap3 searches (same entries)"));
    println!("raw argon2id verifications         {verifies:>9.1}/s   ({HASH_THREADS} threads)");
    println!(
        "sign-ins / raw verifications:      {:.2}",
        sign_ins.per_second / verifies
    );
    println!(
        "account reads / raw searches:      {:.2}",
        reads.per_second / searches.per_second
    );
}

/// A loopback address of its own for client `index`: 127.0.1.1, 127.0.1.2, ...
fn client_address(index: usize) -> IpAddr {
    let last = u8::try_from(index + 1).expect("fewer than 255 clients");
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, last))
}
