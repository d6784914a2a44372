//! Every error the API answers with, mapped to HTTP in one place: a status
//! per variant, an `application/problem+json` body for the user, and the
//! cause in the log only.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::broker::PublishError;
use latchkey_core::directory::DirectoryError;
use latchkey_core::password::PolicyViolation;
use serde::Serialize;
use std::time::Duration;

/// An error answer of the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON.
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// A required field is absent.
    #[error("the field `{0}` is required")]
    MissingField(String),
    /// A field has the wrong type or an unacceptable value.
    #[error("{detail}")]
    InvalidField {
        /// The field at fault.
        field: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The body is not `application/json`.
    #[error("send the request body as application/json")]
    UnsupportedMediaType,
    /// The body is larger than allowed.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Wrong username or password (the same answer for an unknown user).
    #[error("the username or password is incorrect")]
    InvalidCredentials,
    /// No valid session cookie.
    #[error("sign in first")]
    NotSignedIn,
    /// The session ended after the idle time without a request.
    #[error("you were signed out after {0} minutes without activity; sign in again")]
    SessionExpired(u64),
    /// The password given to confirm a change is wrong.
    #[error("the password is incorrect")]
    WrongPassword {
        /// The field that held it.
        field: &'static str,
    },
    /// A state-changing request came from another site.
    #[error("requests from other sites are refused")]
    CrossOrigin,
    /// A state-changing request with a session but without its CSRF token.
    #[error("this request lacks the session's CSRF token; reload the page and try again")]
    CsrfToken,
    /// Nothing here, or nothing of yours.
    #[error("not found")]
    NotFound,
    /// A new password broke a rule.
    #[error(transparent)]
    Policy(#[from] PolicyViolation),
    /// The new password is the current one.
    #[error("the new password is the same as the current one")]
    PasswordUnchanged,
    /// An enrolment token that is not one of ours, or not this account's.
    #[error("the enrolment token is not valid; start the enrolment again")]
    InvalidEnrolmentToken,
    /// An enrolment token past its time.
    #[error("the enrolment has expired; start it again and confirm within the time shown")]
    EnrolmentExpired,
    /// A sign-in challenge that is not valid any more.
    #[error("the sign-in step has expired or was used; sign in with your password again")]
    InvalidChallenge,
    /// A code or recovery code of the wrong shape.
    #[error("{detail}")]
    MalformedCode {
        /// `code` or `recovery_code`.
        field: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A code or recovery code that does not match.
    #[error("the code is not correct")]
    WrongCode {
        /// `code` or `recovery_code`.
        field: &'static str,
    },
    /// A code whose time step was used already, or a recovery code used already.
    #[error("this code was used already; wait for the next one")]
    CodeAlreadyUsed {
        /// `code` or `recovery_code`.
        field: &'static str,
    },
    /// Neither a code nor a recovery code was given.
    #[error("give a `code` from your authenticator app or a `recovery_code`")]
    SecondFactorMissing,
    /// The deployment's `public_url` cannot be a WebAuthn relying party.
    #[error("passkeys are not available here: the portal must be served at a host name over https")]
    PasskeysUnavailable,
    /// The account has no passkey to authenticate with.
    #[error("you have no passkeys")]
    NoPasskeys,
    /// A passkey ceremony token that is not ours, or not for this account.
    #[error("the passkey request is not valid; start again")]
    InvalidPasskeyToken,
    /// A passkey ceremony token past its time.
    #[error(
        "the passkey request has expired; start again and finish within {} minutes",
        crate::second_factor::passkeys::CEREMONY_MINUTES
    )]
    PasskeyCeremonyExpired,
    /// A registration response that does not verify against its ceremony.
    #[error("the passkey's answer does not verify: {0}")]
    PasskeyNotVerified(String),
    /// A passkey answer that does not verify, or a passkey that may not be used so.
    #[error("this passkey was not accepted")]
    PasskeyRefused,
    /// The passkey was used with this ceremony already, or by another request first.
    #[error("this passkey answer was used already; try again")]
    PasskeyAlreadyUsed,
    /// The same authenticator is registered already.
    #[error("this passkey is registered already")]
    PasskeyAlreadyRegistered,
    /// The passkey was used or changed by another request while this one ran.
    #[error("the passkey changed meanwhile; reload the page and try again")]
    PasskeyChangedMeanwhile,
    /// The account has as many passkeys as allowed.
    #[error("you have {0} passkeys, the most allowed; remove one first")]
    TooManyPasskeys(usize),
    /// Two-factor authentication is on already.
    #[error("two-factor authentication is already on")]
    TwoFactorAlreadyOn,
    /// Two-factor authentication is off.
    #[error("two-factor authentication is off")]
    TwoFactorOff,
    /// An account not yet managed by Latchkey must change its password first.
    #[error("change your password once before turning on two-factor authentication")]
    PasswordChangeRequired,
    /// An app password of this name exists.
    #[error("you already have an app password with this name")]
    NameTaken,
    /// The account has as many app passwords as allowed.
    #[error("you have {0} app passwords, the most allowed; revoke one first")]
    TooManyAppPasswords(usize),
    /// Sensitive changes need the password when the session has not
    /// proved it recently.
    #[error("enter your password again to confirm this change")]
    PasswordRequired,
    /// Too many failures in a row: the password alone no longer signs in.
    #[error(
        "this account is locked after too many failed sign-ins in a row; ask your administrator to unlock it"
    )]
    AccountLocked,
    /// The same, for an account with a second factor: the password and a
    /// code, recovery code or passkey.
    #[error(
        "enter your password again, with a code from your authenticator app or a passkey, to confirm this change"
    )]
    PasswordAndCodeRequired,
    /// There is nothing to revoke.
    #[error("you have no app passwords")]
    NothingToRevoke,
    /// An uploaded key cannot be used; the detail says which and why.
    #[error(transparent)]
    UnusableKey(#[from] latchkey_core::encryption::KeyError),
    /// Encryption at rest is off.
    #[error("encryption at rest is off")]
    EncryptionOff,
    /// Too many failures; try again after the delay.
    #[error("too many failed attempts; try again in {} seconds", .0.as_secs().max(1))]
    RateLimited(Duration),
    /// Too many password checks are waiting already; nothing was checked.
    #[error("the service is busy checking passwords; try again in {} seconds", .0.as_secs().max(1))]
    Busy(Duration),
    /// The job could not be queued durably.
    #[error(
        "the request could not be queued right now; nothing was changed, please try again in a minute"
    )]
    BrokerUnavailable(#[source] PublishError),
    /// Something that should not happen did; the log has the details.
    #[error("something went wrong on our side; nothing was changed")]
    Internal(String),
    /// The directory could not be reached.
    #[error(
        "the account directory is unavailable right now; nothing was changed, please try again in a minute"
    )]
    DirectoryUnavailable(#[source] DirectoryError),
}

impl From<DirectoryError> for ApiError {
    fn from(error: DirectoryError) -> Self {
        ApiError::DirectoryUnavailable(error)
    }
}

impl From<PublishError> for ApiError {
    fn from(error: PublishError) -> Self {
        ApiError::BrokerUnavailable(error)
    }
}

/// Result of a route.
pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'static str>,
}

impl ApiError {
    /// The HTTP status of this answer.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::MissingField(_)
            | ApiError::InvalidField { .. }
            | ApiError::Policy(_)
            | ApiError::PasswordUnchanged
            | ApiError::InvalidEnrolmentToken
            | ApiError::EnrolmentExpired
            | ApiError::MalformedCode { .. }
            | ApiError::SecondFactorMissing
            | ApiError::InvalidPasskeyToken
            | ApiError::PasskeyCeremonyExpired
            | ApiError::PasskeyNotVerified(_)
            | ApiError::UnusableKey(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PasskeyRefused | ApiError::PasskeyAlreadyUsed => StatusCode::FORBIDDEN,
            ApiError::PasskeysUnavailable
            | ApiError::NoPasskeys
            | ApiError::PasskeyAlreadyRegistered
            | ApiError::PasskeyChangedMeanwhile
            | ApiError::TooManyPasskeys(_) => StatusCode::CONFLICT,
            ApiError::InvalidChallenge => StatusCode::UNAUTHORIZED,
            ApiError::WrongCode { .. } | ApiError::CodeAlreadyUsed { .. } => StatusCode::FORBIDDEN,
            ApiError::TwoFactorAlreadyOn
            | ApiError::TwoFactorOff
            | ApiError::PasswordChangeRequired
            | ApiError::NameTaken
            | ApiError::TooManyAppPasswords(_)
            | ApiError::NothingToRevoke
            | ApiError::EncryptionOff => StatusCode::CONFLICT,
            ApiError::PasswordRequired
            | ApiError::PasswordAndCodeRequired
            | ApiError::AccountLocked => StatusCode::FORBIDDEN,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InvalidCredentials | ApiError::NotSignedIn | ApiError::SessionExpired(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::WrongPassword { .. } | ApiError::CrossOrigin | ApiError::CsrfToken => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy(_)
            | ApiError::BrokerUnavailable(_)
            | ApiError::DirectoryUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable problem type slug, documented in the OpenAPI description.
    fn slug(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed-json",
            ApiError::MissingField(_) => "missing-field",
            ApiError::InvalidField { .. } => "invalid-field",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::InvalidCredentials => "invalid-credentials",
            ApiError::NotSignedIn => "not-signed-in",
            ApiError::SessionExpired(_) => "session-expired",
            ApiError::WrongPassword { .. } => "wrong-password",
            ApiError::CrossOrigin => "cross-origin",
            ApiError::CsrfToken => "csrf-token",
            ApiError::NotFound => "not-found",
            ApiError::Policy(_) | ApiError::PasswordUnchanged => "password-policy",
            ApiError::InvalidEnrolmentToken => "invalid-enrolment-token",
            ApiError::EnrolmentExpired => "enrolment-expired",
            ApiError::InvalidChallenge => "invalid-challenge",
            ApiError::MalformedCode { .. } => "malformed-code",
            ApiError::WrongCode { .. } => "wrong-code",
            ApiError::CodeAlreadyUsed { .. } => "code-already-used",
            ApiError::SecondFactorMissing => "second-factor-missing",
            ApiError::PasskeysUnavailable => "passkeys-unavailable",
            ApiError::NoPasskeys => "no-passkeys",
            ApiError::InvalidPasskeyToken => "invalid-passkey-token",
            ApiError::PasskeyCeremonyExpired => "passkey-ceremony-expired",
            ApiError::PasskeyNotVerified(_) => "passkey-not-verified",
            ApiError::PasskeyRefused => "passkey-refused",
            ApiError::PasskeyAlreadyUsed => "passkey-already-used",
            ApiError::PasskeyAlreadyRegistered => "passkey-already-registered",
            ApiError::TooManyPasskeys(_) => "too-many-passkeys",
            ApiError::PasskeyChangedMeanwhile => "passkey-changed-meanwhile",
            ApiError::TwoFactorAlreadyOn => "two-factor-already-on",
            ApiError::TwoFactorOff => "two-factor-off",
            ApiError::PasswordChangeRequired => "password-change-required",
            ApiError::NameTaken => "name-taken",
            ApiError::TooManyAppPasswords(_) => "too-many-app-passwords",
            ApiError::PasswordRequired => "password-required",
            ApiError::PasswordAndCodeRequired => "password-and-code-required",
            ApiError::AccountLocked => "account-locked",
            ApiError::NothingToRevoke => "nothing-to-revoke",
            ApiError::UnusableKey(_) => "unusable-key",
            ApiError::EncryptionOff => "encryption-off",
            ApiError::RateLimited(_) => "rate-limited",
            ApiError::Busy(_) => "busy",
            ApiError::BrokerUnavailable(_) => "broker-unavailable",
            ApiError::DirectoryUnavailable(_) => "directory-unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            ApiError::MissingField(field) | ApiError::InvalidField { field, .. } => Some(field),
            ApiError::Policy(_) | ApiError::PasswordUnchanged => Some("new"),
            ApiError::WrongPassword { field } => Some(field),
            ApiError::InvalidEnrolmentToken | ApiError::EnrolmentExpired => Some("token"),
            ApiError::InvalidChallenge => Some("challenge"),
            ApiError::InvalidPasskeyToken | ApiError::PasskeyCeremonyExpired => Some("token"),
            ApiError::PasskeyNotVerified(_) => Some("credential"),
            ApiError::PasskeyRefused | ApiError::PasskeyAlreadyUsed => Some("passkey"),
            ApiError::MalformedCode { field, .. }
            | ApiError::WrongCode { field }
            | ApiError::CodeAlreadyUsed { field } => Some(field),
            ApiError::SecondFactorMissing => Some("code"),
            ApiError::NameTaken => Some("name"),
            ApiError::UnusableKey(_) => Some("keys"),
            ApiError::PasswordRequired | ApiError::PasswordAndCodeRequired => Some("password"),
            _ => None,
        }
    }

    /// The detail shown to the user: never an internal message.
    fn detail(&self) -> String {
        match self {
            // serde's message names positions and types, not secrets.
            ApiError::MalformedJson(_) => "the request body is not valid JSON".into(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            let chain = match &self {
                ApiError::Internal(cause) => cause.clone(),
                other => error_chain(other),
            };
            tracing::error!(error = %chain, "request failed");
        }
        let rule = match &self {
            ApiError::Policy(violation) => Some(violation.rule()),
            ApiError::PasswordUnchanged => Some("unchanged"),
            _ => None,
        };
        let body = Problem {
            kind: format!("/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.detail(),
            field: self.field(),
            rule,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        let retry_after = match &self {
            ApiError::RateLimited(delay) | ApiError::Busy(delay) => Some(delay.as_secs().max(1)),
            ApiError::BrokerUnavailable(_) | ApiError::DirectoryUnavailable(_) => Some(30),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
