//! Every page passes axe-core's serious and critical rules and fits a
//! phone's screen; a form on another site cannot change anything.

use crate::{portal, sign_in};
use axum::response::Html;
use latchkey_tests::AppOptions;
use latchkey_tests::demo::ALICE;

const PAGES: [(&str, &str); 7] = [
    ("/account", "overview"),
    ("/password", "password"),
    ("/two-factor", "two-factor"),
    ("/passkeys", "passkeys"),
    ("/app-passwords", "app-passwords"),
    ("/encryption", "encryption"),
    ("/sessions", "sessions"),
];

#[tokio::test]
async fn every_page_passes_the_accessibility_checker_on_a_desktop_and_a_phone() {
    let (app, browser) = portal(AppOptions::without_workers()).await;
    browser.visit("/sign-in").await;
    let problems = browser.accessibility_problems().await;
    assert!(problems.is_empty(), "/sign-in: {problems:#?}");
    sign_in(&browser, ALICE).await;
    // Another session, so /sessions shows its sign-out buttons too.
    let _elsewhere = app.signed_in(ALICE).await;
    for (width, height, device) in [(1280, 900, "desktop"), (390, 844, "phone")] {
        browser.resize(width, height).await;
        for (path, name) in PAGES {
            browser.visit(path).await;
            browser.find("main h1").await;
            let problems = browser.accessibility_problems().await;
            assert!(problems.is_empty(), "{path} on a {device}: {problems:#?}");
            let overflow = browser
                .run("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                .await;
            assert_eq!(overflow, 0, "{path} fits a {device}'s width");
            if device == "phone" {
                browser.screenshot(&format!("phone-{name}")).await;
            }
        }
    }
}

/// A page on another origin with a form that posts to the portal, as an
/// attacker's site would.
async fn forging_site(target: String) -> String {
    let page = format!(
        r#"<!doctype html><html lang="en"><title>Win a prize</title>
        <form method="post" action="{target}/api/app-passwords" enctype="text/plain">
        <input name='{{"name":"forged","x":"' value='"}}'>
        <button id="go">Claim your prize</button></form>"#
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router =
        axum::Router::new().route("/", axum::routing::get(move || async move { Html(page) }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/")
}

#[tokio::test]
async fn a_form_posted_from_another_origin_changes_nothing() {
    let (app, browser) = portal(AppOptions::default()).await;
    sign_in(&browser, ALICE).await;
    let site = forging_site(app.address.clone()).await;
    browser.visit_url(&site).await;
    browser.click("#go").await;
    let answer = browser.wait_for_text("body", "refused").await;
    assert!(
        answer.contains("requests from other sites are refused"),
        "{answer}"
    );
    browser.screenshot("cross-origin-refused").await;
    assert!(app.job_entries().await.is_empty(), "nothing was queued");
    browser.visit("/app-passwords").await;
    browser
        .wait_for_text("main", "You have no app passwords.")
        .await;
}
