//! The operators' endpoints live on their own listener: the public port
//! does not serve them, and readiness names what is down without saying why,
//! on the gateway and on the worker alike.

use latchkey_tests::demo::ALICE;
use latchkey_tests::{AppOptions, TestApp, eventually, spawn_app};

const NEW_PASSWORD: &str = "Quietly-Orbiting-Walrus-93";

async fn ops_get(app: &TestApp, path: &str) -> (u16, String) {
    get(&format!("{}{path}", app.ops_address)).await.unwrap()
}

/// The status and body at `url`; an error while nothing listens there.
async fn get(url: &str) -> reqwest::Result<(u16, String)> {
    let response = reqwest::get(url).await?;
    Ok((response.status().as_u16(), response.text().await?))
}

#[tokio::test]
async fn the_ops_listener_serves_health_readiness_and_metrics_and_the_public_port_does_not() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    app.change_password(&client, ALICE.1, NEW_PASSWORD).await;
    assert_eq!(ops_get(&app, "/healthz").await, (200, "ok".into()));
    assert_eq!(
        ops_get(&app, "/readyz").await,
        (200, r#"{"ready":true,"down":[]}"#.into())
    );
    let (status, metrics) = ops_get(&app, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("latchkey_jobs_published_total"),
        "{metrics}"
    );
    for path in ["/healthz", "/readyz", "/metrics"] {
        let public = app.get(&client, path).await;
        assert_eq!(public.status(), 404, "{path} on the public port");
    }
}

#[tokio::test]
async fn readiness_names_the_directory_when_it_is_down_and_nothing_more() {
    let app = spawn_app(AppOptions::without_workers()).await;
    app.slapd.stop();
    assert_eq!(
        ops_get(&app, "/readyz").await,
        (503, r#"{"ready":false,"down":["ldap"]}"#.into())
    );
    app.slapd.resume();
    eventually("readiness after slapd is back", 30, || async {
        (ops_get(&app, "/readyz").await.0 == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn readiness_names_the_broker_when_it_is_unreachable_and_nothing_more() {
    let port = latchkey_tests::slapd::free_port();
    let app = spawn_app(AppOptions {
        workers: 0,
        broker_url: Some(format!("amqp://guest:guest@127.0.0.1:{port}/%2f")),
        ..Default::default()
    })
    .await;
    assert_eq!(
        ops_get(&app, "/readyz").await,
        (503, r#"{"ready":false,"down":["broker"]}"#.into())
    );
}

#[tokio::test]
async fn the_worker_process_names_the_directory_when_it_is_down_and_nothing_more() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let worker = app.worker_process();
    let readyz = format!("{}/readyz", worker.health_address);
    // It listens once it has connected to the broker and declared its queues.
    let ready = eventually("the worker's readiness", 60, || async {
        get(&readyz).await.ok().filter(|(status, _)| *status == 200)
    })
    .await;
    assert_eq!(ready, (200, r#"{"ready":true,"down":[]}"#.into()));
    app.slapd.stop();
    assert_eq!(
        get(&readyz).await.unwrap(),
        (503, r#"{"ready":false,"down":["ldap"]}"#.into())
    );
    app.slapd.resume();
    eventually("the worker's readiness after slapd is back", 30, || async {
        (get(&readyz).await.ok()?.0 == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_worker_process_counts_a_job_done_before_the_first_scrape_with_its_latency() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let worker = app.worker_process();
    let client = app.signed_in(ALICE).await;
    let job = app.change_password(&client, ALICE.1, NEW_PASSWORD).await;
    assert_eq!(app.finished_job(&client, &job).await["state"], "succeeded");

    let (status, metrics) = get(&format!("{}/metrics", worker.health_address))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let counted = metrics.lines().any(|line| {
        line.starts_with("latchkey_jobs_total{")
            && line.contains(r#"kind="change_password""#)
            && line.contains(r#"outcome="done""#)
            && line.ends_with(" 1")
    });
    assert!(counted, "the job is counted once:\n{metrics}");
    assert!(
        metrics.contains(r#"latchkey_job_latency_seconds_bucket{kind="change_password",le="#),
        "publish to commit as a histogram:\n{metrics}"
    );
}
