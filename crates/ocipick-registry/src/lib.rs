//! Where ocipick's indexes come from: a file, standard input, an OCI image
//! layout directory or tar archive, or a registry (one manifest GET per
//! selection).
//!
//! Every read is bounded while it happens (never read first and checked
//! after), every blob is verified against its digest over the bytes as
//! read, and nothing but regular files is ever opened, so a FIFO or a
//! device cannot hang or flood a read.

mod archive;
pub mod auth;
mod certs;
mod client;
pub mod dest;
mod layout;
mod read;
mod reference;
pub mod source;

pub use archive::{
    ArchiveLayout, MAX_ARCHIVE_MEMBERS, MAX_ARCHIVE_METADATA_BYTES, MAX_MEMBER_NAME,
};
pub use certs::CERTS_D;
pub use client::{
    redact_url, Client, ClientOptions, Fetched, ForwardMethod, ManifestAnswer, Refusal,
    RegistryError, Stats, Trace, MANIFEST_ACCEPT,
};
pub use layout::{Layout, LayoutTarget};
pub use read::{read_file, read_limited, read_stdin};
pub use reference::{
    valid_repository, valid_tag, Reference, ReferenceError, DOCKER_HUB, DOCKER_HUB_API,
    MAX_REPOSITORY_LEN,
};

use std::path::PathBuf;

/// A failure to obtain an index document.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The operating system refused a read.
    #[error("{path}: {err}")]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The OS error.
        err: std::io::Error,
    },
    /// A document or blob is larger than allowed.
    #[error("{path}: larger than the {limit}-byte limit{hint}")]
    TooLarge {
        /// What was being read.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
        /// How to raise it, when there is a flag for it.
        hint: &'static str,
    },
    /// Not a regular file (a FIFO, device, socket or directory).
    #[error("{path}: not a regular file")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// A blob's bytes do not hash to its digest, or its size differs.
    #[error("{path}: content does not match {expected} ({problem})")]
    Mismatch {
        /// The blob's path.
        path: PathBuf,
        /// The expected digest.
        expected: String,
        /// What differs.
        problem: String,
    },
    /// The OCI layout is malformed or does not hold what was asked.
    #[error("{path}: {problem}")]
    Layout {
        /// The layout directory.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The document is not a valid index.
    #[error("{path}: invalid index: {err}")]
    Index {
        /// The document's path.
        path: PathBuf,
        /// Why.
        err: ocipick::IndexError,
    },
}
