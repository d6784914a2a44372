//! The gateway makes every request id itself: what a client sends in
//! `X-Request-Id` never reaches a job's broker headers or its envelope, and
//! reaches the log only as `client_request_id`, when short and plain.

use lapin::options::BasicGetOptions;
use lapin::types::AMQPValue;
use latchkey_core::job::Envelope;
use latchkey_core::telemetry::CapturedLogs;
use latchkey_tests::client::Client;
use latchkey_tests::demo::ALICE;
use latchkey_tests::{AppOptions, eventually, spawn_app};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

/// Alice's password change, as `client` would send it.
fn password_change(client: &Client) -> RequestBuilder {
    client
        .request_to(Method::POST, "/api/password")
        .json(&serde_json::json!({"current": ALICE.1, "new": "Quietly-Orbiting-Walrus-93"}))
}

/// Sends `request` with the client's own `X-Request-Id: id`; the status and
/// the server's id in the answer.
async fn send_naming(request: RequestBuilder, id: &str) -> (u16, String) {
    let response = request.header("x-request-id", id).send().await.unwrap();
    let ours = response.headers()["x-request-id"].to_str().unwrap();
    (response.status().as_u16(), ours.to_owned())
}

#[tokio::test]
async fn a_client_request_id_never_reaches_the_broker_headers_or_the_envelope() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let chosen = "chosen-by-the-client";
    let (status, ours) = send_naming(password_change(&client), chosen).await;
    assert_eq!(status, 202);
    assert!(
        uuid::Uuid::parse_str(&ours).is_ok(),
        "a UUID of the server's: {ours}"
    );

    let connection = lapin::Connection::connect(&app.broker_admin_url, Default::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let queue = format!("{}.credentials", app.settings.broker.prefix);
    let message = eventually("the job on its queue", 30, || async {
        channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
    })
    .await;
    let headers = message.delivery.properties.headers().clone().unwrap();
    let header = headers.inner().get("x-request-id").cloned();
    assert_eq!(header, Some(AMQPValue::LongString(ours.as_str().into())));
    let envelope = Envelope::open(&app.context(()).keyring, &message.delivery.data).unwrap();
    assert_eq!(envelope.request_id.as_deref(), Some(ours.as_str()));
}

/// The fields of the request span a log line was written in, if any.
fn request_span(line: &Value) -> Option<&Value> {
    let spans = line["spans"].as_array()?;
    spans.iter().find(|span| span["name"] == "request")
}

/// The keys of every string in `value` that contains `needle`, at any
/// depth (a string in a list counts under the list's key).
fn keys_holding(key: &str, value: &Value, needle: &str) -> Vec<String> {
    match value {
        Value::String(text) if text.contains(needle) => vec![key.to_owned()],
        Value::Object(fields) => fields
            .iter()
            .flat_map(|(key, value)| keys_holding(key, value, needle))
            .collect(),
        Value::Array(items) => items
            .iter()
            .flat_map(|item| keys_holding(key, item, needle))
            .collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn a_client_request_id_reaches_the_log_only_as_client_request_id() {
    // tower_http logs every answer at debug, in the request's span.
    let logs = CapturedLogs::start("info,tower_http=debug");
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let chosen = "chosen-by-the-client";
    let (status, changed) = send_naming(password_change(&client), chosen).await;
    assert_eq!(status, 202);
    let too_long = "long-".repeat(13);
    let account = client.request_to(Method::GET, "/api/account");
    let (status, read) = send_naming(account, &too_long).await;
    assert_eq!(status, 200);
    let lines = logs.lines();
    let in_request = |id: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|line| request_span(line).is_some_and(|span| span["request_id"] == id))
            .collect()
    };

    let audit = logs.audit();
    assert!(
        audit
            .iter()
            .any(|line| line["event"] == "job_queued" && line["request_id"] == changed.as_str()),
        "the queued job is audited under the server's id: {audit:#?}"
    );
    let change = in_request(&changed);
    assert!(!change.is_empty(), "the change is logged: {lines:#?}");
    for line in change {
        let span = request_span(line).unwrap();
        assert_eq!(span["client_request_id"], chosen, "{line}");
    }
    let reading = in_request(&read);
    assert!(!reading.is_empty(), "the answer is logged: {lines:#?}");
    for line in reading {
        let span = request_span(line).unwrap();
        assert_eq!(
            span.get("client_request_id"),
            None,
            "too long to keep: {line}"
        );
    }
    for line in lines.iter().chain(&audit) {
        assert!(
            keys_holding("", line, chosen)
                .iter()
                .all(|key| key == "client_request_id"),
            "the client's id is only ever `client_request_id`: {line}"
        );
        assert!(
            keys_holding("", line, &too_long).is_empty(),
            "a too-long id is kept nowhere: {line}"
        );
    }
}
