//! Step-up: a session that has not proved its password (and second factor)
//! within `gateway.reauthentication_minutes` cannot make the changes a thief
//! would want without them, and changes to how the account is proved end
//! its other sessions.

use latchkey_core::clock::Clock;
use latchkey_tests::client::Client;
use latchkey_tests::demo::ALICE;
use latchkey_tests::keys::GpgHome;
use latchkey_tests::{AppOptions, TestApp, oathtool, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

/// Moves the gateway's clock past the reauthentication window (5 minutes).
fn let_the_session_go_stale(app: &TestApp) {
    app.clock.advance(time::Duration::minutes(6));
}

async fn send(client: &Client, method: &Method, path: &str, body: Value) -> (u16, Value) {
    let request = client.request_to(method.clone(), path);
    let request = match body {
        Value::Null => request,
        body => request.json(&body),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let answer = match status {
        204 => Value::Null,
        _ => response.json().await.unwrap_or(Value::Null),
    };
    (status, answer)
}

/// Sends `body` as is, then with `proof` added; the first must be refused
/// with `problem`, the second accepted (202), and its job must succeed.
async fn refused_then_accepted(
    app: &TestApp,
    client: &Client,
    (method, path): (Method, &str),
    body: Value,
    proof: Value,
    problem: &str,
) -> Value {
    let (status, answer) = send(client, &method, path, body.clone()).await;
    assert_eq!(
        (status, answer["type"].as_str()),
        (403, Some(problem)),
        "{method} {path} without proof: {answer}"
    );
    let mut proved = match body {
        Value::Null => json!({}),
        body => body,
    };
    proved
        .as_object_mut()
        .unwrap()
        .extend(proof.as_object().unwrap().clone());
    let (status, answer) = send(client, &method, path, proved).await;
    assert_eq!(status, 202, "{method} {path} with proof: {answer}");
    let job = app
        .finished_job(client, answer["job"]["id"].as_str().unwrap())
        .await;
    assert_eq!(job["state"], "succeeded", "{method} {path}: {job}");
    answer
}

/// Whether `client`'s session still opens the account.
async fn still_signed_in(app: &TestApp, client: &Client) -> bool {
    app.get(client, "/api/account").await.status() == 200
}

#[tokio::test]
async fn each_change_a_thief_would_want_needs_the_password_once_the_session_is_stale() {
    let app = spawn_app(AppOptions::default()).await;
    let gpg = GpgHome::new();
    let client = app.signed_in(ALICE).await;
    let password = json!({"password": ALICE.1});
    let required = "/problems/password-required";

    let key = gpg.alice_key();
    let_the_session_go_stale(&app);
    let encryption = json!({"method": "openpgp", "algorithm": "aes-256", "keys": [key]});
    refused_then_accepted(
        &app,
        &client,
        (Method::PUT, "/api/encryption"),
        encryption.clone(),
        password.clone(),
        required,
    )
    .await;
    // The proof counts as a fresh one: the next change needs none.
    let (status, answer) = send(&client, &Method::PUT, "/api/encryption", encryption).await;
    assert_eq!(status, 202, "right after a step-up: {answer}");
    app.finished_job(&client, answer["job"]["id"].as_str().unwrap())
        .await;

    for (route, body) in [
        (
            (Method::POST, "/api/app-passwords"),
            json!({"name": "Phone"}),
        ),
        ((Method::DELETE, "/api/app-passwords"), Value::Null),
        ((Method::DELETE, "/api/encryption"), Value::Null),
    ] {
        let_the_session_go_stale(&app);
        refused_then_accepted(&app, &client, route, body, password.clone(), required).await;
    }

    let_the_session_go_stale(&app);
    let started: Value = app
        .post(&client, "/api/totp/enrolment", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let secret = started["secret"].as_str().unwrap().to_owned();
    let confirm = json!({"token": started["token"], "code": oathtool(&secret, app.clock.now())});
    refused_then_accepted(
        &app,
        &client,
        (Method::POST, "/api/totp"),
        confirm,
        password.clone(),
        required,
    )
    .await;

    // With 2FA on, the password alone is not enough.
    let both = "/problems/password-and-code-required";
    let_the_session_go_stale(&app);
    let (status, answer) = send(
        &client,
        &Method::POST,
        "/api/totp/recovery-codes",
        password.clone(),
    )
    .await;
    assert_eq!((status, answer["type"].as_str()), (403, Some(both)));
    let code = oathtool(&secret, app.clock.now());
    refused_then_accepted(
        &app,
        &client,
        (Method::POST, "/api/totp/recovery-codes"),
        Value::Null,
        json!({"password": ALICE.1, "code": code}),
        both,
    )
    .await;

    let_the_session_go_stale(&app);
    let code = oathtool(&secret, app.clock.now());
    refused_then_accepted(
        &app,
        &client,
        (Method::DELETE, "/api/totp"),
        Value::Null,
        json!({"password": ALICE.1, "code": code}),
        both,
    )
    .await;
}

#[tokio::test]
async fn a_wrong_proof_is_refused_even_in_a_fresh_session() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let (status, answer) = send(
        &client,
        &Method::POST,
        "/api/app-passwords",
        json!({"name": "Phone", "password": "not it"}),
    )
    .await;
    assert_eq!(
        (status, answer["type"].as_str()),
        (403, Some("/problems/wrong-password"))
    );
}

#[tokio::test]
async fn changing_the_second_factor_or_turning_encryption_off_ends_the_other_sessions() {
    let app = spawn_app(AppOptions::default()).await;
    let gpg = GpgHome::new();
    let client = app.signed_in(ALICE).await;
    let other = app.signed_in(ALICE).await;

    let (secret, _) = app.enable_totp(&client).await;
    assert!(
        still_signed_in(&app, &client).await,
        "the session that enrolled stays"
    );
    assert!(
        !still_signed_in(&app, &other).await,
        "enrolling ended the other session"
    );

    // Each code is taken once: every use below is in a later time step.
    app.clock.advance(time::Duration::seconds(30));
    let other = app.signed_in_with_totp(ALICE, &secret).await;
    app.clock.advance(time::Duration::seconds(30));
    let body = json!({"password": ALICE.1, "code": oathtool(&secret, app.clock.now())});
    let (status, answer) = send(&client, &Method::DELETE, "/api/totp", body).await;
    assert_eq!(status, 202, "{answer}");
    app.finished_job(&client, answer["job"]["id"].as_str().unwrap())
        .await;
    assert!(still_signed_in(&app, &client).await);
    assert!(
        !still_signed_in(&app, &other).await,
        "removing 2FA ended the other session"
    );

    let key = gpg.alice_key();
    let on = json!({"method": "openpgp", "algorithm": "aes-256", "keys": [key]});
    let (status, answer) = send(&client, &Method::PUT, "/api/encryption", on).await;
    assert_eq!(status, 202, "{answer}");
    app.finished_job(&client, answer["job"]["id"].as_str().unwrap())
        .await;
    let other = app.signed_in(ALICE).await;
    let (status, answer) = send(&client, &Method::DELETE, "/api/encryption", Value::Null).await;
    assert_eq!(status, 202, "{answer}");
    assert!(still_signed_in(&app, &client).await);
    assert!(
        !still_signed_in(&app, &other).await,
        "turning encryption off ended the other session"
    );
}
