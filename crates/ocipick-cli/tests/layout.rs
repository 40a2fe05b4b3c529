//! Integration tests of `ocipick` on OCI image layout directories built in a
//! temporary directory: tags, nested indexes, and blobs that must be
//! refused (altered, linked out of the layout, FIFOs).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::{json, Value};
use tempfile::TempDir;

/// An OCI image layout under construction.
struct Layout {
    dir: TempDir,
}

impl Layout {
    fn new() -> Layout {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(
            dir.path().join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        Layout { dir }
    }

    fn root(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir.path().join("blobs/sha256").join(hex)
    }

    /// Stores `bytes` as a blob; returns (digest, size).
    fn blob(&self, bytes: &[u8]) -> (String, u64) {
        let d = sha256(bytes);
        std::fs::write(self.blob_path(&d), bytes).unwrap();
        (d, bytes.len() as u64)
    }

    /// Stores an index document as a blob and returns its descriptor
    /// (without platform), tagged `tag` when given.
    fn index_blob(&self, v: &Value, tag: Option<&str>) -> Value {
        let (digest, size) = self.blob(&serde_json::to_vec_pretty(v).unwrap());
        nested(&digest, size, tag)
    }

    fn write_index_json(&self, entries: &[Value]) {
        let v = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
        std::fs::write(
            self.dir.path().join("index.json"),
            serde_json::to_vec_pretty(&v).unwrap(),
        )
        .unwrap();
    }
}

/// A descriptor of a nested index.
fn nested(digest: &str, size: u64, tag: Option<&str>) -> Value {
    let mut d = json!({"mediaType": OCI_INDEX, "digest": digest, "size": size});
    if let Some(t) = tag {
        d["annotations"] = json!({ REF_NAME: t });
    }
    d
}

/// A two-platform image index: [amd64 "NAME-amd64", arm64 "NAME-arm64"].
fn two_platforms(name: &str) -> Value {
    index(&[
        entry(&format!("{name}-amd64"), Some("linux/amd64"), &[]),
        entry(&format!("{name}-arm64"), Some("linux/arm64"), &[]),
    ])
}

fn select(source: &str, platform: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "select",
        "--no-config",
        "-p",
        platform,
        "-o",
        "json",
        source,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// A layout tagging two nested indexes, v1 and v2.
fn tagged_layout() -> (Layout, String, String) {
    let l = Layout::new();
    let v1 = l.index_blob(&two_platforms("one"), Some("v1"));
    let v2 = l.index_blob(&two_platforms("two"), Some("v2"));
    let (d1, d2) = (
        v1["digest"].as_str().unwrap().to_owned(),
        v2["digest"].as_str().unwrap().to_owned(),
    );
    l.write_index_json(&[v1, v2]);
    (l, d1, d2)
}

#[test]
fn tag_forms_select_from_the_nested_index() {
    let (l, d1, d2) = tagged_layout();
    let root = l.root();
    let blob1 = l.blob_path(&d1).display().to_string();
    let with_colon = format!("{root}:v1");
    let oci = format!("oci:{root}:v1");
    let oci_plain = format!("oci:{root}");
    let forms: &[(&str, &[&str])] = &[
        (&with_colon, &[]),
        (&root, &["--tag", "v1"]),
        (&oci, &[]),
        (&oci_plain, &["--tag", "v1"]),
        // The same tag twice is not a conflict.
        (&with_colon, &["--tag", "v1"]),
    ];
    for (source, extra) in forms {
        let v = select(source, "linux/arm64", extra).expect(0).json();
        assert_eq!(
            v["digest"],
            json!(fake_digest("one-arm64")),
            "{source} {extra:?}"
        );
        assert_eq!(v["position"], json!(1), "{source} {extra:?}");
        assert_eq!(v["index"]["source"], json!(blob1), "{source} {extra:?}");
        assert_eq!(v["index"]["digest"], json!(d1), "{source} {extra:?}");
        assert_eq!(v["index"]["entries"], json!(2));
        assert_eq!(v["via"], json!([]), "the tag itself is not a hop");
    }
    let v = select(&format!("{root}:v2"), "linux/amd64", &[])
        .expect(0)
        .json();
    assert_eq!(v["digest"], json!(fake_digest("two-amd64")));
    assert_eq!(v["index"]["digest"], json!(d2));
    assert_eq!(v["position"], json!(0));

    // Two different tags named at once.
    select(&format!("{root}:v1"), "linux/amd64", &["--tag", "v2"])
        .expect(2)
        .stderr_has("\"v1\"")
        .stderr_has("\"v2\"");
}

#[test]
fn single_untagged_entry_needs_no_tag() {
    let l = Layout::new();
    let only = l.index_blob(&two_platforms("only"), None);
    l.write_index_json(&[only]);
    for source in [l.root(), format!("oci:{}", l.root())] {
        let v = select(&source, "linux/arm64", &[]).expect(0).json();
        assert_eq!(v["digest"], json!(fake_digest("only-arm64")), "{source}");
    }
}

#[test]
fn index_json_with_platforms_is_the_index() {
    let l = Layout::new();
    l.write_index_json(&[
        entry("a", Some("linux/amd64"), &[]),
        entry("b", Some("linux/arm64"), &[]),
    ]);
    let v = select(&l.root(), "linux/arm64", &[]).expect(0).json();
    assert_eq!(v["digest"], json!(fake_digest("b")));
    assert_eq!(
        v["index"]["source"],
        json!(format!("{}/index.json", l.root()))
    );
}

#[test]
fn two_tags_and_no_tag_lists_the_tags() {
    let (l, _, _) = tagged_layout();
    let r = select(&l.root(), "linux/amd64", &[]);
    r.expect(2)
        .stderr_has(&l.root())
        .stderr_has("2 entries and no tag given")
        .stderr_has("tags: v1, v2");
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr.lines().count(), 1);
}

#[test]
fn unknown_tag_lists_the_tags() {
    let (l, _, _) = tagged_layout();
    for (source, extra) in [
        (format!("{}:v9", l.root()), vec![]),
        (l.root(), vec!["--tag", "v9"]),
    ] {
        select(&source, "linux/amd64", &extra)
            .expect(2)
            .stderr_has("no entry is tagged \"v9\"")
            .stderr_has("tags: v1, v2");
    }
}

#[test]
fn tagged_image_manifest_is_the_only_candidate() {
    let l = Layout::new();
    let (d, size) = l.blob(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#);
    let other = l.index_blob(&two_platforms("other"), Some("multi"));
    l.write_index_json(&[
        json!({
            "mediaType": OCI_MANIFEST,
            "digest": d,
            "size": size,
            "platform": {"os": "linux", "architecture": "amd64"},
            "annotations": {REF_NAME: "single"},
        }),
        other,
    ]);
    let src = format!("{}:single", l.root());
    let v = select(&src, "linux/amd64", &[]).expect(0).json();
    assert_eq!(v["digest"], json!(d));
    assert_eq!(v["position"], json!(0));
    assert_eq!(v["index"]["entries"], json!(1));
    assert_eq!(
        v["index"]["source"],
        json!(format!("{}/index.json", l.root()))
    );
    let t = run(&["select", "--no-config", "-p", "linux/amd64", &src]);
    t.expect(0);
    assert!(t.stdout.contains("position 0 of 1 in"), "{}", t.stdout);
    // It is still checked against the target.
    select(&src, "linux/arm64", &[])
        .expect(1)
        .stderr_has("it offers linux/amd64");
}

#[test]
fn altered_blob_does_not_match() {
    let (l, d1, _) = tagged_layout();
    let path = l.blob_path(&d1);
    let mut bytes = std::fs::read(&path).unwrap();
    // Same size, different content.
    let i = bytes.iter().position(|&b| b == b'4').unwrap();
    bytes[i] = b'5';
    std::fs::write(&path, &bytes).unwrap();
    let r = select(&format!("{}:v1", l.root()), "linux/amd64", &[]);
    r.expect(2)
        .stderr_has("does not match")
        .stderr_has(&d1)
        .stderr_has(&path.display().to_string());
    assert_eq!(r.stdout, "");

    // A blob longer than its declared size is refused as well.
    let (l, d1, _) = tagged_layout();
    let path = l.blob_path(&d1);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"\n\n");
    std::fs::write(&path, &bytes).unwrap();
    select(&format!("{}:v1", l.root()), "linux/amd64", &[])
        .expect(2)
        .stderr_has("does not match");

    // A missing blob names its path.
    let (l, d1, _) = tagged_layout();
    std::fs::remove_file(l.blob_path(&d1)).unwrap();
    select(&format!("{}:v1", l.root()), "linux/amd64", &[])
        .expect(2)
        .stderr_has(&l.blob_path(&d1).display().to_string());
}

#[test]
fn blob_symlink_out_of_the_layout_is_refused() {
    let (l, d1, _) = tagged_layout();
    let path = l.blob_path(&d1);
    // The right bytes, but outside the layout.
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("stolen");
    std::fs::rename(&path, &target).unwrap();
    std::os::unix::fs::symlink(&target, &path).unwrap();
    select(&format!("{}:v1", l.root()), "linux/amd64", &[])
        .expect(2)
        .stderr_has("leads out of the layout")
        .stderr_has(&path.display().to_string());

    // A link that stays inside the layout is fine.
    let (l, d1, _) = tagged_layout();
    let path = l.blob_path(&d1);
    let inside = l.dir.path().join("blobs/kept");
    std::fs::rename(&path, &inside).unwrap();
    std::os::unix::fs::symlink(&inside, &path).unwrap();
    select(&format!("{}:v1", l.root()), "linux/amd64", &[]).expect(0);
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

/// FIFOs are refused before they are opened, so nothing blocks. `run`
/// kills the process and fails after 10 s.
#[test]
fn fifo_is_refused_without_hanging() {
    // As a blob.
    let l = Layout::new();
    let digest = fake_digest("fifo");
    mkfifo(&l.blob_path(&digest));
    l.write_index_json(&[nested(&digest, 100, Some("v1"))]);
    let r = select(&format!("{}:v1", l.root()), "linux/amd64", &[]);
    r.expect(2)
        .stderr_has("not a regular file")
        .stderr_has(&l.blob_path(&digest).display().to_string());

    // As index.json.
    let l = Layout::new();
    mkfifo(&l.dir.path().join("index.json"));
    select(&l.root(), "linux/amd64", &[])
        .expect(2)
        .stderr_has("not a regular file");

    // As the index file itself.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("index.json");
    mkfifo(&p);
    select(&p.display().to_string(), "linux/amd64", &[])
        .expect(2)
        .stderr_has("not a regular file");
}

#[test]
fn nested_index_in_tagged_index_is_descended() {
    let l = Layout::new();
    // inner: the per-platform images.
    let inner = two_platforms("inner");
    let inner_bytes = serde_json::to_vec(&inner).unwrap();
    let (inner_digest, inner_size) = l.blob(&inner_bytes);
    // outer (tagged): an arm64 image, then the inner index for amd64.
    let mut inner_desc = nested(&inner_digest, inner_size, None);
    inner_desc["platform"] = platform("linux/amd64");
    let outer = index(&[entry("outer-arm64", Some("linux/arm64"), &[]), inner_desc]);
    let outer_desc = l.index_blob(&outer, Some("latest"));
    l.write_index_json(&[outer_desc]);
    let src = format!("{}:latest", l.root());

    let v = select(&src, "linux/amd64", &[]).expect(0).json();
    assert_eq!(v["digest"], json!(fake_digest("inner-amd64")));
    assert_eq!(v["position"], json!(0));
    assert_eq!(v["via"], json!([{"position": 1, "digest": inner_digest}]));
    assert_eq!(v["index"]["digest"], json!(inner_digest));
    assert_eq!(
        v["index"]["source"],
        json!(l.blob_path(&inner_digest).display().to_string())
    );
    // rank descends too, and shows the hop in text.
    let r = run(&["rank", "--no-config", "-p", "linux/amd64", &src]);
    r.expect(0);
    assert!(r.stdout.contains("nested index #1"), "{}", r.stdout);
    assert!(r.stdout.contains(&inner_digest), "{}", r.stdout);
    let r = run(&argv("rank --no-config -p linux/amd64 -o json", &[&src]));
    assert_eq!(r.expect(0).json()["via"][0]["position"], json!(1));
    // arm64 stops at the outer index.
    let v = select(&src, "linux/arm64", &[]).expect(0).json();
    assert_eq!(v["digest"], json!(fake_digest("outer-arm64")));
    assert_eq!(v["via"], json!([]));
}

#[test]
fn escaped_slashes_hash_over_raw_bytes() {
    let l = Layout::new();
    let doc = format!(
        r#"{{"schemaVersion":2,"mediaType":"application\/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application\/vnd.oci.image.manifest.v1+json","digest":"{}","size":500,"platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"application\/vnd.oci.image.manifest.v1+json","digest":"{}","size":500,"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#,
        fake_digest("esc-amd64"),
        fake_digest("esc-arm64")
    );
    assert!(doc.contains(r"application\/vnd"));
    let (d, size) = l.blob(doc.as_bytes());
    // The digest of the unescaped form differs: only raw bytes verify.
    assert_ne!(d, sha256(doc.replace(r"\/", "/").as_bytes()));
    l.write_index_json(&[nested(&d, size, Some("esc"))]);
    let v = select(&format!("{}:esc", l.root()), "linux/arm64", &[])
        .expect(0)
        .json();
    assert_eq!(v["digest"], json!(fake_digest("esc-arm64")));
    assert_eq!(v["mediaType"], json!(OCI_MANIFEST));
    assert_eq!(v["index"]["digest"], json!(d));
}

#[test]
fn not_a_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    select(&dir.path().display().to_string(), "linux/amd64", &[])
        .expect(2)
        .stderr_has("not an OCI image layout");
    std::fs::write(
        dir.path().join("oci-layout"),
        br#"{"imageLayoutVersion":"2.0.0"}"#,
    )
    .unwrap();
    select(&dir.path().display().to_string(), "linux/amd64", &[])
        .expect(2)
        .stderr_has("unsupported imageLayoutVersion");
}
