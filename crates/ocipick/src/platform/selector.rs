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
    /// An OS version or feature in `(…)` that containerd refuses: an empty
    /// feature (`linux(++gpu)`, `linux(+gpu+)`, `linux(7.1+)`), a bad
    /// percent escape, or one that decodes to bytes that are not UTF-8.
    #[error("{selector:?}: {part:?}: {why}")]
    OsOption {
        /// The whole selector.
        selector: String,
        /// The offending version or feature, as written.
        part: String,
        /// What is wrong with it.
        why: &'static str,
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

/// An OS name: containerd's `[A-Za-z0-9_-]+` (no dot).
fn valid_os_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// The inside of `(…)`: `osversion` then `+feature`s, each of
/// `[A-Za-z0-9_.%-]` (the `+`s checked by the caller).
fn valid_os_detail(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'+' | b'%'))
}

/// Decodes `%XX` escapes, as Go's `url.PathUnescape` does (which
/// containerd applies to an OS option holding a `%`); `+` stays `+`.
pub fn decode_os_option(s: &str) -> Result<Cow<'_, str>, &'static str> {
    if !s.contains('%') {
        return Ok(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| (b as char).to_digit(16);
            let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) else {
                return Err("'%' must be followed by two hexadecimal digits");
            };
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| "the percent escapes do not decode to UTF-8")
}

/// Writes an OS option so that [`decode_os_option`] and the selector syntax
/// read it back: every byte outside `[A-Za-z0-9_.-]` is written `%XX`.
/// For `%`, `+`, `(`, `)` and `/` this is what containerd's `FormatAll`
/// writes; it writes other characters (a space, `é`) as they are, which its
/// own `Parse` then refuses, so ocipick escapes those too.
pub fn encode_os_option(s: &str) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    if s.bytes().all(plain) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if plain(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
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
///   `linux(+gpu)/amd64`. Version and features use `[A-Za-z0-9_.%-]`, `%XX`
///   escapes are decoded (`linux(+a%2Bb)` is the feature `a+b`), and no
///   feature may be empty (`linux(++gpu)`, `linux(+gpu+)` and
///   `linux(7.1+)` are refused), as containerd's `osRe` has it.
/// - the OS name uses `[A-Za-z0-9_-]` (no dot); the other parts use
///   `[A-Za-z0-9_.-]`; `*` wildcards are not supported.
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
            let option = |raw: &str| {
                decode_os_option(raw)
                    .map(|v| v.into_owned())
                    .map_err(|why| SelectorError::OsOption {
                        selector: selector.to_owned(),
                        part: raw.to_owned(),
                        why,
                    })
            };
            let mut it = detail.split('+');
            let version = option(it.next().unwrap_or(""))?;
            let mut feats: Vec<Cow<'static, str>> = Vec::new();
            for raw in it {
                if raw.is_empty() {
                    return Err(SelectorError::OsOption {
                        selector: selector.to_owned(),
                        part: detail.to_owned(),
                        why: "an OS feature is empty",
                    });
                }
                feats.push(Cow::Owned(option(raw)?));
            }
            (
                os,
                (!version.is_empty()).then_some(Cow::Owned(version)),
                feats,
            )
        }
        None => (parts[0], None, Vec::new()),
    };
    if !valid_os_name(os_word) {
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
                if !KNOWN_ARCH.contains(&&*a) || parts[0].contains('(') {
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
            ("arm64(+gpu)", Err(())),
            ("arm64()", Err(())),
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
            // containerd's osRe: no empty feature, no dot in the OS name.
            ("linux(++gpu)/amd64", Err(())),
            ("linux(+gpu+)/amd64", Err(())),
            ("linux(7.1+)/amd64", Err(())),
            ("lin.ux/amd64", Err(())),
            ("linux(+gpu)(+x)/amd64", Err(())),
            ("linux()/amd64", Ok("linux/amd64")),
            // Percent escapes are decoded, and written back escaped.
            ("linux(+a%2Bb)/amd64", Ok("linux(+a%2Bb)/amd64")),
            ("linux(+gp%75)/amd64", Ok("linux(+gpu)/amd64")),
            (
                "windows(10.0.17763%2E1)/amd64",
                Ok("windows(10.0.17763.1)/amd64"),
            ),
            ("linux(+%zz)/amd64", Err(())),
            ("linux(+%2)/amd64", Err(())),
            ("linux(+%ff)/amd64", Err(())),
            ("linux(+a%20b)/amd64", Ok("linux(+a%20b)/amd64")),
            ("linux(+%C3%A9)/amd64", Ok("linux(+%C3%A9)/amd64")),
        ];
        for (sel, want) in rows {
            let got = parse(sel, &host()).map(|p| p.to_string()).map_err(|_| ());
            assert_eq!(got, want.map(str::to_owned), "parse({sel:?})");
        }
    }
}
