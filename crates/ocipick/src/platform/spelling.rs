//! The target platform as users of other tools write it: containerd's
//! selectors, plus the spellings of crane, oras and regctl.
//!
//! [`selector::parse`] is containerd's syntax and stays exactly that; this
//! module accepts, around it, the forms people bring from peer tools and
//! turns each into the same [`Platform`]:
//!
//! | spelling | from | example |
//! | --- | --- | --- |
//! | `os[(osversion+feature…)]/arch[/variant]`, one word | containerd, nerdctl, Docker, Podman | `windows(10.0.17763)/amd64` |
//! | `…:osversion` | crane, oras (go-containerregistry's `ParsePlatform`) | `windows/amd64:10.0.17763.1234` |
//! | `…,osver=V` (or `osversion=V`) | regctl | `windows/amd64,osver=10.0.17763.1234` |
//! | `local` | regctl | this machine's platform |

use std::borrow::Cow;

use super::selector::{self, SelectorError};
use super::Platform;

/// The word that names this machine's own platform (regctl's spelling).
pub const LOCAL: &str = "local";

/// Parses a target platform in any of the spellings of the [module
/// table](self), normalized. `host` is this machine's platform: what
/// `local` means, and what a one-word selector leaves out.
///
/// Rules, applied in this order:
/// - `local` alone is `host`, normalized; as the first of several parts
///   (`local/arm64`) it is the host's OS, as in regctl.
/// - Text after the first `,` is regctl's options, `key=value` separated
///   by commas: `osver` or `osversion` sets the OS version. Any other key
///   (regctl's experimental `prefer` included: use `--prefer`) is refused,
///   as is an option without `=` or with an empty value.
/// - Text after a `:` is crane's and oras's OS version; it must not be
///   empty, and holds no `/`, `,` or second `:`.
/// - What is left is a containerd selector ([`selector::parse`]).
/// - The OS version may be given once: in containerd's `(osversion)`, after
///   `:`, or as `osver=`. Two of them are refused even when they agree, so
///   that no spelling silently wins over another.
///
/// ```
/// use ocipick::platform::spelling::parse;
/// use ocipick::Platform;
/// let host = Platform::new("linux", "amd64", Some("v3"));
/// let crane = parse("windows/amd64:10.0.17763.1234", &host).unwrap();
/// let regctl = parse("windows/amd64,osver=10.0.17763.1234", &host).unwrap();
/// let containerd = parse("windows(10.0.17763.1234)/amd64", &host).unwrap();
/// assert_eq!(crane, containerd);
/// assert_eq!(regctl, containerd);
/// assert_eq!(parse("local", &host).unwrap().to_string(), "linux/amd64/v3");
/// ```
pub fn parse(text: &str, host: &Platform<'_>) -> Result<Platform<'static>, SelectorError> {
    if text == LOCAL {
        return Ok(host.normalized());
    }
    let (rest, options) = match text.split_once(',') {
        Some((rest, options)) => (rest, Some(options)),
        None => (text, None),
    };
    let mut versions: Vec<&str> = Vec::new();
    if let Some(options) = options {
        for option in options.split(',') {
            let bad = |why: &str| SelectorError::Option {
                selector: text.to_owned(),
                option: option.to_owned(),
                why: why.to_owned(),
            };
            let Some((key, value)) = option.split_once('=') else {
                return Err(bad("options are key=value (osver=VERSION)"));
            };
            let (key, value) = (key.trim(), value.trim());
            match key.to_ascii_lowercase().as_str() {
                "osver" | "osversion" if value.is_empty() => {
                    return Err(bad("the OS version is empty"))
                }
                "osver" | "osversion" => versions.push(value),
                "prefer" => return Err(bad("give preferences with --prefer")),
                _ => return Err(bad("the only option is osver=VERSION")),
            }
        }
    }
    let rest = match rest.split_once(':') {
        Some((rest, version)) => {
            if version.is_empty() || version.contains([':', '/']) {
                return Err(SelectorError::Option {
                    selector: text.to_owned(),
                    option: format!(":{version}"),
                    why: "after ':' comes one OS version (os/arch[/variant]:VERSION)".to_owned(),
                });
            }
            versions.push(version);
            rest
        }
        None => rest,
    };
    let local_os;
    let rest = match rest.strip_prefix("local/") {
        Some(arch) => {
            local_os = format!("{}/{arch}", host.normalized().os);
            &local_os
        }
        None => rest,
    };
    let mut platform = selector::parse(rest, host)?;
    let written_in_selector =
        rest.split('/').next().is_some_and(|os| os.contains('(')) && platform.os_version.is_some();
    if versions.len() + usize::from(written_in_selector) > 1 {
        return Err(SelectorError::Option {
            selector: text.to_owned(),
            option: versions.join(", "),
            why: "the OS version is given more than once".to_owned(),
        });
    }
    if let Some(version) = versions.first() {
        if let Some(bad) = version
            .bytes()
            .find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
        {
            return Err(SelectorError::Option {
                selector: text.to_owned(),
                option: (*version).to_owned(),
                why: format!("{:?} is not allowed in an OS version", bad as char),
            });
        }
        platform.os_version = Some(Cow::Owned((*version).to_owned()));
    }
    Ok(platform)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row: spellings that must all mean the same platform, written
    /// as containerd writes it.
    #[test]
    fn peer_spellings_mean_the_containerd_selector() {
        let host = Platform::new("linux", "arm64", Some("v8.2"));
        let rows: &[(&str, &[&str])] = &[
            (
                "windows(10.0.17763.1234)/amd64",
                &[
                    "windows/amd64:10.0.17763.1234",
                    "windows/amd64,osver=10.0.17763.1234",
                    "windows/amd64,osversion=10.0.17763.1234",
                    "windows/amd64,OSVER= 10.0.17763.1234 ",
                ],
            ),
            ("linux/arm/v6", &["linux/arm/v6", "linux/armel", "armel"]),
            ("linux/amd64/v3", &["linux/amd64/v3", "linux/x86_64/v3"]),
            (
                "linux(6.1)/arm64",
                &["linux/arm64:6.1", "linux/arm64/v8:6.1"],
            ),
            ("linux/arm64/v8.2", &["local", "linux", "local/arm64/v8.2"]),
            ("linux/s390x", &["local/s390x"]),
        ];
        for (containerd, spellings) in rows {
            let want = selector::parse(containerd, &host).unwrap();
            for s in *spellings {
                let got = parse(s, &host).unwrap_or_else(|e| panic!("{s}: {e}"));
                assert_eq!(got, want, "{s} means {containerd}");
            }
        }
    }

    #[test]
    fn refused_spellings() {
        let host = Platform::new("linux", "amd64", None);
        for s in [
            "windows/amd64:",
            "windows/amd64:1:2",
            "windows/amd64,osver",
            "windows/amd64,osver=",
            "windows/amd64,arch=arm64",
            "linux/arm64,prefer=com.example.gpu=x",
            "windows(10.0.17763)/amd64:10.0.17763",
            "windows/amd64:10.0.17763,osver=10.0.17763",
            "windows/amd64,osver=10.0 17763",
            "windows/amd64,osver=a/b",
            "Local",
            ":10.0",
            ",osver=1",
        ] {
            assert!(parse(s, &host).is_err(), "{s} is refused");
        }
    }
}
