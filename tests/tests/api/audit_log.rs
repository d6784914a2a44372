//! The audit log is a stream of its own, one JSON line of a fixed shape
//! per security event: the gateway's lines carry the client's address and
//! the request id, and a worker's lines for the job that request caused
//! carry the same two, in the file `audit.path` names.

use latchkey_core::telemetry::CapturedLogs;
use latchkey_tests::demo::{self, ALICE};
use latchkey_tests::{AppOptions, eventually, spawn_app};
use reqwest::Method;
use serde_json::Value;
use std::net::IpAddr;

const NEW_PASSWORD: &str = "Quietly-Orbiting-Walrus-93";

/// The keys every audit line has, whatever the event.
const KEYS: [&str; 6] = [
    "time",
    "event",
    "result",
    "account",
    "client_address",
    "request_id",
];

fn has_the_fixed_shape(line: &Value) -> bool {
    KEYS.iter().all(|key| line.get(key).is_some())
}

#[tokio::test]
async fn the_gateway_audits_sign_ins_with_the_client_address_and_result() {
    let logs = CapturedLogs::start("off");
    let app = spawn_app(AppOptions::without_workers()).await;
    let from: IpAddr = "127.0.0.23".parse().unwrap();
    let client = app.client_from(from);
    let wrong = serde_json::json!({"username": ALICE.0, "password": "not-her-password"});
    assert_eq!(app.post(&client, "/api/session", wrong).await.status(), 401);
    let unknown = serde_json::json!({"username": "nobody-here", "password": "whatever-it-is"});
    assert_eq!(
        app.post(&client, "/api/session", unknown).await.status(),
        401
    );
    let right = serde_json::json!({"username": ALICE.0, "password": ALICE.1});
    let signed_in = app.post(&client, "/api/session", right).await;
    assert_eq!(signed_in.status(), 200);
    let request_id = signed_in.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let audit = logs.audit();
    assert!(audit.iter().all(has_the_fixed_shape), "{audit:#?}");
    let events: Vec<(&str, &str, &Value)> = audit
        .iter()
        .map(|line| {
            (
                line["event"].as_str().unwrap(),
                line["result"].as_str().unwrap(),
                &line["account"],
            )
        })
        .collect();
    let alice = Value::from(demo::dn("alice"));
    assert_eq!(
        events,
        [
            ("sign_in_failed", "failure", &alice),
            ("sign_in_failed", "failure", &Value::Null),
            ("signed_in", "success", &alice),
        ],
        "{audit:#?}"
    );
    assert!(
        audit
            .iter()
            .all(|line| line["client_address"] == from.to_string()),
        "{audit:#?}"
    );
    assert_eq!(audit[1]["details"]["unknown_username"], "nobody-here");
    assert_eq!(audit[2]["request_id"], request_id.as_str());
    assert!(
        !serde_json::to_string(&audit)
            .unwrap()
            .contains("not-her-password"),
        "no secret in the audit log"
    );
}

#[tokio::test]
async fn a_worker_writes_the_audit_line_of_a_job_to_its_audit_file_with_the_requests_ids() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("worker-audit.jsonl");
    let _worker = app.worker_process_with(&[("AUDIT__PATH", file.display().to_string())]);
    let from: IpAddr = "127.0.0.24".parse().unwrap();
    let client = app.client_from(from);
    let body = serde_json::json!({"username": ALICE.0, "password": ALICE.1});
    assert_eq!(app.post(&client, "/api/session", body).await.status(), 200);
    let answer = client
        .request_to(Method::POST, "/api/password")
        .json(&serde_json::json!({"current": ALICE.1, "new": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let request_id = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let job: Value = answer.json().await.unwrap();
    let job_id = job["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.finished_job(&client, &job_id).await["state"],
        "succeeded"
    );

    // The job's record says succeeded once the change is committed; its
    // audit line is written right after, so wait for it.
    let line = eventually("the worker's audit line", 30, || async {
        let text = std::fs::read_to_string(&file).ok()?;
        text.lines()
            .map(|line| serde_json::from_str::<Value>(line).expect("each line is JSON"))
            .find(|line| line["event"] == "password_changed")
    })
    .await;
    assert!(has_the_fixed_shape(&line), "{line}");
    assert_eq!(line["result"], "success");
    assert_eq!(line["account"], demo::dn("alice"));
    assert_eq!(line["request_id"], request_id.as_str(), "{line}");
    assert_eq!(line["client_address"], from.to_string(), "{line}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(NEW_PASSWORD), "no secret in the audit log");
}
