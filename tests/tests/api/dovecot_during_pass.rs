//! Dovecot serves the Maildir while a mailbox pass encrypts it: an IMAP
//! client that reads every message over and over meets no error and misses
//! no message. All it sees is messages replaced: a new UID appears, the old
//! one is expunged.

use latchkey_core::encryption::is_already_encrypted;
use latchkey_tests::demo::ALICE;
use latchkey_tests::dovecot::{Dovecot, Imap, Reply};
use latchkey_tests::keys::GpgHome;
use latchkey_tests::spawn_app;
use latchkey_tests::{AppOptions, TestApp};
use latchkey_workers::mailbox::maildir::{Maildir, deliver};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

const MESSAGES: usize = 400;
/// Polls that must see the mailbox half encrypted, so that the test cannot
/// pass without reading during the pass.
const MIXED_POLLS: usize = 3;

/// `MESSAGES` messages of 0.5 to about 6 KiB in INBOX, a third in `new/`;
/// answers their Message-IDs.
fn fill_inbox(root: &std::path::Path) -> BTreeSet<String> {
    (0..MESSAGES)
        .map(|index| {
            let lines = 4 + (index * 7919) % 80;
            let body: String = (0..lines)
                .map(|line| format!("{:076}\n", (line * 31 + index) % 1_000_003))
                .collect();
            let id = format!("<{index}.during-pass@example.org>");
            let content = format!(
                "From: sender{index}@example.org\nTo: alice@example.org\nSubject: Message {index}\nMessage-ID: {id}\nContent-Type: text/plain; charset=us-ascii\n\n{body}"
            );
            let unique = format!("17650{index:05}.M{index}P1.test");
            let flags = if index % 3 == 0 { None } else { Some("S") };
            deliver(root, &unique, flags, content.as_bytes()).unwrap();
            id
        })
        .collect()
}

/// The header block of a message as Dovecot serves it (CRLF line ends).
fn header(message: &[u8]) -> &[u8] {
    let end = message
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or(message.len(), |at| at + 4);
    &message[..end]
}

/// Whether the message is encrypted as a whole. Its top-level headers
/// decide that for the messages here; the body need not be scanned.
fn encrypted(message: &[u8]) -> bool {
    is_already_encrypted(&mut header(message))
        .unwrap()
        .is_some()
}

fn message_id(message: &[u8]) -> Option<String> {
    let header = String::from_utf8_lossy(header(message));
    header.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("Message-ID")
            .then(|| value.trim().to_owned())
    })
}

/// What one IMAP session saw.
#[derive(Debug, Default)]
struct Poll {
    /// Every message served, by UID: its Message-ID and whether it was encrypted.
    messages: BTreeMap<u32, (String, bool)>,
    /// Every tagged answer that was not OK, every untagged BYE or NO, every
    /// size that did not match the body, every broken connection.
    errors: Vec<String>,
}

impl Poll {
    fn ids(&self) -> BTreeSet<&str> {
        self.messages.values().map(|(id, _)| id.as_str()).collect()
    }

    fn encrypted(&self) -> usize {
        self.messages.values().filter(|(_, yes)| *yes).count()
    }

    fn check(&mut self, command: &str, reply: &Reply) {
        for response in &reply.untagged {
            if response.text.starts_with("* BYE") || response.text.starts_with("* NO") {
                self.errors.push(format!("{command}: {}", response.text));
            }
        }
        if !reply.ok() {
            self.errors.push(format!("{command}: {}", reply.status));
        }
    }

    /// Records what a FETCH served; answers how many UIDs were new.
    fn record(&mut self, command: &str, reply: &Reply) -> usize {
        self.check(command, reply);
        let mut new = 0;
        for message in reply.fetched() {
            if message.size != Some(message.body.len() as u64) {
                self.errors.push(format!(
                    "UID {}: RFC822.SIZE {:?} but {} bytes served",
                    message.uid,
                    message.size,
                    message.body.len()
                ));
            }
            let id = message_id(&message.body).unwrap_or_default();
            let seen = (id, encrypted(&message.body));
            if self.messages.insert(message.uid, seen).is_none() {
                new += 1;
            }
        }
        new
    }

    /// Selects INBOX afresh and fetches every message, then the ones that
    /// replaced others meanwhile.
    async fn read_inbox(&mut self, imap: &mut Imap) -> std::io::Result<()> {
        let reply = imap.command("SELECT INBOX").await?;
        self.check("SELECT", &reply);
        let fetch = "UID FETCH 1:* (UID RFC822.SIZE BODY.PEEK[])";
        let reply = imap.command(fetch).await?;
        self.record(fetch, &reply);
        // A message replaced during the FETCH is expunged there ("OK
        // [EXPUNGEISSUED]"); its new copy was in place before, and Dovecot
        // announces it as the command ends: a client fetches the new UIDs.
        for _ in 0..3 {
            let after = self.messages.keys().max().copied().unwrap_or(0) + 1;
            let fetch = format!("UID FETCH {after}:* (UID RFC822.SIZE BODY.PEEK[])");
            let reply = imap.command(&fetch).await?;
            if self.record(&fetch, &reply) == 0 {
                break;
            }
        }
        Ok(())
    }
}

/// A mail client: logs in as alice once (slapd checks an argon2 hash per
/// login) and reads INBOX whole, again and again.
struct Client<'a> {
    dovecot: &'a Dovecot,
    session: Option<Imap>,
}

impl Client<'_> {
    /// One read of INBOX, logging in first if need be. After any error the
    /// client starts over with a new connection, as a mail client would.
    async fn poll(&mut self) -> Poll {
        let mut poll = Poll::default();
        let read = match self.session.take() {
            Some(session) => Ok(session),
            None => self.log_in(&mut poll).await,
        };
        let read = match read {
            Ok(mut imap) => poll.read_inbox(&mut imap).await.map(|()| imap),
            Err(error) => Err(error),
        };
        match read {
            Ok(imap) if poll.errors.is_empty() => self.session = Some(imap),
            Ok(_) => {}
            Err(error) => poll.errors.push(format!("connection: {error}")),
        }
        poll
    }

    async fn log_in(&self, poll: &mut Poll) -> std::io::Result<Imap> {
        let mut imap = self.dovecot.imap().await?;
        let login = format!("LOGIN \"{}\" \"{}\"", ALICE.0, ALICE.1);
        let reply = imap.command(&login).await?;
        poll.check("LOGIN", &reply);
        Ok(imap)
    }
}

/// One read of INBOX by a client of its own.
async fn poll(dovecot: &Dovecot) -> Poll {
    Client {
        dovecot,
        session: None,
    }
    .poll()
    .await
}

fn dovecot_errors(dovecot: &Dovecot) -> String {
    let log = dovecot.log();
    let errors: Vec<&str> = log.lines().filter(|line| line.contains("Error:")).collect();
    errors.join("\n")
}

async fn turn_encryption_on(app: &TestApp, key: String) -> Value {
    let client = app.signed_in(ALICE).await;
    let body = json!({"method": "openpgp", "algorithm": "aes-256", "keys": [key]});
    let response = app.put(&client, "/api/encryption", body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let job = accepted["job"]["id"].as_str().unwrap();
    app.finished_job(&client, job).await
}

#[tokio::test]
async fn an_imap_client_reading_during_a_pass_meets_no_error_and_misses_no_message() {
    let gpg = GpgHome::new();
    let key = gpg.alice_key();
    let app = spawn_app(AppOptions::default()).await;
    let root = app.maildir("alice");
    let ids = fill_inbox(&root);
    let dovecot = Dovecot::serving(&app.slapd.url(), &app.settings.mailbox.maildir_template);
    dovecot.own(&root);

    // The client has seen the mailbox before (Dovecot moved new/ to cur/).
    let before = poll(&dovecot).await;
    assert_eq!(before.errors, Vec::<String>::new());
    assert_eq!(before.ids(), ids.iter().map(String::as_str).collect());
    assert_eq!(before.encrypted(), 0);

    let finished = AtomicBool::new(false);
    let reading = || async {
        let mut client = Client {
            dovecot: &dovecot,
            session: None,
        };
        let mut polls = Vec::new();
        while !finished.load(Ordering::Relaxed) {
            polls.push(client.poll().await);
        }
        polls
    };
    let passing = async {
        let job = turn_encryption_on(&app, key).await;
        finished.store(true, Ordering::Relaxed);
        job
    };
    // Two clients at once, as a phone and a laptop would be.
    let (mut polls, others, job) = tokio::join!(reading(), reading(), passing);
    polls.extend(others);
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["done"], MESSAGES);

    let mixed = polls
        .iter()
        .filter(|poll| (1..poll.messages.len()).contains(&poll.encrypted()))
        .count();
    for (index, poll) in polls.iter().enumerate() {
        assert!(
            poll.errors.is_empty(),
            "poll {index} of {}: {:?}\nDovecot's errors:\n{}",
            polls.len(),
            poll.errors,
            dovecot_errors(&dovecot)
        );
        let seen = poll.ids();
        let missing: Vec<&String> = ids
            .iter()
            .filter(|id| !seen.contains(id.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "poll {index} of {} missed {missing:?}",
            polls.len()
        );
    }
    assert!(
        mixed >= MIXED_POLLS,
        "only {mixed} of {} polls read during the pass",
        polls.len()
    );

    let after = poll(&dovecot).await;
    assert_eq!(after.errors, Vec::<String>::new());
    assert_eq!(
        after.messages.len(),
        MESSAGES,
        "Dovecot serves each message once"
    );
    assert_eq!(after.ids(), ids.iter().map(String::as_str).collect());
    assert_eq!(after.encrypted(), MESSAGES);
    assert_eq!(Maildir::new(&root).messages().unwrap().len(), MESSAGES);
}
