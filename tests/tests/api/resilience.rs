use latchkey_core::directory::{Accounts, JobStore, LdapDirectory};
use latchkey_core::domain::{Dn, JobId};
use latchkey_core::job::{ChangePassword, Envelope, JobKind, JobMessage, JobRecord, JobState};
use latchkey_tests::demo::{self, ALICE, BOB};
use latchkey_tests::probe::Probe;
use latchkey_tests::{AppOptions, TestApp, eventually, ldap, spawn_app};
use latchkey_workers::Outcome;
use latchkey_workers::step::process;
use secrecy::ExposeSecret;

const NEWER: &str = "Newer-Lighthouse-Keeper-58";
const OLDER: &str = "Older-Windmill-Painter-31";

/// A password job for `uid` as the gateway would queue it, with its record.
async fn queued_job(app: &TestApp, uid: &str, password: &str) -> JobMessage {
    let job_id = JobId::new();
    let account = Dn::from_directory(demo::dn(uid));
    let now = time::OffsetDateTime::now_utc();
    let record = JobRecord::queued(job_id, JobKind::ChangePassword, account.clone(), 1, now);
    app.gateway_directory().create_job(&record).await.unwrap();
    let keyring = app.context(()).keyring;
    JobMessage::ChangePassword(ChangePassword {
        job_id,
        account,
        sealed_password: keyring.seal(&ChangePassword::seal_context(job_id), password.as_bytes()),
        keep_session: None,
    })
}

async fn revision(directory: &LdapDirectory, uid: &str) -> Option<u64> {
    let dn = Dn::from_directory(demo::dn(uid));
    directory.account_at(&dn).await.unwrap().unwrap().revision
}

#[tokio::test]
async fn two_changes_applied_in_the_wrong_order_leave_the_newer_password() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let older = queued_job(&app, "alice", OLDER).await;
    let newer = queued_job(&app, "alice", NEWER).await;
    let context = app.context(app.directory());
    assert_eq!(
        process(&context, &latchkey_tests::envelope(&newer), 1).await,
        Outcome::Done
    );
    assert_eq!(
        process(&context, &latchkey_tests::envelope(&older), 1).await,
        Outcome::Superseded
    );
    let dn = demo::dn("alice");
    assert!(ldap::bind_succeeds(&app.slapd.url(), &dn, NEWER).await);
    assert!(!ldap::bind_succeeds(&app.slapd.url(), &dn, OLDER).await);
    assert_eq!(
        revision(&app.directory(), "alice").await,
        Some(1),
        "the older job wrote nothing"
    );
}

#[tokio::test]
async fn a_redelivered_job_changes_nothing() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let job = queued_job(&app, "bob", NEWER).await;
    let context = app.context(app.directory());
    assert_eq!(
        process(&context, &latchkey_tests::envelope(&job), 1).await,
        Outcome::Done
    );
    let hash_before = context
        .directory
        .account_at(&Dn::from_directory(demo::dn("bob")))
        .await
        .unwrap()
        .unwrap()
        .primary_password;
    assert_eq!(
        process(&context, &latchkey_tests::envelope(&job), 2).await,
        Outcome::Done
    );
    let after = context
        .directory
        .account_at(&Dn::from_directory(demo::dn("bob")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.primary_password, hash_before,
        "no second hash was written"
    );
    assert_eq!(after.revision, Some(1));
}

#[tokio::test]
async fn a_job_for_a_deleted_account_fails_at_once_with_a_reason() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let job = queued_job(&app, "bob", NEWER).await;
    let (service_dn, service_password) = app.service();
    ldap::delete(
        &app.slapd.url(),
        (&service_dn, &service_password),
        &demo::dn("bob"),
    )
    .await;
    let context = app.context(app.directory());
    let outcome = process(&context, &latchkey_tests::envelope(&job), 1).await;
    assert_eq!(
        outcome,
        Outcome::Failed("the account no longer exists".into())
    );
}

#[tokio::test]
async fn a_worker_stopped_mid_job_leaves_it_to_another() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let gated = Probe::gated(app.directory());
    let seen = gated.state.clone();
    let first = app.start_worker(gated).await;
    let job = app.change_password(&client, ALICE.1, NEWER).await;
    seen.until_write_reached().await;
    first.kill().await;
    let _second = app.start_worker(app.directory()).await;
    let finished = app.finished_job(&client, &job).await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert!(ldap::bind_succeeds(&app.slapd.url(), &demo::dn("alice"), NEWER).await);
}

#[tokio::test]
async fn a_stopping_worker_finishes_the_job_in_hand() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let gated = Probe::gated(app.directory());
    let seen = gated.state.clone();
    let worker = app.start_worker(gated).await;
    let job = app.change_password(&client, ALICE.1, NEWER).await;
    seen.until_write_reached().await;
    worker.begin_shutdown();
    seen.open_gate();
    worker.shutdown().await;
    // No other worker runs: the job is done because the stopping one finished it.
    let record = app
        .directory()
        .job(JobId::parse(&job).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.state, JobState::Succeeded);
    assert!(ldap::bind_succeeds(&app.slapd.url(), &demo::dn("alice"), NEWER).await);
}

#[tokio::test]
async fn a_job_waits_out_a_directory_outage_and_lands() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(BOB).await;
    let job = app.change_password(&client, BOB.1, NEWER).await;
    app.slapd.stop();
    let probe = Probe::new(app.directory());
    let seen = probe.state.clone();
    let _worker = app.start_worker(probe).await;
    seen.until_failure().await;
    app.slapd.resume();
    let finished = app.finished_job(&client, &job).await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert!(finished["attempts"].as_u64().unwrap() >= 2, "{finished}");
    assert!(ldap::bind_succeeds(&app.slapd.url(), &demo::dn("bob"), NEWER).await);
}

#[tokio::test]
async fn a_job_that_keeps_failing_is_parked_intact() {
    let app = spawn_app(AppOptions {
        workers: 0,
        retry_delays_ms: vec![20, 40],
        ..Default::default()
    })
    .await;
    let client = app.signed_in(BOB).await;
    let job = app.change_password(&client, BOB.1, NEWER).await;
    app.slapd.stop();
    let _worker = app.start_worker(app.directory()).await;
    let connection = lapin::Connection::connect(&app.broker_admin_url, Default::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let failed_queue = format!("{}.failed", app.settings.broker.prefix);
    let parked = eventually("the job to be parked", 30, || async {
        channel
            .basic_get(
                failed_queue.as_str().into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap()
    })
    .await;
    let parked = &parked.delivery.data;
    assert!(
        !parked
            .windows(NEWER.len())
            .any(|window| window == NEWER.as_bytes()),
        "the parked job keeps its secret sealed"
    );
    let keyring = app.context(()).keyring;
    let envelope = Envelope::open(&keyring, parked).expect("the parked job is intact");
    assert_eq!(envelope.job_id.to_string(), job);
    let JobMessage::ChangePassword(change) = envelope.body else {
        panic!("the parked message is the password change")
    };
    let opened = keyring
        .open_string(
            &ChangePassword::seal_context(change.job_id),
            &change.sealed_password,
        )
        .unwrap();
    assert_eq!(opened.expose_secret(), NEWER);
}
