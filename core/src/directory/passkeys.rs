//! Passkeys on the account entry: one `latchkeyPasskey` value each,
//! registered and removed by jobs, updated by the gateway when one is used.

use super::accounts::{flag, one, primary_in_user_password, revision_swap};
use super::entry::all;
use super::features::{Feature, record_job};
use super::{Account, LdapDirectory, PasskeyChange, Result, StoredPasskeyValue};
use crate::second_factor::StoredPasskey;
use ldap3::{Mod, SearchEntry};

/// The attribute holding one value per passkey.
pub(super) const PASSKEY: &str = "latchkeyPasskey";

/// The readable passkeys of an entry; an unreadable value is logged and skipped.
pub(super) fn passkeys_of(entry: &SearchEntry) -> Vec<StoredPasskeyValue> {
    all(entry, PASSKEY)
        .into_iter()
        .filter_map(|raw| {
            let parsed = StoredPasskey::from_stored(&raw);
            if parsed.is_none() {
                tracing::warn!("an unreadable latchkeyPasskey value is ignored");
            }
            parsed.map(|entry| StoredPasskeyValue { raw, entry })
        })
        .collect()
}

impl LdapDirectory {
    pub(super) async fn apply_passkey_change(
        &self,
        account: &Account,
        change: PasskeyChange<'_>,
    ) -> Result<()> {
        let mut mods = revision_swap(account);
        match change {
            PasskeyChange::Add {
                value,
                mail_requires_app_password,
            } => {
                mods.push(Mod::Add(PASSKEY.into(), one(value)));
                if !account.second_factor_on() {
                    mods.push(Mod::Replace(
                        "latchkeyMailRequiresAppPassword".into(),
                        flag(mail_requires_app_password),
                    ));
                    mods.extend(primary_in_user_password(
                        account,
                        mail_requires_app_password,
                    ));
                }
            }
            PasskeyChange::Remove { job, raw } => {
                mods.extend(record_job(account, Feature::PasskeyRemoval, job));
                mods.push(Mod::Delete(PASSKEY.into(), one(raw)));
                let last = account.passkeys.iter().all(|stored| stored.raw == raw);
                if last && !account.totp_enabled() {
                    mods.push(Mod::Replace(
                        "latchkeyMailRequiresAppPassword".into(),
                        flag(false),
                    ));
                    mods.extend(primary_in_user_password(account, false));
                }
            }
            PasskeyChange::Update { old, new } => {
                mods.push(Mod::Delete(PASSKEY.into(), one(old)));
                mods.push(Mod::Add(PASSKEY.into(), one(new)));
            }
        }
        self.modify(&account.dn, mods).await
    }

    pub(super) async fn find_by_user_handle(&self, handle: uuid::Uuid) -> Result<Option<Account>> {
        // A UUID's text is hex digits and dashes: nothing to escape in a filter.
        self.only_account(&format!("(entryUUID={handle})")).await
    }
}
