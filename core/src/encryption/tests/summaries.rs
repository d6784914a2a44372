//! What the user sees of a stored key.

use super::{Gpg, Openssl};
use crate::encryption::{Algorithm, KeySummary, Method, parse_keys, summarize};
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;

fn stored(algorithm: Algorithm, keys: &[&str], now: SystemTime) -> Vec<KeySummary> {
    let recipients = parse_keys(algorithm, keys, 10, now).unwrap();
    summarize(algorithm.method(), &recipients.to_stored(), now).unwrap()
}

#[test]
fn an_openpgp_summary_has_the_fingerprint_user_ids_algorithm_and_expiry() {
    let gpg = Gpg::new();
    let rsa = gpg.generate("Alice <alice@example.org>", "rsa3072", "rsa3072", "1y");
    let curve = gpg.generate("Bob <bob@example.org>", "ed25519", "cv25519", "never");
    let nist = gpg.generate("Carol <carol@example.org>", "nistp256", "nistp256", "never");
    let now = SystemTime::now() + Duration::from_secs(2);
    let keys = gpg.export(&[&rsa, &curve, &nist]);
    let summaries = stored(Algorithm::Aes128, &[&keys], now);
    let seen: Vec<(&str, &str, &[String])> = summaries
        .iter()
        .map(|key| {
            (
                key.fingerprint.as_str(),
                key.algorithm.as_str(),
                key.user_ids.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                rsa.as_str(),
                "RSA 3072",
                &["Alice <alice@example.org>".to_owned()][..]
            ),
            (
                curve.as_str(),
                "Curve25519",
                &["Bob <bob@example.org>".to_owned()][..]
            ),
            (
                nist.as_str(),
                "ECDH P-256",
                &["Carol <carol@example.org>".to_owned()][..]
            ),
        ]
    );
    assert_eq!(summaries[0].emails, ["alice@example.org"]);
    assert_eq!(summaries[0].subject, None);
    let in_a_year = OffsetDateTime::now_utc() + time::Duration::days(365);
    let expires = summaries[0].expires.expect("the RSA key expires");
    assert!(
        (expires - in_a_year).abs() < time::Duration::days(2),
        "{expires}"
    );
    assert_eq!(summaries[1].expires, None, "never expires");
}

#[test]
fn an_smime_summary_has_the_subject_addresses_algorithm_and_expiry() {
    let openssl = Openssl::new();
    let alice = openssl.certificate(
        "alice",
        "/CN=Alice Example/emailAddress=alice@example.org",
        "ec:P-256",
        30,
    );
    let bob = openssl.certificate("bob", "/O=Example/CN=Bob Example", "rsa:2048", 400);
    let now = SystemTime::now() + Duration::from_secs(2);
    let summaries = stored(Algorithm::Aes256Cbc, &[&alice, &bob], now);
    assert_eq!(summaries[0].fingerprint, openssl.fingerprint("alice"));
    assert_eq!(summaries[1].fingerprint, openssl.fingerprint("bob"));
    assert_eq!(
        summaries[0].subject.as_deref(),
        Some("CN=Alice Example, emailAddress=alice@example.org")
    );
    assert_eq!(
        summaries[1].subject.as_deref(),
        Some("O=Example, CN=Bob Example")
    );
    assert_eq!(summaries[0].emails, ["alice@example.org"]);
    assert!(summaries[1].emails.is_empty());
    assert_eq!(summaries[0].algorithm, "EC P-256");
    assert_eq!(summaries[1].algorithm, "RSA 2048");
    let in_thirty_days = OffsetDateTime::now_utc() + time::Duration::days(30);
    let expires = summaries[0].expires.expect("a certificate expires");
    assert!(
        (expires - in_thirty_days).abs() < time::Duration::minutes(5),
        "{expires}"
    );
    let json = serde_json::to_value(&summaries[0]).unwrap();
    assert!(json["expires"].as_str().unwrap().ends_with('Z'), "{json}");
    assert_eq!(
        summarize(Method::Smime, &[b"not der".to_vec()], now)
            .unwrap_err()
            .to_string(),
        "the first key is neither an OpenPGP certificate nor an X.509 certificate"
    );
}
