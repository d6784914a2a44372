//! The cumulative lockout: failed passwords and codes in a row are counted
//! in the directory (so every replica and restart sees them), and past
//! `gateway.rate_limit.lockout_after` the password alone signs in no more,
//! until the second factor or an operator lifts it.

use latchkey_core::clock::Clock;
use latchkey_tests::demo::{ALICE, BOB};
use latchkey_tests::{AppOptions, TestApp, oathtool, spawn_app};
use serde_json::{Value, json};

const LOCKOUT_AFTER: u32 = 3;

/// Options whose window limits stay out of the way of the lockout.
fn lockout_options() -> AppOptions {
    AppOptions {
        account_failures: 1000,
        address_failures: 1000,
        settings: vec![(
            "GATEWAY__RATE_LIMIT__LOCKOUT_AFTER",
            LOCKOUT_AFTER.to_string(),
        )],
        ..AppOptions::default()
    }
}

async fn sign_in(app: &TestApp, uid: &str, password: &str) -> (u16, Value) {
    let body = json!({"username": uid, "password": password});
    let response = app.post(&app.client(), "/api/session", body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn failures_in_a_row(app: &TestApp, uid: &str) -> Option<String> {
    let entry = app.account_entry(uid).await;
    entry
        .attrs
        .get("latchkeyFailedSignIns")
        .and_then(|values| values.first().cloned())
}

#[tokio::test]
async fn a_locked_account_opens_to_nothing_but_an_operator_lifting_it() {
    let app = spawn_app(lockout_options()).await;
    for _ in 0..LOCKOUT_AFTER {
        assert_eq!(sign_in(&app, BOB.0, "wrong").await.0, 401);
    }
    let (status, problem) = sign_in(&app, BOB.0, BOB.1).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (403, Some("/problems/account-locked")),
        "the right password no longer opens it: {problem}"
    );
    assert_eq!(
        sign_in(&app, ALICE.0, ALICE.1).await.0,
        200,
        "others are unaffected"
    );

    // The operator lifts it with the real tool, as its own account.
    app.admin(&["accounts", "unlock", "nobody"], &[])
        .failed_with(1, "no account has the uid `nobody`");
    let unlocked = app.admin(&["accounts", "unlock", BOB.0], &[]);
    assert_eq!(unlocked.code(), Some(0), "{}", unlocked.stderr());
    assert!(
        unlocked
            .stdout()
            .contains("3 failed sign-ins in a row forgotten"),
        "{}",
        unlocked.stdout()
    );
    assert_eq!(sign_in(&app, BOB.0, BOB.1).await.0, 200);
}

#[tokio::test]
async fn only_failures_in_a_row_count() {
    let app = spawn_app(lockout_options()).await;
    for _ in 0..LOCKOUT_AFTER - 1 {
        assert_eq!(sign_in(&app, BOB.0, "wrong").await.0, 401);
    }
    assert_eq!(failures_in_a_row(&app, BOB.0).await.as_deref(), Some("2"));
    assert_eq!(
        sign_in(&app, BOB.0, BOB.1).await.0,
        200,
        "a success forgets them"
    );
    assert_eq!(failures_in_a_row(&app, BOB.0).await, None);
    for _ in 0..LOCKOUT_AFTER - 1 {
        assert_eq!(sign_in(&app, BOB.0, "wrong").await.0, 401);
    }
    assert_eq!(sign_in(&app, BOB.0, BOB.1).await.0, 200);
}

#[tokio::test]
async fn parallel_failures_are_each_counted_once() {
    let app = spawn_app(AppOptions {
        settings: vec![("GATEWAY__RATE_LIMIT__LOCKOUT_AFTER", "1000".into())],
        ..lockout_options()
    })
    .await;
    let attempts = (0..12).map(|_| sign_in(&app, BOB.0, "wrong"));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    assert_eq!(statuses, [401; 12]);
    assert_eq!(failures_in_a_row(&app, BOB.0).await.as_deref(), Some("12"));
}

#[tokio::test]
async fn a_sign_in_with_the_second_factor_lifts_the_lockout() {
    let app = spawn_app(lockout_options()).await;
    let client = app.signed_in(ALICE).await;
    let (secret, _) = app.enable_totp(&client).await;
    for _ in 0..LOCKOUT_AFTER {
        assert_eq!(sign_in(&app, ALICE.0, "wrong").await.0, 401);
    }
    let (status, challenge) = sign_in(&app, ALICE.0, ALICE.1).await;
    assert_eq!(status, 200, "the second factor is asked for: {challenge}");
    assert_eq!(challenge["second_factor_required"], true);

    app.clock.advance(time::Duration::seconds(30));
    let code = oathtool(&secret, app.clock.now());
    let body = json!({"challenge": challenge["challenge"], "code": code});
    let response = app.post(&app.client(), "/api/session/totp", body).await;
    assert_eq!(response.status(), 200, "the code signs in");
    assert_eq!(
        failures_in_a_row(&app, ALICE.0).await,
        None,
        "and lifts the lock"
    );
}
