//! Passkey routes refusing what they must, each with its own problem:
//! names, ceremony tokens of another account or past their time, answers
//! that do not verify, a portal at an IP address; and the jobs that store
//! and remove passkeys, where an older job never undoes a newer one. (The
//! whole ceremony with a real authenticator is in the browser tests.)

use latchkey_core::directory::{Accounts, Order};
use latchkey_core::domain::{Dn, JobId};
use latchkey_core::job::{AddPasskey, JobMessage, RemovePasskey};
use latchkey_core::second_factor::{PasskeyName, StoredPasskey};
use latchkey_tests::client::Client;
use latchkey_tests::demo;
use latchkey_tests::demo::{ALICE, BOB};
use latchkey_tests::{AppOptions, TestApp, spawn_app};
use latchkey_workers::Outcome;
use latchkey_workers::step::process;
use serde_json::{Value, json};

async fn on_localhost() -> TestApp {
    spawn_app(AppOptions {
        on_localhost: true,
        ..AppOptions::without_workers()
    })
    .await
}

/// A registration answer of the right shape whose content is no
/// authenticator's.
fn forged_registration() -> Value {
    json!({
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "extensions": {},
        "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"},
    })
}

/// An authentication answer of the right shape, signed by nobody.
fn forged_assertion() -> Value {
    json!({
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "extensions": {},
        "response": {
            "authenticatorData": "AAAA",
            "clientDataJSON": "AAAA",
            "signature": "AAAA",
            "userHandle": "AAAAAAAAAAAAAAAAAAAAAA",
        },
    })
}

async fn registration_token(app: &TestApp, client: &Client) -> String {
    let started: Value = app
        .post(client, "/api/passkeys/registration", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let options = &started["options"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost", "{started}");
    assert_eq!(
        options["authenticatorSelection"]["residentKey"], "preferred",
        "{started}"
    );
    started["token"].as_str().unwrap().to_owned()
}

async fn finish(app: &TestApp, client: &Client, token: &str, name: &str) -> (u16, Value) {
    let body = json!({"token": token, "name": name, "credential": forged_registration()});
    let response = app.post(client, "/api/passkeys", body).await;
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_registration_is_refused_for_its_name_token_age_or_answer_with_a_specific_problem() {
    let app = on_localhost().await;
    let alice = app.signed_in(ALICE).await;
    let token = registration_token(&app, &alice).await;

    for (name, why) in [
        ("   ", "give the passkey a name"),
        (&"x".repeat(65), "at most 64 characters"),
        ("Lap\ntop", "control characters"),
    ] {
        let (status, problem) = finish(&app, &alice, &token, name).await;
        assert_eq!(status, 422, "{name:?}: {problem}");
        assert_eq!(problem["type"], "/problems/invalid-field");
        assert_eq!(problem["field"], "name");
        assert!(
            problem["detail"].as_str().unwrap().contains(why),
            "{problem}"
        );
    }

    // An answer that no authenticator made does not verify.
    let (status, problem) = finish(&app, &alice, &token, "Laptop").await;
    assert_eq!(
        (status, problem["type"].as_str().unwrap()),
        (422, "/problems/passkey-not-verified"),
        "{problem}"
    );
    assert_eq!(problem["field"], "credential");

    // Bob's ceremony does not finish in Alice's session.
    let bob = app.signed_in(BOB).await;
    let bobs = registration_token(&app, &bob).await;
    let (status, problem) = finish(&app, &alice, &bobs, "Laptop").await;
    assert_eq!(
        (status, problem["type"].as_str().unwrap()),
        (422, "/problems/invalid-passkey-token"),
        "{problem}"
    );
    assert_eq!(problem["field"], "token");

    // Past its five minutes, the ceremony is over.
    app.clock.advance(time::Duration::minutes(6));
    let (status, problem) = finish(&app, &alice, &token, "Laptop").await;
    assert_eq!(
        (status, problem["type"].as_str().unwrap()),
        (422, "/problems/passkey-ceremony-expired"),
        "{problem}"
    );
    let listed = app.get_json(&alice, "/api/passkeys").await;
    assert_eq!(listed["passkeys"], json!([]), "nothing was stored");
    assert_eq!(listed["available"], true);
}

#[tokio::test]
async fn a_passkey_sign_in_needs_a_ceremony_of_ours_and_an_answer_that_verifies() {
    let app = on_localhost().await;
    let client = app.client();
    let page = app.get(&client, "/sign-in").await.text().await.unwrap();
    assert!(
        page.contains(r#"autocomplete="username webauthn""#),
        "{page}"
    );
    let forged = json!({"token": "not-a-token", "credential": forged_assertion()});
    let response = app.post(&client, "/api/session/passkey", forged).await;
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"], "/problems/invalid-passkey-token",
        "{problem}"
    );

    let started: Value = app
        .post(
            &client,
            "/api/session/passkey/options/discoverable",
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let body = json!({"token": started["token"], "credential": forged_assertion()});
    let response = app.post(&client, "/api/session/passkey", body).await;
    assert_eq!(response.status(), 403);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/passkey-refused", "{problem}");
    assert!(
        response_has_no_session(&client),
        "a refused passkey opens nothing"
    );

    // The second step's ceremony needs a live sign-in challenge.
    let body = json!({"challenge": "made-up"});
    let response = app
        .post(&client, "/api/session/passkey/options", body)
        .await;
    assert_eq!(response.status(), 401);
    // An account without passkeys has none to prove in a step-up.
    let alice = app.signed_in(ALICE).await;
    let response = app
        .post(&alice, "/api/passkeys/authentication", json!({}))
        .await;
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/no-passkeys", "{problem}");
    // And an id that is not one of hers is not found, to change or remove.
    let path = format!("/api/passkeys/{}", uuid::Uuid::new_v4());
    assert_eq!(app.delete(&alice, &path, None).await.status(), 404);
}

fn response_has_no_session(client: &Client) -> bool {
    client
        .cookie_header()
        .is_none_or(|cookies| !cookies.contains("latchkey_session"))
}

#[tokio::test]
async fn a_portal_at_an_ip_address_offers_no_passkeys_and_says_why() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let alice = app.signed_in(ALICE).await;
    let response = app
        .post(&alice, "/api/passkeys/registration", json!({}))
        .await;
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"], "/problems/passkeys-unavailable",
        "{problem}"
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("host name"),
        "{problem}"
    );
    let listed = app.get_json(&alice, "/api/passkeys").await;
    assert_eq!(listed["available"], false);
    let page = app
        .get(&app.client(), "/sign-in")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("passkey-sign-in"),
        "no passkey sign-in offered"
    );
    assert!(!page.contains("webauthn"), "nor in the username's autofill");
}

/// A credential as a virtual authenticator registered it: public data only.
const CREDENTIAL: &str = r#"{"cred": {"cred_id": "ZhpQ3-ZB6ODZfQfgSH7Rc5dXKi4hfFnoVPyMjsdmS14", "cred": {"type_": "ES256", "key": {"EC_EC2": {"curve": "SECP256R1", "x": "Y22_4p-T7MascNJ4KK5uBLbD8P5FYmYTkVI4Ce8mD-0", "y": "VOhPAZKIeR4H3P-YevKHWyq6x_vMKM4fmWIipXUJS8s"}}}, "counter": 1, "transports": null, "user_verified": true, "backup_eligible": false, "backup_state": false, "registration_policy": "required", "extensions": {"cred_protect": "Ignored", "hmac_create_secret": "NotRequested", "appid": "NotRequested", "cred_props": {"Unsigned": {"rk": true}}}, "attestation": {"data": "None", "metadata": "None"}, "attestation_format": "none"}}"#;

#[tokio::test]
async fn a_registration_retried_after_its_passkey_was_removed_never_brings_it_back() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let context = app.context(app.directory());
    let alice = Dn::from_directory(demo::dn("alice"));
    let passkey = StoredPasskey {
        id: uuid::Uuid::new_v4(),
        name: PasskeyName::parse("Laptop").unwrap(),
        created: time::OffsetDateTime::now_utc(),
        last_used: None,
        passwordless: false,
        credential: serde_json::from_str(CREDENTIAL).unwrap(),
    };
    let add = app
        .queued(JobMessage::AddPasskey(AddPasskey {
            job_id: JobId::new(),
            account: alice.clone(),
            passkey: passkey.clone(),
            mail_requires_app_password: true,
        }))
        .await;
    let remove = app
        .queued(JobMessage::RemovePasskey(RemovePasskey {
            job_id: JobId::new(),
            account: alice.clone(),
            passkey_id: passkey.id,
        }))
        .await;
    let passkeys = || async {
        let account = app.directory().account_at(&alice).await.unwrap().unwrap();
        (account.passkeys.len(), account.mail_requires_app_password)
    };

    assert_eq!(process(&context, &add, 1).await, Outcome::Done);
    assert_eq!(passkeys().await, (1, true));
    assert_eq!(
        process(&context, &add, 2).await,
        Outcome::Done,
        "a redelivery is harmless"
    );
    assert_eq!(passkeys().await, (1, true), "stored once");
    assert_eq!(process(&context, &remove, 1).await, Outcome::Done);
    assert_eq!(passkeys().await, (0, false));
    assert_eq!(process(&context, &add, 3).await, Outcome::Superseded);
    assert_eq!(
        passkeys().await,
        (0, false),
        "the retried registration changed nothing"
    );
    let account = app.directory().account_at(&alice).await.unwrap().unwrap();
    assert_eq!(
        account.order_of(
            latchkey_core::directory::Feature::PasskeyRemoval,
            remove.job_id
        ),
        Order::Applied
    );
}
