//! Debian's Chromium, driven through chromedriver (WebDriver) by fantoccini:
//! a real browser for the portal's end-to-end tests. Each test gets its own
//! chromedriver, profile and window.

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The flags Chromium needs here: headless, as root, and without reaching
/// for Google's servers (the machine has no network beyond loopback).
const CHROMIUM_FLAGS: [&str; 10] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--window-size=1280,900",
];

/// A browser window on the portal.
pub struct Browser {
    client: Client,
    driver: Child,
    base: String,
    screenshots: PathBuf,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// Ends chromedriver and every Chromium process it started, whether the
    /// test finished or panicked: they share chromedriver's process group.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Starts chromedriver and Chromium, pointed at the portal at `base`;
    /// screenshots go to `screenshots`.
    pub async fn open(base: &str, screenshots: PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium-driver)");
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        };
        let url = format!("http://127.0.0.1:{port}");
        let client = crate::eventually("chromedriver to start a session", 30, || {
            let (capabilities, url) = (capabilities.clone(), url.clone());
            async move {
                ClientBuilder::native()
                    .capabilities(capabilities)
                    .connect(&url)
                    .await
                    .ok()
            }
        })
        .await;
        Self {
            client,
            driver,
            base: base.to_owned(),
            screenshots,
            _profile: profile,
        }
    }

    /// The WebDriver client, for what the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `path` of the portal.
    pub async fn visit(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("the page loads");
    }

    /// Opens any URL (another site, in the cross-origin test).
    pub async fn visit_url(&self, url: &str) {
        self.client.goto(url).await.expect("the page loads");
    }

    /// The element matching `css`, once it exists.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(std::time::Duration::from_secs(15))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no element {css}: {error}"))
    }

    /// Types `text` into the field `css`, after clearing it.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("the field clears");
        field.send_keys(text).await.expect("the field takes keys");
    }

    /// Clicks `css`.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("a click");
    }

    /// The visible text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// Waits until the text of `css` contains `needle`; returns the text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        crate::eventually(&format!("{css} to say {needle:?}"), 30, || async {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            let text = element.text().await.ok()?;
            text.contains(needle).then_some(text)
        })
        .await
    }

    /// Waits until `css` shows some text (an error message, a secret); returns it.
    pub async fn wait_for_some_text(&self, css: &str) -> String {
        crate::eventually(&format!("{css} to show text"), 30, || async {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            let text = element.text().await.ok()?;
            (!text.trim().is_empty()).then_some(text)
        })
        .await
    }

    /// Waits until `css` has a non-empty attribute `name` (an image's `src`
    /// set by script); returns its value.
    pub async fn wait_for_attribute(&self, css: &str, name: &str) -> String {
        crate::eventually(&format!("{css} to have a {name}"), 30, || async {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            let value = element.attr(name).await.ok()??;
            (!value.is_empty()).then_some(value)
        })
        .await
    }

    /// Waits until the browser is at `path` of the portal.
    pub async fn wait_for_path(&self, path: &str) {
        crate::eventually(&format!("the browser to reach {path}"), 30, || async {
            let url = self.client.current_url().await.ok()?;
            (url.path() == path).then_some(())
        })
        .await;
    }

    /// Runs `script` in the page and returns its value.
    pub async fn run(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("script failed: {error}"))
    }

    /// Saves a screenshot of the window as `<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::create_dir_all(&self.screenshots).expect("the screenshot directory");
        std::fs::write(self.screenshots.join(format!("{name}.png")), png).expect("the screenshot");
    }

    /// Resizes the window (e.g. to a phone's 390 by 844).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("the window resizes");
    }

    /// Runs axe-core in the page and returns each serious or critical
    /// violation as `rule: what, at which elements`.
    pub async fn accessibility_problems(&self) -> Vec<String> {
        let axe = std::fs::read_to_string(axe_path())
            .expect("axe-core is installed (npm ci --prefix tests/browser)");
        self.client
            .execute(&axe, Vec::new())
            .await
            .expect("axe-core loads");
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] })
              .then((results) => done(results.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => `${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)))
              .catch((error) => done([`axe failed: ${error}`]));
        "#;
        let found = self
            .client
            .execute_async(script, Vec::new())
            .await
            .expect("axe-core runs");
        serde_json::from_value(found).expect("a list of violations")
    }
}

fn axe_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/node_modules/axe-core/axe.min.js")
}

/// A WebDriver extension command of the WebAuthn spec (§11.x): `path`
/// under the session, with `body` (none for DELETE).
#[derive(Debug)]
struct WebAuthnCommand {
    method: http::Method,
    path: String,
    body: Option<Value>,
}

impl fantoccini::wd::WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/webauthn/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

impl Browser {
    /// Adds chromedriver's virtual authenticator (CTAP2, internal, with
    /// resident keys and user verification that always succeeds) to the
    /// window; answers its id. Passkey prompts then complete on their own.
    pub async fn add_virtual_authenticator(&self) -> String {
        let answer = self
            .client
            .issue_cmd(WebAuthnCommand {
                method: http::Method::POST,
                path: "authenticator".into(),
                body: Some(json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "automaticPresenceSimulation": true,
                })),
            })
            .await
            .expect("chromedriver adds a virtual authenticator");
        answer.as_str().expect("the authenticator's id").to_owned()
    }

    /// The credentials the virtual authenticator `id` holds, as chromedriver
    /// lists them (`credentialId`, `isResidentCredential`, `signCount`, ...).
    pub async fn authenticator_credentials(&self, id: &str) -> Vec<Value> {
        let answer = self
            .client
            .issue_cmd(WebAuthnCommand {
                method: http::Method::GET,
                path: format!("authenticator/{id}/credentials"),
                body: None,
            })
            .await
            .expect("chromedriver lists the credentials");
        serde_json::from_value(answer).expect("a list of credentials")
    }
}
