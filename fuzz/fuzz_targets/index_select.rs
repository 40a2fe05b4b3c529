//! Arbitrary bytes as an image index: parsing, then selection and ranking
//! for targets and preferences derived from the input.
//!
//! Asserted: `select` and `rank` agree; the selected entry is eligible;
//! eligible entries are ranked before ineligible ones; `select_bytes`
//! succeeds exactly when `Index::parse` does (with the same error when not)
//! and chooses the same position; and the fast reader behind
//! `select_bytes`, wherever it does not give up, yields exactly the index
//! (or error) that `Index::parse` yields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocipick::platform::selector;
use ocipick::{Index, Platform, Policy, Preference};

const TARGETS: &[&str] = &[
    "linux/amd64",
    "linux/amd64/v3",
    "linux/arm64",
    "linux/arm64/v9.2",
    "linux/arm/v6",
    "linux/386",
    "windows(10.0.20348.2031)/amd64",
    "windows(10.0.17763.1040+win32k)/amd64",
    "linux(+gpu)/ppc64le",
    "darwin/arm64",
];


fn check(bytes: &[u8], index: &Index<'_>, policy: &Policy) {
    let selected = policy.select(index);
    let ranking = policy.rank(index);
    assert_eq!(selected.map(|s| s.position), ranking.selected);
    if let Some(s) = selected {
        let why = policy.explain(index, s.position);
        assert!(why.eligible, "selected an ineligible entry: {why:?}");
        assert_eq!(why.score, s.score);
    }
    let mut seen_ineligible = false;
    for e in &ranking.entries {
        if e.eligible {
            assert!(
                !seen_ineligible,
                "eligible entry ranked after an ineligible one"
            );
        } else {
            seen_ineligible = true;
        }
    }
    assert_eq!(ranking.entries.len(), index.manifests.len());
    let streamed = policy
        .select_bytes(bytes)
        .expect("select_bytes failed where Index::parse succeeded");
    assert_eq!(streamed.entries, index.manifests.len());
    assert_eq!(
        streamed.chosen.as_ref().map(|(_, r)| r.position),
        ranking.selected,
        "select_bytes chose differently"
    );
    if let Some((d, r)) = &streamed.chosen {
        assert_eq!(d, &index.manifests[r.position]);
        assert!(r.eligible);
    }
}

fuzz_target!(|bytes: &[u8]| {
    let host = Platform::new("linux", "amd64", None);
    let parsed = Index::parse(bytes);
    // The fast reader of select_bytes, where it does not give up, must
    // produce exactly what the serde reader of Index::parse produces.
    if let Some(fast) = ocipick::__testing::fast_parse(bytes) {
        assert_eq!(fast, parsed, "the fast reader differs from Index::parse");
    }
    let plain = Policy::new(&host);
    let index = match parsed {
        Ok(index) => index,
        Err(e) => {
            assert_eq!(
                plain.select_bytes(bytes).err(),
                Some(e),
                "select_bytes accepted what Index::parse refused, or refused it differently"
            );
            return;
        }
    };

    // A seed for derived choices: a cheap hash of the input.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100000001b3);
    }
    let mut next = || {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        h
    };

    // Preferences from the annotations the document itself carries (so
    // some are satisfied), with weights from the hash, plus one that no
    // entry satisfies.
    let mut prefs = Vec::new();
    for d in index.manifests.iter().take(8) {
        for (k, v) in d.annotations.iter().take(2) {
            let w = (next() % 41) as i64 - 20;
            let p = if next() % 2 == 0 {
                Preference::key(k.to_string())
            } else {
                Preference::key_value(k.to_string(), v.to_string())
            };
            if p.validate().is_ok() {
                prefs.push(p.weight(w));
            }
        }
    }
    prefs.push(Preference::key("org.example.fuzz.nobody-has-this").weight(1 << 31));

    let mut targets: Vec<Platform<'static>> = TARGETS
        .iter()
        .map(|t| selector::parse(t, &host).unwrap())
        .collect();
    for d in index.manifests.iter().take(4) {
        if let Some(p) = &d.platform {
            targets.push(p.clone().into_owned());
        }
    }
    let pick = (next() % targets.len() as u64) as usize;
    for (i, t) in targets.iter().enumerate() {
        let base = Policy::new(t);
        check(bytes, &index, &base);
        if i == pick || i == 0 {
            let limit = [0, 1, 1024, u64::MAX][(next() % 4) as usize];
            check(bytes, &index, &base.clone().with_preferences(prefs.clone()));
            check(bytes, &index, &base.max_manifest_bytes(limit));
        }
    }
});
