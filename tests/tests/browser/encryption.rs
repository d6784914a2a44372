//! Encryption at rest: a key pasted, a refusal explained, the mailbox
//! encrypted under a progress bar that reaches 100%.

use crate::{portal, sign_in};
use latchkey_tests::AppOptions;
use latchkey_tests::demo::ALICE;
use latchkey_tests::keys::{GpgHome, SmimeIdentity};
use latchkey_workers::mailbox::maildir::deliver;

/// Plain messages delivered to the test mailbox besides the demo mail.
const EXTRA_MESSAGES: usize = 150;

#[tokio::test]
async fn a_person_uploads_a_key_and_watches_the_mailbox_encrypted_to_the_end() {
    // Keys first: the gateway's clock stands at its start.
    let gpg = GpgHome::new();
    let key = gpg.alice_key();
    let (app, browser) = portal(AppOptions::default()).await;
    let maildir = app.maildir("alice");
    latchkey_workers::mailbox::demo::write(&maildir).unwrap();
    for n in 0..EXTRA_MESSAGES {
        let message = format!(
            "From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: Note {n}\r\n\r\n{}\r\n",
            "Some text of a note.\r\n".repeat(40)
        );
        deliver(
            &maildir,
            &format!("1700000000.M{n}P1.test"),
            Some("S"),
            message.as_bytes(),
        )
        .unwrap();
    }
    sign_in(&browser, ALICE).await;
    browser.visit("/encryption").await;
    browser.screenshot("encryption-off").await;

    // A key that cannot be used is refused, with the reason, next to the field.
    browser.fill("#keys", "this is not a key").await;
    browser.click("#encryption button[type=submit]").await;
    let refusal = browser.wait_for_some_text("#keys-error").await;
    assert!(
        !refusal.is_empty(),
        "a garbage key is refused with a reason"
    );
    browser.screenshot("encryption-refused-key").await;

    browser.fill("#keys", &key).await;
    browser.click("#encryption button[type=submit]").await;
    // The page follows the pass and the bar ends full.
    let text = browser.wait_for_text("[data-progress-text]", "Done").await;
    let progress = browser
        .run("const p = document.getElementById('mailbox-progress'); return [p.value, p.max];")
        .await;
    let (value, max) = (progress[0].as_f64().unwrap(), progress[1].as_f64().unwrap());
    assert!(
        max > EXTRA_MESSAGES as f64,
        "the bar counts every message: {progress}"
    );
    assert_eq!(value, max, "the bar reaches 100%");
    assert!(text.contains(&format!("{max} of {max} messages")), "{text}");
    browser.run("window.scrollTo(0, 0)").await;
    browser.screenshot("encryption-done").await;
    // The page was drawn when the job was queued, perhaps before the worker
    // stored the settings; drawn again after the job, it shows them.
    browser.visit("/encryption").await;
    let status = browser.text("#now-heading + p").await;
    assert!(status.contains("OpenPGP"), "{status}");

    // The stored key is listed, and the page that lists it stays accessible
    // and fits a phone (the fingerprint wraps).
    browser.visit("/encryption").await;
    let listed = browser.text("[data-key]").await;
    assert!(listed.contains("Alice <alice@example.org>"), "{listed}");
    assert!(listed.contains("Curve25519"), "{listed}");
    for (width, height) in [(1280, 900), (390, 844)] {
        browser.resize(width, height).await;
        let problems = browser.accessibility_problems().await;
        assert!(problems.is_empty(), "{width} px wide: {problems:#?}");
        let overflow = browser
            .run("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            .await;
        assert_eq!(overflow, 0, "the page fits {width} px");
    }
    browser.screenshot("phone-encryption-keys").await;
}

#[tokio::test]
async fn a_person_uploads_a_der_certificate_file_for_smime() {
    let identity = SmimeIdentity::new("ec:P-256", "keyAgreement");
    let der = tempfile::NamedTempFile::with_suffix(".der").unwrap();
    let converted = std::process::Command::new("openssl")
        .args([
            "x509",
            "-outform",
            "DER",
            "-in",
            &identity.certificate_path(),
            "-out",
        ])
        .arg(der.path())
        .status()
        .unwrap();
    assert!(converted.success());
    let (app, browser) = portal(AppOptions::default()).await;
    latchkey_workers::mailbox::demo::write(&app.maildir("alice")).unwrap();
    sign_in(&browser, ALICE).await;
    browser.visit("/encryption").await;

    browser.click("input[value=smime]").await;
    // Only S/MIME ciphers are offered once S/MIME is chosen.
    let offered = browser
        .run("return [...document.querySelectorAll('#algorithm option:not([hidden])')].map((o) => o.value)")
        .await;
    assert_eq!(
        offered,
        serde_json::json!(["aes-256-gcm", "aes-128-gcm", "aes-256-cbc", "aes-128-cbc"])
    );
    browser
        .find("#key-files")
        .await
        .send_keys(&der.path().display().to_string())
        .await
        .unwrap();
    browser.click("#encryption button[type=submit]").await;
    browser.wait_for_text("[data-progress-text]", "Done").await;
    // The settings show on a page drawn after the job, not before it.
    browser.visit("/encryption").await;
    let status = browser.text("#now-heading + p").await;
    assert!(
        status.contains("S/MIME with AES-256-GCM, 1 key"),
        "{status}"
    );
}
