//! Arbitrary files as an OCI image layout: `oci-layout`, `index.json` and
//! one blob, written into a scratch directory, then opened, resolved and
//! read as the CLI does. The blob is stored under its own sha256 and under
//! every digest `index.json` names (so size and digest checks run), as a
//! regular file, a symbolic link out of the layout, a link inside it, a
//! FIFO or a directory.
//!
//! Input: byte 0 = blob kind, byte 1 = size limit, then NUL-separated
//! `oci-layout`, `index.json`, blob and tag.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ocipick::{Digest, Index};
use ocipick_registry::{Layout, LayoutTarget, SourceError};

fn scratch() -> &'static (PathBuf, PathBuf) {
    static DIR: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("ocipick-fuzz-layout-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let outside = base.join("outside");
        std::fs::write(&outside, b"{\"schemaVersion\":2,\"manifests\":[]}").unwrap();
        (base.join("layout"), outside)
    })
}

fn place(path: &Path, blob: &[u8], kind: u8, outside: &Path, inside: &Path) {
    let _ = std::fs::create_dir_all(path.parent().unwrap());
    match kind % 5 {
        1 => {
            let _ = std::os::unix::fs::symlink(outside, path);
        }
        2 => {
            let _ = std::os::unix::fs::symlink(inside, path);
        }
        3 => {
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            unsafe { libc_mkfifo(c.as_ptr(), 0o600) };
        }
        4 => {
            let _ = std::fs::create_dir_all(path);
        }
        _ => {
            let _ = std::fs::write(path, blob);
        }
    }
}

extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

fn blob_path(root: &Path, d: &Digest<'_>) -> PathBuf {
    root.join("blobs").join(d.algorithm()).join(d.encoded())
}

fuzz_target!(|bytes: &[u8]| {
    if bytes.len() < 2 {
        return;
    }
    let (kind, limit_sel) = (bytes[0], bytes[1]);
    let mut parts = bytes[2..].split(|&b| b == 0);
    let marker = parts.next().unwrap_or(b"");
    let index_json = parts.next().unwrap_or(b"");
    let blob = parts.next().unwrap_or(b"");
    let tag = parts.next().and_then(|t| std::str::from_utf8(t).ok());
    let limit = match limit_sel % 4 {
        0 => 4 << 20,
        1 => 64,
        2 => u64::MAX,
        _ => blob.len() as u64,
    };

    let (root, outside) = scratch();
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join("oci-layout"), marker).unwrap();
    std::fs::write(root.join("index.json"), index_json).unwrap();
    let own = Digest::sha256_of(blob);
    let inside = blob_path(root, &own);
    place(&inside, blob, 0, outside, &inside);
    if let Ok(index) = Index::parse(index_json) {
        for d in index.manifests.iter().take(4) {
            let p = blob_path(root, &d.digest);
            if p != inside {
                place(&p, blob, kind, outside, &inside);
            }
        }
    }

    let Ok(layout) = Layout::open(root, limit) else {
        return;
    };
    let Ok(doc) = layout.index_json() else {
        return;
    };
    assert!(doc.len() as u64 <= limit);
    let Ok(index) = Index::parse(&doc) else {
        return;
    };
    for d in index.manifests.iter().take(4) {
        match layout.blob(d) {
            Ok(b) => {
                assert_eq!(b.len() as u64, d.size);
                assert!(d.digest.verify(&b));
                assert!(b.len() as u64 <= limit);
            }
            Err(SourceError::Layout { .. }) if kind % 5 == 1 => {}
            Err(_) => {}
        }
    }
    for t in [None, tag] {
        if let Ok(LayoutTarget::Entry(d)) = layout.resolve(&index, t) {
            if let Ok(b) = layout.blob(&d) {
                assert!(d.digest.verify(&b));
            }
        }
    }
});
