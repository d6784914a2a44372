use latchkey_tests::demo::ALICE;
use latchkey_tests::{AppOptions, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn bad_bodies_get_specific_problems() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;

    let malformed = client
        .request_to(Method::POST, "/api/password")
        .header("content-type", "application/json")
        .body("{\"current\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = problem(malformed).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (400, Some("/problems/malformed-json"))
    );

    let missing = app
        .post(&client, "/api/password", json!({"current": ALICE.1}))
        .await;
    let (status, body) = problem(missing).await;
    assert_eq!(status, 422);
    assert_eq!(body["type"], "/problems/missing-field");
    assert_eq!(body["field"], "new");

    let wrong_type = app
        .post(
            &client,
            "/api/password",
            json!({"current": ALICE.1, "new": 7}),
        )
        .await;
    let (status, body) = problem(wrong_type).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("new")));

    let too_large = client
        .request_to(Method::POST, "/api/password")
        .header("content-type", "application/json")
        .body(format!("{{\"current\": \"{}\"}}", "x".repeat(65 * 1024)))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(too_large).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (413, Some("/problems/payload-too-large"))
    );

    let form = client
        .request_to(Method::POST, "/api/password")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("current=a&new=b")
        .send()
        .await
        .unwrap();
    let (status, body) = problem(form).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (415, Some("/problems/unsupported-media-type"))
    );
}

#[tokio::test]
async fn a_request_from_another_origin_is_refused() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let response = client
        .post(format!("{}/api/password", app.address))
        .header("origin", "https://evil.example")
        .json(&json!({"current": ALICE.1, "new": "Quietly-Orbiting-Walrus-93"}))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (403, Some("/problems/cross-origin"))
    );
    let same_origin = client
        .request_to(reqwest::Method::DELETE, "/api/session")
        .header("origin", app.address.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 204);
}

#[tokio::test]
async fn a_job_is_visible_to_its_owner_only() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let alice = app.signed_in(ALICE).await;
    let job = app
        .change_password(&alice, ALICE.1, "Quietly-Orbiting-Walrus-93")
        .await;
    assert_eq!(
        app.get(&alice, &format!("/api/jobs/{job}")).await.status(),
        200
    );
    let bob = app.signed_in(latchkey_tests::demo::BOB).await;
    let (status, body) = problem(app.get(&bob, &format!("/api/jobs/{job}")).await).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (404, Some("/problems/not-found"))
    );
    assert_eq!(app.get(&bob, "/api/jobs/not-a-uuid").await.status(), 404);
    let anonymous = app.client();
    assert_eq!(
        app.get(&anonymous, &format!("/api/jobs/{job}"))
            .await
            .status(),
        401
    );
}
