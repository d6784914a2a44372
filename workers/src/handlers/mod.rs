//! One handler per job kind.

mod change_password;

pub use change_password::change_password;
