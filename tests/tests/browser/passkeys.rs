//! Passkeys in a real browser, with chromedriver's virtual authenticator
//! standing in for a phone or security key: register one, sign in with
//! the password and the passkey, then with the passkey alone, remove it
//! behind the step-up, and see it refused afterwards.

use crate::{portal, sign_in, submit_sign_in};
use latchkey_core::directory::Accounts;
use latchkey_core::domain::Uid;
use latchkey_tests::AppOptions;
use latchkey_tests::browser::Browser;
use latchkey_tests::demo::ALICE;

/// Asks the authenticator once, then sends its answer twice; resolves to
/// the two statuses.
const REPLAY: &str = r#"
    const done = arguments[arguments.length - 1];
    (async () => {
      const { api } = await import("/assets/api.js");
      const { getPasskey } = await import("/assets/passkeys.js");
      const started = await api("/api/session/passkey/options/discoverable", "POST", {});
      const credential = await getPasskey(started.data.options);
      const body = { token: started.data.token, credential };
      const first = await api("/api/session/passkey", "POST", body);
      const second = await api("/api/session/passkey", "POST", body);
      return [first.status, second.status];
    })().then(done, (error) => done(String(error)));
"#;

async fn sign_out(browser: &Browser) {
    browser.click(".sign-out button").await;
    browser.wait_for_path("/sign-in").await;
}

#[tokio::test]
async fn a_person_registers_a_passkey_signs_in_with_it_alone_and_removes_it() {
    let (app, browser) = portal(AppOptions {
        on_localhost: true,
        ..AppOptions::default()
    })
    .await;
    let authenticator = browser.add_virtual_authenticator().await;
    sign_in(&browser, ALICE).await;

    browser.visit("/passkeys").await;
    browser.find("#add-passkey").await;
    // A name is required, and bounded.
    browser.click("#add-passkey button[type=submit]").await;
    browser.wait_for_text("#passkey-name-error", "name").await;
    browser.fill("#passkey-name", "Laptop").await;
    browser.click("#add-passkey button[type=submit]").await;
    browser.wait_for_text("#passkey-list", "Laptop").await;
    let stored = app
        .directory()
        .find_account(&Uid::parse(ALICE.0).unwrap())
        .await;
    let account = stored.unwrap().unwrap();
    assert_eq!(account.passkeys.len(), 1, "the job stored one passkey");
    assert!(!account.passkeys[0].entry.passwordless);
    // A passkey is a second factor: mail clients now need app passwords.
    let primary = account.primary_password.clone().unwrap();
    assert!(account.mail_requires_app_password);
    assert!(
        !account.user_passwords.contains(&primary),
        "the primary hash left userPassword"
    );
    let credentials = browser.authenticator_credentials(&authenticator).await;
    assert_eq!(credentials.len(), 1, "{credentials:?}");
    assert_eq!(
        credentials[0]["isResidentCredential"], true,
        "a discoverable credential"
    );
    let row = browser.text("#passkey-list tbody tr").await;
    assert!(row.contains("Never"), "not used yet: {row}");
    let problems = browser.accessibility_problems().await;
    assert!(problems.is_empty(), "/passkeys: {problems:#?}");
    browser.screenshot("passkeys").await;

    // Password, then the passkey as the second step.
    sign_out(&browser).await;
    browser.screenshot("sign-in-with-passkey").await;
    let problems = browser.accessibility_problems().await;
    assert!(problems.is_empty(), "/sign-in: {problems:#?}");
    submit_sign_in(&browser, ALICE).await;
    browser
        .find("[data-second-step-passkey]:not([hidden])")
        .await;
    browser.screenshot("sign-in-passkey-step").await;
    browser.click("[data-second-step-passkey]").await;
    browser.wait_for_path("/account").await;
    browser.visit("/passkeys").await;
    let row = browser.text("#passkey-list tbody tr").await;
    assert!(!row.contains("Never"), "the use is recorded: {row}");

    // The passkey alone, once its owner allows it: the sign-in page asks
    // the browser for passkeys as it loads (conditional mediation, which
    // the virtual authenticator answers at once, as a person picking the
    // passkey from the username field's suggestions would).
    browser.click("[data-passwordless]").await;
    browser
        .wait_for_text("#passkey-list [data-status]", "Saved")
        .await;
    // The sign-in page may sign in before a poll sees it: from /passkeys
    // the browser reaches /account only through a new sign-in.
    browser.click(".sign-out button").await;
    browser.wait_for_path("/account").await;
    // One answer of the authenticator signs in once, however often it is sent.
    let statuses = browser
        .client()
        .execute_async(REPLAY, Vec::new())
        .await
        .unwrap();
    assert_eq!(statuses, serde_json::json!([200, 403]));

    // Removing it asks for the password and the passkey once the session's proof is old.
    app.clock.advance(time::Duration::minutes(6));
    browser.visit("/passkeys").await;
    browser
        .click("#passkey-list form button[type=submit]")
        .await;
    browser.find("#step-up[open]").await;
    browser.fill("#step-up-password", ALICE.1).await;
    browser.click("[data-step-up-passkey]").await;
    browser.wait_for_text("main", "You have no passkeys").await;
    let account = app
        .directory()
        .find_account(&Uid::parse(ALICE.0).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(account.passkeys.is_empty(), "the job removed it");
    assert!(
        !account.mail_requires_app_password,
        "the last second factor is gone"
    );
    assert!(
        account.user_passwords.contains(&primary),
        "the primary hash is back"
    );

    // The authenticator still holds it; the portal refuses it, whether
    // offered as the page loads or asked for with the button.
    sign_out(&browser).await;
    browser
        .wait_for_text("#sign-in [data-form-error]", "not accepted")
        .await;
    browser
        .run("document.querySelector('#sign-in [data-form-error]').textContent = ''")
        .await;
    browser.click("#passkey-sign-in").await;
    browser
        .wait_for_text("#sign-in [data-form-error]", "not accepted")
        .await;
    // And the password alone signs in again.
    submit_sign_in(&browser, ALICE).await;
    browser.wait_for_path("/account").await;
}
