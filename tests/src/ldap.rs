//! Plain LDAP as any LDAP-aware tool sees the directory.

use ldap3::{LdapConnAsync, Scope, SearchEntry};
use std::collections::HashSet;

/// Whether a simple bind as `dn` with `password` succeeds.
pub async fn bind_succeeds(url: &str, dn: &str, password: &str) -> bool {
    let (connection, mut ldap) = LdapConnAsync::new(url).await.expect("slapd answers");
    ldap3::drive!(connection);
    let result = ldap.simple_bind(dn, password).await.expect("a bind answer");
    let _ = ldap.unbind().await;
    result.rc == 0
}

/// A connection bound as `bind_dn`.
pub async fn connect_as(url: &str, (bind_dn, password): (&str, &str)) -> ldap3::Ldap {
    let (connection, mut ldap) = LdapConnAsync::new(url).await.expect("slapd answers");
    ldap3::drive!(connection);
    ldap.simple_bind(bind_dn, password)
        .await
        .and_then(|result| result.success())
        .expect("the bind succeeds");
    ldap
}

/// The entries under `base` matching `filter`, read with `credentials`.
pub async fn search(
    url: &str,
    credentials: (&str, &str),
    base: &str,
    filter: &str,
) -> Vec<SearchEntry> {
    let mut ldap = connect_as(url, credentials).await;
    let (entries, _) = ldap
        .search(base, Scope::Subtree, filter, vec!["*", "+"])
        .await
        .and_then(|result| result.success())
        .expect("the search succeeds");
    let _ = ldap.unbind().await;
    entries.into_iter().map(SearchEntry::construct).collect()
}

/// How many entries under `base` match `filter`, read with `credentials`
/// (no attributes are sent, so it stays cheap over many entries).
pub async fn count(url: &str, credentials: (&str, &str), base: &str, filter: &str) -> usize {
    let mut ldap = connect_as(url, credentials).await;
    let (entries, _) = ldap
        .search(base, Scope::Subtree, filter, vec!["1.1"])
        .await
        .and_then(|result| result.success())
        .expect("the search succeeds");
    let _ = ldap.unbind().await;
    entries.len()
}

/// Deletes `dn`, bound with `credentials`.
pub async fn delete(url: &str, credentials: (&str, &str), dn: &str) {
    let mut ldap = connect_as(url, credentials).await;
    ldap.delete(dn)
        .await
        .and_then(|result| result.success())
        .expect("the delete succeeds");
}

/// Adds a Latchkey account `uid` whose password hash is `hash`, bound with `credentials`.
pub async fn add_account(url: &str, credentials: (&str, &str), uid: &str, hash: &str) {
    let mut ldap = connect_as(url, credentials).await;
    let dn = format!("uid={uid},ou=people,dc=example,dc=org");
    let mail = format!("{uid}@example.org");
    let attributes = vec![
        (
            "objectClass",
            HashSet::from(["inetOrgPerson", "latchkeyAccount"]),
        ),
        ("uid", HashSet::from([uid])),
        ("cn", HashSet::from([uid])),
        ("sn", HashSet::from([uid])),
        ("mail", HashSet::from([mail.as_str()])),
        ("userPassword", HashSet::from([hash])),
        ("latchkeyPrimaryPassword", HashSet::from([hash])),
        ("latchkeyRevision", HashSet::from(["0"])),
    ];
    ldap.add(&dn, attributes)
        .await
        .and_then(|result| result.success())
        .expect("the account is added");
    let _ = ldap.unbind().await;
}

/// Applies `mods` to `dn`, bound with `credentials`; the LDAP result code
/// (0 for success, 50 for insufficientAccess).
pub async fn modify(
    url: &str,
    credentials: (&str, &str),
    dn: &str,
    mods: Vec<ldap3::Mod<&str>>,
) -> u32 {
    let mut ldap = connect_as(url, credentials).await;
    let result = ldap.modify(dn, mods).await.expect("a modify answer");
    let _ = ldap.unbind().await;
    result.rc
}
