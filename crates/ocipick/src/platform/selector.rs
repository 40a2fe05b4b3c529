//! Parsing containerd's platform selector syntax:
//! `os[(osversion[+feature…])]/arch[/variant]`, or a lone OS or architecture.

use std::borrow::Cow;

use super::normalize::{normalize_arch, normalize_os};
use super::Platform;

/// Why a platform selector could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The selector is empty or has more than three `/`-separated parts.
    #[error("{0:?}: a platform is os[(osversion+feature)]/arch[/variant]")]
    Shape(String),
    /// A part contains characters outside `[A-Za-z0-9_.-]`.
    #[error("{selector:?}: {part:?} is not a valid component (letters, digits, '_', '.', '-')")]
    Component {
        /// The whole selector.
        selector: String,
        /// The offending part.
        part: String,
    },
    /// A lone word that is neither a known OS nor a known architecture.
    #[error("{0:?}: unknown operating system or architecture")]
    Unknown(String),
    /// A peer tool's addition to the selector (`:osversion`, `,osver=…`)
    /// that is malformed or conflicts with another
    /// ([`spelling`](super::spelling)).
    #[error("{selector:?}: {option:?}: {why}")]
    Option {
        /// The whole text.
        selector: String,
        /// The offending addition.
        option: String,
        /// What is wrong with it.
        why: String,
    },
}

/// Go's `GOOS` values, as containerd's `isKnownOS`.
pub const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

/// Go's `GOARCH` values, as containerd's `isKnownArch`.
pub const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "ppc64",
    "ppc64le",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

fn valid_component(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn valid_os_detail(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'+'))
}

/// Parses a platform selector the way containerd's `platforms.Parse` does,
/// and returns it normalized. `host` fills in what a one-word selector
/// leaves out.
///
/// Rules:
/// - `os/arch/variant` — all three given; `arm64` with an empty variant
///   stays the baseline.
/// - `os/arch` — the variant is the architecture's default (none; `arm` is
///   `arm/v7`).
/// - one word — if it is a known OS, the architecture and variant are the
///   host's (and on Windows the host's `os.version`); otherwise, if it is a
///   known architecture, the OS is the host's; otherwise an error.
/// - the OS part may carry `(osversion+feature+…)`: `windows(10.0.17763)/amd64`,
///   `linux(+gpu)/amd64`.
/// - `*` wildcards are not supported; parts use `[A-Za-z0-9_.-]`.
///
/// ```
/// use ocipick::platform::selector::parse;
/// use ocipick::Platform;
/// let host = Platform::new("linux", "amd64", Some("v3"));
/// assert_eq!(parse("linux/aarch64", &host).unwrap().to_string(), "linux/arm64");
/// assert_eq!(parse("linux", &host).unwrap().to_string(), "linux/amd64/v3");
/// assert_eq!(parse("armhf", &host).unwrap().to_string(), "linux/arm/v7");
/// let w = parse("windows(10.0.17763.1040)/amd64", &host).unwrap();
/// assert_eq!(w.os_version.as_deref(), Some("10.0.17763.1040"));
/// ```
pub fn parse(selector: &str, host: &Platform<'_>) -> Result<Platform<'static>, SelectorError> {
    let parts: Vec<&str> = selector.split('/').collect();
    if selector.is_empty() || parts.len() > 3 {
        return Err(SelectorError::Shape(selector.to_owned()));
    }
    let bad = |part: &str| SelectorError::Component {
        selector: selector.to_owned(),
        part: part.to_owned(),
    };
    // The first part may be os(osversion+features).
    let (os_word, os_version, os_features) = match parts[0].split_once('(') {
        Some((os, rest)) => {
            let Some(detail) = rest.strip_suffix(')') else {
                return Err(bad(parts[0]));
            };
            if !valid_os_detail(detail) {
                return Err(bad(parts[0]));
            }
            let mut it = detail.split('+');
            let version = it.next().unwrap_or("");
            let feats: Vec<Cow<'static, str>> = it
                .filter(|f| !f.is_empty())
                .map(|f| Cow::Owned(f.to_owned()))
                .collect();
            (
                os,
                (!version.is_empty()).then(|| Cow::Owned(version.to_owned())),
                feats,
            )
        }
        None => (parts[0], None, Vec::new()),
    };
    if !valid_component(os_word) {
        return Err(bad(parts[0]));
    }
    for p in &parts[1..] {
        if !valid_component(p) {
            return Err(bad(p));
        }
    }
    let own = |s: &str| Cow::Owned(s.to_owned());
    let mut out = Platform {
        architecture: Cow::Borrowed(""),
        os: own(&normalize_os(os_word)),
        os_version,
        os_features,
        variant: None,
        features: Vec::new(),
    };
    let set_arch = |out: &mut Platform<'static>, a: &str, v: &str| {
        let (a, v) = normalize_arch(a, v);
        out.architecture = own(&a);
        out.variant = (!v.is_empty()).then(|| own(&v));
    };
    match parts.len() {
        1 => {
            if KNOWN_OS.contains(&&*out.os) {
                let host_n = host.normalized();
                out.architecture = host_n.architecture;
                out.variant = host_n.variant;
                if out.os == "windows" && out.os_version.is_none() && host_n.os == "windows" {
                    out.os_version = host_n.os_version;
                }
            } else {
                let (a, v) = normalize_arch(os_word, "");
                if !KNOWN_ARCH.contains(&&*a) || out.os_version.is_some() {
                    return Err(SelectorError::Unknown(selector.to_owned()));
                }
                out.architecture = own(&a);
                out.variant = (!v.is_empty()).then(|| own(&v));
                out.os = own(&normalize_os(&host.os));
            }
        }
        2 => set_arch(&mut out, parts[1], ""),
        _ => set_arch(&mut out, parts[1], parts[2]),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Platform<'static> {
        Platform::new("linux", "amd64", Some("v2"))
    }

    /// Rows: selector → formatted normalized platform (or `Err`).
    #[test]
    fn parse_table() {
        let rows: &[(&str, Result<&str, ()>)] = &[
            ("linux/amd64", Ok("linux/amd64")),
            ("Linux/x86_64", Ok("linux/amd64")),
            ("linux/amd64/v1", Ok("linux/amd64")),
            ("linux/amd64/v3", Ok("linux/amd64/v3")),
            ("linux/x86-64/v4", Ok("linux/amd64/v4")),
            ("linux/i386", Ok("linux/386")),
            ("linux/arm64", Ok("linux/arm64")),
            ("linux/arm64/v8", Ok("linux/arm64")),
            ("linux/aarch64/8", Ok("linux/arm64")),
            ("linux/arm64/v8.2", Ok("linux/arm64/v8.2")),
            ("linux/arm64/9", Ok("linux/arm64/v9")),
            ("linux/arm", Ok("linux/arm/v7")),
            ("linux/arm/v6", Ok("linux/arm/v6")),
            ("linux/arm/5", Ok("linux/arm/v5")),
            ("linux/armhf", Ok("linux/arm/v7")),
            ("linux/armel", Ok("linux/arm/v6")),
            ("macos/arm64", Ok("darwin/arm64")),
            ("linux", Ok("linux/amd64/v2")),
            ("windows", Ok("windows/amd64/v2")),
            ("arm64", Ok("linux/arm64")),
            ("aarch64", Ok("linux/arm64")),
            ("armel", Ok("linux/arm/v6")),
            ("x86_64", Ok("linux/amd64")),
            ("windows(10.0.17763)/amd64", Ok("windows(10.0.17763)/amd64")),
            (
                "windows(10.0.20348.1+win32k)/amd64",
                Ok("windows(10.0.20348.1+win32k)/amd64"),
            ),
            ("linux(+gpu+fast)/arm64", Ok("linux(+gpu+fast)/arm64")),
            ("plan9/mystery", Ok("plan9/mystery")),
            ("nonsense", Err(())),
            ("", Err(())),
            ("linux/", Err(())),
            ("/amd64", Err(())),
            ("linux/amd64/v3/extra", Err(())),
            ("linux/*", Err(())),
            ("linux/am d64", Err(())),
            ("linux(10.0/amd64", Err(())),
            ("linux(a b)/amd64", Err(())),
        ];
        for (sel, want) in rows {
            let got = parse(sel, &host()).map(|p| p.to_string()).map_err(|_| ());
            assert_eq!(got, want.map(str::to_owned), "parse({sel:?})");
        }
    }
}
