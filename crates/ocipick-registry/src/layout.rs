//! OCI image layout directories (`oci-layout`, `index.json`, `blobs/`).

use std::path::{Path, PathBuf};

use ocipick::{Descriptor, Digest, Index};

use crate::read::read_limited;
use crate::SourceError;

/// The annotation that tags an entry of a layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An opened OCI image layout.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    canonical_root: PathBuf,
    max_bytes: u64,
}

/// What a layout's `index.json` resolves to, for a tag (or none).
#[derive(Debug, Clone)]
pub enum LayoutTarget {
    /// `index.json` itself is the index to select from (no tag was given
    /// and its entries carry platforms; see [`Layout::resolve`]).
    TopIndex,
    /// A descriptor from `index.json` (tagged, or the only entry).
    Entry(Box<Descriptor<'static>>),
}

impl Layout {
    /// Opens `dir` as a layout: `oci-layout` must exist and declare an
    /// `imageLayoutVersion`. Documents and blobs read later are limited to
    /// `max_bytes`.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Layout, SourceError> {
        let bad = |problem: String| SourceError::Layout {
            path: dir.to_owned(),
            problem,
        };
        let marker = dir.join("oci-layout");
        let bytes = crate::read::read_file(&marker, 64 * 1024, "")
            .map_err(|e| bad(format!("not an OCI image layout (oci-layout: {e})")))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("oci-layout is not JSON: {e}")))?;
        match v.get("imageLayoutVersion").and_then(|v| v.as_str()) {
            Some(ver) if ver.starts_with("1.") => {}
            Some(ver) => return Err(bad(format!("unsupported imageLayoutVersion {ver:?}"))),
            None => return Err(bad("oci-layout has no imageLayoutVersion".into())),
        }
        let canonical_root = dir.canonicalize().map_err(|err| SourceError::Io {
            path: dir.to_owned(),
            err,
        })?;
        Ok(Layout {
            root: dir.to_owned(),
            canonical_root,
            max_bytes,
        })
    }

    /// The layout directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bytes of `index.json`.
    pub fn index_json(&self) -> Result<Vec<u8>, SourceError> {
        crate::read::read_file(
            &self.root.join("index.json"),
            self.max_bytes,
            " (raise it with --max-index-bytes)",
        )
    }

    /// Reads the blob a descriptor points to, refusing symbolic links that
    /// lead out of the layout and anything but regular files, reading at
    /// most the declared size (and the limit), and verifying size and
    /// digest over the bytes as read.
    pub fn blob(&self, d: &Descriptor<'_>) -> Result<Vec<u8>, SourceError> {
        let digest = &d.digest;
        let path = self
            .root
            .join("blobs")
            .join(digest.algorithm())
            .join(digest.encoded());
        let io = |err| SourceError::Io {
            path: path.clone(),
            err,
        };
        let real = path.canonicalize().map_err(io)?;
        if !real.starts_with(&self.canonical_root) {
            return Err(SourceError::Layout {
                path: path.clone(),
                problem: "blob is a link that leads out of the layout".into(),
            });
        }
        let meta = std::fs::metadata(&real).map_err(io)?;
        if !meta.is_file() {
            return Err(SourceError::NotAFile { path });
        }
        if d.size > self.max_bytes {
            return Err(SourceError::TooLarge {
                path,
                limit: self.max_bytes,
                hint: " (raise it with --max-index-bytes)",
            });
        }
        let file = std::fs::File::open(&real).map_err(io)?;
        let bytes = read_limited(file, d.size, &path, "").map_err(|_| {
            mismatch(
                &path,
                digest,
                format!("blob is larger than its declared size {}", d.size),
            )
        })?;
        if bytes.len() as u64 != d.size {
            return Err(mismatch(
                &path,
                digest,
                format!("{} bytes, declared size {}", bytes.len(), d.size),
            ));
        }
        match digest.compute_like(&bytes) {
            None => Err(mismatch(
                &path,
                digest,
                format!("cannot verify digests of algorithm {}", digest.algorithm()),
            )),
            Some(actual) if actual != *digest => {
                Err(mismatch(&path, digest, format!("bytes hash to {actual}")))
            }
            Some(_) => Ok(bytes),
        }
    }

    /// Chooses what to select from in this layout's `index.json`.
    ///
    /// - With a tag: the entry whose `org.opencontainers.image.ref.name` is
    ///   the tag. No such entry, or several with different digests, is an
    ///   error that lists the tags that exist.
    /// - Without a tag: if some entry of `index.json` carries a platform,
    ///   `index.json` is itself a multi-platform index; otherwise its only
    ///   entry, if it has exactly one; otherwise an error listing the tags.
    pub fn resolve(
        &self,
        index: &Index<'_>,
        tag: Option<&str>,
    ) -> Result<LayoutTarget, SourceError> {
        let bad = |problem: String| SourceError::Layout {
            path: self.root.clone(),
            problem,
        };
        let tags = || {
            let mut t: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|d| d.annotations.get(REF_NAME).map(|s| s.to_string()))
                .collect();
            t.sort();
            t.dedup();
            if t.is_empty() {
                "the layout has no tagged entries".to_owned()
            } else {
                format!("tags: {}", t.join(", "))
            }
        };
        match tag {
            Some(tag) => {
                let hits: Vec<&Descriptor<'_>> = index
                    .manifests
                    .iter()
                    .filter(|d| d.annotations.get(REF_NAME).is_some_and(|t| t == tag))
                    .collect();
                match hits.as_slice() {
                    [] => Err(bad(format!("no entry is tagged {tag:?}; {}", tags()))),
                    [first, rest @ ..] if rest.iter().all(|d| d.digest == first.digest) => {
                        Ok(LayoutTarget::Entry(Box::new((*first).clone().into_owned())))
                    }
                    _ => Err(bad(format!(
                        "{} entries with different digests are tagged {tag:?}",
                        hits.len()
                    ))),
                }
            }
            None => {
                if index.manifests.iter().any(|d| d.platform.is_some()) {
                    Ok(LayoutTarget::TopIndex)
                } else if let [only] = index.manifests.as_slice() {
                    Ok(LayoutTarget::Entry(Box::new(only.clone().into_owned())))
                } else {
                    Err(bad(format!(
                        "{} entries and no tag given: name one with DIR:TAG or --tag ({})",
                        index.manifests.len(),
                        tags()
                    )))
                }
            }
        }
    }
}

/// Writing to a layout. Every file is written whole to a temporary file
/// beside its destination and renamed into place, so a failure leaves the
/// old file (or none) and never a partial one.
impl Layout {
    /// Whether the blob `digest` exists as a regular file in this layout.
    pub fn has_blob(&self, digest: &Digest<'_>) -> bool {
        let path = self
            .root
            .join("blobs")
            .join(digest.algorithm())
            .join(digest.encoded());
        std::fs::metadata(path).is_ok_and(|m| m.is_file())
    }

    /// Stores `bytes` as a sha256 blob (`blobs/sha256/HEX`, written to a
    /// temporary file in the same directory and renamed) and returns its
    /// digest. A blob already present is left as it is.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest<'static>, SourceError> {
        let digest = Digest::sha256_of(bytes);
        let dir = self.root.join("blobs").join(digest.algorithm());
        std::fs::create_dir_all(&dir).map_err(|err| SourceError::Io {
            path: dir.clone(),
            err,
        })?;
        let path = dir.join(digest.encoded());
        if std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64)
            && std::fs::read(&path).is_ok_and(|b| b == bytes)
        {
            return Ok(digest);
        }
        write_atomically(&path, bytes)?;
        Ok(digest)
    }

    /// Replaces `index.json` with `bytes` (temporary file and rename).
    pub fn write_index_json(&self, bytes: &[u8]) -> Result<(), SourceError> {
        write_atomically(&self.root.join("index.json"), bytes)
    }

    /// Points `tag` at a new manifest in `index.json`: the first entry
    /// tagged `tag` gets the new media type, digest and size (keeping its
    /// other fields and annotations, and its place); other entries tagged
    /// `tag` are dropped; with none, an entry is appended. Blobs are never
    /// removed. `index.json` is rewritten atomically; its other entries are
    /// kept as they were (their keys in serde_json's sorted order).
    pub fn retag(
        &self,
        tag: &str,
        media_type: &str,
        digest: &Digest<'_>,
        size: u64,
    ) -> Result<(), SourceError> {
        let path = self.root.join("index.json");
        let bytes = self.index_json()?;
        let bad = |problem: String| SourceError::Layout {
            path: path.clone(),
            problem,
        };
        let mut doc: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("index.json is not JSON: {e}")))?;
        let manifests = doc
            .get_mut("manifests")
            .and_then(|m| m.as_array_mut())
            .ok_or_else(|| bad("index.json has no manifests array".into()))?;
        let tagged = |d: &serde_json::Value| {
            d.get("annotations")
                .and_then(|a| a.get(REF_NAME))
                .and_then(|t| t.as_str())
                == Some(tag)
        };
        let mut found = false;
        let mut kept = Vec::with_capacity(manifests.len() + 1);
        for mut d in std::mem::take(manifests) {
            if !tagged(&d) {
                kept.push(d);
                continue;
            }
            if found {
                continue;
            }
            found = true;
            if let Some(obj) = d.as_object_mut() {
                obj.insert("mediaType".into(), media_type.into());
                obj.insert("digest".into(), digest.as_str().into());
                obj.insert("size".into(), size.into());
            }
            kept.push(d);
        }
        if !found {
            kept.push(serde_json::json!({
                "mediaType": media_type,
                "digest": digest.as_str(),
                "size": size,
                "annotations": { REF_NAME: tag },
            }));
        }
        *manifests = kept;
        let mut out = serde_json::to_vec(&doc).map_err(|e| bad(e.to_string()))?;
        if bytes.ends_with(b"\n") {
            out.push(b'\n');
        }
        self.write_index_json(&out)
    }
}

impl Layout {
    /// Writes `bytes` to a temporary file in `path`'s directory, syncs it
    /// and renames it over `path`. On failure the temporary file is removed
    /// and `path` is as it was. An existing file's permissions are kept.
    /// (Used for layout files; any file can be written so.)
    pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SourceError> {
        write_atomically(path, bytes)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SourceError> {
    use std::io::Write;
    let io = |p: &Path| {
        let p = p.to_owned();
        move |err| SourceError::Io { path: p, err }
    };
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(SourceError::NotAFile {
            path: path.to_owned(),
        });
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        if let Ok(meta) = std::fs::metadata(path) {
            f.set_permissions(meta.permissions()).map_err(io(&tmp))?;
        }
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io(path))?;
        // Make the rename itself durable where the platform allows.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn mismatch(path: &Path, digest: &Digest<'_>, problem: String) -> SourceError {
    SourceError::Mismatch {
        path: path.to_owned(),
        expected: digest.to_string(),
        problem,
    }
}
