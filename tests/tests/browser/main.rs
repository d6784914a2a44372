//! The portal in Debian's Chromium, against the real stack: each test signs
//! in as a person would, does one task, and saves screenshots of the pages
//! it saw in `target/tmp/screenshots/`.

// A test that meets an unexpected error should stop right there.
#![allow(clippy::unwrap_used)]

mod accessibility;
mod account_security;
mod app_passwords;
mod encryption;
mod passkeys;
mod sessions;

use latchkey_tests::browser::Browser;
use latchkey_tests::{AppOptions, TestApp, spawn_app};
use std::path::PathBuf;

/// The stack and a browser on its portal.
async fn portal(options: AppOptions) -> (TestApp, Browser) {
    let app = spawn_app(options).await;
    let screenshots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let browser = Browser::open(&app.address, screenshots).await;
    (app, browser)
}

/// Fills in the sign-in form of the page at hand and sends it.
async fn submit_sign_in(browser: &Browser, (uid, password): (&str, &str)) {
    browser.fill("#username", uid).await;
    browser.fill("#password", password).await;
    browser.click("#sign-in button[type=submit]").await;
}

/// Signs in through the form and waits for the overview.
async fn sign_in(browser: &Browser, credentials: (&str, &str)) {
    browser.visit("/sign-in").await;
    submit_sign_in(browser, credentials).await;
    browser.wait_for_path("/account").await;
}

/// Signs out with the header's button and tries `credentials` on the
/// sign-in page it leads to.
async fn sign_out_and_try(browser: &Browser, credentials: (&str, &str)) {
    browser.click(".sign-out button").await;
    browser.wait_for_path("/sign-in").await;
    submit_sign_in(browser, credentials).await;
}
