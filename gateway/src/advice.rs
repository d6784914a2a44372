//! The one thing the overview suggests: the weakest protection first.
//!
//! In order: no second factor (a stolen password opens everything); an app
//! password unused for [`IDLE_APP_PASSWORD`] (a forgotten secret that still
//! opens the mailbox); an encryption key that expires within
//! [`KEY_EXPIRY_WARNING`] (new mail would stop being encrypted to it).
//! There is no password-age rule: Latchkey has no password expiry policy,
//! and forcing changes on a schedule weakens passwords (NIST SP 800-63B).

use serde::Serialize;
use time::{Duration, OffsetDateTime};

/// How long an app password may go unused before the overview suggests revoking it.
pub const IDLE_APP_PASSWORD: Duration = Duration::days(90);
/// How soon before a key expires the overview suggests replacing it.
pub const KEY_EXPIRY_WARNING: Duration = Duration::days(30);

/// What the suggestion is based on.
#[derive(Debug, Clone, Default)]
pub struct Protections<'a> {
    /// Whether a second factor is on.
    pub second_factor: bool,
    /// The names of app passwords certainly unused for [`IDLE_APP_PASSWORD`].
    pub idle_app_passwords: Vec<&'a str>,
    /// When each stored encryption key stops encrypting (`None`: never).
    pub key_expiries: Vec<Option<OffsetDateTime>>,
}

/// One suggestion, with where to act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Suggestion {
    /// Turn on two-factor authentication.
    TurnOnSecondFactor,
    /// Revoke an app password nobody has used for a long time.
    RevokeIdleAppPassword {
        /// Its name.
        name: String,
    },
    /// Upload a new key: this one expires soon, or has.
    ReplaceExpiringKey {
        /// When the key stops encrypting.
        #[serde(with = "time::serde::rfc3339")]
        expires: OffsetDateTime,
    },
}

impl Suggestion {
    /// The suggestion in words.
    pub fn message(&self) -> String {
        match self {
            Suggestion::TurnOnSecondFactor => "Turn on two-factor authentication: with it, \
                a stolen password alone no longer opens your account."
                .into(),
            Suggestion::RevokeIdleAppPassword { name } => format!(
                "The app password “{name}” has not been used for {} days: revoke it if no \
                 program needs it any more.",
                IDLE_APP_PASSWORD.whole_days()
            ),
            Suggestion::ReplaceExpiringKey { .. } => "An encryption key expires within \
                30 days or has expired: upload its renewed version, so new mail stays encrypted to it."
                .into(),
        }
    }

    /// The portal page where it is done.
    pub fn page(&self) -> &'static str {
        match self {
            Suggestion::TurnOnSecondFactor => "/two-factor",
            Suggestion::RevokeIdleAppPassword { .. } => "/app-passwords",
            Suggestion::ReplaceExpiringKey { .. } => "/encryption",
        }
    }
}

/// The most important suggestion for `protections` at `now`, if any.
pub fn suggestion(protections: &Protections<'_>, now: OffsetDateTime) -> Option<Suggestion> {
    if !protections.second_factor {
        return Some(Suggestion::TurnOnSecondFactor);
    }
    if let Some(name) = protections.idle_app_passwords.first() {
        return Some(Suggestion::RevokeIdleAppPassword {
            name: (*name).to_owned(),
        });
    }
    protections
        .key_expiries
        .iter()
        .flatten()
        .filter(|expires| **expires - now <= KEY_EXPIRY_WARNING)
        .min()
        .map(|expires| Suggestion::ReplaceExpiringKey { expires: *expires })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn strong() -> Protections<'static> {
        Protections {
            second_factor: true,
            idle_app_passwords: vec![],
            key_expiries: vec![None, Some(NOW + Duration::days(400))],
        }
    }

    #[test]
    fn nothing_is_suggested_when_every_protection_is_strong() {
        assert_eq!(suggestion(&strong(), NOW), None);
        assert_eq!(
            suggestion(
                &Protections {
                    key_expiries: vec![],
                    ..strong()
                },
                NOW
            ),
            None
        );
    }

    #[test]
    fn a_missing_second_factor_comes_before_everything() {
        let weak = Protections {
            second_factor: false,
            idle_app_passwords: vec!["Old phone"],
            key_expiries: vec![Some(NOW + Duration::days(3))],
        };
        assert_eq!(suggestion(&weak, NOW), Some(Suggestion::TurnOnSecondFactor));
    }

    #[test]
    fn an_idle_app_password_comes_before_an_expiring_key() {
        let weak = Protections {
            idle_app_passwords: vec!["Old phone", "Tablet"],
            key_expiries: vec![Some(NOW + Duration::days(3))],
            ..strong()
        };
        assert_eq!(
            suggestion(&weak, NOW),
            Some(Suggestion::RevokeIdleAppPassword {
                name: "Old phone".into()
            })
        );
    }

    #[test]
    fn the_soonest_key_to_expire_within_30_days_is_named() {
        let soon = NOW + Duration::days(30);
        let sooner = NOW + Duration::days(10);
        let keys = Protections {
            key_expiries: vec![
                Some(NOW + Duration::days(31)),
                Some(soon),
                Some(sooner),
                None,
            ],
            ..strong()
        };
        assert_eq!(
            suggestion(&keys, NOW),
            Some(Suggestion::ReplaceExpiringKey { expires: sooner })
        );
        let later = Protections {
            key_expiries: vec![Some(NOW + Duration::days(31))],
            ..strong()
        };
        assert_eq!(suggestion(&later, NOW), None, "31 days is not soon");
        let expired = Protections {
            key_expiries: vec![Some(NOW - Duration::days(1))],
            ..strong()
        };
        assert_eq!(
            suggestion(&expired, NOW),
            Some(Suggestion::ReplaceExpiringKey {
                expires: NOW - Duration::days(1)
            }),
            "an expired key is weaker still"
        );
    }

    #[test]
    fn each_suggestion_says_where_to_act() {
        let pages = [
            Suggestion::TurnOnSecondFactor.page(),
            Suggestion::RevokeIdleAppPassword { name: "x".into() }.page(),
            Suggestion::ReplaceExpiringKey { expires: NOW }.page(),
        ];
        assert_eq!(pages, ["/two-factor", "/app-passwords", "/encryption"]);
    }
}
