use super::topology::Topology;
use super::{ATTEMPT_HEADER, REQUEST_ID_HEADER};
use crate::config::BrokerSettings;
use crate::job::Queue;
use deadpool::managed::{self, Metrics, Pool, RecycleError, RecycleResult};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::time::Duration;
use thiserror::Error;
use uuid::Uuid;

/// Why a job was not accepted by the broker. In every case the job is not
/// durable and the client must not be told it was.
#[derive(Debug, Error)]
pub enum PublishError {
    /// No connection or channel could be had.
    #[error("the message broker is unreachable: {0}")]
    Unreachable(String),
    /// The broker refused the message (nack) or could not route it.
    #[error("the message broker refused the job: {0}")]
    Refused(String),
    /// The broker did not confirm in time.
    #[error("the message broker did not confirm the job in time")]
    Timeout,
}

/// Publishes messages durably: persistent, `mandatory`, and confirmed.
pub trait Publisher: Send + Sync + 'static {
    /// Publishes a sealed job envelope to `queue` through the jobs exchange,
    /// with the id the gateway made for the HTTP request that caused it.
    fn publish_job(
        &self,
        queue: Queue,
        envelope: &[u8],
        request_id: Uuid,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;

    /// Publishes `body` to `queue` through the default exchange, with headers
    /// (for retries and parking).
    fn publish_to_queue(
        &self,
        queue: &str,
        body: &[u8],
        headers: FieldTable,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

/// Opens AMQP connections for the pool.
pub(super) struct AmqpConnections {
    url: SecretString,
}

impl managed::Manager for AmqpConnections {
    type Type = Connection;
    type Error = lapin::Error;

    async fn create(&self) -> Result<Connection, lapin::Error> {
        Connection::connect(self.url.expose_secret(), ConnectionProperties::default()).await
    }

    async fn recycle(
        &self,
        connection: &mut Connection,
        _: &Metrics,
    ) -> RecycleResult<lapin::Error> {
        if connection.status().connected() {
            Ok(())
        } else {
            Err(RecycleError::message("connection closed"))
        }
    }
}

/// The RabbitMQ publisher, over a pool of connections.
#[derive(Clone)]
pub struct AmqpPublisher {
    pool: Pool<AmqpConnections>,
    topology: Topology,
    confirm_timeout: Duration,
}

impl std::fmt::Debug for AmqpPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpPublisher")
            .field("topology", &self.topology)
            .finish()
    }
}

impl AmqpPublisher {
    /// A publisher; connections open lazily.
    pub fn new(settings: &BrokerSettings) -> Self {
        let timeout = Duration::from_millis(settings.confirm_timeout_ms);
        let manager = AmqpConnections {
            url: settings.connection_url(),
        };
        let pool = Pool::builder(manager)
            .max_size(4)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .expect("a pool with a runtime and timeouts builds");
        Self {
            pool,
            topology: Topology::new(settings),
            confirm_timeout: timeout,
        }
    }

    /// The topology this publisher routes by.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// A channel with publisher confirms on.
    async fn confirming_channel(&self) -> Result<lapin::Channel, PublishError> {
        let connection = self
            .pool
            .get()
            .await
            .map_err(|error| PublishError::Unreachable(error.to_string()))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|error| PublishError::Unreachable(error.to_string()))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|error| PublishError::Unreachable(error.to_string()))?;
        Ok(channel)
    }

    /// Declares the topology (idempotent).
    pub async fn declare_topology(&self) -> Result<(), PublishError> {
        let channel = self.confirming_channel().await?;
        let declared = self.topology.declare(&channel).await;
        let _ = channel.close(200, "declared".into()).await;
        declared.map_err(|error| PublishError::Refused(error.to_string()))
    }

    /// Checks that the workers have declared the jobs exchange (a gateway
    /// may publish to it but not declare it).
    pub async fn check_topology(&self) -> Result<(), PublishError> {
        let channel = self.confirming_channel().await?;
        let checked = self.topology.check(&channel).await;
        let _ = channel.close(200, "checked".into()).await;
        checked.map_err(|error| PublishError::Refused(error.to_string()))
    }

    /// Whether the broker answers.
    pub async fn ping(&self) -> Result<(), PublishError> {
        let channel = self.confirming_channel().await?;
        let _ = channel.close(200, "ping".into()).await;
        Ok(())
    }

    /// Publishes and waits for the broker's confirmation; every failure is
    /// counted by kind.
    async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        headers: FieldTable,
    ) -> Result<(), PublishError> {
        let published = self
            .publish_confirmed(exchange, routing_key, body, headers)
            .await;
        if let Err(error) = &published {
            let kind = match error {
                PublishError::Unreachable(_) => "unreachable",
                PublishError::Refused(_) => "refused",
                PublishError::Timeout => "timeout",
            };
            metrics::counter!("latchkey_broker_errors_total", "kind" => kind).increment(1);
        }
        published
    }

    async fn publish_confirmed(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        headers: FieldTable,
    ) -> Result<(), PublishError> {
        let channel = self.confirming_channel().await?;
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_headers(headers);
        let options = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let confirmed = tokio::time::timeout(self.confirm_timeout, async {
            channel
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    options,
                    body,
                    properties,
                )
                .await?
                .await
        })
        .await;
        let _ = channel.close(200, "published".into()).await;
        match confirmed {
            Err(_) => Err(PublishError::Timeout),
            Ok(Err(error)) => Err(PublishError::Unreachable(error.to_string())),
            Ok(Ok(Confirmation::Ack(None))) => Ok(()),
            Ok(Ok(Confirmation::Ack(Some(_)))) => Err(PublishError::Refused(format!(
                "no queue is bound for `{routing_key}`"
            ))),
            Ok(Ok(Confirmation::Nack(_))) => Err(PublishError::Refused("nack".into())),
            Ok(Ok(Confirmation::NotRequested)) => {
                Err(PublishError::Refused("confirms were not enabled".into()))
            }
        }
    }
}

impl Publisher for AmqpPublisher {
    async fn publish_job(
        &self,
        queue: Queue,
        envelope: &[u8],
        request_id: Uuid,
    ) -> Result<(), PublishError> {
        let mut headers = FieldTable::default();
        headers.insert(ShortString::from(ATTEMPT_HEADER), AMQPValue::LongInt(0));
        headers.insert(
            ShortString::from(REQUEST_ID_HEADER),
            AMQPValue::LongString(request_id.to_string().into()),
        );
        let exchange = self.topology.jobs_exchange();
        self.publish(&exchange, queue.name(), envelope, headers)
            .await
    }

    async fn publish_to_queue(
        &self,
        queue: &str,
        body: &[u8],
        headers: FieldTable,
    ) -> Result<(), PublishError> {
        self.publish("", queue, body, headers).await
    }
}
