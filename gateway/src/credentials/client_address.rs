//! Who the client is, for the per-address limits: the TCP peer, or, when
//! the peer is one of `gateway.trusted_proxies`, the address that proxy
//! says it forwarded for (`Forwarded`, RFC 7239, else `X-Forwarded-For`).
//! Headers from any other peer are ignored: a client cannot choose the
//! address it is counted under.

use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// The client's address, as the limits count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// The client of a request from `peer` with `headers`, trusting the
    /// forwarding headers of `trusted` proxies only. Walks the chain from
    /// the nearest hop outwards and stops at the first address that is not
    /// a trusted proxy.
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Self {
        let is_trusted = |address: &IpAddr| trusted.iter().any(|net| net.contains(address));
        if !is_trusted(&peer) {
            return Self(peer);
        }
        let mut chain = forwarded_for(headers);
        chain.reverse();
        let client = chain
            .into_iter()
            .find(|address| !is_trusted(address))
            .unwrap_or(peer);
        Self(client)
    }

    /// The key the per-address limit counts under: the address itself, or
    /// for IPv6 its /64, since one host or home network holds a whole /64.
    pub fn limit_key(&self) -> String {
        match self.0.to_canonical() {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        }
    }
}

/// The addresses the forwarding headers name, the client first.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let forwarded: Vec<IpAddr> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| node_address(value))?
            })
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(node_address)
        .collect()
}

/// An address as forwarding headers write it: `1.2.3.4`, `1.2.3.4:80`,
/// `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn node_address(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim().trim_matches('"');
    if let Ok(address) = raw.parse() {
        return Some(address);
    }
    if let Ok(socket) = raw.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    raw.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(address, _)| address.parse().ok())
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Self>().copied().ok_or_else(|| {
            ApiError::Internal("no client address: the router lacks client_address::resolve".into())
        })
    }
}

/// Middleware: works out the request's [`ClientAddress`] once, for the
/// limits, the request's log span and the audit lines of what it causes.
pub async fn resolve<D, P>(
    State(state): State<Arc<AppState<D, P>>>,
    mut request: Request,
    next: Next,
) -> Response {
    match request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    {
        Some(ConnectInfo(peer)) => {
            let client = ClientAddress::resolve(
                peer.ip(),
                request.headers(),
                &state.credentials.trusted_proxies,
            );
            request.extensions_mut().insert(client);
            next.run(request).await
        }
        None => ApiError::Internal("no peer address on the request".into()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn forwarding_headers_count_only_from_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let forwarded = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.7")]);
        let from_proxy = ClientAddress::resolve("10.0.0.5".parse().unwrap(), &forwarded, &trusted);
        assert_eq!(from_proxy.0, "203.0.113.9".parse::<IpAddr>().unwrap());
        let direct = ClientAddress::resolve("198.51.100.1".parse().unwrap(), &forwarded, &trusted);
        assert_eq!(
            direct.0,
            "198.51.100.1".parse::<IpAddr>().unwrap(),
            "a client cannot pick its address"
        );
        let spoofed = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9")]);
        let chain = ClientAddress::resolve("10.0.0.5".parse().unwrap(), &spoofed, &trusted);
        assert_eq!(
            chain.0,
            "203.0.113.9".parse::<IpAddr>().unwrap(),
            "the nearest untrusted hop counts"
        );
    }

    #[test]
    fn the_forwarded_header_is_read_as_rfc_7239_writes_it() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let forwarded = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\"",
        )]);
        let client = ClientAddress::resolve("127.0.0.1".parse().unwrap(), &forwarded, &trusted);
        assert_eq!(client.0, "2001:db8:cafe::17".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let one = ClientAddress("2001:db8:1:2:aaaa::1".parse().unwrap());
        let other = ClientAddress("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(one.limit_key(), other.limit_key());
        assert_eq!(one.limit_key(), "2001:db8:1:2::/64");
        let mapped = ClientAddress("::ffff:192.0.2.1".parse().unwrap());
        assert_eq!(mapped.limit_key(), "192.0.2.1");
    }
}
