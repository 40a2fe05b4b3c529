//! What a request asks for: the distribution API's read-side paths, and
//! which upstream registry answers it.

// A path component that follows the digest grammar is a digest reference;
// the registered algorithms' stricter rules are the upstream's to apply.
use ocipick::digest::follows_grammar;
use ocipick_registry::{valid_repository, valid_tag};

/// The kind of resource a `/v2/` path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'p> {
    /// `/v2/`: the API version check.
    Base,
    /// `/v2/NAME/manifests/REFERENCE` with a tag.
    ManifestByTag(&'p str),
    /// `/v2/NAME/manifests/REFERENCE` with a digest.
    ManifestByDigest(&'p str),
    /// `/v2/NAME/blobs/DIGEST`.
    Blob(&'p str),
    /// Any other read path under a repository (`tags/list`,
    /// `referrers/DIGEST`): passed through as it is.
    Other,
    /// `/v2/NAME/blobs/uploads/…`: the write side, which a mirror refuses.
    Upload,
    /// `/v2/_catalog`: registry-wide, passed through to the default upstream.
    Catalog,
}

/// A parsed `/v2/` path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'p> {
    /// The repository name as the client sent it (may start with an
    /// upstream's name, see [`pick_upstream`]).
    pub name: &'p str,
    /// The rest of the path after `NAME/`, e.g. `blobs/sha256:…`.
    pub rest: &'p str,
    /// What it names.
    pub resource: Resource<'p>,
}

/// Parses the path of a request (without its query).
///
/// `/v2/NAME/manifests/REF`, `/v2/NAME/blobs/DIGEST`, `/v2/NAME/blobs/uploads/…`,
/// `/v2/NAME/tags/list` and `/v2/NAME/referrers/DIGEST` are recognised by
/// their last components, so a repository may itself contain a component
/// named `manifests` or `blobs`. `None` for anything else.
pub fn parse(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Route {
            name: "",
            rest: "",
            resource: Resource::Base,
        });
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route {
            name: "",
            rest: "_catalog",
            resource: Resource::Catalog,
        });
    }
    // The name ends before the first of the known API words that is
    // followed by a valid tail; names cannot contain these tails.
    let comps: Vec<&str> = rest.split('/').collect();
    for (i, c) in comps.iter().enumerate().skip(1) {
        let tail = &comps[i..];
        let resource = match (*c, tail.len()) {
            ("manifests", 2) if follows_grammar(tail[1]) => Resource::ManifestByDigest(tail[1]),
            ("manifests", 2) if valid_tag(tail[1]) => Resource::ManifestByTag(tail[1]),
            ("blobs", n) if n >= 2 && tail[1] == "uploads" => Resource::Upload,
            ("blobs", 2) if follows_grammar(tail[1]) => Resource::Blob(tail[1]),
            ("tags", 2) if tail[1] == "list" => Resource::Other,
            ("referrers", 2) if follows_grammar(tail[1]) => Resource::Other,
            _ => continue,
        };
        let name_len = comps[..i].iter().map(|c| c.len() + 1).sum::<usize>() - 1;
        let name = &rest[..name_len];
        // A first component may name a registry (`/v2/HOST:PORT/REPO/…`,
        // see [`pick_upstream`]); the rest must be a repository name.
        let ok = match name.split_once('/') {
            Some((host, repo)) if host.contains(':') => valid_host(host) && valid_repository(repo),
            _ => valid_repository(name),
        };
        if !ok {
            return None;
        }
        return Some(Route {
            name,
            rest: &rest[name_len + 1..],
            resource,
        });
    }
    None
}

/// Whether `s` is `host:port` with a DNS name or IPv4 address and a port.
fn valid_host(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
}

/// Docker Hub's names: `docker.io`, and the hosts clients use for it.
fn same_registry(a: &str, b: &str) -> bool {
    let hub = |s: &str| {
        matches!(
            s,
            "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com"
        )
    };
    a.eq_ignore_ascii_case(b) || (hub(a) && hub(b))
}

/// Whether a repository's first component names a registry host rather
/// than a namespace: it has a dot or a port, or is `localhost`.
fn looks_like_host(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

/// Why no upstream answers a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoUpstream(pub String);

/// Chooses the upstream for a request and the repository name to ask it
/// for. In order:
///
/// 1. `ns` (containerd's `?ns=REGISTRY`, sent to mirrors): the upstream of
///    that name (`docker.io` and its API hosts are one registry); a
///    namespace this mirror does not serve is refused.
/// 2. A repository whose first component is an upstream's name
///    (`/v2/ghcr.io/org/app/…`, for `registries.conf` mirrors with a path
///    prefix): that upstream, and the rest of the name.
/// 3. Otherwise the first upstream, with the name as it is.
pub fn pick_upstream<'n>(
    upstreams: &[String],
    ns: Option<&str>,
    name: &'n str,
) -> Result<(usize, &'n str), NoUpstream> {
    if let Some(ns) = ns {
        // containerd sends the registry percent-encoded: `ns=host%3Aport`.
        let ns = &*percent_encoding::percent_decode_str(ns).decode_utf8_lossy();
        return match upstreams.iter().position(|u| same_registry(u, ns)) {
            Some(i) => Ok((i, name)),
            None => Err(NoUpstream(format!(
                "this mirror does not serve registry {ns:?} (it serves {})",
                upstreams.join(", ")
            ))),
        };
    }
    if let Some((first, rest)) = name.split_once('/') {
        if looks_like_host(first) {
            if let Some(i) = upstreams.iter().position(|u| same_registry(u, first)) {
                return Ok((i, rest));
            }
            if first.contains(':') {
                return Err(NoUpstream(format!(
                    "this mirror does not serve registry {first:?} (it serves {})",
                    upstreams.join(", ")
                )));
            }
        }
    }
    if upstreams.is_empty() {
        return Err(NoUpstream("no upstream registry is configured".into()));
    }
    Ok((0, name))
}

/// The value of `key` in a query string, and the query without it.
pub fn take_query_param<'q>(query: &'q str, key: &str) -> (Option<&'q str>, String) {
    let mut found = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((k, v)) if k == key => found = Some(v),
            _ if pair == key => found = Some(""),
            _ => kept.push(pair),
        }
    }
    (found, kept.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn paths() {
        let m = format!("/v2/library/alpine/manifests/{D}");
        let b = format!("/v2/a/blobs/{D}");
        let n = format!("/v2/org/manifests/blobs/{D}");
        let r = format!("/v2/a/b/referrers/{D}");
        // (path, name, resource) — None where the path is not an API path.
        let rows: Vec<(&str, Option<(&str, Resource<'_>)>)> = vec![
            ("/v2/", Some(("", Resource::Base))),
            ("/v2", Some(("", Resource::Base))),
            ("/v2/_catalog", Some(("", Resource::Catalog))),
            (
                "/v2/library/alpine/manifests/latest",
                Some(("library/alpine", Resource::ManifestByTag("latest"))),
            ),
            (&m, Some(("library/alpine", Resource::ManifestByDigest(D)))),
            (&b, Some(("a", Resource::Blob(D)))),
            // A repository may contain a component named like an API word.
            (&n, Some(("org/manifests", Resource::Blob(D)))),
            // A registry with a port as the first component.
            (
                "/v2/127.0.0.1:5000/demo/manifests/v1",
                Some(("127.0.0.1:5000/demo", Resource::ManifestByTag("v1"))),
            ),
            ("/v2/127.0.0.1:5000/manifests/v1", None),
            ("/v2/127.0.0.1:x/demo/manifests/v1", None),
            ("/v2/a/b:1/manifests/v1", None),
            ("/v2/a/blobs/uploads/", Some(("a", Resource::Upload))),
            ("/v2/a/blobs/uploads/123", Some(("a", Resource::Upload))),
            ("/v2/a/tags/list", Some(("a", Resource::Other))),
            (&r, Some(("a/b", Resource::Other))),
            // Not API paths, or invalid names.
            ("/metrics", None),
            ("/v2/manifests/latest", None),
            ("/v2/A/manifests/latest", None),
            ("/v2/a//b/manifests/latest", None),
            ("/v2/../x/manifests/latest", None),
            ("/v2/a/manifests/", None),
            ("/v2/a/blobs/notadigest", None),
            ("/v2/a/tags", None),
            ("/v2/a/manifests/-bad", None),
            ("/v2/a/manifests/a%2Fb", None),
            ("/v2/a/manifests/sha256:", None),
            ("/v2/a/manifests/SHA256:abc", None),
            ("/v2/a/blobs/sha256:ab/c", None),
        ];
        for (path, want) in rows {
            let got = parse(path).map(|r| (r.name, r.resource));
            assert_eq!(got, want, "{path}");
        }
        assert_eq!(parse(&b).unwrap().rest, format!("blobs/{D}"));
    }

    #[test]
    fn upstream_choice() {
        let ups = vec!["docker.io".to_owned(), "127.0.0.1:5000".to_owned()];
        // (ns, name) → (upstream index, name to ask for), or refused
        type Row<'a> = (Option<&'a str>, &'a str, Option<(usize, &'a str)>);
        let rows: Vec<Row<'_>> = vec![
            (None, "library/alpine", Some((0, "library/alpine"))),
            (
                Some("docker.io"),
                "library/alpine",
                Some((0, "library/alpine")),
            ),
            (
                Some("registry-1.docker.io"),
                "library/x",
                Some((0, "library/x")),
            ),
            (Some("127.0.0.1:5000"), "demo", Some((1, "demo"))),
            // As containerd sends it.
            (Some("127.0.0.1%3A5000"), "demo", Some((1, "demo"))),
            (Some("127.0.0.1%3a5000"), "demo", Some((1, "demo"))),
            (Some("ghcr.io%"), "demo", None),
            // A registry with a port as the first component.
            (None, "127.0.0.1:5000/a/b", Some((1, "a/b"))),
            (None, "127.0.0.1:6000/a", None),
            (Some("ghcr.io"), "org/app", None),
            (None, "127.0.0.1:5000/demo", Some((1, "demo"))),
            (
                None,
                "docker.io/library/alpine",
                Some((0, "library/alpine")),
            ),
            // A first component that is not a configured upstream is a
            // namespace of the default upstream.
            (None, "ghcr.io/org/app", Some((0, "ghcr.io/org/app"))),
        ];
        for (ns, name, want) in rows {
            let got = pick_upstream(&ups, ns, name).ok();
            assert_eq!(got, want, "{ns:?} {name}");
        }
    }

    #[test]
    fn query_params() {
        assert_eq!(
            take_query_param("ns=docker.io&n=10", "ns"),
            (Some("docker.io"), "n=10".to_owned())
        );
        assert_eq!(take_query_param("n=10", "ns"), (None, "n=10".to_owned()));
        assert_eq!(take_query_param("", "ns"), (None, String::new()));
    }
}
