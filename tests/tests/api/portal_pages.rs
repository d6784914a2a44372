//! The portal's pages and what protects them, over plain HTTP: redirects,
//! security headers, CSRF tokens, idle expiry, the strength check. The
//! browser tests (`tests/browser`) drive the same pages in Chromium.

use latchkey_tests::demo::ALICE;
use latchkey_tests::{AppOptions, spawn_app};
use serde_json::{Value, json};

const PAGES: [&str; 5] = [
    "/account",
    "/password",
    "/two-factor",
    "/app-passwords",
    "/encryption",
];

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn pages_send_visitors_without_a_session_to_sign_in() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = no_redirects();
    for page in PAGES.into_iter().chain(["/"]) {
        let response = client
            .get(format!("{}{page}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{page}");
        assert_eq!(response.headers()["location"], "/sign-in", "{page}");
    }
    let sign_in = client
        .get(format!("{}/sign-in", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in.status(), 200);
}

#[tokio::test]
async fn an_unknown_path_is_a_page_for_browsers_and_a_problem_for_programs() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = reqwest::Client::new();
    let url = format!("{}/no-such-page", app.address);
    let page = client
        .get(&url)
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<h1>Page not found</h1>")
    );
    let problem = client.get(&url).send().await.unwrap();
    assert_eq!(problem.status(), 404);
    assert_eq!(
        problem.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn every_page_forbids_inline_script_framing_and_caching() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    for page in PAGES.into_iter().chain(["/sign-in"]) {
        let response = app.get(&client, page).await;
        assert_eq!(response.status(), 200, "{page}");
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{page}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{page}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{page}: {csp}");
        assert_eq!(headers["x-frame-options"], "DENY", "{page}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{page}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{page}");
        assert_eq!(headers["cache-control"], "no-store", "{page}");
        let html = response.text().await.unwrap();
        assert!(!html.contains("<script>"), "{page} has no inline script");
        assert!(!html.contains(" style="), "{page} has no inline style");
    }
    for (asset, content_type) in [
        ("portal.js", "text/javascript; charset=utf-8"),
        ("api.js", "text/javascript; charset=utf-8"),
        ("forms.js", "text/javascript; charset=utf-8"),
        ("portal.css", "text/css; charset=utf-8"),
        ("logo.svg", "image/svg+xml"),
    ] {
        let response = app.get(&client, &format!("/assets/{asset}")).await;
        assert_eq!(response.status(), 200, "{asset}");
        assert_eq!(response.headers()["content-type"], content_type, "{asset}");
    }
}

#[tokio::test]
async fn a_change_without_the_sessions_csrf_token_is_refused() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let token = client.csrf_token().expect("sign-in hands out a CSRF token");
    let body = json!({"name": "Phone"});
    let url = format!("{}/api/app-passwords", app.address);

    let without = client.post(&url).json(&body).send().await.unwrap();
    let wrong = client
        .post(&url)
        .header("x-csrf-token", format!("{token}x"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let other_session = app.signed_in(ALICE).await.csrf_token().unwrap();
    let borrowed = client
        .post(&url)
        .header("x-csrf-token", other_session)
        .json(&body)
        .send()
        .await
        .unwrap();
    for response in [without, wrong, borrowed] {
        assert_eq!(response.status(), 403);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "/problems/csrf-token");
    }
    assert!(app.job_entries().await.is_empty(), "nothing was queued");

    let with_token = app.post(&client, "/api/app-passwords", body).await;
    assert_eq!(with_token.status(), 202);
}

#[tokio::test]
async fn a_session_unused_for_the_idle_time_ends() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    // Used every 20 minutes, the session lives on past the idle time.
    for _ in 0..3 {
        app.clock.advance(time::Duration::minutes(20));
        assert_eq!(app.get(&client, "/api/account").await.status(), 200);
    }
    app.clock.advance(time::Duration::minutes(31));
    let ended = app.get(&client, "/api/account").await;
    assert_eq!(ended.status(), 401);
    let problem: Value = ended.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/session-expired");
    assert!(problem["detail"].as_str().unwrap().contains("30 minutes"));
    // It is gone from the directory, not only refused.
    app.clock.advance(time::Duration::minutes(-31));
    assert_eq!(app.get(&client, "/api/account").await.status(), 401);
}

#[tokio::test]
async fn the_strength_check_says_what_the_policy_would() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let client = app.signed_in(ALICE).await;
    let check = |password: &'static str| {
        let (app, client) = (&app, &client);
        async move {
            let response = app
                .post(
                    client,
                    "/api/password/strength",
                    json!({"password": password}),
                )
                .await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let short = check("abc").await;
    assert_eq!(
        (short["acceptable"].as_bool(), short["rule"].as_str()),
        (Some(false), Some("too-short"))
    );
    let named = check("alice-in-the-garden-2026").await;
    assert_eq!(named["rule"], "contains-identity");
    let guessable = check("aaaaaaaaaaaa").await;
    assert_eq!(guessable["acceptable"], false);
    let strong = check("Quietly-Orbiting-Walrus-93").await;
    assert_eq!(strong["acceptable"], true);
    assert!(strong["score"].as_u64().unwrap() >= 3);
    assert!(strong.get("rule").is_none());
}

#[tokio::test]
async fn the_overview_lists_recent_changes_with_their_outcome() {
    let app = spawn_app(AppOptions::default()).await;
    let client = app.signed_in(ALICE).await;
    let job = app
        .change_password(&client, ALICE.1, "Quietly-Orbiting-Walrus-93")
        .await;
    assert_eq!(app.finished_job(&client, &job).await["state"], "succeeded");
    let html = app.get(&client, "/account").await.text().await.unwrap();
    assert!(html.contains("Change password"), "{html}");
    assert!(
        html.contains(r#"<span class="state succeeded">Done</span>"#),
        "{html}"
    );
    // Another account sees none of it.
    let bob = app.signed_in(latchkey_tests::demo::BOB).await;
    let theirs = app.get(&bob, "/account").await.text().await.unwrap();
    assert!(theirs.contains("No changes in the last days."));
    // Pages carry the session's token for the portal's script.
    let token = client.csrf_token().unwrap();
    assert!(html.contains(&format!(r#"<meta name="csrf-token" content="{token}">"#)));
}
