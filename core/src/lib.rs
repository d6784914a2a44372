//! Latchkey core: the domain types, the job protocol between gateway and
//! workers, secret sealing, password policy and hashing, configuration, and
//! the adapters for the directory (LDAP) and the broker (RabbitMQ).

pub mod app_password;
pub mod audit;
pub mod broker;
pub mod clock;
pub mod config;
pub mod directory;
pub mod domain;
pub mod encryption;
pub mod job;
pub mod password;
pub mod readiness;
pub mod seal;
pub mod second_factor;
pub mod telemetry;

pub use secrecy::{ExposeSecret, SecretString};
