use latchkey_tests::demo::{self, ALICE, CAROL, DAVE};
use latchkey_tests::ldap;
use latchkey_tests::{AppOptions, spawn_app};
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "Quietly-Orbiting-Walrus-93";

#[tokio::test]
async fn a_changed_password_opens_an_ldap_bind_and_the_old_one_does_not() {
    let app = spawn_app(AppOptions::default()).await;
    let client = app.signed_in(ALICE).await;
    let job = app.change_password(&client, ALICE.1, NEW_PASSWORD).await;
    let finished = app.finished_job(&client, &job).await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert_eq!(finished["attempts"], 1);
    assert_eq!(
        (finished["done"].as_u64(), finished["total"].as_u64()),
        (Some(1), Some(1))
    );

    let dn = demo::dn("alice");
    assert!(ldap::bind_succeeds(&app.slapd.url(), &dn, NEW_PASSWORD).await);
    assert!(!ldap::bind_succeeds(&app.slapd.url(), &dn, ALICE.1).await);
    // The portal follows the directory too.
    app.signed_in(("alice", NEW_PASSWORD)).await;
    let old = json!({"username": "alice", "password": ALICE.1});
    assert_eq!(
        app.post(&app.client(), "/api/session", old).await.status(),
        401
    );

    let entry = app.account_entry("alice").await;
    let primary = &entry.attrs["latchkeyPrimaryPassword"][0];
    assert!(primary.starts_with("{ARGON2}$argon2id$"), "{primary}");
    assert_eq!(entry.attrs["userPassword"], vec![primary.clone()]);
    assert_eq!(entry.attrs["latchkeyRevision"], vec!["1".to_owned()]);
    assert_eq!(
        entry.attrs["latchkeyFeatureJob"],
        vec![format!("password={job}")]
    );
    assert!(entry.attrs.contains_key("latchkeyPasswordChanged"));
}

#[tokio::test]
async fn a_legacy_account_becomes_managed_with_its_first_change() {
    let app = spawn_app(AppOptions::default()).await;
    for (index, (uid, password)) in [CAROL, DAVE].into_iter().enumerate() {
        let client = app.signed_in((uid, password)).await;
        let new = format!("{NEW_PASSWORD}-{index}");
        let job = app.change_password(&client, password, &new).await;
        assert_eq!(app.finished_job(&client, &job).await["state"], "succeeded");
        let dn = demo::dn(uid);
        assert!(
            ldap::bind_succeeds(&app.slapd.url(), &dn, &new).await,
            "{uid}"
        );
        assert!(
            !ldap::bind_succeeds(&app.slapd.url(), &dn, password).await,
            "{uid}"
        );
        let entry = app.account_entry(uid).await;
        assert!(
            entry.attrs["objectClass"]
                .iter()
                .any(|class| class == "latchkeyAccount")
        );
        assert_eq!(
            entry.attrs["userPassword"],
            entry.attrs["latchkeyPrimaryPassword"]
        );
        app.signed_in((uid, &new)).await;
    }
}

#[tokio::test]
async fn every_policy_refusal_names_its_rule_and_queues_nothing() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let cases = [
        ("Short-1!", "too-short"),
        (&*"Xy7#".repeat(65), "too-long"),
        ("Tea-with-Alice-at-four-42", "contains-identity"),
        ("password1234", "common-password"),
        ("aaaaaaaaaaaaaaaaaaaa", "too-guessable"),
        (ALICE.1, "unchanged"),
    ];
    for (new, rule) in cases {
        let response = app
            .post(
                &client,
                "/api/password",
                json!({"current": ALICE.1, "new": new}),
            )
            .await;
        assert_eq!(response.status(), 422, "{rule}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["type"], "/problems/password-policy");
        assert_eq!(body["rule"], rule);
        assert_eq!(body["field"], "new");
        assert!(!body["detail"].as_str().unwrap().is_empty());
    }
    let jobs = app.job_entries().await;
    assert!(jobs.is_empty(), "no job was recorded");
}

#[tokio::test]
async fn a_wrong_current_password_is_refused_and_counted() {
    let app = spawn_app(AppOptions {
        workers: 0,
        account_failures: 2,
        ..Default::default()
    })
    .await;
    let client = app.signed_in(ALICE).await;
    let attempt = json!({"current": "not-it", "new": NEW_PASSWORD});
    let response = app.post(&client, "/api/password", attempt.clone()).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["field"], "current");
    assert_eq!(
        app.post(&client, "/api/password", attempt.clone())
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post(&client, "/api/password", attempt).await.status(),
        429
    );
}

#[tokio::test]
async fn a_password_change_ends_the_accounts_other_sessions_only() {
    let app = spawn_app(AppOptions::default()).await;
    let here = app.signed_in(ALICE).await;
    let elsewhere = app.signed_in(ALICE).await;
    let bob = app.signed_in(demo::BOB).await;
    let job = app.change_password(&here, ALICE.1, NEW_PASSWORD).await;
    assert_eq!(app.finished_job(&here, &job).await["state"], "succeeded");
    assert_eq!(app.get(&here, "/api/account").await.status(), 200);
    assert_eq!(app.get(&elsewhere, "/api/account").await.status(), 401);
    assert_eq!(app.get(&bob, "/api/account").await.status(), 200);
}

#[tokio::test]
async fn an_unreachable_broker_gives_503_and_leaves_no_job() {
    let port = latchkey_tests::slapd::free_port();
    let app = spawn_app(AppOptions {
        workers: 0,
        broker_url: Some(format!("amqp://guest:guest@127.0.0.1:{port}/%2f")),
        ..Default::default()
    })
    .await;
    let client = app.signed_in(ALICE).await;
    let response = app
        .post(
            &client,
            "/api/password",
            json!({"current": ALICE.1, "new": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "/problems/broker-unavailable");
    let jobs = app.job_entries().await;
    assert!(jobs.is_empty(), "the unqueued job's record is gone");
    assert!(ldap::bind_succeeds(&app.slapd.url(), &demo::dn("alice"), ALICE.1).await);
}
