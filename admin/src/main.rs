//! The `latchkey-admin` binary: parse the arguments, load the settings, run
//! the command, exit with its code (see `latchkey-admin --help`).

use latchkey_admin::{AdminError, Command, cli};
use latchkey_core::config::AdminSettings;
use std::io::Write;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Warnings only, unless RUST_LOG says otherwise; the
    // AMQP client's own error lines would repeat the tool's message.
    latchkey_core::telemetry::init_logging_or("warn,lapin=off");
    // Its standard output is the command's answer.
    latchkey_core::telemetry::send_audit_to_stderr();
    let invocation = match cli::parse(std::env::args().skip(1)) {
        Ok(invocation) => invocation,
        Err(error) => return failed(&AdminError::from(error)),
    };
    if invocation.command == Command::Help {
        print!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    let file = std::env::var_os("LATCHKEY_CONFIG").map(std::path::PathBuf::from);
    let settings = match AdminSettings::load(file.as_deref(), None) {
        Ok(settings) => settings,
        Err(error) => return failed(&error.into()),
    };
    let mut shown = String::new();
    let outcome = latchkey_admin::run(&invocation, &settings, &mut shown).await;
    let _ = std::io::stdout().lock().write_all(shown.as_bytes());
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => failed(&error),
    }
}

fn failed(error: &AdminError) -> ExitCode {
    eprintln!("latchkey-admin: {error}");
    if matches!(error, AdminError::Usage(_)) {
        eprintln!("(latchkey-admin --help shows the usage)");
    }
    ExitCode::from(error.exit_code())
}
