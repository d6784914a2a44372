//! A short, readable summary of a User-Agent, e.g. `Firefox on Linux`, for
//! the list of signed-in sessions. Only the summary is kept, never the raw
//! header: it is built from a fixed vocabulary, so it is short, holds no
//! text the client chose, and says no more than a person needs to recognise
//! their device.
//!
//! A dozen substring checks, in an order that respects how browsers borrow
//! each other's tokens (every Chromium browser says `Chrome/`, and Chrome
//! says `Safari/`). A crate was considered: woothee's Rust port has seen no
//! release since 2022 and names platforms by version ("Windows 10", "Mac
//! OSX"), and uaparser needs the ua-parser regex file shipped and kept
//! current beside it, with hundreds of regexes compiled at start, for detail
//! this list does not show.

/// Browsers, by a token that only they (or the ones checked before) send.
const BROWSERS: [(&[&str], &str); 9] = [
    (&["Edg/", "EdgA/", "EdgiOS/", "Edge/"], "Edge"),
    (&["OPR/", "Opera"], "Opera"),
    (&["SamsungBrowser/"], "Samsung Internet"),
    (&["Vivaldi/"], "Vivaldi"),
    (&["Firefox/", "FxiOS/"], "Firefox"),
    (&["Chromium/"], "Chromium"),
    (&["Chrome/", "CriOS/"], "Chrome"),
    (&["Safari/"], "Safari"),
    (&["Thunderbird/"], "Thunderbird"),
];

/// Platforms, by a token; Android and ChromeOS before Linux, which they also say.
const PLATFORMS: [(&[&str], &str); 7] = [
    (&["Android"], "Android"),
    (&["iPhone", "iPad", "iPod"], "iOS"),
    (&["CrOS"], "ChromeOS"),
    (&["Windows"], "Windows"),
    (&["Macintosh", "Mac OS X"], "macOS"),
    (&["FreeBSD", "OpenBSD", "NetBSD"], "BSD"),
    (&["Linux", "X11"], "Linux"),
];

/// How much of the header is looked at: real ones are far shorter.
const MAX_INSPECTED_BYTES: usize = 512;

/// `Browser on Platform`, either alone when the other is unknown, or `None`
/// when neither is recognised.
pub fn summary(user_agent: &str) -> Option<String> {
    let mut end = user_agent.len().min(MAX_INSPECTED_BYTES);
    while !user_agent.is_char_boundary(end) {
        end -= 1;
    }
    let header = &user_agent[..end];
    let find = |table: &[(&[&str], &'static str)]| {
        table
            .iter()
            .find(|(tokens, _)| tokens.iter().any(|token| header.contains(token)))
            .map(|(_, name)| *name)
    };
    match (find(&BROWSERS), find(&PLATFORMS)) {
        (Some(browser), Some(platform)) => Some(format!("{browser} on {platform}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn common_browsers_are_named_with_their_platform() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1",
                "Chrome on iOS",
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                "Chrome on ChromeOS",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0",
                "Opera on Windows",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
                "Samsung Internet on Android",
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(summary(header).as_deref(), Some(expected), "{header}");
        }
    }

    #[test]
    fn the_unknown_says_what_it_can_and_nothing_the_client_wrote() {
        assert_eq!(summary("curl/8.5.0"), None);
        assert_eq!(summary(""), None);
        assert_eq!(
            summary("<script>alert(1)</script> (Windows)").as_deref(),
            Some("Windows")
        );
        assert_eq!(summary("Firefox/1").as_deref(), Some("Firefox"));
    }

    #[test]
    fn a_huge_header_is_looked_at_only_in_its_first_bytes() {
        let padded = format!("{}é Firefox/128.0 (Linux)", "x".repeat(600));
        assert_eq!(summary(&padded), None);
        let early = format!("Firefox/128.0 (Linux) {}", "é".repeat(600));
        assert_eq!(summary(&early).as_deref(), Some("Firefox on Linux"));
    }
}
