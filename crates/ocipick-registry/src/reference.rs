//! Image references: `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`, read as
//! distribution/reference's `ParseNormalizedNamed` reads them (what Docker,
//! containerd and Podman accept), with Docker's defaults.
//!
//! Where ocipick differs from distribution/reference, on purpose, is listed
//! in `docs/decisions.md` ("Image references"); the unit tests below carry
//! the upstream test tables row by row.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use ocipick::Digest;

/// The registry Docker assumes when a reference names none.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API actually lives.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Docker Hub's legacy name, read as [`DOCKER_HUB`].
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// The longest repository path (after `library/` is added), as
/// distribution/reference's `RepositoryNameTotalLengthMax`.
pub const MAX_REPOSITORY_LEN: usize = 255;

/// A parsed image reference.
///
/// Rules, as distribution/reference's (`ParseNormalizedNamed`):
/// - an optional `docker://` prefix is dropped (ocipick's addition, as
///   skopeo writes references);
/// - the first path component is the registry when more components follow
///   and it contains a `.` or a `:`, is `localhost`, or has an upper-case
///   letter (`LOCALDOMAIN/debian`, `Foo/bar`); otherwise the registry is
///   `docker.io`; `index.docker.io` is `docker.io`;
/// - a registry is a host (DNS-style labels `[A-Za-z0-9]`, inner `-`,
///   joined by `.`; or a bracketed IPv6 address) with an optional `:PORT`;
///   ocipick also requires the port to be 1–65535 and the bracketed
///   address to be an IPv6 address;
/// - on `docker.io`, a one-component repository gains `library/`;
/// - repository components are lower-case `[a-z0-9]` runs joined by `.`,
///   `_`, `__` or dashes, at most 255 characters in all;
/// - `:TAG` is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, `@DIGEST` a `sha256` or
///   `sha512` digest (the algorithms ocipick can verify); with neither, the
///   tag is `latest`;
/// - a bare 64-character lower-case hexadecimal string is refused, as
///   Docker refuses it: it is an image ID, not a name.
///
/// ```
/// use ocipick_registry::Reference;
/// let r: Reference = "nginx".parse().unwrap();
/// assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
/// let r: Reference = "127.0.0.1:5000/demo:v1".parse().unwrap();
/// assert_eq!((r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()), ("127.0.0.1:5000", "demo", Some("v1")));
/// let r: Reference = "LOCALDOMAIN/debian".parse().unwrap();
/// assert_eq!((r.registry.as_str(), r.repository.as_str()), ("LOCALDOMAIN", "debian"));
/// assert!("Not/Valid".parse::<Reference>().is_err());
/// assert!("127.0.0.1:99999/demo".parse::<Reference>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host (and port), e.g. `docker.io`, `ghcr.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// Repository path, e.g. `library/nginx`.
    pub repository: String,
    /// Tag, if any (`latest` when neither tag nor digest is given).
    pub tag: Option<String>,
    /// Digest, if pinned.
    pub digest: Option<Digest<'static>>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not an image reference: {problem}")]
pub struct ReferenceError {
    /// The string given.
    pub input: String,
    /// What is wrong.
    pub problem: String,
}

fn valid_component(c: &str) -> bool {
    // [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let dashes = sep.bytes().all(|x| x == b'-');
        if !(sep == "." || sep == "_" || sep == "__" || dashes) {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Whether `name` is a repository name of the distribution spec:
/// `/`-separated components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, at most
/// 255 characters.
pub fn valid_repository(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_REPOSITORY_LEN && name.split('/').all(valid_component)
}

/// Whether `t` is a tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

/// One DNS-style label of a registry host:
/// `[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]`.
fn valid_label(l: &str) -> bool {
    let b = l.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
}

/// Checks a registry host, `host[:port]`: what is wrong with it, if
/// anything. `host` is labels joined by `.` (which covers IPv4 addresses)
/// or `[IPv6]` (hex digits and colons, an address `Ipv6Addr` reads: no
/// zone, no dotted IPv4 tail); `port` is digits, 1–65535.
pub(crate) fn registry_host_problem(r: &str) -> Option<String> {
    let port = if let Some(inner) = r.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return Some(format!("registry host {r:?} opens '[' without closing it"));
        };
        if addr.is_empty()
            || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
            || addr.parse::<Ipv6Addr>().is_err()
        {
            return Some(format!(
                "registry host {r:?}: [{addr}] is not an IPv6 address: hex digits and colons, no zone"
            ));
        }
        if after.is_empty() {
            None
        } else if let Some(p) = after.strip_prefix(':') {
            Some(p)
        } else {
            return Some(format!(
                "registry host {r:?}: only ':' and a port may follow the ']'"
            ));
        }
    } else {
        let (host, port) = match r.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (r, None),
        };
        if !host.split('.').all(valid_label) {
            return Some(format!(
                "registry host {host:?}: a host name is labels of letters, digits and inner dashes, joined by single dots"
            ));
        }
        port
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Some(format!(
                "registry host {r:?}: the port {p:?} is not a number"
            ));
        }
        if !matches!(p.parse::<u32>(), Ok(1..=65535)) {
            return Some(format!(
                "registry host {r:?}: the port {p} is out of range 1-65535"
            ));
        }
    }
    None
}

/// Whether the first component of a name is a registry host, as
/// distribution/reference's `splitDockerDomain` decides: it contains a `.`
/// or a `:`, is `localhost`, or has an upper-case letter (repository
/// components never do).
fn names_a_registry(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.chars().any(char::is_uppercase)
}

/// A bare 64-character lower-case hexadecimal string: an image ID.
fn is_image_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |problem: String| ReferenceError {
            input: input.to_owned(),
            problem,
        };
        let s = input.strip_prefix("docker://").unwrap_or(input);
        if s.is_empty() {
            return Err(err("it is empty".to_owned()));
        }
        if is_image_id(s) {
            return Err(err(
                "a 64-character hexadecimal string is an image ID, not a repository name, \
                 and Docker refuses it too; add a tag or write docker.io/library/NAME to mean a repository"
                    .to_owned(),
            ));
        }
        // Neither names nor tags contain '@': what follows the first one is
        // the digest.
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => {
                let digest = Digest::parse(d.to_owned()).map_err(|e| err(e.to_string()))?;
                if !matches!(digest.algorithm(), "sha256" | "sha512") {
                    return Err(err(format!(
                        "digest algorithm {:?} cannot be verified: ocipick verifies sha256 and sha512",
                        digest.algorithm()
                    )));
                }
                (n, Some(digest))
            }
            None => (s, None),
        };
        let (registry, rest) = match name_tag.split_once('/') {
            Some((first, rest)) if names_a_registry(first) => {
                if let Some(p) = registry_host_problem(first) {
                    return Err(err(p));
                }
                (first, rest)
            }
            _ => (DOCKER_HUB, name_tag),
        };
        // Repository components have no ':', so the first one starts the tag.
        let (path, tag) = match rest.split_once(':') {
            Some((p, t)) => (p, Some(t)),
            None => (rest, None),
        };
        if path.is_empty() || !path.split('/').all(valid_component) {
            let lower = path.to_lowercase();
            return Err(err(
                if lower != path && lower.split('/').all(valid_component) {
                    format!("the repository name {path:?} must be lower-case")
                } else {
                    format!(
                    "the repository name {path:?} is not lower-case letters and digits joined by '.', '_', '__' or '-' in '/'-separated components"
                )
                },
            ));
        }
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(err(format!(
                    "the tag {t:?} is not [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
                )));
            }
        }
        let registry = match registry {
            DOCKER_HUB_LEGACY | DOCKER_HUB_API => DOCKER_HUB,
            r => r,
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        if repository.len() > MAX_REPOSITORY_LEN {
            return Err(err(format!(
                "the repository name is {} characters long, more than {MAX_REPOSITORY_LEN}",
                repository.len()
            )));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_owned()),
            (t, _) => t.map(str::to_owned),
        };
        Ok(Reference {
            registry: registry.to_owned(),
            repository,
            tag,
            digest,
        })
    }
}

impl Reference {
    /// The host the registry API is served from (`docker.io` is served
    /// from `registry-1.docker.io`).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// What to ask the manifests endpoint for: the digest when pinned, else
    /// the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// `REGISTRY/REPOSITORY@DIGEST`: the pinned form runtimes accept.
    pub fn pinned(&self, digest: &Digest<'_>) -> String {
        format!("{}/{}@{digest}", self.registry, self.repository)
    }

    /// The short form Docker prints (distribution/reference's
    /// `FamiliarString`): without `docker.io/`, and without `library/`
    /// when one component follows it. Unlike upstream, `docker.io/` stays
    /// when the repository's first component would read as a registry
    /// (`docker.io/a.b/c`), so the short form always means the same.
    ///
    /// ```
    /// use ocipick_registry::Reference;
    /// let r: Reference = "docker.io/library/busybox:1".parse().unwrap();
    /// assert_eq!(r.familiar(), "busybox:1");
    /// let r: Reference = "ghcr.io/a/b".parse().unwrap();
    /// assert_eq!(r.familiar(), "ghcr.io/a/b:latest");
    /// let r: Reference = "docker.io/a.b/c".parse().unwrap();
    /// assert_eq!(r.familiar(), "docker.io/a.b/c:latest");
    /// ```
    pub fn familiar(&self) -> String {
        let first = self.repository.split('/').next().unwrap_or_default();
        let mut out = if self.registry == DOCKER_HUB && !names_a_registry(first) {
            match self.repository.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest.to_owned(),
                _ => self.repository.clone(),
            }
        } else {
            format!("{}/{}", self.registry, self.repository)
        };
        if let Some(t) = &self.tag {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = &self.digest {
            out.push('@');
            out.push_str(d.as_str());
        }
        out
    }

    /// Whether the registry host is a loopback address (`localhost`,
    /// `127.0.0.0/8`, `[::1]`), where plain HTTP is tried after HTTPS fails.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(""),
            None => self.registry.split(':').next().unwrap_or(""),
        };
        host == "localhost"
            || host == "::1"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "reference_upstream.rs"]
mod upstream;

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f";

    /// Rows: input → registry, repository, tag, has digest (or error).
    #[test]
    fn parse_table() {
        type Row<'a> = (&'a str, Option<(&'a str, &'a str, Option<&'a str>, bool)>);
        let with_digest = format!("nginx@{D}");
        let tag_and_digest = format!("ghcr.io/a/b:v1@{D}");
        let rows: Vec<Row> = vec![
            (
                "nginx",
                Some(("docker.io", "library/nginx", Some("latest"), false)),
            ),
            (
                "nginx:1.25",
                Some(("docker.io", "library/nginx", Some("1.25"), false)),
            ),
            (
                "docker://nginx:1.25",
                Some(("docker.io", "library/nginx", Some("1.25"), false)),
            ),
            (
                "user/app",
                Some(("docker.io", "user/app", Some("latest"), false)),
            ),
            (
                "docker.io/nginx",
                Some(("docker.io", "library/nginx", Some("latest"), false)),
            ),
            (
                "index.docker.io/library/nginx",
                Some(("docker.io", "library/nginx", Some("latest"), false)),
            ),
            (
                "ghcr.io/org/app:v2",
                Some(("ghcr.io", "org/app", Some("v2"), false)),
            ),
            (
                "localhost/app",
                Some(("localhost", "app", Some("latest"), false)),
            ),
            (
                "localhost:5000/a/b/c:t",
                Some(("localhost:5000", "a/b/c", Some("t"), false)),
            ),
            (
                "127.0.0.1:5000/demo",
                Some(("127.0.0.1:5000", "demo", Some("latest"), false)),
            ),
            (
                "[::1]:5000/demo:v1",
                Some(("[::1]:5000", "demo", Some("v1"), false)),
            ),
            (
                &with_digest,
                Some(("docker.io", "library/nginx", None, true)),
            ),
            (&tag_and_digest, Some(("ghcr.io", "a/b", Some("v1"), true))),
            (
                "my_app/x-y__z.w",
                Some(("docker.io", "my_app/x-y__z.w", Some("latest"), false)),
            ),
            ("Nginx", None),
            ("nginx:", None),
            ("nginx:-bad", None),
            ("nginx@sha256:abc", None),
            ("a//b", None),
            ("-a/b", None),
            ("a_/b", None),
            ("", None),
            ("docker://", None),
            ("host:5000/", None),
            ("a b", None),
        ];
        for (input, want) in rows {
            let got = input
                .parse::<Reference>()
                .ok()
                .map(|r| (r.registry, r.repository, r.tag, r.digest.is_some()));
            let want =
                want.map(|(r, p, t, d)| (r.to_owned(), p.to_owned(), t.map(str::to_owned), d));
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn loopback_and_pinning() {
        for (r, lo) in [
            ("127.0.0.1:5000/a", true),
            ("127.9.9.9/a", true),
            ("localhost:1/a", true),
            ("[::1]:5000/a", true),
            ("ghcr.io/a", false),
            ("10.0.0.1:5000/a", false),
        ] {
            assert_eq!(r.parse::<Reference>().unwrap().is_loopback(), lo, "{r}");
        }
        let r: Reference = "nginx:1".parse().unwrap();
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let d = Digest::parse(D).unwrap();
        assert_eq!(r.pinned(&d), format!("docker.io/library/nginx@{D}"));
    }
}
