//! Bounded reads of regular files and standard input.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::SourceError;

/// Reads all of `reader`, refusing more than `limit` bytes: at most
/// `limit + 1` bytes are ever read, so an endless stream costs nothing.
///
/// ```
/// let ok = ocipick_registry::read_limited(&b"abc"[..], 3, "x".as_ref(), "").unwrap();
/// assert_eq!(ok, b"abc");
/// assert!(ocipick_registry::read_limited(std::io::repeat(0), 10, "zeros".as_ref(), "").is_err());
/// ```
pub fn read_limited(
    reader: impl Read,
    limit: u64,
    path: &Path,
    hint: &'static str,
) -> Result<Vec<u8>, SourceError> {
    read_limited_sized(reader, limit, path, hint, 0)
}

/// [`read_limited`], with room reserved for `expected` bytes (a file's
/// size): one allocation instead of a doubling series.
fn read_limited_sized(
    reader: impl Read,
    limit: u64,
    path: &Path,
    hint: &'static str,
    expected: u64,
) -> Result<Vec<u8>, SourceError> {
    let mut buf = Vec::with_capacity(expected.min(limit).saturating_add(1) as usize);
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|err| SourceError::Io {
            path: path.to_owned(),
            err,
        })?;
    if buf.len() as u64 > limit {
        return Err(SourceError::TooLarge {
            path: path.to_owned(),
            limit,
            hint,
        });
    }
    Ok(buf)
}

/// Reads a regular file (symbolic links followed), at most `limit` bytes.
/// Anything that is not a regular file is refused before it is opened.
pub fn read_file(path: &Path, limit: u64, hint: &'static str) -> Result<Vec<u8>, SourceError> {
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
    if meta.len() > limit {
        return Err(SourceError::TooLarge {
            path: path.to_owned(),
            limit,
            hint,
        });
    }
    let file = File::open(path).map_err(io)?;
    // The file may grow between the check and the read: the read is bounded too.
    read_limited_sized(file, limit, path, hint, meta.len())
}

/// Reads standard input, at most `limit` bytes.
pub fn read_stdin(limit: u64, hint: &'static str) -> Result<Vec<u8>, SourceError> {
    read_limited(std::io::stdin().lock(), limit, Path::new("<stdin>"), hint)
}
