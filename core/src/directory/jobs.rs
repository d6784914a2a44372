use super::entry::{first, generalized_time, number, timestamp};
use super::pool::check;
use super::ttl::refresh;
use super::{JobQuery, JobStore, JobUpdate, LdapDirectory, Result};
use crate::domain::{Dn, JobId};
use crate::job::{JobKind, JobRecord, JobState};
use ldap3::{Mod, Scope, SearchEntry};
use std::collections::HashSet;
use time::OffsetDateTime;

impl LdapDirectory {
    pub(super) fn job_dn(&self, id: JobId) -> Dn {
        self.jobs.child("latchkeyJobId", &id.to_string())
    }
}

impl JobQuery {
    /// The LDAP filter of the records this query matches, every value escaped.
    fn filter(&self) -> String {
        let owner = self
            .owner
            .as_ref()
            .map(|owner| ("latchkeyJobOwner", owner.as_str()));
        let state = self.state.map(|state| ("latchkeyJobState", state.as_str()));
        let kind = self.kind.map(|kind| ("latchkeyJobKind", kind.as_str()));
        let terms: String = [owner, state, kind]
            .into_iter()
            .flatten()
            .map(|(attribute, value)| format!("({attribute}={})", ldap3::ldap_escape(value)))
            .collect();
        format!("(&(objectClass=latchkeyJob){terms})")
    }
}

pub(super) fn record_from(entry: &SearchEntry) -> Option<JobRecord> {
    Some(JobRecord {
        id: JobId::parse(first(entry, "latchkeyJobId")?).ok()?,
        kind: JobKind::parse(first(entry, "latchkeyJobKind")?)?,
        owner: Dn::from_directory(first(entry, "latchkeyJobOwner")?),
        state: JobState::parse(first(entry, "latchkeyJobState")?)?,
        done: number(entry, "latchkeyJobDone").unwrap_or(0),
        total: number(entry, "latchkeyJobTotal").unwrap_or(0),
        skipped: skipped_from(entry),
        attempts: number(entry, "latchkeyJobAttempts").unwrap_or(0),
        error: first(entry, "latchkeyJobError").map(str::to_owned),
        created: timestamp(entry, "latchkeyJobCreated")?,
        updated: timestamp(entry, "latchkeyJobUpdated")?,
        parts: super::job_parts::parts_from(entry),
    })
}

/// `latchkeyJobSkipped` values are `<reason>=<count>`.
fn skipped_from(entry: &SearchEntry) -> std::collections::BTreeMap<String, u64> {
    let values = entry.attrs.get("latchkeyJobSkipped").into_iter().flatten();
    values
        .filter_map(|value| value.split_once('='))
        .filter_map(|(reason, count)| Some((reason.to_owned(), count.parse().ok()?)))
        .collect()
}

impl JobStore for LdapDirectory {
    async fn create_job(&self, record: &JobRecord) -> Result<()> {
        let dn = self.job_dn(record.id);
        let id = record.id.to_string();
        let created = generalized_time(record.created);
        let done = record.done.to_string();
        let total = record.total.to_string();
        let attempts = record.attempts.to_string();
        let attributes = vec![
            (
                "objectClass",
                HashSet::from(["latchkeyJob", "dynamicObject"]),
            ),
            ("latchkeyJobId", HashSet::from([id.as_str()])),
            ("latchkeyJobKind", HashSet::from([record.kind.as_str()])),
            ("latchkeyJobOwner", HashSet::from([record.owner.as_str()])),
            ("latchkeyJobState", HashSet::from([record.state.as_str()])),
            ("latchkeyJobDone", HashSet::from([done.as_str()])),
            ("latchkeyJobTotal", HashSet::from([total.as_str()])),
            ("latchkeyJobAttempts", HashSet::from([attempts.as_str()])),
            ("latchkeyJobCreated", HashSet::from([created.as_str()])),
            ("latchkeyJobUpdated", HashSet::from([created.as_str()])),
        ];
        let mut ldap = self.conn().await?;
        let added = ldap.add(dn.as_str(), attributes).await;
        check(added.and_then(|result| result.success()))?;
        let refreshed = ldap
            .extended(refresh(dn.as_str(), self.job_ttl_seconds))
            .await;
        check(refreshed.and_then(|result| result.success()))?;
        Ok(())
    }

    async fn job(&self, id: JobId) -> Result<Option<JobRecord>> {
        let entry = self
            .read_entry(
                self.job_dn(id).as_str(),
                "(objectClass=latchkeyJob)",
                &["*"],
            )
            .await?;
        Ok(entry.as_ref().and_then(record_from))
    }

    async fn update_job(&self, id: JobId, update: JobUpdate, at: OffsetDateTime) -> Result<()> {
        let updated = generalized_time(at);
        let attempts = update.attempts.map(|attempts| attempts.to_string());
        let progress = update
            .progress
            .map(|(done, total)| (done.to_string(), total.to_string()));
        let mut mods = vec![Mod::Replace(
            "latchkeyJobUpdated",
            HashSet::from([updated.as_str()]),
        )];
        if let Some(state) = update.state {
            mods.push(Mod::Replace(
                "latchkeyJobState",
                HashSet::from([state.as_str()]),
            ));
        }
        if let Some(attempts) = &attempts {
            mods.push(Mod::Replace(
                "latchkeyJobAttempts",
                HashSet::from([attempts.as_str()]),
            ));
        }
        if let Some((done, total)) = &progress {
            mods.push(Mod::Replace(
                "latchkeyJobDone",
                HashSet::from([done.as_str()]),
            ));
            mods.push(Mod::Replace(
                "latchkeyJobTotal",
                HashSet::from([total.as_str()]),
            ));
        }
        let skipped: Option<HashSet<String>> = update.skipped.map(|skipped| {
            let counted = skipped.into_iter().filter(|(_, count)| *count > 0);
            counted
                .map(|(reason, count)| format!("{reason}={count}"))
                .collect()
        });
        if let Some(skipped) = &skipped {
            let values = skipped.iter().map(String::as_str).collect();
            mods.push(Mod::Replace("latchkeyJobSkipped", values));
        }
        match &update.error {
            Some(Some(error)) => {
                mods.push(Mod::Replace(
                    "latchkeyJobError",
                    HashSet::from([error.as_str()]),
                ));
            }
            Some(None) => mods.push(Mod::Replace("latchkeyJobError", HashSet::new())),
            None => {}
        }
        let mut ldap = self.conn().await?;
        let outcome = ldap.modify(self.job_dn(id).as_str(), mods).await;
        check(outcome.and_then(|result| result.success())).map(drop)
    }

    async fn jobs_of(&self, owner: &Dn) -> Result<Vec<JobRecord>> {
        let query = JobQuery {
            owner: Some(owner.clone()),
            ..JobQuery::default()
        };
        self.find_jobs(&query).await
    }

    async fn find_jobs(&self, query: &JobQuery) -> Result<Vec<JobRecord>> {
        let mut ldap = self.conn().await?;
        let outcome = ldap
            .search(
                self.jobs.as_str(),
                Scope::OneLevel,
                &query.filter(),
                vec!["*"],
            )
            .await;
        let (entries, _) = check(outcome.and_then(|result| result.success()))?;
        let mut records: Vec<JobRecord> = entries
            .into_iter()
            .filter_map(|entry| record_from(&SearchEntry::construct(entry)))
            .collect();
        // UUIDv7 ids sort by creation time.
        records.sort_by_key(|record| std::cmp::Reverse(record.id));
        Ok(records)
    }

    async fn split_job(
        &self,
        id: JobId,
        parts: &[crate::job::PartProgress],
        at: OffsetDateTime,
    ) -> Result<()> {
        self.write_split(id, parts, at).await
    }

    async fn update_part(
        &self,
        id: JobId,
        index: u32,
        change: super::PartChange,
        at: OffsetDateTime,
    ) -> Result<Option<JobState>> {
        self.swap_part(id, index, change, at).await
    }

    async fn delete_job(&self, id: JobId) -> Result<()> {
        let mut ldap = self.conn().await?;
        self.delete_entry(&mut ldap, self.job_dn(id).as_str())
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_filters_on_what_it_names_with_every_value_escaped() {
        assert_eq!(JobQuery::default().filter(), "(&(objectClass=latchkeyJob))");
        let query = JobQuery {
            owner: Some(Dn::from_directory("uid=a*)(b,ou=people,dc=example,dc=org")),
            state: Some(JobState::Failed),
            kind: Some(JobKind::ChangePassword),
        };
        assert_eq!(
            query.filter(),
            "(&(objectClass=latchkeyJob)(latchkeyJobOwner=uid=a\\2a\\29\\28b,ou=people,dc=example,dc=org)\
             (latchkeyJobState=failed)(latchkeyJobKind=change_password))"
        );
    }
}
