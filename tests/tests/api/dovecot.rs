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
