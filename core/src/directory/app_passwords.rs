use super::accounts::{ACCOUNT_ATTRIBUTES, account_from, one, revision_swap};
use super::entry::{first, has_class, timestamp};
use super::features::{Feature, record_job};
use super::pool::classify;
use super::{Account, AppPasswordStore, LdapDirectory, Result, StoredAppPassword};
use crate::app_password::last_use::LastBinds;
use crate::app_password::{AppPassword, Scope, Service};
use crate::domain::{Dn, JobId};
use ldap3::{LdapError, Mod, SearchEntry};
use std::collections::HashSet;

/// LDAP result codes an idempotent write may meet and take as done.
const NO_SUCH_ATTRIBUTE: u32 = 16;
const ATTRIBUTE_OR_VALUE_EXISTS: u32 = 20;
const NO_SUCH_OBJECT: u32 = 32;
const ALREADY_EXISTS: u32 = 68;

/// `Ok` for success or one of the `tolerated` result codes; the code met otherwise.
fn tolerate(
    outcome: std::result::Result<ldap3::LdapResult, LdapError>,
    tolerated: &[u32],
) -> Result<Option<u32>> {
    let result = outcome.map_err(classify)?;
    match result.rc {
        0 => Ok(None),
        rc if tolerated.contains(&rc) => Ok(Some(rc)),
        _ => Err(classify(LdapError::LdapResult { result })),
    }
}

/// The DNs whose `userPassword` holds the app password's hash.
fn hash_holders(account: &Dn, scope: &Scope) -> Vec<(Option<Service>, Dn)> {
    match scope {
        Scope::All => vec![(None, account.clone())],
        Scope::Services(services) => services
            .iter()
            .map(|service| (Some(*service), account.child("cn", service.name())))
            .collect(),
    }
}

impl AppPasswordStore for LdapDirectory {
    async fn record_app_password(&self, account: &Account, entry: &AppPassword) -> Result<()> {
        let mut mods = revision_swap(account);
        mods.push(Mod::Add(
            "latchkeyAppPassword".into(),
            one(entry.to_stored()),
        ));
        self.modify(&account.dn, mods).await
    }

    async fn install_app_password(&self, account: &Dn, entry: &AppPassword) -> Result<()> {
        let mut ldap = self.conn().await?;
        for (service, holder) in hash_holders(account, &entry.scope) {
            if let Some(service) = service {
                // The child entry is made when first needed.
                let attributes = vec![
                    ("objectClass", HashSet::from(["latchkeyServiceCredential"])),
                    ("cn", HashSet::from([service.name()])),
                    ("userPassword", HashSet::from([entry.hash.as_str()])),
                ];
                let added = ldap.add(holder.as_str(), attributes).await;
                if tolerate(added, &[ALREADY_EXISTS])?.is_none() {
                    continue;
                }
            }
            let mods = vec![Mod::Add(
                "userPassword",
                HashSet::from([entry.hash.as_str()]),
            )];
            let outcome = ldap.modify(holder.as_str(), mods).await;
            tolerate(outcome, &[ATTRIBUTE_OR_VALUE_EXISTS])?;
        }
        Ok(())
    }

    async fn remove_app_password(&self, account: &Dn, stored: &StoredAppPassword) -> Result<()> {
        let mut ldap = self.conn().await?;
        for (_, holder) in hash_holders(account, &stored.entry.scope) {
            let mods = vec![Mod::Delete(
                "userPassword",
                HashSet::from([stored.entry.hash.as_str()]),
            )];
            let outcome = ldap.modify(holder.as_str(), mods).await;
            tolerate(outcome, &[NO_SUCH_ATTRIBUTE, NO_SUCH_OBJECT])?;
        }
        // The metadata goes last: until then a redelivery can find the hashes again.
        let mods = vec![Mod::Delete(
            "latchkeyAppPassword",
            HashSet::from([stored.raw.as_str()]),
        )];
        let outcome = ldap.modify(account.as_str(), mods).await;
        tolerate(outcome, &[NO_SUCH_ATTRIBUTE, NO_SUCH_OBJECT]).map(drop)
    }

    async fn record_revocation(&self, account: &Account, job: JobId) -> Result<()> {
        let mut mods = revision_swap(account);
        mods.extend(record_job(account, Feature::AppPasswordRevocation, job));
        self.modify(&account.dn, mods).await
    }

    async fn accounts_with_app_passwords(&self) -> Result<Vec<Account>> {
        let mut ldap = self.conn().await?;
        let outcome = ldap
            .search(
                self.base.as_str(),
                ldap3::Scope::Subtree,
                "(&(objectClass=latchkeyAccount)(latchkeyAppPassword=*))",
                ACCOUNT_ATTRIBUTES,
            )
            .await;
        let (entries, _) = super::pool::check(outcome.and_then(|result| result.success()))?;
        Ok(entries
            .into_iter()
            .map(|entry| account_from(SearchEntry::construct(entry)))
            .collect())
    }

    async fn last_binds(&self, account: &Dn) -> Result<LastBinds> {
        let mut ldap = self.conn().await?;
        // authTimestamp is operational: it comes only when named.
        let outcome = ldap
            .search(
                account.as_str(),
                ldap3::Scope::Subtree,
                "(objectClass=*)",
                vec!["objectClass", "cn", "authTimestamp"],
            )
            .await;
        let (entries, _) = super::pool::check(outcome.and_then(|result| result.success()))?;
        let mut binds = LastBinds::default();
        for entry in entries.into_iter().map(SearchEntry::construct) {
            let at = timestamp(&entry, "authTimestamp");
            let is_service_entry = has_class(&entry, "latchkeyServiceCredential")
                || has_class(&entry, "applicationProcess");
            if !is_service_entry {
                binds.account = at;
                continue;
            }
            let service = first(&entry, "cn").and_then(|cn| {
                Service::ALL
                    .into_iter()
                    .find(|service| service.name().eq_ignore_ascii_case(cn))
            });
            if let (Some(service), Some(at)) = (service, at) {
                binds.services.insert(service, at);
            }
        }
        Ok(binds)
    }
}
