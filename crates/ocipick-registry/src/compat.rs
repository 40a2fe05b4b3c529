//! Finding a manifest's node-feature-discovery image compatibility
//! specification: the referrers of artifact type
//! [`ocipick::nfd::ARTIFACT_TYPE`] ([`crate::referrers`]), the newest by
//! `org.opencontainers.image.created` as NFD takes it, then that one
//! artifact's manifest and its one YAML layer
//! ([`ocipick::nfd::SPEC_MEDIA_TYPE`]) — nothing else is fetched.
//!
//! The newest is chosen from the listing's descriptors (the referrers API
//! copies each manifest's annotations there, and so should whoever
//! writes a tag-schema index); the chosen manifest must then say it is an
//! NFD artifact whose `subject` is the manifest asked about, or it is
//! refused. Costs, in a registry: the listing (1 request with the
//! referrers API, 2 without: its 404 and the tag-schema GET), and 2 more
//! (manifest, layer) when an artifact is found.
//!
//! ```
//! use ocipick::Digest;
//! use ocipick_registry::compat::spec_layer;
//! let subject = Digest::sha256_of(b"image");
//! let yaml = Digest::sha256_of(b"version: v1alpha1\n");
//! let m = format!(r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
//!   "artifactType":"application/vnd.nfd.image-compatibility.v1alpha1",
//!   "config":{{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"{e}"}},
//!   "layers":[{{"mediaType":"application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml",
//!               "size":18,"digest":"{yaml}"}}],
//!   "subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":5,"digest":"{subject}"}}}}"#,
//!   e = Digest::sha256_of(b"{}"));
//! assert_eq!(spec_layer(m.as_bytes(), &subject).unwrap().digest, yaml);
//! assert!(spec_layer(m.as_bytes(), &Digest::sha256_of(b"other")).is_err());
//! ```

use ocipick::nfd::{self, ARTIFACT_TYPE, CREATED, SPEC_MEDIA_TYPE};
use ocipick::{Descriptor, Digest};

use crate::client::{Client, RegistryError};
use crate::layout::Layout;
use crate::reference::Reference;
use crate::referrers::{self, Via};
use crate::SourceError;

/// The largest artifact manifest read.
pub const MAX_ARTIFACT_MANIFEST_BYTES: u64 = 64 * 1024;

/// The specification found for one subject.
#[derive(Debug, Clone)]
pub struct Found {
    /// The artifact manifest's digest.
    pub artifact: Digest<'static>,
    /// Its `org.opencontainers.image.created`, as listed.
    pub created: Option<String>,
    /// How many NFD artifacts refer to the subject (the newest is used).
    pub candidates: usize,
    /// The specification's YAML, checked against its digest.
    pub spec: Vec<u8>,
}

/// What a search for one subject found, and what it cost.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The newest artifact's specification, if there is one.
    pub found: Option<Found>,
    /// How the referrers were listed.
    pub via: Via,
    /// HTTP requests sent (0 in a layout).
    pub requests: u32,
}

/// The descriptor of an NFD artifact manifest's specification layer, after
/// checking that the manifest is an NFD artifact (`artifactType`, else its
/// config's media type) whose `subject` is `subject`.
pub fn spec_layer(manifest: &[u8], subject: &Digest<'_>) -> Result<Descriptor<'static>, String> {
    layer_of(manifest, Some(subject))
}

/// [`spec_layer`], with no `subject` for an artifact whatever it refers to.
fn layer_of(manifest: &[u8], subject: Option<&Digest<'_>>) -> Result<Descriptor<'static>, String> {
    let m: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| format!("not JSON: {e}"))?;
    let kind = m
        .get("artifactType")
        .or_else(|| m.pointer("/config/mediaType"))
        .and_then(|v| v.as_str());
    if kind != Some(ARTIFACT_TYPE) {
        return Err(format!(
            "its artifact type is {kind:?}, not {ARTIFACT_TYPE}"
        ));
    }
    let named = m.pointer("/subject/digest").and_then(|v| v.as_str());
    if let Some(subject) = subject.filter(|s| named != Some(s.as_str())) {
        return Err(format!(
            "its subject is {named:?}, not {subject}: listed as a referrer of a manifest it does not refer to"
        ));
    }
    let layer = m
        .get("layers")
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .find(|l| l.get("mediaType").and_then(|v| v.as_str()) == Some(SPEC_MEDIA_TYPE))
        .ok_or_else(|| format!("no layer of type {SPEC_MEDIA_TYPE}"))?;
    let digest = layer
        .get("digest")
        .and_then(|v| v.as_str())
        .ok_or("its layer has no digest")?;
    let digest = Digest::parse(digest.to_owned()).map_err(|e| format!("layer digest: {e}"))?;
    let size = layer
        .get("size")
        .and_then(|v| v.as_u64())
        .ok_or("its layer has no size")?;
    Ok(Descriptor::new(SPEC_MEDIA_TYPE, digest, size))
}

/// The newest of the listed NFD artifacts, and their number.
fn newest<'l>(listed: &'l [Descriptor<'static>]) -> Option<(&'l Descriptor<'static>, usize)> {
    let i = nfd::newest(
        listed
            .iter()
            .map(|d| d.annotations.get(CREATED).map(|c| c.as_ref())),
    )?;
    Some((&listed[i], listed.len()))
}

fn created(d: &Descriptor<'_>) -> Option<String> {
    d.annotations.get(CREATED).map(|c| c.to_string())
}

/// Finds `subject`'s newest NFD specification in `reference`'s repository.
/// No artifact is `found: None`; a registry failure, or a listed artifact
/// that is not what it is listed as, is an error.
pub fn discover(
    client: &Client,
    reference: &Reference,
    subject: &Digest<'_>,
) -> Result<Discovery, RegistryError> {
    let before = client.stats().requests;
    let listed = referrers::list(client, reference, subject, Some(ARTIFACT_TYPE))?;
    let invalid = |what: String, problem: String| RegistryError::Invalid {
        registry: reference.registry.clone(),
        repository: reference.repository.clone(),
        what,
        problem,
    };
    let found = match newest(&listed.descriptors) {
        None => None,
        Some((d, candidates)) => {
            let manifest =
                referrers::fetch_manifest(client, reference, d, MAX_ARTIFACT_MANIFEST_BYTES)?;
            let layer = spec_layer(&manifest, subject)
                .map_err(|e| invalid(format!("NFD artifact {}", d.digest), e))?;
            let spec = client.fetch_blob(reference, &layer, nfd::MAX_SPEC_BYTES as u64)?;
            Some(Found {
                artifact: d.digest.clone(),
                created: created(d),
                candidates,
                spec,
            })
        }
    };
    Ok(Discovery {
        found,
        via: listed.via,
        requests: client.stats().requests.saturating_sub(before),
    })
}

/// [`discover`] in an OCI image layout ([`referrers::in_layout`]); with
/// no `subject`, the newest NFD artifact listed in the layout whatever it
/// refers to ([`referrers::artifacts_in_layout`]).
pub fn discover_in_layout(
    layout: &Layout,
    subject: Option<&Digest<'_>>,
) -> Result<Discovery, SourceError> {
    let listed = match subject {
        Some(s) => referrers::in_layout(layout, s, Some(ARTIFACT_TYPE))?,
        None => referrers::artifacts_in_layout(layout, ARTIFACT_TYPE)?,
    };
    let found = match newest(&listed.descriptors) {
        None => None,
        Some((d, candidates)) => {
            let bad = |problem: String| SourceError::Layout {
                path: layout.root().to_owned(),
                problem: format!("NFD artifact {}: {problem}", d.digest),
            };
            if d.size > MAX_ARTIFACT_MANIFEST_BYTES {
                return Err(bad(format!(
                    "{} bytes, more than the {MAX_ARTIFACT_MANIFEST_BYTES} read",
                    d.size
                )));
            }
            let manifest = layout.blob(d)?;
            let layer = layer_of(&manifest, subject).map_err(bad)?;
            if layer.size > nfd::MAX_SPEC_BYTES as u64 {
                return Err(bad(format!(
                    "a specification of {} bytes, more than the {} read",
                    layer.size,
                    nfd::MAX_SPEC_BYTES
                )));
            }
            let spec = layout.blob(&layer)?;
            Some(Found {
                artifact: d.digest.clone(),
                created: created(d),
                candidates,
                spec,
            })
        }
    };
    Ok(Discovery {
        found,
        via: listed.via,
        requests: 0,
    })
}
