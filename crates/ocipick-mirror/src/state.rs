//! Reordered indexes on disk ([`StateOptions`]), so that they survive a
//! restart of the mirror.
//!
//! In [`crate::Mode::Reorder`] the mirror answers a tag with a new index
//! whose digest only it knows; the runtime then GETs that index by digest.
//! A mirror restarted between the two (a DaemonSet rollout, an OOM kill)
//! would pass that GET upstream, which answers `404`. Each reordered index
//! is therefore also written to the state directory, one file per index
//! named by its digest (`sha256-HEX`, the bytes exactly as served, so
//! `sha256sum` of a file names it), written atomically (a temporary file,
//! synced, renamed). At start every file is read back and checked against
//! its name; a file that does not hash to its name, is not an index, or is
//! over the bounds is deleted and logged. The directory is bounded in
//! files and bytes: past either bound the oldest files go.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use ocipick::media_type::{self, Kind};
use ocipick::Digest;

use crate::cache::lock;
use crate::metrics::Metrics;

/// Where and how much of the reordered indexes the mirror keeps on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateOptions {
    /// The directory (created if missing). Files in it that are not the
    /// mirror's are left alone.
    pub dir: PathBuf,
    /// Most files kept.
    pub max_files: usize,
    /// Most bytes kept, all files together.
    pub max_bytes: usize,
}

/// The file name of `digest` (`sha256:HEX` → `sha256-HEX`), or `None` when
/// it is not a sha256 digest.
fn file_name(digest: &str) -> Option<String> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| format!("sha256-{hex}"))
}

/// The digest a file name stands for (the inverse of [`file_name`]).
fn digest_of_name(name: &str) -> Option<String> {
    let d = format!("sha256:{}", name.strip_prefix("sha256-")?);
    file_name(&d).map(|_| d)
}

/// The media type of an index as the mirror served it: the body's own
/// `mediaType`, else the OCI index type. `None` when the bytes are not an
/// index.
fn index_media_type(bytes: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    v.get("manifests")?.as_array()?;
    let mt = v
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or(media_type::OCI_INDEX)
        .to_owned();
    (media_type::kind(&mt) == Kind::Index).then_some(mt)
}

/// Checks a state file named `name` holding `bytes`, as the mirror does
/// at start: the name is `sha256-HEX`, the bytes hash to it, and they are
/// an image index. Returns the digest and the media type to serve it with
/// (the body's `mediaType`, else the OCI index type), or why the file is
/// dropped.
///
/// ```
/// use ocipick_mirror::state::check_file;
/// let index = br#"{"schemaVersion":2,"manifests":[]}"#;
/// let digest = ocipick::Digest::sha256_of(index).to_string();
/// let name = digest.replace(':', "-");
/// let (d, media_type) = check_file(&name, index).unwrap();
/// assert_eq!((d, media_type.as_str()), (digest, "application/vnd.oci.image.index.v1+json"));
/// assert!(check_file(&name, b"{}").is_err());
/// ```
pub fn check_file(name: &str, bytes: &[u8]) -> Result<(String, String), String> {
    let digest = digest_of_name(name).ok_or("not a state file name (sha256-HEX)")?;
    let actual = Digest::sha256_of(bytes).to_string();
    if actual != digest {
        return Err(format!("its content hashes to {actual}, not its name"));
    }
    let mt = index_media_type(bytes).ok_or("not an image index")?;
    Ok((digest, mt))
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, (Bytes, String)>,
    /// Oldest first.
    order: VecDeque<String>,
    bytes: usize,
}

/// The reordered indexes of the state directory, also held in memory
/// (bounded like the directory).
pub(crate) struct StateDir {
    opts: StateOptions,
    inner: Mutex<Inner>,
}

fn log(line: &str) {
    eprintln!("ocipick serve: state: {line}");
}

impl StateDir {
    /// Opens (creating) the directory and loads what it holds, verified:
    /// files that fail are deleted, logged and counted.
    pub(crate) fn open(opts: StateOptions, metrics: &Metrics) -> io::Result<StateDir> {
        std::fs::create_dir_all(&opts.dir)?;
        let mut found: Vec<(std::time::SystemTime, String, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(&opts.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with(".sha256-") && name.ends_with(".tmp") {
                // A write cut short (the mirror killed mid-write).
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let Some(digest) = digest_of_name(&name) else {
                continue;
            };
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            found.push((
                meta.modified().unwrap_or(std::time::UNIX_EPOCH),
                digest,
                path,
            ));
        }
        found.sort();
        let dir = StateDir {
            opts,
            inner: Mutex::new(Inner::default()),
        };
        let mut loaded = 0usize;
        for (_, digest, path) in found {
            match dir.verify(&digest, &path) {
                Ok((bytes, mt)) => {
                    // Past the bounds (lowered since), the oldest go.
                    for old in dir.insert(&digest, bytes, mt) {
                        dir.remove_file(&old, metrics);
                        loaded = loaded.saturating_sub(1);
                    }
                    loaded += 1;
                }
                Err(why) => {
                    let _ = std::fs::remove_file(&path);
                    metrics.state("dropped");
                    log(&format!("dropped {}: {why}", path.display()));
                }
            }
        }
        metrics.state_loaded(loaded);
        if loaded > 0 {
            log(&format!(
                "loaded {loaded} reordered indexes from {}",
                dir.opts.dir.display()
            ));
        }
        Ok(dir)
    }

    /// Reads a file of the directory and checks it: within the bounds, an
    /// index, hashing to its name.
    fn verify(&self, digest: &str, path: &Path) -> Result<(Bytes, String), String> {
        let limit = self.opts.max_bytes as u64;
        let bytes = ocipick_registry::read_file(path, limit, "--state-max-bytes")
            .map_err(|e| e.to_string())?;
        let name = file_name(digest).ok_or("not a sha256 digest")?;
        let (_, mt) = check_file(&name, &bytes)?;
        Ok((Bytes::from(bytes), mt))
    }

    fn insert(&self, digest: &str, bytes: Bytes, media_type: String) -> Vec<String> {
        let mut g = lock(&self.inner);
        if g.map.contains_key(digest) {
            return Vec::new();
        }
        g.bytes += bytes.len();
        g.map.insert(digest.to_owned(), (bytes, media_type));
        g.order.push_back(digest.to_owned());
        let mut evicted = Vec::new();
        while g.map.len() > self.opts.max_files || g.bytes > self.opts.max_bytes {
            let Some(old) = g.order.pop_front() else {
                break;
            };
            if let Some((b, _)) = g.map.remove(&old) {
                g.bytes -= b.len();
                evicted.push(old);
            }
        }
        evicted
    }

    /// A kept index by digest.
    pub(crate) fn get(&self, digest: &str) -> Option<(Bytes, String)> {
        lock(&self.inner).map.get(digest).cloned()
    }

    /// Keeps a reordered index whose digest the caller computed: written
    /// to disk (atomically) unless already there; the oldest go past the
    /// bounds. A failed write is logged and counted, and the index is
    /// still served from memory.
    pub(crate) fn put(&self, digest: &str, bytes: &Bytes, media_type: &str, metrics: &Metrics) {
        let Some(name) = file_name(digest) else {
            return;
        };
        if bytes.len() > self.opts.max_bytes || self.get(digest).is_some() {
            return;
        }
        let path = self.opts.dir.join(&name);
        match ocipick_registry::Layout::write_atomically(&path, bytes) {
            Ok(()) => metrics.state("written"),
            Err(e) => {
                metrics.state("write_failed");
                log(&format!("cannot write {}: {e}", path.display()));
            }
        }
        for old in self.insert(digest, bytes.clone(), media_type.to_owned()) {
            self.remove_file(&old, metrics);
        }
    }

    fn remove_file(&self, digest: &str, metrics: &Metrics) {
        if let Some(n) = file_name(digest) {
            let _ = std::fs::remove_file(self.opts.dir.join(n));
            metrics.state("evicted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(n: usize) -> Vec<u8> {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{{"n":"{n}"}}}}"#
        )
        .into_bytes()
    }

    fn opts(dir: &Path, max_files: usize) -> StateOptions {
        StateOptions {
            dir: dir.to_owned(),
            max_files,
            max_bytes: 1 << 20,
        }
    }

    #[test]
    fn kept_across_opens_bounded_and_verified() {
        let tmp = tempfile::tempdir().unwrap();
        let m = Metrics::default();
        let s = StateDir::open(opts(tmp.path(), 2), &m).unwrap();
        let mut digests = Vec::new();
        for n in 0..3 {
            let b = Bytes::from(index(n));
            let d = Digest::sha256_of(&b).to_string();
            s.put(&d, &b, media_type::OCI_INDEX, &m);
            digests.push(d);
        }
        // The oldest went, in memory and on disk.
        assert!(s.get(&digests[0]).is_none());
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2);
        // A corrupted file is dropped on open; a good one survives.
        let bad = tmp.path().join(file_name(&digests[1]).unwrap());
        std::fs::write(&bad, b"{\"manifests\":[]}").unwrap();
        let s2 = StateDir::open(opts(tmp.path(), 2), &m).unwrap();
        assert!(s2.get(&digests[1]).is_none());
        assert!(!bad.exists());
        let (bytes, mt) = s2.get(&digests[2]).unwrap();
        assert_eq!(&bytes[..], &index(2)[..]);
        assert_eq!(mt, media_type::OCI_INDEX);
    }

    #[test]
    fn a_lower_bound_at_open_removes_the_oldest_files() {
        let tmp = tempfile::tempdir().unwrap();
        let m = Metrics::default();
        let s = StateDir::open(opts(tmp.path(), 3), &m).unwrap();
        for n in 0..3 {
            let b = Bytes::from(index(n));
            s.put(
                &Digest::sha256_of(&b).to_string(),
                &b,
                media_type::OCI_INDEX,
                &m,
            );
        }
        drop(s);
        let s = StateDir::open(opts(tmp.path(), 1), &m).unwrap();
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
        assert_eq!(lock(&s.inner).map.len(), 1);
    }

    #[test]
    fn names_are_digests() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(digest_of_name(&file_name(&d).unwrap()), Some(d));
        assert_eq!(file_name("sha512:abc"), None);
        assert_eq!(digest_of_name("sha256-../x"), None);
    }
}
