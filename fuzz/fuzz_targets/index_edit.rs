//! Arbitrary index bytes and arbitrary annotation edits
//! (`ocipick::edit::apply`).
//!
//! Input: a first line of edits separated by `0x1e`, each
//! `SELECTOR\tKEY[\tVALUE]` (no value: remove the key), then the index
//! bytes.
//!
//! Asserted: `apply` never fails its own final check (`Internal`); it
//! fails only where the document is not an index, an edit is malformed or
//! picks no entry. Where it succeeds, the result parses as an index; the
//! splices are in order, disjoint, and rebuild the result from the original,
//! so every byte outside them is unchanged; and every edited key holds what
//! the last edit of it asked for.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use ocipick::edit::{apply, Edit, EditError};
use ocipick::{Index, Platform};

fuzz_target!(|data: &[u8]| {
    let (head, doc) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(head) = std::str::from_utf8(head) else {
        return;
    };
    let host = Platform::new("linux", "amd64", None);
    let mut edits = Vec::new();
    for spec in head.split('\u{1e}').take(8) {
        let mut f = spec.splitn(3, '\t');
        let (Some(sel), Some(key)) = (f.next(), f.next()) else {
            return;
        };
        match Edit::new(sel, key, f.next().map(str::to_owned), &host) {
            Ok(e) => edits.push(e),
            Err(_) => return,
        }
    }
    let result = apply(doc, &edits);
    let old = match (Index::parse(doc), &result) {
        (Err(_), Err(EditError::Index(_))) => return,
        (Err(e), r) => panic!("Index::parse refused ({e}) but apply gave {r:?}"),
        (Ok(old), _) => old,
    };
    let edited = match result {
        Ok(e) => e,
        Err(EditError::NoMatch { .. }) => {
            assert!(edits.iter().any(|e| e.selector.matches(&old).is_empty()));
            return;
        }
        Err(e) => panic!("apply failed on a valid index: {e}"),
    };
    let new = Index::parse(&edited.bytes).expect("the edited index parses");
    assert_eq!(new.manifests.len(), old.manifests.len());
    // Splices rebuild the new bytes from the old: nothing else differs.
    let mut rebuilt = Vec::new();
    let mut at = 0;
    for s in &edited.splices {
        assert!(s.old.start >= at && s.old.end <= doc.len() && s.old.start <= s.old.end);
        rebuilt.extend_from_slice(&doc[at..s.old.start]);
        rebuilt.extend_from_slice(&edited.bytes[s.new.clone()]);
        at = s.old.end;
    }
    rebuilt.extend_from_slice(&doc[at..]);
    assert_eq!(rebuilt, edited.bytes, "bytes outside the splices changed");
    if edited.changes.is_empty() {
        assert_eq!(edited.bytes, doc);
    }
    // The last edit of each (entry, key) decides its value.
    let mut want: BTreeMap<(usize, &str), Option<&str>> = BTreeMap::new();
    for e in &edits {
        for p in e.selector.matches(&old) {
            want.insert((p, e.key.as_str()), e.value.as_deref());
        }
    }
    for ((p, k), v) in want {
        assert_eq!(new.manifests[p].annotations.get(k).map(|v| &**v), v, "#{p} {k}");
    }
    // Everything but annotations is as it was.
    for (a, b) in old.manifests.iter().zip(&new.manifests) {
        let mut a = a.clone();
        a.annotations = b.annotations.clone();
        assert_eq!(&a, b);
    }
});
