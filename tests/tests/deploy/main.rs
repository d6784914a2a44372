//! Checks of `deploy/` for real installs: the systemd units, the image, the
//! compose stack, the Kubernetes manifests and the RabbitMQ definitions,
//! each run through the tool that knows its format, and every
//! configuration key they name checked against the settings.
//!
//! The linters come from PyPI into `.local/venv` (`deploy/local/ensure-deps
//! --tests`, which `deploy/local/test` and `.ci/run` run).

// A check that meets an unexpected error should stop right there.
#![allow(clippy::unwrap_used)]

mod config_keys;
mod containers;
mod grafana;
mod kubernetes;
mod openldap;
mod rabbitmq;
mod support;
mod systemd;
