//! The gateway makes every request id itself: what a client sends in
//! `X-Request-Id` never reaches a job's broker headers or its envelope.

use lapin::options::BasicGetOptions;
use lapin::types::AMQPValue;
use latchkey_core::job::Envelope;
use latchkey_tests::demo::ALICE;
use latchkey_tests::{AppOptions, eventually, spawn_app};
use reqwest::Method;

#[tokio::test]
async fn a_client_request_id_never_reaches_the_broker_headers_or_the_envelope() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let chosen = "chosen-by-the-client";
    let response = client
        .request_to(Method::POST, "/api/password")
        .header("x-request-id", chosen)
        .json(&serde_json::json!({"current": ALICE.1, "new": "Quietly-Orbiting-Walrus-93"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let ours = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
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
