//! Unit tests of key uploads and summaries, with keys made by the real
//! tools (`openssl`, `gpg`) in throwaway folders.

mod pastes;
mod summaries;

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Runs a tool, fails the test with its stderr if it fails, returns stdout.
fn run(command: &mut Command) -> String {
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("the tool runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the tool writes text")
}

/// A folder of certificates made by `openssl req`, each with its key.
struct Openssl {
    dir: tempfile::TempDir,
}

impl Openssl {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// A self-signed certificate `name` for `subject` (like
    /// `/CN=Alice Example/emailAddress=alice@example.org`), valid for `days`,
    /// with an RSA (`rsa:2048`) or EC (`ec:P-256`) key; returns its PEM.
    fn certificate(&self, name: &str, subject: &str, key: &str, days: u32) -> String {
        let mut command = Command::new("openssl");
        command.current_dir(self.dir.path()).args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            &days.to_string(),
            "-subj",
            subject,
        ]);
        let usage = match key.strip_prefix("ec:") {
            Some(curve) => {
                command.args([
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    &format!("ec_paramgen_curve:{curve}"),
                ]);
                "keyAgreement"
            }
            None => {
                command.args(["-newkey", key]);
                "keyEncipherment"
            }
        };
        command.args([
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-addext",
            &format!("keyUsage={usage}"),
        ]);
        run(&mut command);
        self.read(&format!("{name}.pem"))
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path(file)).expect("the tool wrote the file")
    }

    /// The certificate `name` as `openssl pkcs12 -nokeys` prints it from a
    /// PKCS#12 export: `Bag Attributes`, subject and issuer before the PEM.
    fn pkcs12_dump(&self, name: &str, with_key: bool) -> String {
        run(Command::new("openssl").current_dir(self.dir.path()).args([
            "pkcs12",
            "-export",
            "-in",
            &format!("{name}.pem"),
            "-inkey",
            &format!("{name}.key"),
            "-passout",
            "pass:secret",
            "-out",
            &format!("{name}.p12"),
        ]));
        let mut command = Command::new("openssl");
        command.current_dir(self.dir.path()).args([
            "pkcs12",
            "-in",
            &format!("{name}.p12"),
            "-passin",
            "pass:secret",
        ]);
        if with_key {
            command.arg("-nodes");
        } else {
            command.arg("-nokeys");
        }
        run(&mut command)
    }

    /// The certificate `name` as `openssl x509 -text` prints it: the dump,
    /// then the PEM.
    fn text_dump(&self, name: &str) -> String {
        run(Command::new("openssl").current_dir(self.dir.path()).args([
            "x509",
            "-text",
            "-in",
            &format!("{name}.pem"),
        ]))
    }

    /// `openssl x509 -fingerprint -sha256` of the certificate `name`.
    fn fingerprint(&self, name: &str) -> String {
        let out = run(Command::new("openssl").current_dir(self.dir.path()).args([
            "x509",
            "-noout",
            "-fingerprint",
            "-sha256",
            "-in",
            &format!("{name}.pem"),
        ]));
        out.trim()
            .split_once('=')
            .expect("name=fingerprint")
            .1
            .to_owned()
    }
}

/// A private gpg home.
struct Gpg {
    dir: tempfile::TempDir,
}

impl Gpg {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    fn gpg(&self) -> Command {
        let mut command = Command::new("gpg");
        command.env("GNUPGHOME", self.dir.path()).args([
            "--batch",
            "--yes",
            "--quiet",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ]);
        command
    }

    /// Makes a key for `uid` (primary `algorithm` for signing, encryption
    /// subkey `subkey`, both expiring after `expire`); returns the fingerprint.
    fn generate(&self, uid: &str, algorithm: &str, subkey: &str, expire: &str) -> String {
        run(self
            .gpg()
            .args(["--quick-gen-key", uid, algorithm, "sign", expire]));
        let listing = run(self.gpg().args(["--with-colons", "--list-keys", uid]));
        let fingerprint = listing
            .lines()
            .find_map(|line| line.strip_prefix("fpr:"))
            .map(|rest| rest.trim_matches(':').to_owned())
            .expect("a fingerprint");
        run(self
            .gpg()
            .args(["--quick-add-key", &fingerprint, subkey, "encr", expire]));
        fingerprint
    }

    /// The armored public keys of `fingerprints`, in one block.
    fn export(&self, fingerprints: &[&str]) -> String {
        run(self.gpg().args(["--armor", "--export"]).args(fingerprints))
    }
}
