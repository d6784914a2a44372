//! Two gateway replicas over one directory, as behind a load balancer:
//! what one accepts or ends, the other knows, because sessions, TOTP steps,
//! proofs and failure counts live in the directory, not in a replica.

use latchkey_core::clock::Clock;
use latchkey_tests::demo::{ALICE, BOB};
use latchkey_tests::{AppOptions, TestApp, oathtool, spawn_app};
use serde_json::{Value, json};

async fn status(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Starts the password step of a sign-in at the gateway `base`; answers the challenge.
async fn challenge_at(app: &TestApp, base: &str) -> Value {
    let client = app.client().at(base);
    let body = json!({"username": ALICE.0, "password": ALICE.1});
    let (code, answer) = status(app.post(&client, "/api/session", body).await).await;
    assert_eq!(code, 200, "{answer}");
    answer["challenge"].clone()
}

#[tokio::test]
async fn a_totp_code_used_at_one_replica_is_refused_at_the_other() {
    let app = spawn_app(AppOptions::default()).await;
    let replica = app.start_replica().await;
    let client = app.signed_in(ALICE).await;
    let (secret, _) = app.enable_totp(&client).await;
    app.clock.advance(time::Duration::seconds(30));
    let code = oathtool(&secret, app.clock.now());

    let first = json!({"challenge": challenge_at(&app, &app.address).await, "code": code});
    let signed = app.post(&app.client(), "/api/session/totp", first).await;
    assert_eq!(signed.status(), 200);
    let again = json!({"challenge": challenge_at(&app, &replica).await, "code": code});
    let (refused, problem) = status(
        app.post(&app.client().at(&replica), "/api/session/totp", again)
            .await,
    )
    .await;
    assert_eq!(
        (refused, problem["type"].as_str()),
        (403, Some("/problems/code-already-used")),
        "{problem}"
    );
}

#[tokio::test]
async fn signing_out_at_one_replica_ends_the_session_at_the_other() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let replica = app.start_replica().await;
    let client = app.signed_in(BOB).await;
    let elsewhere = client.at(&replica);
    assert_eq!(app.get(&elsewhere, "/api/account").await.status(), 200);
    assert_eq!(
        app.delete(&client, "/api/session", None).await.status(),
        204
    );
    assert_eq!(app.get(&elsewhere, "/api/account").await.status(), 401);
}

#[tokio::test]
async fn a_step_up_at_one_replica_counts_at_the_other() {
    let app = spawn_app(AppOptions::default()).await;
    let replica = app.start_replica().await;
    let client = app.signed_in(BOB).await;
    let elsewhere = client.at(&replica);
    app.clock.advance(time::Duration::minutes(6));

    let new = |name: &str| json!({"name": name});
    let (refused, _) = status(
        app.post(&elsewhere, "/api/app-passwords", new("Phone"))
            .await,
    )
    .await;
    assert_eq!(refused, 403, "stale at the replica too");
    let proved = json!({"name": "Phone", "password": BOB.1});
    let (accepted, _) = status(app.post(&client, "/api/app-passwords", proved).await).await;
    assert_eq!(accepted, 202);
    let (accepted, answer) = status(
        app.post(&elsewhere, "/api/app-passwords", new("Laptop"))
            .await,
    )
    .await;
    assert_eq!(
        accepted, 202,
        "the proof made at the first replica counts: {answer}"
    );
}

#[tokio::test]
async fn failures_at_both_replicas_add_up_to_one_lockout() {
    let app = spawn_app(AppOptions {
        account_failures: 1000,
        address_failures: 1000,
        settings: vec![("GATEWAY__RATE_LIMIT__LOCKOUT_AFTER", "4".into())],
        ..AppOptions::without_workers()
    })
    .await;
    let replica = app.start_replica().await;
    for base in [&app.address, &replica, &app.address, &replica] {
        let body = json!({"username": BOB.0, "password": "wrong"});
        let client = app.client().at(base);
        assert_eq!(app.post(&client, "/api/session", body).await.status(), 401);
    }
    for base in [&app.address, &replica] {
        let body = json!({"username": BOB.0, "password": BOB.1});
        let (locked, problem) =
            status(app.post(&app.client().at(base), "/api/session", body).await).await;
        assert_eq!(
            (locked, problem["type"].as_str()),
            (403, Some("/problems/account-locked")),
            "at {base}"
        );
    }
}
