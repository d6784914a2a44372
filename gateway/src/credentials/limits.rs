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
    /// When the next attempt past the limit may go ahead (delaying limits).
    next_turn: OffsetDateTime,
}

/// What happens to an attempt past the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PastTheLimit {
    /// Refused until the window ends.
    Refuse,
    /// Let through one at a time, and refused only when its turn is too
    /// far away.
    Delay {
        /// Time between two turns.
        spacing: Duration,
        /// The longest an attempt may wait for its turn.
        longest: Duration,
    },
}

/// Counts failures per key and says when a key must wait.
pub struct FailureLimiter {
    limit: u32,
    window: time::Duration,
    past_the_limit: PastTheLimit,
    clock: Arc<dyn Clock>,
    windows: Mutex<HashMap<String, Window>>,
}

impl FailureLimiter {
    /// A limiter allowing `limit` failures per `window`, then refusing.
    pub fn new(limit: u32, window: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            limit,
            window: time::Duration::try_from(window).unwrap_or(time::Duration::MAX),
            past_the_limit: PastTheLimit::Refuse,
            clock,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// The same limiter, treating attempts past the limit as `past_the_limit` says.
    pub fn past_the_limit(self, past_the_limit: PastTheLimit) -> Self {
        Self {
            past_the_limit,
            ..self
        }
    }

    /// Counts an attempt for `key` as a failure before it is made, and says
    /// how long it must wait before it goes ahead (zero within the limit);
    /// or, when `key` has used up its failures and may not wait, how long
    /// until it may try again. The count and the check are one step under
    /// one lock, so however many attempts arrive at once, no more than the
    /// limit get through at once; an attempt that succeeds is taken back
    /// ([`FailureLimiter::release`] or [`FailureLimiter::clear`]).
    pub fn reserve(&self, key: &str) -> Result<Duration, Duration> {
        let now = self.clock.now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > SWEEP_THRESHOLD {
            windows.retain(|_, window| window.started + self.window > now);
        }
        let fresh = Window {
            started: now,
            failures: 0,
            next_turn: now,
        };
        let window = windows.entry(key.to_owned()).or_insert(fresh);
        let ends = window.started + self.window;
        if ends <= now {
            *window = Window {
                started: now,
                failures: 0,
                next_turn: now,
            };
        }
        let mut wait = time::Duration::ZERO;
        if window.failures >= self.limit {
            match self.past_the_limit {
                PastTheLimit::Refuse => {
                    return Err(Duration::try_from(ends - now).unwrap_or_default());
                }
                PastTheLimit::Delay { spacing, longest } => {
                    let turn = window.next_turn.max(now);
                    wait = turn - now;
                    if wait > longest {
                        return Err(Duration::try_from(wait).unwrap_or_default());
                    }
                    window.next_turn = turn + spacing;
                }
            }
        }
        window.failures += 1;
        Ok(Duration::try_from(wait).unwrap_or_default())
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
            assert_eq!(limiter.reserve("alice"), Ok(Duration::ZERO));
        }
        assert_eq!(limiter.reserve("alice"), Err(Duration::from_secs(60)));
        assert_eq!(limiter.reserve("bob"), Ok(Duration::ZERO));
        clock.advance(time::Duration::seconds(45));
        assert_eq!(limiter.reserve("alice"), Err(Duration::from_secs(15)));
        clock.advance(time::Duration::seconds(15));
        assert_eq!(
            limiter.reserve("alice"),
            Ok(Duration::ZERO),
            "a new window starts afresh"
        );
        assert_eq!(limiter.reserve("alice"), Ok(Duration::ZERO));
    }

    #[test]
    fn a_success_clears_the_count() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let limiter = FailureLimiter::new(1, Duration::from_secs(60), Arc::new(clock));
        limiter.reserve("alice").unwrap();
        assert!(limiter.reserve("alice").is_err());
        limiter.clear("alice");
        assert_eq!(limiter.reserve("alice"), Ok(Duration::ZERO));
        limiter.release("alice");
        assert_eq!(
            limiter.reserve("alice"),
            Ok(Duration::ZERO),
            "a success is taken back"
        );
    }

    #[test]
    fn a_burst_from_many_threads_gets_no_more_than_the_limit_through() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let limiter = FailureLimiter::new(5, Duration::from_secs(60), Arc::new(clock));
        let through = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..50 {
                scope.spawn(|| {
                    if limiter.reserve("alice") == Ok(Duration::ZERO) {
                        through.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(through.into_inner(), 5);
    }

    #[test]
    fn a_delaying_limit_spaces_attempts_past_it_and_refuses_only_a_far_turn() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let limiter = FailureLimiter::new(2, Duration::from_secs(60), Arc::new(clock.clone()))
            .past_the_limit(PastTheLimit::Delay {
                spacing: Duration::from_secs(2),
                longest: Duration::from_secs(4),
            });
        let second = Duration::from_secs;
        assert_eq!(limiter.reserve("nat"), Ok(second(0)));
        assert_eq!(limiter.reserve("nat"), Ok(second(0)));
        assert_eq!(
            limiter.reserve("nat"),
            Ok(second(0)),
            "the first past the limit"
        );
        assert_eq!(limiter.reserve("nat"), Ok(second(2)));
        assert_eq!(limiter.reserve("nat"), Ok(second(4)));
        assert_eq!(limiter.reserve("nat"), Err(second(6)), "too far ahead");
        clock.advance(time::Duration::seconds(3));
        assert_eq!(
            limiter.reserve("nat"),
            Ok(second(3)),
            "turns go on from the last"
        );
        assert_eq!(limiter.reserve("other"), Ok(second(0)));
    }
}
