//! Media types that matter for selection, and the RFC 6838 syntax check.

/// `application/vnd.oci.image.index.v1+json`
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.manifest.v1+json`
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.docker.distribution.manifest.list.v2+json`
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// `application/vnd.docker.distribution.manifest.v2+json`
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// `application/vnd.docker.distribution.manifest.v1+json` (legacy schema 1)
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// `application/vnd.docker.distribution.manifest.v1+prettyjws` (signed schema 1)
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// `application/vnd.oci.image.config.v1+json`
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// What a descriptor's media type says the referenced content is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An image manifest a runtime can run (OCI, Docker v2 schema 2).
    ImageManifest,
    /// A legacy Docker schema 1 manifest: runnable by old runtimes only.
    LegacyManifest,
    /// A nested image index or manifest list.
    Index,
    /// Anything else: layers, configs, artifacts, unknown types.
    Other,
}

/// Classifies a media type for selection.
///
/// ```
/// use ocipick::media_type::{kind, Kind};
/// assert_eq!(kind("application/vnd.oci.image.manifest.v1+json"), Kind::ImageManifest);
/// assert_eq!(kind("application/vnd.docker.distribution.manifest.list.v2+json"), Kind::Index);
/// assert_eq!(kind("application/vnd.oci.image.layer.v1.tar+gzip"), Kind::Other);
/// ```
pub fn kind(media_type: &str) -> Kind {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => Kind::ImageManifest,
        DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => Kind::LegacyManifest,
        OCI_INDEX | DOCKER_LIST => Kind::Index,
        _ => Kind::Other,
    }
}

fn restricted_name(s: &[u8]) -> bool {
    // RFC 6838 §4.2: restricted-name-first *126restricted-name-chars
    !s.is_empty()
        && s.len() <= 127
        && s[0].is_ascii_alphanumeric()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
}

/// Whether `s` is a syntactically valid media type (`type/subtype`, RFC 6838
/// restricted names, no parameters), as the image-spec requires of
/// descriptor `mediaType` values.
///
/// ```
/// assert!(ocipick::media_type::is_valid("application/vnd.oci.image.manifest.v1+json"));
/// assert!(!ocipick::media_type::is_valid("invalid"));
/// assert!(!ocipick::media_type::is_valid(""));
/// ```
pub fn is_valid(s: &str) -> bool {
    // The types selection knows are valid: skip the byte scan for them.
    if kind(s) != Kind::Other {
        return true;
    }
    match s.split_once('/') {
        Some((t, sub)) => restricted_name(t.as_bytes()) && restricted_name(sub.as_bytes()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_table() {
        for (s, ok) in [
            ("application/vnd.oci.image.index.v1+json", true),
            ("application/xml", true),
            ("x-completely-unknown", false),
            ("invalid", false),
            ("", false),
            ("application/", false),
            ("/json", false),
            ("application/json; charset=utf-8", false),
            ("application/a/b", false),
        ] {
            assert_eq!(is_valid(s), ok, "{s:?}");
        }
    }
}
