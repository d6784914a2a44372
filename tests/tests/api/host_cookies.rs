//! Served over https, the portal's cookies are `__Host-` cookies: `Secure`,
//! `Path=/`, no `Domain`, and only that name opens a session.

use latchkey_tests::demo::ALICE;
use latchkey_tests::{AppOptions, spawn_app};
use serde_json::json;

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

fn assert_host_cookie(cookie: &str) {
    let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    assert!(cookie.starts_with("__Host-latchkey_"), "{cookie}");
    assert!(attributes.contains(&"Secure"), "{cookie}");
    assert!(attributes.contains(&"Path=/"), "{cookie}");
    assert!(
        !attributes.iter().any(|a| a.starts_with("Domain")),
        "{cookie}"
    );
}

#[tokio::test]
async fn over_https_the_session_lives_in_host_cookies_only() {
    let app = spawn_app(AppOptions {
        workers: 0,
        settings: vec![("GATEWAY__PUBLIC_URL", "https://portal.example.test".into())],
        ..Default::default()
    })
    .await;
    let client = app.client();
    let signed_in = app
        .post(
            &client,
            "/api/session",
            json!({"username": ALICE.0, "password": ALICE.1}),
        )
        .await;
    assert_eq!(signed_in.status(), 200);
    let cookies = set_cookies(&signed_in);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    cookies.iter().for_each(|cookie| assert_host_cookie(cookie));
    let session = cookies
        .iter()
        .find_map(|cookie| cookie.strip_prefix("__Host-latchkey_session="))
        .and_then(|rest| rest.split(';').next())
        .expect("the session cookie");

    // The client sends the __Host- cookies back and its CSRF token from them.
    app.change_password(&client, ALICE.1, "Quietly-Orbiting-Walrus-93")
        .await;
    let plain = reqwest::Client::new()
        .get(format!("{}/api/account", app.address))
        .header("cookie", format!("latchkey_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 401, "the unprefixed name is not read");

    let signed_out = app.delete(&client, "/api/session", None).await;
    assert_eq!(signed_out.status(), 204);
    let removals = set_cookies(&signed_out);
    assert_eq!(removals.len(), 2, "{removals:?}");
    removals
        .iter()
        .for_each(|cookie| assert_host_cookie(cookie));
    assert_eq!(app.get(&client, "/api/account").await.status(), 401);
}
