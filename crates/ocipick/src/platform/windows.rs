//! Windows `os.version` rules.
//!
//! A Windows version is `major.minor.build[.revision]` (e.g.
//! `10.0.17763.1040`). Process-isolated containers need the container's
//! build to fit the host's: before Windows Server 2022 the builds must be
//! equal; from Windows Server 2022 (build 20348) on, a host runs container
//! builds from a floor up to its own, the floor being the newest stable-ABI
//! LTSC release (20348, 26100) that is *older* than the host, or 20348 on
//! the 2022 host itself. So a 2025 host (26100) runs 20348…26100, and a
//! host newer than 26100 runs 26100…its own build (containerd/platforms
//! `checkWindowsHostAndContainerCompat`, `compatLTSCReleases`).

use std::fmt;

/// The first build of Windows Server 2022 (LTSC 2022).
pub const LTSC2022: u32 = 20348;

/// The first build of Windows Server 2025 (LTSC 2025).
pub const LTSC2025: u32 = 26100;

/// The stable-ABI LTSC releases, oldest first.
const COMPAT_LTSC: [u32; 2] = [LTSC2022, LTSC2025];

/// A parsed Windows `os.version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WindowsVersion {
    /// Major version (10 for every current Windows), 0…255.
    pub major: u32,
    /// Minor version, 0…255.
    pub minor: u32,
    /// Build number, e.g. 17763 for Windows Server 2019, 0…65535.
    pub build: u32,
    /// Update revision, when the fourth component is a number; 0
    /// otherwise. Informational: it decides neither compatibility nor
    /// order.
    pub revision: u32,
}

/// A decimal number of ASCII digits only (no sign, no spaces) that fits in
/// `max`.
fn number(s: &str, max: u32) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|&n| n <= max)
}

impl WindowsVersion {
    /// Parses an `os.version` as containerd's `getWindowsOSVersion` reads
    /// it: the first three dot-separated components are major (0…255),
    /// minor (0…255) and build (0…65535), decimal digits only; whatever
    /// follows the third dot (a revision, a fifth component, text) is
    /// ignored for matching. `None` when the three are not there.
    ///
    /// ```
    /// use ocipick::platform::windows::WindowsVersion;
    /// let v = WindowsVersion::parse("10.0.17763.1040").unwrap();
    /// assert_eq!((v.build, v.revision), (17763, 1040));
    /// assert_eq!(WindowsVersion::parse("10.0.17763.1.2").unwrap().build, 17763);
    /// assert_eq!(WindowsVersion::parse("10.0.17763.x").unwrap().revision, 0);
    /// assert!(WindowsVersion::parse("10.0").is_none());
    /// assert!(WindowsVersion::parse("10.0.70000").is_none());
    /// ```
    pub fn parse(s: &str) -> Option<WindowsVersion> {
        let mut it = s.splitn(4, '.');
        let major = number(it.next()?, 0xff)?;
        let minor = number(it.next()?, 0xff)?;
        let build = number(it.next()?, 0xffff)?;
        let revision = it
            .next()
            .and_then(|rest| number(rest.split('.').next().unwrap_or(""), u32::MAX))
            .unwrap_or(0);
        Some(WindowsVersion {
            major,
            minor,
            build,
            revision,
        })
    }

    /// The oldest container build a host of this build runs (from LTSC
    /// 2022 on): the newest LTSC release older than the host, else 20348.
    pub fn floor(&self) -> u32 {
        COMPAT_LTSC
            .iter()
            .rev()
            .copied()
            .find(|&ltsc| self.build > ltsc)
            .unwrap_or(LTSC2022)
    }

    /// Whether a container built for `container` runs on this host
    /// (process isolation): same major and minor; before LTSC 2022 the same
    /// build; from LTSC 2022 on, a container build between
    /// [`floor`](WindowsVersion::floor) and the host's own.
    ///
    /// ```
    /// use ocipick::platform::windows::WindowsVersion as V;
    /// let host = V::parse("10.0.26100.1").unwrap();
    /// assert!(host.runs(&V::parse("10.0.20348.2031").unwrap()));
    /// assert!(!host.runs(&V::parse("10.0.17763.1").unwrap()));
    /// let newer = V::parse("10.0.26200.1").unwrap();
    /// assert!(!newer.runs(&V::parse("10.0.20348.2031").unwrap()));
    /// assert!(newer.runs(&V::parse("10.0.26100.1").unwrap()));
    /// ```
    pub fn runs(&self, container: &WindowsVersion) -> bool {
        if self.major != container.major || self.minor != container.minor {
            return false;
        }
        if self.build < LTSC2022 {
            return self.build == container.build;
        }
        self.floor() <= container.build && container.build <= self.build
    }
}

impl fmt::Display for WindowsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}",
            self.major, self.minor, self.build, self.revision
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows: host version, container version, runs?
    #[test]
    fn compatibility_table() {
        let rows = [
            ("10.0.17763.1040", "10.0.17763.5458", true), // same build, any revision
            ("10.0.17763.1040", "10.0.17763", true),
            ("10.0.17763.1040", "10.0.20348.1", false), // newer build
            ("10.0.19042.1706", "10.0.17763.1", false), // pre-2022 hosts need equal builds
            ("10.0.20348.1", "10.0.20348.2031", true),
            ("10.0.20348.1", "10.0.17763.1", false), // old containers never on 2022+
            ("10.0.26100.3775", "10.0.20348.3453", true), // 2025 host runs 2022 container
            ("10.0.20348.1", "10.0.26100.1", false), // but not the other way round
            ("10.0.26100.1", "10.0.26100.9", true),
            ("10.0.26200.1", "10.0.26100.1", true), // newer than 2025: 26100…host
            ("10.0.26200.1", "10.0.20348.1", false),
            ("10.0.26200.1", "10.0.22621.1", false),
            ("10.0.26200.1", "10.0.26300.1", false),
            ("10.0.22621.1", "10.0.20348.1", true), // 2022-generation hosts: 20348…host
            ("6.3.9600.1", "10.0.9600.1", false),
        ];
        for (h, c, want) in rows {
            let (h, c) = (
                WindowsVersion::parse(h).unwrap(),
                WindowsVersion::parse(c).unwrap(),
            );
            assert_eq!(h.runs(&c), want, "host {h} container {c}");
        }
    }

    #[test]
    fn parse_rejects_junk() {
        for s in [
            "",
            "10",
            "10.0",
            "10.0.",
            "a.b.c",
            "10.0.-1",
            "10.0.+1",
            "10.0. 1",
            "256.0.1",
            "10.256.1",
            "10.0.65536",
            "10.0.1a",
        ] {
            assert!(WindowsVersion::parse(s).is_none(), "{s:?}");
        }
    }

    /// containerd reads major.minor.build and ignores the rest.
    #[test]
    fn parse_ignores_what_follows_the_build() {
        for (s, build, revision) in [
            ("10.0.17763", 17763, 0),
            ("10.0.17763.1040", 17763, 1040),
            ("10.0.17763.1040.7", 17763, 1040),
            ("10.0.17763.x", 17763, 0),
            ("10.0.17763.", 17763, 0),
            ("10.0.65535.1", 65535, 1),
        ] {
            let v = WindowsVersion::parse(s).unwrap_or_else(|| panic!("{s:?}"));
            assert_eq!((v.build, v.revision), (build, revision), "{s:?}");
        }
    }
}
