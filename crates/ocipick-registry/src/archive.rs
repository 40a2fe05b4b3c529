//! OCI image layouts inside a tar archive (`oci-archive:FILE`, as skopeo
//! writes them), read in place: never extracted, every member located by
//! one pass over the tar headers and read later by its offset.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use ocipick::{Descriptor, Index};

use crate::layout::{check_marker, resolve, verify, LayoutTarget, MAX_MARKER_BYTES};
use crate::read::read_limited;
use crate::SourceError;

/// The most members (files, directories, and other entries) an archive
/// may hold: image archives hold a few dozen.
pub const MAX_ARCHIVE_MEMBERS: usize = 10_000;

/// The most bytes of tar metadata (headers, GNU long names, PAX records)
/// read while listing an archive; member contents are not read then.
pub const MAX_ARCHIVE_METADATA_BYTES: u64 = 16 << 20;

/// The longest member name accepted, in bytes.
pub const MAX_MEMBER_NAME: usize = 4096;

const BLOCK: u64 = 512;
const HINT: &str = " (raise it with --max-index-bytes)";

/// Where a regular-file member's bytes lie in the archive.
#[derive(Debug, Clone, Copy)]
struct Member {
    offset: u64,
    size: u64,
}

/// An OCI image layout (`oci-layout`, `index.json`, `blobs/…`) in a tar
/// archive, opened for reading.
///
/// [`ArchiveLayout::open`] reads the tar headers once, with the limits
/// above enforced while reading, and keeps the archive open; members are
/// read later by their offsets, each at most its size and the byte limit.
/// Only regular files are kept; a directory is skipped; any other member
/// (a symbolic or hard link, a device, a FIFO, a sparse file) makes the
/// archive invalid, and so do duplicate names, absolute names and names
/// with `..`. Names may start with `./` (as `tar -C DIR .` writes them).
/// Blobs are verified against their descriptors' sizes and digests, as in
/// a [`Layout`](crate::Layout) directory.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ocipick_registry::{ArchiveLayout, LayoutTarget};
///
/// // A tiny layout archive, as skopeo would write it.
/// let mut b = tar::Builder::new(Vec::new());
/// for (name, bytes) in [
///     ("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
///     ("index.json", &br#"{"schemaVersion":2,"manifests":[]}"#[..]),
/// ] {
///     let mut h = tar::Header::new_ustar();
///     h.set_size(bytes.len() as u64);
///     h.set_mode(0o644);
///     h.set_cksum();
///     b.append_data(&mut h, name, bytes)?;
/// }
/// let dir = tempfile::tempdir()?;
/// let file = dir.path().join("image.tar");
/// std::fs::write(&file, b.into_inner()?)?;
///
/// let layout = ArchiveLayout::open(&file, 4 << 20)?;
/// let top = layout.index_json()?;
/// let index = ocipick::Index::parse(&top)?;
/// // No entries: asking for a tag lists what there is.
/// assert!(layout.resolve(&index, Some("latest")).is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ArchiveLayout {
    path: PathBuf,
    file: File,
    members: BTreeMap<String, Member>,
    max_bytes: u64,
}

impl ArchiveLayout {
    /// Opens the tar archive `path` as a layout: lists its members and
    /// reads and checks its `oci-layout`. `index.json` and blobs read later
    /// are limited to `max_bytes` each.
    pub fn open(path: &Path, max_bytes: u64) -> Result<ArchiveLayout, SourceError> {
        let bad = |problem: String| SourceError::Layout {
            path: path.to_owned(),
            problem,
        };
        let io = |err| SourceError::Io {
            path: path.to_owned(),
            err,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(SourceError::NotAFile {
                path: path.to_owned(),
            });
        }
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut magic = [0u8; 2];
        let got = (&file).read(&mut magic).map_err(io)?;
        if got == 0 {
            return Err(bad("not a tar archive: the file is empty".into()));
        }
        if magic == [0x1f, 0x8b] {
            return Err(bad(
                "a gzip-compressed file: decompress it first (oci-archive is a plain tar)".into(),
            ));
        }
        (&file).seek(SeekFrom::Start(0)).map_err(io)?;
        let members = list(&file, len).map_err(bad)?;
        let layout = ArchiveLayout {
            path: path.to_owned(),
            file,
            members,
            max_bytes,
        };
        let marker = layout
            .read_member("oci-layout", MAX_MARKER_BYTES, "")
            .map_err(|e| match e {
                Some(e) => e,
                None => bad("not an OCI image layout archive: it has no oci-layout member".into()),
            })?;
        check_marker(&marker).map_err(bad)?;
        Ok(layout)
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How a member is named in messages and in output: `FILE!/NAME`.
    pub fn member_path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("{}!/{name}", self.path.display()))
    }

    /// The member that holds the blob a descriptor points to
    /// (`blobs/ALGORITHM/ENCODED`).
    pub fn blob_member(d: &Descriptor<'_>) -> String {
        format!("blobs/{}/{}", d.digest.algorithm(), d.digest.encoded())
    }

    /// The bytes of `index.json`, at most the byte limit.
    pub fn index_json(&self) -> Result<Vec<u8>, SourceError> {
        self.read_member("index.json", self.max_bytes, HINT)
            .map_err(|e| {
                e.unwrap_or_else(|| SourceError::Layout {
                    path: self.path.clone(),
                    problem: "the archive has no index.json member".into(),
                })
            })
    }

    /// Reads the blob a descriptor points to: its member must exist and be
    /// as large as the declared size (within the limit), and its bytes must
    /// hash to the digest.
    pub fn blob(&self, d: &Descriptor<'_>) -> Result<Vec<u8>, SourceError> {
        let name = Self::blob_member(d);
        let path = self.member_path(&name);
        let Some(m) = self.members.get(&name).copied() else {
            return Err(SourceError::Layout {
                path,
                problem: "the archive has no such member".into(),
            });
        };
        if d.size > self.max_bytes {
            return Err(SourceError::TooLarge {
                path,
                limit: self.max_bytes,
                hint: HINT,
            });
        }
        if m.size != d.size {
            return Err(crate::layout::mismatch(
                &path,
                &d.digest,
                format!("{} bytes, declared size {}", m.size, d.size),
            ));
        }
        let bytes = self.read_at(m, &path, HINT)?;
        verify(&path, d, bytes)
    }

    /// Chooses what to select from in this archive's `index.json`, as
    /// [`Layout::resolve`](crate::Layout::resolve) does for a directory.
    pub fn resolve(
        &self,
        index: &Index<'_>,
        tag: Option<&str>,
    ) -> Result<LayoutTarget, SourceError> {
        resolve(&self.path, index, tag)
    }

    /// A member's bytes, at most `limit`; `Err(None)` when there is no
    /// such member.
    fn read_member(
        &self,
        name: &str,
        limit: u64,
        hint: &'static str,
    ) -> Result<Vec<u8>, Option<SourceError>> {
        let m = *self.members.get(name).ok_or(None)?;
        let path = self.member_path(name);
        if m.size > limit {
            return Err(Some(SourceError::TooLarge { path, limit, hint }));
        }
        self.read_at(m, &path, hint).map_err(Some)
    }

    /// Reads a member whose size is within the limit, checking that all of
    /// it is still there (the file may have been cut since it was listed).
    fn read_at(&self, m: Member, path: &Path, hint: &'static str) -> Result<Vec<u8>, SourceError> {
        let io = |err| SourceError::Io {
            path: path.to_owned(),
            err,
        };
        (&self.file).seek(SeekFrom::Start(m.offset)).map_err(io)?;
        let bytes = read_limited((&self.file).take(m.size), m.size, path, hint)?;
        if bytes.len() as u64 != m.size {
            return Err(SourceError::Layout {
                path: path.to_owned(),
                problem: format!(
                    "truncated: {} of the member's {} bytes are there",
                    bytes.len(),
                    m.size
                ),
            });
        }
        Ok(bytes)
    }
}

/// The archive file as the tar reader sees it: reads are counted against
/// [`MAX_ARCHIVE_METADATA_BYTES`] (while listing, only headers and
/// extension records are read; contents are skipped by seeking).
struct Counted<'f> {
    file: &'f File,
    read: Rc<std::cell::Cell<u64>>,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = MAX_ARCHIVE_METADATA_BYTES.saturating_sub(self.read.get());
        if left == 0 {
            return Err(std::io::Error::other(format!(
                "more than {MAX_ARCHIVE_METADATA_BYTES} bytes of tar headers"
            )));
        }
        let n = self.file.take(left).read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

impl Seek for Counted<'_> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        let mut f = self.file;
        f.seek(pos)
    }
}

/// Lists the regular-file members of the tar archive `file` (`len` bytes
/// long), by their normalized names.
fn list(file: &File, len: u64) -> Result<BTreeMap<String, Member>, String> {
    let counted = Counted {
        file,
        read: Rc::default(),
    };
    let mut archive = tar::Archive::new(counted);
    let entries = archive
        .entries_with_seek()
        .map_err(|e| format!("not a readable tar archive: {e}"))?;
    let mut members = BTreeMap::new();
    let mut count = 0usize;
    // Where the header after the last member starts: the end-of-archive
    // blocks must be there.
    let mut end = 0u64;
    for entry in entries {
        let entry = entry.map_err(|e| format!("not a readable tar archive: {e}"))?;
        count += 1;
        if count > MAX_ARCHIVE_MEMBERS {
            return Err(format!("more than {MAX_ARCHIVE_MEMBERS} members"));
        }
        let raw = entry.path_bytes();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let offset = entry.raw_file_position();
        let size = entry.size();
        let data_end = offset
            .checked_add(size)
            .ok_or_else(|| format!("member {shown:?}: size {size} overflows"))?;
        if data_end > len {
            return Err(format!(
                "truncated: member {shown:?} needs {size} bytes from offset {offset}, the file ends at {len}"
            ));
        }
        end = data_end.div_ceil(BLOCK) * BLOCK;
        let kind = entry.header().entry_type();
        let name = normalize(&raw).map_err(|why| format!("member {shown:?}: {why}"))?;
        use tar::EntryType as T;
        let is_dir = match kind {
            T::Directory => true,
            // Old archives mark directories with a trailing slash only.
            T::Regular if raw.ends_with(b"/") && size == 0 => true,
            T::Regular | T::Continuous => false,
            // PAX global records (git archive writes one) describe nothing.
            T::XGlobalHeader => continue,
            other => {
                return Err(format!(
                    "member {shown:?} is {}: only regular files are read",
                    kind_name(other)
                ))
            }
        };
        if is_dir {
            continue;
        }
        let Some(name) = name else {
            return Err(format!("member {shown:?} is a file without a name"));
        };
        if members.insert(name, Member { offset, size }).is_some() {
            return Err(format!("member {shown:?} appears more than once"));
        }
    }
    // The tar reader stops at a zero block or at the end of the file; only
    // the first is a whole archive.
    if end.saturating_add(BLOCK) > len {
        return Err(format!(
            "truncated: no end-of-archive block after the last member (at offset {end})"
        ));
    }
    Ok(members)
}

/// A member name as a path inside the layout: leading `./` and `.`
/// components dropped, repeated slashes merged. `None` for the archive's
/// root (`.`, `./`). Absolute names, `..` components, names that are not
/// UTF-8 and names longer than [`MAX_MEMBER_NAME`] are refused.
fn normalize(raw: &[u8]) -> Result<Option<String>, &'static str> {
    if raw.len() > MAX_MEMBER_NAME {
        return Err("the name is too long");
    }
    let s = std::str::from_utf8(raw).map_err(|_| "the name is not UTF-8")?;
    if s.starts_with('/') {
        return Err("an absolute name leads out of the archive");
    }
    let mut parts = Vec::new();
    for part in s.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("a name with .. leads out of the archive"),
            p => parts.push(p),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

fn kind_name(t: tar::EntryType) -> &'static str {
    use tar::EntryType as T;
    match t {
        T::Symlink => "a symbolic link",
        T::Link => "a hard link",
        T::Char => "a character device",
        T::Block => "a block device",
        T::Fifo => "a FIFO",
        T::GNUSparse => "a sparse file",
        T::GNULongName | T::GNULongLink | T::XHeader => "a stray extension header",
        _ => "of an unknown type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (raw, want) in [
            ("index.json", Ok(Some("index.json"))),
            ("./index.json", Ok(Some("index.json"))),
            ("././blobs//sha256/./ab", Ok(Some("blobs/sha256/ab"))),
            ("blobs/sha256/", Ok(Some("blobs/sha256"))),
            ("./", Ok(None)),
            (".", Ok(None)),
            (
                "/index.json",
                Err("an absolute name leads out of the archive"),
            ),
            (
                "blobs/../../etc",
                Err("a name with .. leads out of the archive"),
            ),
            ("..", Err("a name with .. leads out of the archive")),
        ] {
            assert_eq!(
                normalize(raw.as_bytes()),
                want.map(|o| o.map(str::to_owned)),
                "{raw:?}"
            );
        }
        assert!(normalize(b"\xff").is_err());
        assert!(normalize(&[b'a'; MAX_MEMBER_NAME + 1]).is_err());
        assert!(normalize(&[b'a'; MAX_MEMBER_NAME]).is_ok());
    }

    fn header(name: &str, kind: tar::EntryType, size: u64) -> [u8; 512] {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        *h.as_bytes()
    }

    fn open_bytes(bytes: &[u8], len: Option<u64>) -> Result<ArchiveLayout, SourceError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.tar");
        std::fs::write(&p, bytes).unwrap();
        if let Some(len) = len {
            // The rest reads as zeros (a sparse file: nothing is written).
            std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .unwrap()
                .set_len(len)
                .unwrap();
        }
        ArchiveLayout::open(&p, 4 << 20)
    }

    /// One member more than the limit is refused, while listing.
    #[test]
    fn member_count_is_bounded() {
        let mut b = Vec::new();
        for i in 0..=MAX_ARCHIVE_MEMBERS {
            b.extend_from_slice(&header(&format!("d{i}/"), tar::EntryType::Directory, 0));
        }
        b.extend_from_slice(&[0; 1024]);
        let e = open_bytes(&b, None).unwrap_err().to_string();
        assert!(e.contains("more than 10000 members"), "{e}");
        // At the limit, the listing goes through (and stops at oci-layout).
        let e = open_bytes(&b[512..], None).unwrap_err().to_string();
        assert!(e.contains("no oci-layout member"), "{e}");
    }

    /// A GNU long name that claims 64 MiB is read only up to the metadata
    /// budget, then refused.
    #[test]
    fn long_name_records_are_bounded() {
        let b = header("././@LongLink", tar::EntryType::GNULongName, 64 << 20);
        let e = open_bytes(&b, Some(512 + (64 << 20) + 1024))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bytes of tar headers"), "{e}");
    }

    /// A member whose size runs past the end of the file is a truncated
    /// archive, found without reading the member.
    #[test]
    fn a_member_past_the_end_is_truncation() {
        let mut b = header("blobs/sha256/big", tar::EntryType::Regular, 1 << 40).to_vec();
        b.extend_from_slice(&[0; 1024]);
        let e = open_bytes(&b, None).unwrap_err().to_string();
        assert!(e.contains("truncated: member \"blobs/sha256/big\""), "{e}");
    }
}
