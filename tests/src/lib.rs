//! The end-to-end test harness: a private slapd per test loaded from `ldif/`,
//! the real RabbitMQ with a unique prefix per test, the gateway on a free port
//! and workers in-process.

pub mod app;
pub mod bench;
pub mod broker;
pub mod broker_node;
pub mod browser;
pub mod client;
pub mod dovecot;
pub mod keys;
pub mod ldap;
pub mod probe;
pub mod slapd;

pub use app::{AdminRun, AppOptions, BrokerUsers, TestApp, WorkerProcess, spawn_app};

/// The demo accounts of `ldif/demo.ldif`.
pub mod demo {
    /// A Latchkey account (argon2id).
    pub const ALICE: (&str, &str) = ("alice", "Wonderland-Tea-Party-42");
    /// Another Latchkey account.
    pub const BOB: (&str, &str) = ("bob", "Fix-It-Felix-Hammer-7");
    /// A legacy account with an `{SSHA}` password and no Latchkey class.
    pub const CAROL: (&str, &str) = ("carol", "Carol-Legacy-Ssha-2024");
    /// A legacy account with a `{CRYPT}` sha512-crypt password.
    pub const DAVE: (&str, &str) = ("dave", "Dave-Legacy-Crypt-2024");
    /// A legacy account with an `{ARGON2}` password.
    pub const ERIN: (&str, &str) = ("erin", "Erin-Legacy-Argon-2024");

    /// The DN of a demo account.
    pub fn dn(uid: &str) -> String {
        format!("uid={uid},ou=people,dc=example,dc=org")
    }
}

/// `message` in the envelope a gateway would seal it in, accepted now; for
/// tests that call a worker's step directly.
pub fn envelope(message: &latchkey_core::job::JobMessage) -> latchkey_core::job::Envelope {
    latchkey_core::job::Envelope::new(message.clone(), time::OffsetDateTime::now_utc(), None)
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after `seconds`
/// naming `what`. Tests wait for conditions, never for fixed times.
pub async fn eventually<T, F, Fut>(what: &str, seconds: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {seconds} s waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The TOTP code for `secret` (base32) at `at`, computed by Debian's
/// `oathtool`, an implementation independent of ours.
pub fn oathtool(secret: &str, at: time::OffsetDateTime) -> String {
    let output = std::process::Command::new("oathtool")
        .args([
            "--totp",
            "--base32",
            "--now",
            &format!("@{}", at.unix_timestamp()),
            secret,
        ])
        .output()
        .expect("oathtool runs (apt-get install oathtool)");
    assert!(
        output.status.success(),
        "oathtool: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("digits")
        .trim()
        .to_owned()
}

/// Every file under `root` with its bytes; a link as a link, with its target.
pub fn tree(root: &std::path::Path) -> Vec<(std::path::PathBuf, &'static str, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).expect("a readable folder") {
            let path = entry.expect("a readable entry").path();
            let kind = std::fs::symlink_metadata(&path)
                .expect("metadata")
                .file_type();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&path).expect("a link").into_os_string();
                files.push((path, "link", target.into_encoded_bytes()));
            } else {
                let content = std::fs::read(&path).expect("a readable file");
                files.push((path, "file", content));
            }
        }
    }
    files.sort();
    files
}
