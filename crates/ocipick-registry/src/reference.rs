//! Image references: `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`, with Docker's
//! defaults.

use std::fmt;
use std::str::FromStr;

use ocipick::Digest;

/// The registry Docker assumes when a reference names none.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API actually lives.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed image reference.
///
/// Rules, as Docker's:
/// - an optional `docker://` prefix is dropped;
/// - the first path component is the registry when it contains a `.` or a
///   `:`, or is `localhost`, and more components follow; otherwise the
///   registry is `docker.io`;
/// - on `docker.io`, a one-component repository gains `library/`;
/// - `:TAG` after the last `/` is a tag, `@algorithm:hex` a digest; with
///   neither, the tag is `latest`;
/// - repository components are lower-case `[a-z0-9]` runs joined by `.`,
///   `_`, `__` or dashes; tags are `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
///
/// ```
/// use ocipick_registry::Reference;
/// let r: Reference = "nginx".parse().unwrap();
/// assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
/// let r: Reference = "127.0.0.1:5000/demo:v1".parse().unwrap();
/// assert_eq!((r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()), ("127.0.0.1:5000", "demo", Some("v1")));
/// assert!("Not/Valid".parse::<Reference>().is_err());
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
/// `/`-separated components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub fn valid_repository(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.split('/').all(valid_component)
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

fn valid_registry(r: &str) -> bool {
    !r.is_empty()
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |problem: &str| ReferenceError {
            input: input.to_owned(),
            problem: problem.to_owned(),
        };
        let s = input.strip_prefix("docker://").unwrap_or(input);
        if s.is_empty() || s.len() > 4096 {
            return Err(err("empty or too long"));
        }
        let (name_tag, digest) = match s.rsplit_once('@') {
            Some((n, d)) => (
                n,
                Some(Digest::parse(d.to_owned()).map_err(|e| err(&e.to_string()))?),
            ),
            None => (s, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&name_tag[..at], Some(name_tag[at + 1..].to_owned()))
            }
            None => (name_tag, None),
        };
        if let Some(t) = &tag {
            if !valid_tag(t) {
                return Err(err("invalid tag"));
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        if !valid_registry(&registry) {
            return Err(err("invalid registry host"));
        }
        let registry = if registry == "index.docker.io" || registry == DOCKER_HUB_API {
            DOCKER_HUB.to_owned()
        } else {
            registry
        };
        if path.is_empty() || !path.split('/').all(valid_component) {
            return Err(err(
                "repository components are lower-case letters and digits joined by '.', '_' or '-'",
            ));
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_owned())
        } else {
            tag
        };
        Ok(Reference {
            registry,
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
