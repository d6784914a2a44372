//! Where a request came from, as a job carries it: the id the gateway made
//! for the request and the client's address (as the limits count it).

use super::RequestId;
use crate::credentials::ClientAddress;
use crate::problem::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The request id and client address of a request, read from what the
/// router's middleware put in it.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    /// The gateway's id for the request.
    pub request_id: RequestId,
    /// The client, as `gateway.trusted_proxies` let it be known.
    pub client: ClientAddress,
}

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Self {
            request_id: RequestId::from_request_parts(parts, state).await?,
            client: ClientAddress::from_request_parts(parts, state).await?,
        })
    }
}
