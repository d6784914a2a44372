//! schemathesis (from PyPI) against the served OpenAPI document, signed in
//! as a demo user: no answer is a 500, and every answer is one the
//! document describes.

use latchkey_tests::demo::BOB;
use latchkey_tests::{AppOptions, spawn_app};
use std::process::Command;

/// Generated cases per operation: enough to find what a schema leaves
/// open, few enough for CI.
const EXAMPLES_PER_OPERATION: &str = "25";

/// What the document cannot say about some operations.
const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemathesis.toml");

#[tokio::test]
async fn generated_requests_get_no_500_and_only_documented_answers() {
    let app = spawn_app(AppOptions {
        account_failures: 100_000,
        address_failures: 100_000,
        // A host name, so the passkey routes are on (WebAuthn refuses IP addresses).
        on_localhost: true,
        ..AppOptions::default()
    })
    .await;
    let client = app.signed_in(BOB).await;
    let cookie = format!(
        "Cookie: {}",
        client.cookie_header().expect("the session cookies")
    );
    let csrf = format!(
        "X-CSRF-Token: {}",
        client.csrf_token().expect("the CSRF token")
    );
    let schema = format!("{}/api/openapi.json", app.address);
    let schemathesis = std::env::var("SCHEMATHESIS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.local/venv/bin/schemathesis"
        )
        .into()
    });
    let run = tokio::task::spawn_blocking(move || {
        Command::new(&schemathesis)
            .args(["--config-file", CONFIG, "run", &schema])
            .args(["--max-examples", EXAMPLES_PER_OPERATION])
            .args(["--header", &cookie, "--header", &csrf])
            // Signing out would end the session the rest of the run uses.
            .args(["--exclude-name", "DELETE /api/session"])
            .arg("--generation-deterministic")
            .output()
            .unwrap_or_else(|error| {
                panic!(
                    "{schemathesis} runs (deploy/local/ensure-deps --tests installs it): {error}"
                )
            })
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
