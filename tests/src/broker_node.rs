//! A RabbitMQ node of one test's own, for tests that stop and start the
//! broker: the shared one on 127.0.0.1:5672 serves every other test and is
//! never stopped. The node has its own name, AMQP and distribution ports on
//! loopback, Erlang cookie, data and log folders and (empty) plugin list,
//! all in a temporary folder; stopped and started again, it comes back on
//! the same data, so durable queues, persistent messages and its users
//! survive, as on a real restart. It is stopped when dropped.

use crate::app::BrokerUsers;
use crate::broker::{self, Role};
use rand::Rng;
use rand::distributions::Alphanumeric;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's RabbitMQ scripts themselves. `/usr/sbin/rabbitmqctl` and
/// `rabbitmq-server` are wrappers that switch to the `rabbitmq` user and
/// its home, which would lose this node's cookie and folders.
const RABBITMQ_BIN: &str = "/usr/lib/rabbitmq/bin";

/// How long a start or a stop may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// A private RabbitMQ node, running or stopped.
pub struct BrokerNode {
    dir: tempfile::TempDir,
    node: String,
    port: u16,
    dist_port: u16,
    server: Option<Child>,
}

impl BrokerNode {
    /// Makes the node's folder and starts it; returns once it takes AMQP connections.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("a folder for the broker node");
        let cookie: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(32)
            .map(char::from)
            .collect();
        let cookie_file = dir.path().join(".erlang.cookie");
        std::fs::write(&cookie_file, cookie).expect("the cookie is written");
        std::fs::set_permissions(&cookie_file, std::fs::Permissions::from_mode(0o400))
            .expect("the cookie is private");
        std::fs::write(dir.path().join("enabled_plugins"), "[].\n").expect("no plugins");
        // Empty, so the system's /etc/rabbitmq files (port 5672) are not read.
        std::fs::write(dir.path().join("rabbitmq.conf"), "").expect("a config file");
        std::fs::write(dir.path().join("rabbitmq-env.conf"), "").expect("an env file");
        let short = uuid::Uuid::new_v4().simple().to_string();
        let mut node = Self {
            node: format!(
                "latchkey-fault-{}-{}@localhost",
                std::process::id(),
                &short[..8]
            ),
            port: crate::slapd::free_port(),
            dist_port: crate::slapd::free_port(),
            dir,
            server: None,
        };
        node.resume();
        node
    }

    /// `amqp://guest:guest@127.0.0.1:<port>/%2f`: the node's administrator
    /// (`guest` may connect from loopback only).
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Makes the gateway's and the workers' users on this node with
    /// `deploy/rabbitmq/ensure-user`, allowed what their roles are on every
    /// test prefix, for [`crate::AppOptions::broker_users`].
    pub fn users(&self) -> BrokerUsers {
        let make = |role: Role| {
            let user = format!("latchkey-{role:?}").to_lowercase();
            let password = uuid::Uuid::new_v4().to_string();
            broker::ensure(
                &self.environment(),
                role,
                &user,
                &password,
                broker::TEST_PREFIXES,
            );
            (user, password)
        };
        BrokerUsers {
            gateway: make(Role::Gateway),
            worker: make(Role::Worker),
        }
    }

    /// Starts the node (again, on the same data); returns once it takes
    /// AMQP connections.
    pub fn resume(&mut self) {
        assert!(self.server.is_none(), "the node is running already");
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("a log file");
        let server = Command::new(format!("{RABBITMQ_BIN}/rabbitmq-server"))
            .envs(self.environment())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            // Its own group, so a failing test can end the shell script and beam together.
            .process_group(0)
            .spawn()
            .expect("rabbitmq-server starts (apt-get install rabbitmq-server)");
        self.server = Some(server);
        let pid_file = self.dir.path().join("rabbitmq.pid");
        let waited = self
            .rabbitmqctl(&["wait", &pid_file.to_string_lossy(), "--timeout", "60"])
            .output()
            .expect("rabbitmqctl runs");
        if !waited.status.success() {
            panic!(
                "the broker node {} did not start: {}\n{}",
                self.node,
                String::from_utf8_lossy(&waited.stderr),
                self.server_log()
            );
        }
    }

    /// Stops the node as an operator would (`rabbitmqctl stop`), and waits
    /// until its process has ended; its data stays.
    pub fn stop(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        let _ = self.rabbitmqctl(&["stop"]).output();
        let deadline = Instant::now() + PATIENCE;
        while server.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                kill_group(&server);
                panic!("the broker node {} did not stop", self.node);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `rabbitmqctl` for this node.
    fn rabbitmqctl(&self, arguments: &[&str]) -> Command {
        let mut command = Command::new(format!("{RABBITMQ_BIN}/rabbitmqctl"));
        command.envs(self.environment()).args(arguments);
        command
    }

    /// What the server and `rabbitmqctl` need to find this node and only
    /// it. `PATH` starts with [`RABBITMQ_BIN`], so scripts that call
    /// `rabbitmqctl` (`ensure-user`) reach this node too.
    fn environment(&self) -> Vec<(OsString, OsString)> {
        let path = |name: &str| self.dir.path().join(name).into_os_string();
        let mut search = OsString::from(RABBITMQ_BIN);
        if let Some(inherited) = std::env::var_os("PATH") {
            search.push(":");
            search.push(inherited);
        }
        let erl_args = "-kernel inet_dist_use_interface {127,0,0,1}";
        [
            ("HOME", self.dir.path().into()),
            ("PATH", search),
            ("RABBITMQ_NODENAME", self.node.clone().into()),
            ("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1".into()),
            ("RABBITMQ_NODE_PORT", self.port.to_string().into()),
            ("RABBITMQ_DIST_PORT", self.dist_port.to_string().into()),
            ("ERL_EPMD_ADDRESS", "127.0.0.1".into()),
            ("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", erl_args.into()),
            ("RABBITMQ_MNESIA_BASE", path("mnesia")),
            ("RABBITMQ_LOG_BASE", path("log")),
            ("RABBITMQ_PID_FILE", path("rabbitmq.pid")),
            ("RABBITMQ_ENABLED_PLUGINS_FILE", path("enabled_plugins")),
            ("RABBITMQ_CONFIG_FILE", path("rabbitmq.conf")),
            ("RABBITMQ_CONF_ENV_FILE", path("rabbitmq-env.conf")),
        ]
        .into_iter()
        .map(|(key, value)| (key.into(), value))
        .collect()
    }

    fn server_log(&self) -> String {
        let log: PathBuf = self.dir.path().join("server.log");
        std::fs::read_to_string(log).unwrap_or_default()
    }
}

/// Ends the node's process group (the script and the Erlang VM) at once.
fn kill_group(server: &Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", server.id())])
        .status();
}

impl Drop for BrokerNode {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            // Its data goes with it: no need to stop it gracefully.
            kill_group(&server);
            let _ = server.wait();
        }
    }
}
