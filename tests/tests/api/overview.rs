//! The overview says what to do: each protection's state, and one
//! suggestion where something is weak, on the API and the page alike.

use latchkey_tests::demo::BOB;
use latchkey_tests::keys::GpgHome;
use latchkey_tests::{AppOptions, spawn_app};
use serde_json::{Value, json};

#[tokio::test]
async fn the_overview_suggests_the_weakest_protection_first() {
    let app = spawn_app(AppOptions::default()).await;
    let client = app.signed_in(BOB).await;
    let overview = app.get_json(&client, "/api/account").await;
    assert_eq!(overview["suggestion"]["kind"], "turn_on_second_factor");
    assert_eq!(overview["suggestion"]["page"], "/two-factor");
    assert_eq!(
        overview["password_age_days"],
        Value::Null,
        "never changed here"
    );
    let page = app.get(&client, "/account").await.text().await.unwrap();
    assert!(page.contains("What to do next"), "{page}");
    assert!(
        page.contains("Turn on two-factor authentication: with it"),
        "{page}"
    );

    let (secret, _) = app.enable_totp(&client).await;
    let overview = app.get_json(&client, "/api/account").await;
    assert_eq!(overview["two_factor"]["enabled"], true);
    assert_eq!(
        overview["suggestion"],
        Value::Null,
        "nothing is weak: {overview}"
    );
    let page = app.get(&client, "/account").await.text().await.unwrap();
    assert!(!page.contains("What to do next"), "{page}");

    let response = app
        .post(
            &client,
            "/api/app-passwords",
            json!({"name": "Old phone", "scopes": ["imap"], "password": BOB.1}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let job: Value = response.json().await.unwrap();
    let job = job["job"]["id"].as_str().unwrap();
    assert_eq!(app.finished_job(&client, job).await["state"], "succeeded");
    let overview = app.get_json(&client, "/api/account").await;
    assert_eq!(
        overview["suggestion"],
        Value::Null,
        "a new app password is not idle"
    );

    app.clock.advance(time::Duration::days(90));
    let client = app.signed_in_with_totp(BOB, &secret).await;
    let overview = app.get_json(&client, "/api/account").await;
    assert_eq!(
        overview["suggestion"]["kind"], "revoke_idle_app_password",
        "{overview}"
    );
    assert_eq!(overview["suggestion"]["name"], "Old phone");
    assert_eq!(overview["suggestion"]["page"], "/app-passwords");
    let page = app.get(&client, "/account").await.text().await.unwrap();
    assert!(page.contains("has not been used for 90 days"), "{page}");
    assert!(page.contains("Old phone: not used yet"), "{page}");
}

#[tokio::test]
async fn a_key_that_expires_within_30_days_is_the_suggestion_once_a_second_factor_is_on() {
    // Made before the gateway's clock starts: a key is not valid before it exists.
    let gpg = GpgHome::new();
    let fingerprint = gpg.generate(
        "Bob Builder <bob@example.org>",
        "ed25519",
        Some("cv25519"),
        "20d",
    );
    let app = spawn_app(AppOptions::default()).await;
    let client = app.signed_in(BOB).await;
    let (_secret, _) = app.enable_totp(&client).await;
    let body =
        json!({"method": "openpgp", "algorithm": "aes-256", "keys": [gpg.export(&fingerprint)]});
    let response = app.put(&client, "/api/encryption", body).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let accepted: Value = response.json().await.unwrap();
    let job = accepted["job"]["id"].as_str().unwrap();
    assert_eq!(app.finished_job(&client, job).await["state"], "succeeded");

    let overview = app.get_json(&client, "/api/account").await;
    assert_eq!(overview["encryption"]["enabled"], true);
    assert!(
        overview["encryption"]["key_expires"].is_string(),
        "{overview}"
    );
    assert_eq!(
        overview["suggestion"]["kind"], "replace_expiring_key",
        "{overview}"
    );
    assert_eq!(overview["suggestion"]["page"], "/encryption");
    let page = app.get(&client, "/account").await.text().await.unwrap();
    assert!(
        page.contains("An encryption key expires within 30 days"),
        "{page}"
    );
}
