//! The broker: queue topology, publishing with confirms, and the note on
//! parked messages.

mod parking;
mod publisher;
mod topology;

pub use parking::{
    ACCOUNT_HEADER, JOB_HEADER, KIND_HEADER, PARKED_AT_HEADER, PARKED_FROM_HEADER,
    PARKED_REASON_HEADER, Parking, requeue_headers, text as header_text,
};
pub use publisher::{AmqpPublisher, PublishError, Publisher};
pub use topology::{DELAY_LADDER_MS, Topology};

/// AMQP header carrying the id the gateway made for the HTTP request into
/// the job, for tracing.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// AMQP header counting how many times a job has been tried.
pub const ATTEMPT_HEADER: &str = "x-latchkey-attempt";
