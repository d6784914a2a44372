//! Sign-in, password change and two-factor enrolment, by keyboard and mouse.

use crate::{portal, sign_in, sign_out_and_try, submit_sign_in};
use latchkey_core::clock::Clock;
use latchkey_tests::demo::ALICE;
use latchkey_tests::{AppOptions, oathtool};

const NEW_PASSWORD: &str = "Quietly-Orbiting-Walrus-93";

#[tokio::test]
async fn a_person_changes_the_password_and_signs_in_with_the_new_one() {
    let (app, browser) = portal(AppOptions::default()).await;

    // Keyboard only: type, Tab to the next field, Enter to send.
    browser.visit("/sign-in").await;
    browser.screenshot("sign-in").await;
    let username = browser.find("#username").await;
    username.send_keys(ALICE.0).await.unwrap();
    username.send_keys("\u{E004}").await.unwrap(); // Tab
    let focused = browser.run("return document.activeElement.id").await;
    assert_eq!(focused, "password", "Tab moves from username to password");
    browser
        .find("#password")
        .await
        .send_keys(&format!("{}\u{E007}", ALICE.1))
        .await
        .unwrap(); // Enter
    browser.wait_for_path("/account").await;
    browser.wait_for_text("h1", "Hello").await;
    browser.screenshot("overview").await;

    browser.visit("/password").await;
    // The rules are stated before anything is typed.
    let rules = browser.text("#rules").await;
    assert!(rules.contains("at least 12 characters"), "{rules}");
    // The meter judges as the policy does.
    browser.fill("#new", "alice-and-the-rabbit").await;
    browser
        .wait_for_text("#strength-text", "must not contain your username")
        .await;
    browser.fill("#new", NEW_PASSWORD).await;
    browser.wait_for_text("#strength-text", "good").await;
    // Mistakes are shown next to their field.
    browser.fill("#current", ALICE.1).await;
    browser.fill("#repeat", "Quietly-Orbiting-Walrus-94").await;
    browser.click("#change-password button[type=submit]").await;
    browser.wait_for_text("#repeat-error", "not the same").await;
    browser.fill("#current", "not-my-password").await;
    browser.fill("#repeat", NEW_PASSWORD).await;
    browser.click("#change-password button[type=submit]").await;
    browser
        .wait_for_text("#current-error", "password is incorrect")
        .await;
    assert_eq!(
        browser
            .find("#current")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    browser.screenshot("password-error").await;

    browser.fill("#current", ALICE.1).await;
    browser.fill("#new", NEW_PASSWORD).await;
    browser.fill("#repeat", NEW_PASSWORD).await;
    browser.click("#change-password button[type=submit]").await;
    browser
        .wait_for_text("#change-password [data-status]", "Done")
        .await;
    browser.screenshot("password-changed").await;

    sign_out_and_try(&browser, ALICE).await;
    browser
        .wait_for_text("#sign-in [data-form-error]", "incorrect")
        .await;
    submit_sign_in(&browser, (ALICE.0, NEW_PASSWORD)).await;
    browser.wait_for_path("/account").await;
    let changes = browser.text("table").await;
    assert!(changes.contains("Change password"), "{changes}");
    assert!(changes.contains("Done"), "{changes}");
    drop(app);
}

#[tokio::test]
async fn a_person_turns_on_two_factor_with_the_code_shown_and_signs_in_with_it() {
    let (app, browser) = portal(AppOptions::default()).await;
    // 2FA needs a password set by Latchkey; alice has one.
    sign_in(&browser, ALICE).await;
    browser.visit("/two-factor").await;
    browser.screenshot("two-factor-off").await;
    browser.click("#start-enrolment button").await;
    // The enrolment answer fills the key and the QR code after the click returns.
    let secret = browser.wait_for_some_text("#secret").await.replace(' ', "");
    assert_eq!(secret.len(), 32, "a 160-bit base32 secret: {secret}");
    let qr = browser.wait_for_attribute("#qr", "src").await;
    assert!(qr.starts_with("data:image/png;base64,"), "{qr}");
    browser.screenshot("two-factor-enrolment").await;

    browser.fill("#confirm-code", "000000").await;
    browser
        .click("#confirm-enrolment button[type=submit]")
        .await;
    browser
        .wait_for_text("#confirm-code-error", "not correct")
        .await;
    browser
        .fill("#confirm-code", &oathtool(&secret, app.clock.now()))
        .await;
    browser
        .click("#confirm-enrolment button[type=submit]")
        .await;
    browser
        .wait_for_text("#recovery-codes [data-status]", "Done")
        .await;
    let codes = browser
        .client()
        .find_all(fantoccini::Locator::Css("#codes li"))
        .await
        .unwrap();
    assert_eq!(codes.len(), 10, "ten recovery codes are shown once");
    browser.screenshot("two-factor-recovery-codes").await;

    sign_out_and_try(&browser, ALICE).await;
    browser.find("#second-step:not([hidden])").await;
    browser.screenshot("sign-in-second-step").await;
    // The code used to confirm is spent; the next one works.
    app.clock.advance(time::Duration::seconds(30));
    browser
        .fill("#code", &oathtool(&secret, app.clock.now()))
        .await;
    browser.click("#second-step button[type=submit]").await;
    browser.wait_for_path("/account").await;
    let card = browser.text("#card-2fa + p").await;
    assert!(card.contains("On"), "{card}");
}

#[tokio::test]
async fn a_session_left_idle_ends_and_the_sign_in_page_says_why() {
    let (app, browser) = portal(AppOptions::without_workers()).await;
    sign_in(&browser, ALICE).await;
    app.clock.advance(time::Duration::minutes(31));
    browser.visit("/password").await;
    browser.wait_for_path("/sign-in").await;
    let notice = browser.text("main .alert").await;
    assert!(
        notice.contains("signed out after a while without activity"),
        "{notice}"
    );
    submit_sign_in(&browser, ALICE).await;
    browser.wait_for_path("/account").await;
}
