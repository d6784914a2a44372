//! Signing out another session from the sessions page.

use crate::{portal, sign_in};
use latchkey_tests::demo::ALICE;
use latchkey_tests::{AppOptions, eventually};

#[tokio::test]
async fn a_person_signs_out_a_session_they_do_not_recognise() {
    let (app, browser) = portal(AppOptions::without_workers()).await;
    sign_in(&browser, ALICE).await;
    let stranger = app.signed_in(ALICE).await;
    browser.visit("/sessions").await;
    browser.wait_for_text("table", "This session").await;
    browser
        .click("table form[data-api^='/api/sessions/'] button[type=submit]")
        .await;
    eventually("the stranger's session to end", 10, || async {
        (app.get(&stranger, "/api/account").await.status() == 401).then_some(())
    })
    .await;
    // The page reloads with this session alone, and it still works.
    eventually("the page to list one session", 10, || async {
        let rows = browser
            .run("return document.querySelectorAll('tbody tr').length")
            .await;
        (rows == 1).then_some(())
    })
    .await;
    assert!(browser.text("tbody").await.contains("This session"));
}
