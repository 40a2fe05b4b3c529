//! Arbitrary strings as platform selectors. When one parses, formatting the
//! platform and parsing that again gives the same platform, and a matcher
//! for it accepts the platform itself at tier 0.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocipick::platform::selector;
use ocipick::{Matcher, Platform};


fuzz_target!(|bytes: &[u8]| {
    let Ok(s) = std::str::from_utf8(bytes) else {
        return;
    };
    let hosts = [
        Platform::new("linux", "amd64", Some("v3")),
        Platform::new("linux", "arm64", None),
        Platform {
            os_version: Some("10.0.20348.2031".into()),
            ..Platform::new("windows", "amd64", None)
        },
    ];
    for host in &hosts {
        let Ok(p) = selector::parse(s, host) else {
            continue;
        };
        let text = p.to_string();
        let again = selector::parse(&text, host)
            .unwrap_or_else(|e| panic!("{s:?} -> {text:?} does not parse again: {e}"));
        assert_eq!(p, again, "{s:?} -> {text:?}");
        {
            let m = Matcher::new(&p);
            if p.os != "unknown" {
                let r = m.check(&p);
                assert!(r.is_ok(), "{text} does not run on itself: {r:?}");
                assert_eq!(r.unwrap().tier, 0, "{text}");
            }
        }
    }
});
