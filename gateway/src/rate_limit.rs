//! Limits on failed attempts to present a secret, per key (an account or a
//! client address), in fixed windows that start at the first failure.
//!
//! The counts live in this gateway replica's memory: with N replicas behind
//! a balancer an attacker gets at most N times the limit, and a restart
//! forgives. Operators who need a shared count put the limit in the proxy too.

use latchkey_core::clock::Clock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

/// Past this many tracked keys, expired windows are swept on the next failure.
const SWEEP_THRESHOLD: usize = 10_000;

struct Window {
    started: OffsetDateTime,
    failures: u32,
}

/// Counts failures per key and says when a key must wait.
pub struct FailureLimiter {
    limit: u32,
    window: time::Duration,
    clock: Arc<dyn Clock>,
    windows: Mutex<HashMap<String, Window>>,
}

impl FailureLimiter {
    /// A limiter allowing `limit` failures per `window`.
    pub fn new(limit: u32, window: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            limit,
            window: time::Duration::try_from(window).unwrap_or(time::Duration::MAX),
            clock,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must wait before trying again, if it must.
    pub fn retry_after(&self, key: &str) -> Option<Duration> {
        let now = self.clock.now();
        let windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = windows.get(key)?;
        let ends = window.started + self.window;
        (window.failures >= self.limit && ends > now)
            .then(|| Duration::try_from(ends - now).unwrap_or_default())
    }

    /// Counts a failure for `key`.
    pub fn record_failure(&self, key: &str) {
        let now = self.clock.now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > SWEEP_THRESHOLD {
            windows.retain(|_, window| window.started + self.window > now);
        }
        let window = windows.entry(key.to_owned()).or_insert(Window {
            started: now,
            failures: 0,
        });
        if window.started + self.window <= now {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures += 1;
    }

    /// Forgets the failures of `key` (after a success).
    pub fn clear(&self, key: &str) {
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::clock::ManualClock;
    use time::macros::datetime;

    #[test]
    fn a_key_waits_after_the_limit_until_the_window_ends() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let limiter = FailureLimiter::new(3, Duration::from_secs(60), Arc::new(clock.clone()));
        for _ in 0..3 {
            assert_eq!(limiter.retry_after("alice"), None);
            limiter.record_failure("alice");
        }
        assert_eq!(limiter.retry_after("alice"), Some(Duration::from_secs(60)));
        assert_eq!(limiter.retry_after("bob"), None);
        clock.advance(time::Duration::seconds(45));
        assert_eq!(limiter.retry_after("alice"), Some(Duration::from_secs(15)));
        clock.advance(time::Duration::seconds(15));
        assert_eq!(limiter.retry_after("alice"), None);
        limiter.record_failure("alice");
        assert_eq!(
            limiter.retry_after("alice"),
            None,
            "a new window starts afresh"
        );
    }

    #[test]
    fn a_success_clears_the_count() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let limiter = FailureLimiter::new(1, Duration::from_secs(60), Arc::new(clock));
        limiter.record_failure("alice");
        assert!(limiter.retry_after("alice").is_some());
        limiter.clear("alice");
        assert_eq!(limiter.retry_after("alice"), None);
    }
}
