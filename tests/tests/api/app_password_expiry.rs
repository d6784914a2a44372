//! App passwords stop working at their expiry: the worker schedules the
//! removal on the broker's delay ladder when it stores one, so neither the
//! sweep nor a request is needed.

use latchkey_core::app_password::{AppPassword, AppPasswordName, Scope};
use latchkey_core::directory::{Accounts, AppPasswordStore, JobStore};
use latchkey_core::domain::{Dn, JobId};
use latchkey_core::job::{ExpireAppPassword, JobKind, JobMessage, JobRecord, JobState};
use latchkey_tests::demo::{self, ALICE};
use latchkey_tests::{AppOptions, TestApp, ldap, spawn_app};
use latchkey_workers::Outcome;
use latchkey_workers::step::process;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

/// Stores an app password for alice directly, with `expires`; returns it.
async fn stored(app: &TestApp, secret: &str, expires: OffsetDateTime) -> AppPassword {
    let directory = app.directory();
    let dn = Dn::from_directory(demo::dn("alice"));
    let entry = AppPassword {
        id: uuid::Uuid::new_v4(),
        name: AppPasswordName::parse(&format!("Device {}", &secret[..4])).unwrap(),
        scope: Scope::All,
        created: OffsetDateTime::now_utc().replace_nanosecond(0).unwrap(),
        expires: Some(expires),
        hash: app
            .context(app.directory())
            .hasher
            .hash(&secret.to_owned().into()),
    };
    let account = directory.account_at(&dn).await.unwrap().unwrap();
    directory
        .record_app_password(&account, &entry)
        .await
        .unwrap();
    directory.install_app_password(&dn, &entry).await.unwrap();
    entry
}

fn expiry_job(entry: &AppPassword, expires: OffsetDateTime) -> JobMessage {
    JobMessage::ExpireAppPassword(ExpireAppPassword {
        job_id: JobId::new(),
        account: Dn::from_directory(demo::dn("alice")),
        id: entry.id,
        expires,
    })
}

#[tokio::test]
async fn a_scheduled_expiry_that_outlived_its_record_is_recorded_again_and_the_directory_decides() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let url = app.slapd.url();
    let alice = demo::dn("alice");
    let directory = app.directory();
    let context = app.context(app.directory());
    let now = OffsetDateTime::now_utc();
    let past = stored(
        &app,
        "aaaa-bbbb-cccc-dddd-eeee-ffff",
        now - Duration::seconds(1),
    )
    .await;
    let future = stored(
        &app,
        "gggg-hhhh-jjjj-kkkk-mmmm-nnnn",
        now + Duration::hours(1),
    )
    .await;

    // Not due: it waits again, and nothing is asked of the directory.
    let early = expiry_job(&future, now + Duration::hours(1));
    let outcome = process(&context, &latchkey_tests::envelope(&early), 1).await;
    assert_eq!(outcome, Outcome::Later(now + Duration::hours(1)));
    assert_eq!(directory.job(early.job_id()).await.unwrap(), None);

    // Due, its record long gone (dds keeps records a week at most).
    let due = expiry_job(&past, now - Duration::seconds(1));
    let envelope = latchkey_tests::envelope(&due);
    assert_eq!(process(&context, &envelope, 1).await, Outcome::Done);
    let record = directory.job(due.job_id()).await.unwrap().unwrap();
    assert_eq!(
        (record.kind, record.state),
        (JobKind::ExpireAppPassword, JobState::Succeeded)
    );
    assert!(!ldap::bind_succeeds(&url, &alice, "aaaa-bbbb-cccc-dddd-eeee-ffff").await);
    assert!(
        ldap::bind_succeeds(&url, &alice, "gggg-hhhh-jjjj-kkkk-mmmm-nnnn").await,
        "the other one still works"
    );
    // A replay finds nothing left to remove.
    assert_eq!(process(&context, &envelope, 1).await, Outcome::Done);

    // A job that says the other is due while the directory says it is not
    // removes nothing, and waits for the directory's time.
    let claimed = expiry_job(&future, now - Duration::seconds(1));
    let outcome = process(&context, &latchkey_tests::envelope(&claimed), 1).await;
    assert_eq!(outcome, Outcome::Later(future.expires.unwrap()));
    assert!(ldap::bind_succeeds(&url, &alice, "gggg-hhhh-jjjj-kkkk-mmmm-nnnn").await);
    let record = directory.job(claimed.job_id()).await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Queued, "waiting, not in progress");

    // A record of another kind is still refused.
    let mismatched = expiry_job(&future, now - Duration::seconds(1));
    let record = JobRecord::queued(
        mismatched.job_id(),
        JobKind::RevokeAppPasswords,
        Dn::from_directory(alice.clone()),
        1,
        now.replace_nanosecond(0).unwrap(),
    );
    app.gateway_directory().create_job(&record).await.unwrap();
    let outcome = process(&context, &latchkey_tests::envelope(&mismatched), 1).await;
    assert!(matches!(outcome, Outcome::Refused(_)), "{outcome:?}");
}

#[tokio::test]
async fn bad_expiry_times_are_refused_naming_the_field() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let soon = rfc3339(OffsetDateTime::now_utc() + Duration::hours(1));
    let cases = [
        json!({"name": "x", "expires_at": soon, "expires_in_days": 30}),
        json!({"name": "x", "expires_at": "2020-01-01T00:00:00Z"}),
        json!({"name": "x", "expires_at": rfc3339(OffsetDateTime::now_utc() + Duration::days(3651))}),
        json!({"name": "x", "expires_at": "2031-01-01"}),
        json!({"name": "x", "expires_at": "2031-01-01T00:00:00"}),
        json!({"name": "x", "expires_at": "next friday"}),
        json!({"name": "x", "expires_at": 1_900_000_000}),
    ];
    for body in cases {
        let response = app.post(&client, "/api/app-passwords", body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{body}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(
            (problem["type"].as_str(), problem["field"].as_str()),
            (Some("/problems/invalid-field"), Some("expires_at")),
            "{body}: {problem}"
        );
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }

    // An exact time is kept to the instant, in UTC.
    let response = app
        .post(
            &client,
            "/api/app-passwords",
            json!({"name": "Phone", "expires_at": "2031-05-01T12:00:00.5+02:00"}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["app_password"]["expires"], "2031-05-01T10:00:00.5Z");
}
