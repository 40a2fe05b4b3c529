//! Differential test against containerd: for real-world indexes and for
//! generated ones, ocipick (with no preferences) must choose what
//! containerd 1.6's `images.Manifest` chooses.
//!
//! The oracle is the project's `scripts/containerd-oracle` (a Go program
//! against Debian's containerd 1.6 `platforms` package), built by
//! `scripts/build-oracle.sh` into `target/containerd-oracle` (or named by
//! `$OCIPICK_ORACLE`). Without it the test says so and passes, unless
//! `$OCIPICK_REQUIRE_ORACLE=1` (set by `scripts/test.sh`, the README's test
//! command), where a missing oracle fails the test.
//!
//! Agreement rules, by what containerd chose:
//! - an entry with a platform: ocipick chooses the same digest;
//! - an entry without platform, in an index where some entry has one
//!   (containerd sorts platform-less entries last, so nothing with a
//!   platform matched): ocipick chooses nothing, since platform-less entries
//!   are not eligible beside platformed ones;
//! - in an index where no entry has a platform (a layout `index.json`, a
//!   BuildKit cache index): containerd takes the first entry whatever its
//!   media type, ocipick the first runnable one (image manifest or index, not
//!   an attestation); they must agree whenever the first entry is runnable;
//! - nothing: ocipick chooses nothing.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Rng;
use ocipick::media_type::{self, Kind};
use ocipick::platform::selector;
use ocipick::{Index, Platform, Policy};

const PLATFORMS: &[&str] = &[
    "linux/amd64",
    "linux/amd64/v2",
    "linux/amd64/v3",
    "linux/386",
    "linux/arm64",
    "linux/arm64/v8",
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/arm/v5",
    "linux/arm",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
    "linux/mips64le",
    "windows/amd64",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn oracle() -> Option<PathBuf> {
    let path = std::env::var_os("OCIPICK_ORACLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/containerd-oracle"));
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("OCIPICK_REQUIRE_ORACLE").as_deref() == Ok("1") {
        panic!(
            "containerd oracle not found at {}: run scripts/build-oracle.sh",
            path.display()
        );
    }
    eprintln!(
        "SKIPPED: containerd oracle not built ({}); run scripts/test.sh",
        path.display()
    );
    None
}

/// What containerd chose for each platform: `Some((digest, has_platform))`
/// or `None`.
fn ask_oracle(oracle: &Path, file: &Path) -> BTreeMap<String, Option<(String, bool)>> {
    let out = Command::new(oracle)
        .arg(file)
        .args(PLATFORMS)
        .output()
        .expect("run the oracle");
    assert!(
        out.status.success(),
        "oracle failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut answers = BTreeMap::new();
    // One JSON object a target: {"target", "digest" (or null), "has_platform"}.
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("oracle line {line:?}: {e}"));
        let target = v["target"].as_str().expect("oracle target").to_owned();
        let chosen = v["digest"].as_str().map(|d| {
            let has_platform = v["has_platform"].as_bool().expect("oracle has_platform");
            (d.to_owned(), has_platform)
        });
        answers.insert(target, chosen);
    }
    assert_eq!(answers.len(), PLATFORMS.len(), "oracle output: {text}");
    answers
}

/// Compares ocipick with the oracle on one file; returns the number of
/// (platform) comparisons made.
fn compare(oracle: &Path, file: &Path) -> usize {
    let bytes = std::fs::read(file).unwrap();
    let index = Index::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let any_platform = index.manifests.iter().any(|d| d.platform.is_some());
    let answers = ask_oracle(oracle, file);
    let host = Platform::new("linux", "amd64", None);
    for (plat, theirs) in &answers {
        let target = selector::parse(plat, &host).unwrap();
        let ours = Policy::new(&target).select(&index);
        let ctx = format!("{} for {plat}", file.display());
        match theirs {
            None => assert!(
                ours.is_none(),
                "{ctx}: containerd chose nothing, ocipick {ours:?}"
            ),
            Some((digest, has_platform)) => {
                assert!(
                    index.manifests.iter().any(|d| d.digest.as_str() == digest),
                    "{ctx}: oracle digest {digest} not in index"
                );
                let runnable = |d: &ocipick::Descriptor<'_>| {
                    !matches!(media_type::kind(&d.media_type), Kind::Other)
                        && !d
                            .annotations
                            .contains_key(ocipick::rank::REFERENCE_TYPE_ANNOTATION)
                };
                if !any_platform {
                    // containerd takes the first entry whatever it is; ocipick
                    // the first runnable one. They agree when that is the same.
                    let first_runnable = index.manifests.iter().find(|d| runnable(d));
                    assert_eq!(
                        ours.map(|s| s.descriptor.digest.as_str()),
                        first_runnable.map(|d| d.digest.as_str()),
                        "{ctx}"
                    );
                    if first_runnable.is_some_and(|d| index.manifests[0].digest == d.digest) {
                        assert_eq!(first_runnable.unwrap().digest.as_str(), digest, "{ctx}");
                    }
                } else if *has_platform {
                    let ours = ours.unwrap_or_else(|| {
                        panic!("{ctx}: containerd chose {digest}, ocipick nothing")
                    });
                    assert_eq!(ours.descriptor.digest.as_str(), digest, "{ctx}");
                } else {
                    assert!(ours.is_none(), "{ctx}: containerd fell back to a platform-less entry, ocipick chose {ours:?}");
                }
            }
        }
    }
    answers.len()
}

#[test]
fn corpus_agrees_with_containerd() {
    let Some(oracle) = oracle() else { return };
    let dir = workspace().join("testdata/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "corpus has {} files", files.len());
    let n: usize = files.iter().map(|f| compare(&oracle, f)).sum();
    assert_eq!(n, files.len() * PLATFORMS.len());
}

/// Spellings that containerd 1.6 and ocipick normalize alike.
const SPELLINGS: &[(&str, &str, Option<&str>)] = &[
    ("linux", "amd64", None),
    ("linux", "x86_64", None),
    ("linux", "x86-64", None),
    ("Linux", "AMD64", None),
    ("linux", "amd64", Some("v1")),
    ("linux", "amd64", Some("v2")),
    ("linux", "amd64", Some("v3")),
    ("linux", "amd64", Some("v4")),
    ("linux", "386", None),
    ("linux", "i386", None),
    ("linux", "arm64", None),
    ("linux", "arm64", Some("v8")),
    ("linux", "aarch64", None),
    ("linux", "arm64", Some("8")),
    ("linux", "arm", None),
    ("linux", "arm", Some("v5")),
    ("linux", "arm", Some("v6")),
    ("linux", "arm", Some("v7")),
    ("linux", "arm", Some("7")),
    ("linux", "arm", Some("v8")),
    ("linux", "armhf", None),
    ("linux", "armel", None),
    ("linux", "arm", Some("armv7")),
    ("linux", "ppc64le", None),
    ("linux", "s390x", None),
    ("linux", "riscv64", None),
    ("linux", "mips64le", None),
    ("windows", "amd64", None),
    ("freebsd", "amd64", None),
];

#[test]
fn generated_indexes_agree_with_containerd() {
    let Some(oracle) = oracle() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut total = 0;
    for n in 0..150 {
        let entries = 1 + rng.next() % 10;
        let manifests: Vec<serde_json::Value> = (0..entries)
            .map(|i| {
                let (os, arch, variant) = *rng.pick(SPELLINGS);
                let mut platform = serde_json::json!({"os": os, "architecture": arch});
                if let Some(v) = variant {
                    platform["variant"] = v.into();
                }
                let digest = format!("sha256:{:064x}", (n as u128) << 64 | i as u128);
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": digest,
                    "size": 500 + i,
                    "platform": platform,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        });
        let path = dir.path().join(format!("gen-{n}.json"));
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        total += compare(&oracle, &path);
    }
    assert_eq!(total, 150 * PLATFORMS.len());
}
