use latchkey_core::clock::Clock;
use latchkey_tests::client::Client;
use latchkey_tests::demo::{self, ALICE, BOB};
use latchkey_tests::{AppOptions, TestApp, ldap, spawn_app};
use serde_json::{Value, json};
use time::Duration;

/// Creates an app password for the signed-in `client`; returns its id and secret.
async fn create(app: &TestApp, client: &Client, body: Value) -> (String, String) {
    let response = app.post(client, "/api/app-passwords", body).await;
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    let job = answer["job"]["id"].as_str().unwrap();
    assert_eq!(app.finished_job(client, job).await["state"], "succeeded");
    let id = answer["app_password"]["id"].as_str().unwrap().to_owned();
    (id, answer["secret"].as_str().unwrap().to_owned())
}

async fn revoke(app: &TestApp, client: &Client, path: &str) -> reqwest::Response {
    app.delete(client, path, None).await
}

async fn finish(app: &TestApp, client: &Client, response: reqwest::Response) {
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    let job = answer["job"]["id"].as_str().unwrap();
    assert_eq!(app.finished_job(client, job).await["state"], "succeeded");
}

async fn problem(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let field = body["field"].as_str().unwrap_or_default().to_owned();
    (
        status,
        body["type"].as_str().unwrap_or_default().to_owned(),
        field,
    )
}

fn service_dn(uid: &str, service: &str) -> String {
    format!("cn={service},{}", demo::dn(uid))
}

#[tokio::test]
async fn scopes_decide_which_binds_an_app_password_opens() {
    let app = spawn_app(AppOptions::default()).await;
    let url = app.slapd.url();
    let client = app.signed_in(ALICE).await;
    let (mail_id, mail) = create(&app, &client, json!({"name": "Thunderbird on laptop"})).await;
    let (_, everything) = create(
        &app,
        &client,
        json!({"name": "Old client", "scopes": ["all"]}),
    )
    .await;
    let (_, sending) = create(
        &app,
        &client,
        json!({"name": "Printer", "scopes": ["submission"]}),
    )
    .await;
    assert_eq!(mail.len(), 29, "24 characters in six groups: {mail}");

    assert!(ldap::bind_succeeds(&url, &service_dn("alice", "imap"), &mail).await);
    assert!(ldap::bind_succeeds(&url, &service_dn("alice", "smtp"), &mail).await);
    assert!(!ldap::bind_succeeds(&url, &service_dn("alice", "sieve"), &mail).await);
    assert!(
        !ldap::bind_succeeds(&url, &demo::dn("alice"), &mail).await,
        "scoped: not the account"
    );
    assert!(ldap::bind_succeeds(&url, &demo::dn("alice"), &everything).await);
    assert!(ldap::bind_succeeds(&url, &service_dn("alice", "submission"), &sending).await);
    assert!(!ldap::bind_succeeds(&url, &service_dn("alice", "imap"), &sending).await);
    assert!(
        ldap::bind_succeeds(&url, &demo::dn("alice"), ALICE.1).await,
        "the primary stays"
    );

    let listed: Value = app.get_json(&client, "/api/app-passwords").await;
    let listed = listed["app_passwords"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0]["name"], "Thunderbird on laptop");
    assert_eq!(
        listed[0]["scopes"],
        json!(["imap", "pop3", "submission", "smtp"])
    );
    assert_eq!(listed[0]["expired"], false);
    let text = serde_json::to_string(listed).unwrap();
    assert!(!text.contains("ARGON2") && !text.contains("hash"), "{text}");

    finish(
        &app,
        &client,
        revoke(&app, &client, &format!("/api/app-passwords/{mail_id}")).await,
    )
    .await;
    assert!(
        !ldap::bind_succeeds(&url, &service_dn("alice", "imap"), &mail).await,
        "revoked"
    );
    assert!(
        ldap::bind_succeeds(&url, &demo::dn("alice"), &everything).await,
        "others keep working"
    );
    assert!(ldap::bind_succeeds(&url, &service_dn("alice", "submission"), &sending).await);

    finish(
        &app,
        &client,
        revoke(&app, &client, "/api/app-passwords").await,
    )
    .await;
    assert!(!ldap::bind_succeeds(&url, &demo::dn("alice"), &everything).await);
    assert!(!ldap::bind_succeeds(&url, &service_dn("alice", "submission"), &sending).await);
    assert!(ldap::bind_succeeds(&url, &demo::dn("alice"), ALICE.1).await);
    let entry = app.account_entry("alice").await;
    assert_eq!(
        entry.attrs["userPassword"],
        entry.attrs["latchkeyPrimaryPassword"]
    );
    assert!(!entry.attrs.contains_key("latchkeyAppPassword"));
}

#[tokio::test]
async fn an_app_password_never_opens_the_portal() {
    let app = spawn_app(AppOptions::default()).await;
    let client = app.signed_in(ALICE).await;
    let (_, everything) = create(&app, &client, json!({"name": "Any", "scopes": ["all"]})).await;
    let attempt = json!({"username": "alice", "password": everything});
    assert_eq!(
        app.post(&app.client(), "/api/session", attempt)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn bad_app_password_requests_get_specific_errors() {
    let app = spawn_app(AppOptions {
        settings: vec![("APP_PASSWORDS__MAX_PER_ACCOUNT", "2".into())],
        ..Default::default()
    })
    .await;
    let client = app.signed_in(ALICE).await;
    let cases = [
        (json!({"name": ""}), 422, "/problems/invalid-field", "name"),
        (
            json!({"name": "x".repeat(65)}),
            422,
            "/problems/invalid-field",
            "name",
        ),
        (
            json!({"name": "bell\u{7}"}),
            422,
            "/problems/invalid-field",
            "name",
        ),
        (
            json!({"name": "ok", "scopes": ["imap", "ftp"]}),
            422,
            "/problems/invalid-field",
            "scopes",
        ),
        (
            json!({"name": "ok", "scopes": []}),
            422,
            "/problems/invalid-field",
            "scopes",
        ),
        (
            json!({"name": "ok", "expires_in_days": 0}),
            422,
            "/problems/invalid-field",
            "expires_in_days",
        ),
        (
            json!({"scopes": ["imap"]}),
            422,
            "/problems/missing-field",
            "name",
        ),
    ];
    for (body, status, kind, field) in cases {
        let response = app.post(&client, "/api/app-passwords", body.clone()).await;
        assert_eq!(
            problem(response).await,
            (status, kind.into(), field.into()),
            "{body}"
        );
    }
    let (id, _) = create(&app, &client, json!({"name": "Phone"})).await;
    let same = app
        .post(&client, "/api/app-passwords", json!({"name": "PHONE"}))
        .await;
    assert_eq!(
        problem(same).await,
        (409, "/problems/name-taken".into(), "name".into())
    );
    create(&app, &client, json!({"name": "Tablet"})).await;
    let third = app
        .post(&client, "/api/app-passwords", json!({"name": "Laptop"}))
        .await;
    assert_eq!(problem(third).await.1, "/problems/too-many-app-passwords");

    // Ids that are not the caller's look like ids that do not exist.
    let bob = app.signed_in(BOB).await;
    let foreign = revoke(&app, &bob, &format!("/api/app-passwords/{id}")).await;
    assert_eq!(problem(foreign).await.1, "/problems/not-found");
    let unknown = revoke(
        &app,
        &client,
        &format!("/api/app-passwords/{}", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!(problem(unknown).await.1, "/problems/not-found");
    let nothing = revoke(&app, &bob, "/api/app-passwords").await;
    assert_eq!(problem(nothing).await.1, "/problems/nothing-to-revoke");

    finish(
        &app,
        &client,
        revoke(&app, &client, &format!("/api/app-passwords/{id}")).await,
    )
    .await;
    let twice = revoke(&app, &client, &format!("/api/app-passwords/{id}")).await;
    assert_eq!(problem(twice).await.1, "/problems/not-found");
    let listed: Value = app.get_json(&client, "/api/app-passwords").await;
    assert_eq!(listed["app_passwords"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_stale_session_must_give_the_password_again() {
    let app = spawn_app(AppOptions::default()).await;
    let client = app.signed_in(ALICE).await;
    app.clock.advance(Duration::minutes(6));
    let bare = app
        .post(&client, "/api/app-passwords", json!({"name": "Phone"}))
        .await;
    assert_eq!(
        problem(bare).await,
        (403, "/problems/password-required".into(), "password".into())
    );
    let wrong = app
        .post(
            &client,
            "/api/app-passwords",
            json!({"name": "Phone", "password": "nope"}),
        )
        .await;
    assert_eq!(
        problem(wrong).await,
        (403, "/problems/wrong-password".into(), "password".into())
    );
    create(&app, &client, json!({"name": "Phone", "password": ALICE.1})).await;
}

#[tokio::test]
async fn expired_app_passwords_are_marked_then_swept() {
    let app = spawn_app(AppOptions::default()).await;
    let url = app.slapd.url();
    let client = app.signed_in(ALICE).await;
    let (_, secret) = create(
        &app,
        &client,
        json!({"name": "Trial", "scopes": ["all"], "expires_in_days": 1}),
    )
    .await;
    let (_, lasting) = create(
        &app,
        &client,
        json!({"name": "Lasting", "scopes": ["imap"]}),
    )
    .await;
    assert!(ldap::bind_succeeds(&url, &demo::dn("alice"), &secret).await);
    app.clock.advance(Duration::days(2));
    // Two days on, the session has expired too.
    let client = app.signed_in(ALICE).await;
    let listed: Value = app.get_json(&client, "/api/app-passwords").await;
    let trial = &listed["app_passwords"][0];
    assert_eq!(
        (trial["name"].as_str(), trial["expired"].as_bool()),
        (Some("Trial"), Some(true))
    );
    assert_eq!(listed["app_passwords"][1]["expired"], false);

    let removed = latchkey_workers::handlers::sweep_expired(&app.directory(), app.clock.now())
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert!(
        !ldap::bind_succeeds(&url, &demo::dn("alice"), &secret).await,
        "expired: locked out"
    );
    assert!(ldap::bind_succeeds(&url, &service_dn("alice", "imap"), &lasting).await);
    let listed: Value = app.get_json(&client, "/api/app-passwords").await;
    assert_eq!(listed["app_passwords"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_password_change_keeps_app_passwords_unless_configured_to_revoke_them() {
    for revoke_on_change in [false, true] {
        let app = spawn_app(AppOptions {
            settings: vec![(
                "APP_PASSWORDS__REVOKE_ON_PASSWORD_CHANGE",
                revoke_on_change.to_string(),
            )],
            ..Default::default()
        })
        .await;
        let client = app.signed_in(ALICE).await;
        let (_, secret) = create(&app, &client, json!({"name": "Phone", "scopes": ["imap"]})).await;
        let job = app
            .change_password(&client, ALICE.1, "Quietly-Orbiting-Walrus-93")
            .await;
        assert_eq!(app.finished_job(&client, &job).await["state"], "succeeded");
        let works =
            ldap::bind_succeeds(&app.slapd.url(), &service_dn("alice", "imap"), &secret).await;
        assert_eq!(
            works, !revoke_on_change,
            "revoke_on_password_change = {revoke_on_change}"
        );
    }
}

#[tokio::test]
async fn with_two_factor_on_only_app_passwords_open_mail() {
    let app = spawn_app(AppOptions::default()).await;
    let url = app.slapd.url();
    let client = app.signed_in(ALICE).await;
    let (_, everything) =
        create(&app, &client, json!({"name": "Desktop", "scopes": ["all"]})).await;
    app.enable_totp(&client).await;
    assert!(!ldap::bind_succeeds(&url, &demo::dn("alice"), ALICE.1).await);
    assert!(ldap::bind_succeeds(&url, &demo::dn("alice"), &everything).await);
}

#[tokio::test]
async fn a_create_interrupted_between_its_writes_is_finished_by_redelivery() {
    use latchkey_core::app_password::{AppPassword, AppPasswordName, Scope};
    use latchkey_core::directory::{Accounts, AppPasswordStore, JobStore};
    use latchkey_core::domain::{Dn, JobId};
    use latchkey_core::job::{CreateAppPassword, JobKind, JobMessage, JobRecord, seal_context};
    use latchkey_workers::{Outcome, step::process};

    let app = spawn_app(AppOptions::without_workers()).await;
    let directory = app.directory();
    let context = app.context(app.directory());
    let account_dn = Dn::from_directory(demo::dn("alice"));
    let secret = "abcd-efgh-jkmn-pqrs-tuvw-xyz2";
    let job_id = JobId::new();
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let job = CreateAppPassword {
        job_id,
        account: account_dn.clone(),
        id: uuid::Uuid::new_v4(),
        name: AppPasswordName::parse("Phone").unwrap(),
        scope: Scope::parse(&["imap"]).unwrap(),
        created: now,
        expires: None,
        sealed_secret: context
            .keyring
            .seal(&seal_context(job_id, "app_password"), secret.as_bytes()),
        max_per_account: 20,
    };
    let record = JobRecord::queued(
        job_id,
        JobKind::CreateAppPassword,
        account_dn.clone(),
        1,
        now,
    );
    app.gateway_directory().create_job(&record).await.unwrap();

    // The first delivery wrote the metadata, then its worker died.
    let account = directory.account_at(&account_dn).await.unwrap().unwrap();
    let entry = AppPassword {
        id: job.id,
        name: job.name.clone(),
        scope: job.scope.clone(),
        created: now,
        expires: None,
        hash: context.hasher.hash(&secret.to_owned().into()),
    };
    directory
        .record_app_password(&account, &entry)
        .await
        .unwrap();
    let url = app.slapd.url();
    assert!(!ldap::bind_succeeds(&url, &service_dn("alice", "imap"), secret).await);

    let message = JobMessage::CreateAppPassword(job);
    assert_eq!(
        process(&context, &latchkey_tests::envelope(&message), 1).await,
        Outcome::Done
    );
    assert!(ldap::bind_succeeds(&url, &service_dn("alice", "imap"), secret).await);
    let account = directory.account_at(&account_dn).await.unwrap().unwrap();
    assert_eq!(account.app_passwords.len(), 1, "recorded once");
}
