//! A private slapd, built by `deploy/local/slapd-instance` (the same script
//! `deploy/local/up` uses) in a temporary folder, on a free port.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The accounts `ldif/base.ldif` makes under `ou=services`, each allowed
/// only what it writes (`ldif/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAccount {
    /// The gateway's: sessions, job records, TOTP steps, used recovery codes.
    Gateway,
    /// The workers': credentials, second factor, app passwords, encryption.
    Worker,
    /// The delivery filter's: reads encryption settings, writes nothing.
    Delivery,
    /// `latchkey-admin`'s: reads job records and account uids, writes nothing.
    Admin,
    /// For people (here: tests that add, delete or inspect entries); no
    /// Latchkey process binds as it.
    Operator,
}

impl ServiceAccount {
    /// Its name in `slapd-instance`'s files (`<dir>/<name>-password`).
    fn name(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Worker => "worker",
            Self::Delivery => "delivery",
            Self::Admin => "admin",
            Self::Operator => "operator",
        }
    }

    /// Its DN under the demo suffix.
    pub fn dn(self) -> String {
        match self {
            Self::Operator => "cn=operator,ou=services,dc=example,dc=org".to_owned(),
            other => format!("cn=latchkey-{},ou=services,dc=example,dc=org", other.name()),
        }
    }
}

/// A running (or stopped) private slapd; stopped and removed on drop.
pub struct Slapd {
    dir: tempfile::TempDir,
    port: u16,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/local/slapd-instance")
}

fn run(args: &[&str]) {
    let output = Command::new(script())
        .args(args)
        .output()
        .expect("deploy/local/slapd-instance runs");
    assert!(
        output.status.success(),
        "slapd-instance {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

impl Slapd {
    /// Creates the instance from `ldif/` and starts it.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().to_string_lossy().into_owned();
        run(&["create", &path]);
        let slapd = Self {
            dir,
            port: free_port(),
        };
        slapd.resume();
        slapd
    }

    /// Starts the stopped instance again, with its data, on the same port.
    pub fn resume(&self) {
        run(&["start", &self.path(), &self.port.to_string()]);
    }

    /// Stops the instance (its data stays).
    pub fn stop(&self) {
        run(&["stop", &self.path()]);
    }

    /// `ldap://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The file holding `account`'s password.
    pub fn password_file(&self, account: ServiceAccount) -> String {
        self.dir
            .path()
            .join(format!("{}-password", account.name()))
            .to_string_lossy()
            .into_owned()
    }

    /// `account`'s password.
    pub fn password(&self, account: ServiceAccount) -> String {
        std::fs::read_to_string(self.password_file(account))
            .expect("the account's password file")
            .trim()
            .to_owned()
    }

    fn path(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = Command::new(script()).args(["stop", &self.path()]).output();
    }
}
