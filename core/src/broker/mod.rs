//! The broker: queue topology and publishing with confirms.

mod publisher;
mod topology;

pub use publisher::{AmqpPublisher, PublishError, Publisher};
pub use topology::{DELAY_LADDER_MS, Topology};

/// AMQP header carrying the id the gateway made for the HTTP request into
/// the job, for tracing.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// AMQP header counting how many times a job has been tried.
pub const ATTEMPT_HEADER: &str = "x-latchkey-attempt";
