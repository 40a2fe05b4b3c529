//! Windows `os.version` rules.
//!
//! A Windows version is `major.minor.build[.revision]` (e.g.
//! `10.0.17763.1040`). Process-isolated containers need the container's
//! build to fit the host's: before Windows Server 2022 the builds must be
//! equal; from Windows Server 2022 (build 20348) on, a host runs any
//! container whose build is at least 20348 and at most its own.

use std::fmt;

/// The first build of Windows Server 2022 (LTSC 2022).
pub const LTSC2022: u32 = 20348;

/// A parsed Windows `os.version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WindowsVersion {
    /// Major version (10 for every current Windows).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Build number, e.g. 17763 for Windows Server 2019.
    pub build: u32,
    /// Update revision; 0 when absent.
    pub revision: u32,
}

impl WindowsVersion {
    /// Parses `major.minor.build[.revision]`; `None` for anything else.
    ///
    /// ```
    /// use ocipick::platform::windows::WindowsVersion;
    /// let v = WindowsVersion::parse("10.0.17763.1040").unwrap();
    /// assert_eq!((v.build, v.revision), (17763, 1040));
    /// assert!(WindowsVersion::parse("10.0").is_none());
    /// ```
    pub fn parse(s: &str) -> Option<WindowsVersion> {
        let mut it = s.split('.');
        let mut next = || it.next().map(|p| p.parse::<u32>().ok());
        let major = next()??;
        let minor = next()??;
        let build = next()??;
        let revision = match next() {
            None => 0,
            Some(r) => r?,
        };
        if it.next().is_some() {
            return None;
        }
        Some(WindowsVersion {
            major,
            minor,
            build,
            revision,
        })
    }

    /// Whether a container built for `container` runs on this host
    /// (process isolation): same major and minor; before LTSC 2022 the same
    /// build; from LTSC 2022 on, a container build between 20348 and the
    /// host's own.
    ///
    /// ```
    /// use ocipick::platform::windows::WindowsVersion as V;
    /// let host = V::parse("10.0.26100.1").unwrap();
    /// assert!(host.runs(&V::parse("10.0.20348.2031").unwrap()));
    /// assert!(!host.runs(&V::parse("10.0.17763.1").unwrap()));
    /// ```
    pub fn runs(&self, container: &WindowsVersion) -> bool {
        if self.major != container.major || self.minor != container.minor {
            return false;
        }
        if self.build < LTSC2022 {
            return self.build == container.build;
        }
        container.build >= LTSC2022 && container.build <= self.build
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
            "a.b.c",
            "10.0.1.2.3",
            "10.0.-1",
            "10.0.1.",
        ] {
            assert!(WindowsVersion::parse(s).is_none(), "{s:?}");
        }
    }
}
