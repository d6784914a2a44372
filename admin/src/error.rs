//! Why a command did not do what it was asked, and the exit code that says so.

use crate::cli::UsageError;
use latchkey_core::broker::PublishError;
use latchkey_core::config::ConfigError;
use latchkey_core::directory::DirectoryError;
use thiserror::Error;

/// A failed command; [`AdminError::exit_code`] is what the process exits with.
#[derive(Debug, Error)]
pub enum AdminError {
    /// The arguments do not make a command.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The job, message or account named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The directory cannot be reached.
    #[error("the directory at {url} is unreachable: {detail}")]
    DirectoryUnreachable {
        /// `ldap.url`.
        url: String,
        /// What the connection said.
        detail: String,
    },
    /// The broker cannot be reached, or did not confirm in time.
    #[error("the broker at {url} is unreachable: {detail}")]
    BrokerUnreachable {
        /// `broker.url` without a password.
        url: String,
        /// What the connection said.
        detail: String,
    },
    /// The directory refused (a wrong password, a missing permission).
    #[error("the directory refused: {0}")]
    DirectoryRefused(String),
    /// The broker refused (a wrong password, a missing permission or queue).
    #[error("the broker refused: {0}")]
    BrokerRefused(String),
    /// The settings do not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Some of the messages asked for stay parked; the text names them.
    #[error("{0}")]
    Partial(String),
}

/// Result of a command.
pub type Result<T, E = AdminError> = std::result::Result<T, E>;

impl AdminError {
    /// The process's exit code for this error (listed in the usage text).
    pub fn exit_code(&self) -> u8 {
        match self {
            AdminError::NotFound(_) => 1,
            AdminError::Usage(_) => 2,
            AdminError::DirectoryUnreachable { .. } => 3,
            AdminError::BrokerUnreachable { .. } => 4,
            AdminError::DirectoryRefused(_) | AdminError::BrokerRefused(_) => 5,
            AdminError::Config(_) => 6,
            AdminError::Partial(_) => 7,
        }
    }

    /// What a directory error means for the operator at `url`.
    pub fn from_directory(url: &str, error: DirectoryError) -> Self {
        match error {
            DirectoryError::Unavailable(detail) => AdminError::DirectoryUnreachable {
                url: url.to_owned(),
                detail,
            },
            other => AdminError::DirectoryRefused(format!(
                "{other} (does ldap.service_dn name the tool's own account, \
                 cn=latchkey-admin, with its password?)"
            )),
        }
    }

    /// What a broker error means for the operator at `url`.
    pub fn from_broker(url: &str, error: &lapin::Error) -> Self {
        match error.kind() {
            lapin::ErrorKind::ProtocolError(refusal) => {
                let refusal = refusal.to_string();
                let hint = if refusal.contains("ACCESS_REFUSED") {
                    " (does broker.url name the tool's own user, latchkey-admin, with its \
                     password, allowed on this broker.prefix?)"
                } else {
                    ""
                };
                AdminError::BrokerRefused(format!("{refusal}{hint}"))
            }
            _ => AdminError::BrokerUnreachable {
                url: url.to_owned(),
                detail: error.to_string(),
            },
        }
    }

    /// What a failed publish means for the operator at `url`.
    pub fn from_publish(url: &str, error: PublishError) -> Self {
        let detail = match error {
            PublishError::Refused(detail) => return AdminError::BrokerRefused(detail),
            PublishError::Unreachable(detail) => detail,
            PublishError::Timeout => "it did not confirm the publish in time".to_owned(),
        };
        AdminError::BrokerUnreachable {
            url: url.to_owned(),
            detail,
        }
    }
}
