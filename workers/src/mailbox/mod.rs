//! Mailbox stores. Maildir is the one Latchkey rewrites in place.

pub mod containment;
pub mod demo;
pub mod encrypt;
pub mod maildir;
pub mod rewrite;
