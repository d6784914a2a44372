//! An API client that behaves as the portal's script does: its own cookie
//! jar, and the session's CSRF token (from the `latchkey_csrf` cookie, or
//! `__Host-latchkey_csrf` when the public URL is https) in
//! `X-CSRF-Token` on every state-changing request.

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Method, RequestBuilder, Url};
use std::net::IpAddr;
use std::sync::Arc;

/// A browser-like client of one gateway.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    jar: Arc<Jar>,
    base: Url,
}

impl std::ops::Deref for Client {
    type Target = reqwest::Client;

    fn deref(&self) -> &reqwest::Client {
        &self.http
    }
}

impl Client {
    /// A client of the gateway at `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Self {
        Self::from_address(base, None)
    }

    /// A client that connects from `local` (any of 127.0.0.0/8 on loopback),
    /// so tests can play several client addresses.
    pub fn from_address(base: &str, local: Option<IpAddr>) -> Self {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(Arc::clone(&jar))
            .local_address(local)
            .build()
            .expect("a client");
        let base = Url::parse(base).expect("the gateway's address");
        Self { http, jar, base }
    }

    /// The same client (cookies and all) talking to the gateway at `base`
    /// instead: another replica behind the same public address.
    pub fn at(&self, base: &str) -> Self {
        Self {
            http: self.http.clone(),
            jar: Arc::clone(&self.jar),
            base: Url::parse(base).expect("the replica's address"),
        }
    }

    /// The session's CSRF token, once signed in.
    pub fn csrf_token(&self) -> Option<String> {
        let cookies = self.jar.cookies(&self.base)?;
        cookies.to_str().ok()?.split("; ").find_map(|pair| {
            let pair = pair.strip_prefix("__Host-").unwrap_or(pair);
            pair.strip_prefix("latchkey_csrf=")
                .filter(|token| !token.is_empty())
                .map(str::to_owned)
        })
    }

    /// The `Cookie` header this client sends, for tools that act as it.
    pub fn cookie_header(&self) -> Option<String> {
        let cookies = self.jar.cookies(&self.base)?;
        cookies.to_str().ok().map(str::to_owned)
    }

    /// A request to `path`, carrying the CSRF token when it changes state.
    pub fn request_to(&self, method: Method, path: &str) -> RequestBuilder {
        let url = self.base.join(path).expect("a path");
        let safe = matches!(method, Method::GET | Method::HEAD);
        let request = self.http.request(method, url);
        match self.csrf_token() {
            Some(token) if !safe => request.header("x-csrf-token", token),
            _ => request,
        }
    }
}
