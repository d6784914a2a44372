//! The JSON body extractor: content type, size and shape errors become
//! specific problems instead of axum's plain-text rejections.

use crate::problem::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body of type `T`.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::PayloadTooLarge(MAX_BODY_BYTES))?;
        parse(&bytes).map(ApiJson)
    }
}

/// A JSON request body that may be left out (a `DELETE` that needs no
/// proof): no body at all reads as `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let empty = !request.headers().contains_key(header::CONTENT_TYPE)
            && request
                .headers()
                .get(header::CONTENT_LENGTH)
                .is_none_or(|length| length == "0");
        if empty {
            return Ok(Self(T::default()));
        }
        ApiJson::from_request(request, state)
            .await
            .map(|ApiJson(body)| Self(body))
    }
}

/// Parses a body, telling malformed JSON (400) from a wrong shape (422).
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|error| ApiError::MalformedJson(error.to_string()))?;
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        // serde says "missing field `name`" with the path of the enclosing object.
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            let field = if path == "." {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            return ApiError::MissingField(field);
        }
        ApiError::InvalidField {
            field: path,
            detail: format!("the field has the wrong type: {}", type_hint(&message)),
        }
    })
}

/// Reads an optional whole number written either way JSON allows (`30` or
/// `30.0`), as JSON Schema's `integer` does; a fraction, a negative number
/// or one past `u32` is refused.
pub fn whole_number<'de, D>(deserializer: D) -> Result<Option<u32>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize as _;
    use serde::de::Error as _;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|value| value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(value))
            .map(|value| value as u64)
    });
    whole
        .and_then(|value| u32::try_from(value).ok())
        .map(Some)
        .ok_or_else(|| D::Error::custom("invalid value, expected a whole number"))
}

/// The part of serde's message that says what was expected, without echoing input.
fn type_hint(message: &str) -> &str {
    message
        .rsplit_once(", expected ")
        .map_or("unexpected value", |(_, expected)| expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Change {
        current: String,
        new: String,
    }

    #[test]
    fn malformed_json_is_told_from_a_missing_field() {
        assert!(matches!(
            parse::<Change>(b"{"),
            Err(ApiError::MalformedJson(_))
        ));
        match parse::<Change>(br#"{"current":"x"}"#) {
            Err(ApiError::MissingField(field)) => assert_eq!(field, "new"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_wrong_type_names_the_field_without_echoing_the_value() {
        match parse::<Change>(br#"{"current":"secret-value","new":7}"#) {
            Err(ApiError::InvalidField { field, detail }) => {
                assert_eq!(field, "new");
                assert!(!detail.contains("secret-value"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[derive(Debug, Deserialize)]
    struct Days {
        #[serde(default, deserialize_with = "whole_number")]
        days: Option<u32>,
    }

    #[test]
    fn a_whole_number_may_be_written_with_a_point_zero_but_not_as_a_fraction() {
        let days = |body: &[u8]| parse::<Days>(body).map(|parsed| parsed.days);
        assert_eq!(days(br#"{"days": 30}"#).unwrap(), Some(30));
        assert_eq!(days(br#"{"days": 30.0}"#).unwrap(), Some(30));
        assert_eq!(days(br#"{"days": null}"#).unwrap(), None);
        assert_eq!(days(b"{}").unwrap(), None);
        for refused in [
            &br#"{"days": 30.5}"#[..],
            br#"{"days": -1}"#,
            br#"{"days": 4294967296}"#,
        ] {
            assert!(
                matches!(days(refused), Err(ApiError::InvalidField { .. })),
                "{}",
                String::from_utf8_lossy(refused)
            );
        }
    }
}
