//! The failure limits against bursts, look-alike names, proxies and shared
//! addresses, and the even timing of wrong passwords, on the real gateway
//! and slapd.

use latchkey_tests::client::Client;
use latchkey_tests::demo::{ALICE, CAROL};
use latchkey_tests::{AppOptions, TestApp, spawn_app};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

async fn sign_in_status(app: &TestApp, client: &Client, name: &str, password: &str) -> u16 {
    let body = json!({"username": name, "password": password});
    app.post(client, "/api/session", body)
        .await
        .status()
        .as_u16()
}

/// How many answers of each status `statuses` holds.
fn tally(statuses: impl IntoIterator<Item = u16>) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for status in statuses {
        *counts.entry(status).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn a_burst_of_wrong_sign_ins_gets_no_more_than_the_limit_to_a_password_check() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let attempts = (0..50).map(|n| {
        let app = &app;
        async move {
            let client = app.client();
            sign_in_status(app, &client, ALICE.0, &format!("wrong guess {n}")).await
        }
    });
    let counts = tally(futures_util::future::join_all(attempts).await);
    eprintln!("50 parallel wrong sign-ins: {counts:?} (401: reached a password check)");
    assert_eq!(
        counts,
        BTreeMap::from([(401, 5), (429, 45)]),
        "the limit is 5"
    );
    let client = app.client();
    assert_eq!(
        sign_in_status(&app, &client, ALICE.0, ALICE.1).await,
        429,
        "the account waits out its window, even with the right password"
    );
}

#[tokio::test]
async fn look_alike_spellings_of_a_name_share_one_counter() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let spellings = [
        "alice",
        "ALICE",
        " alice ",
        "Alice",
        "\u{ff41}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}",
        "\u{ff21}\u{ff2c}\u{ff29}\u{ff23}\u{ff25}",
    ];
    let client = app.client();
    let mut statuses = Vec::new();
    for round in 0..3 {
        for spelling in spellings {
            let guess = format!("wrong {round}");
            statuses.push(sign_in_status(&app, &client, spelling, &guess).await);
        }
    }
    let counts = tally(statuses);
    eprintln!("18 wrong guesses over 6 spellings: {counts:?}");
    assert_eq!(counts.get(&401), Some(&5), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&13), "{counts:?}");
}

/// Options with a small per-address limit that refuses past it, and an
/// account limit out of the way.
fn address_limited(address_delay_ms: u64, trusted_proxies: &str) -> AppOptions {
    AppOptions {
        account_failures: 1000,
        address_failures: 3,
        settings: vec![
            (
                "GATEWAY__RATE_LIMIT__ADDRESS_DELAY_MS",
                address_delay_ms.to_string(),
            ),
            ("GATEWAY__TRUSTED_PROXIES", trusted_proxies.to_owned()),
        ],
        ..AppOptions::without_workers()
    }
}

/// Sends a wrong sign-in for a fresh unknown name from `client`, claiming
/// to forward for `forwarded_for` if given; returns the status.
async fn wrong_sign_in(client: &Client, forwarded_for: Option<&str>) -> u16 {
    let name = format!("nobody-{}", uuid::Uuid::new_v4());
    let mut request = client
        .request_to(reqwest::Method::POST, "/api/session")
        .json(&json!({"username": name, "password": "wrong"}));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn forwarding_headers_count_only_from_a_trusted_proxy() {
    let app = spawn_app(address_limited(0, "127.0.0.9/32")).await;

    // An untrusted peer cannot pick the address it counts under.
    let direct = app.client_from(loopback(2));
    let mut statuses = Vec::new();
    for n in 0..4 {
        let claimed = format!("198.51.100.{n}");
        statuses.push(wrong_sign_in(&direct, Some(&claimed)).await);
    }
    assert_eq!(statuses, [401, 401, 401, 429], "counted under 127.0.0.2");

    // The trusted proxy's header names the client, and its clients count apart.
    let proxy = app.client_from(loopback(9));
    let first: Vec<u16> =
        futures_util::future::join_all((0..4).map(|_| wrong_sign_in(&proxy, Some("203.0.113.7"))))
            .await;
    assert_eq!(tally(first), BTreeMap::from([(401, 3), (429, 1)]));
    assert_eq!(
        wrong_sign_in(&proxy, Some("203.0.113.8")).await,
        401,
        "another client of the proxy has its own count"
    );
    assert_eq!(
        wrong_sign_in(&proxy, Some("203.0.113.7, 127.0.0.9")).await,
        429,
        "the chain is read past trusted hops"
    );
}

#[tokio::test]
async fn two_source_addresses_are_kept_apart() {
    let app = spawn_app(address_limited(0, "")).await;
    let busy = app.client_from(loopback(3));
    for _ in 0..3 {
        assert_eq!(wrong_sign_in(&busy, None).await, 401);
    }
    assert_eq!(wrong_sign_in(&busy, None).await, 429);
    let limited = sign_in_status(&app, &busy, ALICE.0, ALICE.1).await;
    assert_eq!(limited, 429, "refusing: locked out until the window ends");

    let other = app.client_from(loopback(4));
    assert_eq!(wrong_sign_in(&other, None).await, 401);
    assert_eq!(sign_in_status(&app, &other, ALICE.0, ALICE.1).await, 200);
}

#[tokio::test]
async fn a_delaying_address_limit_lets_a_user_behind_a_busy_address_sign_in() {
    let app = spawn_app(address_limited(200, "")).await;
    let shared = app.client_from(loopback(5));
    for _ in 0..3 {
        assert_eq!(wrong_sign_in(&shared, None).await, 401);
    }
    assert_eq!(
        wrong_sign_in(&shared, None).await,
        401,
        "past the limit a guess waits its turn and is still checked"
    );
    assert_eq!(
        sign_in_status(&app, &shared, ALICE.0, ALICE.1).await,
        200,
        "a user behind the same NAT still gets in"
    );
    // More at once than the longest wait allows are refused.
    let burst = futures_util::future::join_all((0..80).map(|_| wrong_sign_in(&shared, None))).await;
    let counts = tally(burst);
    assert!(
        counts.get(&429).is_some_and(|refused| *refused > 0),
        "{counts:?}"
    );
}

/// The least time of `samples`: the run least disturbed by whatever else
/// shares the CPU, so the cost of the work itself shows, not the load.
fn quickest(samples: &[Duration]) -> Duration {
    samples.iter().copied().min().expect("samples were taken")
}

#[tokio::test]
async fn wrong_passwords_take_as_long_for_legacy_argon2_and_unknown_accounts() {
    let app = spawn_app(AppOptions {
        account_failures: 1000,
        address_failures: 1000,
        ..AppOptions::without_workers()
    })
    .await;
    let client = app.client();
    let kinds = [
        ("legacy", CAROL.0),
        ("argon2", ALICE.0),
        ("unknown", "nobody-at-all"),
    ];
    // Warm the connections and the directory's caches.
    for (_, name) in kinds {
        sign_in_status(&app, &client, name, "warming up").await;
    }
    let mut samples: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for round in 0..25 {
        for (kind, name) in kinds {
            let started = Instant::now();
            let status = sign_in_status(&app, &client, name, &format!("wrong {round}")).await;
            assert_eq!(status, 401, "{kind}");
            samples.entry(kind).or_default().push(started.elapsed());
        }
    }
    let quickest: BTreeMap<&str, Duration> = samples
        .iter()
        .map(|(kind, samples)| (*kind, quickest(samples)))
        .collect();
    eprintln!("quickest wrong password of each kind: {quickest:?}");
    let fastest = quickest.values().min().unwrap().as_secs_f64();
    let slowest = quickest.values().max().unwrap().as_secs_f64();
    // Skipping the password hash for one kind makes its answer ten times
    // quicker or more; the bound leaves room for a loaded machine's noise.
    assert!(
        slowest / fastest < 2.5,
        "the three must not be told apart: {quickest:?}"
    );
}
