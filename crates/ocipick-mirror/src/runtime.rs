//! The platform the node's container runtime matches index entries with,
//! and what [`Mode::Reorder`](crate::Mode::Reorder) can make that runtime
//! take.
//!
//! containerd, Podman and Docker do not select the way ocipick's node
//! policy does: they take, among the entries their own platform matcher
//! accepts, the closest one (the first in index order on ties), and their
//! platform is not ocipick's. On amd64 none of them uses a
//! microarchitecture level: they match as plain `linux/amd64`, compare
//! variants exactly, and so never take a `linux/amd64/v3` entry, wherever
//! it stands. On 32-bit ARM they read the variant from `/proc/cpuinfo`
//! (as `ocipick_host::arm_variant` does). [`matching_platform`] derives that
//! platform from the node's; [`Runtime`] judges an index with ocipick's
//! own containerd-faithful matcher ([`ocipick::Matcher`]) for it.
//!
//! ```
//! use ocipick::Platform;
//! use ocipick_mirror::runtime::{matching_platform, Placement, Runtime, Unplaceable};
//!
//! let node = Platform::new("linux", "amd64", Some("v3"));
//! let runtime = Runtime::new(&matching_platform(&node));
//! assert_eq!(runtime.platform().to_string(), "linux/amd64");
//!
//! let index = br#"{"schemaVersion":2,"manifests":[
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
//!    "digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111",
//!    "platform":{"os":"linux","architecture":"amd64"}},
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
//!    "digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222",
//!    "platform":{"os":"linux","architecture":"amd64"},
//!    "annotations":{"com.example.gpu":"yes"}},
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
//!    "digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333",
//!    "platform":{"os":"linux","architecture":"amd64","variant":"v3"}}]}"#;
//!
//! // The GPU entry can be moved where the runtime takes it…
//! match runtime.place(index, 1)? {
//!     Placement::Reordered { to, .. } => assert_eq!(to, 0),
//!     other => panic!("{other:?}"),
//! }
//! // …the v3 entry cannot: the runtime drops it wherever it stands.
//! assert_eq!(
//!     runtime.place(index, 2)?,
//!     Placement::Impossible(Unplaceable::DropsVariant)
//! );
//! # Ok::<(), String>(())
//! ```

use std::fmt;

use ocipick::{Index, Platform, Policy};

use crate::reorder;

/// The platform containerd, Podman and Docker match index entries with on a
/// node whose platform (as ocipick detects or is told it) is `node`: the
/// same platform, normalized, except that on amd64 the microarchitecture
/// level is dropped (`linux/amd64/v3` → `linux/amd64`), since none of them
/// detects one. The ARM variant stays: they read it from `/proc/cpuinfo`,
/// as ocipick does.
///
/// ```
/// use ocipick::Platform;
/// use ocipick_mirror::runtime::matching_platform;
/// let p = |os, arch, v| matching_platform(&Platform::new(os, arch, v)).to_string();
/// assert_eq!(p("linux", "amd64", Some("v3")), "linux/amd64");
/// assert_eq!(p("linux", "x86_64", None), "linux/amd64");
/// assert_eq!(p("linux", "arm", Some("v6")), "linux/arm/v6");
/// assert_eq!(p("linux", "aarch64", Some("v8")), "linux/arm64");
/// ```
pub fn matching_platform(node: &Platform<'_>) -> Platform<'static> {
    let mut p = node.normalized();
    if p.architecture == "amd64" {
        p.variant = None;
    }
    p
}

/// Why no order of an index's entries makes the runtime take the chosen
/// one (the label of `ocipick_mirror_reorder_fallbacks_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unplaceable {
    /// Same OS and architecture as the runtime's platform, but a variant
    /// its matcher does not accept (`linux/amd64/v3` for a runtime that
    /// matches as `linux/amd64`): it skips the entry wherever it stands.
    DropsVariant,
    /// Another OS or architecture, or `os.version`/`os.features` the
    /// runtime's platform does not match.
    RejectsPlatform,
    /// The runtime accepts the entry, but another one is closer to its
    /// platform (a better tier: `linux/amd64/v3` over `v2` for a `v3`
    /// runtime), which it takes in any order.
    PrefersCloser,
    /// The entry is not one a runtime picks by platform at all (no
    /// platform while others have one, an attestation, an unknown
    /// platform, not a runnable media type).
    SkipsEntry,
}

impl Unplaceable {
    /// The metric label: `runtime_drops_variant`,
    /// `runtime_rejects_platform`, `runtime_prefers_closer`,
    /// `runtime_skips_entry`.
    pub fn label(self) -> &'static str {
        match self {
            Unplaceable::DropsVariant => "runtime_drops_variant",
            Unplaceable::RejectsPlatform => "runtime_rejects_platform",
            Unplaceable::PrefersCloser => "runtime_prefers_closer",
            Unplaceable::SkipsEntry => "runtime_skips_entry",
        }
    }
}

impl fmt::Display for Unplaceable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Where the chosen entry goes in the index answered to the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// The runtime already takes the chosen entry: answer the index as it
    /// is.
    Unchanged,
    /// The index with the chosen entry moved to position `to` (the one the
    /// runtime took), the entries in between shifted down by one; checked:
    /// the runtime takes the chosen entry from `bytes`.
    Reordered {
        /// The new index.
        bytes: Vec<u8>,
        /// Where the chosen entry now stands.
        to: usize,
    },
    /// No order makes the runtime take it.
    Impossible(Unplaceable),
}

/// How the node's runtime takes an entry of an index: ocipick's
/// containerd-faithful selection with no preferences for the runtime's
/// matching platform (closest platform, then first in index order).
#[derive(Debug, Clone)]
pub struct Runtime {
    policy: Policy,
}

/// The ways a declared platform can differ from the runtime's (the label
/// of `ocipick_mirror_platform_mismatch_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Difference {
    /// Another OS.
    Os,
    /// Another architecture.
    Architecture,
    /// Same OS and architecture, another variant (`linux/amd64/v3` for a
    /// `linux/amd64` runtime).
    Variant,
}

impl Difference {
    /// The metric label: `os`, `architecture`, `variant`.
    pub fn label(self) -> &'static str {
        match self {
            Difference::Os => "os",
            Difference::Architecture => "architecture",
            Difference::Variant => "variant",
        }
    }
}

impl Runtime {
    /// The runtime that matches with `platform` (see [`matching_platform`]).
    pub fn new(platform: &Platform<'_>) -> Runtime {
        Runtime {
            policy: Policy::new(platform).max_manifest_bytes(u64::MAX),
        }
    }

    /// Its matching platform, normalized.
    pub fn platform(&self) -> &Platform<'static> {
        self.policy.target()
    }

    /// The position of the entry the runtime takes from `index`, if any.
    pub fn takes(&self, index: &Index<'_>) -> Option<usize> {
        self.policy.select(index).map(|s| s.position)
    }

    /// How a declared platform differs from the runtime's, after
    /// normalization (`None` when it does not: `linux/x86_64` is
    /// `linux/amd64`, `linux/arm64/v8` is `linux/arm64`).
    pub fn difference(&self, declared: &Platform<'_>) -> Option<Difference> {
        let d = declared.normalized();
        let r = self.platform();
        if d.os != r.os {
            Some(Difference::Os)
        } else if d.architecture != r.architecture {
            Some(Difference::Architecture)
        } else if d.variant_str() != r.variant_str() {
            Some(Difference::Variant)
        } else {
            None
        }
    }

    /// Where entry `chosen` of the index `bytes` must stand for the runtime
    /// to take it: where it is, moved before the entry the runtime takes
    /// now, or nowhere. A move is checked by selecting again, as the runtime
    /// would, from the new bytes. `Err` for an index that cannot be read or
    /// moved in.
    pub fn place(&self, bytes: &[u8], chosen: usize) -> Result<Placement, String> {
        let index = Index::parse(bytes).map_err(|e| format!("invalid index: {e}"))?;
        let Some(entry) = index.manifests.get(chosen) else {
            return Err(format!(
                "entry {chosen} of an index of {}",
                index.manifests.len()
            ));
        };
        let taken = self.takes(&index);
        if taken == Some(chosen) {
            return Ok(Placement::Unchanged);
        }
        let why_not = self.why_not(&index, chosen);
        let (Some(to), None) = (taken.filter(|&t| t < chosen), why_not) else {
            // The runtime takes nothing, something before it that it will
            // keep preferring, or rejects the entry itself.
            return Ok(Placement::Impossible(
                why_not.unwrap_or(Unplaceable::PrefersCloser),
            ));
        };
        let new = reorder::move_entry(bytes, chosen, to)?;
        let moved = Index::parse(&new).map_err(|e| format!("reordered index: {e}"))?;
        let ok = self.takes(&moved) == Some(to) && moved.manifests[to].digest == entry.digest;
        Ok(if ok {
            Placement::Reordered { bytes: new, to }
        } else {
            Placement::Impossible(Unplaceable::PrefersCloser)
        })
    }

    /// Why the runtime would not take entry `position` even alone among
    /// the others; `None` when it accepts it.
    fn why_not(&self, index: &Index<'_>, position: usize) -> Option<Unplaceable> {
        let entry = &index.manifests[position];
        let Some(p) = &entry.platform else {
            // Eligible only when no entry has a platform: then by position.
            let any = index.manifests.iter().any(|d| d.platform.is_some());
            return any.then_some(Unplaceable::SkipsEntry);
        };
        if self.policy.matcher().rank(p).is_err() {
            return Some(match self.difference(p) {
                Some(Difference::Variant) => Unplaceable::DropsVariant,
                _ => Unplaceable::RejectsPlatform,
            });
        }
        (!self.policy.explain(index, position).eligible).then_some(Unplaceable::SkipsEntry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8, platform: &str, extra: &str) -> String {
        let mut parts = platform.split('/');
        let os = parts.next().unwrap();
        let arch = parts.next().unwrap();
        let variant = parts
            .next()
            .map(|v| format!(r#","variant":"{v}""#))
            .unwrap_or_default();
        format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:{}","platform":{{"os":"{os}","architecture":"{arch}"{variant}}}{extra}}}"#,
            format!("{n:x}").repeat(64)
        )
    }

    fn index(entries: &[String]) -> Vec<u8> {
        format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            entries.join(",")
        )
        .into_bytes()
    }

    fn rt(p: &str) -> Runtime {
        let host = Platform::new("linux", "amd64", None);
        Runtime::new(&ocipick::platform::spelling::parse(p, &host).unwrap())
    }

    fn order(bytes: &[u8]) -> Vec<String> {
        Index::parse(bytes)
            .unwrap()
            .manifests
            .iter()
            .map(|d| d.digest.to_string()[7..8].to_owned())
            .collect()
    }

    #[test]
    fn moves_the_chosen_entry_before_the_one_the_runtime_takes() {
        let doc = index(&[
            entry(1, "linux/arm64", ""),
            entry(2, "linux/amd64", ""),
            entry(3, "linux/386", ""),
            entry(4, "linux/amd64", r#","annotations":{"gpu":"1"}"#),
        ]);
        let Placement::Reordered { bytes, to } = rt("linux/amd64").place(&doc, 3).unwrap() else {
            panic!()
        };
        assert_eq!(to, 1);
        assert_eq!(order(&bytes), ["1", "4", "2", "3"]);
        // Already taken: unchanged.
        assert_eq!(
            rt("linux/amd64").place(&doc, 1).unwrap(),
            Placement::Unchanged
        );
        // linux/386 runs on amd64, but the runtime prefers the closer
        // amd64 entries in any order.
        assert_eq!(
            rt("linux/amd64").place(&doc, 2).unwrap(),
            Placement::Impossible(Unplaceable::PrefersCloser)
        );
        // arm64 is not this runtime's.
        assert_eq!(
            rt("linux/amd64").place(&doc, 0).unwrap(),
            Placement::Impossible(Unplaceable::RejectsPlatform)
        );
    }

    #[test]
    fn a_variant_the_runtime_drops_cannot_be_placed() {
        let doc = index(&[entry(1, "linux/amd64", ""), entry(2, "linux/amd64/v3", "")]);
        assert_eq!(
            rt("linux/amd64").place(&doc, 1).unwrap(),
            Placement::Impossible(Unplaceable::DropsVariant)
        );
        // A runtime told it is v3 takes it already (closest tier)…
        assert_eq!(
            rt("linux/amd64/v3").place(&doc, 1).unwrap(),
            Placement::Unchanged
        );
        // …and prefers it over the generic build in any order.
        assert_eq!(
            rt("linux/amd64/v3").place(&doc, 0).unwrap(),
            Placement::Impossible(Unplaceable::PrefersCloser)
        );
        let v2 = index(&[
            entry(1, "linux/amd64", ""),
            entry(2, "linux/amd64/v2", ""),
            entry(3, "linux/amd64/v2", r#","annotations":{"gpu":"1"}"#),
        ]);
        let Placement::Reordered { bytes, to } = rt("linux/amd64/v3").place(&v2, 2).unwrap() else {
            panic!()
        };
        assert_eq!(
            (to, order(&bytes)),
            (1, vec!["1".into(), "3".into(), "2".into()])
        );
    }

    #[test]
    fn entries_no_runtime_picks_by_platform() {
        let attestation = r#","annotations":{"vnd.docker.reference.type":"attestation-manifest"}"#;
        let doc = index(&[
            entry(1, "linux/amd64", ""),
            entry(2, "linux/amd64", attestation),
        ]);
        assert_eq!(
            rt("linux/amd64").place(&doc, 1).unwrap(),
            Placement::Impossible(Unplaceable::SkipsEntry)
        );
        assert!(rt("linux/amd64").place(&doc, 5).is_err());
        assert!(rt("linux/amd64").place(b"[]", 0).is_err());
    }

    #[test]
    fn differences_are_judged_after_normalization() {
        let r = rt("linux/amd64");
        let d =
            |p: &str| r.difference(&ocipick::platform::spelling::parse(p, r.platform()).unwrap());
        assert_eq!(d("linux/x86_64"), None);
        assert_eq!(d("linux/amd64/v1"), None);
        assert_eq!(d("linux/amd64/v3"), Some(Difference::Variant));
        assert_eq!(d("linux/386"), Some(Difference::Architecture));
        assert_eq!(d("windows/amd64"), Some(Difference::Os));
        let arm = rt("linux/arm64");
        let p = Platform::new("linux", "aarch64", Some("v8"));
        assert_eq!(arm.difference(&p), None);
    }
}
