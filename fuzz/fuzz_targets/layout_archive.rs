//! Arbitrary bytes as an `oci-archive` (a tar of an OCI image layout):
//! written to a scratch file, then opened, resolved and read as the CLI
//! does (`ArchiveLayout::open`, `index_json`, `resolve` with and without a
//! tag, `blob` for the first entries and the resolved one).
//!
//! Input: byte 0 = size limit selector, then the archive's bytes.
//!
//! Asserted: no panic; `index_json` is within the limit; every blob
//! returned has its descriptor's size, hashes to its digest and is within
//! the limit.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ocipick::Index;
use ocipick_registry::{ArchiveLayout, LayoutTarget};

fn scratch() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let base = std::env::temp_dir().join(format!(
            "ocipick-fuzz-layout-archive-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        base.join("image.tar")
    })
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&sel, archive)) = bytes.split_first() else {
        return;
    };
    let limit = match sel % 4 {
        0 => 4 << 20,
        1 => 64,
        2 => u64::MAX,
        _ => 1024,
    };
    let path = scratch();
    std::fs::write(path, archive).unwrap();
    let Ok(layout) = ArchiveLayout::open(path, limit) else {
        return;
    };
    let Ok(top) = layout.index_json() else {
        return;
    };
    assert!(top.len() as u64 <= limit);
    let Ok(index) = Index::parse(&top) else {
        return;
    };
    let check = |d: &ocipick::Descriptor<'_>| {
        if let Ok(b) = layout.blob(d) {
            assert_eq!(b.len() as u64, d.size);
            assert!(d.digest.verify(&b));
            assert!(b.len() as u64 <= limit);
        }
    };
    for d in index.manifests.iter().take(4) {
        check(d);
    }
    let tag = index
        .manifests
        .first()
        .and_then(|d| d.annotations.get("org.opencontainers.image.ref.name"))
        .map(|t| t.to_string());
    for t in [None, tag.as_deref(), Some("latest")] {
        if let Ok(LayoutTarget::Entry(d)) = layout.resolve(&index, t) {
            check(&d);
        }
    }
});
