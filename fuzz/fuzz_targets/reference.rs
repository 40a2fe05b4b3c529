//! Arbitrary strings as image references (`str::parse::<Reference>`).
//!
//! Asserted, for every string that parses: formatting the reference and
//! parsing that again gives the same reference, which formats the same
//! (a round trip); the parts keep the rules (a valid repository of at most
//! 255 characters, a valid tag, a sha256 or sha512 digest, `latest` when
//! neither was given; a registry that reads back alone as `REGISTRY/x`);
//! the familiar string and the pinned form mean the same repository;
//! `docker://` before the string changes nothing. A string that does not
//! parse gives an error that names it. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocipick::Digest;
use ocipick_registry::{valid_repository, valid_tag, Reference, MAX_REPOSITORY_LEN};

const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fuzz_target!(|bytes: &[u8]| {
    let Ok(s) = std::str::from_utf8(bytes) else {
        return;
    };
    let got = s.parse::<Reference>();
    if !s.starts_with("docker://") {
        assert_eq!(
            format!("docker://{s}")
                .parse::<Reference>()
                .map_err(|e| e.problem),
            got.clone().map_err(|e| e.problem),
            "{s:?}: docker:// changes the answer"
        );
    }
    let r = match got {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(e.input, s);
            assert!(!e.problem.is_empty());
            return;
        }
    };
    let text = r.to_string();
    let again: Reference = text
        .parse()
        .unwrap_or_else(|e| panic!("{s:?} -> {text:?} does not parse: {e}"));
    assert_eq!(again, r, "{s:?} -> {text:?}");
    assert_eq!(again.to_string(), text, "{s:?}");

    assert!(
        valid_repository(&r.repository),
        "{s:?}: repository {:?}",
        r.repository
    );
    assert!(r.repository.len() <= MAX_REPOSITORY_LEN);
    if let Some(t) = &r.tag {
        assert!(valid_tag(t), "{s:?}: tag {t:?}");
    }
    assert!(
        r.tag.is_some() || r.digest.is_some(),
        "{s:?}: neither tag nor digest"
    );
    if let Some(d) = &r.digest {
        assert!(matches!(d.algorithm(), "sha256" | "sha512"), "{s:?}: {d}");
    }
    let alone: Reference = format!("{}/x", r.registry)
        .parse()
        .unwrap_or_else(|e| panic!("{s:?}: registry {:?} alone: {e}", r.registry));
    assert_eq!(alone.registry, r.registry, "{s:?}");

    let familiar = r.familiar();
    let f: Reference = familiar
        .parse()
        .unwrap_or_else(|e| panic!("{s:?}: familiar {familiar:?}: {e}"));
    assert_eq!(f, r, "{s:?}: familiar {familiar:?}");

    let d = Digest::parse(D).unwrap();
    let pinned = r.pinned(&d);
    let p: Reference = pinned
        .parse()
        .unwrap_or_else(|e| panic!("{s:?}: pinned {pinned:?}: {e}"));
    assert_eq!(
        (&p.registry, &p.repository, p.tag.as_deref()),
        (&r.registry, &r.repository, None)
    );
    assert_eq!(p.digest.as_ref(), Some(&d));

    let _ = (r.is_loopback(), r.api_host(), r.manifest_ref());
});
