//! The parked messages in `<prefix>.failed`. The tool takes every message
//! off the queue unacknowledged (`basic.get`), so while it works the broker
//! keeps them for it alone and it meets none twice; it settles the ones
//! asked for and hands every other back untouched (`basic.nack` with
//! requeue). If the tool dies midway, the broker hands back all it had not
//! acknowledged; a requeue acknowledges only after the broker confirmed the
//! copy on the job queue, so at worst a job is both requeued and still
//! parked, and a worker applies a job only once.

use crate::cli::Selector;
use crate::error::{AdminError, Result};
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions};
use lapin::types::{DeliveryTag, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties};
use latchkey_core::ExposeSecret;
use latchkey_core::broker::{
    AmqpPublisher, Parking, Publisher, REQUEST_ID_HEADER, Topology, header_text, requeue_headers,
};
use latchkey_core::config::BrokerSettings;
use latchkey_core::job::Queue;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::time::Duration;

/// A parked message's id: the start of the SHA-256 of its body, so the
/// same message has the same id in every listing, and a message that names
/// no job can still be named.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// Hex digits in an id (64 bits of the digest).
    pub const DIGITS: usize = 16;

    /// The id of the message with this body.
    pub fn of(body: &[u8]) -> Self {
        let digest = Sha256::digest(body);
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        Self(hex[..Self::DIGITS].to_owned())
    }

    /// Parses an id as `failed list` shows it (either case).
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == Self::DIGITS && raw.chars().all(|c| c.is_ascii_hexdigit()))
            .then(|| Self(raw.to_ascii_lowercase()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message the tool holds, unacknowledged, until it settles or returns it.
#[derive(Debug, Clone)]
pub struct ParkedMessage {
    tag: DeliveryTag,
    /// Its id.
    pub id: MessageId,
    /// The sealed envelope (or whatever was published), as parked.
    pub body: Vec<u8>,
    /// Its headers, as parked.
    pub headers: FieldTable,
    /// The worker's note: why, when, from where, which job.
    pub parking: Parking,
    /// The id of the HTTP request that caused the job, if it says.
    pub request_id: Option<String>,
}

impl ParkedMessage {
    /// Whether `selector` names this message.
    pub fn matches(&self, selector: &Selector) -> bool {
        match selector {
            Selector::Job(job) => self.parking.job == Some(*job),
            Selector::Message(id) => self.id == *id,
        }
    }

    /// The job queue a requeue puts it on: the one it was parked from, or
    /// the one its kind travels on; `None` if it says neither.
    pub fn home(&self) -> Option<Queue> {
        self.parking
            .queue
            .or_else(|| self.parking.kind.map(|kind| kind.queue()))
    }
}

/// The failed queue, and the messages taken off it that are not settled yet.
pub struct FailedQueue {
    connection: Connection,
    channel: Channel,
    name: String,
    topology: Topology,
    publisher: AmqpPublisher,
    url: String,
    unsettled: BTreeSet<DeliveryTag>,
}

impl FailedQueue {
    /// Connects as the tool's own broker user and takes every message
    /// parked when it looks.
    pub async fn open(settings: &BrokerSettings) -> Result<(Self, Vec<ParkedMessage>)> {
        let url = settings.redacted_url();
        let timeout = Duration::from_millis(settings.confirm_timeout_ms);
        let secret_url = settings.connection_url();
        let connecting =
            Connection::connect(secret_url.expose_secret(), ConnectionProperties::default());
        let connection = match tokio::time::timeout(timeout, connecting).await {
            Ok(connected) => connected.map_err(|error| AdminError::from_broker(&url, &error))?,
            Err(_) => {
                return Err(AdminError::BrokerUnreachable {
                    url,
                    detail: format!("no answer within {} ms", settings.confirm_timeout_ms),
                });
            }
        };
        let channel = connection
            .create_channel()
            .await
            .map_err(|error| AdminError::from_broker(&url, &error))?;
        let topology = Topology::new(settings);
        let mut queue = Self {
            connection,
            channel,
            name: topology.failed_queue(),
            topology,
            publisher: AmqpPublisher::new(settings),
            url,
            unsettled: BTreeSet::new(),
        };
        let messages = queue.take_all().await.map_err(|error| match error {
            AdminError::BrokerRefused(text) if text.contains("NOT_FOUND") => {
                AdminError::BrokerRefused(format!(
                    "{text} (the workers declare it when they first start: is broker.prefix \
                     `{}` right?)",
                    settings.prefix
                ))
            }
            other => other,
        })?;
        Ok((queue, messages))
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Takes the messages in the queue now; those parked meanwhile stay
    /// for the next look.
    async fn take_all(&mut self) -> Result<Vec<ParkedMessage>> {
        let mut messages = Vec::new();
        let mut in_queue = usize::MAX;
        while messages.len() < in_queue {
            let got = self
                .channel
                .basic_get(self.name.as_str().into(), BasicGetOptions { no_ack: false })
                .await
                .map_err(|error| AdminError::from_broker(&self.url, &error))?;
            let Some(got) = got else { break };
            if messages.is_empty() {
                // The count is what is left behind this first message.
                in_queue = usize::try_from(got.message_count).map_or(usize::MAX, |n| n + 1);
            }
            let delivery = got.delivery;
            self.unsettled.insert(delivery.delivery_tag);
            let headers = delivery.properties.headers().clone().unwrap_or_default();
            messages.push(ParkedMessage {
                tag: delivery.delivery_tag,
                id: MessageId::of(&delivery.data),
                parking: Parking::read(&headers),
                request_id: header_text(&headers, REQUEST_ID_HEADER),
                headers,
                body: delivery.data,
            });
        }
        Ok(messages)
    }

    /// Publishes `message` to the job queue `queue` through the default
    /// exchange, as a worker publishes a retry (persistent, `mandatory`,
    /// confirmed), with the body it was parked with and the headers of
    /// [`requeue_headers`]; only once the broker confirmed is it
    /// acknowledged off the failed queue. Answers the job queue's name.
    pub async fn requeue(&mut self, message: &ParkedMessage, queue: Queue) -> Result<String> {
        let target = self.topology.queue_name(queue);
        self.publisher
            .publish_to_queue(&target, &message.body, requeue_headers(&message.headers))
            .await
            .map_err(|error| AdminError::from_publish(&self.url, error))?;
        self.ack(message).await?;
        Ok(target)
    }

    /// Acknowledges `message` off the failed queue for good.
    pub async fn discard(&mut self, message: &ParkedMessage) -> Result<()> {
        self.ack(message).await
    }

    async fn ack(&mut self, message: &ParkedMessage) -> Result<()> {
        self.channel
            .basic_ack(message.tag, BasicAckOptions::default())
            .await
            .map_err(|error| AdminError::from_broker(&self.url, &error))?;
        self.unsettled.remove(&message.tag);
        Ok(())
    }

    /// Hands every message not settled back to the queue as it was, and
    /// closes; when this returns, the broker has taken every settlement.
    pub async fn close(self) -> Result<()> {
        let broker = |error: lapin::Error| AdminError::from_broker(&self.url, &error);
        if let Some(last) = self.unsettled.last() {
            // `multiple` returns every unsettled message up to the last one
            // at once; those settled already are no longer the channel's.
            let options = BasicNackOptions {
                multiple: true,
                requeue: true,
            };
            self.channel
                .basic_nack(*last, options)
                .await
                .map_err(broker)?;
        }
        // Close-ok comes after the broker has handled every frame before it.
        self.channel
            .close(200, "done".into())
            .await
            .map_err(broker)?;
        let _ = self.connection.close(200, "done".into()).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_id_is_the_start_of_the_bodys_digest_and_parses_in_either_case() {
        let id = MessageId::of(b"{}");
        assert_eq!(id.as_str(), "44136fa355b3678a");
        assert_eq!(MessageId::parse("44136FA355B3678A"), Some(id));
        assert_eq!(MessageId::parse("44136fa355b3678"), None);
        assert_eq!(MessageId::parse("44136fa355b3678g"), None);
    }
}
