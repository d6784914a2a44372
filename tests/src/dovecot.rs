//! A private Dovecot (IMAP) configured from `deploy/dovecot/`, started by
//! `tests/support/dovecot-instance`, to prove what real mail servers accept,
//! and a minimal IMAP client that reads mail through it as a client would.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

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
        Self::start_with(ldap_url, None)
    }

    /// Starts Dovecot as [`Dovecot::start`] does, serving the Maildirs that
    /// `maildir_template` names (Latchkey's `%u`, the username), such as the
    /// ones a test app's workers encrypt. Hand each Maildir over with
    /// [`Dovecot::own`] once it is filled.
    pub fn serving(ldap_url: &str, maildir_template: &str) -> Self {
        Self::start_with(ldap_url, Some(maildir_template.replace("%u", "%Ln")))
    }

    fn start_with(ldap_url: &str, maildirs: Option<String>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let port = crate::slapd::free_port();
        let mut command = Command::new(script());
        command.args([
            "start",
            &dir.path().to_string_lossy(),
            ldap_url,
            &port.to_string(),
        ]);
        if let Some(maildirs) = maildirs {
            command.env("DOVECOT_MAILDIRS", maildirs);
        }
        let output = command
            .output()
            .expect("tests/support/dovecot-instance runs");
        assert!(
            output.status.success(),
            "dovecot did not start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self { dir, port }
    }

    /// Lets Dovecot's mail processes (another user when the tests run as
    /// root) read and change the Maildir at `root`.
    pub fn own(&self, root: &Path) {
        let output = Command::new(script())
            .args(["own", &root.to_string_lossy()])
            .output()
            .expect("tests/support/dovecot-instance runs");
        assert!(
            output.status.success(),
            "could not hand {} to Dovecot: {}",
            root.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// What Dovecot logged so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// A new IMAP connection, past the greeting.
    pub async fn imap(&self) -> io::Result<Imap> {
        Imap::connect(self.port).await
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

/// How long any one IMAP response may take before the client gives up.
const IMAP_TIMEOUT: Duration = Duration::from_secs(20);

/// A minimal IMAP4rev1 client: tagged commands, untagged responses with
/// their literals (message bodies), nothing cached. Enough to read mail as a
/// client does and see every error the server answers.
pub struct Imap {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    tags: u32,
}

/// One response line of the server, with the literals (`{n}` and `n`
/// bytes) it carried taken out.
#[derive(Debug, Clone)]
pub struct Response {
    /// The line without CRLF, each literal left as its `{n}` marker.
    pub text: String,
    /// The literals, in order.
    pub literals: Vec<Vec<u8>>,
}

/// What the server answered to one command.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The untagged responses (`* ...`) that came before the tagged one.
    pub untagged: Vec<Response>,
    /// The tagged status without the tag: `OK ...`, `NO ...` or `BAD ...`.
    pub status: String,
}

/// One message of a FETCH response with `UID`, `RFC822.SIZE` and `BODY[]`.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Its UID.
    pub uid: u32,
    /// The size Dovecot announced (`RFC822.SIZE`), if it was asked for.
    pub size: Option<u64>,
    /// The whole message as served (`BODY[]`).
    pub body: Vec<u8>,
}

impl Reply {
    /// Whether the command succeeded (tagged `OK`).
    pub fn ok(&self) -> bool {
        self.status.starts_with("OK")
    }

    /// The messages the FETCH responses carried.
    pub fn fetched(&self) -> Vec<Fetched> {
        self.untagged
            .iter()
            .filter(|response| response.text.contains(" FETCH ("))
            .filter_map(|response| {
                let number = |name: &str| {
                    let at = response.text.find(name)? + name.len();
                    let digits: String = response.text[at..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    digits.parse::<u64>().ok()
                };
                Some(Fetched {
                    uid: u32::try_from(number(" UID ").or_else(|| number("(UID "))?).ok()?,
                    size: number("RFC822.SIZE "),
                    body: response.literals.first()?.clone(),
                })
            })
            .collect()
    }
}

impl Imap {
    async fn connect(port: u16) -> io::Result<Self> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let (reader, writer) = stream.into_split();
        let mut imap = Self {
            reader: BufReader::new(reader),
            writer,
            tags: 0,
        };
        let greeting = imap.response().await?;
        if !greeting.text.starts_with("* OK") {
            return Err(io::Error::other(format!("greeted with {}", greeting.text)));
        }
        Ok(imap)
    }

    /// Sends `command` (without tag or CRLF) and reads up to its tagged answer.
    pub async fn command(&mut self, command: &str) -> io::Result<Reply> {
        self.tags += 1;
        let tag = format!("t{}", self.tags);
        self.writer
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .await?;
        let mut untagged = Vec::new();
        loop {
            let response = self.response().await?;
            if let Some(status) = response.text.strip_prefix(&format!("{tag} ")) {
                return Ok(Reply {
                    untagged,
                    status: status.to_owned(),
                });
            }
            untagged.push(response);
        }
    }

    /// Reads one response line, with its literals.
    async fn response(&mut self) -> io::Result<Response> {
        let mut response = Response {
            text: String::new(),
            literals: Vec::new(),
        };
        loop {
            let mut line = Vec::new();
            let read = tokio::time::timeout(IMAP_TIMEOUT, self.reader.read_until(b'\n', &mut line))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no IMAP answer"))??;
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("connection closed after {:?}", response.text),
                ));
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            response.text.push_str(line);
            let Some(length) = literal_length(line) else {
                return Ok(response);
            };
            let mut literal = vec![0; length];
            tokio::time::timeout(IMAP_TIMEOUT, self.reader.read_exact(&mut literal))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "a literal cut short"))??;
            response.literals.push(literal);
        }
    }
}

/// The `n` of a line ending in a literal marker `{n}`.
fn literal_length(line: &str) -> Option<usize> {
    let open = line.strip_suffix('}')?.rfind('{')?;
    line[open + 1..line.len() - 1].parse().ok()
}
