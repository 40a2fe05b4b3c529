//! # ocipick
//!
//! Picks the right manifest out of an OCI image index (or Docker manifest
//! list) for a target platform and a set of weighted annotation
//! preferences, following OCI "Proposal A — Runtime Annotations":
//!
//! - platform matching is containerd-compatible: the same normalization
//!   (`x86_64` is `amd64`, `armhf` is `arm/v7`, …), the same compatibility
//!   lists (an `amd64/v3` host runs `v2`, `v1` and `386`; an `arm64` host runs
//!   `arm/v8`…`v5`), `os.features` and Windows `os.version` build rules, and
//!   the same ordering (list position, then more matching `os.features`,
//!   then index order), as containerd/platforms v1's `Only`;
//! - an entry's score is the sum of the weights of the preferences it
//!   satisfies; the best entry has the highest score, then the closest
//!   platform, then the earliest position — so with no preferences, or on a
//!   tie, the first matching entry wins, exactly as the image-spec says;
//! - attestations, `unknown/unknown` entries and non-image media types are
//!   never selected; entries larger than a limit are refused.
//!
//! The crate does no I/O: give it the bytes of an index and a [`Policy`].
//! For many nodes at once, [`fleet`] groups nodes into classes that every
//! index treats alike and judges an index per class.
//!
//! ```
//! use ocipick::{Index, Platform, Policy, Preference};
//!
//! let bytes = br#"{"schemaVersion":2,"manifests":[
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,
//!    "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
//!    "platform":{"architecture":"amd64","os":"linux"}},
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7682,
//!    "digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
//!    "platform":{"architecture":"amd64","os":"linux","variant":"v3"},
//!    "annotations":{"com.example.gpu":"example-gpu-model"}}]}"#;
//! let index = Index::parse(bytes)?;
//! let target = ocipick::platform::selector::parse("linux/amd64/v3", &Platform::new("linux", "amd64", None))?;
//! let policy = Policy::new(&target).prefer("com.example.gpu:10".parse()?);
//!
//! let ranking = policy.rank(&index);
//! assert_eq!(ranking.selected, Some(1));
//! for entry in &ranking.entries {
//!     for reason in &entry.reasons {
//!         println!("#{} {reason}", entry.position);
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod de;
mod fast;

pub mod base64;
pub mod compat;
pub mod config;
pub mod digest;
pub mod duplicates;
pub mod edit;
pub mod fleet;
pub mod index;
pub mod lint;
pub mod media_type;
pub mod nfd;
pub mod platform;
pub mod prefer;
pub mod rank;
pub mod rules;
pub mod trust;
pub mod uri;

/// Not part of the API: hooks for the differential tests and fuzz targets.
#[doc(hidden)]
pub mod __testing {
    /// Reads `bytes` with the fast reader of [`crate::Policy::select_bytes`]
    /// alone, keeping every descriptor: `None` where that reader gives up
    /// (and `select_bytes` falls back to the serde reader); otherwise what
    /// [`crate::Index::parse`] must also return.
    ///
    /// Each descriptor is cloned out of the reader's slot, which the reader
    /// then fills again for the next element, as it does for
    /// `select_bytes` (whose selection moves out only its best entries): so
    /// what one element leaves in the slot must never show in the next.
    pub fn fast_parse(bytes: &[u8]) -> Option<Result<crate::Index<'_>, crate::IndexError>> {
        struct Cloning<'a>(Vec<crate::Descriptor<'a>>);
        impl<'a> crate::de::Sink<'a> for Cloning<'a> {
            fn accept(&mut self, _: usize, d: crate::Descriptor<'a>) {
                self.0.push(d);
            }
            fn accept_from(&mut self, _: usize, slot: &mut crate::Descriptor<'a>) {
                self.0.push(slot.clone());
            }
        }
        let mut manifests = Cloning(Vec::new());
        let top = crate::fast::read_top(bytes, &mut manifests).ok()?;
        Some(crate::index::finish(top, manifests.0))
    }
}

pub use config::{CompatConfig, Config, ConfigError, HookSpec, OnFailure};
pub use digest::{Digest, DigestError};
pub use index::{Annotations, Descriptor, Index, IndexError};
pub use platform::{Matcher, Mismatch, Platform, PlatformRank};
pub use prefer::{Preference, PreferenceError};
pub use rank::{
    Adjustment, Policy, Ranked, Ranking, Reason, Selection, Streamed, DEFAULT_MAX_MANIFEST_BYTES,
};
