use super::EncryptionSettings;
use super::entry::{all, first, generalized_time, has_class, number, timestamp};
use super::features::{FEATURE_JOB, Feature, LEGACY_PASSWORD_JOB, feature_jobs, record_job};
use super::pool::{check, classify};
use super::{
    Account, Accounts, DirectoryError, LdapDirectory, PasskeyChange, PasswordWrite, Result,
    StoredAppPassword, TotpChange,
};
use crate::app_password::AppPassword;
use crate::domain::{Dn, JobId, Uid};
use ldap3::{Mod, Scope, SearchEntry};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use time::OffsetDateTime;

const ACCOUNT_CLASS: &str = "latchkeyAccount";

pub(super) const ACCOUNT_ATTRIBUTES: &[&str] = &[
    "objectClass",
    "uid",
    "cn",
    "mail",
    "userPassword",
    "latchkeyPrimaryPassword",
    "latchkeyRevision",
    "latchkeyPasswordJob",
    "latchkeyFeatureJob",
    "latchkeyPasswordChanged",
    "latchkeyMailRequiresAppPassword",
    "latchkeyTotpSecret",
    "latchkeyTotpParams",
    "latchkeyTotpLastStep",
    "latchkeyRecoveryCode",
    "latchkeyAppPassword",
    PASSKEY,
    "entryUUID",
    "latchkeyEncryptionMethod",
    "latchkeyEncryptionAlgorithm",
    "latchkeyEncryptionKey",
    "latchkeyEncryptionSince",
    "latchkeyProtectSubject",
    "latchkeyLeaseHolder",
    "latchkeyLeaseExpires",
    FAILURES,
];

use super::failures::FAILURES;
use super::passkeys::{PASSKEY, passkeys_of};

pub(super) fn account_from(entry: SearchEntry) -> Account {
    Account {
        uid: first(&entry, "uid").unwrap_or_default().to_owned(),
        name: first(&entry, "cn").unwrap_or_default().to_owned(),
        mail: first(&entry, "mail").map(str::to_owned),
        managed: has_class(&entry, ACCOUNT_CLASS),
        primary_password: first(&entry, "latchkeyPrimaryPassword").map(str::to_owned),
        user_passwords: all(&entry, "userPassword"),
        revision: number(&entry, "latchkeyRevision"),
        feature_jobs: feature_jobs(all(&entry, FEATURE_JOB)),
        legacy_password_job: first(&entry, LEGACY_PASSWORD_JOB)
            .and_then(|id| JobId::parse(id).ok()),
        password_changed: timestamp(&entry, "latchkeyPasswordChanged"),
        mail_requires_app_password: first(&entry, "latchkeyMailRequiresAppPassword")
            == Some("TRUE"),
        totp_secret: first(&entry, "latchkeyTotpSecret").map(str::to_owned),
        totp_params: first(&entry, "latchkeyTotpParams").map(str::to_owned),
        totp_last_step: number(&entry, "latchkeyTotpLastStep"),
        recovery_codes: all(&entry, "latchkeyRecoveryCode"),
        app_passwords: all(&entry, "latchkeyAppPassword")
            .into_iter()
            .filter_map(|raw| {
                let entry = AppPassword::from_stored(&raw);
                if entry.is_none() {
                    tracing::warn!("an unreadable latchkeyAppPassword value is ignored");
                }
                entry.map(|entry| StoredAppPassword { raw, entry })
            })
            .collect(),
        passkeys: passkeys_of(&entry),
        user_handle: first(&entry, "entryUUID").and_then(|raw| uuid::Uuid::parse_str(raw).ok()),
        encryption: first(&entry, "latchkeyEncryptionMethod").map(|method| EncryptionSettings {
            method: method.to_owned(),
            algorithm: first(&entry, "latchkeyEncryptionAlgorithm")
                .unwrap_or_default()
                .to_owned(),
            keys: all(&entry, "latchkeyEncryptionKey"),
            since: timestamp(&entry, "latchkeyEncryptionSince"),
            protect_subject: first(&entry, "latchkeyProtectSubject") == Some("TRUE"),
        }),
        lease: first(&entry, "latchkeyLeaseHolder")
            .zip(timestamp(&entry, "latchkeyLeaseExpires"))
            .map(|(holder, until)| (holder.to_owned(), until)),
        failures_in_a_row: number(&entry, FAILURES).unwrap_or(0),
        dn: Dn::from_directory(entry.dn),
    }
}

/// A set of one value, the shape `Mod` takes.
pub(super) fn one(value: impl Into<String>) -> HashSet<String> {
    HashSet::from([value.into()])
}

fn values(items: &[String]) -> HashSet<String> {
    items.iter().cloned().collect()
}

/// The modifications that make a write conditional on nobody having
/// written since `account` was read: the revision is deleted by its old
/// value (which fails if it changed) and added one higher.
pub(super) fn revision_swap(account: &Account) -> Vec<Mod<String>> {
    let mut mods = Vec::new();
    if !account.managed {
        mods.push(Mod::Add("objectClass".into(), one(ACCOUNT_CLASS)));
    }
    if let Some(current) = account.revision {
        mods.push(Mod::Delete(
            "latchkeyRevision".into(),
            one(current.to_string()),
        ));
    }
    let next = account.revision.unwrap_or(0) + 1;
    mods.push(Mod::Add("latchkeyRevision".into(), one(next.to_string())));
    mods
}

/// Whether mail clients will find the primary password in `userPassword`
/// after the change, given whether they must use app passwords.
pub(super) fn primary_in_user_password(
    account: &Account,
    mail_requires_app_password: bool,
) -> Vec<Mod<String>> {
    let Some(primary) = &account.primary_password else {
        return Vec::new();
    };
    let present = account.user_passwords.contains(primary);
    match (mail_requires_app_password, present) {
        (true, true) => vec![Mod::Delete("userPassword".into(), one(primary.clone()))],
        (false, false) => vec![Mod::Add("userPassword".into(), one(primary.clone()))],
        _ => Vec::new(),
    }
}

pub(super) fn flag(value: bool) -> HashSet<String> {
    one(if value { "TRUE" } else { "FALSE" })
}

impl LdapDirectory {
    /// The one account `filter` (already escaped) matches, if exactly one
    /// does: an ambiguous match is nobody, never a guess between two people.
    pub(super) async fn only_account(&self, filter: &str) -> Result<Option<Account>> {
        let filter = format!("(&(objectClass=inetOrgPerson){filter})");
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
        if entries.len() != 1 {
            return Ok(None);
        }
        let entry = SearchEntry::construct(entries.into_iter().next().expect("one entry"));
        Ok(Some(account_from(entry)))
    }

    pub(super) async fn modify(&self, dn: &Dn, mods: Vec<Mod<String>>) -> Result<()> {
        let mut ldap = self.conn().await?;
        let outcome = ldap.modify(dn.as_str(), mods).await;
        check(outcome.and_then(|result| result.success())).map(drop)
    }
}

impl Accounts for LdapDirectory {
    async fn find_account(&self, uid: &Uid) -> Result<Option<Account>> {
        self.only_account(&uid.filter()).await
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
        let hash = write.hash.to_owned();
        let mut mods = revision_swap(account);
        mods.push(Mod::Replace(
            "latchkeyPrimaryPassword".into(),
            one(hash.clone()),
        ));
        mods.push(Mod::Replace(
            "latchkeyPasswordChanged".into(),
            one(generalized_time(write.at)),
        ));
        mods.extend(record_job(account, Feature::Password, write.job_id));
        if account.legacy_password_job.is_some() {
            mods.push(Mod::Replace(LEGACY_PASSWORD_JOB.into(), HashSet::new()));
        }
        let for_mail = !account.mail_requires_app_password;
        match &account.primary_password {
            // Not managed yet: its userPassword values are the old primary password.
            None if for_mail => mods.push(Mod::Replace("userPassword".into(), one(hash))),
            None => {}
            // Swap the primary value only; app-password values stay.
            Some(old) => {
                if account.user_passwords.contains(old) {
                    mods.push(Mod::Delete("userPassword".into(), one(old.clone())));
                }
                if for_mail {
                    mods.push(Mod::Add("userPassword".into(), one(hash)));
                }
            }
        }
        self.modify(&account.dn, mods).await
    }

    async fn write_encryption(
        &self,
        account: &Account,
        settings: Option<&EncryptionSettings>,
        job: JobId,
    ) -> Result<()> {
        let mut mods = revision_swap(account);
        mods.extend(record_job(account, Feature::Encryption, job));
        match settings {
            Some(settings) => {
                mods.push(Mod::Replace(
                    "latchkeyEncryptionMethod".into(),
                    one(settings.method.clone()),
                ));
                mods.push(Mod::Replace(
                    "latchkeyEncryptionAlgorithm".into(),
                    one(settings.algorithm.clone()),
                ));
                mods.push(Mod::Replace(
                    "latchkeyEncryptionKey".into(),
                    values(&settings.keys),
                ));
                if let Some(since) = settings.since {
                    mods.push(Mod::Replace(
                        "latchkeyEncryptionSince".into(),
                        one(generalized_time(since)),
                    ));
                }
                mods.push(Mod::Replace(
                    "latchkeyProtectSubject".into(),
                    flag(settings.protect_subject),
                ));
            }
            None => {
                for attribute in [
                    "latchkeyEncryptionMethod",
                    "latchkeyEncryptionAlgorithm",
                    "latchkeyEncryptionKey",
                    "latchkeyEncryptionSince",
                    "latchkeyProtectSubject",
                ] {
                    mods.push(Mod::Replace(attribute.into(), HashSet::new()));
                }
            }
        }
        self.modify(&account.dn, mods).await
    }

    async fn take_lease(
        &self,
        account: &Account,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<()> {
        let mut mods = Vec::new();
        match &account.lease {
            Some((current, expires)) => {
                // Deleting the values read makes the swap fail if another worker moved first.
                mods.push(Mod::Delete(
                    "latchkeyLeaseHolder".into(),
                    one(current.clone()),
                ));
                mods.push(Mod::Delete(
                    "latchkeyLeaseExpires".into(),
                    one(generalized_time(*expires)),
                ));
                if current != holder && *expires > now {
                    return Err(DirectoryError::Conflict);
                }
            }
            None if !account.managed => {
                mods.push(Mod::Add("objectClass".into(), one(ACCOUNT_CLASS)));
            }
            None => {}
        }
        mods.push(Mod::Add("latchkeyLeaseHolder".into(), one(holder)));
        mods.push(Mod::Add(
            "latchkeyLeaseExpires".into(),
            one(generalized_time(until)),
        ));
        self.modify(&account.dn, mods).await
    }

    async fn release_lease(&self, account: &Dn, holder: &str) -> Result<()> {
        let Some(current) = self.account_at(account).await? else {
            return Ok(());
        };
        match current.lease {
            Some((held_by, expires)) if held_by == holder => {
                let mods = vec![
                    Mod::Delete("latchkeyLeaseHolder".into(), one(held_by)),
                    Mod::Delete(
                        "latchkeyLeaseExpires".into(),
                        one(generalized_time(expires)),
                    ),
                ];
                match self.modify(account, mods).await {
                    // Someone else's now, or gone: nothing of ours to give back.
                    Err(DirectoryError::Conflict) => Ok(()),
                    other => other,
                }
            }
            _ => Ok(()),
        }
    }

    async fn write_passkeys(&self, account: &Account, change: PasskeyChange<'_>) -> Result<()> {
        self.apply_passkey_change(account, change).await
    }

    async fn account_with_user_handle(&self, handle: uuid::Uuid) -> Result<Option<Account>> {
        self.find_by_user_handle(handle).await
    }

    async fn write_totp(&self, account: &Account, change: TotpChange<'_>) -> Result<()> {
        let mut mods = revision_swap(account);
        for (feature, job) in change.features() {
            mods.extend(record_job(account, feature, job));
        }
        match change {
            TotpChange::Enable {
                job: _,
                sealed_secret,
                params,
                last_step,
                recovery_hashes,
                mail_requires_app_password,
            } => {
                mods.push(Mod::Replace(
                    "latchkeyTotpSecret".into(),
                    one(sealed_secret),
                ));
                mods.push(Mod::Replace("latchkeyTotpParams".into(), one(params)));
                mods.push(Mod::Replace(
                    "latchkeyTotpLastStep".into(),
                    one(last_step.to_string()),
                ));
                mods.push(Mod::Replace(
                    "latchkeyRecoveryCode".into(),
                    values(recovery_hashes),
                ));
                mods.push(Mod::Replace(
                    "latchkeyMailRequiresAppPassword".into(),
                    flag(mail_requires_app_password),
                ));
                mods.extend(primary_in_user_password(
                    account,
                    mail_requires_app_password,
                ));
            }
            TotpChange::Disable { job: _ } => {
                for attribute in [
                    "latchkeyTotpSecret",
                    "latchkeyTotpParams",
                    "latchkeyTotpLastStep",
                    "latchkeyRecoveryCode",
                ] {
                    mods.push(Mod::Replace(attribute.into(), HashSet::new()));
                }
                // Passkeys are a second factor too: while one stays, so does the mail rule.
                if account.passkeys.is_empty() {
                    mods.push(Mod::Replace(
                        "latchkeyMailRequiresAppPassword".into(),
                        flag(false),
                    ));
                    mods.extend(primary_in_user_password(account, false));
                }
            }
            TotpChange::ReplaceRecoveryCodes {
                job: _,
                recovery_hashes,
            } => {
                mods.push(Mod::Replace(
                    "latchkeyRecoveryCode".into(),
                    values(recovery_hashes),
                ));
            }
            TotpChange::AcceptStep { step } => {
                if let Some(last) = account.totp_last_step {
                    mods.push(Mod::Delete(
                        "latchkeyTotpLastStep".into(),
                        one(last.to_string()),
                    ));
                }
                mods.push(Mod::Add(
                    "latchkeyTotpLastStep".into(),
                    one(step.to_string()),
                ));
            }
            TotpChange::ConsumeRecoveryCode { hash } => {
                mods.push(Mod::Delete("latchkeyRecoveryCode".into(), one(hash)));
            }
        }
        self.modify(&account.dn, mods).await
    }
}
