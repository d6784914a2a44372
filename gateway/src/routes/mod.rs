//! The HTTP routes, one file per feature.

pub mod account;
pub mod app_passwords;
pub mod encryption;
pub mod jobs;
pub mod password;
pub mod second_factor;
pub mod session;
pub mod sessions;
