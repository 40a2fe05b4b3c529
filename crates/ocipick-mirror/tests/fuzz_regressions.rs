//! Crash inputs of the `mirror_request` fuzz target
//! (fuzz/fuzz_targets/mirror_request.rs), replayed: routing never panics,
//! a reordered index holds the same entries in the new order, and a
//! placement for the runtime's matcher makes that runtime take the entry.

use ocipick_mirror::runtime::{Placement, Runtime};
use ocipick_mirror::{reorder, route};
use serde_json::Value;

#[test]
fn mirror_request_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fuzz-regressions/mirror_request");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("regression inputs")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let (line, rest) = match bytes.iter().position(|&b| b == b'\n') {
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None => (&bytes[..], &[][..]),
        };
        if let Ok(target) = std::str::from_utf8(line) {
            let path = target.split('?').next().unwrap_or(target);
            if let Some(r) = route::parse(path) {
                assert!(path.ends_with(r.rest));
            }
        }
        if rest.len() < 2 {
            continue;
        }
        let (from, to) = (rest[0] as usize % 8, rest[1] as usize % 8);
        let doc = &rest[2..];
        let runtime = Runtime::new(&ocipick::Platform::new("linux", "amd64", None));
        if let Ok(Placement::Reordered { bytes: new, to: t }) = runtime.place(doc, from) {
            let old = ocipick::Index::parse(doc).unwrap();
            let idx = ocipick::Index::parse(&new).unwrap();
            assert_eq!(runtime.takes(&idx), Some(t), "{}", path.display());
            assert_eq!(idx.manifests[t].digest, old.manifests[from].digest);
        }
        if let Ok(out) = reorder::move_entry(doc, from, to) {
            // Value refuses numbers beyond f64 that skipped fields may hold.
            let Ok(before) = serde_json::from_slice::<Value>(doc) else {
                continue;
            };
            let after: Value = serde_json::from_slice(&out).unwrap();
            let mut b = before["manifests"].as_array().unwrap().clone();
            let moved = b.remove(from);
            b.insert(to, moved);
            assert_eq!(
                after["manifests"].as_array().unwrap(),
                &b,
                "{}",
                path.display()
            );
        }
    }
}
