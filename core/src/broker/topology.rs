use crate::config::BrokerSettings;
use crate::job::Queue;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};
use std::time::Duration;

/// The delays of the delay ladder, shortest first, each four times the one
/// before: a job waits on the longest rung that does not pass its time, and
/// on the shortest when less is left, so it is never early and at most
/// 125 ms late. A wait longer than the top rung (about 34 minutes) takes
/// the top rung again each time the job comes back early.
pub const DELAY_LADDER_MS: [u64; 8] = [125, 500, 2_000, 8_000, 32_000, 128_000, 512_000, 2_048_000];

/// The names of every exchange and queue, derived from one prefix.
///
/// Jobs are published to the direct exchange `<prefix>.jobs` and routed by
/// queue name to the quorum queues `<prefix>.credentials` and
/// `<prefix>.mailbox`. A job to retry goes to the delay queue of its attempt,
/// `<prefix>.<queue>.retry.<n>`, whose TTL dead-letters it back to its queue
/// through the default exchange; after the last delay it is parked in
/// `<prefix>.failed`.
///
/// A job scheduled for later (an app password's expiry) waits on the delay
/// ladder, `<prefix>.<queue>.delay.<ms>` for each of [`DELAY_LADDER_MS`]:
/// one fixed TTL per queue, dead-lettered back to its queue the same way. A
/// per-message TTL would not do, since a queue expires messages only at its
/// head: a 30-day job would hold back a 5-second one behind it. With one
/// delay per queue, messages leave in the order they came, each on time.
///
/// The workers declare all of it; gateways only publish to the jobs
/// exchange (their broker user may do nothing else), so they check that it
/// exists. Delays dead-letter through the default exchange, which workers
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

    /// The rung of the delay ladder for a `queue` job that is due in
    /// `wait`, and how long it holds the job: the longest delay not past
    /// `wait`, or the shortest if `wait` is shorter still.
    pub fn delay_queue(&self, queue: Queue, wait: Duration) -> (String, Duration) {
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        let delay = DELAY_LADDER_MS
            .into_iter()
            .rev()
            .find(|delay| *delay <= wait_ms)
            .unwrap_or(DELAY_LADDER_MS[0]);
        (
            format!("{}.{}.delay.{delay}", self.prefix, queue.name()),
            Duration::from_millis(delay),
        )
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
                let arguments = self.returning_after(queue, *delay);
                let name = self
                    .retry_queue(queue, retry)
                    .expect("retry within the delays");
                self.declare_queue(channel, &name, arguments).await?;
            }
            for delay in DELAY_LADDER_MS {
                let (name, _) = self.delay_queue(queue, Duration::from_millis(delay));
                self.declare_queue(channel, &name, self.returning_after(queue, delay))
                    .await?;
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

    /// Arguments of a delay queue: every message goes back to `queue`
    /// through the default exchange after `delay_ms`.
    fn returning_after(&self, queue: Queue, delay_ms: u64) -> FieldTable {
        let mut arguments = self.expiring();
        insert(
            &mut arguments,
            "x-message-ttl",
            AMQPValue::LongLongInt(i64::try_from(delay_ms).unwrap_or(i64::MAX)),
        );
        insert(&mut arguments, "x-dead-letter-exchange", string(""));
        insert(
            &mut arguments,
            "x-dead-letter-routing-key",
            string(&self.queue_name(queue)),
        );
        arguments
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

    fn topology() -> Topology {
        Topology::new(&BrokerSettings {
            url: String::new(),
            password: None,
            prefix: "lk".into(),
            retry_delays_ms: vec![],
            queue_expires_ms: None,
            confirm_timeout_ms: 1,
        })
    }

    /// Where a job due in `wait_ms` waits, hop by hop, until it is due.
    fn hops(wait_ms: u64) -> Vec<u64> {
        let topology = topology();
        let mut left = wait_ms;
        let mut hops = Vec::new();
        while left > 0 {
            let (_, delay) = topology.delay_queue(Queue::Credentials, Duration::from_millis(left));
            let delay = u64::try_from(delay.as_millis()).unwrap();
            hops.push(delay);
            left = left.saturating_sub(delay);
        }
        hops
    }

    #[test]
    fn a_scheduled_job_waits_on_the_longest_rung_that_is_not_past_its_time() {
        let (name, delay) = topology().delay_queue(Queue::Credentials, Duration::from_secs(5));
        assert_eq!(
            (name.as_str(), delay),
            ("lk.credentials.delay.2000", Duration::from_secs(2))
        );
        assert_eq!(hops(5_000), vec![2_000, 2_000, 500, 500]);
        assert_eq!(
            hops(5_010),
            vec![2_000, 2_000, 500, 500, 125],
            "late by 115 ms at most"
        );
        assert_eq!(hops(0), Vec::<u64>::new());
        let (_, delay) = topology().delay_queue(Queue::Credentials, Duration::ZERO);
        assert_eq!(
            delay,
            Duration::from_millis(125),
            "never less than the shortest rung"
        );
    }

    #[test]
    fn a_long_wait_takes_the_top_rung_until_its_time_is_near() {
        let thirty_days = 30 * 24 * 3_600 * 1_000;
        let hops = hops(thirty_days);
        assert_eq!(hops.iter().sum::<u64>(), thirty_days);
        assert!(hops.len() < 1_300, "{} hops", hops.len());
        assert!(hops.iter().all(|hop| DELAY_LADDER_MS.contains(hop)));
        assert!(
            hops.windows(2).all(|pair| pair[0] >= pair[1]),
            "longest first"
        );
    }
}
