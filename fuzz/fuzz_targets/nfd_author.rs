//! Arbitrary bytes as an NFD compatibility specification source for
//! `ocipick compat attach`: TOML when the first byte is even, YAML
//! otherwise (the rest is the source), through
//! `ocipick::nfd::artifact::author`, then `build` and `nfd::lint::lint`.
//!
//! Asserted: no panic, no hang; an authored TOML's YAML layer reads back
//! (`parse_spec`) as the same specification; the artifact manifest built
//! from it is deterministic, lints with no error but
//! NFD010 (expressions are checked when evaluated), and its referrers
//! descriptor is added to a tag schema index once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocipick::nfd::{self, artifact};

fuzz_target!(|data: &[u8]| {
    let Some((&first, src)) = data.split_first() else {
        return;
    };
    let format = if first % 2 == 0 {
        artifact::Format::Toml
    } else {
        artifact::Format::Yaml
    };
    let Ok(a) = artifact::author(src, format) else {
        return;
    };
    assert_eq!(nfd::parse_spec(&a.yaml).expect("the layer reads back"), a.spec);
    let image = b"{}";
    let subject = ocipick::Descriptor::new(
        ocipick::media_type::OCI_MANIFEST,
        ocipick::Digest::sha256_of(image),
        2,
    );
    let built = artifact::build(&a.yaml, &subject, "2025-01-01T00:00:00Z", &[]).unwrap();
    assert_eq!(
        built,
        artifact::build(&a.yaml, &subject, "2025-01-01T00:00:00Z", &[]).unwrap()
    );
    for f in nfd::lint::lint(&built.manifest, Some(&a.yaml)) {
        // Only an expression NFD rejects (checked when evaluated) may be
        // an error: the manifest is as NFD reads it.
        assert!(
            f.severity != ocipick::lint::Severity::Error || f.id == "NFD010",
            "{f:?}"
        );
    }
    let d = built.referrer_descriptor();
    let index = artifact::add_to_referrers_index(None, &d).unwrap().unwrap();
    assert_eq!(artifact::add_to_referrers_index(Some(&index), &d).unwrap(), None);
});
