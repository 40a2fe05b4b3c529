//! Property tests (proptest) of the selection invariants, over generated
//! indexes: platforms (with aliases, variants, Windows versions and
//! features), media types, sizes, annotations and platform-less entries.

use std::collections::BTreeMap;

use ocipick::platform::selector;
use ocipick::{Index, Platform, PlatformRank, Policy, Preference};
use proptest::prelude::*;
use serde_json::{json, Value};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MEDIA_TYPES: &[&str] = &[
    OCI_MANIFEST,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.in-toto+json",
    "application/vnd.oci.image.layer.v1.tar+gzip",
];
const OSES: &[&str] = &["linux", "Linux", "windows", "darwin", "unknown"];
const ARCHES: &[&str] = &[
    "amd64", "x86_64", "386", "i386", "arm64", "aarch64", "arm", "armhf", "armel", "ppc64le",
    "unknown",
];
const VARIANTS: &[&str] = &[
    "", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v8.2", "v9", "8",
];
const WIN_VERSIONS: &[&str] = &[
    "",
    "10.0.17763.1040",
    "10.0.20348.1",
    "10.0.20348.2031",
    "10.0.26100.1",
    "not-a-version",
];
const TARGETS: &[&str] = &[
    "linux/amd64",
    "linux/amd64/v2",
    "linux/amd64/v4",
    "linux/386",
    "linux/arm64",
    "linux/arm64/v8.2",
    "linux/arm64/v9",
    "linux/arm/v6",
    "linux/arm/v8",
    "linux/ppc64le",
    "windows(10.0.20348.2031)/amd64",
    "windows(10.0.26100.1+win32k)/amd64",
    "windows(10.0.17763.1040)/amd64",
    "darwin/arm64",
];
const KEYS: &[&str] = &["a", "b", "com.example.gpu", "vnd.docker.reference.type"];

#[derive(Debug, Clone)]
struct Gen {
    media: usize,
    size: u64,
    platform: Option<(usize, usize, usize, usize, bool)>,
    annotations: Vec<(usize, u8)>,
}

fn gen_entry(windows_and_features: bool) -> impl Strategy<Value = Gen> {
    let media = prop_oneof![8 => Just(0usize), 4 => 0..MEDIA_TYPES.len()];
    let size = prop_oneof![9 => 0u64..10_000, 1 => Just(5u64 << 20)];
    let os = if windows_and_features {
        0..OSES.len()
    } else {
        0..2
    };
    let win = if windows_and_features {
        0..WIN_VERSIONS.len()
    } else {
        0..1
    };
    let platform = prop_oneof![
        9 => (os, 0..ARCHES.len(), 0..VARIANTS.len(), win, any::<bool>()).prop_map(
            move |(o, a, v, w, f)| Some((o, a, v, w, f && windows_and_features))
        ),
        1 => Just(None),
    ];
    let annotations = prop::collection::vec(
        (prop_oneof![9 => 0..3usize, 1 => Just(3usize)], 0u8..3),
        0..3,
    );
    (media, size, platform, annotations).prop_map(|(media, size, platform, annotations)| Gen {
        media,
        size,
        platform,
        annotations,
    })
}

fn to_json(i: usize, g: &Gen) -> Value {
    let mut d = json!({
        "mediaType": MEDIA_TYPES[g.media],
        "digest": format!("sha256:{i:064x}"),
        "size": g.size,
    });
    if let Some((o, a, v, w, f)) = g.platform {
        let mut p = json!({"os": OSES[o], "architecture": ARCHES[a]});
        if !VARIANTS[v].is_empty() {
            p["variant"] = VARIANTS[v].into();
        }
        if !WIN_VERSIONS[w].is_empty() {
            p["os.version"] = WIN_VERSIONS[w].into();
        }
        if f {
            p["os.features"] = json!(["win32k"]);
        }
        d["platform"] = p;
    }
    let ann: BTreeMap<&str, String> = g
        .annotations
        .iter()
        .map(|(k, v)| (KEYS[*k], format!("v{v}")))
        .collect();
    if !ann.is_empty() {
        d["annotations"] = json!(ann);
    }
    d
}

fn document(entries: &[Gen]) -> Vec<u8> {
    let manifests: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, g)| to_json(i, g))
        .collect();
    serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": manifests})).unwrap()
}

fn target(i: usize) -> Platform<'static> {
    selector::parse(TARGETS[i], &Platform::new("linux", "amd64", None)).unwrap()
}

fn prefs() -> impl Strategy<Value = Vec<Preference>> {
    prop::collection::vec(
        (0..3usize, prop::option::of(0u8..3), -5i64..=5).prop_map(|(k, v, w)| {
            match v {
                Some(v) => Preference::key_value(KEYS[k], format!("v{v}")),
                None => Preference::key(KEYS[k]),
            }
            .weight(w)
        }),
        0..4,
    )
}

fn index_strategy(windows_and_features: bool) -> impl Strategy<Value = Vec<Gen>> {
    prop::collection::vec(gen_entry(windows_and_features), 0..12)
}

/// (score, rank) of every eligible entry, by position.
fn keys(policy: &Policy, index: &Index<'_>) -> Vec<Option<(i64, PlatformRank)>> {
    (0..index.manifests.len())
        .map(|i| {
            let r = policy.explain(index, i);
            r.eligible
                .then(|| (r.score, r.platform_rank.unwrap_or_default()))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The selected entry is eligible, and no eligible entry beats it:
    /// none has a higher score, none with the same score has a closer
    /// platform, and none earlier has the same score and closeness.
    #[test]
    fn selected_entry_is_eligible_and_best(entries in index_strategy(true), t in 0..TARGETS.len(), ps in prefs()) {
        let bytes = document(&entries);
        let index = Index::parse(&bytes).unwrap();
        let policy = Policy::new(&target(t)).with_preferences(ps);
        let ks = keys(&policy, &index);
        match policy.select(&index) {
            None => prop_assert!(ks.iter().all(Option::is_none)),
            Some(sel) => {
                let (score, rank) = ks[sel.position].expect("selected an ineligible entry");
                prop_assert_eq!(score, sel.score);
                for (i, k) in ks.iter().enumerate() {
                    if let Some((s, r)) = k {
                        prop_assert!(*s <= score, "entry {} scores higher", i);
                        if *s == score {
                            prop_assert!(*r >= rank, "entry {} is closer", i);
                            if *r == rank {
                                prop_assert!(i >= sel.position, "earlier entry {} ties", i);
                            }
                        }
                    }
                }
            }
        }
        prop_assert_eq!(policy.select(&index).map(|s| s.position), policy.rank(&index).selected);
    }

    /// With no preferences the choice is containerd's: the first entry of
    /// the lowest position in the target's compatibility list, computed here
    /// from `Matcher::compatible()` alone (Linux targets, platforms without
    /// `os.version`/`os.features`; media-type, size and reference rules
    /// applied as documented).
    #[test]
    fn no_preferences_is_containerd_order(entries in index_strategy(false), t in 0..10usize) {
        let bytes = document(&entries);
        let index = Index::parse(&bytes).unwrap();
        let target = target(t);
        let policy = Policy::new(&target);
        let compatible: Vec<String> = policy.matcher().compatible().collect();
        let any_platform = entries.iter().any(|g| g.platform.is_some());
        let runnable = |g: &Gen| {
            g.media <= 4
                && g.size <= ocipick::DEFAULT_MAX_MANIFEST_BYTES
                && !g.annotations.iter().any(|(k, _)| *k == 3)
        };
        let tier = |g: &Gen| -> Option<usize> {
            if !runnable(g) {
                return None;
            }
            match g.platform {
                None => (!any_platform).then_some(0),
                Some((o, a, v, _, _)) => {
                    if OSES[o] == "unknown" || ARCHES[a] == "unknown" {
                        return None;
                    }
                    let n = Platform::new(OSES[o], ARCHES[a], Some(VARIANTS[v])).normalized();
                    compatible.iter().position(|c| *c == n.to_string())
                }
            }
        };
        let mut want: Option<(usize, usize)> = None;
        for (i, g) in entries.iter().enumerate() {
            if let Some(tr) = tier(g) {
                if want.is_none_or(|(_, best)| tr < best) {
                    want = Some((i, tr));
                }
            }
        }
        prop_assert_eq!(policy.select(&index).map(|s| s.position), want.map(|w| w.0));
    }

    /// A preference that no entry satisfies changes nothing.
    #[test]
    fn unsatisfied_preference_changes_nothing(entries in index_strategy(true), t in 0..TARGETS.len(), ps in prefs(), w in -(1i64 << 31)..=(1i64 << 31)) {
        let bytes = document(&entries);
        let index = Index::parse(&bytes).unwrap();
        let policy = Policy::new(&target(t)).with_preferences(ps);
        let before = policy.select(&index).map(|s| (s.position, s.score));
        let extra = [
            Preference::key("org.example.absent").weight(w),
            Preference::key_value("a", "never-this-value").weight(w),
        ];
        let after = policy.clone().with_preferences(extra).select(&index).map(|s| (s.position, s.score));
        prop_assert_eq!(before, after);
    }

    /// Reordering the entries changes the choice only among entries of the
    /// chosen one's score and closeness: the new choice is the first of
    /// those in the new order.
    #[test]
    fn reordering_picks_the_new_first_of_equals(
        (entries, order) in index_strategy(true).prop_flat_map(|e| {
            let n = e.len();
            (Just(e), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        }),
        t in 0..TARGETS.len(),
        ps in prefs(),
    ) {
        // Keep each entry's digest (its original position) when reordering.
        let manifests: Vec<Value> = order.iter().map(|&i| to_json(i, &entries[i])).collect();
        let original = document(&entries);
        let shuffled = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": manifests})).unwrap();
        let a = Index::parse(&original).unwrap();
        let b = Index::parse(&shuffled).unwrap();
        let policy = Policy::new(&target(t)).with_preferences(ps);
        let ka = keys(&policy, &a);
        let before = policy.select(&a).map(|s| s.position);
        let after = policy.select(&b).map(|s| order[s.position]);
        match before {
            None => prop_assert_eq!(after, None),
            Some(p) => {
                let best = ka[p];
                let want = order.iter().copied().find(|&i| ka[i] == best);
                prop_assert_eq!(after, want);
            }
        }
    }

    /// `select_bytes` agrees with `Index::parse` + `select`, on generated
    /// documents and on documents with a byte changed or cut.
    #[test]
    fn select_bytes_equals_parse_and_select(entries in index_strategy(true), t in 0..TARGETS.len(), ps in prefs(), edit in prop::option::of((any::<prop::sample::Index>(), any::<u8>(), any::<bool>()))) {
        let mut bytes = document(&entries);
        if let Some((at, byte, cut)) = edit {
            let at = at.index(bytes.len());
            if cut { bytes.truncate(at) } else { bytes[at] = byte }
        }
        let policy = Policy::new(&target(t)).with_preferences(ps);
        let streamed = policy.select_bytes(&bytes);
        match Index::parse(&bytes) {
            Err(e) => prop_assert_eq!(streamed.unwrap_err(), e),
            Ok(index) => {
                let s = streamed.unwrap();
                prop_assert_eq!(s.entries, index.manifests.len());
                let sel = policy.select(&index);
                prop_assert_eq!(s.chosen.as_ref().map(|(_, r)| r.position), sel.map(|x| x.position));
                if let (Some((d, r)), Some(x)) = (&s.chosen, sel) {
                    prop_assert_eq!(d, x.descriptor);
                    prop_assert_eq!(r.score, x.score);
                }
            }
        }
    }

    /// Serializing an index (`serde_json::to_vec`) and reading it again
    /// keeps every field: `os.version`, `os.features`, `features`,
    /// `variant`, `urls`, `data`, `artifactType`, unknown annotation keys
    /// (any Unicode, including characters JSON must escape) and the
    /// index's own fields.
    #[test]
    fn serialization_round_trip_keeps_every_field(
        ann in prop::collection::btree_map("\\PC{0,12}", "\\PC{0,12}", 0..5),
        top in prop::collection::btree_map("[a-z.]{1,8}", "[\\x00-\\x7f\u{e9}\u{1F600}]{0,8}", 0..3),
        os_version in prop::option::of("[0-9.]{0,12}|\\PC{0,6}"),
        os_features in prop::collection::vec("\\PC{1,8}", 0..3),
        features in prop::collection::vec("[a-z0-9]{1,5}", 0..3),
        variant in prop::option::of("[a-z0-9.]{1,5}"),
        urls in prop::collection::vec("https://[a-z]{1,8}/\\PC{0,5}", 0..2),
        data in prop::option::of("[A-Za-z0-9+/]{0,8}"),
        artifact in prop::option::of(Just("application/vnd.example+json")),
        subject in any::<bool>(),
    ) {
        let mut platform = json!({"architecture": "arm64", "os": "windows"});
        if let Some(v) = &os_version { platform["os.version"] = v.clone().into(); }
        if !os_features.is_empty() { platform["os.features"] = json!(os_features); }
        if !features.is_empty() { platform["features"] = json!(features); }
        if let Some(v) = &variant { platform["variant"] = v.clone().into(); }
        let mut d = json!({
            "mediaType": OCI_MANIFEST,
            "digest": format!("sha256:{:064x}", 7),
            "size": 42,
            "platform": platform,
        });
        if !ann.is_empty() { d["annotations"] = json!(ann); }
        if !urls.is_empty() { d["urls"] = json!(urls); }
        if let Some(x) = &data { d["data"] = x.clone().into(); }
        if let Some(x) = artifact { d["artifactType"] = x.into(); }
        let mut doc = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [d.clone()],
        });
        if !top.is_empty() { doc["annotations"] = json!(top); }
        if subject { doc["subject"] = d; }
        let bytes = serde_json::to_vec(&doc).unwrap();
        let index = Index::parse(&bytes).unwrap();
        let again = serde_json::to_vec(&index).unwrap();
        let reread = Index::parse(&again).unwrap();
        prop_assert_eq!(&index, &reread);
        // The serialization is the document itself, field for field.
        let v1: Value = serde_json::from_slice(&again).unwrap();
        prop_assert_eq!(v1, doc);
        let p = reread.manifests[0].platform.as_ref().unwrap();
        prop_assert_eq!(p.os_version.as_deref(), os_version.as_deref());
        prop_assert_eq!(p.os_features.iter().map(|f| f.to_string()).collect::<Vec<_>>(), os_features);
        for (k, v) in &ann {
            prop_assert_eq!(reread.manifests[0].annotations.get(k.as_str()).map(|c| c.as_ref()), Some(v.as_str()));
        }
        // Detaching from the document keeps everything too.
        prop_assert_eq!(index.clone().into_owned(), reread);
    }

    /// Preferences never widen (or narrow) eligibility and never change an
    /// entry's platform closeness: they only reorder eligible entries.
    /// (`docs/security.md`: annotations choose among runnable entries.)
    #[test]
    fn preferences_never_change_eligibility(entries in index_strategy(true), t in 0..TARGETS.len(), ps in prefs(), w in -(1i64 << 31)..=(1i64 << 31)) {
        let bytes = document(&entries);
        let index = Index::parse(&bytes).unwrap();
        let plain = Policy::new(&target(t));
        let mut all = ps;
        // Preferences for exactly what marks ineligible entries.
        all.push(Preference::key("vnd.docker.reference.type").weight(w));
        let preferring = plain.clone().with_preferences(all);
        for i in 0..index.manifests.len() {
            let a = plain.explain(&index, i);
            let b = preferring.explain(&index, i);
            prop_assert_eq!(a.eligible, b.eligible, "entry {}", i);
            prop_assert_eq!(a.platform_rank, b.platform_rank, "entry {}", i);
        }
        if let Some(sel) = preferring.select(&index) {
            prop_assert!(plain.explain(&index, sel.position).eligible);
        }
    }

    /// Hook answers (`Adjustment`s: any delta, including the extremes, and
    /// vetoes, for any position, even out of range) never widen
    /// eligibility: every entry eligible with them is eligible without
    /// them, a vetoed entry is never eligible, and `select`, `rank` and
    /// `select_bytes` still agree.
    #[test]
    fn hook_adjustments_never_widen_eligibility(
        entries in index_strategy(true),
        t in 0..TARGETS.len(),
        ps in prefs(),
        adj in prop::collection::vec(
            (0..14usize, prop_oneof![Just(i64::MIN), Just(i64::MAX), -100i64..100], any::<bool>()),
            0..6,
        ),
    ) {
        let bytes = document(&entries);
        let index = Index::parse(&bytes).unwrap();
        let base = Policy::new(&target(t)).with_preferences(ps);
        let adjusted = base.clone().with_adjustments(adj.iter().map(|&(position, delta, veto)| {
            ocipick::rank::Adjustment { position, delta, veto, source: "hook".into(), note: None }
        }));
        for i in 0..index.manifests.len() {
            let a = adjusted.explain(&index, i);
            if a.eligible {
                prop_assert!(base.explain(&index, i).eligible, "entry {} widened", i);
            }
            if adj.iter().any(|&(p, _, v)| p == i && v) {
                prop_assert!(!a.eligible, "vetoed entry {} eligible", i);
            }
        }
        let sel = adjusted.select(&index).map(|s| s.position);
        prop_assert_eq!(sel, adjusted.rank(&index).selected);
        let streamed = adjusted.select_bytes(&bytes).unwrap();
        prop_assert_eq!(streamed.chosen.map(|(_, r)| r.position), sel);
    }
}
