//! `latchkey-admin`, the real binary, against the real broker and slapd, as
//! an operator runs it: its own read-only LDAP account and broker user, no
//! key. Parked messages are made the way they are made in production: a
//! worker parks what it refuses and what it gave up on.

use lapin::options::BasicGetOptions;
use lapin::types::AMQPValue;
use latchkey_core::broker::{ATTEMPT_HEADER, JOB_HEADER, PARKED_REASON_HEADER};
use latchkey_core::domain::{Dn, JobId};
use latchkey_core::job::{DisableTotp, Envelope, JobMessage};
use latchkey_tests::broker::{admin_channel, publish_raw};
use latchkey_tests::demo::{self, ALICE, BOB};
use latchkey_tests::{AppOptions, TestApp, eventually, ldap, spawn_app};
use serde_json::Value;
use sha2::{Digest, Sha256};

const NEW_PASSWORD: &str = "Quietly-Orbiting-Walrus-93";

/// A message that is not an envelope at all, as anyone with broker access
/// could publish it.
fn forged() -> Vec<u8> {
    let forged = serde_json::json!({
        "type": "disable_totp/v1",
        "job_id": JobId::new(),
        "account": demo::dn("bob"),
    });
    serde_json::to_vec(&forged).unwrap()
}

/// A job for bob sealed with the stack's key, but with no record: a worker
/// refuses it and parks it with its job id.
fn sealed_without_record(app: &TestApp) -> (JobId, Vec<u8>) {
    let job_id = JobId::new();
    let body = JobMessage::DisableTotp(DisableTotp {
        job_id,
        account: Dn::from_directory(demo::dn("bob")),
    });
    let envelope = Envelope::new(body, time::OffsetDateTime::now_utc(), None);
    (job_id, envelope.seal(&app.context(()).keyring))
}

/// The id `failed list` gives the message with this body.
fn message_id(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Waits until `failed list` shows `count` messages, and answers them.
async fn parked(app: &TestApp, count: usize) -> Vec<Value> {
    eventually(&format!("{count} parked messages"), 30, || async {
        let listed = app.admin(&["failed", "list", "--json"], &[]).json();
        let messages = listed.as_array().expect("a list").clone();
        (messages.len() == count).then_some(messages)
    })
    .await
}

/// The listed message with this id.
fn listed<'a>(messages: &'a [Value], id: &str) -> &'a Value {
    messages
        .iter()
        .find(|message| message["message"] == id)
        .unwrap_or_else(|| panic!("message {id} is listed: {messages:?}"))
}

fn recent(at: &Value) -> bool {
    let at = time::OffsetDateTime::parse(
        at.as_str().expect("a time"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("an RFC 3339 time");
    (time::OffsetDateTime::now_utc() - at).abs() < time::Duration::minutes(5)
}

#[tokio::test]
async fn failed_list_says_why_each_message_was_parked_and_discard_removes_only_the_one_named() {
    let app = spawn_app(AppOptions::default()).await;
    let (_connection, channel) = admin_channel().await;
    let prefix = &app.settings.broker.prefix;
    let forged = forged();
    let (job, sealed) = sealed_without_record(&app);
    publish_raw(&channel, prefix, &forged).await;
    publish_raw(&channel, prefix, &sealed).await;

    let messages = parked(&app, 2).await;
    let not_a_job = listed(&messages, &message_id(&forged));
    assert_eq!(
        not_a_job["job"],
        Value::Null,
        "an unsealed message names no job"
    );
    assert_eq!(
        not_a_job["reason"],
        "the message is not a sealed job envelope"
    );
    assert_eq!(not_a_job["queue"], "credentials");
    assert!(recent(&not_a_job["parked_at"]), "{not_a_job}");
    let refused = listed(&messages, &message_id(&sealed));
    assert_eq!(refused["job"], job.to_string());
    assert_eq!(refused["kind"], "disable_totp");
    assert_eq!(refused["account"], demo::dn("bob"));
    assert_eq!(refused["reason"], "refused: no job record exists for it");
    let table = app.admin(&["failed", "list"], &[]).stdout();
    assert!(table.starts_with("MESSAGE "), "{table}");
    assert!(
        table.contains(&message_id(&forged)) && table.contains(&job.to_string()),
        "{table}"
    );

    let unknown = JobId::new();
    app.admin(&["failed", "discard", &unknown.to_string()], &[])
        .failed_with(1, &unknown.to_string());

    let discarded = app.admin(&["failed", "discard", &message_id(&forged), "--json"], &[]);
    assert_eq!(discarded.json()[0]["action"], "discarded");
    assert!(
        discarded.stderr().contains("parked_message_discarded"),
        "an audit line: {}",
        discarded.stderr()
    );
    let left = parked(&app, 1).await;
    assert_eq!(
        left[0]["message"],
        message_id(&sealed),
        "the other one stays"
    );
    assert_eq!(left[0]["reason"], "refused: no job record exists for it");
}

#[tokio::test]
async fn a_job_parked_while_the_directory_was_down_runs_once_it_is_requeued() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let job = app.change_password(&client, ALICE.1, NEW_PASSWORD).await;
    let (_connection, channel) = admin_channel().await;
    let forged = forged();
    publish_raw(&channel, &app.settings.broker.prefix, &forged).await;
    app.slapd.stop();
    let _worker = app.start_worker(app.directory()).await;

    // Listing needs the broker only: it works while the directory is down.
    let messages = parked(&app, 2).await;
    let gave_up = messages
        .iter()
        .find(|message| message["job"] == job.as_str())
        .expect("the password job is parked");
    assert_eq!(gave_up["kind"], "change_password");
    assert_eq!(gave_up["account"], demo::dn("alice"));
    assert_eq!(gave_up["queue"], "credentials");
    let reason = gave_up["reason"].as_str().unwrap();
    assert!(reason.starts_with("gave up after 4 attempts: "), "{reason}");
    assert!(
        gave_up["request_id"].is_string(),
        "the request id travels on"
    );

    app.slapd.resume();
    let requeued = app.admin(&["failed", "requeue", &job], &[]);
    assert_eq!(requeued.code(), Some(0), "{}", requeued.stderr());
    assert!(
        requeued.stdout().starts_with("requeued "),
        "{}",
        requeued.stdout()
    );
    let record = eventually("the requeued job to succeed", 30, || async {
        let shown = app.admin(&["jobs", "show", &job, "--json"], &[]).json();
        (shown["state"] == "succeeded").then_some(shown)
    })
    .await;
    assert_eq!(record["attempts"], 1, "its attempts start again");
    assert!(ldap::bind_succeeds(&app.slapd.url(), &demo::dn("alice"), NEW_PASSWORD).await);
    let left = parked(&app, 1).await;
    assert_eq!(
        left[0]["message"],
        message_id(&forged),
        "the other one stays"
    );
}

#[tokio::test]
async fn requeue_all_puts_every_parked_message_back_on_its_queue_as_it_was() {
    let mut app = spawn_app(AppOptions::default()).await;
    let (_connection, channel) = admin_channel().await;
    let prefix = app.settings.broker.prefix.clone();
    let forged = forged();
    let (_, sealed) = sealed_without_record(&app);
    publish_raw(&channel, &prefix, &forged).await;
    publish_raw(&channel, &prefix, &sealed).await;
    parked(&app, 2).await;
    app.workers.pop().unwrap().shutdown().await;

    let requeued = app
        .admin(&["failed", "requeue", "--all", "--json"], &[])
        .json();
    let actions: Vec<&Value> = requeued
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["action"])
        .collect();
    assert_eq!(actions, ["requeued", "requeued"]);
    let queue = format!("{prefix}.credentials");
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let got = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
            .expect("a requeued message on the job queue");
        let headers = got
            .delivery
            .properties
            .headers()
            .clone()
            .unwrap_or_default();
        assert_eq!(
            headers.inner().get(ATTEMPT_HEADER),
            Some(&AMQPValue::LongInt(0))
        );
        assert!(!headers.contains_key(PARKED_REASON_HEADER) && !headers.contains_key(JOB_HEADER));
        bodies.push(got.delivery.data);
    }
    bodies.sort();
    let mut published = vec![forged, sealed];
    published.sort();
    assert_eq!(bodies, published, "byte for byte");
    let empty = app.admin(&["failed", "list"], &[]).stdout();
    assert_eq!(
        empty,
        format!("no messages are parked in {prefix}.failed\n")
    );
}

#[tokio::test]
async fn jobs_list_and_show_read_finished_jobs_from_the_directory() {
    let app = spawn_app(AppOptions::default()).await;
    let alice = app.signed_in(ALICE).await;
    let alices = app.change_password(&alice, ALICE.1, NEW_PASSWORD).await;
    let bob = app.signed_in(BOB).await;
    let bobs = app.change_password(&bob, BOB.1, NEW_PASSWORD).await;
    for (client, job) in [(&alice, &alices), (&bob, &bobs)] {
        assert_eq!(app.finished_job(client, job).await["state"], "succeeded");
    }

    let ids = |listed: Value| -> Vec<String> {
        let records = listed.as_array().expect("a list").iter();
        records
            .map(|record| record["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = app.admin(&["jobs", "list", "--json"], &[]).json();
    assert_eq!(
        ids(all.clone()),
        [bobs.clone(), alices.clone()],
        "newest first"
    );
    assert_eq!(all[1]["account"], demo::dn("alice"));
    let of_alice = app.admin(&["jobs", "list", "--account", "alice", "--json"], &[]);
    assert_eq!(ids(of_alice.json()), std::slice::from_ref(&alices));
    let filtered = [
        "jobs",
        "list",
        "--state=succeeded",
        "--kind",
        "change_password",
        "--json",
    ];
    assert_eq!(ids(app.admin(&filtered, &[]).json()).len(), 2);
    let none = app.admin(&["jobs", "list", "--state", "failed", "--json"], &[]);
    assert_eq!(ids(none.json()), Vec::<String>::new());
    let table = app.admin(&["jobs", "list"], &[]).stdout();
    assert!(
        table.starts_with("ID ") && table.contains(&alices),
        "{table}"
    );

    let shown = app.admin(&["jobs", "show", &alices, "--json"], &[]).json();
    assert_eq!(
        (
            &shown["state"],
            &shown["attempts"],
            &shown["done"],
            &shown["total"]
        ),
        (&"succeeded".into(), &1.into(), &1.into(), &1.into())
    );
    assert_eq!(shown["account"], demo::dn("alice"));
    let details = app.admin(&["jobs", "show", &alices], &[]).stdout();
    assert!(details.contains("state:     succeeded\n"), "{details}");

    let unknown = JobId::new().to_string();
    app.admin(&["jobs", "show", &unknown], &[])
        .failed_with(1, &unknown);
    app.admin(&["jobs", "list", "--account", "nobody"], &[])
        .failed_with(1, "no account has the uid `nobody`");
    app.admin(&["jobs", "show", "42"], &[])
        .failed_with(2, "`42` is not a job id");
}

#[tokio::test]
async fn an_unreachable_or_refusing_directory_or_broker_has_its_own_message_and_exit_code() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let nowhere = latchkey_tests::slapd::free_port();

    let ldap_url = format!("ldap://127.0.0.1:{nowhere}");
    let broker_url = format!("amqp://latchkey-test-admin@127.0.0.1:{nowhere}/%2f");
    let wrong = || "wrong".to_owned();
    let cases = [
        (
            ["jobs", "list"],
            ("LDAP__URL", ldap_url.clone()),
            3,
            format!("the directory at {ldap_url} is unreachable"),
        ),
        (
            ["failed", "list"],
            ("BROKER__URL", broker_url.clone()),
            4,
            format!("the broker at {broker_url} is unreachable"),
        ),
        (
            ["jobs", "list"],
            ("LDAP__SERVICE_PASSWORD", wrong()),
            5,
            "the directory refused".into(),
        ),
        (
            ["failed", "list"],
            ("BROKER__PASSWORD", wrong()),
            5,
            "the broker refused".into(),
        ),
    ];
    for (arguments, setting, code, says) in cases {
        let run = app.admin(&arguments, &[setting]);
        run.failed_with(code, &says);
        assert!(
            !run.stderr().contains("latchkey-test-admin-password"),
            "no password shown"
        );
    }
}
