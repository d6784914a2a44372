//! Latchkey workers: consume jobs from RabbitMQ and apply them to the
//! directory. A processing step is a plain async function that returns an
//! [`Outcome`]; the consume loop only maps outcomes to acks, retries and parking.

pub mod consumer;
pub mod delivery;
pub mod handlers;
pub mod health;
pub mod mailbox;
mod outcome;
pub mod schedule;
pub mod step;

pub use consumer::{Worker, WorkerHandle};
pub use outcome::Outcome;
pub use step::Context;
