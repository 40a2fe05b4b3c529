//! Platforms: the model, containerd-compatible normalization, selector
//! parsing, and matching with containerd's ordering.
//!
//! One concept per file: [`normalize`] rewrites aliases,
//! [`selector`] parses `os[(osversion+feature)]/arch[/variant]`,
//! [`spelling`] accepts peer tools' spellings around it (`:osversion`,
//! `,osver=`, `local`),
//! [`matcher`] decides compatibility and closeness, [`windows`] holds the
//! `os.version` rules.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

pub mod matcher;
pub mod normalize;
pub mod selector;
pub mod spelling;
pub mod windows;

pub use matcher::{Fail, Matcher, Mismatch, PlatformRank};
pub use selector::SelectorError;

/// The `platform` object of a descriptor (image-spec `image-index.md`), or a
/// target platform to select for.
///
/// Strings borrow from the parsed document where possible; use
/// [`Platform::into_owned`] to keep one longer than its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Platform<'a> {
    /// CPU architecture, e.g. `amd64`, `arm64` (Go's `GOARCH` values).
    pub architecture: Cow<'a, str>,
    /// Operating system, e.g. `linux`, `windows` (Go's `GOOS` values).
    pub os: Cow<'a, str>,
    /// Operating system version, e.g. `10.0.17763.1040` for Windows.
    #[serde(rename = "os.version", skip_serializing_if = "Option::is_none")]
    pub os_version: Option<Cow<'a, str>>,
    /// Operating system features the image requires, e.g. `win32k`.
    #[serde(rename = "os.features", skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<Cow<'a, str>>,
    /// CPU variant, e.g. `v7` for ARM or `v3` for an x86-64 level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<Cow<'a, str>>,
    /// Docker manifest lists' CPU `features` (e.g. `sse4`). Kept for
    /// fidelity; containerd ignores it and so does matching.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Cow<'a, str>>,
}

impl<'a> Platform<'a> {
    /// A platform from OS, architecture and optional variant.
    ///
    /// ```
    /// let p = ocipick::Platform::new("linux", "arm", Some("v7"));
    /// assert_eq!(p.to_string(), "linux/arm/v7");
    /// ```
    pub fn new(
        os: impl Into<Cow<'a, str>>,
        architecture: impl Into<Cow<'a, str>>,
        variant: Option<&'a str>,
    ) -> Self {
        Platform {
            architecture: architecture.into(),
            os: os.into(),
            os_version: None,
            os_features: Vec::new(),
            variant: variant.filter(|v| !v.is_empty()).map(Cow::Borrowed),
            features: Vec::new(),
        }
    }

    /// The variant, or `""` when there is none.
    pub fn variant_str(&self) -> &str {
        self.variant.as_deref().unwrap_or("")
    }

    /// Detaches the platform from the document it was read from.
    pub fn into_owned(self) -> Platform<'static> {
        Platform {
            architecture: Cow::Owned(self.architecture.into_owned()),
            os: Cow::Owned(self.os.into_owned()),
            os_version: self.os_version.map(|v| Cow::Owned(v.into_owned())),
            os_features: self
                .os_features
                .into_iter()
                .map(|v| Cow::Owned(v.into_owned()))
                .collect(),
            variant: self.variant.map(|v| Cow::Owned(v.into_owned())),
            features: self
                .features
                .into_iter()
                .map(|v| Cow::Owned(v.into_owned()))
                .collect(),
        }
    }

    /// The containerd-normalized form of this platform (see
    /// [`normalize::normalize`]).
    pub fn normalized(&self) -> Platform<'static> {
        normalize::normalize(self)
    }
}

/// Formats as containerd's `FormatAll`: `os[(osversion+feature…)]/arch[/variant]`,
/// with `%`, `+`, `(`, `)`, `/` (and any other byte outside `[A-Za-z0-9_.-]`)
/// in the version and features percent-escaped so that [`selector::parse`]
/// reads the same platform back. An empty feature (possible in an index,
/// never in a selector) is left out, as `FormatAll` leaves it out
/// (`platforms_test.go`, `TestFormatAllSkipsEmptyOSFeatures`), so the text
/// always parses.
///
/// ```
/// use ocipick::Platform;
/// let p = Platform {
///     os_features: vec!["".into(), "gpu".into()],
///     ..Platform::new("linux", "amd64", None)
/// };
/// assert_eq!(p.to_string(), "linux(+gpu)/amd64");
/// ```
impl fmt::Display for Platform<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.os)?;
        let osv = self.os_version.as_deref().unwrap_or("");
        let mut features = self.os_features.iter().filter(|feat| !feat.is_empty());
        let mut first = features.next();
        if !osv.is_empty() || first.is_some() {
            f.write_str("(")?;
            f.write_str(&selector::encode_os_option(osv))?;
            while let Some(feat) = first {
                write!(f, "+{}", selector::encode_os_option(feat))?;
                first = features.next();
            }
            f.write_str(")")?;
        }
        write!(f, "/{}", self.architecture)?;
        if let Some(v) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}
