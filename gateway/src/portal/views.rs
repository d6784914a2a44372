//! What the pages show, in words for people: job kinds and states, dates.

use latchkey_core::job::{JobKind, JobRecord, JobState};
use time::OffsetDateTime;
use time::macros::format_description;

/// A date and time as the pages show it, e.g. `27 Nov 2026, 18:40 UTC`.
pub fn when(at: OffsetDateTime) -> String {
    let format =
        format_description!("[day padding:none] [month repr:short] [year], [hour]:[minute] UTC");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| at.to_string())
}

/// A count with thousands separated, e.g. `30,000`.
pub fn count(number: usize) -> String {
    let digits = number.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// What a job does, as a person would say it.
pub fn job_label(kind: JobKind) -> &'static str {
    match kind {
        JobKind::ChangePassword => "Change password",
        JobKind::EnableTotp => "Turn on two-factor authentication",
        JobKind::DisableTotp => "Turn off two-factor authentication",
        JobKind::RegenerateRecoveryCodes => "New recovery codes",
        JobKind::CreateAppPassword => "Create an app password",
        JobKind::RevokeAppPasswords => "Revoke app passwords",
        JobKind::EncryptMailbox => "Encrypt the mailbox",
        JobKind::DisableEncryption => "Turn off encryption",
    }
}

/// Where a job stands, as a person would say it.
pub fn state_label(state: JobState) -> &'static str {
    match state {
        JobState::Queued => "Pending",
        JobState::Running => "In progress",
        JobState::Succeeded => "Done",
        JobState::Superseded => "Replaced by a newer change",
        JobState::Failed => "Failed",
    }
}

/// One job, ready to show.
pub struct JobRow {
    /// The job id, for the script that follows it.
    pub id: String,
    /// What it does.
    pub label: &'static str,
    /// The stored state (`queued`, `running`, `succeeded`, `superseded`, `failed`).
    pub state: &'static str,
    /// The state in words.
    pub state_label: &'static str,
    /// When it was asked for.
    pub when: String,
    /// Why it failed or is being retried.
    pub error: Option<String>,
    /// Units done (messages, for the mailbox).
    pub done: u64,
    /// Units in all, once known.
    pub total: u64,
}

impl JobRow {
    /// The row for `record`.
    pub fn of(record: &JobRecord) -> Self {
        Self {
            id: record.id.to_string(),
            label: job_label(record.kind),
            state: record.state.as_str(),
            state_label: state_label(record.state),
            when: when(record.created),
            error: record.error.clone(),
            done: record.done,
            total: record.total,
        }
    }

    /// Whether the job is still to finish.
    pub fn pending(&self) -> bool {
        matches!(self.state, "queued" | "running")
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    #[test]
    fn counts_group_thousands() {
        assert_eq!(super::count(7), "7");
        assert_eq!(super::count(999), "999");
        assert_eq!(super::count(30_000), "30,000");
        assert_eq!(super::count(1_234_567), "1,234,567");
    }

    #[test]
    fn dates_read_as_people_write_them() {
        assert_eq!(
            super::when(datetime!(2026-11-07 08:05 UTC)),
            "7 Nov 2026, 08:05 UTC"
        );
    }
}
