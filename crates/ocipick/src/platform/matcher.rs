//! Compatibility and closeness of a platform to a target, as containerd's
//! `platforms.Only` decides them.

use std::borrow::Cow;
use std::fmt;

use super::normalize::{self, normalize_arch, normalize_os};
use super::windows::WindowsVersion;
use super::Platform;

/// How close a compatible platform is to the target: lower is closer.
///
/// As containerd/platforms' `Only(target).Less` orders two matching
/// platforms: first the position in the target's compatibility list (the
/// target itself is 0, `amd64/v2` on a `v3` target is 1, …); then, within
/// one position, the entry that matches more of the target's `os.features`
/// (on a Windows target `win32k` is not counted, as it is not matched).
/// Equal ranks keep index order. Nothing else orders entries: in
/// particular not their Windows `os.version` (containerd's `Only` does not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlatformRank {
    /// Position in the compatibility list.
    pub tier: u32,
    /// How many of the target's `os.features` the entry does not list
    /// (0 when it lists them all, or the target lists none).
    pub missing_features: u32,
}

/// Why a platform does not run on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The OS differs (after normalization).
    Os {
        /// The entry's OS.
        entry: String,
    },
    /// The architecture/variant is not in the target's compatibility list.
    Architecture {
        /// The entry's architecture and variant, normalized (`arm64/v9`).
        entry: String,
    },
    /// The Windows build cannot run on the target's build.
    OsVersion {
        /// The entry's `os.version`.
        entry: String,
    },
    /// The entry requires OS features the target does not list.
    OsFeatures {
        /// The features the target lacks.
        missing: Vec<String>,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Os { entry } if entry.is_empty() => f.write_str("the entry names no OS"),
            Mismatch::Os { .. } => f.write_str("different OS"),
            Mismatch::Architecture { .. } => f.write_str("incompatible architecture or variant"),
            Mismatch::OsVersion { entry } => write!(f, "Windows build of {entry} does not fit"),
            Mismatch::OsFeatures { missing } => {
                // An empty feature (which no target can list) is shown as
                // such: the platform's text leaves it out.
                let shown: Vec<&str> = missing
                    .iter()
                    .map(|m| if m.is_empty() { "\"\" (empty)" } else { m })
                    .collect();
                write!(f, "needs os.features {}", shown.join(", "))
            }
        }
    }
}

/// Which rule an entry failed, without the details (see [`Mismatch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    /// Rule 1: the OS.
    Os,
    /// Rule 2: the architecture and variant.
    Architecture,
    /// Rule 3: the Windows build.
    OsVersion,
    /// Rule 4: `os.features`.
    OsFeatures,
}

/// Decides whether entries' platforms run on one target platform, and how
/// close each is. Build it once per target, then [`check`](Matcher::check)
/// each entry once.
///
/// ```
/// use ocipick::{Matcher, Platform};
/// let m = Matcher::new(&Platform::new("linux", "amd64", Some("v3")));
/// let v2 = m.check(&Platform::new("linux", "amd64", Some("v2"))).unwrap();
/// let v1 = m.check(&Platform::new("linux", "x86_64", None)).unwrap();
/// assert!(v2 < v1);
/// assert!(m.check(&Platform::new("linux", "amd64", Some("v4"))).is_err());
/// assert!(m.check(&Platform::new("linux", "386", None)).is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct Matcher {
    target: Platform<'static>,
    vector: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    windows: Option<WindowsVersion>,
    /// How many distinct `os.features` of the target an entry can match
    /// (on a Windows target, `win32k` is not among them).
    target_features: u32,
    /// Every spelling of the architectures of `vector` (lower case): an
    /// entry's architecture that is none of them, ignoring case, cannot
    /// normalize into `vector`.
    spellings: Vec<String>,
}

/// The number of a numeric variant `N` or `vN`, read as Go's `strconv.Atoi`
/// reads what follows an optional `v` (containerd's `platformVector`).
fn numeric_variant(v: &str) -> Option<u32> {
    v.strip_prefix('v').unwrap_or(v).parse().ok()
}

/// A run of ASCII digits as a number.
fn digits(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// The Windows feature containerd leaves out of matching.
const WIN32K: &str = "win32k";

/// The highest Armv8 minor version: Armv8 stops at 8.9, and Armv9.N carries
/// the baseline of Armv8.(N+5) only up to there.
const ARM64_MAX_V8_MINOR: u32 = 9;

/// A known arm64 variant (normalized) as (major, minor): the baseline
/// (`""`, `v8`), `v8.1`…`v8.9`, `v9` and `v9.N`. Anything else (`v8.10`,
/// `v10`, `v7`, `armv8`) is `None`.
fn arm64_version(v: &str) -> Option<(u32, u32)> {
    let v = if v.is_empty() { "v8" } else { v };
    let rest = v.strip_prefix('v')?;
    let (major, minor) = match rest.split_once('.') {
        Some((a, b)) => (digits(a)?, digits(b)?),
        None => (digits(rest)?, 0),
    };
    match major {
        8 if minor <= ARM64_MAX_V8_MINOR => Some((8, minor)),
        9 => Some((9, minor)),
        _ => None,
    }
}

/// The highest variant number expanded into a compatibility list. No CPU
/// variant comes near it; it bounds the list whatever a target names
/// (`amd64/v4000000000` would otherwise list four billion platforms).
const MAX_VARIANT_STEPS: u32 = 64;

/// How many arm64 v8 minor versions an arm64 v9 core adds to its base:
/// Armv9.0 builds on Armv8.5, v9.1 on v8.6, and so on.
const ARM64_V9_BASE: u32 = 5;

/// The compatibility list of a normalized architecture/variant, closest
/// first, as containerd's `platformVector`:
///
/// - `amd64/vN` (or `amd64/N`) runs `amd64/vN`, …, `amd64/v2`, `amd64`
///   (v1), then `386`;
/// - `arm/vN` runs `arm/vN` down to `arm/v5`;
/// - `arm64/v8.Y` runs `v8.Y` … `v8.1`, `arm64` (v8); `arm64/v9.Y` runs
///   `v9.Y` … `v9`, then `v8.(Y+5)` (at most `v8.9`) … `arm64`; both, and
///   plain `arm64/v9`, then run 32-bit `arm/v8` … `arm/v5`;
/// - an arm64 variant that is none of those (`v8.10`, `v10`, `armv8`)
///   runs only itself (a deliberate difference, see `docs/decisions.md`);
/// - any other architecture runs only itself.
///
/// Lists are bounded by [`MAX_VARIANT_STEPS`].
fn vector(arch: &str, variant: &str) -> Vec<(Cow<'static, str>, Cow<'static, str>)> {
    let own = |a: &str, v: &str| -> (Cow<'static, str>, Cow<'static, str>) {
        let (a, v) = normalize_arch(a, v);
        (Cow::Owned(a.into_owned()), Cow::Owned(v.into_owned()))
    };
    let mut out = vec![own(arch, variant)];
    let push = |out: &mut Vec<_>, p: (Cow<'static, str>, Cow<'static, str>)| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    match arch {
        "amd64" => {
            if let Some(n) = numeric_variant(variant) {
                for k in (1..n.min(MAX_VARIANT_STEPS)).rev() {
                    push(&mut out, own("amd64", &format!("v{k}")));
                }
            }
            push(&mut out, own("386", ""));
        }
        "arm" => {
            if let Some(n) = numeric_variant(variant) {
                for k in (5..n.min(MAX_VARIANT_STEPS)).rev() {
                    push(&mut out, own("arm", &format!("v{k}")));
                }
            }
        }
        "arm64" => {
            let Some((major, minor)) = arm64_version(variant) else {
                return out;
            };
            let arm64 = |major: u32, minor: u32| {
                if minor == 0 {
                    own("arm64", &format!("v{major}"))
                } else {
                    own("arm64", &format!("v{major}.{minor}"))
                }
            };
            let mut v8_minor = minor;
            if major == 9 {
                for m in (0..=minor.min(MAX_VARIANT_STEPS)).rev() {
                    push(&mut out, arm64(9, m));
                }
                v8_minor = (minor.saturating_add(ARM64_V9_BASE)).min(ARM64_MAX_V8_MINOR);
            }
            for m in (0..=v8_minor).rev() {
                push(&mut out, arm64(8, m));
            }
            for p in vector("arm", "v8") {
                push(&mut out, p);
            }
        }
        _ => {}
    }
    out
}

impl Matcher {
    /// A matcher for `target` (normalized first).
    pub fn new(target: &Platform<'_>) -> Matcher {
        let target = target.normalized();
        let vector = vector(&target.architecture, target.variant_str());
        let windows = if target.os == "windows" {
            target.os_version.as_deref().and_then(WindowsVersion::parse)
        } else {
            None
        };
        let mut spellings: Vec<String> = Vec::new();
        for (a, _) in &vector {
            for s in normalize::arch_spellings(a) {
                if !spellings.iter().any(|x| x == s) {
                    spellings.push(s.to_owned());
                }
            }
        }
        let mut target_features = 0;
        for (i, f) in target.os_features.iter().enumerate() {
            let counted = !(target.os == "windows" && f == WIN32K);
            if counted && !target.os_features[..i].contains(f) {
                target_features += 1;
            }
        }
        Matcher {
            target,
            vector,
            windows,
            target_features,
            spellings,
        }
    }

    /// The normalized target.
    pub fn target(&self) -> &Platform<'static> {
        &self.target
    }

    /// The platforms the target runs, closest first (`os/arch[/variant]`).
    pub fn compatible(&self) -> impl Iterator<Item = String> + '_ {
        self.vector.iter().map(|(a, v)| {
            if v.is_empty() {
                format!("{}/{a}", self.target.os)
            } else {
                format!("{}/{a}/{v}", self.target.os)
            }
        })
    }

    /// Whether `entry` runs on the target, and if so how close it is.
    ///
    /// Rules, in order:
    /// 1. the normalized OS must equal the target's;
    /// 2. the normalized architecture and variant must be in the target's
    ///    compatibility list (see the module docs); the position is the tier;
    /// 3. when the target is Windows and both name an `os.version` (the
    ///    target's readable as major.minor.build), the builds must be
    ///    compatible ([`WindowsVersion::runs`]); an entry version that
    ///    cannot be read does not fit;
    /// 4. every `os.features` item of the entry must be one of the target's,
    ///    except `win32k` on a Windows target, which is ignored.
    ///
    /// The rank is the tier, then how many of the target's features the
    /// entry lacks ([`PlatformRank`]).
    pub fn check(&self, entry: &Platform<'_>) -> Result<PlatformRank, Mismatch> {
        self.rank(entry).map_err(|fail| self.explain(entry, fail))
    }

    /// [`check`](Matcher::check) without building the explanation: it
    /// allocates nothing, which matters when most entries of a large index
    /// do not match.
    ///
    /// Normalizing is skipped where it cannot change the answer: an OS
    /// written exactly as the target's (normalized) OS normalizes to it; an
    /// architecture and variant written exactly as a pair of the
    /// compatibility list (whose pairs are normal forms, which normalizing
    /// leaves as they are) have that pair's tier; an architecture that is
    /// no spelling of any architecture of the list
    /// ([`normalize::arch_spellings`]) normalizes outside it.
    pub fn rank(&self, entry: &Platform<'_>) -> Result<PlatformRank, Fail> {
        if entry.os.is_empty() || *entry.os != *self.target.os {
            let os = normalize_os(&entry.os);
            if os.is_empty() || os != self.target.os {
                return Err(Fail::Os);
            }
        }
        let (arch, variant) = (&*entry.architecture, entry.variant_str());
        let written = self
            .vector
            .iter()
            .position(|(a, v)| *a == arch && *v == variant);
        let tier = match written {
            Some(t) => t,
            None if !self.spellings.iter().any(|s| s.eq_ignore_ascii_case(arch)) => {
                return Err(Fail::Architecture);
            }
            None => {
                let (arch, variant) = normalize_arch(arch, variant);
                self.vector
                    .iter()
                    .position(|(a, v)| *a == arch && *v == variant)
                    .ok_or(Fail::Architecture)?
            }
        };
        let entry_version = entry.os_version.as_deref().filter(|v| !v.is_empty());
        if let (Some(host), Some(ev)) = (self.windows, entry_version) {
            WindowsVersion::parse(ev)
                .filter(|v| host.runs(v))
                .ok_or(Fail::OsVersion)?;
        }
        let mut matched = 0;
        for (i, f) in entry.os_features.iter().enumerate() {
            if self.ignored_feature(f) {
                continue;
            }
            if !self.target.os_features.iter().any(|t| t == f) {
                return Err(Fail::OsFeatures);
            }
            if !entry.os_features[..i].contains(f) {
                matched += 1;
            }
        }
        Ok(PlatformRank {
            tier: tier as u32,
            missing_features: self.target_features.saturating_sub(matched),
        })
    }

    /// Whether an entry's `os.features` item is left out of matching and
    /// ordering: `win32k` on a Windows target (Nano Server lacks it, and
    /// containerd ignores it there).
    fn ignored_feature(&self, f: &str) -> bool {
        f == WIN32K && self.target.os == "windows"
    }

    /// Turns a [`Fail`] from [`rank`](Matcher::rank) into the [`Mismatch`]
    /// that explains it (this allocates; `rank` does not).
    pub fn explain(&self, entry: &Platform<'_>, fail: Fail) -> Mismatch {
        match fail {
            Fail::Os => Mismatch::Os {
                entry: normalize_os(&entry.os).into_owned(),
            },
            Fail::Architecture => {
                let (arch, variant) = normalize_arch(&entry.architecture, entry.variant_str());
                Mismatch::Architecture {
                    entry: if variant.is_empty() {
                        arch.into_owned()
                    } else {
                        format!("{arch}/{variant}")
                    },
                }
            }
            Fail::OsVersion => Mismatch::OsVersion {
                entry: entry.os_version.as_deref().unwrap_or("").to_owned(),
            },
            Fail::OsFeatures => Mismatch::OsFeatures {
                missing: entry
                    .os_features
                    .iter()
                    .filter(|f| !self.ignored_feature(f))
                    .filter(|f| !self.target.os_features.iter().any(|t| t == *f))
                    .map(|f| f.to_string())
                    .collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rank`'s shortcuts (an OS or pair written as the target's, an
    /// architecture no spelling of the list) give exactly what normalizing
    /// every entry gives, for entries spelled every which way.
    #[test]
    fn shortcuts_agree_with_normalizing() {
        fn slow(m: &Matcher, e: &Platform<'_>) -> Option<usize> {
            let os = normalize_os(&e.os);
            if os.is_empty() || os != m.target.os {
                return None;
            }
            let (a, v) = normalize_arch(&e.architecture, e.variant_str());
            m.vector.iter().position(|(x, y)| *x == a && *y == v)
        }
        let targets = [
            "linux/amd64",
            "linux/amd64/v3",
            "linux/386",
            "linux/arm64",
            "linux/arm64/v8.2",
            "linux/arm64/v9.1",
            "linux/arm/v7",
            "linux/arm/v5",
            "linux/arm",
            "windows/amd64",
            "linux/ppc64le",
            "linux/riscv64",
            "darwin/arm64",
            "linux/AMD64",
        ];
        let oses = [
            "linux", "Linux", "LINUX", "", "windows", "macos", "darwin", "macOS",
        ];
        let arches = [
            "amd64", "AMD64", "x86_64", "x86-64", "X86_64", "386", "i386", "I386", "arm64",
            "aarch64", "AArch64", "arm", "ARM", "armhf", "armel", "ppc64le", "riscv64", "s390x",
            "x86", "",
        ];
        let variants = [
            None,
            Some(""),
            Some("v1"),
            Some("v2"),
            Some("v3"),
            Some("V3"),
            Some("v4"),
            Some("5"),
            Some("v5"),
            Some("6"),
            Some("v7"),
            Some("7"),
            Some("v8"),
            Some("8"),
            Some("v8.0"),
            Some("v8.2"),
            Some("v9"),
            Some("9.0"),
            Some("v9.0"),
            Some("v9.1"),
            Some("armv7"),
        ];
        let host = Platform::new("linux", "amd64", None);
        let mut hits = 0;
        for t in targets {
            let m = Matcher::new(&crate::platform::selector::parse(t, &host).unwrap());
            for os in oses {
                for arch in arches {
                    for variant in variants {
                        let e = Platform::new(os, arch, variant);
                        let fast = m.rank(&e).ok().map(|r| r.tier as usize);
                        assert_eq!(fast, slow(&m, &e), "{e} against {t}");
                        hits += usize::from(fast.is_some());
                    }
                }
            }
        }
        assert!(hits > 500, "{hits}");
    }

    /// The compatibility list holds normal forms only, which `rank`'s
    /// shortcut for pairs written exactly as listed relies on.
    #[test]
    fn the_compatibility_list_is_normalized() {
        let host = Platform::new("linux", "amd64", None);
        for t in [
            "linux/amd64",
            "linux/amd64/v1",
            "linux/amd64/v4",
            "linux/386",
            "linux/arm64",
            "linux/arm64/v8",
            "linux/arm64/v8.5",
            "linux/arm64/v9",
            "linux/arm64/v9.3",
            "linux/arm64/v09.0",
            "linux/arm/v8",
            "linux/arm/v7",
            "linux/arm/v5",
            "linux/arm",
            "linux/ppc64le",
            "windows/amd64",
        ] {
            let m = Matcher::new(&crate::platform::selector::parse(t, &host).unwrap());
            for (a, v) in &m.vector {
                let (na, nv) = normalize_arch(a, v);
                assert_eq!((&*na, &*nv), (&**a, &**v), "{t}: {a}/{v} is not normalized");
            }
        }
    }
    use crate::platform::selector::parse;

    fn p(s: &str) -> Platform<'static> {
        parse(s, &Platform::new("linux", "amd64", None)).unwrap()
    }

    /// Rows: target, entry, runs?
    #[test]
    fn match_table() {
        let rows = [
            ("linux/amd64", "linux/amd64", true),
            ("linux/amd64", "linux/x86_64", true),
            ("linux/amd64", "linux/amd64/v1", true),
            ("linux/amd64", "linux/386", true),
            ("linux/amd64", "linux/amd64/v2", false),
            ("linux/amd64/v2", "linux/amd64", true),
            ("linux/amd64/v3", "linux/amd64/v2", true),
            ("linux/amd64/v3", "linux/amd64/v4", false),
            ("linux/amd64/v4", "linux/386", true),
            ("linux/386", "linux/amd64", false),
            ("linux/amd64", "windows/amd64", false),
            ("linux/amd64", "linux/arm64", false),
            ("linux/arm/v7", "linux/arm/v7", true),
            ("linux/arm/v7", "linux/arm", true),
            ("linux/arm/v7", "linux/arm/v6", true),
            ("linux/arm/v7", "linux/arm/v5", true),
            ("linux/arm/v7", "linux/arm/v8", false),
            ("linux/arm/v6", "linux/arm/v7", false),
            ("linux/arm/v6", "linux/armel", true),
            ("linux/arm/v5", "linux/arm/v6", false),
            ("linux/arm/v8", "linux/arm/v7", true),
            ("linux/arm/v7", "linux/arm/armv7", false),
            ("linux/arm64", "linux/arm64", true),
            ("linux/arm64", "linux/arm64/v8", true),
            ("linux/arm64", "linux/aarch64", true),
            ("linux/arm64", "linux/arm/v8", true),
            ("linux/arm64", "linux/arm/v7", true),
            ("linux/arm64", "linux/arm/v5", true),
            ("linux/arm64", "linux/arm64/v8.1", false),
            ("linux/arm64", "linux/arm64/v9", false),
            ("linux/arm64", "linux/amd64", false),
            ("linux/arm64/v8.2", "linux/arm64/v8.1", true),
            ("linux/arm64/v8.2", "linux/arm64", true),
            ("linux/arm64/v8.2", "linux/arm64/v8.3", false),
            ("linux/arm64/v9", "linux/arm64/v8.5", true),
            ("linux/arm64/v9", "linux/arm64/v8.6", false),
            ("linux/arm64/v9.2", "linux/arm64/v9.1", true),
            ("linux/arm64/v9.2", "linux/arm64/v8.7", true),
            ("linux/arm64/v9.2", "linux/arm64/v8.8", false),
            ("linux/arm64/v9.2", "linux/arm/v6", true),
            ("linux/arm64/v8", "linux/arm64/armv8", false),
            ("linux/ppc64le", "linux/ppc64le", true),
            ("linux/ppc64le", "linux/ppc64", false),
            ("linux/riscv64", "linux/riscv64", true),
            ("darwin/arm64", "macos/arm64", true),
            ("linux/amd64", "unknown/unknown", false),
            (
                "windows(10.0.17763.1040)/amd64",
                "windows(10.0.17763.5458)/amd64",
                true,
            ),
            (
                "windows(10.0.17763.1040)/amd64",
                "windows(10.0.20348.1)/amd64",
                false,
            ),
            (
                "windows(10.0.26100.1)/amd64",
                "windows(10.0.20348.1)/amd64",
                true,
            ),
            ("windows/amd64", "windows(10.0.20348.1)/amd64", true),
            ("windows(10.0.17763.1)/amd64", "windows/amd64", true),
            ("linux/amd64", "linux(+gpu)/amd64", false),
            ("linux(+gpu)/amd64", "linux(+gpu)/amd64", true),
            ("linux(+gpu+rdma)/amd64", "linux(+rdma)/amd64", true),
            ("linux(+gpu)/amd64", "linux/amd64", true),
        ];
        for (target, entry, want) in rows {
            let m = Matcher::new(&p(target));
            assert_eq!(
                m.check(&p(entry)).is_ok(),
                want,
                "target {target}, entry {entry}"
            );
        }
    }

    /// Each target's compatible platforms, closest first.
    #[test]
    fn order_table() {
        let rows: &[(&str, &[&str])] = &[
            ("linux/amd64", &["linux/amd64", "linux/386"]),
            (
                "linux/amd64/v3",
                &[
                    "linux/amd64/v3",
                    "linux/amd64/v2",
                    "linux/amd64",
                    "linux/386",
                ],
            ),
            (
                "linux/arm/v7",
                &["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"],
            ),
            ("linux/arm/v5", &["linux/arm/v5"]),
            (
                "linux/arm64",
                &[
                    "linux/arm64",
                    "linux/arm/v8",
                    "linux/arm/v7",
                    "linux/arm/v6",
                    "linux/arm/v5",
                ],
            ),
            (
                "linux/arm64/v8.2",
                &[
                    "linux/arm64/v8.2",
                    "linux/arm64/v8.1",
                    "linux/arm64",
                    "linux/arm/v8",
                    "linux/arm/v7",
                    "linux/arm/v6",
                    "linux/arm/v5",
                ],
            ),
            ("linux/s390x", &["linux/s390x"]),
        ];
        for (target, want) in rows {
            let m = Matcher::new(&p(target));
            let got: Vec<String> = m.compatible().collect();
            assert_eq!(&got, want, "{target}");
            // Ranks follow the list.
            let ranks: Vec<u32> = want.iter().map(|e| m.check(&p(e)).unwrap().tier).collect();
            assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{target}: {ranks:?}");
        }
    }

    #[test]
    fn arm64_v9_list() {
        let m = Matcher::new(&p("linux/arm64/v9.1"));
        let got: Vec<String> = m.compatible().take(9).collect();
        let want = [
            "linux/arm64/v9.1",
            "linux/arm64/v9",
            "linux/arm64/v8.6",
            "linux/arm64/v8.5",
            "linux/arm64/v8.4",
            "linux/arm64/v8.3",
            "linux/arm64/v8.2",
            "linux/arm64/v8.1",
            "linux/arm64",
        ];
        assert_eq!(got, want);
    }

    /// containerd's `Only` does not order Windows entries by version: equal
    /// tiers keep index order, whatever the builds and revisions.
    #[test]
    fn windows_versions_do_not_order() {
        let m = Matcher::new(&p("windows(10.0.26100.100)/amd64"));
        let ranks: Vec<PlatformRank> = [
            "windows(10.0.26100.5)/amd64",
            "windows(10.0.26100.90)/amd64",
            "windows(10.0.20348.9999)/amd64",
            "windows/amd64",
        ]
        .iter()
        .map(|e| m.check(&p(e)).unwrap())
        .collect();
        assert!(
            ranks.iter().all(|r| *r == PlatformRank::default()),
            "{ranks:?}"
        );
    }

    /// Within a tier, more matching `os.features` rank closer; `win32k` is
    /// neither required nor counted on a Windows target.
    #[test]
    fn features_order_within_a_tier() {
        let m = Matcher::new(&p("linux(+gpu+rdma)/amd64/v2"));
        let r = |e: &str| m.check(&p(e)).unwrap();
        assert!(r("linux(+gpu+rdma)/amd64/v2") < r("linux(+gpu)/amd64/v2"));
        assert!(r("linux(+rdma)/amd64/v2") < r("linux/amd64/v2"));
        assert_eq!(r("linux(+gpu)/amd64/v2"), r("linux(+rdma)/amd64/v2"));
        // The tier comes first: features never lift a farther platform.
        assert!(r("linux/amd64/v2") < r("linux(+gpu+rdma)/amd64"));
        let w = Matcher::new(&p("windows(10.0.20348.1)/amd64"));
        assert_eq!(
            w.check(&p("windows(10.0.20348.1+win32k)/amd64")).unwrap(),
            w.check(&p("windows(10.0.20348.1)/amd64")).unwrap()
        );
        let wk = Matcher::new(&p("windows(10.0.20348.1+win32k)/amd64"));
        assert_eq!(
            wk.check(&p("windows(10.0.20348.1+win32k)/amd64")).unwrap(),
            wk.check(&p("windows(10.0.20348.1)/amd64")).unwrap()
        );
        // Elsewhere win32k is an ordinary feature.
        let l = Matcher::new(&p("linux/amd64"));
        assert!(l.check(&p("linux(+win32k)/amd64")).is_err());
    }
}
