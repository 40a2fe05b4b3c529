//! Arbitrary strings as platform selectors. When one parses, formatting the
//! platform and parsing that again gives the same platform, and a matcher
//! for it accepts the platform itself at tier 0.
//!
//! The same strings go through the peer spellings (`spelling::parse`:
//! crane's `:osversion`, regctl's `,osver=` and `local`): whatever they
//! accept is a platform that containerd's syntax writes and reads back
//! unchanged, and a plain containerd selector means the same in both.
//!
//! OS options are percent-decoded as containerd decodes them: any text
//! survives being written escaped and decoded again, and a decoded value
//! written back (in a platform's text) parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocipick::platform::{selector, spelling};
use ocipick::{Matcher, Platform};


fuzz_target!(|bytes: &[u8]| {
    let Ok(s) = std::str::from_utf8(bytes) else {
        return;
    };
    let encoded = selector::encode_os_option(s);
    assert_eq!(
        selector::decode_os_option(&encoded).as_deref(),
        Ok(s),
        "{s:?} -> {encoded:?}"
    );
    if let Ok(decoded) = selector::decode_os_option(s) {
        let again = selector::encode_os_option(&decoded);
        assert_eq!(selector::decode_os_option(&again).as_deref(), Ok(&*decoded));
    }
    let hosts = [
        Platform::new("linux", "amd64", Some("v3")),
        Platform::new("linux", "arm64", None),
        Platform {
            os_version: Some("10.0.20348.2031".into()),
            ..Platform::new("windows", "amd64", None)
        },
    ];
    for host in &hosts {
        let peer = spelling::parse(s, host);
        if let Ok(p) = &peer {
            let text = p.to_string();
            let again = selector::parse(&text, host)
                .unwrap_or_else(|e| panic!("spelling {s:?} -> {text:?} does not parse: {e}"));
            assert_eq!(*p, again, "spelling {s:?} -> {text:?}");
        }
        let Ok(p) = selector::parse(s, host) else {
            continue;
        };
        if !s.contains([',', ':']) && s != spelling::LOCAL && !s.starts_with("local/") {
            assert_eq!(peer.as_ref(), Ok(&p), "{s:?}: spelling and selector differ");
        }
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
