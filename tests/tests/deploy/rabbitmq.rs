//! `deploy/rabbitmq/definitions.json`: it holds exactly the topology the
//! workers declare, each user has its role's permissions, and a stack runs
//! on it: the definitions are loaded into the local broker
//! (`rabbitmqctl import_definitions`) in a vhost of their own, with the
//! users renamed for the test and their passwords put in by
//! `render-definitions`, then the real worker binary and an in-process
//! stack start on them and a password change goes through. RabbitMQ
//! refuses to declare a queue again with other arguments
//! (PRECONDITION_FAILED), so a worker that starts proves the arguments
//! identical. Another import shows the policy at work: a job given back
//! to its queue 50 times more is parked in `latchkey.failed`. The vhosts
//! and the users are deleted afterwards.

use crate::support;
use lapin::options::{
    BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use latchkey_core::broker::{DELAY_LADDER_MS, Topology};
use latchkey_core::config::Settings;
use latchkey_core::job::Queue;
use latchkey_tests::demo::ALICE;
use latchkey_tests::{AppOptions, BrokerUsers, broker, eventually, slapd, spawn_app};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::time::Duration;

const NEW_PASSWORD: &str = "Quietly-Orbiting-Walrus-93";
const ROLES: [&str; 4] = ["gateway", "worker", "admin", "monitor"];

fn definitions() -> Value {
    let text = std::fs::read_to_string(support::deploy("rabbitmq/definitions.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The settings every process starts from, before any file or variable.
fn default_settings() -> Settings {
    let env = HashMap::from(
        [
            ("LDAP__SERVICE_DN", "cn=x"),
            ("LDAP__SERVICE_PASSWORD", "x"),
            ("SECRETS__SEALING_KEY", "k1:x"),
            ("SECRETS__DIRECTORY_KEY", "d1:x"),
            ("SECRETS__SESSION_KEY", "x"),
        ]
        .map(|(key, value)| (format!("LATCHKEY__{key}"), value.to_owned())),
    );
    Settings::load(None, Some(env)).unwrap()
}

/// Every queue the workers declare with the default settings.
fn declared_queues() -> BTreeSet<String> {
    let settings = default_settings();
    let topology = Topology::new(&settings.broker);
    let mut names = BTreeSet::from([topology.failed_queue()]);
    for queue in Queue::ALL {
        names.insert(topology.queue_name(queue));
        for retry in 0..settings.broker.retry_delays_ms.len() {
            names.insert(topology.retry_queue(queue, retry).unwrap());
        }
        for delay in DELAY_LADDER_MS {
            names.insert(topology.delay_queue(queue, Duration::from_millis(delay)).0);
        }
    }
    names
}

fn queue_names(definitions: &Value) -> BTreeSet<String> {
    definitions["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|queue| queue["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_definitions_hold_every_queue_the_workers_declare_and_no_other() {
    let definitions = definitions();
    assert_eq!(queue_names(&definitions), declared_queues());
    let settings = default_settings();
    for queue in definitions["queues"].as_array().unwrap() {
        let name = queue["name"].as_str().unwrap();
        assert_eq!(queue["durable"], true, "{name}");
        let arguments = &queue["arguments"];
        let delay = name
            .rsplit_once(".retry.")
            .map(|(_, n)| settings.broker.retry_delays_ms[n.parse::<usize>().unwrap()]);
        let delay = delay.or_else(|| {
            name.rsplit_once(".delay.")
                .map(|(_, ms)| ms.parse::<u64>().unwrap())
        });
        match delay {
            Some(ms) => {
                assert_eq!(arguments["x-message-ttl"], ms, "{name}");
                assert_eq!(arguments["x-dead-letter-exchange"], "", "{name}");
                let back = name
                    .split(".retry.")
                    .next()
                    .unwrap()
                    .split(".delay.")
                    .next();
                assert_eq!(
                    arguments["x-dead-letter-routing-key"],
                    back.unwrap(),
                    "{name}"
                );
                assert_eq!(arguments.as_object().unwrap().len(), 3, "{name}");
            }
            None => assert_eq!(
                arguments,
                &serde_json::json!({"x-queue-type": "quorum"}),
                "{name}"
            ),
        }
    }
}

#[test]
fn each_broker_user_has_the_permissions_of_its_role_and_no_password() {
    let definitions = definitions();
    let permissions = definitions["permissions"].as_array().unwrap();
    assert_eq!(permissions.len(), ROLES.len());
    for role in ROLES {
        let user = format!("latchkey-{role}");
        let script = support::run(
            Command::new(support::deploy("rabbitmq/permissions")).args([role, "latchkey"]),
        );
        let expected: Vec<&str> = script.lines().collect();
        let given = permissions
            .iter()
            .find(|p| p["user"] == user.as_str())
            .unwrap();
        let given: Vec<&str> = ["configure", "write", "read"]
            .iter()
            .map(|what| given[*what].as_str().unwrap())
            .collect();
        assert_eq!(given, expected, "{user}");
        let entry = definitions["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == user.as_str())
            .unwrap();
        assert_eq!(entry["password_hash"], "", "{user}: no password ships");
    }
}

fn rabbitmqctl(args: &[&str]) -> String {
    support::run(Command::new("rabbitmqctl").arg("-q").args(args))
}

/// A vhost and users of the definitions' loaded for one test; deleted on drop.
struct Imported {
    vhost: String,
    users: Vec<String>,
}

impl Drop for Imported {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.vhost])
            .output();
        for user in &self.users {
            let _ = Command::new("rabbitmqctl")
                .args(["-q", "delete_user", "--", user])
                .output();
        }
    }
}

/// The definitions with every password filled from `passwords`
/// (`render-definitions`), moved to `vhost`, and the user `latchkey-<role>`
/// renamed `<vhost>-<role>`.
fn rendered_for(vhost: &str, passwords: &tempfile::TempDir) -> Value {
    let pairs: Vec<String> = ROLES
        .iter()
        .map(|role| {
            let file = passwords.path().join(role);
            std::fs::write(&file, format!("{vhost}-{role}-password\n")).unwrap();
            format!("latchkey-{role}={}", file.display())
        })
        .collect();
    let rendered = support::run(
        Command::new(support::deploy("rabbitmq/render-definitions"))
            .arg(support::deploy("rabbitmq/definitions.json"))
            .args(&pairs),
    );
    let mut definitions: Value = serde_json::from_str(&rendered).unwrap();
    for section in ["queues", "exchanges", "bindings", "permissions", "policies"] {
        for item in definitions[section].as_array_mut().unwrap() {
            assert_eq!(item["vhost"], "/");
            item["vhost"] = vhost.into();
        }
    }
    definitions["vhosts"] = serde_json::json!([{"name": vhost}]);
    let rename = |name: &Value| {
        name.as_str()
            .unwrap()
            .replace("latchkey-", &format!("{vhost}-"))
    };
    for user in definitions["users"].as_array_mut().unwrap() {
        assert_ne!(user["password_hash"], "", "render-definitions filled it");
        user["name"] = rename(&user["name"]).into();
    }
    for permission in definitions["permissions"].as_array_mut().unwrap() {
        permission["user"] = rename(&permission["user"]).into();
    }
    definitions
}

/// Imports the definitions into a new vhost and waits until the broker
/// holds all of it (the import runs in the background).
async fn imported() -> Imported {
    let vhost = format!("latchkey-deploy-{}", uuid::Uuid::new_v4());
    let imported = Imported {
        users: ROLES.iter().map(|role| format!("{vhost}-{role}")).collect(),
        vhost: vhost.clone(),
    };
    let passwords = tempfile::tempdir().unwrap();
    let file = passwords.path().join("definitions.json");
    std::fs::write(&file, rendered_for(&vhost, &passwords).to_string()).unwrap();
    rabbitmqctl(&["import_definitions", file.to_str().unwrap()]);
    let expected = queue_names(&definitions());
    eventually("the imported queues and permissions", 60, || async {
        let listed = Command::new("rabbitmqctl")
            .args([
                "-q",
                "list_queues",
                "-p",
                &vhost,
                "--no-table-headers",
                "name",
            ])
            .output()
            .ok()?;
        let queues: BTreeSet<String> = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        let permissions = Command::new("rabbitmqctl")
            .args(["-q", "list_permissions", "-p", &vhost, "--no-table-headers"])
            .output()
            .ok()?;
        let users = String::from_utf8_lossy(&permissions.stdout).lines().count();
        (queues == expected && users == ROLES.len()).then_some(())
    })
    .await;
    imported
}

fn broker_url(vhost: &str) -> String {
    let mut url = url::Url::parse(&broker::admin_url()).unwrap();
    url.set_path(&format!("/{vhost}"));
    url.into()
}

fn user(imported: &Imported, role: &str) -> (String, String) {
    let name = format!("{}-{role}", imported.vhost);
    (name.clone(), format!("{name}-password"))
}

/// A channel on the imported vhost as the user of `role`.
async fn channel_as(imported: &Imported, role: &str) -> (lapin::Connection, lapin::Channel) {
    let (name, password) = user(imported, role);
    let mut url = url::Url::parse(&broker_url(&imported.vhost)).unwrap();
    url.set_username(&name).unwrap();
    url.set_password(Some(&password)).unwrap();
    let connection = lapin::Connection::connect(url.as_str(), Default::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    (connection, channel)
}

/// How many messages `queue` holds, by a passive declare.
async fn length(channel: &lapin::Channel, queue: &str) -> u32 {
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .unwrap()
        .message_count()
}

/// A process killed when the test ends, however it ends.
struct Killed(std::sync::Mutex<std::process::Child>);

impl Killed {
    fn running(&self) -> bool {
        self.0.lock().unwrap().try_wait().unwrap().is_none()
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let child = self.0.get_mut().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[tokio::test]
async fn a_stack_runs_on_the_definitions_loaded_into_the_broker() {
    let imported = imported().await;
    let defaults = default_settings();
    let app = spawn_app(AppOptions {
        workers: 1,
        broker_url: Some(broker_url(&imported.vhost)),
        retry_delays_ms: defaults.broker.retry_delays_ms.clone(),
        queue_expires_ms: None,
        broker_users: Some(BrokerUsers {
            gateway: user(&imported, "gateway"),
            worker: user(&imported, "worker"),
        }),
        settings: vec![("BROKER__PREFIX", defaults.broker.prefix.clone())],
        ..Default::default()
    })
    .await;

    // The worker binary declares the topology as a deployed one would: its
    // /readyz answers only once it has and its broker connection is up.
    let port = slapd::free_port();
    let child = Command::new(support::built_binary("latchkey-worker"))
        .env_clear()
        .envs(&app.env)
        .env("LATCHKEY__WORKER__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let worker = Killed(std::sync::Mutex::new(child));
    eventually("the worker binary to be ready", 60, || async {
        assert!(worker.running(), "the worker binary exited");
        let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
            .await
            .ok()?;
        (ready.status() == 200).then_some(())
    })
    .await;

    let client = app.signed_in(ALICE).await;
    let job = app.change_password(&client, ALICE.1, NEW_PASSWORD).await;
    assert_eq!(app.finished_job(&client, &job).await["state"], "succeeded");
    assert!(worker.running(), "the worker binary exited");

    // Nothing was declared beyond the definitions, and the job queues
    // carry the definitions' policy.
    let listed = rabbitmqctl(&[
        "list_queues",
        "-p",
        &imported.vhost,
        "--no-table-headers",
        "name",
        "policy",
    ]);
    let mut names = BTreeSet::new();
    for line in listed.lines() {
        let (name, policy) = line.split_once('\t').unwrap_or((line, ""));
        names.insert(name.to_owned());
        let job_queue = ["latchkey.credentials", "latchkey.mailbox"].contains(&name);
        assert_eq!(policy == "latchkey-job-queues", job_queue, "{line}");
    }
    assert_eq!(names, queue_names(&definitions()));

    // The monitoring user reads a queue's length (as KEDA does) and nothing else.
    let (_connection, channel) = channel_as(&imported, "monitor").await;
    assert_eq!(length(&channel, "latchkey.credentials").await, 0);
    let declared = channel
        .queue_declare(
            "latchkey.other".into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await;
    assert!(declared.is_err(), "the monitoring user declared a queue");
}

#[tokio::test]
async fn a_job_returned_to_its_queue_past_the_delivery_limit_is_parked_in_failed() {
    let imported = imported().await;
    // As a worker that dies with the job in hand, again and again.
    let (_connection, channel) = channel_as(&imported, "worker").await;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let confirmation = channel
        .basic_publish(
            "".into(),
            "latchkey.credentials".into(),
            BasicPublishOptions::default(),
            b"a job that kills its worker",
            lapin::BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirmation.is_ack());
    // Take it and give it back until the broker parks it (or it never does).
    let mut deliveries = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline && deliveries <= 200,
            "after {deliveries} deliveries the job is still not in latchkey.failed"
        );
        let got = channel
            .basic_get("latchkey.credentials".into(), BasicGetOptions::default())
            .await
            .unwrap();
        match got {
            Some(message) => {
                deliveries += 1;
                let requeue = BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                };
                message.delivery.nack(requeue).await.unwrap();
            }
            None if length(&channel, "latchkey.failed").await == 1 => break,
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    // The policy's delivery-limit is 50: the first delivery and 50 more.
    assert_eq!(deliveries, 51);
    assert_eq!(length(&channel, "latchkey.credentials").await, 0);
}
