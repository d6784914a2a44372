//! A large mailbox pass split into parts that any worker can take: which
//! messages a part covers ([`MailboxPart`]), and how each part's progress
//! is kept on the pass's own job record ([`PartProgress`]), whose done,
//! total, skipped and state are the sum of its parts'.

use super::JobState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The messages one part of a pass covers: those of one folder whose
/// unique name (the part before `,` or `:`, which renames keep) lies in
/// `from..until`. The parts of a pass cover disjoint ranges, so no two
/// ever touch the same file, and together every name, so mail delivered
/// meanwhile falls to exactly one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxPart {
    /// Its place among the pass's parts, from 0.
    pub index: u32,
    /// The folder as named in the Maildir: `""` for INBOX (the root), or
    /// a Maildir++ `.Name`. Only compared with the names a listing finds,
    /// never joined to a path.
    pub folder: String,
    /// The first unique name it covers; `None`: from the first.
    pub from: Option<String>,
    /// The first unique name past it; `None`: to the last.
    pub until: Option<String>,
}

impl MailboxPart {
    /// Whether the message `unique` in `folder` is this part's.
    pub fn covers(&self, folder: &str, unique: &str) -> bool {
        folder == self.folder
            && self.from.as_deref().is_none_or(|from| unique >= from)
            && self.until.as_deref().is_none_or(|until| unique < until)
    }

    /// Whether this part counts the links met in its folder (its first
    /// part does, so each is counted once).
    pub fn counts_links_of(&self, folder: &str) -> bool {
        folder == self.folder && self.from.is_none()
    }

    /// Splits a mailbox into parts of at most `per_part` messages, folder
    /// by folder: `folders` holds each folder's unique names. Every folder
    /// gets at least one part, ranges open at both ends, so anything
    /// delivered later has a part too.
    pub fn split(folders: &BTreeMap<String, Vec<String>>, per_part: usize) -> Vec<MailboxPart> {
        let mut parts = Vec::new();
        for (folder, uniques) in folders {
            let mut uniques = uniques.clone();
            uniques.sort_unstable();
            uniques.dedup();
            let bounds: Vec<&String> = uniques.iter().step_by(per_part.max(1)).skip(1).collect();
            let starts = std::iter::once(None).chain(bounds.iter().map(|b| Some((*b).clone())));
            let ends = bounds.iter().map(|b| Some((*b).clone())).chain([None]);
            for (from, until) in starts.zip(ends) {
                parts.push(MailboxPart {
                    index: parts.len() as u32,
                    folder: folder.clone(),
                    from,
                    until,
                });
            }
        }
        parts
    }
}

/// Where one part stands, as the pass's job record holds it
/// (`latchkeyJobPart`, one value per part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartProgress {
    /// The messages it covers (and its index).
    pub part: MailboxPart,
    /// `queued` until a worker takes it; `running` (also while a retry
    /// waits); then `succeeded`, `superseded` or `failed`.
    pub state: JobState,
    /// Messages it handled.
    pub done: u64,
    /// Messages it found (as known when it was split, until it lists).
    pub total: u64,
    /// Messages it left alone, by reason.
    pub skipped: BTreeMap<String, u64>,
}

impl PartProgress {
    /// A part not taken yet, of `total` messages as listed at the split.
    pub fn queued(part: MailboxPart, total: u64) -> Self {
        Self {
            part,
            state: JobState::Queued,
            done: 0,
            total,
            skipped: BTreeMap::new(),
        }
    }

    /// Whether the part is over: nothing will change it again.
    pub fn ended(&self) -> bool {
        matches!(
            self.state,
            JobState::Succeeded | JobState::Superseded | JobState::Failed
        )
    }

    /// The part's index.
    pub fn index(&self) -> u32 {
        self.part.index
    }

    /// The stored form: `<index> <state> <done>/<total> <reason>=<n>,...|-
    /// <the part as JSON>` (the part is kept so that a split pass
    /// republishes exactly the parts it recorded).
    pub fn to_stored(&self) -> String {
        let skipped: Vec<String> = self
            .skipped
            .iter()
            .filter(|(_, count)| **count > 0)
            .map(|(reason, count)| format!("{reason}={count}"))
            .collect();
        let skipped = if skipped.is_empty() {
            "-".to_owned()
        } else {
            skipped.join(",")
        };
        format!(
            "{} {} {}/{} {skipped} {}",
            self.part.index,
            self.state.as_str(),
            self.done,
            self.total,
            serde_json::to_string(&self.part).expect("a part serialises")
        )
    }

    /// Parses the stored form; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        let mut fields = raw.splitn(5, ' ');
        let index: u32 = fields.next()?.parse().ok()?;
        let state = JobState::parse(fields.next()?)?;
        let (done, total) = fields.next()?.split_once('/')?;
        let skipped = match fields.next()? {
            "-" => BTreeMap::new(),
            list => list
                .split(',')
                .map(|pair| {
                    let (reason, count) = pair.split_once('=')?;
                    Some((reason.to_owned(), count.parse().ok()?))
                })
                .collect::<Option<_>>()?,
        };
        let part: MailboxPart = serde_json::from_str(fields.next()?).ok()?;
        if part.index != index {
            return None;
        }
        Some(Self {
            part,
            state,
            done: done.parse().ok()?,
            total: total.parse().ok()?,
            skipped,
        })
    }
}

/// The whole pass as its parts say: done, total and skipped summed, and
/// its end state once every part has ended (failed if one failed, else
/// superseded if one was, else succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartsSum {
    /// Messages handled by every part.
    pub done: u64,
    /// Messages found by every part.
    pub total: u64,
    /// Left alone, by reason, over every part.
    pub skipped: BTreeMap<String, u64>,
    /// The pass's end state, once every part has ended.
    pub ended: Option<JobState>,
}

impl PartsSum {
    /// Sums `parts`.
    pub fn of(parts: &[PartProgress]) -> Self {
        let mut skipped = BTreeMap::new();
        for part in parts {
            for (reason, count) in &part.skipped {
                *skipped.entry(reason.clone()).or_insert(0) += count;
            }
        }
        let ended = parts.iter().all(PartProgress::ended).then(|| {
            let any = |state| parts.iter().any(|part| part.state == state);
            if any(JobState::Failed) {
                JobState::Failed
            } else if any(JobState::Superseded) {
                JobState::Superseded
            } else {
                JobState::Succeeded
            }
        });
        Self {
            done: parts.iter().map(|part| part.done).sum(),
            total: parts.iter().map(|part| part.total).sum(),
            skipped,
            ended,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_every_name_of_their_folder_once_in_disjoint_ranges() {
        let names = |range: std::ops::Range<u32>| range.map(|n| format!("{n:04}")).collect();
        let folders = BTreeMap::from([
            (String::new(), names(0..5)),
            (".Big".to_owned(), names(0..10)),
        ]);
        let parts = MailboxPart::split(&folders, 4);
        let shape: Vec<(&str, Option<&str>, Option<&str>)> = parts
            .iter()
            .map(|p| (p.folder.as_str(), p.from.as_deref(), p.until.as_deref()))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("", None, Some("0004")),
                ("", Some("0004"), None),
                (".Big", None, Some("0004")),
                (".Big", Some("0004"), Some("0008")),
                (".Big", Some("0008"), None),
            ]
        );
        assert_eq!(
            parts.iter().map(|p| p.index).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        for (folder, uniques) in &folders {
            for unique in uniques.iter().map(String::as_str).chain(["", "zzz-new"]) {
                let owners = parts.iter().filter(|p| p.covers(folder, unique)).count();
                assert_eq!(owners, 1, "{folder}/{unique}");
            }
        }
        assert!(!parts.iter().any(|p| p.covers(".Other", "0001")));
    }

    #[test]
    fn part_progress_round_trips_and_sums_to_the_pass() {
        let part = |index| MailboxPart {
            index,
            folder: ".Sent Items".into(),
            from: Some("17 a".into()),
            until: None,
        };
        let mut one = PartProgress::queued(part(3), 10);
        assert_eq!(PartProgress::parse(&one.to_stored()), Some(one.clone()));
        one.state = JobState::Succeeded;
        one.done = 10;
        one.skipped = BTreeMap::from([("pgp-mime".to_owned(), 2), ("symlink".to_owned(), 1)]);
        assert_eq!(
            one.to_stored(),
            r#"3 succeeded 10/10 pgp-mime=2,symlink=1 {"index":3,"folder":".Sent Items","from":"17 a","until":null}"#
        );
        assert_eq!(PartProgress::parse(&one.to_stored()), Some(one.clone()));
        let mut two = PartProgress::queued(part(4), 5);
        two.state = JobState::Running;
        two.done = 1;
        two.skipped = BTreeMap::from([("pgp-mime".to_owned(), 1)]);
        let sum = PartsSum::of(&[one.clone(), two.clone()]);
        assert_eq!((sum.done, sum.total, sum.ended), (11, 15, None));
        assert_eq!(sum.skipped["pgp-mime"], 3);
        two.state = JobState::Superseded;
        assert_eq!(
            PartsSum::of(&[one.clone(), two]).ended,
            Some(JobState::Superseded)
        );
        assert_eq!(PartsSum::of(&[one]).ended, Some(JobState::Succeeded));
    }
}
