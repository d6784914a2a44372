//! The consume loop: deliveries in, outcomes mapped to ack, retry or park.

use crate::outcome::Outcome;
use crate::step::{self, Context, Milestone, process, record};
use futures_util::StreamExt;
use futures_util::stream::select_all;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Connection, ConnectionProperties};
use latchkey_core::broker::{ATTEMPT_HEADER, AmqpPublisher, Parking, Publisher, Topology};
use latchkey_core::config::{BrokerSettings, WorkerSettings};
use latchkey_core::directory::Directory;
use latchkey_core::job::{Envelope, Queue};
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument;

/// The first pause before reaching for the broker again.
const FIRST_RECONNECT_DELAY: Duration = Duration::from_millis(200);
/// The longest pause between attempts to reach the broker again.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(30);
/// How long a job waits before it goes back to its queue because the broker
/// would not take its retry or its park: it is not lost, and a broker in
/// trouble is not handed the same job again at once.
const REQUEUE_PAUSE: Duration = Duration::from_secs(1);

/// A worker: consumes the configured queues until told to stop.
pub struct Worker<D> {
    context: Arc<Context<D>>,
    publisher: AmqpPublisher,
    topology: Topology,
    url: SecretString,
    queues: Vec<Queue>,
    prefetch: u16,
}

/// A running worker.
pub struct WorkerHandle {
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
    connection: Arc<Mutex<Option<Arc<Connection>>>>,
}

impl<D> Worker<D>
where
    D: Directory,
{
    /// A worker for the queues `worker.queues` names (unknown names are an error).
    pub fn new(
        context: Context<D>,
        broker: &BrokerSettings,
        worker: &WorkerSettings,
    ) -> anyhow::Result<Self> {
        let queues = worker
            .queues
            .iter()
            .map(|name| {
                Queue::parse(name).ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown queue `{name}` in worker.queues (credentials, mailbox)"
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            context: Arc::new(context),
            publisher: AmqpPublisher::new(broker),
            topology: Topology::new(broker),
            url: broker.connection_url(),
            queues,
            prefetch: worker.prefetch,
        })
    }

    /// Declares the topology and starts consuming in the background.
    pub async fn start(self) -> anyhow::Result<WorkerHandle> {
        self.publisher.declare_topology().await?;
        let (stop, stopped) = watch::channel(false);
        let connection = Arc::new(Mutex::new(None));
        let shared = Arc::clone(&connection);
        let worker = Arc::new(self);
        let task = tokio::spawn(async move { worker.run(stopped, shared).await });
        Ok(WorkerHandle {
            task,
            stop,
            connection,
        })
    }

    /// Consumes until stopped, reconnecting with growing delays when the
    /// broker goes away. Jobs in hand when it went are finished first;
    /// their acks are lost with the connection, so the broker gives them
    /// out again once it is back, and they find themselves applied. Every
    /// reconnection declares the topology again, so a broker that came
    /// back without it (a new node, a lost volume) gets it back.
    async fn run(
        self: Arc<Self>,
        mut stopped: watch::Receiver<bool>,
        current: Arc<Mutex<Option<Arc<Connection>>>>,
    ) {
        let mut backoff = Backoff::default();
        loop {
            match self.consume(&mut stopped, &current, &mut backoff).await {
                Ok(()) => return,
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%error, ?delay, "lost the broker; reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stopped.changed() => return,
                    }
                }
            }
            if let Err(error) = self.publisher.declare_topology().await {
                // Consuming fails next and says so, if it matters.
                tracing::debug!(%error, "could not declare the topology again");
            }
        }
    }

    /// One connection's life: consume until stopped (`Ok`) or the connection fails.
    async fn consume(
        self: &Arc<Self>,
        stopped: &mut watch::Receiver<bool>,
        current: &Mutex<Option<Arc<Connection>>>,
        backoff: &mut Backoff,
    ) -> lapin::Result<()> {
        let connection = Arc::new(
            Connection::connect(self.url.expose_secret(), ConnectionProperties::default()).await?,
        );
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let mut consumers = Vec::new();
        for queue in &self.queues {
            let consumer = channel
                .basic_consume(
                    self.topology.queue_name(*queue).as_str().into(),
                    ShortString::from(""),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            consumers.push(consumer.map(move |delivery| (*queue, delivery)));
        }
        *current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::clone(&connection));
        backoff.reset();
        tracing::info!(queues = ?self.queues, prefetch = self.prefetch, "consuming");
        let mut deliveries = select_all(consumers);
        let mut in_flight = JoinSet::new();
        let ended = loop {
            tokio::select! {
                _ = stopped.changed() => break Ok(()),
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                next = deliveries.next() => match next {
                    Some((queue, Ok(delivery))) => {
                        let worker = Arc::clone(self);
                        in_flight.spawn(async move { worker.settle(queue, delivery).await });
                    }
                    Some((_, Err(error))) => break Err(error),
                    None => break Err(lapin::Error::from(lapin::ErrorKind::InvalidConnectionState(
                        lapin::ConnectionState::Closed,
                    ))),
                },
            }
        };
        // Finish the jobs in hand (their acks need the channel), then leave.
        drop(deliveries);
        while in_flight.join_next().await.is_some() {}
        let _ = connection.close(200, "worker stopping".into()).await;
        ended
    }

    /// Processes one delivery and settles it exactly once: acked only once
    /// what the outcome asks (a record, a retry, a park) is done; requeued
    /// when the broker would not take the retry or the park.
    async fn settle(&self, queue: Queue, delivery: Delivery) {
        let envelope = match Envelope::open(&self.context.keyring, &delivery.data) {
            Ok(envelope) => envelope,
            Err(error) => {
                latchkey_core::audit!(JobRefused, Refused, reason = %error, "a message on the job queue is not an authentic job; parking it");
                let note = Parking::new(error.to_string(), self.context.clock.now(), queue, None);
                self.park_then_settle(&delivery, note, None).await;
                return;
            }
        };
        let retries_done = retries_done(&delivery);
        let span = step::span(&envelope, retries_done + 1);
        self.settle_job(queue, &delivery, envelope, retries_done)
            .instrument(span)
            .await;
    }

    /// Applies an authentic job and settles its delivery as the outcome asks.
    async fn settle_job(
        &self,
        queue: Queue,
        delivery: &Delivery,
        envelope: Envelope,
        retries_done: u32,
    ) {
        let attempt = retries_done + 1;
        let outcome = process(&self.context, &envelope, attempt).await;
        if outcome == Outcome::Done {
            let waited = self.context.clock.now() - envelope.requested_at;
            metrics::histogram!("latchkey_job_latency_seconds", "kind" => envelope.kind.as_str())
                .record(waited.as_seconds_f64().max(0.0));
        }
        metrics::counter!("latchkey_jobs_total", "kind" => envelope.kind.as_str(), "outcome" => outcome_label(&outcome)).increment(1);
        let job = envelope.job_id;
        match outcome {
            Outcome::Done | Outcome::Superseded | Outcome::Split(_) => ack(delivery).await,
            Outcome::Failed(reason) => {
                latchkey_core::audit!(JobFailed, Failure, account = %envelope.account, job = %job, kind = envelope.kind.as_str(), %reason);
                self.record_then_ack(delivery, &envelope, Milestone::Failed(reason))
                    .await
            }
            Outcome::Later(due) => {
                // Sealed again with the current key at every hop, so a key
                // rotation never strands a job that waits for months.
                let resealed = envelope.seal(&self.context.keyring);
                let headers = delivery.properties.headers().clone().unwrap_or_default();
                let held = self
                    .context
                    .scheduler
                    .hold_until(queue, &resealed, headers, due, self.context.clock.now())
                    .await;
                match held {
                    Ok(()) => ack(delivery).await,
                    Err(error) => {
                        tracing::error!(%error, "cannot put the job back on the delay queues; returning it to its queue");
                        nack_requeue(delivery).await;
                    }
                }
            }
            Outcome::Refused(reason) => {
                latchkey_core::audit!(JobRefused, Refused, account = %envelope.account, job = %job, %reason, "refusing the job; parking it");
                let reason = format!("refused: {reason}");
                let note = self.note(reason, queue, &envelope);
                self.park_then_settle(delivery, note, None).await;
            }
            Outcome::Retry(reason) => {
                tracing::warn!(%reason, attempt, "job failed for now");
                match self.topology.retry_queue(queue, retries_done as usize) {
                    Some(retry_queue) => {
                        let headers = with_retries(delivery, attempt);
                        let scheduled = self
                            .publisher
                            .publish_to_queue(&retry_queue, &delivery.data, headers)
                            .await;
                        match scheduled {
                            Ok(()) => {
                                let milestone = Milestone::RetryScheduled { attempt };
                                self.record_then_ack(delivery, &envelope, milestone).await;
                            }
                            Err(error) => {
                                tracing::error!(%error, "cannot schedule the retry; returning the job to its queue");
                                nack_requeue(delivery).await;
                            }
                        }
                    }
                    None => {
                        let gave_up = Milestone::GaveUp { attempts: attempt };
                        let reason = format!("gave up after {attempt} attempts: {reason}");
                        latchkey_core::audit!(JobFailed, Failure, account = %envelope.account, job = %job, kind = envelope.kind.as_str(), %reason);
                        let note = self.note(reason, queue, &envelope);
                        self.park_then_settle(delivery, note, Some((&envelope, gave_up)))
                            .await;
                    }
                }
            }
        }
    }

    /// Writes the record, then acks; a record that cannot be written is
    /// logged (the job's effect, or its failure, stands either way).
    async fn record_then_ack(
        &self,
        delivery: &Delivery,
        envelope: &Envelope,
        milestone: Milestone,
    ) {
        if let Err(error) = record(&self.context, envelope, milestone).await {
            tracing::warn!(%error, job = %envelope.job_id, "could not record the job's state");
        }
        ack(delivery).await;
    }

    /// The parking note of a job from `queue` parked now for `reason`.
    fn note(&self, reason: String, queue: Queue, envelope: &Envelope) -> Parking {
        Parking::new(reason, self.context.clock.now(), queue, Some(envelope))
    }

    /// Keeps a job in the failed queue for operators, with `note` (why,
    /// when, from where) in its headers, then records `milestone` if given
    /// and acks; if the broker will not take it, the job goes back to its
    /// queue instead, never lost.
    async fn park_then_settle(
        &self,
        delivery: &Delivery,
        note: Parking,
        milestone: Option<(&Envelope, Milestone)>,
    ) {
        let headers = note.written_into(delivery.properties.headers().clone().unwrap_or_default());
        let parked = self
            .publisher
            .publish_to_queue(&self.topology.failed_queue(), &delivery.data, headers)
            .await;
        match (parked, milestone) {
            (Err(error), _) => {
                tracing::error!(%error, "cannot park the job; returning it to its queue");
                nack_requeue(delivery).await;
            }
            (Ok(()), Some((envelope, milestone))) => {
                self.record_then_ack(delivery, envelope, milestone).await
            }
            (Ok(()), None) => ack(delivery).await,
        }
    }
}

impl WorkerHandle {
    /// Tells the worker to stop taking jobs; [`WorkerHandle::shutdown`] waits for it.
    pub fn begin_shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops taking jobs, finishes the ones in hand, and closes the connection.
    pub async fn shutdown(self) {
        self.begin_shutdown();
        let _ = self.task.await;
    }

    /// Stops at once, as a crash would: jobs in hand are not acknowledged,
    /// so the broker gives them to another worker.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
        let connection = self
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(connection) = connection {
            let _ = connection.close(320, "worker killed".into()).await;
        }
    }

    /// Whether the worker currently holds a live broker connection.
    pub fn is_connected(&self) -> bool {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .is_some_and(|connection| connection.status().connected())
    }
}

/// The pauses between attempts to reach the broker: doubling up to
/// [`MAX_RECONNECT_DELAY`], and back to the first once a connection
/// consumes again, so each outage starts with a quick retry.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: FIRST_RECONNECT_DELAY,
        }
    }
}

impl Backoff {
    /// The pause before the next attempt.
    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(MAX_RECONNECT_DELAY);
        delay
    }

    /// Connected again: the next outage starts from the first pause.
    fn reset(&mut self) {
        *self = Self::default();
    }
}

fn retries_done(delivery: &Delivery) -> u32 {
    let value = delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get(ATTEMPT_HEADER).cloned());
    match value {
        Some(AMQPValue::LongInt(n)) => n.max(0) as u32,
        Some(AMQPValue::LongLongInt(n)) => n.max(0) as u32,
        Some(AMQPValue::ShortInt(n)) => n.max(0) as u32,
        _ => 0,
    }
}

fn with_retries(delivery: &Delivery, retries: u32) -> FieldTable {
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(
        ShortString::from(ATTEMPT_HEADER),
        AMQPValue::LongInt(i32::try_from(retries).unwrap_or(i32::MAX)),
    );
    headers
}

fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Done => "done",
        Outcome::Superseded => "superseded",
        Outcome::Split(_) => "split",
        Outcome::Later(_) => "later",
        Outcome::Retry(_) => "retry",
        Outcome::Failed(_) => "failed",
        Outcome::Refused(_) => "refused",
    }
}

async fn ack(delivery: &Delivery) {
    if let Err(error) = delivery.ack(BasicAckOptions::default()).await {
        // The channel is gone: the broker redelivers, and the job is idempotent.
        tracing::warn!(%error, "ack failed; the job will be redelivered");
    }
}

async fn nack_requeue(delivery: &Delivery) {
    tokio::time::sleep(REQUEUE_PAUSE).await;
    let options = BasicNackOptions {
        requeue: true,
        ..Default::default()
    };
    if let Err(error) = delivery.nack(options).await {
        tracing::warn!(%error, "nack failed; the job will be redelivered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_double_up_to_the_ceiling_and_start_over_once_connected() {
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..10)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();
        assert_eq!(
            delays,
            [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
        );
        backoff.reset();
        assert_eq!(backoff.next_delay(), FIRST_RECONNECT_DELAY);
    }
}
