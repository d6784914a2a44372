//! The parts of a split mailbox pass on its job record: one
//! `latchkeyJobPart` value per part, and the record's done, total, skipped
//! and end state kept as their sum. Every change deletes the part values
//! it read by value and adds the new ones in one modify, so a parallel
//! writer makes it fail (and it reads again): a compare-and-swap over all
//! the parts, never a count lost or counted twice, and exactly one writer
//! sees the last part end.

use super::entry::{all, generalized_time};
use super::jobs::record_from;
use super::pool::check;
use super::{DirectoryError, LdapDirectory, PartChange, Result};
use crate::domain::JobId;
use crate::job::{JobState, PartProgress, PartsSum};
use ldap3::{Mod, SearchEntry};
use std::collections::HashSet;
use time::OffsetDateTime;

const PART: &str = "latchkeyJobPart";
/// Writers racing on one record's parts (a few per worker process, each
/// about once a second) settle within a few tries; the bound only stops
/// a livelock.
const SWAP_TRIES: usize = 50;

/// The parts an entry holds, by index.
pub(super) fn parts_from(entry: &SearchEntry) -> Vec<PartProgress> {
    let mut parts: Vec<PartProgress> = all(entry, PART)
        .iter()
        .filter_map(|value| PartProgress::parse(value))
        .collect();
    parts.sort_by_key(PartProgress::index);
    parts
}

/// The modifications that write the sum of `parts` as the record's progress.
fn sum_mods(parts: &[PartProgress], at: OffsetDateTime) -> (PartsSum, Vec<Mod<String>>) {
    let sum = PartsSum::of(parts);
    let skipped = sum
        .skipped
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(reason, count)| format!("{reason}={count}"))
        .collect();
    let mods = vec![
        Mod::Replace("latchkeyJobDone".into(), one(sum.done.to_string())),
        Mod::Replace("latchkeyJobTotal".into(), one(sum.total.to_string())),
        Mod::Replace("latchkeyJobSkipped".into(), skipped),
        Mod::Replace("latchkeyJobUpdated".into(), one(generalized_time(at))),
    ];
    (sum, mods)
}

fn one(value: String) -> HashSet<String> {
    HashSet::from([value])
}

fn stored(parts: &[PartProgress]) -> HashSet<String> {
    parts.iter().map(PartProgress::to_stored).collect()
}

impl LdapDirectory {
    pub(super) async fn write_split(
        &self,
        id: JobId,
        parts: &[PartProgress],
        at: OffsetDateTime,
    ) -> Result<()> {
        let (_, mut mods) = sum_mods(parts, at);
        mods.push(Mod::Replace(PART.into(), stored(parts)));
        let mut ldap = self.conn().await?;
        let outcome = ldap.modify(self.job_dn(id).as_str(), mods).await;
        check(outcome.and_then(|result| result.success())).map(drop)
    }

    pub(super) async fn swap_part(
        &self,
        id: JobId,
        index: u32,
        change: PartChange,
        at: OffsetDateTime,
    ) -> Result<Option<JobState>> {
        let dn = self.job_dn(id);
        for _ in 0..SWAP_TRIES {
            let entry = self
                .read_entry(dn.as_str(), "(objectClass=latchkeyJob)", &["*"])
                .await?
                .ok_or(DirectoryError::NoSuchEntry)?;
            let record = record_from(&entry).ok_or(DirectoryError::NoSuchEntry)?;
            let mut parts = record.parts;
            let Some(part) = parts.iter_mut().find(|part| part.index() == index) else {
                return Err(DirectoryError::NoSuchEntry);
            };
            if part.ended() {
                return Ok(None);
            }
            if let Some(state) = change.state {
                part.state = state;
            }
            if let Some((done, total, skipped)) = &change.progress {
                (part.done, part.total, part.skipped) = (*done, *total, skipped.clone());
            }
            let old = all(&entry, PART).into_iter().collect();
            let (sum, mut mods) = sum_mods(&parts, at);
            mods.push(Mod::Delete(PART.into(), old));
            mods.push(Mod::Add(PART.into(), stored(&parts)));
            if let Some(ended) = sum.ended {
                mods.push(Mod::Replace(
                    "latchkeyJobState".into(),
                    one(ended.as_str().into()),
                ));
            }
            let error = match (sum.ended, &change.error) {
                (_, Some(error)) => Some(one(error.clone())),
                (Some(JobState::Succeeded), None) => Some(HashSet::new()),
                _ => None,
            };
            if let Some(error) = error {
                mods.push(Mod::Replace("latchkeyJobError".into(), error));
            }
            let mut ldap = self.conn().await?;
            let outcome = ldap.modify(dn.as_str(), mods).await;
            match check(outcome.and_then(|result| result.success())) {
                Ok(_) => return Ok(sum.ended),
                Err(DirectoryError::Conflict) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(DirectoryError::Conflict)
    }
}
