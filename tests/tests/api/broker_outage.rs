//! The broker stopped and started again while jobs are in flight, on a
//! RabbitMQ node of the test's own: while it is down the gateway refuses
//! changes with 503 and says it is not ready; once it is back, gateway and
//! workers carry on by themselves, with nothing restarted, and every job
//! lands exactly once.

use latchkey_tests::broker_node::BrokerNode;
use latchkey_tests::client::Client;
use latchkey_tests::demo::{self, ALICE, BOB, CAROL, DAVE, ERIN};
use latchkey_tests::probe::Probe;
use latchkey_tests::{AppOptions, TestApp, eventually, ldap, spawn_app};
use serde_json::{Value, json};

/// The accounts whose changes are in flight when the broker stops, and
/// their new passwords.
const BATCH: [((&str, &str), &str); 4] = [
    (ALICE, "Copper-Kettle-Whistles-81"),
    (BOB, "Velvet-Rowboat-Drifts-64"),
    (CAROL, "Granite-Owl-Listens-27"),
    (DAVE, "Saffron-Tram-Hums-53"),
];
/// Erin's new password, asked for while the broker is down.
const LATE: &str = "Lantern-Meadow-Echoes-39";

async fn ask_erin(app: &TestApp, erin: &Client) -> reqwest::Response {
    app.post(
        erin,
        "/api/password",
        json!({"current": ERIN.1, "new": LATE}),
    )
    .await
}

async fn readyz(app: &TestApp) -> (u16, String) {
    let response = reqwest::get(format!("{}/readyz", app.ops_address))
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn revision(app: &TestApp, uid: &str) -> Option<String> {
    let entry = app.account_entry(uid).await;
    entry
        .attrs
        .get("latchkeyRevision")
        .and_then(|values| values.first().cloned())
}

#[tokio::test]
async fn jobs_in_flight_when_the_broker_stops_each_land_once_after_it_is_back() {
    let mut node = BrokerNode::start();
    let app = spawn_app(AppOptions {
        workers: 0,
        broker_url: Some(node.url()),
        broker_users: Some(node.users()),
        queue_expires_ms: None,
        ..Default::default()
    })
    .await;
    // The worker's password writes wait at a gate: jobs stay in its hands.
    let gated = Probe::gated(app.directory());
    let seen = gated.state.clone();
    let worker = app.start_worker(gated).await;
    let mut jobs = Vec::new();
    for (account, new) in BATCH {
        let client = app.signed_in(account).await;
        let job = app.change_password(&client, account.1, new).await;
        jobs.push((client, job));
    }
    seen.until_write_reached().await;

    node.stop();
    eventually("the worker to notice the broker is gone", 30, || async {
        (!worker.is_connected()).then_some(())
    })
    .await;
    // Signing in and following a job need only the directory.
    let erin = app.signed_in(ERIN).await;
    let (client, job) = &jobs[0];
    let followed = app.get(client, &format!("/api/jobs/{job}")).await;
    assert_eq!(followed.status(), 200);
    let refused = ask_erin(&app, &erin).await;
    assert_eq!(refused.status(), 503, "never 202 without a broker");
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(refused.headers()["retry-after"], "30");
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/broker-unavailable", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was changed"),
        "{problem}"
    );
    assert_eq!(
        readyz(&app).await,
        (503, r#"{"ready":false,"down":["broker"]}"#.into())
    );
    // The jobs in hand commit while the broker is away; their acks cannot
    // reach it, so it gives them out again once it is back.
    seen.open_gate();
    eventually(
        "the jobs in hand to commit while the broker is down",
        30,
        || async {
            for ((uid, _), _) in BATCH {
                revision(&app, uid).await?;
            }
            Some(())
        },
    )
    .await;

    node.resume();
    let accepted = eventually("the gateway to take changes again", 60, || async {
        let response = ask_erin(&app, &erin).await;
        match response.status().as_u16() {
            503 => None,
            202 => Some(response.json::<Value>().await.unwrap()),
            other => panic!("a change after the broker is back: {other}"),
        }
    })
    .await;
    assert_eq!(readyz(&app).await.0, 200);
    eventually("the worker to reconnect by itself", 60, || async {
        worker.is_connected().then_some(())
    })
    .await;
    let late_job = accepted["job"]["id"].as_str().unwrap().to_owned();
    jobs.push((erin, late_job));

    for (client, job) in &jobs {
        let finished = app.finished_job(client, job).await;
        assert_eq!(finished["state"], "succeeded", "{finished}");
    }
    let url = app.slapd.url();
    for ((uid, old), new) in BATCH.into_iter().chain([(ERIN, LATE)]) {
        assert!(
            ldap::bind_succeeds(&url, &demo::dn(uid), new).await,
            "{uid}"
        );
        assert!(
            !ldap::bind_succeeds(&url, &demo::dn(uid), old).await,
            "{uid}"
        );
        // Every write swaps the revision up by one: once means applied once,
        // the redelivery of the job committed during the outage included.
        assert_eq!(revision(&app, uid).await.as_deref(), Some("1"), "{uid}");
    }
    assert_eq!(
        app.job_entries().await.len(),
        BATCH.len() + 1,
        "the refused change left no record"
    );
}
