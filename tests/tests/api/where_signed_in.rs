//! Where the account is signed in: the list of its sessions, with the
//! address and browser each signed in with, across two gateway replicas,
//! and signing them out one by one or all but this one.

use latchkey_tests::client::Client;
use latchkey_tests::demo::{ALICE, BOB};
use latchkey_tests::{AppOptions, ldap, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};

const FIREFOX_ON_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME_ON_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A client from `address` signed in as `(uid, password)` at the gateway
/// `base`, saying it is `user_agent`.
async fn signed_in_from(
    base: &str,
    address: IpAddr,
    user_agent: &str,
    (uid, password): (&str, &str),
) -> Client {
    let client = Client::from_address(base, Some(address));
    let response = client
        .request_to(Method::POST, "/api/session")
        .header(reqwest::header::USER_AGENT, user_agent)
        .json(&json!({"username": uid, "password": password}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200, "{uid} signs in at {base}");
    client
}

async fn sessions(client: &Client) -> Vec<Value> {
    let response = client
        .request_to(Method::GET, "/api/sessions")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["sessions"].as_array().unwrap().clone()
}

async fn status(client: &Client, method: Method, path: &str) -> u16 {
    client
        .request_to(method, path)
        .send()
        .await
        .expect("the gateway answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_list_shows_each_session_with_its_address_and_browser_at_either_replica() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let replica = app.start_replica().await;
    let laptop = signed_in_from(&app.address, loopback(2), FIREFOX_ON_LINUX, ALICE).await;
    let phone = signed_in_from(&replica, loopback(3), CHROME_ON_ANDROID, ALICE).await;
    let _bob = signed_in_from(&app.address, loopback(4), FIREFOX_ON_LINUX, BOB).await;

    for (client, this) in [
        (&laptop, "127.0.0.2"),
        (&phone.at(&app.address), "127.0.0.3"),
    ] {
        let listed = sessions(client).await;
        assert_eq!(
            listed.len(),
            2,
            "Alice's two sessions, not Bob's: {listed:#?}"
        );
        assert_eq!(listed[0]["current"], true, "this session comes first");
        assert_eq!(listed[0]["client_address"], this);
        assert_eq!(listed[1]["current"], false);
    }
    let listed = sessions(&phone).await;
    let by_address = |address: &str| {
        listed
            .iter()
            .find(|session| session["client_address"] == address)
            .unwrap_or_else(|| panic!("a session from {address}: {listed:#?}"))
    };
    assert_eq!(by_address("127.0.0.2")["browser"], "Firefox on Linux");
    assert_eq!(by_address("127.0.0.3")["browser"], "Chrome on Android");
    let page = phone
        .get(format!("{replica}/sessions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in [
        "Firefox on Linux",
        "127.0.0.2",
        "Chrome on Android",
        "This session",
    ] {
        assert!(page.contains(shown), "the page shows {shown}: {page}");
    }
    let (operator, password) = app.service();
    let stored = ldap::search(
        &app.slapd.url(),
        (&operator, &password),
        "ou=sessions,dc=example,dc=org",
        "(objectClass=latchkeySession)",
    )
    .await;
    assert_eq!(stored.len(), 3);
    assert!(
        stored
            .iter()
            .flat_map(|entry| entry.attrs.values().flatten())
            .all(|value| !value.contains("Mozilla") && !value.contains("Gecko")),
        "the raw User-Agent is never stored: {stored:#?}"
    );
}

#[tokio::test]
async fn a_session_signed_out_from_another_replica_is_refused_afterwards() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let replica = app.start_replica().await;
    let laptop = signed_in_from(&app.address, loopback(2), FIREFOX_ON_LINUX, ALICE).await;
    let phone = signed_in_from(&replica, loopback(3), CHROME_ON_ANDROID, ALICE).await;
    let bob = signed_in_from(&app.address, loopback(4), FIREFOX_ON_LINUX, BOB).await;
    let bobs_id = sessions(&bob).await[0]["id"].as_str().unwrap().to_owned();
    let phone_id = sessions(&phone).await[0]["id"].as_str().unwrap().to_owned();

    let elsewhere = laptop.at(&replica);
    let path = format!("/api/sessions/{bobs_id}");
    assert_eq!(
        status(&elsewhere, Method::DELETE, &path).await,
        404,
        "someone else's"
    );
    let unknown = format!("/api/sessions/{}", "0".repeat(64));
    assert_eq!(status(&elsewhere, Method::DELETE, &unknown).await, 404);
    assert_eq!(
        status(&bob, Method::GET, "/api/account").await,
        200,
        "Bob stays"
    );

    let path = format!("/api/sessions/{phone_id}");
    assert_eq!(status(&elsewhere, Method::DELETE, &path).await, 204);
    assert_eq!(status(&phone, Method::GET, "/api/account").await, 401);
    assert_eq!(
        status(&phone.at(&app.address), Method::GET, "/api/account").await,
        401
    );
    assert_eq!(status(&laptop, Method::GET, "/api/account").await, 200);
    assert_eq!(sessions(&laptop).await.len(), 1);
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_this_session() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let replica = app.start_replica().await;
    let laptop = signed_in_from(&app.address, loopback(2), FIREFOX_ON_LINUX, ALICE).await;
    let phone = signed_in_from(&replica, loopback(3), CHROME_ON_ANDROID, ALICE).await;
    let tablet = signed_in_from(&replica, loopback(5), CHROME_ON_ANDROID, ALICE).await;
    let bob = signed_in_from(&app.address, loopback(4), FIREFOX_ON_LINUX, BOB).await;

    let response = phone
        .request_to(Method::DELETE, "/api/sessions")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["ended"], 2);
    assert_eq!(status(&laptop, Method::GET, "/api/account").await, 401);
    assert_eq!(status(&tablet, Method::GET, "/api/account").await, 401);
    assert_eq!(status(&phone, Method::GET, "/api/account").await, 200);
    assert_eq!(
        status(&bob, Method::GET, "/api/account").await,
        200,
        "another account's stay"
    );
    let left = sessions(&phone.at(&app.address)).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
}

#[tokio::test]
async fn ending_sessions_needs_the_csrf_token() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let laptop = signed_in_from(&app.address, loopback(2), FIREFOX_ON_LINUX, ALICE).await;
    let _phone = signed_in_from(&app.address, loopback(3), CHROME_ON_ANDROID, ALICE).await;
    let without_token = laptop
        .delete(format!("{}/api/sessions", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(without_token.status(), 403);
    assert_eq!(sessions(&laptop).await.len(), 2, "nothing was ended");
}

#[tokio::test]
async fn a_session_past_its_idle_time_is_not_listed() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let laptop = signed_in_from(&app.address, loopback(2), FIREFOX_ON_LINUX, ALICE).await;
    let _phone = signed_in_from(&app.address, loopback(3), CHROME_ON_ANDROID, ALICE).await;
    app.clock.advance(time::Duration::minutes(20));
    assert_eq!(status(&laptop, Method::GET, "/api/account").await, 200);
    app.clock.advance(time::Duration::minutes(20));
    let listed = sessions(&laptop).await;
    assert_eq!(
        listed.len(),
        1,
        "the phone went unused for 40 minutes: {listed:#?}"
    );
    assert_eq!(listed[0]["client_address"], "127.0.0.2");
}

#[tokio::test]
async fn ending_sessions_is_audited_and_ending_this_one_signs_out() {
    let logs = latchkey_core::telemetry::CapturedLogs::start("off");
    let app = spawn_app(AppOptions::without_workers()).await;
    let laptop = signed_in_from(&app.address, loopback(2), FIREFOX_ON_LINUX, ALICE).await;
    let phone = signed_in_from(&app.address, loopback(3), CHROME_ON_ANDROID, ALICE).await;
    let _tablet = signed_in_from(&app.address, loopback(5), CHROME_ON_ANDROID, ALICE).await;
    let phone_id = sessions(&phone).await[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/sessions/{phone_id}");
    assert_eq!(status(&laptop, Method::DELETE, &path).await, 204);
    let response = laptop
        .request_to(Method::DELETE, "/api/sessions")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let audit = logs.audit();
    let line = |event: &str| {
        audit
            .iter()
            .find(|line| line["event"] == event)
            .unwrap_or_else(|| panic!("a {event} line: {audit:#?}"))
            .clone()
    };
    let one = line("session_ended_by_owner");
    assert_eq!(one["account"], latchkey_tests::demo::dn("alice"));
    assert_eq!(one["client_address"], "127.0.0.2", "who ended it");
    let others = line("other_sessions_ended");
    assert_eq!(others["details"]["ended"], 1, "{others}");

    let laptop_id = sessions(&laptop).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/sessions/{laptop_id}");
    assert_eq!(status(&laptop, Method::DELETE, &path).await, 204);
    assert_eq!(status(&laptop, Method::GET, "/api/account").await, 401);
}
