//! Least privilege: the gateway, the workers, the delivery filter and
//! latchkey-admin each bind to slapd as their own account, and gateway,
//! workers and latchkey-admin reach RabbitMQ as their own users, each
//! allowed only what that process writes.

use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ExchangeKind};
use latchkey_core::broker::Topology;
use latchkey_core::directory::JobStore;
use latchkey_core::job::Queue;
use latchkey_tests::broker::{self, BrokerUser, Role};
use latchkey_tests::demo::{self, ALICE};
use latchkey_tests::slapd::ServiceAccount;
use latchkey_tests::{AppOptions, TestApp, ldap, spawn_app};
use ldap3::Mod;
use secrecy::SecretString;
use std::collections::HashSet;

const NEW_PASSWORD: &str = "Quietly-Orbiting-Walrus-93";
const INSUFFICIENT_ACCESS: u32 = 50;

fn credentials(app: &TestApp, account: ServiceAccount) -> (String, String) {
    (account.dn(), app.slapd.password(account))
}

/// `mods` on alice's entry as `account`; the LDAP result code.
async fn modify_alice(app: &TestApp, account: ServiceAccount, mods: Vec<Mod<&str>>) -> u32 {
    let (dn, password) = credentials(app, account);
    ldap::modify(&app.slapd.url(), (&dn, &password), &demo::dn("alice"), mods).await
}

fn values(values: &[&'static str]) -> HashSet<&'static str> {
    values.iter().copied().collect()
}

#[tokio::test]
async fn the_gateways_account_is_refused_a_password_write() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let hash = app
        .context(())
        .hasher
        .hash(&SecretString::from(NEW_PASSWORD));
    for attribute in ["userPassword", "latchkeyPrimaryPassword"] {
        let replace = vec![Mod::Replace(attribute, HashSet::from([hash.as_str()]))];
        let add = vec![Mod::Add(attribute, HashSet::from([hash.as_str()]))];
        for mods in [replace, add] {
            let rc = modify_alice(&app, ServiceAccount::Gateway, mods).await;
            assert_eq!(rc, INSUFFICIENT_ACCESS, "{attribute}");
        }
    }
    let dn = demo::dn("alice");
    assert!(ldap::bind_succeeds(&app.slapd.url(), &dn, ALICE.1).await);
    assert!(!ldap::bind_succeeds(&app.slapd.url(), &dn, NEW_PASSWORD).await);
}

#[tokio::test]
async fn the_workers_account_may_write_passwords() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let hash = app
        .context(())
        .hasher
        .hash(&SecretString::from(NEW_PASSWORD));
    for attribute in ["userPassword", "latchkeyPrimaryPassword"] {
        let mods = vec![Mod::Replace(attribute, HashSet::from([hash.as_str()]))];
        assert_eq!(modify_alice(&app, ServiceAccount::Worker, mods).await, 0);
    }
    let dn = demo::dn("alice");
    assert!(ldap::bind_succeeds(&app.slapd.url(), &dn, NEW_PASSWORD).await);
    assert!(!ldap::bind_succeeds(&app.slapd.url(), &dn, ALICE.1).await);
}

#[tokio::test]
async fn the_gateway_may_use_up_a_recovery_code_and_a_totp_step_but_never_add_a_code() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let codes = vec![Mod::Replace(
        "latchkeyRecoveryCode",
        values(&["one", "two"]),
    )];
    assert_eq!(modify_alice(&app, ServiceAccount::Worker, codes).await, 0);
    let used = vec![
        Mod::Delete("latchkeyRevision", values(&["0"])),
        Mod::Add("latchkeyRevision", values(&["1"])),
        Mod::Add("latchkeyTotpLastStep", values(&["123"])),
        Mod::Delete("latchkeyRecoveryCode", values(&["one"])),
    ];
    assert_eq!(modify_alice(&app, ServiceAccount::Gateway, used).await, 0);
    let added = vec![Mod::Add("latchkeyRecoveryCode", values(&["three"]))];
    let rc = modify_alice(&app, ServiceAccount::Gateway, added).await;
    assert_eq!(rc, INSUFFICIENT_ACCESS);
    let entry = app.account_entry("alice").await;
    assert_eq!(entry.attrs["latchkeyRecoveryCode"], vec!["two".to_owned()]);
    assert_eq!(entry.attrs["latchkeyTotpLastStep"], vec!["123".to_owned()]);
}

#[tokio::test]
async fn the_delivery_filters_account_reads_encryption_settings_only() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let on = vec![Mod::Replace(
        "latchkeyEncryptionMethod",
        values(&["openpgp"]),
    )];
    assert_eq!(modify_alice(&app, ServiceAccount::Worker, on).await, 0);
    let (dn, password) = credentials(&app, ServiceAccount::Delivery);
    let alice = ldap::search(
        &app.slapd.url(),
        (&dn, &password),
        &demo::dn("alice"),
        "(objectClass=inetOrgPerson)",
    )
    .await
    .pop()
    .expect("the delivery filter finds alice");
    assert_eq!(alice.attrs["latchkeyEncryptionMethod"], vec!["openpgp"]);
    for hidden in ["userPassword", "latchkeyPrimaryPassword", "mail", "cn"] {
        assert!(!alice.attrs.contains_key(hidden), "{hidden} is readable");
    }
    let off = vec![Mod::Replace("latchkeyEncryptionMethod", HashSet::new())];
    let rc = modify_alice(&app, ServiceAccount::Delivery, off).await;
    assert_eq!(rc, INSUFFICIENT_ACCESS);
}

#[tokio::test]
async fn the_admin_tools_account_reads_job_records_and_uids_and_writes_nothing() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let job = latchkey_core::job::JobRecord::queued(
        latchkey_core::domain::JobId::new(),
        latchkey_core::job::JobKind::DisableTotp,
        latchkey_core::domain::Dn::from_directory(demo::dn("alice")),
        1,
        time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap(),
    );
    app.gateway_directory().create_job(&job).await.unwrap();
    let (dn, password) = credentials(&app, ServiceAccount::Admin);
    let url = app.slapd.url();
    let jobs_dn = "ou=jobs,dc=example,dc=org";
    let records = ldap::search(&url, (&dn, &password), jobs_dn, "(objectClass=latchkeyJob)").await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].attrs["latchkeyJobOwner"],
        vec![demo::dn("alice")]
    );
    let record_dn = format!("latchkeyJobId={},{jobs_dn}", job.id);
    let failed = vec![Mod::Replace("latchkeyJobState", values(&["failed"]))];
    let rc = ldap::modify(&url, (&dn, &password), &record_dn, failed).await;
    assert_eq!(rc, INSUFFICIENT_ACCESS, "it may not change a job record");
    let alice = ldap::search(&url, (&dn, &password), &demo::dn("alice"), "(uid=alice)")
        .await
        .pop()
        .expect("the admin tool finds alice by her uid");
    for hidden in ["userPassword", "latchkeyPrimaryPassword", "mail", "cn"] {
        assert!(!alice.attrs.contains_key(hidden), "{hidden} is readable");
    }
    let sessions = "ou=sessions,dc=example,dc=org";
    let client = app.signed_in(ALICE).await;
    drop(client);
    let seen = ldap::search(
        &url,
        (&dn, &password),
        sessions,
        "(objectClass=latchkeySession)",
    )
    .await;
    assert!(seen.is_empty(), "it sees no session");
    let rc = modify_alice(
        &app,
        ServiceAccount::Admin,
        vec![Mod::Replace("cn", values(&["x"]))],
    )
    .await;
    assert_eq!(rc, INSUFFICIENT_ACCESS);
}

#[tokio::test]
async fn each_process_writes_as_its_own_account() {
    let app = spawn_app(AppOptions::default()).await;
    let client = app.signed_in(ALICE).await;
    let job = app.change_password(&client, ALICE.1, NEW_PASSWORD).await;
    assert_eq!(app.finished_job(&client, &job).await["state"], "succeeded");
    let gateway = ServiceAccount::Gateway.dn();
    let worker = ServiceAccount::Worker.dn();

    let (dn, password) = app.service();
    let sessions = ldap::search(
        &app.slapd.url(),
        (&dn, &password),
        "ou=sessions,dc=example,dc=org",
        "(objectClass=latchkeySession)",
    )
    .await;
    assert!(!sessions.is_empty());
    for session in &sessions {
        assert_eq!(session.attrs["creatorsName"], vec![gateway.clone()]);
    }
    let jobs = app.job_entries().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].attrs["creatorsName"], vec![gateway.clone()]);
    assert_eq!(jobs[0].attrs["modifiersName"], vec![worker.clone()]);
    let alice = app.account_entry("alice").await;
    assert_eq!(alice.attrs["modifiersName"], vec![worker]);
}

/// A connection to the broker as `user`, and a channel with confirms on.
async fn channel_as(user: &BrokerUser) -> (Connection, Channel) {
    let url = broker::url_for(&broker::admin_url(), &user.name);
    let mut url = url::Url::parse(&url).unwrap();
    url.set_password(Some(&user.password)).unwrap();
    let connection = Connection::connect(url.as_str(), Default::default())
        .await
        .expect("the user connects");
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    (connection, channel)
}

/// Publishes a message as `user`, mandatory and confirmed; the error
/// text if the broker refused it.
async fn publish_as(user: &BrokerUser, exchange: &str, routing_key: &str) -> Result<(), String> {
    let (_connection, channel) = channel_as(user).await;
    let options = BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };
    let confirm = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            options,
            b"{}",
            BasicProperties::default(),
        )
        .await
        .map_err(|error| error.to_string())?;
    match confirm.await.map_err(|error| error.to_string())? {
        Confirmation::Ack(None) => Ok(()),
        other => Err(format!("not routed: {other:?}")),
    }
}

/// Starts consuming `queue` as `user`; the error text if refused.
async fn consume_as(user: &BrokerUser, queue: &str) -> Result<(), String> {
    let (_connection, channel) = channel_as(user).await;
    channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map(drop)
        .map_err(|error| error.to_string())
}

/// Declares the durable queue `queue` as `user`; the error text if refused.
async fn declare_as(user: &BrokerUser, queue: &str) -> Result<(), String> {
    let (_connection, channel) = channel_as(user).await;
    let options = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.into(), options, FieldTable::default())
        .await
        .map(drop)
        .map_err(|error| error.to_string())
}

fn refused(outcome: Result<(), String>, what: &str) {
    match outcome {
        Err(error) => assert!(error.contains("ACCESS_REFUSED"), "{what}: {error}"),
        Ok(()) => panic!("{what} was allowed"),
    }
}

#[tokio::test]
async fn the_gateways_broker_user_may_only_publish_jobs() {
    // The harness declares this test's topology as a worker would.
    let app = spawn_app(AppOptions::without_workers()).await;
    let topology = Topology::new(&app.settings.broker);
    let user = BrokerUser::create(Role::Gateway, &app.settings.broker.prefix);
    let credentials = topology.queue_name(Queue::Credentials);

    publish_as(&user, &topology.jobs_exchange(), Queue::Credentials.name())
        .await
        .expect("the gateway publishes a job");
    refused(consume_as(&user, &credentials).await, "consuming jobs");
    refused(
        publish_as(&user, "", &credentials).await,
        "publishing past the jobs exchange",
    );
    refused(
        publish_as(&user, "", &topology.failed_queue()).await,
        "parking a job",
    );
    refused(declare_as(&user, &credentials).await, "declaring a queue");
    // What the gateway does at start: check that the workers declared the exchange.
    let (_connection, channel) = channel_as(&user).await;
    topology.check(&channel).await.expect("a passive declare");
    let missing = channel
        .exchange_declare(
            "test-no-such-exchange".into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await;
    assert!(
        missing.is_err(),
        "a passive declare finds no other exchange"
    );
}

#[tokio::test]
async fn the_workers_broker_user_consumes_and_retries_but_never_publishes_jobs() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let topology = Topology::new(&app.settings.broker);
    let user = BrokerUser::create(Role::Worker, &app.settings.broker.prefix);
    let retry = topology
        .retry_queue(Queue::Credentials, 0)
        .expect("a first delay");

    refused(
        publish_as(&user, &topology.jobs_exchange(), Queue::Credentials.name()).await,
        "publishing a job",
    );
    consume_as(&user, &topology.queue_name(Queue::Credentials))
        .await
        .expect("the worker consumes its queue");
    publish_as(&user, "", &retry)
        .await
        .expect("the worker schedules a retry");
    publish_as(&user, "", &topology.failed_queue())
        .await
        .expect("the worker parks a job");
    // Declaring the whole topology again is the worker's to do.
    let settings = latchkey_core::config::BrokerSettings {
        url: broker::url_for(&broker::admin_url(), &user.name),
        password: Some(SecretString::from(user.password.clone())),
        ..app.settings.broker.clone()
    };
    latchkey_core::broker::AmqpPublisher::new(&settings)
        .declare_topology()
        .await
        .expect("the worker declares the topology");
}

#[tokio::test]
async fn the_admin_tools_broker_user_takes_parked_jobs_and_puts_them_back_and_nothing_else() {
    let app = spawn_app(AppOptions::without_workers()).await;
    let topology = Topology::new(&app.settings.broker);
    let user = BrokerUser::create(Role::Admin, &app.settings.broker.prefix);
    let credentials = topology.queue_name(Queue::Credentials);

    consume_as(&user, &topology.failed_queue())
        .await
        .expect("the admin tool takes parked messages");
    publish_as(&user, "", &credentials)
        .await
        .expect("the admin tool puts a job back on its queue");
    refused(
        publish_as(&user, &topology.jobs_exchange(), Queue::Credentials.name()).await,
        "publishing a job to the jobs exchange",
    );
    refused(consume_as(&user, &credentials).await, "consuming jobs");
    refused(
        declare_as(&user, &topology.failed_queue()).await,
        "declaring a queue",
    );
}
