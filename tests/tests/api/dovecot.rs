use latchkey_tests::client::Client;
use latchkey_tests::demo::ALICE;
use latchkey_tests::dovecot::Dovecot;
use latchkey_tests::{AppOptions, TestApp, spawn_app};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

async fn accepted_job(app: &TestApp, client: &Client, response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let job = body["job"]["id"].as_str().unwrap();
    assert_eq!(app.finished_job(client, job).await["state"], "succeeded");
    body
}

async fn app_password(
    app: &TestApp,
    client: &Client,
    name: &str,
    scopes: &[&str],
) -> (String, String) {
    let response = app
        .post(
            client,
            "/api/app-passwords",
            json!({"name": name, "scopes": scopes}),
        )
        .await;
    let body = accepted_job(app, client, response).await;
    (
        body["app_password"]["id"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn dovecot_imap_holds_app_passwords_to_their_scopes() {
    let app = spawn_app(AppOptions::default()).await;
    let dovecot = Dovecot::start(&app.slapd.url());
    let client = app.signed_in(ALICE).await;
    let (mail_id, mail) = app_password(&app, &client, "Thunderbird on laptop", &["mail"]).await;
    let (_, phone) = app_password(&app, &client, "Phone", &["mail"]).await;
    let (_, sending) = app_password(&app, &client, "Scanner", &["submission"]).await;

    assert!(
        dovecot.imap_login("alice", &mail).await,
        "a fresh mail app password reads mail"
    );
    assert!(
        !dovecot.imap_login("alice", &sending).await,
        "a submission-only one does not"
    );
    assert!(
        dovecot.auth("submission", "alice", &sending),
        "but it may send"
    );
    assert!(
        !dovecot.auth("sieve", "alice", &mail),
        "mail does not include sieve"
    );
    assert!(
        dovecot.imap_login("ALICE", ALICE.1).await,
        "2FA off: the primary password works"
    );

    let revoked = app
        .delete(&client, &format!("/api/app-passwords/{mail_id}"), None)
        .await;
    accepted_job(&app, &client, revoked).await;
    assert!(
        !dovecot.imap_login("alice", &mail).await,
        "revoked: locked out at once"
    );
    assert!(
        dovecot.imap_login("alice", &phone).await,
        "the user's other app password still works"
    );

    // With 2FA on, mail clients need app passwords.
    app.enable_totp(&client).await;
    assert!(
        !dovecot.imap_login("alice", ALICE.1).await,
        "2FA on: the primary password is refused"
    );
    assert!(dovecot.imap_login("alice", &phone).await);
}

#[tokio::test]
async fn an_app_password_opens_imap_until_its_expiry_and_not_after() {
    let app = spawn_app(AppOptions::default()).await;
    let dovecot = Dovecot::start(&app.slapd.url());
    let client = app.signed_in(ALICE).await;
    let expires = OffsetDateTime::now_utc() + time::Duration::seconds(15);
    let response = app
        .post(
            &client,
            "/api/app-passwords",
            json!({
                "name": "Short-lived",
                "scopes": ["mail"],
                "expires_at": expires.format(&Rfc3339).unwrap(),
            }),
        )
        .await;
    let body = accepted_job(&app, &client, response).await;
    let secret = body["secret"].as_str().unwrap().to_owned();

    assert!(
        dovecot.imap_login("alice", &secret).await,
        "before its expiry it reads mail"
    );
    assert!(
        OffsetDateTime::now_utc() < expires,
        "the login above must come before the expiry for this test to show anything"
    );
    // The sweep runs every 300 s, so only the expiry the worker scheduled
    // can lock it out within this wait.
    let refused_at =
        latchkey_tests::eventually("IMAP to refuse the expired app password", 60, || async {
            let refused = !dovecot.imap_login("alice", &secret).await;
            refused.then(OffsetDateTime::now_utc)
        })
        .await;
    assert!(
        refused_at >= expires,
        "refused at {refused_at}, before its expiry at {expires}"
    );
    let listed: Value = app
        .get(&client, "/api/app-passwords")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["app_passwords"], json!([]), "{listed}");
}

/// The app password `id` as `GET /api/app-passwords` lists it.
async fn listed(app: &TestApp, client: &Client, id: &str) -> Value {
    let list = app.get_json(client, "/api/app-passwords").await;
    list["app_passwords"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["id"] == id)
        .unwrap_or_else(|| panic!("{id} is listed: {list}"))
        .clone()
}

#[tokio::test]
async fn an_imap_login_with_an_app_password_shows_as_its_last_use() {
    let app = spawn_app(AppOptions::default()).await;
    let dovecot = Dovecot::start(&app.slapd.url());
    let client = app.signed_in(ALICE).await;
    let (phone_id, phone) = app_password(&app, &client, "Phone", &["imap"]).await;
    let (scanner_id, _) = app_password(&app, &client, "Scanner", &["submission"]).await;
    // The primary password binds as the account entry: never an app password's use.
    assert!(dovecot.imap_login("alice", ALICE.1).await);
    let unused = listed(&app, &client, &phone_id).await["last_use"].clone();
    assert_eq!(
        unused,
        json!({"at": null, "shared": false, "recorded": true}),
        "not used yet"
    );

    let before = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    assert!(dovecot.imap_login("alice", &phone).await);
    let used = latchkey_tests::eventually("Phone's IMAP login as its last use", 10, || async {
        let last_use = listed(&app, &client, &phone_id).await["last_use"].clone();
        last_use["at"].is_string().then_some(last_use)
    })
    .await;
    let at = OffsetDateTime::parse(used["at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(
        before <= at && at <= OffsetDateTime::now_utc(),
        "{at} is the login's time"
    );
    assert_eq!(
        (used["shared"].clone(), used["recorded"].clone()),
        (json!(false), json!(true))
    );
    let scanner = listed(&app, &client, &scanner_id).await;
    assert_eq!(
        scanner["last_use"]["at"],
        Value::Null,
        "the other service's entry was not bound"
    );
    let overview = app.get_json(&client, "/api/account").await;
    let items = overview["app_passwords"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items
            .iter()
            .find(|item| item["id"] == phone_id.as_str())
            .unwrap()["last_use"],
        used
    );
}
