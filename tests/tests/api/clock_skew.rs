//! A worker whose clock is five minutes ahead of the gateway's, or five
//! minutes behind, applies every job as if they agreed. What a worker
//! compares with a time the gateway made: a key's validity is judged at the
//! instant the gateway accepted the request (a certificate valid from this
//! second is not "from the future" to a worker that is behind, a key with
//! two minutes left has not expired to one that is ahead), an app password's expiry
//! against the directory's copy (an app password with minutes left is not
//! removed early by the skew alone), and the order of two changes by their
//! job ids, which the gateway makes, never by when a worker wrote them.

use latchkey_core::clock::{Clock, SkewedClock};
use latchkey_core::directory::{Accounts, JobStore};
use latchkey_core::domain::{Dn, JobId};
use latchkey_core::encryption::is_already_encrypted;
use latchkey_core::job::{ChangePassword, Envelope, JobKind, JobMessage, JobRecord};
use latchkey_tests::client::Client;
use latchkey_tests::demo::{self, ALICE};
use latchkey_tests::keys::{GpgHome, SmimeIdentity};
use latchkey_tests::{AppOptions, TestApp, ldap, spawn_app};
use latchkey_workers::mailbox::maildir::{Maildir, deliver};
use latchkey_workers::{Context, Outcome, handlers, step};
use serde_json::{Value, json};
use std::sync::Arc;
use time::Duration;
use time::format_description::well_known::Rfc3339;

const NEW_PASSWORD: &str = "Tidewater-Clock-Repairer-62";
const OLDER: &str = "Older-Windmill-Painter-31";
const NEWER: &str = "Newer-Lighthouse-Keeper-58";

fn worker_clock(minutes: i64) -> Arc<dyn Clock> {
    Arc::new(SkewedClock(Duration::minutes(minutes)))
}

/// Turns encryption on for the signed-in alice with `method` and `key`,
/// and checks that the job succeeds.
async fn encrypt(app: &TestApp, client: &Client, method: &str, algorithm: &str, key: String) {
    let body =
        json!({"method": method, "algorithm": algorithm, "keys": [key], "password": NEW_PASSWORD});
    let response = app.put(client, "/api/encryption", body).await;
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    let finished = app
        .finished_job(client, answer["job"]["id"].as_str().unwrap())
        .await;
    assert_eq!(finished["state"], "succeeded", "{method}: {finished}");
}

/// A password change, an app password with ten minutes left and mailbox
/// encryption with an OpenPGP key that expires in two minutes and an
/// S/MIME certificate valid from this second, each applied by a worker
/// whose clock is `minutes` off the gateway's.
async fn every_job_lands_with_the_worker_clock_off_by(minutes: i64) {
    // Made before the gateway's clock is set: valid when the gateway accepts them.
    let gpg = GpgHome::new();
    let fingerprint = gpg.generate_expiring_in("Alice <alice@example.org>", 120);
    let expiring = gpg.export(&fingerprint);
    let fresh = SmimeIdentity::new("rsa:2048", "keyEncipherment");
    let app = spawn_app(AppOptions::without_workers()).await;
    let _worker = app
        .start_worker_with_clock(app.directory(), worker_clock(minutes))
        .await;
    let root = app.maildir("alice");
    let message = b"From: a@example.org\nSubject: hello\n\nhello\n";
    deliver(&root, "1764000000.M1P1.test", None, message).unwrap();
    let client = app.signed_in(ALICE).await;

    let job = app.change_password(&client, ALICE.1, NEW_PASSWORD).await;
    let finished = app.finished_job(&client, &job).await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
    let url = app.slapd.url();
    assert!(ldap::bind_succeeds(&url, &demo::dn("alice"), NEW_PASSWORD).await);

    let expires = app.clock.now() + Duration::minutes(10);
    let body = json!({
        "name": "phone",
        "scopes": ["all"],
        "expires_at": expires.format(&Rfc3339).unwrap(),
        "password": NEW_PASSWORD,
    });
    let response = app.post(&client, "/api/app-passwords", body).await;
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    let finished = app
        .finished_job(&client, answer["job"]["id"].as_str().unwrap())
        .await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
    let secret = answer["secret"].as_str().unwrap();
    // The worker's sweep, at the worker's time, leaves it: it has minutes left.
    let swept = handlers::sweep_expired(&app.directory(), worker_clock(minutes).now()).await;
    assert_eq!(swept.unwrap(), 0);
    assert!(ldap::bind_succeeds(&url, &demo::dn("alice"), secret).await);
    let listed: Value = app.get_json(&client, "/api/app-passwords").await;
    assert_eq!(listed["app_passwords"][0]["expired"], false, "{listed}");

    encrypt(&app, &client, "openpgp", "aes-256", expiring).await;
    encrypt(
        &app,
        &client,
        "smime",
        "aes-256-gcm",
        fresh.certificate_pem(),
    )
    .await;
    let messages = Maildir::new(&root).messages().unwrap();
    let content = std::fs::read(&messages[0].path).unwrap();
    assert!(
        is_already_encrypted(&mut content.as_slice())
            .unwrap()
            .is_some(),
        "the message is encrypted"
    );
}

#[tokio::test]
async fn a_worker_five_minutes_ahead_of_the_gateway_applies_every_job() {
    every_job_lands_with_the_worker_clock_off_by(5).await;
}

#[tokio::test]
async fn a_worker_five_minutes_behind_the_gateway_applies_every_job() {
    every_job_lands_with_the_worker_clock_off_by(-5).await;
}

/// A password job for `uid` as the gateway would queue it (record and
/// sealed envelope), accepted at the gateway's time.
async fn queued(app: &TestApp, uid: &str, password: &str) -> Envelope {
    let job_id = JobId::new();
    let account = Dn::from_directory(demo::dn(uid));
    let now = app.clock.now().replace_nanosecond(0).unwrap();
    let record = JobRecord::queued(job_id, JobKind::ChangePassword, account.clone(), 1, now);
    app.gateway_directory().create_job(&record).await.unwrap();
    let keyring = app.context(()).keyring;
    let message = JobMessage::ChangePassword(ChangePassword {
        job_id,
        account,
        sealed_password: keyring.seal(&ChangePassword::seal_context(job_id), password.as_bytes()),
        keep_session: None,
    });
    Envelope::new(message, now, None)
}

async fn revision<D: Accounts>(context: &Context<D>, uid: &str) -> Option<u64> {
    let dn = Dn::from_directory(demo::dn(uid));
    let account = context.directory.account_at(&dn).await.unwrap().unwrap();
    account.revision
}

#[tokio::test]
async fn the_newer_of_two_changes_wins_whichever_worker_clock_applies_them() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let ahead = app.context_with_clock(app.directory(), worker_clock(5));
    let behind = app.context_with_clock(app.directory(), worker_clock(-5));
    let url = app.slapd.url();

    // In order, the older by the worker ahead, the newer by the one behind:
    // the newer is written "earlier" by the clocks and still wins.
    let older = queued(&app, "bob", OLDER).await;
    let newer = queued(&app, "bob", NEWER).await;
    assert_eq!(step::process(&ahead, &older, 1).await, Outcome::Done);
    assert_eq!(step::process(&behind, &newer, 1).await, Outcome::Done);
    assert_eq!(step::process(&ahead, &older, 2).await, Outcome::Superseded);
    assert!(ldap::bind_succeeds(&url, &demo::dn("bob"), NEWER).await);
    assert_eq!(revision(&ahead, "bob").await, Some(2));

    // Out of order, the newer by the worker behind first: the older,
    // applied by the worker ahead, changes nothing.
    let older = queued(&app, "alice", OLDER).await;
    let newer = queued(&app, "alice", NEWER).await;
    assert_eq!(step::process(&behind, &newer, 1).await, Outcome::Done);
    assert_eq!(step::process(&ahead, &older, 1).await, Outcome::Superseded);
    assert!(ldap::bind_succeeds(&url, &demo::dn("alice"), NEWER).await);
    assert!(!ldap::bind_succeeds(&url, &demo::dn("alice"), OLDER).await);
    assert_eq!(revision(&ahead, "alice").await, Some(1));
}
