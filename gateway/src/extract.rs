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
}
