//! End-to-end tests against a real slapd and RabbitMQ: one binary, one
//! module per feature.

// A test that meets an unexpected error should stop right there.
#![allow(clippy::unwrap_used)]

mod admin;
mod app_password_expiry;
mod app_passwords;
mod audit_log;
mod bad_input;
mod broker_outage;
mod clock_skew;
mod crash_safety;
mod delivery_filter;
mod disk_full;
mod dovecot;
mod dovecot_during_pass;
mod encryption_formats;
mod faithful_mail;
mod host_cookies;
mod job_trust;
mod key_pastes;
mod large_messages;
mod least_privilege;
mod lockout;
mod mailbox_containment;
mod mailbox_encryption;
mod mailbox_parts;
mod ops_listener;
mod overview;
mod passkeys;
mod password;
mod portal_pages;
mod replicas;
mod request_ids;
mod resilience;
mod schema_fuzz;
mod second_factor;
mod sessions;
mod sign_in_limits;
mod smime_streaming;
mod step_up;
mod where_signed_in;
