//! Where ocipick's indexes come from: a file, standard input, an OCI image
//! layout directory or tar archive, or a registry (one manifest GET per
//! selection).
//!
//! Every read is bounded while it happens (never read first and checked
//! after), every blob is verified against its digest over the bytes as
//! read, and nothing but regular files is ever opened, so a FIFO or a
//! device cannot hang or flood a read.
//!
//! [`source`] is the one entry point for reading (every spelling of a
//! source, nested indexes through [`source::Store`]); [`dest`] writes an
//! edited index back to a file, a layout or a registry.
//!
//! ```
//! use ocipick_registry::source::{Doc, LoadOptions, Source};
//!
//! // An OCI image layout directory: `oci-layout` and `index.json`.
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
//! std::fs::write(dir.path().join("index.json"), br#"{"schemaVersion":2,"manifests":[
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,
//!    "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
//!    "platform":{"architecture":"amd64","os":"linux"},
//!    "annotations":{"org.opencontainers.image.ref.name":"v1"}}]}"#)?;
//!
//! let spelled = format!("oci:{}:v1", dir.path().display());
//! let loaded = Source::parse(&spelled, None)?.load(&LoadOptions::default(), None)?;
//! // The tag names one image manifest: that descriptor is the candidate.
//! let Doc::Single(d) = &loaded.doc else { unreachable!() };
//! assert_eq!(d.size, 7143);
//! assert!(loaded.store.is_some(), "its blobs can be fetched from the layout");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod archive;
pub mod attach;
pub mod auth;
pub mod bundle;
mod certs;
mod client;
pub mod compat;
pub mod dest;
mod layout;
mod read;
mod reference;
pub mod referrers;
pub mod signature;
pub mod source;

pub use archive::{
    ArchiveLayout, MAX_ARCHIVE_MEMBERS, MAX_ARCHIVE_METADATA_BYTES, MAX_MEMBER_NAME,
};
pub use certs::CERTS_D;
pub use client::{
    redact_url, Client, ClientOptions, Fetched, ForwardMethod, ManifestAnswer, Pushed, Refusal,
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
