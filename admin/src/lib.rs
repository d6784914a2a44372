//! `latchkey-admin`, the operators' tool: it lists and shows job records
//! (`ou=jobs`), and lists, requeues and discards the messages workers
//! parked in `<prefix>.failed`. It binds to the directory as its own
//! read-only account and reaches the broker as its own user, and holds no
//! key: it never opens an envelope.

pub mod cli;
pub mod error;
pub mod failed;
pub mod jobs;
pub mod render;

pub use cli::{Command, Invocation};
pub use error::{AdminError, Result};

use cli::{Selection, Selector};
use failed::{FailedQueue, ParkedMessage};
use jobs::JobRecords;
use latchkey_core::audit::{AuditEvent, AuditResult};
use latchkey_core::config::AdminSettings;
use latchkey_core::directory::LdapDirectory;
use render::{JobView, ParkedView, Settled};

/// Runs `invocation` with `settings`, appending what it shows to `out`
/// (also when it fails partway: what was done is shown).
pub async fn run(
    invocation: &Invocation,
    settings: &AdminSettings,
    out: &mut String,
) -> Result<()> {
    let json = invocation.json;
    match &invocation.command {
        Command::Help => out.push_str(cli::USAGE),
        Command::ListJobs(filter) => {
            let records = job_records(settings).list(filter).await?;
            out.push_str(&if json {
                render::json(&records.iter().map(JobView::from).collect::<Vec<_>>())
            } else {
                render::jobs_table(&records)
            });
        }
        Command::ShowJob(id) => {
            let record = job_records(settings).show(*id).await?;
            out.push_str(&if json {
                render::json(&JobView::from(&record))
            } else {
                render::job_details(&record)
            });
        }
        Command::ListFailed => {
            let (queue, messages) = FailedQueue::open(&settings.broker).await?;
            let name = queue.name().to_owned();
            queue.close().await?;
            out.push_str(&if json {
                render::json(&messages.iter().map(ParkedView::from).collect::<Vec<_>>())
            } else {
                render::parked_table(&name, &messages)
            });
        }
        Command::Requeue(selection) => {
            settle(settings, Settle::Requeue(selection), json, out).await?
        }
        Command::Discard(selector) => {
            settle(settings, Settle::Discard(selector), json, out).await?
        }
        Command::Unlock(uid) => {
            let forgotten = job_records(settings).unlock(uid).await?;
            out.push_str(&if json {
                render::json(
                    &serde_json::json!({"uid": uid.as_str(), "failures_forgotten": forgotten}),
                )
            } else {
                format!("{uid}: unlocked, {forgotten} failed sign-ins in a row forgotten\n")
            });
        }
    }
    Ok(())
}

fn job_records(settings: &AdminSettings) -> JobRecords<LdapDirectory> {
    let directory = LdapDirectory::new(&settings.ldap, settings.jobs.ttl_seconds);
    JobRecords::new(directory, settings.ldap.url.clone())
}

/// What to do with the parked messages chosen.
enum Settle<'a> {
    Requeue(&'a Selection),
    Discard(&'a Selector),
}

/// Takes the failed queue's messages, settles the chosen ones, returns the
/// rest, and reports each one settled; stops at the first the broker will
/// not take, leaving it and every later one parked.
async fn settle(
    settings: &AdminSettings,
    what: Settle<'_>,
    json: bool,
    out: &mut String,
) -> Result<()> {
    let (mut queue, messages) = FailedQueue::open(&settings.broker).await?;
    let selector = match what {
        Settle::Requeue(Selection::All) => None,
        Settle::Requeue(Selection::One(selector)) | Settle::Discard(selector) => Some(selector),
    };
    let chosen: Vec<&ParkedMessage> = messages
        .iter()
        .filter(|message| selector.is_none_or(|selector| message.matches(selector)))
        .collect();
    if let (Some(selector), true) = (selector, chosen.is_empty()) {
        let name = queue.name().to_owned();
        queue.close().await?;
        return Err(AdminError::NotFound(format!(
            "no {selector} is parked in {name}"
        )));
    }
    let mut settled = Vec::new();
    let mut outcome = Ok(());
    for message in chosen {
        let done = match what {
            Settle::Requeue(_) => requeue(&mut queue, message).await,
            Settle::Discard(_) => discard(&mut queue, message).await,
        };
        match done {
            Ok(report) => settled.push(report),
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    // Returned even after a failure: nothing is left held.
    let closed = queue.close().await;
    out.push_str(&if json {
        render::json(&settled)
    } else {
        render::settled_lines(&settled)
    });
    outcome?;
    closed?;
    let left: Vec<&str> = settled
        .iter()
        .filter(|settled| settled.action == "left")
        .map(|settled| settled.message.as_str())
        .collect();
    if left.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Partial(format!(
            "{} stayed parked: they say neither which queue they came from nor their kind \
             (parked by an older worker)",
            left.join(", ")
        )))
    }
}

async fn requeue(queue: &mut FailedQueue, message: &ParkedMessage) -> Result<Settled> {
    let Some(home) = message.home() else {
        return Ok(report(
            "left",
            message,
            "it does not say which queue it came from".into(),
        ));
    };
    let target = queue.requeue(message, home).await?;
    audit(AuditEvent::ParkedMessageRequeued, message, Some(&target));
    Ok(report("requeued", message, format!("back on {target}")))
}

async fn discard(queue: &mut FailedQueue, message: &ParkedMessage) -> Result<Settled> {
    queue.discard(message).await?;
    audit(AuditEvent::ParkedMessageDiscarded, message, None);
    Ok(report("discarded", message, "removed for good".into()))
}

fn report(action: &'static str, message: &ParkedMessage, detail: String) -> Settled {
    Settled {
        action,
        message: message.id.to_string(),
        job: message.parking.job,
        detail,
    }
}

/// The audit line for a message an operator settled.
fn audit(event: AuditEvent, message: &ParkedMessage, queue: Option<&str>) {
    let parking = &message.parking;
    let operator = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .ok();
    latchkey_core::audit!(
        event = event,
        result = AuditResult::Success,
        account = parking.account.as_ref().map(|dn| dn.as_str()),
        message_id = %message.id,
        job = parking.job.map(|job| job.to_string()),
        kind = parking.kind.map(|kind| kind.as_str()),
        reason = parking.reason.as_deref(),
        queue,
        operator = operator.as_deref(),
        "an operator settled a parked message"
    );
}
