//! `deploy/openldap/`: two providers in multi-provider replication, built
//! from `ldif/` as the tests build every slapd and configured with
//! `multi-provider.ldif` as an operator would (`ldapmodify -Y EXTERNAL`
//! over ldapi). cn=config replicates whole, so its paths must be the same
//! on both: each slapd runs in a mount namespace of its own, where its
//! folder is bind-mounted on one shared path.
//!
//! What is checked: a schema entry and a dds setting made on one provider
//! reach the other; a password changed on one opens a bind on the other; a
//! job record added on one appears on the other, a change of its state
//! made on the other comes back; and the dds TTL stays each provider's
//! own: a refresh on one does not replicate, and the copy that expires
//! first takes the record away everywhere.

use crate::support;
use latchkey_tests::{eventually, ldap, slapd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const SUFFIX: &str = "dc=example,dc=org";
const REPLICATOR: &str = "cn=replicator,ou=services,dc=example,dc=org";
const REPLICATOR_PASSWORD: &str = "replicator-test-password";

/// One provider: its folder, its port, its slapd (killed on drop).
struct Provider {
    dir: PathBuf,
    port: u16,
    slapd: Option<Child>,
}

impl Provider {
    fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}/", self.port)
    }

    /// The ldapi socket, as seen from outside the provider's namespace.
    fn ldapi(&self) -> String {
        let path = self.dir.join("ldapi").to_string_lossy().replace('/', "%2F");
        format!("ldapi://{path}")
    }

    fn password(&self, account: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{account}-password")))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn credentials(&self, account: &str) -> (String, String) {
        let dn = match account {
            "operator" => format!("cn=operator,ou=services,{SUFFIX}"),
            other => format!("cn=latchkey-{other},ou=services,{SUFFIX}"),
        };
        (dn, self.password(account))
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(mut slapd) = self.slapd.take() {
            let _ = slapd.kill();
            let _ = slapd.wait();
        }
    }
}

/// `script` in a mount namespace where `dir` is mounted on `shared`.
fn in_namespace(dir: &Path, shared: &Path, script: &str) -> Command {
    let mut command = Command::new("unshare");
    command.args(["--mount", "--propagation", "private", "bash", "-c"]);
    command.arg(format!(
        "mount --bind '{}' '{}' && {script}",
        dir.display(),
        shared.display()
    ));
    command
}

fn render(template: &str, values: &[(&str, String)]) -> String {
    let text = std::fs::read_to_string(support::root().join(template)).unwrap();
    values.iter().fold(text, |text, (placeholder, value)| {
        text.replace(placeholder, value)
    })
}

fn ldif_to(url: &str, args: &[&str], ldif: &str) {
    use std::io::Write;
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .args(["-H", url])
        .env("LDAPNOINIT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ldif.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{args:?} on {url}:\n{}",
        support::printed(&output)
    );
}

/// Builds both providers in `root`: the same service account passwords,
/// the replicator account, slapd started, then multi-provider.ldif applied.
async fn providers(root: &Path) -> (Provider, Provider) {
    let shared = root.join("node");
    std::fs::create_dir_all(&shared).unwrap();
    let script = support::deploy("local/slapd-instance");
    let mut providers = Vec::new();
    for name in ["a", "b"] {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        if name == "b" {
            for account in ["gateway", "worker", "delivery", "operator"] {
                let file = format!("{account}-password");
                std::fs::copy(root.join("a").join(&file), dir.join(&file)).unwrap();
            }
        }
        let create = format!("'{}' create '{}'", script.display(), shared.display());
        support::run(&mut in_namespace(&dir, &shared, &create));
        providers.push(Provider {
            dir,
            port: slapd::free_port(),
            slapd: None,
        });
    }
    let password_file = root.join("replicator-password");
    std::fs::write(&password_file, REPLICATOR_PASSWORD).unwrap();
    let hash = support::run_for_stdout(
        Command::new("slappasswd")
            .args(["-h", "{SSHA}", "-T"])
            .arg(&password_file),
    );
    let replicator = render(
        "deploy/openldap/replicator.ldif",
        &[
            ("@SUFFIX@", SUFFIX.into()),
            ("@REPLICATOR_PASSWORD_HASH@", hash.trim().into()),
        ],
    );
    for provider in &mut providers {
        std::fs::write(provider.dir.join("replicator.ldif"), &replicator).unwrap();
        let load = format!(
            "slapadd -q -n 1 -F '{0}/config' -l '{0}/replicator.ldif'",
            shared.display()
        );
        support::run(&mut in_namespace(&provider.dir, &shared, &load));
        let ldapi = shared.join("ldapi").to_string_lossy().replace('/', "%2F");
        let start = format!(
            "exec slapd -d none -F '{}/config' -h 'ldap://127.0.0.1:{}/ ldapi://{ldapi}'",
            shared.display(),
            provider.port
        );
        let slapd = in_namespace(&provider.dir, &shared, &start)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        provider.slapd = Some(slapd);
    }
    for provider in &providers {
        let (dn, password) = provider.credentials("worker");
        eventually("each provider to accept binds", 15, || async {
            let (connection, mut conn) = ldap3::LdapConnAsync::new(&provider.url()).await.ok()?;
            ldap3::drive!(connection);
            let bound = conn.simple_bind(&dn, &password).await.ok()?;
            (bound.rc == 0).then_some(())
        })
        .await;
    }
    let config = render(
        "deploy/openldap/multi-provider.ldif",
        &[
            ("@PROVIDER_1@", providers[0].url()),
            ("@PROVIDER_2@", providers[1].url()),
            ("@SUFFIX@", SUFFIX.into()),
            ("@REPLICATOR_PASSWORD@", REPLICATOR_PASSWORD.into()),
        ],
    );
    for provider in &providers {
        ldif_to(
            &provider.ldapi(),
            &["ldapmodify", "-Q", "-Y", "EXTERNAL"],
            &config,
        );
    }
    let b = providers.pop().unwrap();
    let a = providers.pop().unwrap();
    (a, b)
}

/// The entries under `base` matching `filter` on `provider`, as the replicator reads them.
async fn read(provider: &Provider, base: &str, filter: &str) -> Vec<ldap3::SearchEntry> {
    ldap::search(
        &provider.url(),
        (REPLICATOR, REPLICATOR_PASSWORD),
        base,
        filter,
    )
    .await
}

fn first<'a>(entry: &'a ldap3::SearchEntry, attribute: &str) -> &'a str {
    &entry.attrs[attribute][0]
}

#[tokio::test]
async fn two_providers_replicate_schema_config_accounts_and_job_records() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = providers(root.path()).await;

    // cn=config: a schema entry and the dds settings made on A reach B.
    // (Short TTLs, checked every second, so that expiry shows in seconds.)
    let config = "dn: cn=replicationtest,cn=schema,cn=config\nchangetype: add\n\
        objectClass: olcSchemaConfig\ncn: replicationtest\n\
        olcAttributeTypes: ( 1.3.6.1.4.1.4203.666.11.1 NAME 'latchkeyReplicationTest' \
        EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )\n\n\
        dn: olcOverlay={0}dds,olcDatabase={1}mdb,cn=config\nchangetype: modify\n\
        replace: olcDDSinterval\nolcDDSinterval: 1\n-\nreplace: olcDDSminTtl\n\
        olcDDSminTtl: 1\n-\nreplace: olcDDSdefaultTtl\nolcDDSdefaultTtl: 5\n";
    ldif_to(&a.ldapi(), &["ldapmodify", "-Q", "-Y", "EXTERNAL"], config);
    eventually("the schema entry and dds settings on B", 30, || async {
        let schema = read(&b, "cn=schema,cn=config", "(cn=*replicationtest)").await;
        let dds = read(&b, "olcDatabase={1}mdb,cn=config", "(olcDDSdefaultTtl=5)").await;
        (!schema.is_empty() && dds.len() == 1).then_some(())
    })
    .await;

    // Accounts: a password written on A opens a bind on B.
    let new_password = "Replicated-Walrus-Orbit-93";
    let hash = support::run_for_stdout(Command::new("slappasswd").args([
        "-h",
        "{SSHA}",
        "-s",
        new_password,
    ]));
    let (operator, operator_password) = a.credentials("operator");
    let mods = vec![ldap3::Mod::Replace(
        "userPassword",
        std::collections::HashSet::from([hash.trim()]),
    )];
    let alice = format!("uid=alice,ou=people,{SUFFIX}");
    let rc = ldap::modify(&a.url(), (&operator, &operator_password), &alice, mods).await;
    assert_eq!(rc, 0);
    eventually("alice's new password on B", 30, || async {
        ldap::bind_succeeds(&b.url(), &alice, new_password)
            .await
            .then_some(())
    })
    .await;

    // Job records: added by the gateway's account on A with a long TTL ...
    let id = uuid::Uuid::now_v7();
    let job = format!("latchkeyJobId={id},ou=jobs,{SUFFIX}");
    let (gateway, gateway_password) = a.credentials("gateway");
    let record = format!(
        "dn: {job}\nobjectClass: latchkeyJob\nobjectClass: dynamicObject\n\
         latchkeyJobId: {id}\nlatchkeyJobKind: change_password\nlatchkeyJobOwner: {alice}\n\
         latchkeyJobState: queued\nlatchkeyJobCreated: 20260101000000Z\n"
    );
    ldif_to(
        &a.url(),
        &["ldapadd", "-x", "-D", &gateway, "-w", &gateway_password],
        &record,
    );
    support::run(
        Command::new("ldapexop")
            .args([
                "-x",
                "-H",
                &a.url(),
                "-D",
                &gateway,
                "-w",
                &gateway_password,
            ])
            .args(["refresh", &job, "60"]),
    );
    let filter = "(objectClass=latchkeyJob)";
    let on_b = eventually("the job record on B", 30, || async {
        read(&b, &format!("ou=jobs,{SUFFIX}"), filter).await.pop()
    })
    .await;
    let on_a = read(&a, &format!("ou=jobs,{SUFFIX}"), filter)
        .await
        .pop()
        .unwrap();
    // ... B's copy has B's own default TTL: the refresh stayed on A.
    assert!(
        first(&on_b, "entryExpireTimestamp") < first(&on_a, "entryExpireTimestamp"),
        "A {on_a:?}\nB {on_b:?}"
    );

    // A worker's change of the record on B comes back to A.
    let (worker, worker_password) = b.credentials("worker");
    let running = vec![ldap3::Mod::Replace(
        "latchkeyJobState",
        std::collections::HashSet::from(["running"]),
    )];
    assert_eq!(
        ldap::modify(&b.url(), (&worker, &worker_password), &job, running).await,
        0
    );
    eventually("the new state on A", 30, || async {
        let entry = read(&a, &format!("ou=jobs,{SUFFIX}"), filter).await.pop()?;
        (first(&entry, "latchkeyJobState") == "running").then_some(())
    })
    .await;

    // B's copy expires after its 5 s, and its delete removes A's copy,
    // whose own TTL (60 s) is far from over.
    eventually("the record gone from both providers", 30, || async {
        let left_a = read(&a, &format!("ou=jobs,{SUFFIX}"), filter).await;
        let left_b = read(&b, &format!("ou=jobs,{SUFFIX}"), filter).await;
        (left_a.is_empty() && left_b.is_empty()).then_some(())
    })
    .await;
}
