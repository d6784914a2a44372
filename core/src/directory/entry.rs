//! Reading attributes out of search results, and LDAP's time syntax.

use ldap3::SearchEntry;
use time::format_description::well_known::Iso8601;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The first value of `attribute`, if any.
pub(super) fn first<'a>(entry: &'a SearchEntry, attribute: &str) -> Option<&'a str> {
    entry
        .attrs
        .get(attribute)
        .and_then(|values| values.first())
        .map(String::as_str)
}

/// Every value of `attribute`.
pub(super) fn all(entry: &SearchEntry, attribute: &str) -> Vec<String> {
    entry.attrs.get(attribute).cloned().unwrap_or_default()
}

/// The first value of `attribute` parsed as a number.
pub(super) fn number<T: std::str::FromStr>(entry: &SearchEntry, attribute: &str) -> Option<T> {
    first(entry, attribute).and_then(|value| value.parse().ok())
}

/// The first value of `attribute` parsed as GeneralizedTime.
pub(super) fn timestamp(entry: &SearchEntry, attribute: &str) -> Option<OffsetDateTime> {
    first(entry, attribute).and_then(parse_generalized_time)
}

/// Whether the entry has the object class `class` (case-insensitively).
pub(super) fn has_class(entry: &SearchEntry, class: &str) -> bool {
    entry
        .attrs
        .get("objectClass")
        .is_some_and(|classes| classes.iter().any(|c| c.eq_ignore_ascii_case(class)))
}

/// `time` in GeneralizedTime (`YYYYMMDDHHMMSSZ`, UTC), as slapd stores it.
pub(super) fn generalized_time(time: OffsetDateTime) -> String {
    let utc = time.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!(
        "[year][month][day][hour][minute][second]Z"
    ))
    .expect("a UTC time formats")
}

/// Parses GeneralizedTime in the UTC form slapd writes.
pub(super) fn parse_generalized_time(raw: &str) -> Option<OffsetDateTime> {
    let digits = raw.strip_suffix('Z')?;
    let digits = digits.split(['.', ',']).next()?;
    PrimitiveDateTime::parse(
        digits,
        format_description!("[year][month][day][hour][minute][second]"),
    )
    .ok()
    .map(PrimitiveDateTime::assume_utc)
    .or_else(|| OffsetDateTime::parse(raw, &Iso8601::DEFAULT).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn generalized_time_round_trips() {
        let at = datetime!(2026-11-27 15:04:05 UTC);
        assert_eq!(generalized_time(at), "20261127150405Z");
        assert_eq!(parse_generalized_time("20261127150405Z"), Some(at));
        assert_eq!(parse_generalized_time("20261127150405.123Z"), Some(at));
        assert_eq!(parse_generalized_time("garbage"), None);
    }
}
