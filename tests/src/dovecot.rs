//! A private Dovecot (IMAP) configured from `deploy/dovecot/`, started by
//! `tests/support/dovecot-instance`, to prove what real mail servers accept.

use std::path::{Path, PathBuf};
use std::process::Command;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A running Dovecot; stopped on drop.
pub struct Dovecot {
    dir: tempfile::TempDir,
    port: u16,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("support/dovecot-instance")
}

impl Dovecot {
    /// Starts Dovecot with the shipped passdbs against the directory at `ldap_url`.
    pub fn start(ldap_url: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let port = crate::slapd::free_port();
        let output = Command::new(script())
            .args([
                "start",
                &dir.path().to_string_lossy(),
                ldap_url,
                &port.to_string(),
            ])
            .output()
            .expect("tests/support/dovecot-instance runs");
        assert!(
            output.status.success(),
            "dovecot did not start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self { dir, port }
    }

    /// Whether IMAP `LOGIN user password` succeeds.
    pub async fn imap_login(&self, user: &str, password: &str) -> bool {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("dovecot listens");
        let (reader, mut writer) = stream.into_split();
        let mut lines = BufReader::new(reader).lines();
        let greeting = lines
            .next_line()
            .await
            .expect("a greeting")
            .unwrap_or_default();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        let command = format!("a LOGIN \"{user}\" \"{password}\"\r\n");
        writer
            .write_all(command.as_bytes())
            .await
            .expect("the command is sent");
        loop {
            let line = lines
                .next_line()
                .await
                .expect("an answer")
                .expect("an answer line");
            if let Some(status) = line.strip_prefix("a ") {
                let _ = writer.write_all(b"b LOGOUT\r\n").await;
                return status.starts_with("OK");
            }
        }
    }

    /// Whether Dovecot's auth accepts `password` for `user` on `service`
    /// (`doveadm auth test`, for services without a running server).
    pub fn auth(&self, service: &str, user: &str, password: &str) -> bool {
        let status = Command::new(script())
            .args([
                "auth",
                &self.dir.path().to_string_lossy(),
                service,
                user,
                password,
            ])
            .status()
            .expect("tests/support/dovecot-instance runs");
        match status.code() {
            Some(0) => true,
            Some(77) => false,
            other => panic!("doveadm auth test failed to run: {other:?}"),
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .args(["stop", &self.dir.path().to_string_lossy()])
            .output();
    }
}
