//! What a client can send the mirror: arbitrary request paths and queries
//! (routing, upstream choice), and arbitrary upstream indexes for
//! `--mode reorder`. Never a panic; a route's name is a valid repository
//! name taken from the path; a reordered index holds the same entries and
//! differs from the original only in their order; a placement for the
//! runtime's matcher is one that runtime then takes the chosen entry from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocipick_mirror::runtime::{Placement, Runtime};
use ocipick_mirror::{reorder, route};
use serde_json::Value;

fuzz_target!(|bytes: &[u8]| {
    // First line: the request target; then two bytes of positions; the
    // rest: an index document.
    let (line, rest) = match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[][..]),
    };
    if let Ok(target) = std::str::from_utf8(line) {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if let Some(r) = route::parse(path) {
            assert!(path.contains(r.name), "{path:?} -> {r:?}");
            assert!(path.ends_with(r.rest), "{path:?} -> {r:?}");
            let (ns, _) = route::take_query_param(query, "ns");
            let ups = ["docker.io".to_owned(), "127.0.0.1:5000".to_owned()];
            if let Ok((i, name)) = route::pick_upstream(&ups, ns, r.name) {
                assert!(i < ups.len());
                assert!(r.name.ends_with(name));
            }
        }
    }
    if rest.len() < 2 {
        return;
    }
    let (from, to) = (rest[0] as usize % 8, rest[1] as usize % 8);
    let doc = &rest[2..];
    let runtime = Runtime::new(&ocipick::Platform::new("linux", "amd64", None));
    if let Ok(Placement::Reordered { bytes: new, to: t }) = runtime.place(doc, from) {
        let old = ocipick::Index::parse(doc).expect("it was read");
        let idx = ocipick::Index::parse(&new).expect("a readable index");
        assert_eq!(runtime.takes(&idx), Some(t));
        assert_eq!(idx.manifests[t].digest, old.manifests[from].digest);
    }
    if let Ok(out) = reorder::move_entry(doc, from, to) {
        // serde_json::Value refuses numbers beyond f64 that skipped fields
        // may hold; such documents are compared no further.
        let Ok(before) = serde_json::from_slice::<Value>(doc) else {
            return;
        };
        let after: Value = serde_json::from_slice(&out).expect("a valid document");
        let mut b = before["manifests"].as_array().expect("manifests").clone();
        let a = after["manifests"].as_array().expect("manifests").clone();
        assert_eq!(a[to], b[from]);
        let moved = b.remove(from);
        b.insert(to, moved);
        assert_eq!(a, b);
        let strip = |mut v: Value| {
            v.as_object_mut().map(|o| o.remove("manifests"));
            v
        };
        assert_eq!(strip(before), strip(after));
    }
});
