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
        let bytes = crate::read::read_file(&marker, MAX_MARKER_BYTES, "")
            .map_err(|e| bad(format!("not an OCI image layout (oci-layout: {e})")))?;
        check_marker(&bytes).map_err(bad)?;
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
        verify(&path, d, bytes)
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
        resolve(&self.root, index, tag)
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
    #[cfg(target_os = "linux")]
    if let Some(done) = unnamed::write(&dir, path, &tmp, bytes) {
        return done;
    }
    write_named(&dir, path, &tmp, bytes)
}

/// The portable way: the bytes go to the temporary file `tmp`, created
/// anew, which is renamed over `path` once complete and synced (and
/// removed on failure).
fn write_named(dir: &Path, path: &Path, tmp: &Path, bytes: &[u8]) -> Result<(), SourceError> {
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)
            .map_err(io_at(tmp))?;
        fill(&mut f, path, tmp, bytes)?;
        drop(f);
        put_in_place(tmp, path, dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

fn io_at(p: &Path) -> impl FnOnce(std::io::Error) -> SourceError {
    let p = p.to_owned();
    move |err| SourceError::Io { path: p, err }
}

/// Writes `bytes` to the new file `f` (named `tmp` in errors), gives it
/// the permissions of the file at `path` if there is one, and syncs it.
fn fill(f: &mut std::fs::File, path: &Path, tmp: &Path, bytes: &[u8]) -> Result<(), SourceError> {
    use std::io::Write;
    f.write_all(bytes).map_err(io_at(tmp))?;
    if let Ok(meta) = std::fs::metadata(path) {
        f.set_permissions(meta.permissions()).map_err(io_at(tmp))?;
    }
    f.sync_all().map_err(io_at(tmp))
}

/// Renames the complete `tmp` over `path`, then syncs `dir` (an `fsync`
/// of the directory's descriptor) so that the rename itself is durable. A
/// failed sync is an error, like a failed write: the new file is then in
/// place but may not survive a crash, and the caller must not report
/// success. (Unix only: elsewhere a directory cannot be opened to sync.)
fn put_in_place(tmp: &Path, path: &Path, dir: &Path) -> Result<(), SourceError> {
    std::fs::rename(tmp, path).map_err(io_at(path))?;
    sync_dir(dir, path)
}

#[cfg(unix)]
fn sync_dir(dir: &Path, path: &Path) -> Result<(), SourceError> {
    let failed = |what: &str, err: std::io::Error| {
        SourceError::Io {
        path: dir.to_owned(),
        err: std::io::Error::new(
            err.kind(),
            format!(
                "{what} the directory after renaming the new file to {}: {err} (the new file is in place, but may not survive a crash)",
                path.display()
            ),
        ),
    }
    };
    let d = std::fs::File::open(dir).map_err(|e| failed("opening", e))?;
    d.sync_all().map_err(|e| failed("syncing", e))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path, _path: &Path) -> Result<(), SourceError> {
    Ok(())
}

/// Linux: the bytes go to an unnamed file in the destination's directory
/// (`O_TMPFILE`), which is given the temporary name only once it is
/// complete and synced, synced again once named (btrfs), and then renamed
/// into place and the directory synced. A process killed
/// while writing leaves nothing behind (the kernel frees an unnamed file
/// with its last descriptor); only a kill in the moment between naming
/// and renaming leaves a temporary file, and a complete one.
#[cfg(target_os = "linux")]
mod unnamed {
    use std::path::Path;

    use rustix::fs::{linkat, openat, AtFlags, Mode, OFlags, CWD};

    use super::{fill, io_at, sync_dir, SourceError};

    /// `None` where this cannot be done here (a file system without
    /// `O_TMPFILE`, no `/proc` and no privilege to link by descriptor): the
    /// caller then writes a named temporary file instead. Otherwise the
    /// outcome, with the temporary name removed on failure.
    pub(super) fn write(
        dir: &Path,
        path: &Path,
        tmp: &Path,
        bytes: &[u8],
    ) -> Option<Result<(), SourceError>> {
        let fd = openat(
            CWD,
            dir,
            OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        )
        .ok()?;
        let mut f = std::fs::File::from(fd);
        if let Err(e) = fill(&mut f, path, tmp, bytes) {
            return Some(Err(e));
        }
        // Linked through /proc (any user may), else by the descriptor
        // itself (needs CAP_DAC_READ_SEARCH).
        let by_proc = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&f));
        linkat(CWD, by_proc.as_str(), CWD, tmp, AtFlags::SYMLINK_FOLLOW)
            .or_else(|_| linkat(&f, "", CWD, tmp, AtFlags::EMPTY_PATH))
            .ok()?;
        // Renamed over the destination at once, so that a process killed
        // here leaves no second name behind; then synced again now that
        // it has its final name (on btrfs an fsync of an O_TMPFILE file
        // made before `linkat` does not persist it, so a crash could leave
        // the destination empty), and the directory synced for the rename.
        if let Err(err) = std::fs::rename(tmp, path) {
            let _ = std::fs::remove_file(tmp);
            return Some(Err(io_at(path)(err)));
        }
        let result = f
            .sync_all()
            .map_err(|err| SourceError::Io {
                path: path.to_owned(),
                err: std::io::Error::new(
                    err.kind(),
                    format!(
                        "syncing the new file after renaming it to {}: {err} (the new file is in place, but may not survive a crash)",
                        path.display()
                    ),
                ),
            })
            .and_then(|()| {
                drop(f);
                sync_dir(dir, path)
            });
        Some(result)
    }
}

/// The most bytes read of an `oci-layout` file.
pub(crate) const MAX_MARKER_BYTES: u64 = 64 * 1024;

/// Checks the bytes of an `oci-layout` file: JSON that declares an
/// `imageLayoutVersion` 1.x.
pub(crate) fn check_marker(bytes: &[u8]) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("oci-layout is not JSON: {e}"))?;
    match v.get("imageLayoutVersion").and_then(|v| v.as_str()) {
        Some(ver) if ver.starts_with("1.") => Ok(()),
        Some(ver) => Err(format!("unsupported imageLayoutVersion {ver:?}")),
        None => Err("oci-layout has no imageLayoutVersion".into()),
    }
}

/// Checks that `bytes`, read from `path` (at most the declared size), are
/// the blob `d` describes: its size and its digest.
pub(crate) fn verify(
    path: &Path,
    d: &Descriptor<'_>,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, SourceError> {
    let digest = &d.digest;
    if bytes.len() as u64 != d.size {
        return Err(mismatch(
            path,
            digest,
            format!("{} bytes, declared size {}", bytes.len(), d.size),
        ));
    }
    match digest.compute_like(&bytes) {
        None => Err(mismatch(
            path,
            digest,
            format!("cannot verify digests of algorithm {}", digest.algorithm()),
        )),
        Some(actual) if actual != *digest => {
            Err(mismatch(path, digest, format!("bytes hash to {actual}")))
        }
        Some(_) => Ok(bytes),
    }
}

/// [`Layout::resolve`] for the layout at `root` (a directory or an archive,
/// named in errors).
pub(crate) fn resolve(
    root: &Path,
    index: &Index<'_>,
    tag: Option<&str>,
) -> Result<LayoutTarget, SourceError> {
    let bad = |problem: String| SourceError::Layout {
        path: root.to_owned(),
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
            // Artifacts listed beside the images (an NFD compatibility
            // artifact attached by `ocipick compat attach`, with its
            // artifactType) are not what a runtime would run.
            let images: Vec<&Descriptor<'_>> = index
                .manifests
                .iter()
                .filter(|d| d.artifact_type.is_none())
                .collect();
            if index.manifests.iter().any(|d| d.platform.is_some()) {
                Ok(LayoutTarget::TopIndex)
            } else if let [only] = images.as_slice() {
                Ok(LayoutTarget::Entry(Box::new((*only).clone().into_owned())))
            } else {
                Err(bad(format!(
                    "{} entries and no tag given: name one with :TAG or --tag ({})",
                    index.manifests.len(),
                    tags()
                )))
            }
        }
    }
}

pub(crate) fn mismatch(path: &Path, digest: &Digest<'_>, problem: String) -> SourceError {
    SourceError::Mismatch {
        path: path.to_owned(),
        expected: digest.to_string(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Each way of writing replaces the file whole, keeps its permissions
    /// and leaves nothing else in the directory.
    #[test]
    fn both_ways_replace_the_file_and_leave_nothing_else() {
        type Way = fn(&Path, &Path, &Path, &[u8]) -> Result<(), SourceError>;
        let mut ways: Vec<(&str, Way)> = vec![("named", write_named)];
        #[cfg(target_os = "linux")]
        ways.push(("unnamed", |dir, path, tmp, bytes| {
            unnamed::write(dir, path, tmp, bytes).expect("O_TMPFILE works in the test directory")
        }));
        for (way, write) in ways {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("index.json");
            std::fs::write(&path, b"old").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
            let tmp = dir.path().join(".index.json.1.2.tmp");
            write(dir.path(), &path, &tmp, b"new bytes").unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"new bytes", "{way}");
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o640, "{way}");
            let names: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, ["index.json"], "{way}");
        }
    }

    /// A failed write leaves the old file and no temporary one.
    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        std::fs::write(&path, b"old").unwrap();
        // The temporary name is in a directory that does not exist.
        let tmp = dir.path().join("missing/.index.json.1.2.tmp");
        assert!(write_named(dir.path(), &path, &tmp, b"new").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["index.json"]);
    }
}
