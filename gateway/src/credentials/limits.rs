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

    /// Counts an attempt for `key` as a failure before it is made, unless
    /// `key` has used up its failures: then says how long it must wait. The
    /// count and the check are one step under one lock, so however many
    /// attempts arrive at once, no more than the limit get through; an
    /// attempt that succeeds is taken back ([`FailureLimiter::release`] or
    /// [`FailureLimiter::clear`]).
    pub fn reserve(&self, key: &str) -> Result<(), Duration> {
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
        let ends = window.started + self.window;
        if ends <= now {
            *window = Window {
                started: now,
                failures: 0,
            };
        } else if window.failures >= self.limit {
            return Err(Duration::try_from(ends - now).unwrap_or_default());
        }
        window.failures += 1;
        Ok(())
    }

    /// Takes back one attempt of `key` that did not fail.
    pub fn release(&self, key: &str) {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(window) = windows.get_mut(key) {
            window.failures = window.failures.saturating_sub(1);
        }
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
            assert_eq!(limiter.reserve("alice"), Ok(()));
        }
        assert_eq!(limiter.reserve("alice"), Err(Duration::from_secs(60)));
        assert_eq!(limiter.reserve("bob"), Ok(()));
        clock.advance(time::Duration::seconds(45));
        assert_eq!(limiter.reserve("alice"), Err(Duration::from_secs(15)));
        clock.advance(time::Duration::seconds(15));
        assert_eq!(
            limiter.reserve("alice"),
            Ok(()),
            "a new window starts afresh"
        );
        assert_eq!(limiter.reserve("alice"), Ok(()));
    }

    #[test]
    fn a_success_clears_the_count() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let limiter = FailureLimiter::new(1, Duration::from_secs(60), Arc::new(clock));
        limiter.reserve("alice").unwrap();
        assert!(limiter.reserve("alice").is_err());
        limiter.clear("alice");
        assert_eq!(limiter.reserve("alice"), Ok(()));
        limiter.release("alice");
        assert_eq!(limiter.reserve("alice"), Ok(()), "a success is taken back");
    }

    #[test]
    fn a_burst_from_many_threads_gets_no_more_than_the_limit_through() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let limiter = FailureLimiter::new(5, Duration::from_secs(60), Arc::new(clock));
        let through = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..50 {
                scope.spawn(|| {
                    if limiter.reserve("alice").is_ok() {
                        through.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(through.into_inner(), 5);
    }
}
