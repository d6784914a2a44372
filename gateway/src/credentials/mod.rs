//! Everything that checks a secret someone presents: the password hasher
//! behind a bounded queue, the failure limits (counted before any wait),
//! the client address they count under, and the checks themselves.

pub mod client_address;
mod limits;
mod lockout;
mod step_up;
mod verify;

pub use client_address::ClientAddress;
pub use limits::{FailureLimiter, PastTheLimit};
pub use step_up::StepUpProof;
pub use verify::Attempt;

use crate::problem::{ApiError, ApiResult};
use latchkey_core::clock::Clock;
use latchkey_core::config::Settings;
use latchkey_core::password::PasswordHasher;
use secrecy::SecretString;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// The gateway's part that checks secrets.
pub struct Credentials {
    /// Verifies passwords against stored hashes.
    pub hasher: PasswordHasher,
    /// A hash of a random password with the configured cost, verified for
    /// unknown users and legacy accounts, so that every answer takes as
    /// long as an argon2 check.
    dummy_hash: String,
    /// Bounds how many verifications run at once.
    slots: Semaphore,
    /// Verifications waiting for a slot now.
    waiting: AtomicUsize,
    /// The most that may wait; past that, 503 at once.
    max_waiting: usize,
    /// How long one may wait for a slot before the answer is 503.
    slot_wait: Duration,
    /// Failed secrets per account (its entry, or its normalised name).
    pub account_failures: FailureLimiter,
    /// Failed secrets per client address (IPv6 per /64); past its limit
    /// attempts are delayed, or refused when so configured.
    pub address_failures: FailureLimiter,
    /// Proxies whose forwarding headers name the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a session's proof of its password (and second factor)
    /// spares it the step-up.
    pub reauthentication: time::Duration,
    /// Failures in a row that lock an account's password sign-in (0: never).
    pub lockout_after: u32,
}

/// A verification slot, held while a hash is checked.
pub struct Slot<'a> {
    _permit: SemaphorePermit<'a>,
}

impl Credentials {
    /// The part `settings` describe.
    pub fn new(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let gateway = &settings.gateway;
        let hasher = PasswordHasher::new(settings.argon2).context("argon2 settings")?;
        let dummy_hash = hasher.hash(&SecretString::from(uuid::Uuid::new_v4().to_string()));
        let trusted_proxies = gateway
            .trusted_proxies
            .iter()
            .filter(|cidr| !cidr.trim().is_empty())
            .map(|cidr| {
                let cidr = cidr.trim();
                cidr.parse()
                    .or_else(|_| cidr.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            })
            .collect::<Result<_, _>>()
            .context("gateway.trusted_proxies takes CIDRs such as 10.0.0.0/8 or ::1/128")?;
        let window = Duration::from_secs(gateway.rate_limit.window_seconds);
        let limits = &gateway.rate_limit;
        Ok(Self {
            hasher,
            dummy_hash,
            slots: Semaphore::new(gateway.max_concurrent_hashes.max(1)),
            waiting: AtomicUsize::new(0),
            max_waiting: gateway.max_waiting_hashes,
            slot_wait: Duration::from_millis(gateway.hash_wait_ms),
            account_failures: FailureLimiter::new(
                limits.account_failures,
                window,
                Arc::clone(&clock),
            ),
            address_failures: FailureLimiter::new(limits.address_failures, window, clock)
                .past_the_limit(match limits.address_delay_ms {
                    0 => PastTheLimit::Refuse,
                    spacing => PastTheLimit::Delay {
                        spacing: Duration::from_millis(spacing),
                        longest: Duration::from_millis(limits.address_max_delay_ms),
                    },
                }),
            trusted_proxies,
            lockout_after: limits.lockout_after,
            reauthentication: time::Duration::minutes(
                i64::try_from(gateway.reauthentication_minutes).unwrap_or(i64::MAX),
            ),
        })
    }

    /// A verification slot, waiting in a bounded queue: 503 with
    /// Retry-After when the queue is full or the wait too long, so a burst
    /// of guesses cannot make real users wait without end.
    pub async fn slot(&self) -> ApiResult<Slot<'_>> {
        let busy = || ApiError::Busy(Duration::from_secs(1).max(self.slot_wait));
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            metrics::counter!("latchkey_hash_queue_full_total").increment(1);
            return Err(busy());
        }
        let acquired = tokio::time::timeout(self.slot_wait, self.slots.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match acquired {
            Ok(permit) => Ok(Slot {
                _permit: permit.expect("the semaphore is never closed"),
            }),
            Err(_) => Err(busy()),
        }
    }

    /// Whether `password` matches `stored` (the dummy hash when `None`),
    /// checked on a blocking thread while `slot` is held.
    pub async fn verify(
        &self,
        _slot: &Slot<'_>,
        stored: Option<&str>,
        password: &SecretString,
    ) -> bool {
        let hasher = self.hasher.clone();
        let stored = stored.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.clone();
        tokio::task::spawn_blocking(move || hasher.verify(&stored, &password))
            .await
            .expect("verification does not panic")
    }

    /// The stored hash among `hashes` that `candidate` matches, while
    /// `slot` is held.
    pub async fn matching_hash(
        &self,
        _slot: &Slot<'_>,
        hashes: &[String],
        candidate: &SecretString,
    ) -> Option<String> {
        let hasher = self.hasher.clone();
        let hashes = hashes.to_vec();
        let candidate = candidate.clone();
        tokio::task::spawn_blocking(move || {
            hashes
                .into_iter()
                .find(|hash| hasher.verify(hash, &candidate))
        })
        .await
        .expect("verification does not panic")
    }
}
