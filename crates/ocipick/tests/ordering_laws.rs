//! The ordering laws of containerd/platforms v1's `Only(target)` comparer,
//! as properties over generated targets and indexes (no preferences):
//!
//! 1. the chosen entry's platform is in the target's compatibility vector;
//! 2. no eligible entry of an earlier tier (vector position) exists;
//! 3. within the chosen tier, no eligible entry matches more of the
//!    target's `os.features`;
//! 4. ties go to index order (no earlier eligible entry has the same tier
//!    and feature count);
//! 5. `select` (and `select_bytes`) equals a straightforward model: keep
//!    the entries `Only(target).Match` accepts, stable-sort them by
//!    `Only(target).Less`, take the first.
//!
//! The model below is written from containerd's rules, not from ocipick's
//! matcher: each target's vector is spelled out by hand.

use ocipick::platform::selector;
use ocipick::platform::windows::WindowsVersion;
use ocipick::{Index, Platform, Policy};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Targets with their compatibility vectors (normalized `arch[/variant]`),
/// written out by hand from `platformVector`.
const TARGETS: &[(&str, &[&str])] = &[
    ("linux/amd64", &["amd64", "386"]),
    ("linux/amd64/v3", &["amd64/v3", "amd64/v2", "amd64", "386"]),
    ("linux/amd64/3", &["amd64/3", "amd64/v2", "amd64", "386"]),
    ("linux(+gpu)/amd64", &["amd64", "386"]),
    ("linux(+gpu+rdma)/amd64/v2", &["amd64/v2", "amd64", "386"]),
    ("linux/386", &["386"]),
    (
        "linux/arm64",
        &["arm64", "arm/v8", "arm/v7", "arm/v6", "arm/v5"],
    ),
    (
        "linux(+gpu)/arm64/v9",
        &[
            "arm64/v9",
            "arm64/v8.5",
            "arm64/v8.4",
            "arm64/v8.3",
            "arm64/v8.2",
            "arm64/v8.1",
            "arm64",
            "arm/v8",
            "arm/v7",
            "arm/v6",
            "arm/v5",
        ],
    ),
    (
        "linux/arm64/v9.6",
        &[
            "arm64/v9.6",
            "arm64/v9.5",
            "arm64/v9.4",
            "arm64/v9.3",
            "arm64/v9.2",
            "arm64/v9.1",
            "arm64/v9",
            "arm64/v8.9",
            "arm64/v8.8",
            "arm64/v8.7",
            "arm64/v8.6",
            "arm64/v8.5",
            "arm64/v8.4",
            "arm64/v8.3",
            "arm64/v8.2",
            "arm64/v8.1",
            "arm64",
            "arm/v8",
            "arm/v7",
            "arm/v6",
            "arm/v5",
        ],
    ),
    ("linux/arm/v7", &["arm/v7", "arm/v6", "arm/v5"]),
    ("windows/amd64", &["amd64", "386"]),
    ("windows(10.0.20348.2031+win32k)/amd64", &["amd64", "386"]),
    ("windows(10.0.26200.1)/amd64", &["amd64", "386"]),
    ("windows(10.0.26100.7+gpu)/amd64", &["amd64", "386"]),
    ("windows(10.0.17763.1)/amd64", &["amd64", "386"]),
];

const OSES: &[&str] = &["linux", "Linux", "windows"];
const ARCHES: &[&str] = &[
    "amd64", "x86_64", "386", "i386", "arm64", "aarch64", "arm", "armhf",
];
const VARIANTS: &[&str] = &[
    "", "v1", "v2", "v3", "3", "v5", "v6", "v7", "v8", "v9", "v8.1", "v8.5", "v8.9", "v9.1",
    "v9.6", "v8.10", "v10",
];
/// Platforms at the edges of the vectors above (in and just outside),
/// drawn often so that every edge meets every target.
const NEAR: &[(&str, &str)] = &[
    ("amd64", "v4"),
    ("amd64", "v3"),
    ("amd64", "3"),
    ("amd64", "v2"),
    ("amd64", ""),
    ("386", ""),
    ("arm64", "v9.7"),
    ("arm64", "v9.6"),
    ("arm64", "v9"),
    ("arm64", "v8.10"),
    ("arm64", "v8.9"),
    ("arm64", "v8.6"),
    ("arm64", "v8.5"),
    ("arm64", ""),
    ("arm", "v9"),
    ("arm", "v8"),
    ("arm", "v7"),
    ("arm", "v5"),
    ("arm", "v4"),
];
const VERSIONS: &[&str] = &[
    "",
    "10.0.17763.1",
    "10.0.20348.1",
    "10.0.22621.5",
    "10.0.26100.3",
    "10.0.26200.1",
    "10.0.20348.1.9",
    "bad",
];
const FEATURES: &[&str] = &["win32k", "gpu", "rdma"];

#[derive(Debug, Clone)]
struct Entry {
    os: usize,
    arch: &'static str,
    variant: &'static str,
    version: usize,
    /// Bit set over `FEATURES`.
    features: u8,
}

fn entry() -> impl Strategy<Value = Entry> {
    let any = (0..ARCHES.len(), 0..VARIANTS.len()).prop_map(|(a, v)| (ARCHES[a], VARIANTS[v]));
    let near = (0..NEAR.len()).prop_map(|i| NEAR[i]);
    let platform = prop_oneof![any, near];
    (0..OSES.len(), platform, 0..VERSIONS.len(), 0u8..8).prop_map(
        |(os, (arch, variant), version, features)| Entry {
            os,
            arch,
            variant,
            version,
            features,
        },
    )
}

fn features(e: &Entry) -> Vec<&'static str> {
    (0..FEATURES.len())
        .filter(|i| e.features & (1 << i) != 0)
        .map(|i| FEATURES[i])
        .collect()
}

fn document(entries: &[Entry]) -> Vec<u8> {
    let manifests: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut p = json!({"os": OSES[e.os], "architecture": e.arch});
            if !e.variant.is_empty() {
                p["variant"] = e.variant.into();
            }
            if !VERSIONS[e.version].is_empty() {
                p["os.version"] = VERSIONS[e.version].into();
            }
            if e.features != 0 {
                p["os.features"] = json!(features(e));
            }
            json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{i:064x}"),
                "size": 1,
                "platform": p,
            })
        })
        .collect();
    serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": manifests})).unwrap()
}

/// The model of `Only(target)`: for an entry it matches, its tier (vector
/// position) and how many of the target's features it lists.
struct Only {
    target: Platform<'static>,
    vector: &'static [&'static str],
}

impl Only {
    fn new(t: usize) -> Only {
        let host = Platform::new("linux", "amd64", None);
        Only {
            target: selector::parse(TARGETS[t].0, &host).unwrap(),
            vector: TARGETS[t].1,
        }
    }

    /// Windows stable-ABI rule (platform_windows_compat.go), written out.
    fn version_fits(&self, entry_version: &str) -> bool {
        let windows = self.target.os == "windows";
        let Some(host) = self
            .target
            .os_version
            .as_deref()
            .filter(|_| windows)
            .and_then(WindowsVersion::parse)
        else {
            return true;
        };
        if entry_version.is_empty() {
            return true;
        }
        let Some(c) = WindowsVersion::parse(entry_version) else {
            return false;
        };
        if (host.major, host.minor) != (c.major, c.minor) {
            return false;
        }
        if host.build < 20348 {
            return host.build == c.build;
        }
        let floor = if host.build > 26100 { 26100 } else { 20348 };
        floor <= c.build && c.build <= host.build
    }

    /// `Some((tier, matching features))` when `Only(target).Match` accepts.
    fn matches(&self, e: &Entry) -> Option<(usize, usize)> {
        let p = Platform::new(OSES[e.os], e.arch, Some(e.variant)).normalized();
        if p.os != self.target.os {
            return None;
        }
        let written = match p.variant.as_deref() {
            Some(v) => format!("{}/{v}", p.architecture),
            None => p.architecture.to_string(),
        };
        let tier = self.vector.iter().position(|v| *v == written)?;
        if !self.version_fits(VERSIONS[e.version]) {
            return None;
        }
        let mut count = 0;
        for f in features(e) {
            if f == "win32k" && self.target.os == "windows" {
                continue;
            }
            if !self.target.os_features.iter().any(|t| t == f) {
                return None;
            }
            count += 1;
        }
        Some((tier, count))
    }

    /// `Only(target).Less` on two matching entries.
    fn less(a: (usize, usize), b: (usize, usize)) -> bool {
        a.0 < b.0 || (a.0 == b.0 && a.1 > b.1)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn select_obeys_containerds_comparer(entries in prop::collection::vec(entry(), 0..10), t in 0..TARGETS.len()) {
        let only = Only::new(t);
        let bytes = document(&entries);
        let index = Index::parse(&bytes).unwrap();
        let policy = Policy::new(&only.target);
        let chosen = policy.select(&index).map(|s| s.position);
        let keys: Vec<Option<(usize, usize)>> = entries.iter().map(|e| only.matches(e)).collect();

        // Law 5: the model, Match then a stable sort by Less.
        let mut matching: Vec<usize> = (0..entries.len()).filter(|&i| keys[i].is_some()).collect();
        matching.sort_by(|&a, &b| {
            let (ka, kb) = (keys[a].unwrap(), keys[b].unwrap());
            if Only::less(ka, kb) {
                std::cmp::Ordering::Less
            } else if Only::less(kb, ka) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        prop_assert_eq!(chosen, matching.first().copied(), "model");
        let streamed = policy.select_bytes(&bytes).unwrap();
        prop_assert_eq!(streamed.chosen.map(|(_, r)| r.position), chosen, "select_bytes");
        prop_assert_eq!(policy.rank(&index).selected, chosen, "rank");

        let Some(c) = chosen else {
            prop_assert!(keys.iter().all(Option::is_none));
            return Ok(());
        };
        // Law 1: in the vector (and matching).
        let (tier, count) = keys[c].expect("the chosen entry matches");
        prop_assert!(tier < only.vector.len());
        for (i, k) in keys.iter().enumerate() {
            let Some((ti, ci)) = *k else { continue };
            // Law 2: nothing eligible in an earlier tier.
            prop_assert!(ti >= tier, "entry {} is in an earlier tier", i);
            if ti == tier {
                // Law 3: nothing in the tier matches more features.
                prop_assert!(ci <= count, "entry {} has more matching features", i);
                // Law 4: ties go to index order.
                if ci == count {
                    prop_assert!(i >= c, "earlier entry {} ties", i);
                }
            }
        }
    }
}
