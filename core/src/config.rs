//! Configuration: built-in defaults, then a TOML file, then `LATCHKEY__SECTION__KEY`
//! environment variables. Every secret can come from a file (`<key>_file`),
//! for systemd credentials and Kubernetes secrets.

use crate::domain::MailboxName;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why the configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file or environment could not be read or has a value of the wrong type.
    #[error("configuration: {0}")]
    Source(#[from] config::ConfigError),
    /// A secret is neither given inline nor as a file.
    #[error("the secret `{key}` is missing: set `{key}_file` to a file holding it ({how})")]
    MissingSecret {
        /// The dotted key of the secret.
        key: &'static str,
        /// How to make one.
        how: &'static str,
    },
    /// A setting without a default is not given.
    #[error("`{key}` is not set: {what}")]
    Missing {
        /// The dotted key.
        key: &'static str,
        /// What it is and where to find the value.
        what: &'static str,
    },
    /// A value is out of its range.
    #[error("`{key}` {rule}")]
    OutOfRange {
        /// The dotted key.
        key: &'static str,
        /// What the value must be.
        rule: &'static str,
    },
    /// A secret file could not be read.
    #[error("could not read the secret file {path} for `{key}`: {source}")]
    SecretFile {
        /// The dotted key of the secret.
        key: &'static str,
        /// The file named in the configuration.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// The whole configuration of a gateway or worker.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The directory.
    pub ldap: LdapSettings,
    /// The message broker.
    pub broker: BrokerSettings,
    /// Keys shared by gateway and workers.
    pub secrets: SecretSettings,
    /// The HTTP gateway.
    pub gateway: GatewaySettings,
    /// Rules for new passwords.
    pub password_policy: PasswordPolicySettings,
    /// Cost of password hashing.
    pub argon2: Argon2Settings,
    /// The job workers.
    pub worker: WorkerSettings,
    /// Job records.
    pub jobs: JobSettings,
    /// Two-factor authentication.
    pub totp: TotpSettings,
    /// Application passwords.
    pub app_passwords: AppPasswordSettings,
    /// Mailboxes and their encryption at rest.
    pub mailbox: MailboxSettings,
    /// The audit log.
    pub audit: AuditSettings,
}

/// The audit log (see [`crate::audit`]).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditSettings {
    /// The file this process appends its audit lines to; standard output
    /// when unset. One file per process: lines are whole, but two
    /// processes' lines may interleave in time order.
    pub path: Option<PathBuf>,
}

/// Mailboxes and their encryption at rest.
#[derive(Debug, Clone, Deserialize)]
pub struct MailboxSettings {
    /// Where an account's Maildir is; `%u` is replaced by the username.
    pub maildir_template: String,
    /// Public keys an account may upload.
    pub max_keys: usize,
    /// How long a mailbox pass holds its lease without renewing it; a pass
    /// whose worker died is taken over after this.
    pub lease_seconds: u64,
    /// Messages encrypted at once by one worker (0: one per core).
    pub threads: usize,
    /// A pass over more messages than this is split into parts that
    /// several workers take at once (0: never split).
    pub split_above: usize,
    /// Messages per part of a split pass, at most (each folder is split
    /// on its own, so a part never spans two folders).
    pub part_messages: usize,
}

impl MailboxSettings {
    /// The Maildir of the user `name` names; only a [`MailboxName`] fills
    /// the template, so the path stays the one it names for them.
    pub fn maildir_of(&self, name: &MailboxName) -> std::path::PathBuf {
        self.maildir_template.replace("%u", name.as_str()).into()
    }
}

/// Application passwords for mail clients.
#[derive(Debug, Clone, Deserialize)]
pub struct AppPasswordSettings {
    /// App passwords an account may have.
    pub max_per_account: usize,
    /// Scope of a new app password when the request names none (`mail`, `all`, or services).
    pub default_scopes: Vec<String>,
    /// Revoke every app password when the primary password changes (as Google does).
    pub revoke_on_password_change: bool,
    /// How often a worker removes expired app passwords.
    pub sweep_interval_seconds: u64,
}

/// Where the directory is and how Latchkey binds to it.
#[derive(Debug, Clone)]
pub struct LdapSettings {
    /// `ldap://` or `ldaps://` URL of the directory.
    pub url: String,
    /// The suffix under which `ou=people`, `ou=jobs` and `ou=sessions` live.
    pub base_dn: String,
    /// The account this process binds as: each process has its own
    /// (gateway, workers, delivery filter), allowed only what it writes.
    pub service_dn: String,
    /// That account's password.
    pub service_password: SecretString,
    /// Connections kept open per process.
    pub pool_size: usize,
    /// Time allowed for connecting and for each operation.
    pub timeout_ms: u64,
}

/// Where the broker is and how the queues are named.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    /// AMQP URL of RabbitMQ, naming this process's own broker user.
    pub url: String,
    /// The broker user's password, if not in `url`; it replaces the URL's.
    pub password: Option<SecretString>,
    /// Prefix of every exchange and queue name (tests use a unique one).
    pub prefix: String,
    /// Delay before each retry of a job that failed for a transient reason;
    /// after the last one the job is parked in `<prefix>.failed`.
    pub retry_delays_ms: Vec<u64>,
    /// Optional idle expiry of the queues (`x-expires`), for throwaway test queues.
    pub queue_expires_ms: Option<u64>,
    /// How long a broker may take to confirm a publish.
    pub confirm_timeout_ms: u64,
}

/// Keys shared by the gateway and the workers.
#[derive(Debug, Clone)]
pub struct SecretSettings {
    /// `<id>:<base64>` key that seals secrets inside job messages.
    pub sealing_key: SecretString,
    /// Older sealing keys, still accepted for opening.
    pub previous_sealing_keys: Vec<SecretString>,
    /// `<id>:<base64>` key that seals secrets stored in the directory.
    pub directory_key: SecretString,
    /// Base64 key (at least 64 bytes) that signs session cookies: the
    /// gateway's alone, so the workers run without it (the gateway refuses
    /// to start without one).
    pub session_key: Option<SecretString>,
}

/// The HTTP gateway.
#[derive(Debug, Clone, Deserialize)]
pub struct GatewaySettings {
    /// Address the public listener (portal and API) binds to.
    pub listen: String,
    /// Address of the operators' listener (`/healthz`, `/readyz`,
    /// `/metrics`), which the public listener does not serve: keep it off
    /// the Internet.
    pub ops_listen: std::net::SocketAddr,
    /// URL users open; its scheme decides whether cookies are `Secure`, and
    /// its origin is the only one accepted for state-changing requests.
    pub public_url: String,
    /// Lifetime of a session.
    pub session_ttl_minutes: u64,
    /// A session unused for this long ends.
    pub session_idle_minutes: u64,
    /// Password verifications running at once (each takes a core for ~25 ms).
    pub max_concurrent_hashes: usize,
    /// Verifications waiting for a free slot, at most; past that a request
    /// is answered 503 at once instead of queueing without bound.
    pub max_waiting_hashes: usize,
    /// How long a verification waits for a slot before the answer is 503.
    pub hash_wait_ms: u64,
    /// Reverse proxies (CIDRs, e.g. `10.0.0.0/8`, `::1/128`) whose
    /// `X-Forwarded-For` / `Forwarded` headers name the client; from any
    /// other peer those headers are ignored.
    pub trusted_proxies: Vec<String>,
    /// Limits on failed sign-ins.
    pub rate_limit: RateLimitSettings,
    /// Minutes after the session last proved its password (and second
    /// factor) during which a change a thief would want needs no proof again.
    pub reauthentication_minutes: u64,
}

/// Limits on failed attempts to present a secret.
#[derive(Debug, Clone, Deserialize)]
pub struct RateLimitSettings {
    /// Failures allowed per account within the window.
    pub account_failures: u32,
    /// Failures allowed per client address within the window.
    pub address_failures: u32,
    /// Past `address_failures`, further attempts from the address go ahead
    /// one at a time, this far apart; 0 refuses them until the window ends.
    pub address_delay_ms: u64,
    /// The longest an attempt waits for its turn before it is refused.
    pub address_max_delay_ms: u64,
    /// After this many failed passwords and codes in a row on an account,
    /// its password alone no longer signs in, until a sign-in with the
    /// second factor or an operator lifts it (NIST SP 800-63B); 0: never.
    pub lockout_after: u32,
    /// Length of the window.
    pub window_seconds: u64,
}

/// Rules for new passwords.
#[derive(Debug, Clone, Deserialize)]
pub struct PasswordPolicySettings {
    /// Fewest characters (Unicode scalar values).
    pub min_length: usize,
    /// Most characters.
    pub max_length: usize,
    /// Least zxcvbn score (0 to 4).
    pub min_score: u8,
    /// Extra file of refused passwords, one a line, added to the shipped list.
    pub common_passwords_file: Option<PathBuf>,
}

/// Argon2id cost parameters (OWASP's recommendation by default).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Argon2Settings {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// The job workers.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    /// Which queues this worker consumes: `credentials`, `mailbox`, or both.
    pub queues: Vec<String>,
    /// Unacknowledged jobs a worker holds at once.
    pub prefetch: u16,
    /// Address of the health and metrics endpoint.
    pub listen: String,
}

/// Job records.
#[derive(Debug, Clone, Deserialize)]
pub struct JobSettings {
    /// How long a job record stays in the directory (the `dds` TTL).
    pub ttl_seconds: u32,
}

/// Two-factor authentication with TOTP.
#[derive(Debug, Clone, Deserialize)]
pub struct TotpSettings {
    /// The issuer authenticator apps show next to the account.
    pub issuer: String,
    /// HMAC of new enrolments: `SHA1` (every app), `SHA256` or `SHA512`.
    pub algorithm: crate::second_factor::totp::TotpAlgorithm,
    /// Digits of new enrolments: 6 or 8.
    pub digits: u8,
    /// Seconds per code.
    pub period_seconds: u64,
    /// While 2FA is on, mail clients must use app passwords: the primary
    /// password leaves `userPassword`.
    pub mail_requires_app_password: bool,
    /// How long an enrolment may take from QR code to confirmation.
    pub enrolment_minutes: u64,
    /// How long the second step of a sign-in may take.
    pub challenge_minutes: u64,
    /// Recovery codes made at a time.
    pub recovery_codes: usize,
}

/// The file-or-inline form of the sections that hold secrets.
#[derive(Deserialize)]
struct RawLdap {
    url: String,
    base_dn: String,
    service_dn: Option<String>,
    service_password: Option<SecretString>,
    service_password_file: Option<PathBuf>,
    pool_size: usize,
    timeout_ms: u64,
}

#[derive(Deserialize)]
struct RawBroker {
    url: String,
    password: Option<SecretString>,
    password_file: Option<PathBuf>,
    prefix: String,
    retry_delays_ms: Vec<u64>,
    queue_expires_ms: Option<u64>,
    confirm_timeout_ms: u64,
}

#[derive(Deserialize)]
struct RawSecrets {
    sealing_key: Option<SecretString>,
    sealing_key_file: Option<PathBuf>,
    #[serde(default)]
    previous_sealing_keys: Vec<SecretString>,
    directory_key: Option<SecretString>,
    directory_key_file: Option<PathBuf>,
    session_key: Option<SecretString>,
    session_key_file: Option<PathBuf>,
}

#[derive(Deserialize)]
struct RawSettings {
    ldap: RawLdap,
    broker: RawBroker,
    secrets: RawSecrets,
    gateway: GatewaySettings,
    password_policy: PasswordPolicySettings,
    argon2: Argon2Settings,
    worker: WorkerSettings,
    jobs: JobSettings,
    totp: TotpSettings,
    app_passwords: AppPasswordSettings,
    mailbox: MailboxSettings,
    #[serde(default)]
    audit: AuditSettings,
}

const DEFAULTS: &str = include_str!("config/defaults.toml");
const KEY_HOW: &str = "make one with: printf 'k1:%s\\n' \"$(openssl rand -base64 32)\"";

impl Settings {
    /// Loads the defaults, then `file` if given, then the environment
    /// (`env`, or the process environment when `None`).
    pub fn load(
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        let raw: RawSettings = serde_ignored::deserialize(layered(file, env)?, |path| {
            tracing::warn!(key = %path, "unknown configuration key ignored");
        })?;
        raw.resolve()
    }

    /// The keys that `file` and `env` set and no setting reads (those
    /// [`Settings::load`] warns about), as dotted paths such as
    /// `gateway.ops_port`; for checking configuration that ships with
    /// Latchkey (`deploy/`). Values are checked for their type, but secret
    /// files are not read and nothing else is resolved.
    pub fn unknown_keys(
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
    ) -> Result<Vec<String>, ConfigError> {
        let mut unknown = Vec::new();
        let _: RawSettings = serde_ignored::deserialize(layered(file, env)?, |path| {
            unknown.push(path.to_string());
        })?;
        Ok(unknown)
    }
}

/// What a process that only reads accounts needs (the delivery filter):
/// the directory, and none of the keys or the broker.
#[derive(Debug, Clone)]
pub struct DirectorySettings {
    /// The directory, and the account this process binds as.
    pub ldap: LdapSettings,
    /// Job records (their TTL; a reader never writes one).
    pub jobs: JobSettings,
}

#[derive(Deserialize)]
struct RawDirectorySettings {
    ldap: RawLdap,
    jobs: JobSettings,
}

impl DirectorySettings {
    /// Loads the `[ldap]` and `[jobs]` sections as [`Settings::load`] does;
    /// the other sections of a shared file are not read, so their secrets
    /// need not be readable here.
    pub fn load(
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        let raw: RawDirectorySettings = layered(file, env)?.try_deserialize()?;
        Ok(Self {
            ldap: raw.ldap.resolve()?,
            jobs: raw.jobs,
        })
    }
}

/// What the operators' tool `latchkey-admin` needs: the directory (to read
/// job records), the broker (to look into `<prefix>.failed`) and the job
/// settings. None of the keys: it never opens an envelope, so a parked
/// job's sealed secrets stay sealed on an operator's machine too.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// The directory, and the account the tool binds as.
    pub ldap: LdapSettings,
    /// The broker, and the tool's own broker user.
    pub broker: BrokerSettings,
    /// Job records.
    pub jobs: JobSettings,
}

#[derive(Deserialize)]
struct RawAdminSettings {
    ldap: RawLdap,
    broker: RawBroker,
    jobs: JobSettings,
}

impl AdminSettings {
    /// Loads the `[ldap]`, `[broker]` and `[jobs]` sections as
    /// [`Settings::load`] does, from the same file and environment; the
    /// other sections are not read, so their secrets need not be readable.
    pub fn load(
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        let raw: RawAdminSettings = layered(file, env)?.try_deserialize()?;
        Ok(Self {
            ldap: raw.ldap.resolve()?,
            broker: raw.broker.resolve()?,
            jobs: raw.jobs,
        })
    }
}

/// The built-in defaults, then `file`, then the environment, merged.
fn layered(
    file: Option<&Path>,
    env: Option<HashMap<String, String>>,
) -> Result<config::Config, ConfigError> {
    let mut builder = config::Config::builder()
        .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
    if let Some(file) = file {
        builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml));
    }
    let environment = config::Environment::with_prefix("LATCHKEY")
        .prefix_separator("__")
        .separator("__")
        .list_separator(",")
        .with_list_parse_key("broker.retry_delays_ms")
        .with_list_parse_key("worker.queues")
        .with_list_parse_key("app_passwords.default_scopes")
        .with_list_parse_key("secrets.previous_sealing_keys")
        .with_list_parse_key("gateway.trusted_proxies")
        .try_parsing(true)
        .source(env);
    Ok(builder.add_source(environment).build()?)
}

/// How to make `secrets.session_key`, said where it is missing.
pub const SESSION_KEY_HOW: &str = "make one with: openssl rand -base64 64";

const SERVICE_DN_WHAT: &str = "the DN this process binds as; each process has its own: \
    cn=latchkey-gateway,ou=services,<suffix> for the gateway, cn=latchkey-worker,... for \
    workers, cn=latchkey-delivery,... for latchkey-encrypt, cn=latchkey-admin,... for \
    latchkey-admin (ldif/README.md)";

impl RawLdap {
    fn resolve(self) -> Result<LdapSettings, ConfigError> {
        Ok(LdapSettings {
            service_dn: self.service_dn.ok_or(ConfigError::Missing {
                key: "ldap.service_dn",
                what: SERVICE_DN_WHAT,
            })?,
            service_password: secret(
                "ldap.service_password",
                self.service_password,
                self.service_password_file,
                "the password of this process's own account (ldap.service_dn); \
                 deploy/local/slapd-instance writes them to <dir>/<account>-password",
            )?,
            url: self.url,
            base_dn: self.base_dn,
            pool_size: self.pool_size,
            timeout_ms: self.timeout_ms,
        })
    }
}

impl RawBroker {
    fn resolve(self) -> Result<BrokerSettings, ConfigError> {
        // Optional: without it, the URL's own password (or RabbitMQ's default) is used.
        let password = match (self.password, self.password_file) {
            (Some(inline), _) => Some(inline),
            (None, Some(file)) => Some(secret_file("broker.password", file)?),
            (None, None) => None,
        };
        let settings = BrokerSettings {
            url: self.url,
            password,
            prefix: self.prefix,
            retry_delays_ms: self.retry_delays_ms,
            queue_expires_ms: self.queue_expires_ms,
            confirm_timeout_ms: self.confirm_timeout_ms,
        };
        if let Some(password) = &settings.password {
            with_password(&settings.url, password.expose_secret()).map_err(|rule| {
                ConfigError::OutOfRange {
                    key: "broker.url",
                    rule,
                }
            })?;
        }
        Ok(settings)
    }
}

impl BrokerSettings {
    /// The URL to connect with: `url`, with `password` in it when one is set.
    pub fn connection_url(&self) -> SecretString {
        let url = match &self.password {
            Some(password) => with_password(&self.url, password.expose_secret())
                .unwrap_or_else(|_| self.url.clone()),
            None => self.url.clone(),
        };
        SecretString::from(url)
    }
}

impl BrokerSettings {
    /// `url` without any password in it, for messages.
    pub fn redacted_url(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut parsed) => {
                let _ = parsed.set_password(None);
                parsed.into()
            }
            Err(_) => "(broker.url does not parse)".to_owned(),
        }
    }
}

/// `url` with its password replaced (percent-encoded as URLs need).
fn with_password(url: &str, password: &str) -> Result<String, &'static str> {
    const RULE: &str =
        "names the broker user (amqp://<user>@host:port/vhost) when broker.password is set";
    let mut parsed = url::Url::parse(url).map_err(|_| RULE)?;
    if parsed.username().is_empty() {
        return Err(RULE);
    }
    parsed.set_password(Some(password)).map_err(|()| RULE)?;
    Ok(parsed.into())
}

impl RawSettings {
    fn resolve(mut self) -> Result<Settings, ConfigError> {
        if !matches!(self.totp.digits, 6 | 8) {
            return Err(ConfigError::OutOfRange {
                key: "totp.digits",
                rule: "is 6 or 8",
            });
        }
        if let Err(error) = crate::app_password::Scope::parse(&self.app_passwords.default_scopes) {
            tracing::error!(%error, "app_passwords.default_scopes");
            return Err(ConfigError::OutOfRange {
                key: "app_passwords.default_scopes",
                rule: "names scopes: all, mail, imap, pop3, submission, smtp, sieve",
            });
        }
        if self.mailbox.part_messages == 0 {
            return Err(ConfigError::OutOfRange {
                key: "mailbox.part_messages",
                rule: "is at least 1",
            });
        }
        if self.mailbox.threads == 0 {
            self.mailbox.threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        }
        if self.totp.period_seconds == 0 {
            return Err(ConfigError::OutOfRange {
                key: "totp.period_seconds",
                rule: "is at least 1",
            });
        }
        let secrets = self.secrets;
        Ok(Settings {
            ldap: self.ldap.resolve()?,
            broker: self.broker.resolve()?,
            secrets: SecretSettings {
                sealing_key: secret(
                    "secrets.sealing_key",
                    secrets.sealing_key,
                    secrets.sealing_key_file,
                    KEY_HOW,
                )?,
                previous_sealing_keys: secrets.previous_sealing_keys,
                directory_key: secret(
                    "secrets.directory_key",
                    secrets.directory_key,
                    secrets.directory_key_file,
                    KEY_HOW,
                )?,
                session_key: match (secrets.session_key, secrets.session_key_file) {
                    (None, None) => None,
                    (value, file) => {
                        Some(secret("secrets.session_key", value, file, SESSION_KEY_HOW)?)
                    }
                },
            },
            gateway: self.gateway,
            password_policy: self.password_policy,
            argon2: self.argon2,
            worker: self.worker,
            jobs: self.jobs,
            totp: self.totp,
            app_passwords: self.app_passwords,
            mailbox: self.mailbox,
            audit: self.audit,
        })
    }
}

/// A secret given inline wins over one given as a file.
fn secret(
    key: &'static str,
    inline: Option<SecretString>,
    file: Option<PathBuf>,
    how: &'static str,
) -> Result<SecretString, ConfigError> {
    if let Some(value) = inline {
        return Ok(value);
    }
    secret_file(key, file.ok_or(ConfigError::MissingSecret { key, how })?)
}

/// The secret in the file at `path`, without a trailing newline.
fn secret_file(key: &'static str, path: PathBuf) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
        key,
        path: path.clone(),
        source,
    })?;
    Ok(SecretString::from(
        text.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn complete_env() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "LATCHKEY__LDAP__SERVICE_DN",
                "cn=latchkey-worker,ou=services,dc=example,dc=org",
            ),
            ("LATCHKEY__LDAP__SERVICE_PASSWORD", "pw"),
            ("LATCHKEY__SECRETS__SEALING_KEY", "k1:AAAA"),
            ("LATCHKEY__SECRETS__DIRECTORY_KEY", "d1:AAAA"),
            ("LATCHKEY__SECRETS__SESSION_KEY", "c2Vzc2lvbg=="),
        ]
    }

    #[test]
    fn environment_overrides_defaults_and_lists_parse() {
        let mut pairs = complete_env();
        pairs.push(("LATCHKEY__BROKER__RETRY_DELAYS_MS", "10,20,30"));
        pairs.push(("LATCHKEY__GATEWAY__RATE_LIMIT__ACCOUNT_FAILURES", "9"));
        pairs.push(("LATCHKEY__GATEWAY__OPS_LISTEN", "127.0.0.1:0"));
        let settings = Settings::load(None, Some(env(&pairs))).unwrap();
        assert_eq!(settings.broker.retry_delays_ms, vec![10, 20, 30]);
        assert_eq!(settings.gateway.rate_limit.account_failures, 9);
        assert_eq!(settings.gateway.ops_listen.to_string(), "127.0.0.1:0");
        assert_eq!(settings.argon2.memory_kib, 19456);
        assert_eq!(settings.ldap.service_password.expose_secret(), "pw");
    }

    #[test]
    fn a_missing_secret_says_how_to_make_one() {
        let pairs: Vec<_> = complete_env()
            .into_iter()
            .filter(|(k, _)| !k.ends_with("SEALING_KEY"))
            .collect();
        let error = Settings::load(None, Some(env(&pairs)))
            .unwrap_err()
            .to_string();
        assert!(error.contains("secrets.sealing_key_file"), "{error}");
        assert!(error.contains("openssl rand"), "{error}");
    }

    #[test]
    fn the_session_key_may_be_left_out_where_no_session_is_signed() {
        let pairs: Vec<_> = complete_env()
            .into_iter()
            .filter(|(k, _)| !k.ends_with("SESSION_KEY"))
            .collect();
        let settings = Settings::load(None, Some(env(&pairs))).unwrap();
        assert!(settings.secrets.session_key.is_none());
    }

    #[test]
    fn secrets_are_read_from_files_without_the_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("latchkey-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let path = file.to_string_lossy().into_owned();
        let mut pairs: Vec<_> = complete_env()
            .into_iter()
            .filter(|(k, _)| !k.ends_with("SERVICE_PASSWORD"))
            .collect();
        pairs.push(("LATCHKEY__LDAP__SERVICE_PASSWORD_FILE", &path));
        let settings = Settings::load(None, Some(env(&pairs))).unwrap();
        assert_eq!(settings.ldap.service_password.expose_secret(), "from-file");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn no_process_binds_as_a_default_account() {
        let pairs: Vec<_> = complete_env()
            .into_iter()
            .filter(|(k, _)| !k.ends_with("SERVICE_DN"))
            .collect();
        let error = Settings::load(None, Some(env(&pairs)))
            .unwrap_err()
            .to_string();
        assert!(error.contains("ldap.service_dn"), "{error}");
        assert!(error.contains("cn=latchkey-gateway"), "{error}");
    }

    #[test]
    fn a_broker_password_joins_the_url_encoded() {
        let mut pairs = complete_env();
        pairs.push((
            "LATCHKEY__BROKER__URL",
            "amqp://latchkey-gateway@127.0.0.1:5672/%2f",
        ));
        pairs.push(("LATCHKEY__BROKER__PASSWORD", "a/b@c:d"));
        let settings = Settings::load(None, Some(env(&pairs))).unwrap();
        assert_eq!(
            settings.broker.connection_url().expose_secret(),
            "amqp://latchkey-gateway:a%2Fb%40c%3Ad@127.0.0.1:5672/%2f"
        );
        assert!(!format!("{settings:?}").contains("a/b@c:d"));
    }

    #[test]
    fn a_broker_password_needs_a_user_in_the_url() {
        let mut pairs = complete_env();
        pairs.push(("LATCHKEY__BROKER__URL", "amqp://127.0.0.1:5672/%2f"));
        pairs.push(("LATCHKEY__BROKER__PASSWORD", "pw"));
        let error = Settings::load(None, Some(env(&pairs)))
            .unwrap_err()
            .to_string();
        assert!(error.contains("broker.url"), "{error}");
    }

    #[test]
    fn unknown_keys_are_listed_by_their_dotted_path() {
        let pairs = [
            ("LATCHKEY__GATEWAY__OPS_LISTEN", "0.0.0.0:9464"),
            ("LATCHKEY__GATEWAY__OPS_PORT", "9464"),
            ("LATCHKEY__GATEWAY__RATE_LIMIT__WINDOW", "60"),
            (
                "LATCHKEY__SECRETS__SESSION_KEY_FILE",
                "/run/credentials/x/session-key",
            ),
        ];
        let mut unknown = Settings::unknown_keys(None, Some(env(&pairs))).unwrap();
        unknown.sort();
        assert_eq!(
            unknown,
            ["gateway.ops_port", "gateway.rate_limit.window"],
            "secret files are named, not read"
        );
        let wrong_type = [("LATCHKEY__GATEWAY__OPS_LISTEN", "9464")];
        assert!(Settings::unknown_keys(None, Some(env(&wrong_type))).is_err());
    }

    #[test]
    fn the_directory_alone_loads_without_any_key() {
        let pairs = [
            (
                "LATCHKEY__LDAP__SERVICE_DN",
                "cn=latchkey-delivery,ou=services,dc=example,dc=org",
            ),
            ("LATCHKEY__LDAP__SERVICE_PASSWORD", "pw"),
        ];
        assert!(Settings::load(None, Some(env(&pairs))).is_err());
        let settings = DirectorySettings::load(None, Some(env(&pairs))).unwrap();
        assert_eq!(
            settings.ldap.service_dn,
            "cn=latchkey-delivery,ou=services,dc=example,dc=org"
        );
    }

    #[test]
    fn the_admin_tool_loads_the_directory_and_the_broker_without_any_key() {
        let pairs = [
            (
                "LATCHKEY__LDAP__SERVICE_DN",
                "cn=latchkey-admin,ou=services,dc=example,dc=org",
            ),
            ("LATCHKEY__LDAP__SERVICE_PASSWORD", "pw"),
            (
                "LATCHKEY__BROKER__URL",
                "amqp://latchkey-admin@127.0.0.1:5672/%2f",
            ),
            ("LATCHKEY__BROKER__PASSWORD", "broker-pw"),
        ];
        let settings = AdminSettings::load(None, Some(env(&pairs))).unwrap();
        assert_eq!(settings.broker.prefix, "latchkey");
        assert_eq!(
            settings.broker.connection_url().expose_secret(),
            "amqp://latchkey-admin:broker-pw@127.0.0.1:5672/%2f"
        );
    }
}
