//! Arbitrary bytes as a PCI ID database (`pci.ids`): `PciIds::parse`, then
//! lookups of the IDs that the input's own lines start with.
//!
//! Asserted: no panic; every name found is non-empty, has no control
//! characters and is what follows an ID on some line of the input; a vendor is found only when some
//! line of the input starts with its ID (no tab before it).
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use ocipick_host::PciIds;

/// Every name found is checked once, after the lookups: it must be the
/// text after the first double space of some line of the input.
fn check(names: BTreeSet<&str>, lines: &[&[u8]]) {
    let said: BTreeSet<&[u8]> = lines
        .iter()
        .filter_map(|l| {
            let at = l.windows(2).position(|w| w == b"  ")?;
            Some(std::str::from_utf8(&l[at..]).ok()?.trim().as_bytes())
        })
        .collect();
    for n in names {
        assert!(!n.is_empty());
        assert!(!n.chars().any(char::is_control), "{n:?}");
        assert!(said.contains(n.as_bytes()), "{n:?} is not in the input");
    }
}

fuzz_target!(|bytes: &[u8]| {
    let db = PciIds::parse(bytes);
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    assert!(db.vendors() <= lines.len());
    // The IDs the lines start with, after their tabs.
    let ids: Vec<String> = lines
        .iter()
        .take(64)
        .filter_map(|l| {
            let l = &l[l.iter().take_while(|&&b| b == b'\t').count()..];
            std::str::from_utf8(l.get(..4)?).ok().map(str::to_owned)
        })
        .collect();
    let mut found = BTreeSet::new();
    for v in &ids {
        let name = db.vendor(v);
        found.extend(name);
        if name.is_some() {
            let at_start = lines
                .iter()
                .any(|l| l.len() >= 4 && l[..4].eq_ignore_ascii_case(v.as_bytes()));
            assert!(at_start, "vendor {v} found, but no line starts with it");
        }
        for d in ids.iter().take(8) {
            found.extend(db.device(v, d));
            for s in ids.iter().take(4) {
                found.extend(db.subsystem(v, d, s, d));
            }
        }
    }
    check(found, &lines);
});
