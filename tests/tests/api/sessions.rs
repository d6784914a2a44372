use latchkey_tests::demo::{ALICE, BOB, CAROL, DAVE, ERIN};
use latchkey_tests::{AppOptions, spawn_app};
use serde_json::{Value, json};

#[tokio::test]
async fn the_right_password_opens_a_session_that_shows_the_account() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.client();
    let response = app
        .post(
            &client,
            "/api/session",
            json!({"username": "alice", "password": ALICE.1}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Max-Age="), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http serves no Secure cookie: {cookie}"
    );

    let account: Value = app.get_json(&client, "/api/account").await;
    assert_eq!(account["uid"], "alice");
    assert_eq!(account["name"], "Alice Liddell");
    assert_eq!(account["mail"], "alice@example.org");
    assert_eq!(account["two_factor"]["enabled"], false);
    assert_eq!(account["app_passwords"]["count"], 0);
    assert_eq!(account["encryption"]["enabled"], false);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.client();
    let wrong = app
        .post(
            &client,
            "/api/session",
            json!({"username": "alice", "password": "not-her-password"}),
        )
        .await;
    let unknown = app
        .post(
            &client,
            "/api/session",
            json!({"username": "mallory", "password": "not-her-password"}),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    let wrong: Value = wrong.json().await.unwrap();
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["type"], "/problems/invalid-credentials");
    assert_eq!(app.get(&client, "/api/account").await.status(), 401);
}

#[tokio::test]
async fn repeated_failures_for_one_account_are_rate_limited_with_retry_after() {
    let app = spawn_app(AppOptions {
        workers: 0,
        account_failures: 3,
        ..Default::default()
    })
    .await;
    let client = app.client();
    let wrong = json!({"username": "alice", "password": "guess"});
    for _ in 0..3 {
        assert_eq!(
            app.post(&client, "/api/session", wrong.clone())
                .await
                .status(),
            401
        );
    }
    let limited = app.post(&client, "/api/session", wrong).await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 300, "{retry_after}");
    // Even the right password waits: the limit is on the account, not the guess.
    let right = json!({"username": "alice", "password": ALICE.1});
    assert_eq!(app.post(&client, "/api/session", right).await.status(), 429);
    // Another account is not affected.
    let bob = json!({"username": "bob", "password": BOB.1});
    assert_eq!(app.post(&client, "/api/session", bob).await.status(), 200);
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_rate_limited_across_accounts() {
    let app = spawn_app(AppOptions {
        workers: 0,
        account_failures: 100,
        address_failures: 4,
        // Refusing past the limit, instead of the default delay.
        settings: vec![("GATEWAY__RATE_LIMIT__ADDRESS_DELAY_MS", "0".into())],
        ..Default::default()
    })
    .await;
    let client = app.client();
    for user in ["alice", "bob", "carol", "mallory"] {
        let attempt = json!({"username": user, "password": "guess"});
        assert_eq!(
            app.post(&client, "/api/session", attempt).await.status(),
            401
        );
    }
    let next = json!({"username": "dave", "password": DAVE.1});
    let limited = app.post(&client, "/api/session", next).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn legacy_accounts_sign_in_with_any_scheme_slapd_verifies() {
    let app = spawn_app(AppOptions::without_workers()).await;
    for (uid, password) in [CAROL, DAVE, ERIN] {
        app.signed_in((uid, password)).await;
        let client = app.client();
        let wrong = json!({"username": uid, "password": format!("{password}x")});
        assert_eq!(
            app.post(&client, "/api/session", wrong).await.status(),
            401,
            "{uid}"
        );
    }
}

#[tokio::test]
async fn filter_injection_in_the_username_matches_nobody() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.client();
    for username in [
        "*)(uid=*",
        "admin)(|(x=*",
        "*",
        "alic*",
        "alice)(objectClass=*",
    ] {
        let attempt = json!({"username": username, "password": ALICE.1});
        let response = app.post(&client, "/api/session", attempt).await;
        assert_eq!(response.status(), 401, "{username}");
    }
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let response = app.delete(&client, "/api/session", None).await;
    assert_eq!(response.status(), 204);
    assert_eq!(app.get(&client, "/api/account").await.status(), 401);
}

#[tokio::test]
async fn a_forged_cookie_is_not_a_session() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let response = reqwest::Client::new()
        .get(format!("{}/api/account", app.address))
        .header("cookie", "latchkey_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "/problems/not-signed-in");
}

#[tokio::test]
async fn the_openapi_description_is_served() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let openapi: Value = app.get_json(&app.client(), "/api/openapi.json").await;
    assert!(openapi["paths"]["/api/password"]["post"].is_object());
}
