//! Attaching an artifact (built by `ocipick::nfd::artifact`) to an image
//! without rebuilding it: in an OCI image layout (blobs written, the
//! artifact manifest listed in `index.json` with its `artifactType`, as
//! `ocipick compat validate-node DIR --subject` finds it), or in a
//! registry (blobs pushed, the manifest pushed by digest, and the
//! referrers tag schema index `sha256-<hex>` created or extended unless
//! the registry answered `OCI-Subject`, i.e. processed `subject` itself).
//!
//! ```
//! use ocipick::nfd::artifact;
//! use ocipick_registry::attach::{attach_layout, LayoutSubject};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
//! let image = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
//! let layout = ocipick_registry::Layout::open(dir.path(), 1 << 20)?;
//! let d = layout.write_blob(image)?;
//! std::fs::write(dir.path().join("index.json"), format!(
//!     r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json",
//!        "digest":"{d}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#,
//!     image.len()))?;
//! let spec = b"version: v1alpha1\ncompatibilities: []\n";
//! let attached = attach_layout(dir.path(), &LayoutSubject::Tag("v1".into()), |subject| {
//!     artifact::build(spec, subject, "2025-01-01T00:00:00Z", &[])
//! })?;
//! assert_eq!(attached.subject.digest, d);
//! let index = std::fs::read_to_string(dir.path().join("index.json"))?;
//! assert!(index.contains(attached.artifact.digest.as_str()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use ocipick::media_type::{self, Kind};
use ocipick::nfd::artifact::{self, Artifact, ArtifactError};
use ocipick::{Descriptor, Digest};

use crate::layout::REF_NAME;
use crate::source::Error;
use crate::{Client, Layout, Reference, SourceError};

/// The largest subject manifest read to learn its media type.
pub const MAX_SUBJECT_BYTES: u64 = 4 << 20;

/// Which manifest of a layout the artifact is attached to.
#[derive(Debug, Clone)]
pub enum LayoutSubject {
    /// The `index.json` entry with this tag.
    Tag(String),
    /// The manifest (or index) with this digest: an `index.json` entry,
    /// or any blob of the layout (a child of a nested index).
    Digest(Digest<'static>),
    /// The one `index.json` entry that is not an artifact.
    Only,
}

/// What was attached.
#[derive(Debug, Clone)]
pub struct Attached {
    /// The artifact.
    pub artifact: Artifact,
    /// The subject's descriptor (media type, digest, size).
    pub subject: Descriptor<'static>,
    /// Blobs (config, layer) written or pushed; those already present are
    /// not counted.
    pub blobs_written: usize,
    /// The referrers tag schema update, for a registry.
    pub tag_schema: Option<TagSchema>,
}

/// The referrers tag schema index, as attaching left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagSchema {
    /// `sha256-<hex>`.
    pub tag: String,
    /// What was done: `created`, `updated`, `unchanged` (the artifact was
    /// listed already) or `skipped` (the registry answered `OCI-Subject`).
    pub action: &'static str,
    /// Entries it lists now (0 when skipped).
    pub entries: usize,
}

fn invalid(m: impl Into<String>) -> Error {
    Error::Invalid(m.into())
}

fn artifact_error(e: ArtifactError) -> Error {
    invalid(e.to_string())
}

/// Writes the artifact `build` makes for the layout's subject into the
/// layout at `dir`: its config, layer and manifest blobs, then an
/// `index.json` entry for the manifest (media type, digest, size,
/// `artifactType`, no tag), appended unless one has its digest already.
/// Nothing is written when the subject cannot be found or `build` fails.
pub fn attach_layout(
    dir: &Path,
    which: &LayoutSubject,
    build: impl FnOnce(&Descriptor<'_>) -> Result<Artifact, ArtifactError>,
) -> Result<Attached, Error> {
    let (layout, top, index, subject) = open_with_subject(dir, which)?;
    let bad = |m: String| {
        Error::Source(SourceError::Layout {
            path: dir.join("index.json"),
            problem: m,
        })
    };
    let a = build(&subject).map_err(artifact_error)?;
    let mut written = 0;
    for blob in [&a.config, &a.layer] {
        let d = Digest::sha256_of(blob);
        if !layout.has_blob(&d) {
            written += 1;
        }
        layout.write_blob(blob)?;
    }
    layout.write_blob(&a.manifest)?;
    let mut doc = index;
    let list = doc
        .get_mut("manifests")
        .and_then(|m| m.as_array_mut())
        .expect("checked above");
    if !list
        .iter()
        .any(|d| d.get("digest").and_then(|d| d.as_str()) == Some(a.digest.as_str()))
    {
        list.push(serde_json::json!({
            "mediaType": media_type::OCI_MANIFEST,
            "digest": a.digest.as_str(),
            "size": a.manifest.len(),
            "artifactType": ocipick::nfd::ARTIFACT_TYPE,
        }));
        let mut out = serde_json::to_vec(&doc).map_err(|e| bad(e.to_string()))?;
        if top.ends_with(b"\n") {
            out.push(b'\n');
        }
        layout.write_index_json(&out)?;
    }
    Ok(Attached {
        artifact: a,
        subject,
        blobs_written: written,
        tag_schema: None,
    })
}

/// The descriptor of the manifest `which` names in the layout at `dir`
/// (what [`attach_layout`] attaches to), writing nothing.
pub fn find_layout_subject(
    dir: &Path,
    which: &LayoutSubject,
) -> Result<Descriptor<'static>, Error> {
    Ok(open_with_subject(dir, which)?.3)
}

type Opened = (Layout, Vec<u8>, serde_json::Value, Descriptor<'static>);

fn open_with_subject(dir: &Path, which: &LayoutSubject) -> Result<Opened, Error> {
    let layout = Layout::open(dir, MAX_SUBJECT_BYTES)?;
    let top = layout.index_json()?;
    let bad = |m: String| {
        Error::Source(SourceError::Layout {
            path: dir.join("index.json"),
            problem: m,
        })
    };
    let index: serde_json::Value =
        serde_json::from_slice(&top).map_err(|e| bad(format!("not JSON: {e}")))?;
    let entries = index
        .get("manifests")
        .and_then(|m| m.as_array())
        .ok_or_else(|| bad("no manifests list".into()))?;
    let subject = layout_subject(&layout, entries, which).map_err(|m| match m {
        Problem::Layout(m) => bad(m),
        Problem::Source(e) => Error::Source(e),
    })?;
    Ok((layout, top, index, subject))
}

enum Problem {
    Layout(String),
    Source(SourceError),
}

fn entry_descriptor(v: &serde_json::Value) -> Option<Descriptor<'static>> {
    let media = v.get("mediaType")?.as_str()?.to_owned();
    let digest = Digest::parse(v.get("digest")?.as_str()?.to_owned()).ok()?;
    let size = v.get("size")?.as_u64()?;
    Some(Descriptor::new(media, digest, size))
}

fn tags(entries: &[serde_json::Value]) -> String {
    let mut t: Vec<&str> = entries
        .iter()
        .filter_map(|d| d.get("annotations")?.get(REF_NAME)?.as_str())
        .collect();
    t.sort_unstable();
    t.dedup();
    if t.is_empty() {
        "the layout has no tagged entries".into()
    } else {
        format!("tags: {}", t.join(", "))
    }
}

fn layout_subject(
    layout: &Layout,
    entries: &[serde_json::Value],
    which: &LayoutSubject,
) -> Result<Descriptor<'static>, Problem> {
    let chosen = match which {
        LayoutSubject::Tag(tag) => {
            let hits: Vec<&serde_json::Value> = entries
                .iter()
                .filter(|d| {
                    d.get("annotations")
                        .and_then(|a| a.get(REF_NAME))
                        .and_then(|t| t.as_str())
                        == Some(tag)
                })
                .collect();
            match hits.as_slice() {
                [one] => *one,
                [] => {
                    return Err(Problem::Layout(format!(
                        "no entry is tagged {tag:?}; {}",
                        tags(entries)
                    )))
                }
                _ => {
                    return Err(Problem::Layout(format!(
                        "{} entries are tagged {tag:?}",
                        hits.len()
                    )))
                }
            }
        }
        LayoutSubject::Only => {
            let images: Vec<&serde_json::Value> = entries
                .iter()
                .filter(|d| d.get("artifactType").is_none())
                .collect();
            match images.as_slice() {
                [one] => *one,
                _ => {
                    return Err(Problem::Layout(format!(
                        "{} entries that are not artifacts: name the image with DIR:TAG or --subject DIGEST ({})",
                        images.len(),
                        tags(entries)
                    )))
                }
            }
        }
        LayoutSubject::Digest(d) => {
            match entries
                .iter()
                .find(|e| e.get("digest").and_then(|x| x.as_str()) == Some(d.as_str()))
            {
                Some(e) => e,
                None => return blob_subject(layout, d),
            }
        }
    };
    let desc = entry_descriptor(chosen).ok_or_else(|| {
        Problem::Layout(format!(
            "the entry {chosen} lacks a mediaType, digest or size"
        ))
    })?;
    if !layout.has_blob(&desc.digest) {
        return Err(Problem::Layout(format!(
            "the subject {} is listed but its blob is missing",
            desc.digest
        )));
    }
    Ok(desc)
}

/// A manifest of the layout that `index.json` does not list: its blob,
/// its media type from its own `mediaType` (or its shape).
fn blob_subject(layout: &Layout, d: &Digest<'static>) -> Result<Descriptor<'static>, Problem> {
    let path = layout
        .root()
        .join("blobs")
        .join(d.algorithm())
        .join(d.encoded());
    let size = std::fs::metadata(&path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .ok_or_else(|| Problem::Layout(format!("the layout has no manifest {d}")))?;
    if size > MAX_SUBJECT_BYTES {
        return Err(Problem::Layout(format!(
            "{d} is {size} bytes: not a manifest"
        )));
    }
    let bytes = layout
        .blob(&Descriptor::new(media_type::OCI_MANIFEST, d.clone(), size))
        .map_err(Problem::Source)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| Problem::Layout(format!("{d} is not a manifest (not JSON)")))?;
    let media = match v.get("mediaType").and_then(|m| m.as_str()) {
        Some(m) => m.to_owned(),
        None if v.get("manifests").is_some() => media_type::OCI_INDEX.to_owned(),
        None if v.get("layers").is_some() => media_type::OCI_MANIFEST.to_owned(),
        None => {
            return Err(Problem::Layout(format!(
                "{d} is not a manifest (no mediaType, manifests or layers)"
            )))
        }
    };
    Ok(Descriptor::new(media, d.clone(), size))
}

/// The descriptor of `image` (by tag or digest) as an artifact's subject:
/// one manifest GET; an image manifest or an index, else an error.
pub fn registry_subject(client: &Client, image: &Reference) -> Result<Descriptor<'static>, Error> {
    let f = client.fetch_manifest(image, &image.manifest_ref())?;
    if !matches!(
        media_type::kind(&f.media_type),
        Kind::ImageManifest | Kind::Index
    ) {
        return Err(invalid(format!(
            "{image}: {} is not an image manifest or index",
            f.media_type
        )));
    }
    let size = f.bytes.len() as u64;
    Ok(Descriptor::new(f.media_type, f.digest, size))
}

/// What attaching to `subject` would write, with nothing written (a dry
/// run): the artifact `build` makes, no blob written, no tag schema.
pub fn plan(
    subject: Descriptor<'static>,
    build: impl FnOnce(&Descriptor<'_>) -> Result<Artifact, ArtifactError>,
) -> Result<Attached, Error> {
    Ok(Attached {
        artifact: build(&subject).map_err(artifact_error)?,
        subject,
        blobs_written: 0,
        tag_schema: None,
    })
}

/// Attaches the artifact `build` makes for the manifest `image` names
/// (a tag or a digest of a repository) in its registry: one GET for the
/// subject, the config and layer blobs (a HEAD each, and an upload for
/// those missing), a PUT of the manifest by its digest, then, unless the
/// registry answered `OCI-Subject`, a GET of the tag schema index and a
/// PUT of it with the artifact added (none when it lists it already).
///
/// The tag schema update is read-modify-write: two attaches to one image
/// at the same moment may lose one entry (the distribution-spec has no
/// conditional PUT); attaching again adds it back.
pub fn attach_registry(
    client: &Client,
    image: &Reference,
    build: impl FnOnce(&Descriptor<'_>) -> Result<Artifact, ArtifactError>,
) -> Result<Attached, Error> {
    let subject = registry_subject(client, image)?;
    let a = build(&subject).map_err(artifact_error)?;
    let mut written = 0;
    for blob in [&a.config, &a.layer] {
        let (_, sent) = client.push_blob(image, blob)?;
        written += usize::from(sent);
    }
    let pushed = client.push_manifest(
        image,
        a.digest.as_str(),
        media_type::OCI_MANIFEST,
        &a.manifest,
    )?;
    if pushed.digest != a.digest {
        return Err(Error::Remote(format!(
            "{image}: the artifact was stored as {}, not {}",
            pushed.digest, a.digest
        )));
    }
    let tag = crate::referrers::tag_schema_tag(&subject.digest);
    let tag_schema = if pushed.oci_subject.is_some() {
        TagSchema {
            tag,
            action: "skipped",
            entries: 0,
        }
    } else {
        let existing = match client.fetch_manifest_answer(image, &tag)? {
            crate::ManifestAnswer::Manifest(m) => Some(m.bytes),
            crate::ManifestAnswer::Refused(r) if r.status == 404 => None,
            crate::ManifestAnswer::Refused(r) => return Err(Error::Registry(r.error)),
        };
        let new = artifact::add_to_referrers_index(existing.as_deref(), &a.referrer_descriptor())
            .map_err(|e| invalid(format!("{image}: {tag}: {e}")))?;
        let listed = new.as_deref().or(existing.as_deref()).unwrap_or_default();
        let entries = serde_json::from_slice::<serde_json::Value>(listed)
            .ok()
            .and_then(|v| v.get("manifests")?.as_array().map(Vec::len))
            .unwrap_or(0);
        let action = match (&existing, &new) {
            (_, None) => "unchanged",
            (Some(_), Some(_)) => "updated",
            (None, Some(_)) => "created",
        };
        if let Some(bytes) = &new {
            client.push_manifest(image, &tag, media_type::OCI_INDEX, bytes)?;
        }
        TagSchema {
            tag,
            action,
            entries,
        }
    };
    Ok(Attached {
        artifact: a,
        subject,
        blobs_written: written,
        tag_schema: Some(tag_schema),
    })
}
