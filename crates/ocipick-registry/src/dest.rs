//! Where an edited index is written: a file (atomically), an OCI image
//! layout (a new blob, then the tag moved in `index.json`, or `index.json`
//! itself rewritten), or a registry (pushed by tag, once its child
//! manifests are known to be there).
//!
//! Nothing is written until every check passed: a layout or repository
//! that lacks one of the index's child manifests is refused first.
//!
//! ```
//! use ocipick_registry::dest::{Dest, NewIndex};
//! use ocipick::Digest;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("new.json");
//! let bytes = br#"{"schemaVersion":2,"manifests":[]}"#;
//! let digest = Digest::sha256_of(bytes);
//! let dest = Dest::parse(path.to_str().unwrap())?;
//! let index = NewIndex {
//!     bytes,
//!     media_type: ocipick::media_type::OCI_INDEX,
//!     digest: &digest,
//!     children: &[],
//! };
//! let report = dest.write(&index, None, 1 << 20, None)?;
//! assert!(report.starts_with("wrote "));
//! assert_eq!(std::fs::read(&path)?, bytes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use ocipick::{Digest, Index};

use crate::source::{Error, Source};
use crate::{Client, ClientOptions, Layout, LayoutTarget, Reference, SourceError};

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Where the new index goes.
#[derive(Debug, Clone)]
pub enum Dest {
    /// A file, replaced atomically.
    File(PathBuf),
    /// An OCI image layout directory, with the tag to move.
    Layout(PathBuf, Option<String>),
    /// A registry repository and tag.
    Registry(Reference),
}

/// The index to write.
#[derive(Debug, Clone, Copy)]
pub struct NewIndex<'a> {
    /// Its exact bytes.
    pub bytes: &'a [u8],
    /// Its media type (for the layout's descriptor and the push).
    pub media_type: &'a str,
    /// The digest of `bytes`.
    pub digest: &'a Digest<'a>,
    /// The digests of its child manifests, which the destination must
    /// already hold (layouts, registries).
    pub children: &'a [String],
}

fn invalid(m: impl Into<String>) -> Error {
    Error::Invalid(m.into())
}

/// Archives are read, never rewritten.
pub fn archive_not_written(file: &Path) -> Error {
    invalid(format!(
        "{}: annotate does not rewrite oci-archive files; name a file or a layout directory with --to, or use --dry-run",
        file.display()
    ))
}

fn looks_like_new_file(s: &str) -> bool {
    s.ends_with(".json") || s.starts_with('/') || s.starts_with("./") || s.starts_with("../")
}

impl Dest {
    /// Reads a destination's spelling, as [`Source::parse`] reads a
    /// source's; a path that does not exist yet is a new file when it ends
    /// in `.json` or starts with `/`, `./` or `../`. Standard input and
    /// archives are refused.
    pub fn parse(s: &str) -> Result<Dest, Error> {
        if s == "-" {
            return Err(invalid(
                "--to -: standard output is not a destination (use --dry-run)",
            ));
        }
        let prefixed = ["docker://", "oci:", "ocidir://", "oci-archive:"]
            .iter()
            .any(|p| s.starts_with(p));
        if !prefixed && !Path::new(s).exists() {
            let is_layout_tag = s
                .rsplit_once(':')
                .is_some_and(|(dir, _)| Path::new(dir).is_dir());
            if !is_layout_tag && looks_like_new_file(s) {
                return Ok(Dest::File(PathBuf::from(s)));
            }
        }
        match Source::parse(s, None)? {
            Source::Stdin => Err(invalid("standard input is not a destination")),
            Source::File(p) => Ok(Dest::File(p)),
            Source::Layout(d, t) => Ok(Dest::Layout(d, t)),
            Source::Archive(f, _) => Err(archive_not_written(&f)),
            Source::Registry(r) => Ok(Dest::Registry(r)),
        }
    }

    /// Writes `index` and says what was written (`wrote FILE`, `pushed
    /// REPO:TAG`…). A registry destination uses `client` (else one with
    /// default options); `source_layout` is the layout directory the index
    /// was read from as its `index.json`, the one case where a layout's
    /// `index.json` may be rewritten whole.
    pub fn write(
        &self,
        index: &NewIndex<'_>,
        client: Option<&Client>,
        max_index: u64,
        source_layout: Option<&Path>,
    ) -> Result<String, Error> {
        let NewIndex {
            bytes,
            media_type,
            digest: new_digest,
            children,
        } = *index;
        match self {
            Dest::File(p) => {
                Layout::write_atomically(p, bytes).map_err(|e| invalid(format!("writing {e}")))?;
                Ok(format!("wrote {}", p.display()))
            }
            Dest::Layout(dir, tag) => {
                let layout = Layout::open(dir, max_index)?;
                let missing: Vec<&String> = children
                    .iter()
                    .filter(|d| Digest::parse(d.as_str()).map_or(true, |d| !layout.has_blob(&d)))
                    .collect();
                if !missing.is_empty() {
                    return Err(invalid(format!(
                        "{}: the layout lacks {} of the index's child manifests: {}; copy them into blobs/ first",
                        dir.display(),
                        missing.len(),
                        join(&missing)
                    )));
                }
                let top = layout.index_json()?;
                let top_index = Index::parse(&top).map_err(|err| SourceError::Index {
                    path: dir.join("index.json"),
                    err,
                })?;
                let target = match tag {
                    Some(t) => Some(t.clone()),
                    None => match layout.resolve(&top_index, None)? {
                        LayoutTarget::TopIndex => None,
                        LayoutTarget::Entry(d) => match d.annotations.get(REF_NAME) {
                            Some(t) => Some(t.to_string()),
                            None => {
                                return Err(invalid(format!(
                                    "{}: its only entry has no tag; name one: {}:TAG",
                                    dir.display(),
                                    dir.display()
                                )))
                            }
                        },
                    },
                };
                match target {
                    Some(t) => {
                        layout.write_blob(bytes)?;
                        layout.retag(&t, media_type, new_digest, bytes.len() as u64)?;
                        Ok(format!(
                            "wrote {}/blobs/{}/{} and tagged it {t:?} in {}/index.json",
                            dir.display(),
                            new_digest.algorithm(),
                            new_digest.encoded(),
                            dir.display()
                        ))
                    }
                    None => {
                        // index.json is itself the index: it is rewritten
                        // whole (only when it is what was edited).
                        let same = source_layout
                            .is_some_and(|s| s.canonicalize().ok() == dir.canonicalize().ok());
                        if !same {
                            return Err(invalid(format!(
                                "{}: index.json is a multi-platform index of its own; name a tag to write to: {}:TAG",
                                dir.display(),
                                dir.display()
                            )));
                        }
                        layout.write_index_json(bytes)?;
                        Ok(format!("rewrote {}/index.json", dir.display()))
                    }
                }
            }
            Dest::Registry(r) => {
                let Some(tag) = r.tag.clone() else {
                    return Err(invalid(format!(
                        "{r}: a registry destination needs a tag to push to"
                    )));
                };
                let owned;
                let client: &Client = match client {
                    Some(c) => c,
                    None => {
                        owned = Client::new(ClientOptions {
                            max_bytes: max_index,
                            ..ClientOptions::default()
                        })?;
                        &owned
                    }
                };
                let mut missing = Vec::new();
                for d in children {
                    let digest = Digest::parse(d.as_str())
                        .map_err(|e| invalid(format!("child digest {d}: {e}")))?;
                    if !client.has_manifest(r, &digest)? {
                        missing.push(d);
                    }
                }
                if !missing.is_empty() {
                    return Err(Error::Remote(format!(
                        "{}/{}: the repository lacks {} of the index's child manifests ({}); \
                         copy them there first (nothing was pushed)",
                        r.registry,
                        r.repository,
                        missing.len(),
                        join(&missing)
                    )));
                }
                let pushed = client.put_manifest(r, &tag, media_type, bytes)?;
                if pushed != *new_digest {
                    return Err(Error::Remote(format!(
                        "{r}: pushed digest {pushed} differs from {new_digest}"
                    )));
                }
                Ok(format!("pushed {}/{}:{tag}", r.registry, r.repository))
            }
        }
    }
}

fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}
