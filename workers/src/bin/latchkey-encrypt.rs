//! `latchkey-encrypt <user>`: reads one message on stdin and writes it to
//! stdout, encrypted for the user if their account has encryption at rest
//! on. Exits 75 (EX_TEMPFAIL) when it cannot tell or cannot encrypt, or
//! when the directory has no such account, so the mail server retries
//! instead of storing the message in the clear; each with a line on stderr
//! saying why.
//!
//! It reads only the `[ldap]` and `[jobs]` sections of `LATCHKEY_CONFIG` and
//! binds as its own read-only account (`cn=latchkey-delivery`): the mail
//! server that runs it needs no key and no broker user.

use latchkey_core::config::DirectorySettings;
use latchkey_core::directory::LdapDirectory;
use latchkey_workers::delivery::{Delivered, encrypt_for_delivery};
use std::io::{Seek, SeekFrom, Write};
use std::process::ExitCode;

const EX_USAGE: u8 = 64;
const EX_TEMPFAIL: u8 = 75;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut arguments = std::env::args().skip(1);
    let (Some(user), None) = (arguments.next(), arguments.next()) else {
        eprintln!("usage: latchkey-encrypt <user> < message > message");
        return ExitCode::from(EX_USAGE);
    };
    match run(&user).await {
        Ok(Delivered::NotEncrypted(reason)) => {
            eprintln!("latchkey-encrypt: delivered to {user} unencrypted and marked so: {reason}");
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("latchkey-encrypt: {error:#}");
            ExitCode::from(EX_TEMPFAIL)
        }
    }
}

async fn run(user: &str) -> anyhow::Result<Delivered> {
    let file = std::env::var_os("LATCHKEY_CONFIG").map(std::path::PathBuf::from);
    let settings = DirectorySettings::load(file.as_deref(), None)?;
    let directory = LdapDirectory::new(&settings.ldap, settings.jobs.ttl_seconds);
    // Spool to a file: large messages stream through without filling memory.
    let mut spool = tempfile::tempfile()?;
    std::io::copy(&mut std::io::stdin().lock(), &mut spool)?;
    spool.seek(SeekFrom::Start(0))?;
    let mut output = std::io::BufWriter::new(std::io::stdout());
    let delivered = encrypt_for_delivery(&directory, user, &mut spool, &mut output).await?;
    output.flush()?;
    Ok(delivered)
}
