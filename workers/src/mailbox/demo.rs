//! A realistic demo mailbox: plain text, HTML, an attachment, non-ASCII
//! headers, and mail that is encrypted already. For `deploy/local/up` and tests.

use super::maildir::deliver;
use std::io;
use std::path::Path;

/// A message of the demo mailbox: folder (`""` is INBOX), unique name,
/// flags (`None` for `new/`), and content.
pub struct DemoMessage {
    /// Maildir++ folder name, `""` for INBOX.
    pub folder: &'static str,
    /// The unique part of the file name.
    pub unique: &'static str,
    /// Maildir flags, or `None` for unread mail in `new/`.
    pub flags: Option<&'static str>,
    /// The message.
    pub content: &'static str,
    /// Whether it is encrypted already.
    pub encrypted: bool,
}

/// The demo messages.
pub const MESSAGES: &[DemoMessage] = &[
    DemoMessage {
        folder: "",
        unique: "1764000001.M1P1.demo",
        flags: Some("S"),
        encrypted: false,
        content: "Return-Path: <bob@example.org>\nFrom: Bob Builder <bob@example.org>\nTo: Alice Liddell <alice@example.org>\nSubject: Lunch on Friday?\nDate: Mon, 23 Nov 2026 09:12:00 +0000\nMessage-ID: <lunch-1@example.org>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\nHi Alice,\n\nshall we try the new place on Friday at noon?\n\nBob\n",
    },
    DemoMessage {
        folder: "",
        unique: "1764000002.M2P1.demo",
        flags: None,
        encrypted: false,
        content: "From: Newsletter <news@example.com>\nTo: alice@example.org\nSubject: Your weekly digest\nDate: Tue, 24 Nov 2026 06:00:00 +0000\nMessage-ID: <digest-48@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"alt-1\"\n\n--alt-1\nContent-Type: text/plain; charset=utf-8\n\nThis week: three stories.\n--alt-1\nContent-Type: text/html; charset=utf-8\n\n<html><body><h1>This week</h1><p>Three <b>stories</b>.</p></body></html>\n--alt-1--\n",
    },
    DemoMessage {
        folder: "",
        unique: "1764000003.M3P1.demo",
        flags: Some("RS"),
        encrypted: false,
        content: "From: Carol Danvers <carol@example.org>\nTo: Alice Liddell <alice@example.org>\nSubject: Report attached\nDate: Wed, 25 Nov 2026 14:30:00 +0000\nMessage-ID: <report-7@example.org>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"mix-7\"\n\n--mix-7\nContent-Type: text/plain; charset=utf-8\n\nThe quarterly report is attached.\n--mix-7\nContent-Type: application/pdf; name=\"report.pdf\"\nContent-Disposition: attachment; filename=\"report.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKdHJhaWxlcgo8\nPC9Sb290IDEgMCBSPj4KJSVFT0YK\n--mix-7--\n",
    },
    DemoMessage {
        folder: ".Sent",
        unique: "1764000004.M4P1.demo",
        flags: Some("S"),
        encrypted: false,
        content: "From: Alice Liddell <alice@example.org>\nTo: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_dem_Wunderland?=\nDate: Thu, 26 Nov 2026 18:45:00 +0100\nMessage-ID: <gruesse-1@example.org>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nLieber Jürgen,\n\nviele Grüße – bis bald!\n\nAlice\n",
    },
    DemoMessage {
        folder: "",
        unique: "1764000005.M5P1.demo",
        flags: Some("S"),
        encrypted: true,
        content: "From: Dave Lister <dave@example.org>\nTo: alice@example.org\nSubject: Encrypted already\nMIME-Version: 1.0\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc-1\"\n\n--enc-1\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--enc-1\nContent-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n\nhF4DAAAAAAAAAAASAQdAexample\n-----END PGP MESSAGE-----\n--enc-1--\n",
    },
    DemoMessage {
        folder: "",
        unique: "1764000006.M6P1.demo",
        flags: None,
        encrypted: true,
        content: "From: Erin Hannon <erin@example.org>\nTo: alice@example.org\nSubject: Inline PGP\nContent-Type: text/plain\n\n-----BEGIN PGP MESSAGE-----\n\nhF4DAAAAAAAAAAASAQdAexample\n-----END PGP MESSAGE-----\n",
    },
    DemoMessage {
        folder: ".Archive",
        unique: "1764000007.M7P1.demo",
        flags: Some("S"),
        encrypted: true,
        content: "From: Bob Builder <bob@example.org>\nTo: alice@example.org\nSubject: S/MIME already\nMIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\nContent-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHA6CAMIACAQA=\n",
    },
];

/// Writes the demo mailbox into the Maildir at `root`.
pub fn write(root: &Path) -> io::Result<()> {
    for message in MESSAGES {
        let folder = root.join(message.folder);
        deliver(
            &folder,
            message.unique,
            message.flags,
            message.content.as_bytes(),
        )?;
    }
    Ok(())
}
