//! The broker is a trust boundary: a worker applies only jobs a gateway
//! sealed, with a record of the same account and kind; an older job of a
//! feature never undoes a newer one; and a job the worker cannot park stays
//! on its queue.

use lapin::Channel;
use lapin::options::{BasicGetOptions, QueueDeleteOptions};
use latchkey_core::directory::{Accounts, JobStore};
use latchkey_core::domain::{Dn, JobId};
use latchkey_core::encryption::{Algorithm, StoredKeys, parse_keys};
use latchkey_core::job::{
    CreateAppPassword, DisableEncryption, DisableTotp, EnableTotp, EncryptMailbox, Envelope,
    JobMessage, JobRecord, RegenerateRecoveryCodes, RevokeAppPasswords, seal_context,
};
use latchkey_core::seal::{Keyring, Sealed};
use latchkey_tests::broker::admin_channel;
use latchkey_tests::demo::{self, BOB};
use latchkey_tests::keys::GpgHome;
use latchkey_tests::probe::Probe;
use latchkey_tests::{AppOptions, TestApp, eventually, ldap, spawn_app};
use latchkey_workers::Outcome;
use latchkey_workers::step::process;

/// Publishes `body` to the jobs exchange as anyone with broker access could.
async fn publish_raw(app: &TestApp, channel: &Channel, body: &[u8]) {
    latchkey_tests::broker::publish_raw(channel, &app.settings.broker.prefix, body).await;
}

/// Waits for a message in the failed queue and answers its bytes.
async fn parked(app: &TestApp, channel: &Channel) -> Vec<u8> {
    let failed = format!("{}.failed", app.settings.broker.prefix);
    let message = eventually("a message to be parked", 30, || async {
        channel
            .basic_get(failed.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
    })
    .await;
    message.delivery.data
}

fn keyring(app: &TestApp) -> std::sync::Arc<Keyring> {
    app.context(()).keyring
}

async fn totp_on(app: &TestApp, uid: &str) -> bool {
    app.account_entry(uid)
        .await
        .attrs
        .contains_key("latchkeyTotpSecret")
}

#[tokio::test]
async fn a_forged_job_published_straight_to_the_exchange_changes_nothing_and_is_parked() {
    let app = spawn_app(AppOptions::default()).await;
    let client = app.signed_in(BOB).await;
    app.enable_totp(&client).await;
    let (_connection, channel) = admin_channel().await;
    let forged = serde_json::json!({
        "type": "disable_totp/v1",
        "job_id": JobId::new(),
        "account": demo::dn("bob"),
    });
    let forged = serde_json::to_vec(&forged).unwrap();
    publish_raw(&app, &channel, &forged).await;
    assert_eq!(parked(&app, &channel).await, forged, "parked as it came");
    assert!(
        totp_on(&app, "bob").await,
        "bob's second factor is still on"
    );
}

#[tokio::test]
async fn a_sealed_job_for_another_account_than_its_record_is_refused() {
    let app = spawn_app(AppOptions::default()).await;
    let client = app.signed_in(BOB).await;
    app.enable_totp(&client).await;
    // A job alice really asked for, re-addressed to bob by whoever holds the key.
    let job_id = JobId::new();
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let alice = Dn::from_directory(demo::dn("alice"));
    let record = JobRecord::queued(
        job_id,
        latchkey_core::job::JobKind::DisableTotp,
        alice,
        1,
        now,
    );
    app.gateway_directory().create_job(&record).await.unwrap();
    let body = JobMessage::DisableTotp(DisableTotp {
        job_id,
        account: Dn::from_directory(demo::dn("bob")),
    });
    let sealed = Envelope::new(body, now, None).seal(&keyring(&app));
    let (_connection, channel) = admin_channel().await;
    publish_raw(&app, &channel, &sealed).await;
    assert_eq!(parked(&app, &channel).await, sealed);
    assert!(
        totp_on(&app, "bob").await,
        "bob's second factor is still on"
    );
    let record = app.directory().job(job_id).await.unwrap().unwrap();
    assert_eq!(
        record.state,
        latchkey_core::job::JobState::Queued,
        "alice's record is left alone"
    );
}

#[tokio::test]
async fn a_job_the_worker_cannot_park_stays_on_its_queue() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let probe = Probe::new(app.directory());
    let seen = probe.state.clone();
    let worker = app.start_worker(probe).await;
    // The worker declared its topology on start; now the failed queue goes.
    let (_connection, channel) = admin_channel().await;
    let failed = format!("{}.failed", app.settings.broker.prefix);
    channel
        .queue_delete(failed.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    // Sealed, but no record exists: the worker refuses it and tries to park it.
    let body = JobMessage::DisableTotp(DisableTotp {
        job_id: JobId::new(),
        account: Dn::from_directory(demo::dn("bob")),
    });
    let sealed = Envelope::new(body, time::OffsetDateTime::now_utc(), None).seal(&keyring(&app));
    publish_raw(&app, &channel, &sealed).await;
    eventually(
        "the job to be delivered again after a failed park",
        30,
        || async { (seen.job_reads() >= 2).then_some(()) },
    )
    .await;
    worker.shutdown().await;
    let queue = format!("{}.credentials", app.settings.broker.prefix);
    let kept = channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the job is still on its queue");
    assert_eq!(kept.delivery.data, sealed);
}

fn sealed_codes(keyring: &Keyring, job_id: JobId, count: usize) -> Sealed {
    let codes: Vec<String> = (0..count).map(|n| format!("code-{n}-{job_id}")).collect();
    keyring.seal(
        &seal_context(job_id, "recovery_codes"),
        &serde_json::to_vec(&codes).unwrap(),
    )
}

fn enable_totp(keyring: &Keyring, account: &Dn) -> JobMessage {
    let job_id = JobId::new();
    JobMessage::EnableTotp(EnableTotp {
        job_id,
        account: account.clone(),
        sealed_secret: keyring.seal(&seal_context(job_id, "totp_secret"), &[7u8; 20]),
        params: "SHA1/6/30".into(),
        accepted_step: 1,
        sealed_recovery_codes: sealed_codes(keyring, job_id, 10),
        mail_requires_app_password: false,
    })
}

#[tokio::test]
async fn an_older_second_factor_job_never_undoes_a_newer_one() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let context = app.context(app.directory());
    let keyring = keyring(&app);
    let alice = Dn::from_directory(demo::dn("alice"));
    let first_enable = app.queued(enable_totp(&keyring, &alice)).await;
    let disable = DisableTotp {
        job_id: JobId::new(),
        account: alice.clone(),
    };
    let disable = app.queued(JobMessage::DisableTotp(disable)).await;
    let second_enable = app.queued(enable_totp(&keyring, &alice)).await;

    assert_eq!(process(&context, &first_enable, 1).await, Outcome::Done);
    assert_eq!(process(&context, &disable, 1).await, Outcome::Done);
    assert_eq!(
        process(&context, &first_enable, 2).await,
        Outcome::Superseded
    );
    assert!(
        !totp_on(&app, "alice").await,
        "the retried enrolment changed nothing"
    );
    assert_eq!(process(&context, &second_enable, 1).await, Outcome::Done);
    assert_eq!(process(&context, &disable, 2).await, Outcome::Superseded);
    assert!(
        totp_on(&app, "alice").await,
        "the retried removal changed nothing"
    );
    let record = app.directory().job(disable.job_id).await.unwrap().unwrap();
    assert_eq!(record.state, latchkey_core::job::JobState::Superseded);

    let regenerate = |count| {
        let job_id = JobId::new();
        JobMessage::RegenerateRecoveryCodes(RegenerateRecoveryCodes {
            job_id,
            account: alice.clone(),
            sealed_recovery_codes: sealed_codes(&keyring, job_id, count),
        })
    };
    let older = app.queued(regenerate(3)).await;
    let newer = app.queued(regenerate(5)).await;
    assert_eq!(process(&context, &newer, 1).await, Outcome::Done);
    assert_eq!(process(&context, &older, 1).await, Outcome::Superseded);
    let codes = &app.account_entry("alice").await.attrs["latchkeyRecoveryCode"];
    assert_eq!(codes.len(), 5, "the newer codes stand");
}

#[tokio::test]
async fn a_create_older_than_a_revocation_never_brings_an_app_password_back() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let context = app.context(app.directory());
    let keyring = keyring(&app);
    let alice = Dn::from_directory(demo::dn("alice"));
    let create = |name: &str, secret: &str| {
        let job_id = JobId::new();
        JobMessage::CreateAppPassword(CreateAppPassword {
            job_id,
            account: alice.clone(),
            id: uuid::Uuid::now_v7(),
            name: latchkey_core::app_password::AppPasswordName::parse(name).unwrap(),
            scope: latchkey_core::app_password::Scope::All,
            created: time::OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap(),
            expires: None,
            sealed_secret: keyring.seal(&seal_context(job_id, "app_password"), secret.as_bytes()),
            max_per_account: 20,
        })
    };
    let early = app
        .queued(create("Laptop", "early-secret-early-secret"))
        .await;
    let revoke_all = RevokeAppPasswords {
        job_id: JobId::new(),
        account: alice.clone(),
        ids: None,
    };
    let revoke_all = app.queued(JobMessage::RevokeAppPasswords(revoke_all)).await;
    let late = app.queued(create("Phone", "late-secret-late-secret")).await;

    // The later create lands first, then the revocation, then the early create's retry.
    assert_eq!(process(&context, &late, 1).await, Outcome::Done);
    assert_eq!(process(&context, &revoke_all, 1).await, Outcome::Done);
    assert_eq!(process(&context, &early, 1).await, Outcome::Superseded);
    let account = app.directory().account_at(&alice).await.unwrap().unwrap();
    let names: Vec<&str> = account
        .app_passwords
        .iter()
        .map(|stored| stored.entry.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["Phone"],
        "revoking all spared the one asked for after it"
    );
    let url = app.slapd.url();
    let dn = demo::dn("alice");
    assert!(!ldap::bind_succeeds(&url, &dn, "early-secret-early-secret").await);
    assert!(ldap::bind_succeeds(&url, &dn, "late-secret-late-secret").await);
}

#[tokio::test]
async fn an_older_encryption_job_never_restores_old_keys_or_turns_it_back_off() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let context = app.context(app.directory());
    let alice = Dn::from_directory(demo::dn("alice"));
    let now = std::time::SystemTime::now();
    let keys_of = |gpg: &GpgHome| {
        let recipients = parse_keys(Algorithm::Aes256, &[gpg.alice_key()], 5, now).unwrap();
        StoredKeys::of(&recipients)
    };
    let (old_home, new_home) = (GpgHome::new(), GpgHome::new());
    let (old_keys, new_keys) = (keys_of(&old_home), keys_of(&new_home));
    let encrypt = |keys: &StoredKeys| {
        JobMessage::EncryptMailbox(EncryptMailbox {
            job_id: JobId::new(),
            account: alice.clone(),
            algorithm: Algorithm::Aes256,
            keys: keys.clone(),
            protect_subject: false,
            accepted_at: None,
        })
    };
    let with_old_keys = app.queued(encrypt(&old_keys)).await;
    let off = DisableEncryption {
        job_id: JobId::new(),
        account: alice.clone(),
    };
    let off = app.queued(JobMessage::DisableEncryption(off)).await;
    let with_new_keys = app.queued(encrypt(&new_keys)).await;

    assert_eq!(process(&context, &off, 1).await, Outcome::Done);
    assert_eq!(process(&context, &with_new_keys, 1).await, Outcome::Done);
    assert_eq!(
        process(&context, &with_old_keys, 1).await,
        Outcome::Superseded
    );
    assert_eq!(process(&context, &off, 2).await, Outcome::Superseded);
    let account = app.directory().account_at(&alice).await.unwrap().unwrap();
    let settings = account.encryption.expect("encryption stays on");
    assert_eq!(settings.keys, new_keys.to_base64(), "the newer keys stand");
}
