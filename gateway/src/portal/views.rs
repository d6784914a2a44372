//! What the pages show, in words for people: job kinds and states, dates.

use latchkey_core::app_password::last_use::LastUse;
use latchkey_core::encryption::KeySummary;
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

/// An app password's last use in words: when, whether it may have been
/// another's, or why it is not known.
pub fn last_use_words(last_use: &LastUse) -> String {
    match (last_use.recorded, last_use.at) {
        (false, _) => "not recorded (it shares your password's entry)".into(),
        (true, None) => "not used yet".into(),
        (true, Some(at)) if last_use.shared => {
            format!(
                "{} (by it or another app password of the same service)",
                when(at)
            )
        }
        (true, Some(at)) => when(at),
    }
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
        JobKind::AddPasskey => "Add a passkey",
        JobKind::RemovePasskey => "Remove a passkey",
        JobKind::RegenerateRecoveryCodes => "New recovery codes",
        JobKind::CreateAppPassword => "Create an app password",
        JobKind::RevokeAppPasswords => "Revoke app passwords",
        JobKind::ExpireAppPassword => "Remove an expired app password",
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

/// How long before a stored key expires the encryption page warns.
pub const KEY_EXPIRY_WARNING: time::Duration = time::Duration::days(30);

/// One stored key, ready to show.
pub struct KeyRow {
    /// Who it is for: the user IDs, or the subject and e-mail addresses.
    pub names: String,
    /// The fingerprint in groups a narrow screen can wrap: four hex digits
    /// (OpenPGP, as gpg shows it) or eight colon-separated bytes (S/MIME).
    pub fingerprint: String,
    /// E.g. `RSA 3072`.
    pub algorithm: String,
    /// When it expires, if it does.
    pub expires: Option<String>,
    /// Said from [`KEY_EXPIRY_WARNING`] before the expiry on.
    pub warning: Option<String>,
}

impl KeyRow {
    /// The row for `key`, with a warning if it expires within
    /// [`KEY_EXPIRY_WARNING`] of `now` or has expired.
    pub fn of(key: &KeySummary, now: OffsetDateTime) -> Self {
        let names = match &key.subject {
            Some(subject) => std::iter::once(subject.clone())
                .chain(
                    key.emails
                        .iter()
                        .filter(|email| !subject.contains(*email))
                        .cloned(),
                )
                .collect::<Vec<_>>()
                .join(", "),
            None => key.user_ids.join(", "),
        };
        let fingerprint = if key.fingerprint.contains(':') {
            // Colon-separated bytes as openssl prints them, eight to a group
            // so that a narrow screen can wrap them.
            key.fingerprint
                .split(':')
                .collect::<Vec<_>>()
                .chunks(8)
                .map(|bytes| bytes.join(":"))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            spaced(&key.fingerprint)
        };
        let warning = key.expires.and_then(|expires| {
            if expires <= now {
                Some(format!(
                    "Your key “{names}” expired on {}. Upload a new one.",
                    when(expires)
                ))
            } else if expires - now <= KEY_EXPIRY_WARNING {
                Some(format!(
                    "Your key “{names}” expires on {}. Upload a new one before then.",
                    when(expires)
                ))
            } else {
                None
            }
        });
        Self {
            names,
            fingerprint,
            algorithm: key.algorithm.clone(),
            expires: key.expires.map(when),
            warning,
        }
    }
}

/// Hex in groups of four, as gpg shows a fingerprint.
fn spaced(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|group| String::from_utf8_lossy(group).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::{KeyRow, KeySummary};
    use time::macros::datetime;

    fn expiring(expires: Option<time::OffsetDateTime>) -> KeySummary {
        KeySummary {
            fingerprint: "0123456789ABCDEF0123456789ABCDEF01234567".into(),
            user_ids: vec!["Alice <alice@example.org>".into()],
            subject: None,
            emails: vec!["alice@example.org".into()],
            algorithm: "Curve25519".into(),
            expires,
        }
    }

    #[test]
    fn a_key_is_warned_about_from_thirty_days_before_it_expires() {
        let now = datetime!(2026-11-07 08:05 UTC);
        let row = |expires| KeyRow::of(&expiring(expires), now).warning;
        assert_eq!(row(None), None);
        assert_eq!(row(Some(datetime!(2026-12-08 08:05 UTC))), None);
        assert_eq!(
            row(Some(datetime!(2026-12-07 08:05 UTC))).as_deref(),
            Some(
                "Your key “Alice <alice@example.org>” expires on 7 Dec 2026, 08:05 UTC. \
                 Upload a new one before then."
            )
        );
        assert_eq!(
            row(Some(datetime!(2026-11-01 10:00 UTC))).as_deref(),
            Some(
                "Your key “Alice <alice@example.org>” expired on 1 Nov 2026, 10:00 UTC. \
                 Upload a new one."
            )
        );
        let shown = KeyRow::of(&expiring(None), now);
        assert_eq!(
            shown.fingerprint,
            "0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567"
        );
        assert_eq!(shown.names, "Alice <alice@example.org>");
        let certificate = KeySummary {
            fingerprint: (0..32)
                .map(|byte| format!("{byte:02X}"))
                .collect::<Vec<_>>()
                .join(":"),
            user_ids: Vec::new(),
            subject: Some("CN=Alice Example, emailAddress=alice@example.org".into()),
            emails: vec!["alice@example.org".into(), "alice@work.example".into()],
            algorithm: "EC P-256".into(),
            expires: None,
        };
        let shown = KeyRow::of(&certificate, now);
        assert_eq!(
            shown.fingerprint,
            "00:01:02:03:04:05:06:07 08:09:0A:0B:0C:0D:0E:0F \
             10:11:12:13:14:15:16:17 18:19:1A:1B:1C:1D:1E:1F"
        );
        assert_eq!(
            shown.names,
            "CN=Alice Example, emailAddress=alice@example.org, alice@work.example"
        );
    }

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
