//! Writes the demo mailbox into each Maildir named on the command line that
//! does not exist yet (used by `deploy/local/up`).

fn main() -> std::io::Result<()> {
    for root in std::env::args_os().skip(1).map(std::path::PathBuf::from) {
        if root.exists() {
            println!("{} exists; left as it is", root.display());
            continue;
        }
        latchkey_workers::mailbox::demo::write(&root)?;
        println!("demo mail written to {}", root.display());
    }
    Ok(())
}
