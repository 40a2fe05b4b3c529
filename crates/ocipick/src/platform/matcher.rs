//! Compatibility and closeness of a platform to a target, as containerd's
//! `platforms.Only` decides them.

use std::borrow::Cow;
use std::fmt;

use super::normalize::{self, normalize_arch, normalize_os};
use super::windows::WindowsVersion;
use super::Platform;

/// How close a compatible platform is to the target: lower is closer.
///
/// The first component is the position in the target's compatibility list
/// (the target itself is 0, `amd64/v2` on a `v3` target is 1, …); for
/// Windows targets that name an `os.version`, entries of the same tier are
/// then ordered as containerd's Windows-host comparer orders them: newest
/// build first (all compatible builds are at most the host's, so the host's
/// own build comes first), then newest revision, then entries that name no
/// version. (containerd compares the version strings; ocipick compares the
/// numbers, so `.1000` is newer than `.999`.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlatformRank {
    /// Position in the compatibility list.
    pub tier: u32,
    /// Windows ordering within a tier (0 elsewhere).
    pub windows: u64,
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
                write!(f, "needs os.features {}", missing.join(", "))
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
    /// Every spelling of the architectures of `vector` (lower case): an
    /// entry's architecture that is none of them, ignoring case, cannot
    /// normalize into `vector`.
    spellings: Vec<String>,
}

/// Returns `vN` for a numeric variant `N` or `vN`.
fn numeric_variant(v: &str) -> Option<u32> {
    v.strip_prefix('v').unwrap_or(v).parse().ok()
}

/// Parses an arm64 variant `vX` or `vX.Y` into (X, Y).
fn arm64_version(v: &str) -> Option<(u32, u32)> {
    let v = v.strip_prefix('v')?;
    match v.split_once('.') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => Some((v.parse().ok()?, 0)),
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
/// - `amd64/vN` runs `amd64/vN`, …, `amd64/v2`, `amd64` (v1), then `386`;
/// - `arm/vN` runs `arm/vN` down to `arm/v5`;
/// - `arm64/v8.Y` runs `v8.Y` … `v8.1`, `arm64` (v8); `arm64/v9.Y` runs
///   `v9.Y` … `v9`, then `v8.(Y+5)` … `arm64`; both then run 32-bit
///   `arm/v8` … `arm/v5`. Plain `arm64/v9` (no minor) is followed, as in
///   containerd, by `arm/v9` before `arm/v8`; a variant that is not
///   `v8[.Y]`/`v9[.Y]` runs only itself and the `arm` variant of the same
///   name (and what that runs);
/// - any other architecture runs only itself.
///
/// One deliberate difference: containerd reads a minor version only when
/// the variant is exactly four characters long, so it treats `v8.10` as
/// having no minor; ocipick reads any number of digits.
fn vector(arch: &str, variant: &str) -> Vec<(Cow<'static, str>, Cow<'static, str>)> {
    let own = |a: &str, v: &str| -> (Cow<'static, str>, Cow<'static, str>) {
        let (a, v) = normalize_arch(a, v);
        (Cow::Owned(a.into_owned()), Cow::Owned(v.into_owned()))
    };
    let mut out = vec![own(arch, variant)];
    match arch {
        "amd64" => {
            if let Some(n) = numeric_variant(variant).filter(|_| variant.starts_with('v')) {
                for k in (1..n.min(MAX_VARIANT_STEPS)).rev() {
                    out.push(own("amd64", &format!("v{k}")));
                }
            }
            out.push(own("386", ""));
        }
        "arm" => {
            if let Some(n) = numeric_variant(variant) {
                for k in (5..n.min(MAX_VARIANT_STEPS)).rev() {
                    out.push(own("arm", &format!("v{k}")));
                }
            }
        }
        "arm64" => {
            let v = if variant.is_empty() { "v8" } else { variant };
            let arm64 = |major: u32, minor: u32| {
                if minor == 0 {
                    own("arm64", &format!("v{major}"))
                } else {
                    own("arm64", &format!("v{major}.{minor}"))
                }
            };
            if let Some((mut major, minor)) = arm64_version(v).filter(|(m, _)| *m == 8 || *m == 9) {
                let mut minor = minor.min(MAX_VARIANT_STEPS);
                // The target as written stays first, even when it spells
                // its variant unusually (`v09.0`) or beyond the bound.
                let target = out.pop();
                if major == 9 {
                    for m in (0..=minor).rev() {
                        out.push(arm64(9, m));
                    }
                    major = 8;
                    minor += ARM64_V9_BASE;
                }
                for m in (0..=minor).rev() {
                    out.push(arm64(major, m));
                }
                if let Some(t) = target.filter(|t| !out.contains(t)) {
                    out.insert(0, t);
                }
            }
            let arm = if v.starts_with("v8.") || v.starts_with("v9.") {
                "v8"
            } else {
                v
            };
            out.extend(vector("arm", &normalize_arch("arm", arm).1));
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
        Matcher {
            target,
            vector,
            windows,
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
    /// 3. when the target is Windows and both name an `os.version`, the
    ///    builds must be compatible ([`WindowsVersion::runs`]);
    /// 4. every `os.features` item of the entry must be one of the target's.
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
        // Entries that name no version come after those that do.
        let mut windows = if self.windows.is_some() { u64::MAX } else { 0 };
        let entry_version = entry.os_version.as_deref().filter(|v| !v.is_empty());
        if let (Some(host), Some(ev)) = (self.windows, entry_version) {
            let v = WindowsVersion::parse(ev)
                .filter(|v| host.runs(v))
                .ok_or(Fail::OsVersion)?;
            // Own build first, then newer builds, then higher revisions.
            let build_gap = u64::from(host.build - v.build);
            windows = (build_gap << 32) | u64::from(u32::MAX - v.revision);
        }
        let has = |f: &Cow<'_, str>| self.target.os_features.iter().any(|t| t == f);
        if !entry.os_features.iter().all(has) {
            return Err(Fail::OsFeatures);
        }
        Ok(PlatformRank {
            tier: tier as u32,
            windows,
        })
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

    #[test]
    fn windows_order() {
        let m = Matcher::new(&p("windows(10.0.26100.100)/amd64"));
        let own_old = m.check(&p("windows(10.0.26100.5)/amd64")).unwrap();
        let own_new = m.check(&p("windows(10.0.26100.90)/amd64")).unwrap();
        let ltsc2022 = m.check(&p("windows(10.0.20348.9999)/amd64")).unwrap();
        assert!(own_new < own_old, "higher revision first");
        assert!(
            own_old < ltsc2022,
            "the host's own build before older builds"
        );
    }
}
