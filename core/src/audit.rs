//! The audit log: one JSON line per security event, in a stream of its own
//! (`audit.path`, standard output by default), apart from the service log.
//! Every line has the same keys: `time`, `service`, `event`, `result`,
//! `account` (the account's DN, when one is concerned), `client_address`
//! and `request_id` (from the request or job it belongs to), and any
//! further facts under `details`. Events are recorded with [`audit!`],
//! which names the event and its result from the enums below, so a line
//! cannot go out with a misspelt event or without a result.
//!
//! [`audit!`]: crate::audit!

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditEvent {
    /// A session began (password, and second factor where one is on).
    SignedIn,
    /// A sign-in was refused: unknown account, wrong password or code.
    SignInFailed,
    /// A sign-in with the password alone was refused: the account is locked.
    SignInRefusedLocked,
    /// The user ended their session.
    SignedOut,
    /// A session ended because it went unused too long.
    SessionIdleExpired,
    /// A session proved the password (and code) again for a change.
    SteppedUp,
    /// A password asked for again (step-up, password change) was wrong.
    PasswordConfirmationFailed,
    /// A second-factor code (or recovery code) was wrong or used already.
    SecondFactorFailed,
    /// Failures in a row reached `gateway.rate_limit.lockout_after`.
    AccountLocked,
    /// A lockout ended (a sign-in with a second factor, or an operator).
    LockoutLifted,
    /// A change, or the owner from the list of sessions, ended the
    /// account's other sessions.
    OtherSessionsEnded,
    /// The owner ended one of their other sessions from the list of sessions.
    SessionEndedByOwner,
    /// A change came without a valid CSRF token.
    CsrfTokenRefused,
    /// A change came from another site.
    CrossOriginRefused,
    /// A job was recorded and published.
    JobQueued,
    /// A worker refused a message: not an authentic job, or not the job its record says.
    JobRefused,
    /// A job failed for good, or gave up after its last attempt.
    JobFailed,
    /// The primary password changed.
    PasswordChanged,
    /// Two-factor authentication was turned on.
    TotpEnabled,
    /// Two-factor authentication was turned off.
    TotpDisabled,
    /// New recovery codes replaced the old ones.
    RecoveryCodesReplaced,
    /// A passkey was registered.
    PasskeyAdded,
    /// A passkey was removed.
    PasskeyRemoved,
    /// A passkey was renamed, or its sign-in without a password turned on or off.
    PasskeyChanged,
    /// An app password was created.
    AppPasswordCreated,
    /// App passwords were revoked by their owner.
    AppPasswordsRevoked,
    /// An app password reached its expiry and was removed.
    AppPasswordExpired,
    /// The sweep removed app passwords past their expiry.
    AppPasswordsExpired,
    /// An encryption pass finished: every message is encrypted or left alone for a reason.
    MailboxEncrypted,
    /// A mailbox was not touched: the account's uid cannot safely name one.
    MailboxNameRefused,
    /// Encryption at rest was turned off (nothing was decrypted).
    EncryptionDisabled,
    /// An operator sent a parked job back to its queue.
    ParkedMessageRequeued,
    /// An operator removed a parked job for good.
    ParkedMessageDiscarded,
}

impl AuditEvent {
    /// The event's name in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedIn => "signed_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SignInRefusedLocked => "sign_in_refused_locked",
            Self::SignedOut => "signed_out",
            Self::SessionIdleExpired => "session_idle_expired",
            Self::SteppedUp => "stepped_up",
            Self::PasswordConfirmationFailed => "password_confirmation_failed",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::AccountLocked => "account_locked",
            Self::LockoutLifted => "lockout_lifted",
            Self::OtherSessionsEnded => "other_sessions_ended",
            Self::SessionEndedByOwner => "session_ended_by_owner",
            Self::CsrfTokenRefused => "csrf_token_refused",
            Self::CrossOriginRefused => "cross_origin_refused",
            Self::JobQueued => "job_queued",
            Self::JobRefused => "job_refused",
            Self::JobFailed => "job_failed",
            Self::PasswordChanged => "password_changed",
            Self::TotpEnabled => "totp_enabled",
            Self::TotpDisabled => "totp_disabled",
            Self::RecoveryCodesReplaced => "recovery_codes_replaced",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::PasskeyChanged => "passkey_changed",
            Self::AppPasswordCreated => "app_password_created",
            Self::AppPasswordsRevoked => "app_passwords_revoked",
            Self::AppPasswordExpired => "app_password_expired",
            Self::AppPasswordsExpired => "app_passwords_expired",
            Self::MailboxEncrypted => "mailbox_encrypted",
            Self::MailboxNameRefused => "mailbox_name_refused",
            Self::EncryptionDisabled => "encryption_disabled",
            Self::ParkedMessageRequeued => "parked_message_requeued",
            Self::ParkedMessageDiscarded => "parked_message_discarded",
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditResult {
    /// Done as asked.
    Success,
    /// Tried and failed: a wrong secret, a job that could not be applied.
    Failure,
    /// Not tried: a rule or a check said no (a lockout, a forged job, a CSRF check).
    Refused,
}

impl AuditResult {
    /// The result's name in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Refused => "refused",
        }
    }
}

/// Records an audit event: `audit!(Event, Result, field = value, ...)`,
/// with the variants of [`AuditEvent`] and [`AuditResult`] and, after
/// them, `tracing` fields; or `audit!(event = e, result = r, ...)` with
/// values of those types chosen at run time. `account` (the account's DN) has a key of its
/// own in the line; every other field goes under `details`. The request
/// id and the client address come from the request's or the job's span.
#[macro_export]
macro_rules! audit {
    (event = $event:expr, result = $result:expr $(, $($field:tt)+)?) => {
        ::tracing::info!(
            target: "audit",
            event = $crate::audit::AuditEvent::as_str($event),
            result = $crate::audit::AuditResult::as_str($result)
            $(, $($field)+)?
        )
    };
    ($event:ident, $result:ident $(, $($field:tt)+)?) => {
        ::tracing::info!(
            target: "audit",
            event = $crate::audit::AuditEvent::$event.as_str(),
            result = $crate::audit::AuditResult::$result.as_str()
            $(, $($field)+)?
        )
    };
}
