//! Keys made by the real tools (gpg, openssl) in throwaway folders, and
//! decryption with them: the independent side of every encryption test.

use std::path::Path;
use std::process::{Command, Stdio};

fn run(command: &mut Command, input: Option<&[u8]>) -> Vec<u8> {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the tool runs");
    let stdin = child.stdin.take().expect("stdin");
    // Written beside the reading: a large input would otherwise fill the
    // pipes both ways and neither side could go on.
    let output = std::thread::scope(|scope| {
        scope.spawn(move || {
            use std::io::Write;
            let mut stdin = stdin;
            if let Some(input) = input {
                stdin.write_all(input).expect("input is written");
            }
        });
        child.wait_with_output().expect("the tool finishes")
    });
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A private gpg home with keys of its own.
pub struct GpgHome {
    dir: tempfile::TempDir,
}

impl Default for GpgHome {
    fn default() -> Self {
        Self::new()
    }
}

impl GpgHome {
    /// An empty home.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        Self { dir }
    }

    /// A `gpg` command using this home, for benchmarks that drive the CLI.
    pub fn command(&self) -> Command {
        self.gpg()
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

    /// Makes a key for `uid` (`algorithm` like `rsa2048` or `ed25519`) with an
    /// encryption subkey of `subkey` (like `rsa2048` or `cv25519`) if given;
    /// both expire after `expire` (`never`, `1d`); returns the fingerprint.
    pub fn generate(
        &self,
        uid: &str,
        algorithm: &str,
        subkey: Option<&str>,
        expire: &str,
    ) -> String {
        self.generate_at(None, uid, algorithm, subkey, expire)
    }

    /// [`Self::generate`] by gpg's clock set to `faked` (seconds since the
    /// epoch, `--faked-system-time`) if given.
    fn generate_at(
        &self,
        faked: Option<&str>,
        uid: &str,
        algorithm: &str,
        subkey: Option<&str>,
        expire: &str,
    ) -> String {
        let gpg = || {
            let mut command = self.gpg();
            if let Some(faked) = faked {
                command.args(["--faked-system-time", faked]);
            }
            command
        };
        run(
            gpg().args(["--quick-gen-key", uid, algorithm, "sign", expire]),
            None,
        );
        let listing =
            String::from_utf8(run(gpg().args(["--with-colons", "--list-keys", uid]), None))
                .expect("a listing");
        let fingerprint = listing
            .lines()
            .find_map(|line| {
                line.strip_prefix("fpr:")
                    .map(|rest| rest.trim_matches(':').to_owned())
            })
            .expect("a fingerprint");
        if let Some(subkey) = subkey {
            run(
                gpg().args(["--quick-add-key", &fingerprint, subkey, "encr", expire]),
                None,
            );
        }
        fingerprint
    }

    /// Makes a key for alice@example.org (ed25519 with a cv25519
    /// encryption subkey, no expiry); returns the fingerprint.
    pub fn generate_alice(&self) -> String {
        self.generate(
            "Alice <alice@example.org>",
            "ed25519",
            Some("cv25519"),
            "never",
        )
    }

    /// [`Self::generate_alice`], exported armored.
    pub fn alice_key(&self) -> String {
        let fingerprint = self.generate_alice();
        self.export(&fingerprint)
    }

    /// The armored public key.
    pub fn export(&self, fingerprint: &str) -> String {
        String::from_utf8(run(
            self.gpg().args(["--armor", "--export", fingerprint]),
            None,
        ))
        .expect("armor")
    }

    /// Revokes the key with the revocation certificate gpg made for it.
    pub fn revoke(&self, fingerprint: &str) {
        let path = self
            .dir
            .path()
            .join(format!("openpgp-revocs.d/{fingerprint}.rev"));
        let certificate =
            std::fs::read_to_string(path).expect("gpg keeps a revocation certificate");
        // gpg guards the stored certificate with a leading colon.
        let armored = certificate.replace(
            ":-----BEGIN PGP PUBLIC KEY BLOCK-----",
            "-----BEGIN PGP PUBLIC KEY BLOCK-----",
        );
        run(self.gpg().arg("--import"), Some(armored.as_bytes()));
    }

    /// Like [`Self::generate`], but made `days_ago` days ago by gpg's clock
    /// (`--faked-system-time`), so that an `expire` shorter than that has run out.
    pub fn generate_in_the_past(&self, uid: &str, days_ago: u64, expire: &str) -> String {
        let then = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            - days_ago * 86_400;
        self.generate_at(
            Some(&then.to_string()),
            uid,
            "ed25519",
            Some("cv25519"),
            expire,
        )
    }

    /// Like [`Self::generate`], but valid for one day that ends `seconds`
    /// from now (made by gpg's clock a day less `seconds` ago).
    pub fn generate_expiring_in(&self, uid: &str, seconds: u64) -> String {
        let then = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            - 86_400
            + seconds;
        self.generate_at(
            Some(&then.to_string()),
            uid,
            "ed25519",
            Some("cv25519"),
            "1d",
        )
    }

    /// Finds the armored OpenPGP message inside a whole mail message (a
    /// PGP/MIME part) and decrypts it with `gpg --decrypt`, to its bytes.
    pub fn decrypt_bytes_in(&self, message: &[u8]) -> Vec<u8> {
        const BEGIN: &[u8] = b"-----BEGIN PGP MESSAGE-----";
        const END: &[u8] = b"-----END PGP MESSAGE-----";
        let find = |needle: &[u8]| {
            message
                .windows(needle.len())
                .position(|window| window == needle)
        };
        let start = find(BEGIN).expect("an armored message");
        let end = find(END).expect("the end of the armor") + END.len();
        self.decrypt(&message[start..end])
    }

    /// [`Self::decrypt_bytes_in`], as text.
    pub fn decrypt_in(&self, message: &[u8]) -> String {
        String::from_utf8(self.decrypt_bytes_in(message)).expect("UTF-8")
    }

    /// `gpg --decrypt` of an armored message.
    pub fn decrypt(&self, armored: &[u8]) -> Vec<u8> {
        run(self.gpg().arg("--decrypt"), Some(armored))
    }
}

/// A self-signed S/MIME certificate and its key, made by `openssl req`.
pub struct SmimeIdentity {
    dir: tempfile::TempDir,
}

impl SmimeIdentity {
    /// `key` is `rsa:2048`, `ec` with a curve, ...; `usage` the keyUsage extension.
    pub fn new(key: &str, usage: &str) -> Self {
        Self::issued(key, usage, "/CN=alice@example.org", 30)
    }

    /// A certificate for `subject` (like `/CN=Alice/emailAddress=alice@example.org`)
    /// valid for `days`; `key` and `usage` as for [`Self::new`].
    pub fn issued(key: &str, usage: &str, subject: &str, days: u32) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut command = Command::new("openssl");
        command.current_dir(dir.path()).args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            &days.to_string(),
            "-subj",
            subject,
        ]);
        match key.strip_prefix("ec:") {
            Some(curve) => command.args([
                "-newkey",
                "ec",
                "-pkeyopt",
                &format!("ec_paramgen_curve:{curve}"),
            ]),
            None => command.args(["-newkey", key]),
        };
        command.args([
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-addext",
            &format!("keyUsage={usage}"),
        ]);
        run(&mut command, None);
        Self { dir }
    }

    /// The certificate as `openssl pkcs12 -nokeys` prints it from a PKCS#12
    /// export of certificate and key: `Bag Attributes`, `subject=` and
    /// `issuer=` lines before the PEM, as a user's exported file holds it.
    pub fn pkcs12_certificate_dump(&self) -> String {
        let mut export = Command::new("openssl");
        export.current_dir(self.dir.path()).args([
            "pkcs12",
            "-export",
            "-in",
            "cert.pem",
            "-inkey",
            "key.pem",
            "-passout",
            "pass:export",
            "-out",
            "identity.p12",
        ]);
        run(&mut export, None);
        let mut dump = Command::new("openssl");
        dump.current_dir(self.dir.path()).args([
            "pkcs12",
            "-in",
            "identity.p12",
            "-passin",
            "pass:export",
            "-nokeys",
        ]);
        String::from_utf8(run(&mut dump, None)).expect("PEM is text")
    }

    /// The SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it.
    pub fn fingerprint(&self) -> String {
        let mut command = Command::new("openssl");
        command.current_dir(self.dir.path()).args([
            "x509",
            "-noout",
            "-fingerprint",
            "-sha256",
            "-in",
            "cert.pem",
        ]);
        let printed = String::from_utf8(run(&mut command, None)).expect("text");
        printed
            .trim()
            .split_once('=')
            .expect("sha256 Fingerprint=...")
            .1
            .to_owned()
    }

    /// Where the certificate's PEM file is.
    pub fn certificate_path(&self) -> String {
        self.path("cert.pem")
    }

    /// The certificate in PEM.
    pub fn certificate_pem(&self) -> String {
        std::fs::read_to_string(self.path("cert.pem")).expect("the certificate")
    }

    fn path(&self, name: &str) -> String {
        Path::new(self.dir.path())
            .join(name)
            .to_string_lossy()
            .into_owned()
    }

    /// `openssl cms -decrypt` with this identity's key, reading an S/MIME
    /// message (headers included) on stdin.
    pub fn decrypt_command(&self) -> Command {
        let mut command = Command::new("openssl");
        command.args([
            "cms",
            "-decrypt",
            "-recip",
            &self.path("cert.pem"),
            "-inkey",
            &self.path("key.pem"),
        ]);
        command
    }

    /// `openssl cms -decrypt` of an S/MIME message (headers included).
    pub fn decrypt(&self, message: &[u8]) -> Vec<u8> {
        run(&mut self.decrypt_command(), Some(message))
    }
}
