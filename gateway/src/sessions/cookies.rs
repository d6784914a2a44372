//! The names and attributes of the gateway's two cookies, the session and
//! the CSRF token. When the portal is served over https they carry the
//! `__Host-` prefix: browsers then accept them only with `Secure`,
//! `Path=/` and no `Domain`, so no other host (a sibling subdomain, a
//! plain-http page) can set or shadow them. Over http the prefix is left
//! off, since browsers refuse it without `Secure`.

use axum_extra::extract::cookie::{Cookie, SameSite};

/// How the gateway's cookies are named and scoped, decided once from
/// `gateway.public_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiePolicy {
    https: bool,
}

impl CookiePolicy {
    /// The policy for the portal served at `public_url`.
    pub fn for_public_url(public_url: &str) -> Self {
        Self {
            https: public_url.starts_with("https://"),
        }
    }

    /// The session cookie's name.
    pub fn session_name(self) -> &'static str {
        if self.https {
            "__Host-latchkey_session"
        } else {
            "latchkey_session"
        }
    }

    /// The name of the cookie that hands the CSRF token to the portal's script.
    pub fn csrf_name(self) -> &'static str {
        if self.https {
            "__Host-latchkey_csrf"
        } else {
            "latchkey_csrf"
        }
    }

    /// The session cookie: script cannot read it.
    pub fn session(self, secret: String, max_age: time::Duration) -> Cookie<'static> {
        let mut cookie = self.cookie(self.session_name(), secret);
        cookie.set_http_only(true);
        cookie.set_max_age(max_age);
        cookie
    }

    /// The CSRF cookie: script reads it; a request needs it in `X-CSRF-Token`.
    pub fn csrf(self, token: String, max_age: time::Duration) -> Cookie<'static> {
        let mut cookie = self.cookie(self.csrf_name(), token);
        cookie.set_max_age(max_age);
        cookie
    }

    /// Cookies that remove both (empty, expired); they need the same
    /// attributes, or a browser ignores a `__Host-` removal.
    pub fn removals(self) -> [Cookie<'static>; 2] {
        [self.session_name(), self.csrf_name()].map(|name| {
            let mut cookie = self.cookie(name, String::new());
            cookie.make_removal();
            cookie
        })
    }

    /// What every cookie of ours has: `Secure` over https, `Path=/`, no
    /// `Domain` (sent to this host only), `SameSite=Strict`.
    fn cookie(self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build((name, value))
            .secure(self.https)
            .path("/")
            .same_site(SameSite::Strict)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: time::Duration = time::Duration::hours(1);

    fn host_only_and_secure(cookie: &Cookie<'_>) {
        assert!(cookie.name().starts_with("__Host-"), "{cookie}");
        assert_eq!(cookie.secure(), Some(true), "{cookie}");
        assert_eq!(cookie.path(), Some("/"), "{cookie}");
        assert_eq!(cookie.domain(), None, "{cookie}");
        assert_eq!(cookie.same_site(), Some(SameSite::Strict), "{cookie}");
    }

    #[test]
    fn over_https_the_cookies_are_host_cookies() {
        let policy = CookiePolicy::for_public_url("https://id.example.org/portal");
        let session = policy.session("secret".into(), HOUR);
        let csrf = policy.csrf("token".into(), HOUR);
        assert_eq!(session.name(), "__Host-latchkey_session");
        assert_eq!(csrf.name(), "__Host-latchkey_csrf");
        for cookie in [&session, &csrf] {
            host_only_and_secure(cookie);
        }
        assert_eq!(session.http_only(), Some(true));
        assert_eq!(csrf.http_only(), None, "the portal's script reads it");
        for removal in policy.removals() {
            host_only_and_secure(&removal);
            assert_eq!(removal.max_age(), Some(time::Duration::ZERO), "{removal}");
        }
    }

    #[test]
    fn over_http_the_names_have_no_prefix_and_nothing_is_secure() {
        let policy = CookiePolicy::for_public_url("http://127.0.0.1:8080");
        let session = policy.session("secret".into(), HOUR);
        let csrf = policy.csrf("token".into(), HOUR);
        assert_eq!(session.name(), "latchkey_session");
        assert_eq!(csrf.name(), "latchkey_csrf");
        for cookie in [&session, &csrf] {
            assert_eq!(cookie.secure(), Some(false), "{cookie}");
            assert_eq!(cookie.path(), Some("/"), "{cookie}");
        }
        let removed: Vec<_> = policy
            .removals()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        assert_eq!(removed, ["latchkey_session", "latchkey_csrf"]);
    }
}
