use super::entry::{first, generalized_time, timestamp};
use super::pool::check;
use super::ttl::refresh;
use super::{LdapDirectory, MAX_BROWSER_CHARS, Result, SessionEntry, SessionStore};
use crate::domain::Dn;
use ldap3::{Mod, Scope, SearchEntry};
use std::collections::HashSet;
use time::OffsetDateTime;

impl LdapDirectory {
    fn session_dn(&self, id: &str) -> Dn {
        self.sessions.child("latchkeySessionId", id)
    }
}

/// The filter for `owner`'s sessions.
fn owner_filter(owner: &Dn) -> String {
    format!(
        "(&(objectClass=latchkeySession)(latchkeySessionOwner={}))",
        ldap3::ldap_escape(owner.as_str())
    )
}

fn session_from(entry: &SearchEntry) -> Option<SessionEntry> {
    Some(SessionEntry {
        id: first(entry, "latchkeySessionId")?.to_owned(),
        owner: Dn::from_directory(first(entry, "latchkeySessionOwner")?),
        created: timestamp(entry, "latchkeySessionCreated")?,
        verified: timestamp(entry, "latchkeySessionVerified")?,
        seen: timestamp(entry, "latchkeySessionSeen")
            .or_else(|| timestamp(entry, "latchkeySessionCreated"))?,
        client: first(entry, "latchkeySessionClient").and_then(|raw| raw.parse().ok()),
        browser: first(entry, "latchkeySessionBrowser").map(str::to_owned),
    })
}

impl SessionStore for LdapDirectory {
    async fn create_session(&self, session: &SessionEntry, ttl_seconds: u32) -> Result<()> {
        let dn = self.session_dn(&session.id);
        let created = generalized_time(session.created);
        let verified = generalized_time(session.verified);
        let seen = generalized_time(session.seen);
        let client = session.client.map(|address| address.to_string());
        let browser: Option<String> = session
            .browser
            .as_deref()
            .map(|browser| browser.chars().take(MAX_BROWSER_CHARS).collect());
        let mut attributes = vec![
            (
                "objectClass",
                HashSet::from(["latchkeySession", "dynamicObject"]),
            ),
            ("latchkeySessionId", HashSet::from([session.id.as_str()])),
            (
                "latchkeySessionOwner",
                HashSet::from([session.owner.as_str()]),
            ),
            ("latchkeySessionCreated", HashSet::from([created.as_str()])),
            (
                "latchkeySessionVerified",
                HashSet::from([verified.as_str()]),
            ),
            ("latchkeySessionSeen", HashSet::from([seen.as_str()])),
        ];
        if let Some(client) = &client {
            attributes.push(("latchkeySessionClient", HashSet::from([client.as_str()])));
        }
        if let Some(browser) = &browser {
            attributes.push(("latchkeySessionBrowser", HashSet::from([browser.as_str()])));
        }
        let mut ldap = self.conn().await?;
        let added = ldap.add(dn.as_str(), attributes).await;
        check(added.and_then(|result| result.success()))?;
        let refreshed = ldap.extended(refresh(dn.as_str(), ttl_seconds)).await;
        check(refreshed.and_then(|result| result.success()))?;
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<SessionEntry>> {
        let entry = self
            .read_entry(
                self.session_dn(id).as_str(),
                "(objectClass=latchkeySession)",
                &["*"],
            )
            .await?;
        Ok(entry.as_ref().and_then(session_from))
    }

    async fn sessions_of(&self, owner: &Dn) -> Result<Vec<SessionEntry>> {
        let mut ldap = self.conn().await?;
        let outcome = ldap
            .search(
                self.sessions.as_str(),
                Scope::OneLevel,
                &owner_filter(owner),
                vec!["*"],
            )
            .await;
        let (entries, _) = check(outcome.and_then(|result| result.success()))?;
        Ok(entries
            .into_iter()
            .map(SearchEntry::construct)
            .filter_map(|entry| session_from(&entry))
            .collect())
    }

    async fn touch_session(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        let seen = generalized_time(at);
        let mods = vec![Mod::Replace(
            "latchkeySessionSeen",
            HashSet::from([seen.as_str()]),
        )];
        let mut ldap = self.conn().await?;
        let outcome = ldap.modify(self.session_dn(id).as_str(), mods).await;
        check(outcome.and_then(|result| result.success())).map(drop)
    }

    async fn reverify_session(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        let at = generalized_time(at);
        let mods = ["latchkeySessionVerified", "latchkeySessionSeen"]
            .map(|attribute| Mod::Replace(attribute, HashSet::from([at.as_str()])))
            .to_vec();
        let mut ldap = self.conn().await?;
        let outcome = ldap.modify(self.session_dn(id).as_str(), mods).await;
        check(outcome.and_then(|result| result.success())).map(drop)
    }

    async fn delete_session(&self, id: &str) -> Result<()> {
        let mut ldap = self.conn().await?;
        self.delete_entry(&mut ldap, self.session_dn(id).as_str())
            .await
            .map(drop)
    }

    async fn delete_sessions_of(&self, owner: &Dn, keep: Option<&str>) -> Result<usize> {
        let filter = owner_filter(owner);
        let mut ldap = self.conn().await?;
        let outcome = ldap
            .search(
                self.sessions.as_str(),
                Scope::OneLevel,
                &filter,
                vec!["latchkeySessionId"],
            )
            .await;
        let (entries, _) = check(outcome.and_then(|result| result.success()))?;
        let mut ended = 0;
        for entry in entries {
            let entry = SearchEntry::construct(entry);
            if first(&entry, "latchkeySessionId").is_some_and(|id| Some(id) == keep) {
                continue;
            }
            if self.delete_entry(&mut ldap, &entry.dn).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }
}
