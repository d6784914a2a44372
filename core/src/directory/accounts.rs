use super::entry::{all, first, generalized_time, has_class, number, timestamp};
use super::pool::{check, classify};
use super::{Account, Accounts, DirectoryError, LdapDirectory, PasswordWrite, Result};
use crate::domain::{Dn, JobId, Uid};
use ldap3::{Mod, Scope, SearchEntry};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;

const ACCOUNT_CLASS: &str = "latchkeyAccount";

const ACCOUNT_ATTRIBUTES: &[&str] = &[
    "objectClass",
    "uid",
    "cn",
    "mail",
    "userPassword",
    "latchkeyPrimaryPassword",
    "latchkeyRevision",
    "latchkeyPasswordJob",
    "latchkeyPasswordChanged",
    "latchkeyMailRequiresAppPassword",
    "latchkeyTotpSecret",
    "latchkeyAppPassword",
    "latchkeyEncryptionMethod",
];

fn account_from(entry: SearchEntry) -> Account {
    Account {
        uid: first(&entry, "uid").unwrap_or_default().to_owned(),
        name: first(&entry, "cn").unwrap_or_default().to_owned(),
        mail: first(&entry, "mail").map(str::to_owned),
        managed: has_class(&entry, ACCOUNT_CLASS),
        primary_password: first(&entry, "latchkeyPrimaryPassword").map(str::to_owned),
        user_passwords: all(&entry, "userPassword"),
        revision: number(&entry, "latchkeyRevision"),
        password_job: first(&entry, "latchkeyPasswordJob").and_then(|id| JobId::parse(id).ok()),
        password_changed: timestamp(&entry, "latchkeyPasswordChanged"),
        mail_requires_app_password: first(&entry, "latchkeyMailRequiresAppPassword")
            == Some("TRUE"),
        totp_enabled: first(&entry, "latchkeyTotpSecret").is_some(),
        app_passwords: all(&entry, "latchkeyAppPassword").len(),
        encryption_method: first(&entry, "latchkeyEncryptionMethod").map(str::to_owned),
        dn: Dn::from_directory(entry.dn),
    }
}

fn set(value: &str) -> HashSet<&str> {
    HashSet::from([value])
}

impl Accounts for LdapDirectory {
    async fn find_account(&self, uid: &Uid) -> Result<Option<Account>> {
        let filter = format!("(&(objectClass=inetOrgPerson){})", uid.filter());
        let mut ldap = self.conn().await?;
        let outcome = ldap
            .search(
                self.base.as_str(),
                Scope::Subtree,
                &filter,
                ACCOUNT_ATTRIBUTES,
            )
            .await;
        let (entries, _) = check(outcome.and_then(|result| result.success()))?;
        // An ambiguous username matches nobody: never guess between two people.
        if entries.len() != 1 {
            return Ok(None);
        }
        let entry = SearchEntry::construct(entries.into_iter().next().expect("one entry"));
        Ok(Some(account_from(entry)))
    }

    async fn account_at(&self, dn: &Dn) -> Result<Option<Account>> {
        let entry = self
            .read_entry(
                dn.as_str(),
                "(objectClass=inetOrgPerson)",
                ACCOUNT_ATTRIBUTES,
            )
            .await?;
        Ok(entry.map(account_from))
    }

    async fn bind_succeeds(&self, dn: &Dn, password: &SecretString) -> Result<bool> {
        if password.expose_secret().is_empty() {
            // An empty password is an unauthenticated bind (RFC 4513 5.1.2): never a success.
            return Ok(false);
        }
        let mut ldap = self.unpooled().await?;
        let outcome = ldap
            .simple_bind(dn.as_str(), password.expose_secret())
            .await;
        let _ = ldap.unbind().await;
        match outcome.map_err(classify)?.rc {
            0 => Ok(true),
            // invalidCredentials, or inappropriateAuthentication for entries without a password
            49 | 48 => Ok(false),
            rc => Err(DirectoryError::Refused(format!("bind answered {rc}"))),
        }
    }

    async fn write_password(&self, write: PasswordWrite<'_>) -> Result<()> {
        let account = write.account;
        let job_id = write.job_id.to_string();
        let changed = generalized_time(write.at);
        let mut mods: Vec<Mod<&str>> = Vec::new();
        if !account.managed {
            mods.push(Mod::Add("objectClass", set(ACCOUNT_CLASS)));
        }
        // The revision swap makes the whole modify conditional on nobody
        // having written since we read the account.
        let next_revision = (account.revision.unwrap_or(0) + 1).to_string();
        let current_revision = account.revision.map(|revision| revision.to_string());
        if let Some(current) = &current_revision {
            mods.push(Mod::Delete("latchkeyRevision", set(current)));
        }
        mods.push(Mod::Add("latchkeyRevision", set(&next_revision)));
        mods.push(Mod::Replace("latchkeyPrimaryPassword", set(write.hash)));
        mods.push(Mod::Replace("latchkeyPasswordChanged", set(&changed)));
        mods.push(Mod::Replace("latchkeyPasswordJob", set(&job_id)));
        match &account.primary_password {
            // Legacy account: its userPassword values are the old primary password.
            None if !account.mail_requires_app_password => {
                mods.push(Mod::Replace("userPassword", set(write.hash)));
            }
            // Swap the primary value only; app-password values stay.
            Some(old) if account.user_passwords.contains(old) => {
                mods.push(Mod::Delete("userPassword", set(old)));
                if !account.mail_requires_app_password {
                    mods.push(Mod::Add("userPassword", set(write.hash)));
                }
            }
            Some(_) if !account.mail_requires_app_password => {
                mods.push(Mod::Add("userPassword", set(write.hash)));
            }
            // Mail clients use app passwords only: the primary stays out of userPassword.
            _ => {}
        }
        let mut ldap = self.conn().await?;
        let outcome = ldap.modify(account.dn.as_str(), mods).await;
        check(outcome.and_then(|result| result.success())).map(drop)
    }
}
