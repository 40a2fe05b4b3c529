//! One API for every place an index can come from: a file, standard input,
//! an OCI image layout directory (`DIR`, `DIR:TAG`, `oci:DIR[:TAG]`,
//! `ocidir://DIR[:TAG]`), a tar archive of one (`oci-archive:FILE[:TAG]`)
//! or a registry (`[docker://][REGISTRY/]REPO[:TAG|@DIGEST]`).
//!
//! [`Source::parse`] reads the spelling; [`Source::load`] reads the
//! document with the size limit enforced while reading, and returns it with
//! its origin (for messages) and, for layouts, archives and registries, the
//! [`Store`] that fetches nested indexes and manifests by descriptor
//! (verified against their digest and size). A layout tag that names a
//! nested index is followed to it; one that names a single image manifest
//! gives that descriptor ([`Doc::Single`]). Callers that descend through
//! nested indexes stop at [`MAX_DEPTH`].
//!
//! ```
//! use ocipick_registry::source::{Doc, LoadOptions, Source};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("index.json");
//! std::fs::write(&path, br#"{"schemaVersion":2,"manifests":[
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,
//!    "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
//!    "platform":{"architecture":"amd64","os":"linux"}}]}"#)?;
//!
//! let source = Source::parse(path.to_str().unwrap(), None)?;
//! assert!(matches!(source, Source::File(_)));
//! let loaded = source.load(&LoadOptions::default(), None)?;
//! let Doc::Bytes(bytes) = &loaded.doc else { unreachable!("a file holds an index") };
//! assert_eq!(ocipick::Index::parse(bytes)?.manifests.len(), 1);
//! assert!(loaded.store.is_none(), "a file has nothing beside the index");
//!
//! // A limit is enforced while reading.
//! let small = LoadOptions { max_index_bytes: 10, ..LoadOptions::default() };
//! assert!(source.load(&small, None).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! From a registry (with a configured [`Client`], or `None` for one with
//! default options), then down into a nested index:
//!
//! ```no_run
//! use ocipick_registry::source::{Doc, LoadOptions, Source};
//!
//! let loaded = Source::parse("docker://registry.example/app:1.0", None)?
//!     .load(&LoadOptions::default(), None)?;
//! if let (Doc::Bytes(bytes), Some(store)) = (&loaded.doc, &loaded.store) {
//!     let index = ocipick::Index::parse(bytes)?;
//!     let first = store.fetch(&index.manifests[0])?;
//!     println!("{}: {} bytes", store.origin(&index.manifests[0]), first.len());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use ocipick::media_type::{self, Kind};
use ocipick::{Descriptor, Index};

use crate::{
    read_file, read_stdin, ArchiveLayout, Client, ClientOptions, Layout, LayoutTarget, Reference,
    RegistryError, SourceError,
};

/// 4 MiB: the manifest size limit registries commonly enforce.
pub const DEFAULT_MAX_INDEX_BYTES: u64 = 4 * 1024 * 1024;
/// How many nested indexes a selection descends through at most.
pub const MAX_DEPTH: usize = 8;

/// Why a source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spelling names nothing usable (a conflicting tag, an empty
    /// archive name, neither a path nor a reference).
    #[error("{0}")]
    Invalid(String),
    /// A local read failed or its content is wrong.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A registry request failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A registry's content is not what was needed: a manifest of another
    /// size than its descriptor says, child manifests missing from a
    /// destination repository, a pushed digest that differs.
    #[error("{0}")]
    Remote(String),
}

/// How [`Source::load`] reads.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Index documents larger than this are refused while they are read
    /// (and a registry client made by `load` gets it as its limit).
    pub max_index_bytes: u64,
    /// Map large regular files instead of reading them ([`Mapped`]). This
    /// installs a process-wide SIGBUS handler that ends the process with
    /// status 2 should the file shrink while it is mapped: only for
    /// programs that map nothing else.
    pub map_files: bool,
    /// Appended to a too-large error (how to raise the limit).
    pub hint: &'static str,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_index_bytes: DEFAULT_MAX_INDEX_BYTES,
            map_files: false,
            hint: "",
        }
    }
}

/// Where the index comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// `-`: standard input.
    Stdin,
    /// A JSON file.
    File(PathBuf),
    /// An OCI image layout directory, with the tag to select if any.
    Layout(PathBuf, Option<String>),
    /// `oci-archive:FILE[:TAG]`: a tar of an OCI image layout.
    Archive(PathBuf, Option<String>),
    /// A registry reference.
    Registry(Reference),
}

/// The document at the current level.
pub enum Doc {
    /// An index's bytes.
    Bytes(Bytes),
    /// A layout tag or registry reference that points straight at one image
    /// manifest: its descriptor, the only candidate.
    Single(Box<Descriptor<'static>>),
}

/// What [`Source::load`] read.
pub struct Loaded {
    /// Where the document came from, for messages (a path, `<stdin>`,
    /// `FILE!/index.json` in an archive, a reference).
    pub origin: String,
    /// The document.
    pub doc: Doc,
    /// Where nested content can be fetched (none for files and standard
    /// input).
    pub store: Option<Store>,
}

impl Source {
    /// Reads a source's spelling; `tag_flag` is a tag given apart (a
    /// `--tag` flag), which must agree with one in the spelling and applies
    /// to layouts and archives only.
    ///
    /// `oci:DIR:TAG` and `ocidir://DIR:TAG` take a tag only where `DIR:TAG`
    /// is not itself a directory; `oci-archive:FILE:TAG` only where
    /// `FILE:TAG` does not exist. A bare existing directory is a layout, an
    /// existing path a file, `DIR:TAG` a layout tag, anything else a
    /// registry reference.
    pub fn parse(s: &str, tag_flag: Option<&str>) -> Result<Source, Error> {
        if s == "-" {
            return Ok(Source::Stdin);
        }
        let tag_of = |tag: Option<&str>| -> Result<Option<String>, Error> {
            if tag.is_some() && tag_flag.is_some() && tag != tag_flag {
                return Err(Error::Invalid(format!(
                    "{s}: the source names tag {:?} and --tag names {:?}",
                    tag.unwrap_or_default(),
                    tag_flag.unwrap_or_default()
                )));
            }
            Ok(tag.or(tag_flag).map(str::to_owned))
        };
        let layout = |dir: &str, tag: Option<&str>| -> Result<Source, Error> {
            Ok(Source::Layout(PathBuf::from(dir), tag_of(tag)?))
        };
        if let Some(rest) = s.strip_prefix("docker://") {
            return rest
                .parse::<Reference>()
                .map(Source::Registry)
                .map_err(|e| Error::Invalid(e.to_string()));
        }
        // `oci:DIR[:TAG]` (skopeo's, containers/image's) and `ocidir://DIR[:TAG]`
        // (regctl's): a tag only where DIR itself is not a directory.
        if let Some(rest) = s
            .strip_prefix("oci:")
            .or_else(|| s.strip_prefix("ocidir://"))
        {
            if Path::new(rest).is_dir() {
                return layout(rest, None);
            }
            return match rest.rsplit_once(':') {
                Some((dir, tag)) => layout(dir, Some(tag)),
                None => layout(rest, None),
            };
        }
        // `oci-archive:FILE[:TAG]` (skopeo's): a tag only where FILE itself
        // does not exist.
        if let Some(rest) = s.strip_prefix("oci-archive:") {
            let (file, tag) = match rest.rsplit_once(':') {
                Some((file, tag)) if !Path::new(rest).exists() && Path::new(file).exists() => {
                    (file, Some(tag))
                }
                _ => (rest, None),
            };
            if file.is_empty() {
                return Err(Error::Invalid(format!("{s}: no archive named")));
            }
            return Ok(Source::Archive(PathBuf::from(file), tag_of(tag)?));
        }
        let path = Path::new(s);
        if path.is_dir() {
            return layout(s, None);
        }
        if path.exists() {
            if tag_flag.is_some() {
                return Err(Error::Invalid(format!(
                    "{s}: --tag applies to OCI layout directories only"
                )));
            }
            return Ok(Source::File(path.to_owned()));
        }
        if let Some((dir, tag)) = s.rsplit_once(':') {
            if Path::new(dir).is_dir() {
                return layout(dir, Some(tag));
            }
        }
        match s.parse::<Reference>() {
            Ok(r) if tag_flag.is_none() => Ok(Source::Registry(r)),
            Ok(_) => Err(Error::Invalid(format!(
                "{s}: --tag applies to OCI layout directories only"
            ))),
            Err(e) => Err(Error::Invalid(format!(
                "{s}: no such file or directory, and {}",
                e.problem
                    .strip_prefix("")
                    .map(|p| format!("not an image reference ({p})"))
                    .unwrap_or_default()
            ))),
        }
    }

    /// Reads the document, within `opts.max_index_bytes`. A registry
    /// source uses `client` (built with the caller's transport and
    /// credentials), or a client with default options.
    pub fn load(&self, opts: &LoadOptions, client: Option<Client>) -> Result<Loaded, Error> {
        let (origin, doc, store) = self.load_parts(opts, client)?;
        Ok(Loaded { origin, doc, store })
    }

    fn load_parts(
        &self,
        opts: &LoadOptions,
        client: Option<Client>,
    ) -> Result<(String, Doc, Option<Store>), Error> {
        let max_index = opts.max_index_bytes;
        let hint = opts.hint;
        Ok(match self {
            Source::Stdin => (
                "<stdin>".to_owned(),
                Doc::Bytes(read_stdin(max_index, hint).map_err(Error::Source)?.into()),
                None,
            ),
            Source::File(p) => {
                // Large regular files are mapped, not copied (see `Bytes`);
                // anything else, and every error, goes through `read_file`.
                let mapped = if opts.map_files {
                    Mapped::open(p, max_index)
                } else {
                    None
                };
                let bytes = match mapped {
                    Some(m) => Bytes::Mapped(m),
                    None => read_file(p, max_index, hint).map_err(Error::Source)?.into(),
                };
                (p.display().to_string(), Doc::Bytes(bytes), None)
            }
            Source::Layout(dir, tag) => {
                let layout = Layout::open(dir, max_index).map_err(Error::Source)?;
                let top = layout.index_json().map_err(Error::Source)?;
                let top_origin = format!("{}/index.json", dir.display());
                let target = parse_top(&top, &top_origin, |i| layout.resolve(i, tag.as_deref()))?;
                from_layout(top, top_origin, target, Store::Layout(layout))?
            }
            Source::Archive(file, tag) => {
                let archive = ArchiveLayout::open(file, max_index).map_err(Error::Source)?;
                let top = archive.index_json().map_err(Error::Source)?;
                let top_origin = archive.member_path("index.json").display().to_string();
                let target = parse_top(&top, &top_origin, |i| archive.resolve(i, tag.as_deref()))?;
                from_layout(top, top_origin, target, Store::Archive(archive))?
            }
            Source::Registry(r) => {
                let client = match client {
                    Some(c) => c,
                    None => Client::new(ClientOptions {
                        max_bytes: max_index,
                        ..ClientOptions::default()
                    })
                    .map_err(Error::Registry)?,
                };
                let f = client
                    .fetch_manifest(r, &r.manifest_ref())
                    .map_err(Error::Registry)?;
                let origin = r.to_string();
                let doc = match media_type::kind(&f.media_type) {
                    Kind::Index => Doc::Bytes(f.bytes.into()),
                    // A single image manifest: the only candidate.
                    _ => Doc::Single(Box::new(Descriptor::new(
                        f.media_type,
                        f.digest,
                        f.bytes.len() as u64,
                    ))),
                };
                (
                    origin,
                    doc,
                    Some(Store::Registry(std::sync::Arc::new(client), r.clone())),
                )
            }
        })
    }
}

/// Parses a layout's `index.json` (from `origin`) and resolves the tag in it.
fn parse_top(
    top: &[u8],
    origin: &str,
    resolve: impl FnOnce(&Index<'_>) -> Result<LayoutTarget, SourceError>,
) -> Result<LayoutTarget, Error> {
    let index = Index::parse(top).map_err(|err| {
        Error::Source(SourceError::Index {
            path: origin.into(),
            err,
        })
    })?;
    resolve(&index).map_err(Error::Source)
}

/// What a layout (directory or archive) gives to select from: `index.json`
/// itself, the nested index its tag names, or the one image manifest it
/// names.
fn from_layout(
    top: Vec<u8>,
    top_origin: String,
    target: LayoutTarget,
    store: Store,
) -> Result<(String, Doc, Option<Store>), Error> {
    Ok(match target {
        LayoutTarget::TopIndex => (top_origin, Doc::Bytes(top.into()), Some(store)),
        LayoutTarget::Entry(d) if media_type::kind(&d.media_type) == Kind::Index => {
            let bytes = store.fetch(&d)?;
            (store.origin(&d), Doc::Bytes(bytes.into()), Some(store))
        }
        LayoutTarget::Entry(d) => (top_origin, Doc::Single(d), Some(store)),
    })
}

/// Where nested content can be fetched from.
pub enum Store {
    /// An OCI image layout directory.
    Layout(Layout),
    /// A tar archive of an OCI image layout.
    Archive(ArchiveLayout),
    /// A registry repository, with the client that read the index
    /// (shared: signature reads run on a thread of their own under a
    /// deadline, [`crate::signature::verify_within`]).
    Registry(std::sync::Arc<Client>, Reference),
}

impl Store {
    /// The bytes of the manifest or nested index `d` describes, checked
    /// against its digest and size (a layout's or archive's blob read, or a
    /// registry GET by that digest).
    pub fn fetch(&self, d: &Descriptor<'_>) -> Result<Vec<u8>, Error> {
        match self {
            Store::Layout(l) => Ok(l.blob(d).map_err(Error::Source)?),
            Store::Archive(a) => Ok(a.blob(d).map_err(Error::Source)?),
            Store::Registry(client, r) => {
                let f = client
                    .fetch_manifest(r, d.digest.as_str())
                    .map_err(Error::Registry)?;
                if f.bytes.len() as u64 != d.size {
                    return Err(Error::Remote(format!(
                        "{}/{}: manifest {} is {} bytes, its descriptor says {}",
                        r.registry,
                        r.repository,
                        d.digest,
                        f.bytes.len(),
                        d.size
                    )));
                }
                Ok(f.bytes)
            }
        }
    }

    /// Where `d`'s content is, for messages: a blob path (an archive's as
    /// `FILE!/blobs/…`) or a pinned reference.
    pub fn origin(&self, d: &Descriptor<'_>) -> String {
        match self {
            Store::Layout(l) => format!(
                "{}/blobs/{}/{}",
                l.root().display(),
                d.digest.algorithm(),
                d.digest.encoded()
            ),
            Store::Archive(a) => a
                .member_path(&ArchiveLayout::blob_member(d))
                .display()
                .to_string(),
            Store::Registry(_, r) => r.pinned(&d.digest),
        }
    }
}

/// An index document's bytes: read into memory, or mapped from a file.
///
/// Mapping spares the copy of a large index and the page faults of a fresh
/// buffer as large as the file: for a 3 MB index that is most of the
/// process's time besides parsing. A file truncated by another process
/// while it is read raises SIGBUS, which ends this one with status 2 and a
/// message (see [`LoadOptions::map_files`]).
pub enum Bytes {
    /// Read into memory.
    Owned(Vec<u8>),
    /// Mapped from a regular file.
    Mapped(Mapped),
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Bytes {
        Bytes::Owned(v)
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m.bytes(),
        }
    }
}

/// A read-only private mapping of a whole regular file.
pub struct Mapped {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

impl Mapped {
    /// Files below this size are read: mapping them gains nothing.
    const MIN: u64 = 64 << 10;

    /// Maps `path` when it is a regular file of at least [`Mapped::MIN`]
    /// and at most `limit` bytes; `None` otherwise or on any failure (the
    /// caller then reads the file, with that path's errors).
    fn open(path: &Path, limit: u64) -> Option<Mapped> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        // Non-blocking: opening a FIFO must not wait for a writer (it is
        // then refused by the reader the caller falls back to).
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() < Self::MIN || meta.len() > limit {
            return None;
        }
        let len = usize::try_from(meta.len()).ok()?;
        // SAFETY: a fresh read-only private mapping of `len` (> 0) bytes
        // of an open file; the kernel chooses the address. The mapping
        // outlives the descriptor, which may be closed after this call.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        exit_cleanly_on_sigbus();
        Some(Mapped {
            ptr: std::ptr::NonNull::new(ptr.cast::<u8>())?,
            len,
        })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `drop` unmaps them;
        // the mapping is private and read-only, so nothing in this process
        // writes to it.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

/// A file that shrinks while it is mapped and read raises SIGBUS on the
/// first page past its new end. This command maps nothing else, so the
/// handler ends the process with the usual status of invalid input (2)
/// and a one-line message, instead of a crash.
fn exit_cleanly_on_sigbus() {
    extern "C" fn on_sigbus(_: libc::c_int) {
        const MSG: &[u8] = b"ocipick: the index file changed while it was being read\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(2);
        }
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction with an empty mask and a plain
        // handler that only calls async-signal-safe functions.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
        }
    });
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`, once; no
        // borrow of `bytes()` outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How the layout spellings split into path and tag: a trailing `:TAG`
    /// is a tag only where the whole is not an existing path.
    #[test]
    fn layout_spellings_split_path_and_tag() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let colon_dir = dir.path().join("a:b");
        std::fs::create_dir(&colon_dir).unwrap();
        let tar = dir.path().join("x.tar");
        std::fs::write(&tar, b"").unwrap();
        let colon_tar = dir.path().join("y.tar:v2");
        std::fs::write(&colon_tar, b"").unwrap();
        let t = tar.display().to_string();
        let layout =
            |p: &str, tag: Option<&str>| format!("Layout({p:?}, {:?})", tag.map(str::to_owned));
        let archive =
            |p: &str, tag: Option<&str>| format!("Archive({p:?}, {:?})", tag.map(str::to_owned));
        for (source, flag, want) in [
            (format!("ocidir://{d}"), None, layout(&d, None)),
            (format!("ocidir://{d}:v1"), None, layout(&d, Some("v1"))),
            (format!("ocidir://{d}"), Some("v1"), layout(&d, Some("v1"))),
            (
                format!("ocidir://{d}/a:b"),
                None,
                layout(&format!("{d}/a:b"), None),
            ),
            (
                format!("oci:{d}/a:b:v1"),
                None,
                layout(&format!("{d}/a:b"), Some("v1")),
            ),
            (format!("oci-archive:{t}"), None, archive(&t, None)),
            (format!("oci-archive:{t}:v1"), None, archive(&t, Some("v1"))),
            (
                format!("oci-archive:{t}"),
                Some("v1"),
                archive(&t, Some("v1")),
            ),
            (
                format!("oci-archive:{d}/y.tar:v2"),
                None,
                archive(&format!("{d}/y.tar:v2"), None),
            ),
            // Neither exists: the whole is the file, and opening it says so.
            (
                format!("oci-archive:{d}/none.tar:v1"),
                None,
                archive(&format!("{d}/none.tar:v1"), None),
            ),
        ] {
            let got = Source::parse(&source, flag).unwrap();
            assert_eq!(format!("{got:?}"), want, "{source} {flag:?}");
        }
        assert!(Source::parse(&format!("oci-archive:{t}:v1"), Some("v2")).is_err());
        assert!(Source::parse("oci-archive:", None).is_err());
    }

    /// Large regular files are mapped with their exact bytes; small files,
    /// files over the limit, folders and missing files are left to
    /// `read_file` (and its errors).
    #[test]
    fn maps_only_large_regular_files_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.json");
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&big, &content).unwrap();
        let m = Mapped::open(&big, 1 << 20).expect("a 200 kB file is mapped");
        let bytes = Bytes::Mapped(m);
        assert_eq!(&*bytes, &content[..]);
        drop(bytes);

        assert!(Mapped::open(&big, 199_999).is_none(), "over the limit");
        assert!(Mapped::open(&big, 200_000).is_some(), "at the limit");
        let small = dir.path().join("small.json");
        std::fs::write(&small, b"{}").unwrap();
        assert!(Mapped::open(&small, 1 << 20).is_none());
        assert!(Mapped::open(dir.path(), 1 << 20).is_none());
        assert!(Mapped::open(&dir.path().join("missing"), 1 << 20).is_none());
        assert_eq!(&*Bytes::from(b"{}".to_vec()), b"{}");
    }

    /// A mapped file truncated while it is read ends the process with
    /// status 2 and a message, not a crash (run in a child process: the
    /// handler exits).
    #[test]
    fn a_mapped_file_that_shrinks_is_a_clean_error() {
        if let Some(path) = std::env::var_os("OCIPICK_SIGBUS_CHILD") {
            let m = Mapped::open(Path::new(&path), 1 << 20).expect("mapped");
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_len(0))
                .expect("truncated");
            let sum: u64 = m.bytes().iter().map(|&b| u64::from(b)).sum();
            println!("read {sum} without a fault");
            std::process::exit(0);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        std::fs::write(&path, vec![b' '; 200_000]).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "source::tests::a_mapped_file_that_shrinks_is_a_clean_error",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("OCIPICK_SIGBUS_CHILD", &path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("the index file changed while it was being read"),
            "{stderr}"
        );
    }
}
