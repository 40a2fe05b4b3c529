//! Lints every real-world document of the corpus (none may panic) and
//! compares the findings with the recorded snapshot,
//! `testdata/lint-snapshot.txt`: one line a document, its finding IDs with
//! their JSON paths. A change in the rules shows up here as a diff.
//! Regenerate with `OCIPICK_UPDATE_SNAPSHOTS=1 cargo test --test lint_snapshot`.

use std::path::Path;

#[test]
fn corpus_findings_match_the_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let mut lines = Vec::new();
    for dir in ["corpus", "corpus/invalid"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let found = ocipick::lint::lint(&bytes, ocipick::DEFAULT_MAX_MANIFEST_BYTES);
            let ids: Vec<String> = found
                .iter()
                .map(|x| format!("{}@{}", x.id, x.path))
                .collect();
            lines.push(format!(
                "{dir}/{}: {}",
                f.file_name().unwrap().to_string_lossy(),
                if ids.is_empty() {
                    "clean".to_owned()
                } else {
                    ids.join(" ")
                }
            ));
        }
    }
    let got = lines.join("\n") + "\n";
    let snapshot = root.join("lint-snapshot.txt");
    if std::env::var("OCIPICK_UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::write(&snapshot, &got).unwrap();
    }
    let want = std::fs::read_to_string(&snapshot).expect("testdata/lint-snapshot.txt");
    assert_eq!(
        got, want,
        "lint findings changed; review and regenerate the snapshot"
    );
    assert!(lines.len() >= 54, "{} documents", lines.len());
}
