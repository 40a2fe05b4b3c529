//! The referrers of a manifest: artifacts (signatures, SBOMs, NFD
//! compatibility specifications…) whose manifest names it as `subject`.
//!
//! In a registry, [`list`] asks the distribution-spec referrers API
//! (`GET /v2/NAME/referrers/DIGEST[?artifactType=…]`, answered with an
//! image index of referrer descriptors, pages joined through `Link:
//! <…>; rel="next"`), and on a `404` (a registry without the API, such as
//! the CNCF distribution 2.8 registry) falls back to the referrers tag
//! schema: the index tagged [`tag_schema_tag`] (`sha256-<hex>`), which
//! whoever attaches an artifact keeps up to date. An `artifactType` filter
//! is sent to the API and applied again here whatever the registry says
//! (the `OCI-Filters-Applied` header only tells whether it already did).
//! In an OCI image layout, [`in_layout`] finds the manifests listed in
//! `index.json` (or in a tag-schema index tagged there) whose `subject` is
//! the digest.
//!
//! Reads are bounded while they happen (the client's manifest limit for
//! listings, a caller's limit for each artifact), listed manifests and
//! blobs are checked against their digests and sizes, and every request
//! (token requests and retries included) is counted in
//! [`Referrers::requests`].
//!
//! ```
//! use ocipick::Digest;
//! use ocipick_registry::referrers::{self, tag_schema_tag};
//!
//! let subject = Digest::sha256_of(b"{}");
//! assert_eq!(tag_schema_tag(&subject), format!("sha256-{}", subject.encoded()));
//!
//! // A listing (an API answer or a tag-schema index) filtered by type.
//! let listing = format!(r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
//!   "manifests":[
//!     {{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"digest":"{a}",
//!       "artifactType":"application/vnd.nfd.image-compatibility.v1alpha1"}},
//!     {{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":20,"digest":"{b}",
//!       "artifactType":"application/spdx+json"}}]}}"#,
//!   a = Digest::sha256_of(b"a"), b = Digest::sha256_of(b"b"));
//! let found = referrers::parse_listing(listing.as_bytes(),
//!     Some("application/vnd.nfd.image-compatibility.v1alpha1"))?;
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].size, 10);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeSet;
use std::io::Read;

use ocipick::{media_type, Descriptor, Digest, Index};

use crate::client::{Client, ForwardMethod, RegistryError};
use crate::layout::{Layout, REF_NAME};
use crate::reference::Reference;
use crate::SourceError;

/// The most pages of a referrers API answer followed.
pub const MAX_PAGES: usize = 16;
/// The most referrer descriptors kept from one listing (all pages).
pub const MAX_REFERRERS: usize = 4096;

/// How the referrers were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Via {
    /// The referrers API answered.
    Api {
        /// Whether it said (`OCI-Filters-Applied: artifactType`) that it
        /// filtered by artifact type itself.
        filtered: bool,
        /// Pages read.
        pages: usize,
    },
    /// The API answered 404; the tag-schema index was asked for.
    TagSchema {
        /// Whether the tag existed.
        found: bool,
    },
    /// An OCI image layout's `index.json`.
    Layout,
}

/// The referrers of one subject.
#[derive(Debug, Clone)]
pub struct Referrers {
    /// Their descriptors, as listed (filtered by artifact type if asked).
    pub descriptors: Vec<Descriptor<'static>>,
    /// How they were found.
    pub via: Via,
    /// HTTP requests the listing sent.
    pub requests: u32,
}

/// The tag the referrers tag schema stores `subject`'s referrers under:
/// `<alg>-<ref>`, the algorithm (at most 32 characters) and the encoded
/// digest (at most 64), characters a tag cannot hold replaced by `-`.
pub fn tag_schema_tag(subject: &Digest<'_>) -> String {
    let clean = |s: &str, max: usize| -> String {
        s.chars()
            .take(max)
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!(
        "{}-{}",
        clean(subject.algorithm(), 32),
        clean(subject.encoded(), 64)
    )
}

/// The referrer descriptors of a listing (an image index: a referrers API
/// answer or a tag-schema index), those of `artifact_type` when given.
/// An error when it is not a valid image index.
pub fn parse_listing(
    bytes: &[u8],
    artifact_type: Option<&str>,
) -> Result<Vec<Descriptor<'static>>, String> {
    let index = Index::parse(bytes).map_err(|e| format!("not an image index: {e}"))?;
    Ok(index
        .into_owned()
        .manifests
        .into_iter()
        .filter(|d| artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t)))
        .collect())
}

/// The path (after `/v2/NAME/`) of a `Link: <URL>; rel="next"` header, if
/// it points to the same repository's referrers (relative, or absolute on
/// the same host); other links are not followed.
fn next_page(link: &str, reference: &Reference) -> Option<String> {
    for part in link.split(',') {
        let part = part.trim();
        let (target, params) = part.strip_prefix('<')?.split_once('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        if !is_next {
            continue;
        }
        let path = match target.split_once("://") {
            Some((_, rest)) => {
                let (host, path) = rest.split_at(rest.find('/')?);
                if host != reference.api_host() {
                    return None;
                }
                path
            }
            None => target,
        };
        let prefix = format!("/v2/{}/", reference.repository);
        let rest = path.strip_prefix(&prefix)?;
        return rest.starts_with("referrers/").then(|| rest.to_owned());
    }
    None
}

/// Reads at most `limit` bytes of a body; an error when there is more.
fn read_bounded(r: impl Read, limit: u64, what: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    r.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{what}: reading the body: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("{what}: body exceeds the {limit}-byte limit"));
    }
    Ok(bytes)
}

fn invalid(reference: &Reference, what: &str, problem: String) -> RegistryError {
    RegistryError::Invalid {
        registry: reference.registry.clone(),
        repository: reference.repository.clone(),
        what: what.to_owned(),
        problem,
    }
}

fn status_error(reference: &Reference, what: &str, status: u16) -> RegistryError {
    RegistryError::Status {
        registry: reference.registry.clone(),
        repository: reference.repository.clone(),
        what: what.to_owned(),
        status,
        detail: String::new(),
    }
}

/// Lists the referrers of `subject` in `reference`'s repository (its tag
/// or digest are not used), of `artifact_type` when given: the referrers
/// API, and the tag schema when the API answers 404. No referrers (no API
/// answer lists any, or no tag-schema tag) is an empty list, not an error;
/// other refusals and malformed answers are errors.
///
/// Costs one request when the API answers in one page; on a registry
/// without it two (the API's 404, the tag's GET) the first time and one
/// (the tag's GET) after that, since the client remembers the 404; plus
/// any token requests.
pub fn list(
    client: &Client,
    reference: &Reference,
    subject: &Digest<'_>,
    artifact_type: Option<&str>,
) -> Result<Referrers, RegistryError> {
    let before = client.stats().requests;
    if client.lacks_referrers_api(&reference.registry) {
        return tag_schema(client, reference, subject, artifact_type, before);
    }
    let limit = client.max_bytes();
    let what = format!("referrers of {subject}");
    let mut path = format!("referrers/{subject}");
    if let Some(t) = artifact_type {
        path.push_str(&format!("?artifactType={}", crate::client::encode(t)));
    }
    let accept = [("Accept", media_type::OCI_INDEX)];
    let mut descriptors: Vec<Descriptor<'static>> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut filtered = true;
    let mut pages = 0;
    loop {
        let mut resp = client.forward(reference, ForwardMethod::Get, &path, &accept)?;
        let status = resp.status().as_u16();
        if status == 404 && pages == 0 {
            client.note_no_referrers_api(&reference.registry);
            return tag_schema(client, reference, subject, artifact_type, before);
        }
        if status != 200 {
            return Err(status_error(reference, &what, status));
        }
        pages += 1;
        let applied = resp
            .headers()
            .get_all("oci-filters-applied")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|f| f.trim() == "artifactType");
        filtered &= applied;
        let link = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_bounded(resp.body_mut().as_reader(), limit, &what)
            .map_err(|e| invalid(reference, &what, e))?;
        let page = parse_listing(&body, artifact_type).map_err(|e| invalid(reference, &what, e))?;
        for d in page {
            if seen.insert(d.digest.to_string()) {
                descriptors.push(d);
            }
        }
        if descriptors.len() > MAX_REFERRERS {
            return Err(invalid(
                reference,
                &what,
                format!("more than {MAX_REFERRERS} referrers"),
            ));
        }
        match link.as_deref().and_then(|l| next_page(l, reference)) {
            Some(next) if pages < MAX_PAGES => path = next,
            Some(_) => {
                return Err(invalid(
                    reference,
                    &what,
                    format!("more than {MAX_PAGES} pages"),
                ))
            }
            None => break,
        }
    }
    Ok(Referrers {
        descriptors,
        via: Via::Api {
            filtered: artifact_type.is_some() && filtered,
            pages,
        },
        requests: client.stats().requests.saturating_sub(before),
    })
}

/// The tag-schema half of [`list`].
fn tag_schema(
    client: &Client,
    reference: &Reference,
    subject: &Digest<'_>,
    artifact_type: Option<&str>,
    before: u32,
) -> Result<Referrers, RegistryError> {
    let tag = tag_schema_tag(subject);
    let what = format!("referrers tag {tag}");
    let answer = client.fetch_manifest_answer(reference, &tag)?;
    let (descriptors, found) = match answer {
        crate::client::ManifestAnswer::Manifest(f) => {
            let d =
                parse_listing(&f.bytes, artifact_type).map_err(|e| invalid(reference, &what, e))?;
            if d.len() > MAX_REFERRERS {
                return Err(invalid(
                    reference,
                    &what,
                    format!("more than {MAX_REFERRERS} referrers"),
                ));
            }
            (d, true)
        }
        crate::client::ManifestAnswer::Refused(r) if r.status == 404 => (Vec::new(), false),
        crate::client::ManifestAnswer::Refused(r) => return Err(r.error),
    };
    Ok(Referrers {
        descriptors,
        via: Via::TagSchema { found },
        requests: client.stats().requests.saturating_sub(before),
    })
}

/// GETs a listed referrer's manifest by digest: at most `limit` bytes (its
/// declared size is checked first), its digest and size verified.
pub fn fetch_manifest(
    client: &Client,
    reference: &Reference,
    d: &Descriptor<'_>,
    limit: u64,
) -> Result<Vec<u8>, RegistryError> {
    let what = format!("manifest {}", d.digest);
    if d.size > limit {
        return Err(invalid(
            reference,
            &what,
            format!("{} bytes listed, more than the {limit} read", d.size),
        ));
    }
    let f = client.fetch_manifest(reference, d.digest.as_str())?;
    if f.bytes.len() as u64 != d.size {
        return Err(invalid(
            reference,
            &what,
            format!("{} bytes, its descriptor says {}", f.bytes.len(), d.size),
        ));
    }
    Ok(f.bytes)
}

/// The referrers of `subject` in an OCI image layout, of `artifact_type`
/// when given: the image manifests listed in `index.json` whose `subject`
/// is `subject`, and the entries of a tag-schema index tagged
/// [`tag_schema_tag`] there (each only once). Each descriptor carries the
/// manifest's artifact type (its `artifactType`, else its config's media
/// type, as the referrers API reports it) and its annotations.
///
/// ```
/// use ocipick::Digest;
/// use ocipick_registry::{referrers, Layout};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
/// let layout = Layout::open(dir.path(), 1 << 20)?;
/// let subject = Digest::sha256_of(b"image");
/// let artifact = format!(r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
///   "artifactType":"application/vnd.nfd.image-compatibility.v1alpha1",
///   "config":{{"mediaType":"application/vnd.oci.empty.v1+json","size":2,
///     "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}},
///   "layers":[],
///   "subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":5,"digest":"{subject}"}},
///   "annotations":{{"org.opencontainers.image.created":"2026-01-01T00:00:00Z"}}}}"#);
/// let d = layout.write_blob(artifact.as_bytes())?;
/// std::fs::write(dir.path().join("index.json"), format!(r#"{{"schemaVersion":2,"manifests":[
///   {{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":{},"digest":"{d}"}}]}}"#,
///   artifact.len()))?;
///
/// let found = referrers::in_layout(&layout, &subject, None)?;
/// assert_eq!(found.descriptors.len(), 1);
/// assert_eq!(found.descriptors[0].artifact_type.as_deref(),
///            Some("application/vnd.nfd.image-compatibility.v1alpha1"));
/// assert!(referrers::in_layout(&layout, &Digest::sha256_of(b"other"), None)?.descriptors.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn in_layout(
    layout: &Layout,
    subject: &Digest<'_>,
    artifact_type: Option<&str>,
) -> Result<Referrers, SourceError> {
    scan_layout(layout, Some(subject), artifact_type)
}

/// The manifests of `artifact_type` listed in a layout's `index.json`,
/// whatever their `subject` (as [`in_layout`] describes them; no
/// tag-schema index is read, since it names one subject).
pub fn artifacts_in_layout(layout: &Layout, artifact_type: &str) -> Result<Referrers, SourceError> {
    scan_layout(layout, None, Some(artifact_type))
}

/// [`in_layout`], or with no `subject` [`artifacts_in_layout`].
fn scan_layout(
    layout: &Layout,
    subject: Option<&Digest<'_>>,
    artifact_type: Option<&str>,
) -> Result<Referrers, SourceError> {
    let bad = |problem: String| SourceError::Layout {
        path: layout.root().to_owned(),
        problem,
    };
    let index_bytes = layout.index_json()?;
    let index = Index::parse(&index_bytes).map_err(|err| SourceError::Index {
        path: layout.root().join("index.json"),
        err,
    })?;
    let tag = subject.map(tag_schema_tag);
    let mut out: Vec<Descriptor<'static>> = Vec::new();
    let mut seen = BTreeSet::new();
    for entry in &index.manifests {
        let kind = entry.media_type.as_ref();
        if kind == media_type::OCI_INDEX
            && tag.is_some()
            && entry.annotations.get(REF_NAME).map(|v| v.as_ref()) == tag.as_deref()
        {
            let bytes = layout.blob(entry)?;
            let listed = parse_listing(&bytes, artifact_type).map_err(|e| {
                bad(format!(
                    "tag-schema index {}: {e}",
                    tag.as_deref().unwrap_or("")
                ))
            })?;
            for d in listed {
                if seen.insert(d.digest.to_string()) {
                    out.push(d);
                }
            }
            continue;
        }
        if kind != media_type::OCI_MANIFEST {
            continue;
        }
        if let (Some(t), Some(listed)) = (artifact_type, entry.artifact_type.as_deref()) {
            if t != listed {
                continue;
            }
        }
        let bytes = layout.blob(entry)?;
        let m: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("manifest {} is not JSON: {e}", entry.digest)))?;
        if subject.is_some_and(|s| {
            m.pointer("/subject/digest").and_then(|v| v.as_str()) != Some(s.as_str())
        }) {
            continue;
        }
        let kind_of = m
            .get("artifactType")
            .or_else(|| m.pointer("/config/mediaType"))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        if artifact_type.is_some_and(|t| kind_of.as_deref() != Some(t)) {
            continue;
        }
        if !seen.insert(entry.digest.to_string()) {
            continue;
        }
        let mut d = Descriptor::new(
            media_type::OCI_MANIFEST,
            entry.digest.clone().into_owned(),
            entry.size,
        );
        d.artifact_type = kind_of.map(Into::into);
        if let Some(a) = m.get("annotations").and_then(|a| a.as_object()) {
            for (k, v) in a {
                if let Some(v) = v.as_str() {
                    d.annotations.insert(k.clone().into(), v.to_owned().into());
                }
            }
        }
        out.push(d);
        if out.len() > MAX_REFERRERS {
            return Err(bad(format!("more than {MAX_REFERRERS} referrers")));
        }
    }
    Ok(Referrers {
        descriptors: out,
        via: Via::Layout,
        requests: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        let d = Digest::sha256_of(b"x");
        assert_eq!(tag_schema_tag(&d), format!("sha256-{}", d.encoded()));
        let long = Digest::parse(format!("sha512:{}", "a".repeat(128))).unwrap();
        assert_eq!(tag_schema_tag(&long), format!("sha512-{}", "a".repeat(64)));
    }

    #[test]
    fn links() {
        let r: Reference = "127.0.0.1:5000/team/app:v1".parse().unwrap();
        let next = |l: &str| next_page(l, &r);
        assert_eq!(
            next(r#"</v2/team/app/referrers/sha256:ab?n=1&last=x>; rel="next""#).as_deref(),
            Some("referrers/sha256:ab?n=1&last=x")
        );
        assert_eq!(
            next(r#"<http://127.0.0.1:5000/v2/team/app/referrers/sha256:ab?p=2>; rel=next"#)
                .as_deref(),
            Some("referrers/sha256:ab?p=2")
        );
        assert_eq!(
            next(r#"<http://evil.example/v2/team/app/referrers/x>; rel="next""#),
            None
        );
        assert_eq!(next(r#"</v2/other/referrers/x>; rel="next""#), None);
        assert_eq!(next(r#"</v2/team/app/blobs/x>; rel="next""#), None);
        assert_eq!(next(r#"</v2/team/app/referrers/x>; rel="prev""#), None);
    }

    #[test]
    fn listings() {
        assert!(parse_listing(b"{}", None).is_err());
        assert!(
            parse_listing(b"{\"schemaVersion\":2,\"manifests\":[]}", None)
                .unwrap()
                .is_empty()
        );
    }
}
