//! `spawn_app()`: the whole stack for one test.

use crate::broker::{self, Role};
use crate::client::Client;
use crate::slapd::{ServiceAccount, Slapd};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_core::broker::AmqpPublisher;
use latchkey_core::clock::{Clock, ManualClock, SystemClock};
use latchkey_core::config::Settings;
use latchkey_core::directory::{Directory, LdapDirectory};
use latchkey_workers::{Context, Worker, WorkerHandle};
use rand::RngCore;
use reqwest::Method;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Once};

/// How a test wants its stack.
pub struct AppOptions {
    /// Workers started with the app.
    pub workers: usize,
    /// The broker; `AMQP_URL` or the local RabbitMQ by default. Gateway and
    /// workers connect to it as their own users, whatever user it names.
    pub broker_url: Option<String>,
    /// Retry delays of failed jobs (short, so tests are quick).
    pub retry_delays_ms: Vec<u64>,
    /// Failed sign-ins allowed per account.
    pub account_failures: u32,
    /// Failed sign-ins allowed per client address.
    pub address_failures: u32,
    /// Further settings, as `SECTION__KEY` and value (the `LATCHKEY__` prefix is added).
    pub settings: Vec<(&'static str, String)>,
    /// Idle expiry of the test's queues (`broker.queue_expires_ms`); `None`
    /// declares them without one, as deployed.
    pub queue_expires_ms: Option<u64>,
    /// The broker users gateway and workers connect as; `None`: the users
    /// every test shares, made with `deploy/rabbitmq/ensure-user`.
    pub broker_users: Option<BrokerUsers>,
    /// Serve the portal as `http://localhost:PORT` (its `public_url` and
    /// the tests' address) instead of `127.0.0.1`: WebAuthn refuses IP
    /// addresses as relying party ids, and localhost is a secure context.
    pub on_localhost: bool,
}

/// The broker users of a stack: `(name, password)` of the gateway's and of
/// the workers'.
#[derive(Debug, Clone)]
pub struct BrokerUsers {
    /// The gateway's user.
    pub gateway: (String, String),
    /// The workers' user.
    pub worker: (String, String),
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            workers: 1,
            broker_url: None,
            // Few delay queues: every test declares its own topology on the shared broker.
            retry_delays_ms: vec![200, 800, 3200],
            account_failures: 5,
            address_failures: 50,
            settings: Vec::new(),
            // A test's queues vanish a minute after it stops using them.
            queue_expires_ms: Some(60_000),
            broker_users: None,
            on_localhost: false,
        }
    }
}

impl AppOptions {
    /// The default stack without workers, for tests that start their own or need none.
    pub fn without_workers() -> Self {
        Self {
            workers: 0,
            ..Self::default()
        }
    }
}

/// What a run of `latchkey-admin` printed and how it exited.
#[derive(Debug)]
pub struct AdminRun(pub std::process::Output);

impl AdminRun {
    /// The exit code.
    pub fn code(&self) -> Option<i32> {
        self.0.status.code()
    }

    /// Standard output.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    /// Standard error (messages and audit lines).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Checks that the run exited with `code` and said `says` on stderr.
    pub fn failed_with(&self, code: i32, says: &str) {
        assert_eq!(self.code(), Some(code), "{}", self.stderr());
        assert!(
            self.stderr().contains(says),
            "not {says:?}: {}",
            self.stderr()
        );
    }

    /// Standard output as JSON, after checking that the run succeeded.
    pub fn json(&self) -> Value {
        assert_eq!(
            self.code(),
            Some(0),
            "latchkey-admin failed: {}",
            self.stderr()
        );
        serde_json::from_slice(&self.0.stdout).expect("latchkey-admin prints JSON")
    }
}

/// A worker process; killed (SIGKILL) when dropped, so a failing test leaves none behind.
pub struct WorkerProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>` of its `/healthz`, `/readyz` and `/metrics`
    /// (`worker.listen`).
    pub health_address: String,
}

impl WorkerProcess {
    /// Kills it at once, as a crash would, and waits until it is gone.
    pub fn kill(mut self) {
        self.stop();
    }

    /// The most resident memory it has used so far (VmHWM), in bytes; it
    /// must still be running.
    pub fn peak_rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the worker's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a running process has VmHWM");
        kib * 1024
    }

    /// Sends it `signal` (`STOP`, `CONT`, ...) with kill(1): a stopped
    /// worker holds its jobs and its lease as a stalled one would.
    pub fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "SIG{signal} reached the worker");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The running stack. The gateway, the workers and the delivery filter each
/// bind to the directory as their own account and (gateway and workers)
/// connect to the broker as their own user, as deployed.
pub struct TestApp {
    /// The private directory.
    pub slapd: Slapd,
    /// The workers' settings (their LDAP account and broker user).
    pub settings: Settings,
    /// The gateway's settings: the workers' but for its LDAP account and broker user.
    pub gateway_settings: Settings,
    /// `http://127.0.0.1:<port>` of the gateway.
    pub address: String,
    /// `http://127.0.0.1:<port>` of the gateway's operators' listener
    /// (`/healthz`, `/readyz`, `/metrics`).
    pub ops_address: String,
    /// The gateway's clock: it stands still unless a test moves it.
    pub clock: ManualClock,
    /// Where the accounts' Maildirs are (`<mail>/<uid>/Maildir`).
    pub mail: tempfile::TempDir,
    /// The `LATCHKEY__...` environment the workers' settings came from, for
    /// worker processes.
    pub env: HashMap<String, String>,
    /// The broker as an administrator reaches it, for looking into queues.
    pub broker_admin_url: String,
    /// Workers started with the app.
    pub workers: Vec<WorkerHandle>,
}

fn random_base64(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buffer);
    STANDARD.encode(buffer)
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            latchkey_core::telemetry::init_logging();
        }
    });
}

/// `target/<profile>/<name>`, built by `cargo build --bins` (which
/// `deploy/local/test` runs).
fn built_binary(name: &str) -> std::path::PathBuf {
    let deps = std::env::current_exe().expect("the test binary's path");
    let binary = deps
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join(name);
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --bins` first (deploy/local/test does)",
        binary.display()
    );
    binary
}

/// Starts slapd, the gateway and `options.workers` workers.
pub async fn spawn_app(options: AppOptions) -> TestApp {
    init_logs();
    let slapd = Slapd::start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the gateway");
    let bound = listener.local_addr().expect("bound");
    let address = match options.on_localhost {
        true => format!("http://localhost:{}", bound.port()),
        false => format!("http://{bound}"),
    };
    let ops_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the gateway's operators' listener");
    let ops_address = format!("http://{}", ops_listener.local_addr().expect("bound"));
    let broker_url = options.broker_url.clone().unwrap_or_else(broker::admin_url);
    let mail = tempfile::tempdir().expect("a mail folder");
    let delays: Vec<String> = options.retry_delays_ms.iter().map(u64::to_string).collect();
    let expiry = options
        .queue_expires_ms
        .map(|ms| ("BROKER__QUEUE_EXPIRES_MS", ms.to_string()));
    let env: HashMap<String, String> = [
        ("LDAP__URL", slapd.url()),
        ("LDAP__TIMEOUT_MS", "2000".into()),
        ("BROKER__PREFIX", format!("test-{}", uuid::Uuid::new_v4())),
        ("BROKER__RETRY_DELAYS_MS", delays.join(",")),
        // Generous: connecting can be slow while many tests share one broker.
        ("BROKER__CONFIRM_TIMEOUT_MS", "15000".into()),
        ("SECRETS__SEALING_KEY", format!("t1:{}", random_base64(32))),
        (
            "SECRETS__DIRECTORY_KEY",
            format!("d1:{}", random_base64(32)),
        ),
        ("GATEWAY__PUBLIC_URL", address.clone()),
        (
            "MAILBOX__MAILDIR_TEMPLATE",
            format!("{}/%u/Maildir", mail.path().display()),
        ),
        (
            "GATEWAY__RATE_LIMIT__ACCOUNT_FAILURES",
            options.account_failures.to_string(),
        ),
        (
            "GATEWAY__RATE_LIMIT__ADDRESS_FAILURES",
            options.address_failures.to_string(),
        ),
    ]
    .into_iter()
    .chain(expiry)
    .chain(options.settings)
    .map(|(key, value)| (format!("LATCHKEY__{key}"), value))
    .collect();
    let users = options.broker_users.as_ref();
    let env = with_credentials(&env, &slapd, ServiceAccount::Worker, &broker_url, users);
    let mut gateway_env =
        with_credentials(&env, &slapd, ServiceAccount::Gateway, &broker_url, users);
    // Only the gateway signs sessions: the workers run without the key.
    gateway_env.insert("LATCHKEY__SECRETS__SESSION_KEY".into(), random_base64(64));
    let settings = Settings::load(None, Some(env.clone())).expect("test settings load");
    let gateway_settings =
        Settings::load(None, Some(gateway_env)).expect("the gateway's settings load");
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let gateway = latchkey_gateway::gateway_with_clock(&gateway_settings, Arc::new(clock.clone()))
        .expect("the gateway builds");
    // Workers declare the topology when they start, and the gateway may not;
    // tests without workers still need it, so declare it as a worker would.
    // A test with an unreachable broker must still serve: a failure is fine.
    let _ = AmqpPublisher::new(&settings.broker)
        .declare_topology()
        .await;
    tokio::spawn(latchkey_gateway::serve(
        ops_listener,
        latchkey_gateway::ops::router(Arc::clone(&gateway)),
        std::future::pending(),
    ));
    tokio::spawn(latchkey_gateway::serve(
        listener,
        latchkey_gateway::router(gateway),
        std::future::pending(),
    ));
    let mut app = TestApp {
        slapd,
        settings,
        gateway_settings,
        address,
        ops_address,
        clock,
        mail,
        env,
        broker_admin_url: broker::admin_url(),
        workers: Vec::new(),
    };
    for _ in 0..options.workers {
        let worker = app.start_worker(app.directory()).await;
        app.workers.push(worker);
    }
    app
}

/// `env` with the LDAP account `account` and, for the gateway, the workers
/// and latchkey-admin, their broker user at `broker_url`: the gateway's and
/// the workers' from `users` if given, else the shared test users.
fn with_credentials(
    env: &HashMap<String, String>,
    slapd: &Slapd,
    account: ServiceAccount,
    broker_url: &str,
    users: Option<&BrokerUsers>,
) -> HashMap<String, String> {
    let mut env = env.clone();
    let mut set = |key: &str, value: String| env.insert(format!("LATCHKEY__{key}"), value);
    set("LDAP__SERVICE_DN", account.dn());
    set("LDAP__SERVICE_PASSWORD_FILE", slapd.password_file(account));
    let role = match account {
        ServiceAccount::Gateway => Role::Gateway,
        ServiceAccount::Worker => Role::Worker,
        ServiceAccount::Admin => Role::Admin,
        ServiceAccount::Delivery | ServiceAccount::Operator => return env,
    };
    let (user, password) = match (users, role) {
        (Some(users), Role::Gateway) => users.gateway.clone(),
        (Some(users), Role::Worker) => users.worker.clone(),
        // latchkey-admin always uses the shared test user of its role.
        (_, role) => broker::shared_user(role),
    };
    set("BROKER__URL", broker::url_for(broker_url, &user));
    set("BROKER__PASSWORD", password);
    env
}

impl TestApp {
    /// A directory client bound as the workers' account: what a worker may
    /// read and write.
    pub fn directory(&self) -> LdapDirectory {
        LdapDirectory::new(&self.settings.ldap, self.settings.jobs.ttl_seconds)
    }

    /// A directory client bound as the gateway's account.
    pub fn gateway_directory(&self) -> LdapDirectory {
        LdapDirectory::new(
            &self.gateway_settings.ldap,
            self.gateway_settings.jobs.ttl_seconds,
        )
    }

    /// Starts another gateway replica over the same directory, broker,
    /// keys and clock, as a second instance behind a load balancer would
    /// be; answers its address.
    pub async fn start_replica(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the replica");
        let address = format!("http://{}", listener.local_addr().expect("bound"));
        let replica = latchkey_gateway::gateway_with_clock(
            &self.gateway_settings,
            Arc::new(self.clock.clone()),
        )
        .expect("the replica builds");
        tokio::spawn(latchkey_gateway::serve(
            listener,
            latchkey_gateway::router(replica),
            std::future::pending(),
        ));
        address
    }

    /// `message` with its job record, as a gateway would have queued it:
    /// the envelope a worker's step takes.
    pub async fn queued(
        &self,
        message: latchkey_core::job::JobMessage,
    ) -> latchkey_core::job::Envelope {
        use latchkey_core::directory::JobStore;
        let now = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("zero nanoseconds");
        let record = latchkey_core::job::JobRecord::queued(
            message.job_id(),
            message.kind(),
            message.account().clone(),
            1,
            now,
        );
        self.gateway_directory()
            .create_job(&record)
            .await
            .expect("the job record is written");
        latchkey_core::job::Envelope::new(message, now, None)
    }

    /// What a worker needs, over `directory`.
    pub fn context<D>(&self, directory: D) -> Context<D> {
        self.context_with_clock(directory, Arc::new(SystemClock))
    }

    /// What a worker whose time is `clock`'s needs, over `directory`.
    pub fn context_with_clock<D>(&self, directory: D, clock: Arc<dyn Clock>) -> Context<D> {
        Context::new(&self.settings, directory, clock).expect("the test context")
    }

    /// Starts a worker in-process over `directory`.
    pub async fn start_worker<D>(&self, directory: D) -> WorkerHandle
    where
        D: Directory,
    {
        self.start_worker_with_clock(directory, Arc::new(SystemClock))
            .await
    }

    /// Starts a worker in-process over `directory` whose time is `clock`'s
    /// (say, minutes off the gateway's).
    pub async fn start_worker_with_clock<D>(
        &self,
        directory: D,
        clock: Arc<dyn Clock>,
    ) -> WorkerHandle
    where
        D: Directory,
    {
        Worker::new(
            self.context_with_clock(directory, clock),
            &self.settings.broker,
            &self.settings.worker,
        )
        .expect("the worker builds")
        .start()
        .await
        .expect("the worker starts")
    }

    /// Starts the real worker binary (`target/<profile>/latchkey-worker`,
    /// built by `cargo build --bins`, which `deploy/local/test` runs) for this stack.
    pub fn worker_process(&self) -> WorkerProcess {
        self.worker_process_with(&[])
    }

    /// [`TestApp::worker_process`] with further settings (`SECTION__KEY`, value).
    pub fn worker_process_with(&self, settings: &[(&str, String)]) -> WorkerProcess {
        let binary = built_binary("latchkey-worker");
        let logs = if std::env::var_os("TEST_LOG").is_some() {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        };
        let listen = format!("127.0.0.1:{}", crate::slapd::free_port());
        let child = std::process::Command::new(binary)
            .env_clear()
            .envs(&self.env)
            .env("LATCHKEY__WORKER__LISTEN", &listen)
            .envs(
                settings
                    .iter()
                    .map(|(key, value)| (format!("LATCHKEY__{key}"), value)),
            )
            .stdout(std::process::Stdio::null())
            .stderr(logs)
            .spawn()
            .expect("the worker starts");
        WorkerProcess {
            child,
            health_address: format!("http://{listen}"),
        }
    }

    /// Runs the real delivery filter, `latchkey-encrypt <user>`, on
    /// `message` with this stack's settings, as a mail server would: bound
    /// as its own read-only account, and given no key and no broker user.
    pub fn delivery_filter(&self, user: &str, message: &[u8]) -> std::process::Output {
        use std::io::Write;
        let mut env: HashMap<String, String> = self
            .env
            .iter()
            .filter(|(key, _)| key.starts_with("LATCHKEY__LDAP__"))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        env.insert(
            "LATCHKEY__LDAP__SERVICE_DN".into(),
            ServiceAccount::Delivery.dn(),
        );
        env.insert(
            "LATCHKEY__LDAP__SERVICE_PASSWORD_FILE".into(),
            self.slapd.password_file(ServiceAccount::Delivery),
        );
        let mut child = std::process::Command::new(built_binary("latchkey-encrypt"))
            .arg(user)
            .env_clear()
            .envs(&env)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("latchkey-encrypt starts");
        let mut stdin = child.stdin.take().expect("a pipe");
        stdin.write_all(message).expect("the message is written");
        drop(stdin);
        child.wait_with_output().expect("latchkey-encrypt ends")
    }

    /// Runs the real `latchkey-admin` with `arguments` and this stack's
    /// settings, as an operator would: only the `[ldap]`, `[broker]` and
    /// `[jobs]` sections, no key, bound as its own read-only LDAP account
    /// and connected as its own broker user. `overrides` (`SECTION__KEY`,
    /// value) change settings, e.g. to point it somewhere unreachable.
    pub fn admin(&self, arguments: &[&str], overrides: &[(&str, String)]) -> AdminRun {
        let sections = ["LATCHKEY__LDAP__", "LATCHKEY__BROKER__", "LATCHKEY__JOBS__"];
        let shared: HashMap<String, String> = self
            .env
            .iter()
            .filter(|(key, _)| sections.iter().any(|section| key.starts_with(section)))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let broker = &self.settings.broker.url;
        let mut env = with_credentials(&shared, &self.slapd, ServiceAccount::Admin, broker, None);
        for (key, value) in overrides {
            env.insert(format!("LATCHKEY__{key}"), value.clone());
        }
        let output = std::process::Command::new(built_binary("latchkey-admin"))
            .args(arguments)
            .env_clear()
            .envs(&env)
            .output()
            .expect("latchkey-admin runs");
        AdminRun(output)
    }

    /// The Maildir of `uid`.
    pub fn maildir(&self, uid: &str) -> std::path::PathBuf {
        let name = latchkey_core::domain::MailboxName::parse(uid).expect("a test user's name");
        self.settings.mailbox.maildir_of(&name)
    }

    /// The operator account's DN and password (`cn=operator`: writes
    /// accounts, reads everything; no Latchkey process binds as it), for
    /// plain LDAP checks and for what no Latchkey process may do, such as
    /// adding or deleting accounts.
    pub fn service(&self) -> (String, String) {
        (
            ServiceAccount::Operator.dn(),
            self.slapd.password(ServiceAccount::Operator),
        )
    }

    /// A browser-like client with its own cookie jar.
    pub fn client(&self) -> Client {
        Client::new(&self.address)
    }

    /// A browser-like client connecting from `local` (an address in 127.0.0.0/8).
    pub fn client_from(&self, local: std::net::IpAddr) -> Client {
        Client::from_address(&self.address, Some(local))
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, client: &Client, path: &str, body: Value) -> reqwest::Response {
        self.send(client, Method::POST, path, Some(body)).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, client: &Client, path: &str, body: Value) -> reqwest::Response {
        self.send(client, Method::PUT, path, Some(body)).await
    }

    /// `DELETE path`, with a JSON body if given.
    pub async fn delete(
        &self,
        client: &Client,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        self.send(client, Method::DELETE, path, body).await
    }

    async fn send(
        &self,
        client: &Client,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let request = client.request_to(method, path);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request.send().await.expect("the gateway answers")
    }

    /// `GET path`.
    pub async fn get(&self, client: &Client, path: &str) -> reqwest::Response {
        client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the gateway answers")
    }

    /// `GET path`, answered with JSON.
    pub async fn get_json(&self, client: &Client, path: &str) -> Value {
        self.get(client, path)
            .await
            .json()
            .await
            .expect("a JSON answer")
    }

    /// A client signed in as `(uid, password)`.
    pub async fn signed_in(&self, (uid, password): (&str, &str)) -> Client {
        let client = self.client();
        let response = self
            .post(
                &client,
                "/api/session",
                serde_json::json!({"username": uid, "password": password}),
            )
            .await;
        assert_eq!(response.status(), 200, "{uid} signs in");
        client
    }

    /// Signs in with the password and a TOTP code for `secret` (base32).
    pub async fn signed_in_with_totp(&self, (uid, password): (&str, &str), secret: &str) -> Client {
        let client = self.client();
        let body = serde_json::json!({"username": uid, "password": password});
        let first: Value = self
            .post(&client, "/api/session", body)
            .await
            .json()
            .await
            .expect("a challenge");
        let code = crate::oathtool(secret, self.clock.now());
        let body = serde_json::json!({"challenge": first["challenge"], "code": code});
        let response = self.post(&client, "/api/session/totp", body).await;
        assert_eq!(response.status(), 200, "{uid} signs in with a code");
        client
    }

    /// Asks for a password change and returns the accepted job's id.
    pub async fn change_password(&self, client: &Client, current: &str, new: &str) -> String {
        let response = self
            .post(
                client,
                "/api/password",
                serde_json::json!({"current": current, "new": new}),
            )
            .await;
        assert_eq!(response.status(), 202, "the change is accepted");
        let body: Value = response.json().await.expect("a JSON answer");
        body["job"]["id"].as_str().expect("a job id").to_owned()
    }

    /// The demo account `uid` as the operator account reads it.
    pub async fn account_entry(&self, uid: &str) -> ldap3::SearchEntry {
        let (dn, password) = self.service();
        let mut entries = crate::ldap::search(
            &self.slapd.url(),
            (&dn, &password),
            &crate::demo::dn(uid),
            "(objectClass=inetOrgPerson)",
        )
        .await;
        entries.pop().expect("the account exists")
    }

    /// Turns TOTP on for the signed-in `client` with a code from oathtool and
    /// waits for the job; answers the secret (base32) and the recovery codes.
    pub async fn enable_totp(&self, client: &Client) -> (String, Vec<String>) {
        let started: Value = self
            .post(client, "/api/totp/enrolment", serde_json::json!({}))
            .await
            .json()
            .await
            .expect("an enrolment");
        let secret = started["secret"].as_str().expect("a secret").to_owned();
        let code = crate::oathtool(&secret, self.clock.now());
        let body = serde_json::json!({"token": started["token"], "code": code});
        let response = self.post(client, "/api/totp", body).await;
        assert_eq!(response.status(), 202, "the enrolment is accepted");
        let answer: Value = response.json().await.expect("a JSON answer");
        let codes = answer["recovery_codes"]
            .as_array()
            .expect("recovery codes")
            .iter()
            .map(|code| code.as_str().expect("a code").to_owned())
            .collect();
        let job = answer["job"]["id"].as_str().expect("a job id");
        assert_eq!(self.finished_job(client, job).await["state"], "succeeded");
        (secret, codes)
    }

    /// Every job record in the directory, as `ldapsearch` shows them.
    pub async fn job_entries(&self) -> Vec<ldap3::SearchEntry> {
        let (dn, password) = self.service();
        crate::ldap::search(
            &self.slapd.url(),
            (&dn, &password),
            "ou=jobs,dc=example,dc=org",
            "(objectClass=latchkeyJob)",
        )
        .await
    }

    /// Waits until the job has finished (succeeded or failed) and returns it.
    pub async fn finished_job(&self, client: &Client, id: &str) -> Value {
        crate::eventually(&format!("job {id} to finish"), 30, || async {
            let job: Value = self
                .get(client, &format!("/api/jobs/{id}"))
                .await
                .json()
                .await
                .ok()?;
            let finished = ["succeeded", "superseded", "failed"];
            finished.contains(&job["state"].as_str()?).then_some(job)
        })
        .await
    }
}
