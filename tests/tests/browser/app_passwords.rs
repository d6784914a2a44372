//! App passwords: created, shown once, listed, revoked.

use crate::{portal, sign_in};
use latchkey_tests::AppOptions;
use latchkey_tests::demo::{self, ALICE};
use latchkey_tests::ldap;

#[tokio::test]
async fn a_person_creates_an_app_password_copies_it_once_and_revokes_it() {
    let (app, browser) = portal(AppOptions::default()).await;
    let imap = format!("cn=imap,{}", demo::dn("alice"));
    sign_in(&browser, ALICE).await;
    browser.visit("/app-passwords").await;
    browser
        .wait_for_text("main", "You have no app passwords.")
        .await;

    browser
        .click("#create-app-password button[type=submit]")
        .await;
    browser.wait_for_some_text("#name-error").await;
    let error = browser.text("#name-error").await;
    assert!(
        !error.is_empty(),
        "a nameless app password is refused next to the name"
    );

    browser.fill("#name", "Phone").await;
    browser
        .click("#create-app-password button[type=submit]")
        .await;
    let secret = browser.wait_for_some_text("#app-secret").await;
    let secret = secret.trim().to_owned();
    assert_eq!(
        secret.chars().count(),
        29,
        "24 characters in six groups: {secret}"
    );
    browser
        .wait_for_text("#create-app-password [data-status]", "Done")
        .await;
    browser.screenshot("app-password-created").await;

    // The secret works where the mail services check it, and only there.
    let url = app.slapd.url();
    assert!(ldap::bind_succeeds(&url, &imap, &secret).await);
    assert!(!ldap::bind_succeeds(&url, &format!("cn=sieve,{}", demo::dn("alice")), &secret).await);

    // Copy puts it on the clipboard, or selects it where the clipboard is closed.
    browser.click("#new-secret button[data-copy]").await;
    let copied = browser
        .wait_for_some_text("#new-secret [data-copied]")
        .await;
    let selected = browser
        .run("return String(window.getSelection()).trim()")
        .await;
    assert!(
        copied == "Copied." || selected == secret.as_str(),
        "{copied} / {selected}"
    );
    browser.click("#new-secret a").await;
    browser.wait_for_text("table", "Phone").await;
    let page = browser.text("main").await;
    assert!(!page.contains(&secret), "the secret is never shown again");
    browser.screenshot("app-passwords-list").await;

    browser.click("button[aria-label='Revoke Phone']").await;
    browser
        .wait_for_text("main", "You have no app passwords.")
        .await;
    assert!(
        !ldap::bind_succeeds(&url, &imap, &secret).await,
        "a revoked app password opens nothing"
    );
}

#[tokio::test]
async fn a_stale_session_is_asked_for_the_password_in_place_and_keeps_what_was_typed() {
    let (app, browser) = portal(AppOptions::default()).await;
    sign_in(&browser, ALICE).await;
    browser.visit("/app-passwords").await;
    app.clock.advance(time::Duration::minutes(6));

    browser.fill("#name", "Tablet").await;
    browser
        .click("#create-app-password button[type=submit]")
        .await;
    browser
        .wait_for_text("#step-up", "needs your password again")
        .await;
    browser.screenshot("step-up-asked").await;

    browser.fill("#step-up-password", "not my password").await;
    browser.click("#step-up button[type=submit]").await;
    browser.wait_for_some_text("#step-up-password-error").await;

    browser.fill("#step-up-password", ALICE.1).await;
    browser.click("#step-up button[type=submit]").await;
    browser.wait_for_some_text("#app-secret").await;
    browser
        .wait_for_text("#create-app-password [data-status]", "Done")
        .await;
    browser.click("#new-secret a").await;
    let table = browser.wait_for_text("table", "Tablet").await;
    assert!(
        table.contains("Tablet"),
        "the name typed before the dialog was kept"
    );
}
