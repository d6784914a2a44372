//! A private slapd, built by `deploy/local/slapd-instance` (the same script
//! `deploy/local/up` uses) in a temporary folder, on a free port.

use std::path::{Path, PathBuf};
use std::process::Command;

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

    /// The service account's password file.
    pub fn service_password_file(&self) -> String {
        self.dir
            .path()
            .join("service-password")
            .to_string_lossy()
            .into_owned()
    }

    /// The service account's password.
    pub fn service_password(&self) -> String {
        std::fs::read_to_string(self.service_password_file())
            .expect("the service password file")
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
