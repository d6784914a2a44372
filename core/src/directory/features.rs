//! The last request wins, for every setting a job changes. Each account
//! remembers, per feature, the job that last changed it (job ids are
//! UUIDv7, so they order by when the gateway accepted them); a job older
//! than that is superseded and changes nothing, whatever order retries and
//! redeliveries bring them in. The record is written in the same modify as
//! the change, with the account's revision swapped.

use super::Account;
use super::accounts::one;
use crate::domain::JobId;
use ldap3::Mod;
use std::collections::BTreeMap;

/// `latchkeyFeatureJob` holds one `<feature>=<job id>` value per feature.
pub(super) const FEATURE_JOB: &str = "latchkeyFeatureJob";
/// Where password jobs were recorded before every feature was.
pub(super) const LEGACY_PASSWORD_JOB: &str = "latchkeyPasswordJob";

/// A setting that only jobs change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// The primary password.
    Password,
    /// TOTP on or off (enrolment, removal).
    SecondFactor,
    /// The set of recovery codes.
    RecoveryCodes,
    /// App passwords revoked: a create older than the last revocation is
    /// superseded (creates do not order each other: two new app passwords
    /// made one after the other both stand).
    AppPasswordRevocation,
    /// Encryption at rest: on with given keys, or off.
    Encryption,
    /// A passkey removed: a registration older than the last removal is
    /// superseded, so a redelivered registration never brings back a
    /// passkey its owner removed (registrations do not order each other).
    PasskeyRemoval,
}

impl Feature {
    const ALL: [Feature; 6] = [
        Feature::Password,
        Feature::SecondFactor,
        Feature::RecoveryCodes,
        Feature::AppPasswordRevocation,
        Feature::Encryption,
        Feature::PasskeyRemoval,
    ];

    fn name(self) -> &'static str {
        match self {
            Feature::Password => "password",
            Feature::SecondFactor => "second-factor",
            Feature::RecoveryCodes => "recovery-codes",
            Feature::AppPasswordRevocation => "app-password-revocation",
            Feature::Encryption => "encryption",
            Feature::PasskeyRemoval => "passkey-removal",
        }
    }
}

/// Where a job stands against the last change of a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newer than the last change (or the first): apply it.
    Newer,
    /// The last change itself: applied already (a redelivery).
    Applied,
    /// Older than the last change: superseded, change nothing.
    Older,
}

impl Account {
    /// Where `job` stands against the last change of `feature`.
    pub fn order_of(&self, feature: Feature, job: JobId) -> Order {
        let legacy = self
            .legacy_password_job
            .filter(|_| feature == Feature::Password);
        match self.feature_jobs.get(&feature).copied().or(legacy) {
            Some(last) if last == job => Order::Applied,
            Some(last) if last > job => Order::Older,
            _ => Order::Newer,
        }
    }
}

/// The feature jobs of an entry's `latchkeyFeatureJob` values.
pub(super) fn feature_jobs(values: Vec<String>) -> BTreeMap<Feature, JobId> {
    values
        .iter()
        .filter_map(|value| value.split_once('='))
        .filter_map(|(name, job)| {
            let feature = Feature::ALL
                .into_iter()
                .find(|feature| feature.name() == name)?;
            Some((feature, JobId::parse(job).ok()?))
        })
        .collect()
}

/// The modifications that record `job` as the last change of `feature`:
/// the value read is deleted by value, so a writer that got in first makes
/// the modify fail, and the new one added. A job older than the recorded
/// one changes nothing (a revocation may land after a newer one).
pub(super) fn record_job(account: &Account, feature: Feature, job: JobId) -> Vec<Mod<String>> {
    let stored = |job: JobId| format!("{}={job}", feature.name());
    match account.feature_jobs.get(&feature) {
        Some(last) if *last >= job => Vec::new(),
        Some(last) => vec![
            Mod::Delete(FEATURE_JOB.into(), one(stored(*last))),
            Mod::Add(FEATURE_JOB.into(), one(stored(job))),
        ],
        None => vec![Mod::Add(FEATURE_JOB.into(), one(stored(job)))],
    }
}
