use latchkey_core::clock::Clock;
use latchkey_tests::client::Client;
use latchkey_tests::demo::{self, ALICE, BOB};
use latchkey_tests::{AppOptions, TestApp, ldap, oathtool, spawn_app};
use serde_json::{Value, json};
use time::Duration;

/// One step of the default TOTP parameters.
const STEP: Duration = Duration::seconds(30);

/// Alice's client with 2FA turned on; returns the secret and recovery codes.
async fn enrolled(app: &TestApp) -> (Client, String, Vec<String>) {
    let client = app.signed_in(ALICE).await;
    let (secret, codes) = app.enable_totp(&client).await;
    (client, secret, codes)
}

/// Signs in with the password; returns the challenge of the second step.
async fn challenge(app: &TestApp) -> String {
    let response = app
        .post(
            &app.client(),
            "/api/session",
            json!({"username": "alice", "password": ALICE.1}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "no session before the code"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["second_factor_required"], true);
    body["challenge"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, factor: Value) -> (Client, reqwest::Response) {
    let mut body = factor;
    body["challenge"] = json!(challenge(app).await);
    let client = app.client();
    let response = app.post(&client, "/api/session/totp", body).await;
    (client, response)
}

async fn problem_type(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["type"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn enrolment_with_an_independent_code_then_sign_in_with_a_fresh_one() {
    let app = spawn_app(AppOptions::default()).await;
    let client = app.signed_in(ALICE).await;
    let started: Value = app
        .post(&client, "/api/totp/enrolment", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let uri = started["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Latchkey:alice%40example.org?"),
        "{uri}"
    );
    assert!(uri.contains("issuer=Latchkey"), "{uri}");
    assert_eq!(
        started["secret"].as_str().unwrap().len(),
        32,
        "160 bits in base32"
    );
    assert_eq!(
        (
            started["digits"].as_u64(),
            started["period_seconds"].as_u64()
        ),
        (Some(6), Some(30))
    );
    let png = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        started["qr_code_png_base64"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    drop(client);

    let (client, secret, codes) = enrolled(&app).await;
    assert_eq!(codes.len(), 10);
    let account: Value = app.get_json(&client, "/api/account").await;
    assert_eq!(account["two_factor"]["enabled"], true);
    assert_eq!(account["two_factor"]["recovery_codes_left"], 10);

    // The enrolment's own code is never accepted again.
    let same = json!({"code": oathtool(&secret, app.clock.now())});
    let (_, response) = second_step(&app, same).await;
    assert_eq!(
        problem_type(response).await,
        (403, "/problems/code-already-used".into())
    );

    app.clock.advance(STEP);
    let fresh = oathtool(&secret, app.clock.now());
    let (client, response) = second_step(&app, json!({"code": fresh})).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["recovery_codes_left"], 10);
    assert_eq!(app.get(&client, "/api/account").await.status(), 200);

    // The same code twice is refused, on a new challenge too.
    let (_, replay) = second_step(&app, json!({"code": fresh})).await;
    assert_eq!(
        problem_type(replay).await,
        (403, "/problems/code-already-used".into())
    );

    // A code from two steps ago is outside the window.
    app.clock.advance(STEP * 3);
    let stale = oathtool(&secret, app.clock.now() - STEP * 2);
    let (_, response) = second_step(&app, json!({"code": stale})).await;
    assert_eq!(
        problem_type(response).await,
        (403, "/problems/wrong-code".into())
    );
    // One step of drift is forgiven.
    let drifted = oathtool(&secret, app.clock.now() - STEP);
    let (_, response) = second_step(&app, json!({"code": drifted})).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_challenge_serves_one_sign_in_only() {
    let app = spawn_app(AppOptions::default()).await;
    let (_, secret, _) = enrolled(&app).await;
    let challenge = challenge(&app).await;
    app.clock.advance(STEP);
    let first = json!({"challenge": challenge, "code": oathtool(&secret, app.clock.now())});
    assert_eq!(
        app.post(&app.client(), "/api/session/totp", first)
            .await
            .status(),
        200
    );
    app.clock.advance(STEP);
    let again = json!({"challenge": challenge, "code": oathtool(&secret, app.clock.now())});
    let response = app.post(&app.client(), "/api/session/totp", again).await;
    assert_eq!(
        problem_type(response).await,
        (401, "/problems/invalid-challenge".into())
    );
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = spawn_app(AppOptions::default()).await;
    let (_, _, codes) = enrolled(&app).await;
    let (client, response) = second_step(&app, json!({"recovery_code": codes[3]})).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["recovery_codes_left"], 9);
    let account: Value = app.get_json(&client, "/api/account").await;
    assert_eq!(account["two_factor"]["recovery_codes_left"], 9);
    let typed = codes[3].to_uppercase().replace('-', " ");
    let (_, again) = second_step(&app, json!({"recovery_code": typed})).await;
    assert_eq!(
        problem_type(again).await,
        (403, "/problems/wrong-code".into())
    );
}

#[tokio::test]
async fn mail_clients_lose_the_primary_password_while_two_factor_is_on() {
    let app = spawn_app(AppOptions::default()).await;
    let url = app.slapd.url();
    let dn = demo::dn("alice");
    let (client, secret, codes) = enrolled(&app).await;
    assert!(
        !ldap::bind_succeeds(&url, &dn, ALICE.1).await,
        "2FA on: primary refused"
    );

    // A password change keeps the rule: the new hash goes to latchkeyPrimaryPassword only.
    let new = "Quietly-Orbiting-Walrus-93";
    let job = app.change_password(&client, ALICE.1, new).await;
    assert_eq!(app.finished_job(&client, &job).await["state"], "succeeded");
    assert!(
        !ldap::bind_succeeds(&url, &dn, new).await,
        "the new password is not for mail"
    );
    let entry = app.account_entry("alice").await;
    assert!(!entry.attrs.contains_key("userPassword"));
    assert!(entry.attrs.contains_key("latchkeyPrimaryPassword"));

    app.clock.advance(STEP);
    let disable = json!({"password": new, "code": oathtool(&secret, app.clock.now())});
    let response = app.delete(&client, "/api/totp", Some(disable)).await;
    assert_eq!(response.status(), 202);
    let job: Value = response.json().await.unwrap();
    let job = job["job"]["id"].as_str().unwrap();
    assert_eq!(app.finished_job(&client, job).await["state"], "succeeded");
    assert!(
        ldap::bind_succeeds(&url, &dn, new).await,
        "2FA off: the primary works again"
    );
    let entry = app.account_entry("alice").await;
    assert!(!entry.attrs.contains_key("latchkeyTotpSecret"));
    assert!(!entry.attrs.contains_key("latchkeyRecoveryCode"));
    // With 2FA off, a password alone signs in again, and old recovery codes are gone.
    app.signed_in(("alice", new)).await;
    assert!(!codes.is_empty());
}

#[tokio::test]
async fn a_directory_dump_shows_no_totp_seed_in_the_clear() {
    let app = spawn_app(AppOptions::default()).await;
    let (_, secret, codes) = enrolled(&app).await;
    let (dn, password) = app.service();
    let everything = ldap::search(
        &app.slapd.url(),
        (&dn, &password),
        "dc=example,dc=org",
        "(objectClass=*)",
    )
    .await;
    let raw = latchkey_core::second_factor::totp::decode_base32(&secret).unwrap();
    let hex: String = raw.iter().map(|byte| format!("{byte:02x}")).collect();
    for entry in &everything {
        for (attribute, values) in entry.attrs.iter() {
            for value in values {
                assert!(
                    !value.contains(&secret),
                    "{attribute} of {} holds the seed",
                    entry.dn
                );
                assert!(
                    !value.to_lowercase().contains(&hex),
                    "{attribute} holds the seed in hex"
                );
                for code in &codes {
                    assert!(
                        !value.contains(code.as_str()),
                        "{attribute} holds a recovery code"
                    );
                }
            }
        }
    }
    let alice = app.account_entry("alice").await;
    assert!(
        alice.attrs["latchkeyTotpSecret"][0].starts_with("d1."),
        "sealed with the directory key"
    );
    assert!(
        alice.attrs["latchkeyRecoveryCode"]
            .iter()
            .all(|hash| hash.starts_with("{ARGON2}$argon2id$"))
    );
}

#[tokio::test]
async fn recovery_codes_are_replaced_with_a_current_code() {
    let app = spawn_app(AppOptions::default()).await;
    let (client, secret, old_codes) = enrolled(&app).await;
    app.clock.advance(STEP);
    let response = app
        .post(
            &client,
            "/api/totp/recovery-codes",
            json!({"code": oathtool(&secret, app.clock.now())}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let new_codes = body["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(new_codes.len(), 10);
    let job = body["job"]["id"].as_str().unwrap();
    assert_eq!(app.finished_job(&client, job).await["state"], "succeeded");
    let (_, old) = second_step(&app, json!({"recovery_code": old_codes[0]})).await;
    assert_eq!(
        problem_type(old).await,
        (403, "/problems/wrong-code".into())
    );
    let (_, new) = second_step(&app, json!({"recovery_code": new_codes[0]})).await;
    assert_eq!(new.status(), 200);
}

#[tokio::test]
async fn bad_enrolment_input_gets_specific_errors_and_changes_nothing() {
    let app = spawn_app(AppOptions::default()).await;
    let alice = app.signed_in(ALICE).await;
    let started: Value = app
        .post(&alice, "/api/totp/enrolment", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let token = started["token"].as_str().unwrap();
    let secret = started["secret"].as_str().unwrap();
    let good = oathtool(secret, app.clock.now());

    let cases = [
        (
            json!({"token": "garbage", "code": good}),
            422,
            "/problems/invalid-enrolment-token",
        ),
        (
            json!({"token": token, "code": "12345"}),
            422,
            "/problems/malformed-code",
        ),
        (
            json!({"token": token, "code": "12a456"}),
            422,
            "/problems/malformed-code",
        ),
        (json!({"token": token}), 422, "/problems/missing-field"),
    ];
    for (body, status, kind) in cases {
        let response = app.post(&alice, "/api/totp", body.clone()).await;
        assert_eq!(
            problem_type(response).await,
            (status, kind.into()),
            "{body}"
        );
    }
    let wrong = if good == "000000" { "000001" } else { "000000" };
    let response = app
        .post(&alice, "/api/totp", json!({"token": token, "code": wrong}))
        .await;
    assert_eq!(
        problem_type(response).await,
        (403, "/problems/wrong-code".into())
    );

    // Another account cannot finish Alice's enrolment.
    let bob = app.signed_in(BOB).await;
    let response = app
        .post(&bob, "/api/totp", json!({"token": token, "code": good}))
        .await;
    assert_eq!(
        problem_type(response).await,
        (422, "/problems/invalid-enrolment-token".into())
    );

    // Turning off what is off.
    let response = app
        .delete(
            &bob,
            "/api/totp",
            Some(json!({"password": BOB.1, "code": "123456"})),
        )
        .await;
    assert_eq!(
        problem_type(response).await,
        (409, "/problems/two-factor-off".into())
    );

    // After ten minutes the token is dead.
    app.clock.advance(Duration::minutes(11));
    let late = json!({"token": token, "code": oathtool(secret, app.clock.now())});
    let response = app.post(&alice, "/api/totp", late).await;
    assert_eq!(
        problem_type(response).await,
        (422, "/problems/enrolment-expired".into())
    );
    assert!(app.job_entries().await.is_empty(), "nothing was queued");
    let account: Value = app.get_json(&alice, "/api/account").await;
    assert_eq!(account["two_factor"]["enabled"], false);
}

#[tokio::test]
async fn turning_two_factor_on_twice_is_refused() {
    let app = spawn_app(AppOptions::default()).await;
    let (client, _, _) = enrolled(&app).await;
    let response = app.post(&client, "/api/totp/enrolment", json!({})).await;
    assert_eq!(
        problem_type(response).await,
        (409, "/problems/two-factor-already-on".into())
    );
}

#[tokio::test]
async fn an_account_not_yet_managed_must_change_its_password_first() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let carol = app.signed_in(demo::CAROL).await;
    let response = app.post(&carol, "/api/totp/enrolment", json!({})).await;
    assert_eq!(
        problem_type(response).await,
        (409, "/problems/password-change-required".into())
    );
}

#[tokio::test]
async fn failed_codes_are_rate_limited_per_account() {
    let app = spawn_app(AppOptions {
        account_failures: 3,
        ..Default::default()
    })
    .await;
    let (_, secret, _) = enrolled(&app).await;
    let right = oathtool(&secret, app.clock.now() + STEP);
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    for _ in 0..3 {
        let (_, response) = second_step(&app, json!({"code": wrong})).await;
        assert_eq!(
            problem_type(response).await,
            (403, "/problems/wrong-code".into())
        );
    }
    app.clock.advance(STEP);
    let (_, response) = second_step(&app, json!({"code": right})).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}
