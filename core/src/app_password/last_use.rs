//! When app passwords were last used, as far as slapd's binds tell.
//!
//! The `lastbind` overlay records `authTimestamp` on the entry a bind
//! succeeded as, to within `olcLastBindPrecision` (5 minutes). A
//! service-scoped app password's hash sits in `cn=<service>,<account>`, one
//! entry per service shared by every app password of that service, so a
//! time there says that *some* app password of that service was used then.
//! A scope-`all` app password sits in the account's own `userPassword`,
//! beside the primary password: its binds can be told apart only while mail
//! programs may not use the primary password (2FA on).

use super::{AppPassword, Scope, Service};
use serde::Serialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The successful binds slapd recorded on an account and its service entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastBinds {
    /// `authTimestamp` of the account entry itself.
    pub account: Option<OffsetDateTime>,
    /// `authTimestamp` of each `cn=<service>` child that has one.
    pub services: BTreeMap<Service, OffsetDateTime>,
}

/// What the recorded binds say about one app password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LastUse {
    /// The latest bind since it was made on an entry that holds its hash;
    /// `None` when none is recorded (or none can be attributed).
    #[serde(with = "time::serde::rfc3339::option")]
    pub at: Option<OffsetDateTime>,
    /// Another app password's hash is in one of those entries, so `at` may
    /// be that one's use.
    pub shared: bool,
    /// Whether its binds are recorded apart from the primary password's at
    /// all (not for scope `all` while the primary password opens mail).
    pub recorded: bool,
}

impl LastBinds {
    /// The last use of `entry`, among the account's `all` app passwords;
    /// `primary_opens_mail` says whether the primary password's hash is in
    /// the account's `userPassword` (mail does not require app passwords).
    pub fn last_use(
        &self,
        entry: &AppPassword,
        all: &[&AppPassword],
        primary_opens_mail: bool,
    ) -> LastUse {
        let since_made = |at: &OffsetDateTime| *at >= whole_seconds(entry.created);
        let others = || all.iter().filter(|other| other.id != entry.id);
        match &entry.scope {
            Scope::All => LastUse {
                at: (!primary_opens_mail)
                    .then_some(self.account)
                    .flatten()
                    .filter(since_made),
                shared: others().any(|other| other.scope == Scope::All),
                recorded: !primary_opens_mail,
            },
            Scope::Services(services) => LastUse {
                at: services
                    .iter()
                    .filter_map(|service| self.services.get(service))
                    .filter(|at| since_made(at))
                    .max()
                    .copied(),
                shared: others().any(|other| match &other.scope {
                    Scope::Services(theirs) => !theirs.is_disjoint(services),
                    Scope::All => false,
                }),
                recorded: true,
            },
        }
    }
}

impl LastUse {
    /// Whether it has certainly not been used for `idle` before `now`: its
    /// binds are recorded and none (or only before it was made) is more
    /// recent. A shared entry's recent bind may be this one's, so it counts.
    pub fn idle_for(
        &self,
        created: OffsetDateTime,
        idle: time::Duration,
        now: OffsetDateTime,
    ) -> bool {
        self.recorded && now - self.at.unwrap_or(created) >= idle
    }
}

/// `authTimestamp` has whole seconds: a bind in the second an app password
/// was made may be its own.
fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_password::AppPasswordName;
    use time::macros::datetime;

    fn app_password(name: &str, scope: Scope, created: OffsetDateTime) -> AppPassword {
        AppPassword {
            id: uuid::Uuid::new_v4(),
            name: AppPasswordName::parse(name).unwrap(),
            scope,
            created,
            expires: None,
            hash: String::new(),
        }
    }

    fn services(list: &[Service]) -> Scope {
        Scope::Services(list.iter().copied().collect())
    }

    const MADE: OffsetDateTime = datetime!(2026-01-01 10:00:00.5 UTC);

    #[test]
    fn a_service_app_password_is_used_when_one_of_its_entries_was_bound_since_it_was_made() {
        let phone = app_password("Phone", services(&[Service::Imap, Service::Smtp]), MADE);
        let binds = LastBinds {
            account: Some(datetime!(2026-03-01 0:00 UTC)),
            services: BTreeMap::from([
                (Service::Imap, datetime!(2026-02-01 0:00 UTC)),
                (Service::Smtp, datetime!(2026-02-02 0:00 UTC)),
                (Service::Pop3, datetime!(2026-02-03 0:00 UTC)),
            ]),
        };
        let used = binds.last_use(&phone, &[&phone], true);
        assert_eq!(used.at, Some(datetime!(2026-02-02 0:00 UTC)));
        assert!(used.recorded && !used.shared);
    }

    #[test]
    fn a_bind_before_it_was_made_is_not_its_use() {
        let laptop = app_password("Laptop", services(&[Service::Imap]), MADE);
        let binds = LastBinds {
            services: BTreeMap::from([(Service::Imap, datetime!(2026-01-01 9:59 UTC))]),
            ..LastBinds::default()
        };
        assert_eq!(binds.last_use(&laptop, &[&laptop], true).at, None);
        let same_second = LastBinds {
            services: BTreeMap::from([(Service::Imap, datetime!(2026-01-01 10:00 UTC))]),
            ..LastBinds::default()
        };
        assert_eq!(
            same_second.last_use(&laptop, &[&laptop], true).at,
            Some(datetime!(2026-01-01 10:00 UTC))
        );
    }

    #[test]
    fn app_passwords_of_one_service_share_its_entry() {
        let phone = app_password("Phone", services(&[Service::Imap]), MADE);
        let laptop = app_password("Laptop", services(&[Service::Imap, Service::Smtp]), MADE);
        let sieve = app_password("Filters", services(&[Service::Sieve]), MADE);
        let all = [&phone, &laptop, &sieve];
        let binds = LastBinds::default();
        assert!(binds.last_use(&phone, &all, true).shared);
        assert!(binds.last_use(&laptop, &all, true).shared);
        assert!(!binds.last_use(&sieve, &all, true).shared);
    }

    #[test]
    fn an_all_scope_app_password_is_told_apart_only_while_the_primary_password_opens_no_mail() {
        let old = app_password("Old client", Scope::All, MADE);
        let binds = LastBinds {
            account: Some(datetime!(2026-02-01 0:00 UTC)),
            ..LastBinds::default()
        };
        let with_primary = binds.last_use(&old, &[&old], true);
        assert_eq!((with_primary.at, with_primary.recorded), (None, false));
        let app_passwords_only = binds.last_use(&old, &[&old], false);
        assert_eq!(app_passwords_only.at, Some(datetime!(2026-02-01 0:00 UTC)));
        assert!(app_passwords_only.recorded);
    }

    #[test]
    fn idle_counts_from_the_last_use_or_else_from_when_it_was_made() {
        let day = time::Duration::days(1);
        let idle = time::Duration::days(90);
        let never = LastUse {
            at: None,
            shared: false,
            recorded: true,
        };
        assert!(never.idle_for(MADE, idle, MADE + 90 * day));
        assert!(!never.idle_for(MADE, idle, MADE + 89 * day));
        let used = LastUse {
            at: Some(MADE + 10 * day),
            ..never
        };
        assert!(!used.idle_for(MADE, idle, MADE + 95 * day));
        let unknown = LastUse {
            recorded: false,
            ..never
        };
        assert!(
            !unknown.idle_for(MADE, idle, MADE + 900 * day),
            "unknown is not idle"
        );
    }
}
