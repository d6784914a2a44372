//! The command line, parsed at the boundary into values that cannot be
//! wrong: a job id, a state, a kind, a username, a parked message's id.

use crate::failed::MessageId;
use latchkey_core::domain::{JobId, Uid};
use latchkey_core::job::{JobKind, JobState};
use thiserror::Error;

/// What `--help` prints.
pub const USAGE: &str = "\
usage: latchkey-admin [--json] COMMAND

  jobs list [--account UID] [--state STATE] [--kind KIND]
                           job records in ou=jobs, newest first
  jobs show ID             one job record
  failed list              the messages parked in <prefix>.failed
  failed requeue ID|--all  put parked messages back on the job queue they came from
  failed discard ID        remove parked messages for good
  accounts unlock UID      lift the lockout after too many failed sign-ins in a row

ID is a job id, or for `failed` also the MESSAGE id `failed list` shows (a
message that is not an authentic job has no job id). --json prints JSON for
scripts. The settings come from LATCHKEY_CONFIG and LATCHKEY__* variables, as
for the other processes: [ldap], [broker] and [jobs] only.

Exit codes: 0 done, 1 no such job, message or account, 2 bad arguments,
3 directory unreachable, 4 broker unreachable, 5 refused by the directory or
broker, 6 configuration, 7 some parked messages could not be requeued.
";

/// What the operator asked for, and how to show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The command.
    pub command: Command,
    /// JSON instead of tables.
    pub json: bool,
}

/// One command of the tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print the usage.
    Help,
    /// `jobs list`.
    ListJobs(JobFilter),
    /// `jobs show ID`.
    ShowJob(JobId),
    /// `failed list`.
    ListFailed,
    /// `failed requeue ID|--all`.
    Requeue(Selection),
    /// `failed discard ID`.
    Discard(Selector),
    /// `accounts unlock UID`.
    Unlock(Uid),
}

/// Which job records `jobs list` shows; `None` matches any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only the jobs of the account with this username.
    pub account: Option<Uid>,
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs of this kind.
    pub kind: Option<JobKind>,
}

/// The parked messages a requeue takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every parked message.
    All,
    /// The messages one id names.
    One(Selector),
}

/// What an ID argument names: every parked copy of a job, or one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The messages whose parking note names this job.
    Job(JobId),
    /// The messages with this body.
    Message(MessageId),
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Job(job) => write!(f, "job {job}"),
            Selector::Message(message) => write!(f, "message {message}"),
        }
    }
}

/// Arguments that do not make a command; the text says what is wrong.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct UsageError(String);

fn usage(text: impl Into<String>) -> UsageError {
    UsageError(text.into())
}

/// Parses the arguments after the program name.
pub fn parse(arguments: impl IntoIterator<Item = String>) -> Result<Invocation, UsageError> {
    let mut json = false;
    let mut words = Vec::new();
    for argument in arguments {
        match argument.as_str() {
            "--json" => json = true,
            "-h" | "--help" | "help" => {
                return Ok(Invocation {
                    command: Command::Help,
                    json,
                });
            }
            _ => words.push(argument),
        }
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let command = match words.as_slice() {
        ["jobs", "list", options @ ..] => Command::ListJobs(job_filter(options)?),
        ["jobs", "show", id] => Command::ShowJob(job_id(id)?),
        ["failed", "list"] => Command::ListFailed,
        ["failed", "requeue", "--all"] => Command::Requeue(Selection::All),
        ["failed", "requeue", id] => Command::Requeue(Selection::One(selector(id)?)),
        ["failed", "discard", id] => Command::Discard(selector(id)?),
        ["accounts", "unlock", uid] => Command::Unlock(
            Uid::parse(uid).map_err(|_| usage(format!("`{uid}` is not a username")))?,
        ),
        ["jobs", "show"] | ["failed", "requeue" | "discard"] => {
            return Err(usage(format!("`{}` needs an ID", words.join(" "))));
        }
        ["accounts", "unlock"] => {
            return Err(usage("`accounts unlock` needs a username"));
        }
        [] => return Err(usage("no command given")),
        _ => return Err(usage(format!("unknown command `{}`", words.join(" ")))),
    };
    Ok(Invocation { command, json })
}

fn job_filter(mut options: &[&str]) -> Result<JobFilter, UsageError> {
    let mut filter = JobFilter::default();
    while let [option, rest @ ..] = options {
        let (name, value, rest) = match option.split_once('=') {
            Some((name, value)) => (name, value, rest),
            None => match rest {
                [value, rest @ ..] => (*option, *value, rest),
                [] => return Err(usage(format!("`{option}` needs a value"))),
            },
        };
        match name {
            "--account" => {
                let uid =
                    Uid::parse(value).map_err(|_| usage(format!("`{value}` is not a username")))?;
                filter.account = Some(uid);
            }
            "--state" => {
                let state = JobState::parse(value).ok_or_else(|| {
                    usage(format!(
                        "unknown state `{value}` (queued, running, succeeded, superseded, failed)"
                    ))
                })?;
                filter.state = Some(state);
            }
            "--kind" => {
                let kind = JobKind::parse(value).ok_or_else(|| {
                    let kinds: Vec<&str> = JobKind::ALL.iter().map(|kind| kind.as_str()).collect();
                    usage(format!("unknown kind `{value}` ({})", kinds.join(", ")))
                })?;
                filter.kind = Some(kind);
            }
            other => return Err(usage(format!("unknown option `{other}` of `jobs list`"))),
        }
        options = rest;
    }
    Ok(filter)
}

fn job_id(raw: &str) -> Result<JobId, UsageError> {
    JobId::parse(raw).map_err(|_| usage(format!("`{raw}` is not a job id (a UUID)")))
}

fn selector(raw: &str) -> Result<Selector, UsageError> {
    if let Ok(job) = JobId::parse(raw) {
        return Ok(Selector::Job(job));
    }
    MessageId::parse(raw).map(Selector::Message).ok_or_else(|| {
        usage(format!(
            "`{raw}` is neither a job id (a UUID) nor a message id ({} hex digits, as `failed list` shows)",
            MessageId::DIGITS
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Result<Invocation, UsageError> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn options_take_their_value_after_a_space_or_an_equals_sign() {
        let invocation = parsed("jobs list --account alice --state=failed --json").unwrap();
        assert!(invocation.json);
        assert_eq!(
            invocation.command,
            Command::ListJobs(JobFilter {
                account: Some(Uid::parse("alice").unwrap()),
                state: Some(JobState::Failed),
                kind: None,
            })
        );
        let kind = parsed("jobs list --kind change_password").unwrap().command;
        assert!(matches!(
            kind,
            Command::ListJobs(JobFilter {
                kind: Some(JobKind::ChangePassword),
                ..
            })
        ));
    }

    #[test]
    fn an_id_is_a_job_or_a_message() {
        let job = JobId::new();
        assert_eq!(
            parsed(&format!("failed discard {job}")).unwrap().command,
            Command::Discard(Selector::Job(job))
        );
        let message = MessageId::of(b"{}");
        assert_eq!(
            parsed(&format!("failed requeue {message}"))
                .unwrap()
                .command,
            Command::Requeue(Selection::One(Selector::Message(message)))
        );
        assert_eq!(
            parsed("failed requeue --all").unwrap().command,
            Command::Requeue(Selection::All)
        );
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        for (line, says) in [
            ("", "no command"),
            ("jobs show", "needs an ID"),
            ("jobs show 42", "`42` is not a job id"),
            ("jobs list --state done", "unknown state `done`"),
            ("jobs list --kind nap", "unknown kind `nap`"),
            ("jobs list --account", "`--account` needs a value"),
            ("jobs list --owner bob", "unknown option `--owner`"),
            ("failed discard xyz", "neither a job id"),
            ("failed purge", "unknown command `failed purge`"),
        ] {
            let error = parsed(line).unwrap_err().to_string();
            assert!(error.contains(says), "{line:?}: {error}");
        }
    }
}
