use crate::config::BrokerSettings;
use crate::job::Queue;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};

/// The names of every exchange and queue, derived from one prefix.
///
/// Jobs are published to the direct exchange `<prefix>.jobs` and routed by
/// queue name to the quorum queues `<prefix>.credentials` and
/// `<prefix>.mailbox`. A job to retry goes to the delay queue of its attempt,
/// `<prefix>.<queue>.retry.<n>`, whose TTL dead-letters it back to its queue
/// through the default exchange; after the last delay it is parked in
/// `<prefix>.failed`.
///
/// The workers declare all of it; gateways only publish to the jobs
/// exchange (their broker user may do nothing else), so they check that it
/// exists. Retries dead-letter through the default exchange, which workers
/// publish to anyway, so that declaring a delay queue needs no right to
/// publish to the jobs exchange.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    retry_delays_ms: Vec<u64>,
    queue_expires_ms: Option<u64>,
}

impl Topology {
    /// The topology the settings describe.
    pub fn new(settings: &BrokerSettings) -> Self {
        Self {
            prefix: settings.prefix.clone(),
            retry_delays_ms: settings.retry_delays_ms.clone(),
            queue_expires_ms: settings.queue_expires_ms,
        }
    }

    /// The exchange jobs are published to.
    pub fn jobs_exchange(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    /// The queue a worker consumes for `queue`.
    pub fn queue_name(&self, queue: Queue) -> String {
        format!("{}.{}", self.prefix, queue.name())
    }

    /// The delay queue for retry number `retry` (from 0) of a `queue` job,
    /// or `None` once the retries are used up.
    pub fn retry_queue(&self, queue: Queue, retry: usize) -> Option<String> {
        (retry < self.retry_delays_ms.len())
            .then(|| format!("{}.{}.retry.{retry}", self.prefix, queue.name()))
    }

    /// Where jobs that failed for good are kept for operators.
    pub fn failed_queue(&self) -> String {
        format!("{}.failed", self.prefix)
    }

    /// Declares everything (idempotent; workers call it at start).
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        channel
            .exchange_declare(
                self.jobs_exchange().as_str().into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        for queue in Queue::ALL {
            let name = self.queue_name(queue);
            self.declare_queue(channel, &name, self.quorum()).await?;
            channel
                .queue_bind(
                    name.as_str().into(),
                    self.jobs_exchange().as_str().into(),
                    queue.name().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            for (retry, delay) in self.retry_delays_ms.iter().enumerate() {
                let mut arguments = self.expiring();
                insert(
                    &mut arguments,
                    "x-message-ttl",
                    AMQPValue::LongLongInt(*delay as i64),
                );
                insert(&mut arguments, "x-dead-letter-exchange", string(""));
                insert(
                    &mut arguments,
                    "x-dead-letter-routing-key",
                    string(&self.queue_name(queue)),
                );
                let name = self
                    .retry_queue(queue, retry)
                    .expect("retry within the delays");
                self.declare_queue(channel, &name, arguments).await?;
            }
        }
        self.declare_queue(channel, &self.failed_queue(), self.quorum())
            .await
    }

    /// Whether the jobs exchange exists (a passive declare, which needs no
    /// permission to configure it); `Err` names the reason if not.
    pub async fn check(&self, channel: &Channel) -> lapin::Result<()> {
        channel
            .exchange_declare(
                self.jobs_exchange().as_str().into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
    }

    async fn declare_queue(
        &self,
        channel: &Channel,
        name: &str,
        arguments: FieldTable,
    ) -> lapin::Result<()> {
        let options = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .queue_declare(name.into(), options, arguments)
            .await
            .map(drop)
    }

    fn expiring(&self) -> FieldTable {
        let mut arguments = FieldTable::default();
        if let Some(expires) = self.queue_expires_ms {
            insert(
                &mut arguments,
                "x-expires",
                AMQPValue::LongLongInt(expires as i64),
            );
        }
        arguments
    }

    fn quorum(&self) -> FieldTable {
        let mut arguments = self.expiring();
        insert(&mut arguments, "x-queue-type", string("quorum"));
        arguments
    }
}

fn string(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

fn insert(table: &mut FieldTable, key: &str, value: AMQPValue) {
    table.insert(ShortString::from(key), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_run_out_after_the_configured_delays() {
        let topology = Topology::new(&BrokerSettings {
            url: String::new(),
            password: None,
            prefix: "lk".into(),
            retry_delays_ms: vec![10, 20],
            queue_expires_ms: None,
            confirm_timeout_ms: 1,
        });
        assert_eq!(
            topology.retry_queue(Queue::Credentials, 1).as_deref(),
            Some("lk.credentials.retry.1")
        );
        assert_eq!(topology.retry_queue(Queue::Credentials, 2), None);
        assert_eq!(topology.queue_name(Queue::Mailbox), "lk.mailbox");
    }
}
