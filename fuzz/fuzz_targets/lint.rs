//! Arbitrary bytes as an index to lint, and as a string for lint's own
//! syntax checkers.
//!
//! Asserted: `lint` never panics; every finding's ID is a rule of
//! `RULES` with that rule's severity and a hint, and findings come errors
//! first, then by JSON path. Where `Index::parse` (selection's reader)
//! accepts the document, lint's errors are only those `docs/decisions.md`
//! lists as tolerated by selection, and lint's findings on `artifactType`,
//! `urls` and `data` (OCI019–OCI024) are exactly what the parsed model's
//! fields call for, computed here again, with the `base64` crate's
//! `STANDARD` engine as the oracle for base 64. The input as a string:
//! `ocipick::base64::decode` agrees with that engine, and `uri::check`
//! does not panic and accepts only ASCII that starts with a scheme.
#![no_main]

use std::collections::BTreeSet;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use ocipick::lint::{lint, Finding, Severity, RULES};
use ocipick::{media_type, Descriptor, Index};

/// The errors lint may report on a document selection accepts (the list in
/// `docs/decisions.md`, "What select tolerates and lint reports").
const TOLERATED: &[&str] = &[
    "OCI005", "OCI006", "OCI007", "OCI019", "OCI020", "OCI022", "OCI023", "OCI024",
];

/// What lint must say about one descriptor's unused fields, at `path`.
fn expected(d: &Descriptor<'_>, path: &str, out: &mut BTreeSet<(&'static str, String)>) {
    if let Some(a) = &d.artifact_type {
        if !media_type::is_valid(a) {
            out.insert(("OCI019", format!("{path}.artifactType")));
        }
    }
    for (j, u) in d.urls.iter().enumerate() {
        let at = format!("{path}.urls[{j}]");
        match ocipick::uri::check(u) {
            Err(_) => {
                out.insert(("OCI020", at));
            }
            Ok(()) => {
                let scheme = u.split(':').next().unwrap().to_ascii_lowercase();
                if scheme != "http" && scheme != "https" {
                    out.insert(("OCI021", at));
                }
            }
        }
    }
    if let Some(data) = &d.data {
        let at = format!("{path}.data");
        match base64::engine::general_purpose::STANDARD.decode(data.as_bytes()) {
            Err(_) => {
                out.insert(("OCI022", at));
            }
            Ok(bytes) => {
                if bytes.len() as u64 != d.size {
                    out.insert(("OCI023", at.clone()));
                }
                if d.digest.compute_like(&bytes).is_some_and(|g| g != d.digest) {
                    out.insert(("OCI024", at));
                }
            }
        }
    }
}

fn check_findings(found: &[Finding]) {
    for f in found {
        let rule = RULES.iter().find(|r| r.0 == f.id);
        let rule = rule.unwrap_or_else(|| panic!("{} is not in RULES", f.id));
        assert_eq!(rule.1, f.severity, "{}", f.id);
        assert!(!f.hint.is_empty(), "{} has no hint", f.id);
    }
    for w in found.windows(2) {
        assert!(
            w[0].severity > w[1].severity
                || (w[0].severity == w[1].severity && w[0].path <= w[1].path),
            "findings out of order: {:?} before {:?}",
            w[0],
            w[1]
        );
    }
}

fuzz_target!(|bytes: &[u8]| {
    if let Ok(s) = std::str::from_utf8(bytes) {
        let mine = ocipick::base64::decode(s).ok();
        let theirs = base64::engine::general_purpose::STANDARD.decode(s).ok();
        assert_eq!(mine, theirs, "base 64 decoders disagree on {s:?}");
        if ocipick::uri::check(s).is_ok() {
            assert!(s.is_ascii() && s.contains(':'), "{s:?}");
            assert!(s.as_bytes()[0].is_ascii_alphabetic(), "{s:?}");
        }
    }

    let limit = match bytes.first() {
        Some(b) if b % 4 == 0 => 0,
        Some(b) if b % 4 == 1 => 1024,
        _ => ocipick::DEFAULT_MAX_MANIFEST_BYTES,
    };
    let found = lint(bytes, limit);
    check_findings(&found);

    let Ok(index) = Index::parse(bytes) else {
        return;
    };
    for f in &found {
        // lint reads the document as a serde_json::Value, which refuses
        // numbers beyond f64 and nesting beyond 128 levels in fields
        // selection skips; it then says "not JSON" (a known limit).
        if f.id == "OCI001" {
            return;
        }
        if f.severity == Severity::Error {
            assert!(
                TOLERATED.contains(&f.id),
                "Index::parse accepts, lint reports {f:?}"
            );
        }
    }
    let mut want = BTreeSet::new();
    for (i, d) in index.manifests.iter().enumerate() {
        expected(d, &format!("manifests[{i}]"), &mut want);
    }
    if let Some(s) = &index.subject {
        expected(s, "subject", &mut want);
    }
    if let Some(a) = &index.artifact_type {
        if !media_type::is_valid(a) {
            want.insert(("OCI019", "artifactType".to_owned()));
        }
    }
    // `null` reads as absent in the model, so those findings (which say
    // "is null") have no field to be recomputed from.
    let got: BTreeSet<(&'static str, String)> = found
        .iter()
        .filter(|f| ["OCI019", "OCI020", "OCI021", "OCI022", "OCI023", "OCI024"].contains(&f.id))
        .filter(|f| !f.message.ends_with("is null, not a string"))
        .map(|f| (f.id, f.path.clone()))
        .collect();
    assert_eq!(got, want, "lint's findings on artifactType, urls, data");
});
