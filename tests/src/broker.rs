//! Broker users made by `deploy/rabbitmq/ensure-user` (the script
//! `deploy/local/up` uses), so tests connect with exactly the permissions a
//! deployment gives the gateway and the workers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Which Latchkey process a broker user is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// May publish to the jobs exchange, nothing else.
    Gateway,
    /// Declares the topology, consumes the job queues, publishes retries
    /// and parked jobs through the default exchange.
    Worker,
    /// `latchkey-admin`: takes messages off the failed queue and puts them
    /// back on their job queue through the default exchange.
    Admin,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Worker => "worker",
            Self::Admin => "admin",
        }
    }
}

/// The broker as an administrator reaches it: `AMQP_URL`, or the local
/// RabbitMQ as `guest`.
pub fn admin_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// `url` with the user replaced by `user` and no password (the settings
/// carry it apart, in `broker.password`).
pub fn url_for(url: &str, user: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("an AMQP URL");
    parsed.set_username(user).expect("a URL with a host");
    parsed.set_password(None).expect("a URL with a host");
    parsed.into()
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/rabbitmq/ensure-user")
}

/// Runs `ensure-user` for `user` with the permissions of `role` on the
/// prefixes `prefix` (a regular expression) matches, with `environment`
/// added (empty: on the shared broker).
pub(crate) fn ensure(
    environment: &[(std::ffi::OsString, std::ffi::OsString)],
    role: Role,
    user: &str,
    password: &str,
    prefix: &str,
) {
    let file = tempfile::NamedTempFile::new().expect("a password file");
    std::fs::write(file.path(), password).expect("the password is written");
    let output = Command::new(script())
        .envs(environment.iter().cloned())
        .args([role.name(), user])
        .arg(file.path())
        .arg(prefix)
        .output()
        .expect("deploy/rabbitmq/ensure-user runs (it needs rabbitmqctl, as root)");
    assert!(
        output.status.success(),
        "ensure-user {} {user} failed: {}",
        role.name(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every test's prefix (`test-<uuid>`), as a regular expression.
pub const TEST_PREFIXES: &str = "test-[0-9a-f-]+";

/// The user every test's gateway (workers, admin tool) connects as, with the role's
/// permissions on any test prefix: made once per test process, kept for
/// the next run. Its password is fixed, so runs at the same time agree.
pub fn shared_user(role: Role) -> (String, String) {
    static USERS: OnceLock<()> = OnceLock::new();
    USERS.get_or_init(|| {
        for role in [Role::Gateway, Role::Worker, Role::Admin] {
            let (user, password) = shared_credentials(role);
            ensure(&[], role, &user, &password, TEST_PREFIXES);
        }
    });
    shared_credentials(role)
}

fn shared_credentials(role: Role) -> (String, String) {
    let user = format!("latchkey-test-{}", role.name());
    (user.clone(), format!("{user}-password"))
}

/// A broker user of its own for one test, with the role's permissions on
/// exactly one prefix; deleted on drop.
pub struct BrokerUser {
    /// Its name.
    pub name: String,
    /// Its password.
    pub password: String,
}

impl BrokerUser {
    /// Makes a user for `role` on the prefix `prefix` (taken literally).
    pub fn create(role: Role, prefix: &str) -> Self {
        let name = format!("test-{}-{}", uuid::Uuid::new_v4(), role.name());
        let password = uuid::Uuid::new_v4().to_string();
        ensure(&[], role, &name, &password, &prefix.replace('.', "\\."));
        Self { name, password }
    }
}

impl Drop for BrokerUser {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_user", "--", &self.name])
            .output();
    }
}

/// A connection to the broker as its administrator ([`admin_url`]) and a
/// channel on it, for looking into queues and publishing as anyone could.
pub async fn admin_channel() -> (lapin::Connection, lapin::Channel) {
    let connection = lapin::Connection::connect(&admin_url(), Default::default())
        .await
        .expect("the broker answers");
    let channel = connection.create_channel().await.expect("a channel");
    (connection, channel)
}

/// Publishes `body` to the jobs exchange of `prefix`, routed to the
/// credentials queue, as anyone with broker access could.
pub async fn publish_raw(channel: &lapin::Channel, prefix: &str, body: &[u8]) {
    let exchange = format!("{prefix}.jobs");
    channel
        .basic_publish(
            exchange.as_str().into(),
            "credentials".into(),
            lapin::options::BasicPublishOptions::default(),
            body,
            lapin::BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("the broker takes the message")
        .await
        .expect("the broker confirms the message");
}
