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

/// A tar archive written member by member, with full control of the
/// names and types (the `tar` crate's builder cleans names up; hostile
/// archives need the raw bytes).
#[derive(Default)]
struct Tar {
    bytes: Vec<u8>,
}

impl Tar {
    fn member(&mut self, name: &str, kind: tar::EntryType, data: &[u8]) -> &mut Tar {
        let mut h = tar::Header::new_ustar();
        let field = &mut h.as_old_mut().name;
        assert!(
            name.len() <= field.len(),
            "{name}: too long for a plain header"
        );
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        if kind.is_symlink() {
            h.set_link_name("/etc/passwd").unwrap();
        }
        h.set_cksum();
        self.bytes.extend_from_slice(h.as_bytes());
        self.bytes.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.bytes.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Tar {
        self.member(name, tar::EntryType::Regular, data)
    }

    /// The archive with its two end-of-archive blocks.
    fn finish(&self) -> Vec<u8> {
        let mut b = self.bytes.clone();
        b.extend_from_slice(&[0u8; 1024]);
        b
    }

    /// Every file of the layout directory `dir`, names prefixed with
    /// `prefix` (`""` as skopeo writes them, `"./"` as `tar -C DIR .`
    /// does), directories listed when `dirs`.
    fn of_dir(dir: &Path, prefix: &str, dirs: bool) -> Tar {
        fn walk(t: &mut Tar, root: &Path, at: &Path, prefix: &str, dirs: bool) {
            let mut names: Vec<_> = std::fs::read_dir(at)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            names.sort();
            for p in names {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                if p.is_dir() {
                    if dirs {
                        t.member(&format!("{prefix}{rel}/"), tar::EntryType::Directory, b"");
                    }
                    walk(t, root, &p, prefix, dirs);
                } else {
                    t.file(&format!("{prefix}{rel}"), &std::fs::read(&p).unwrap());
                }
            }
        }
        let mut t = Tar::default();
        if dirs {
            t.member(prefix, tar::EntryType::Directory, b"");
        }
        walk(&mut t, dir, dir, prefix, dirs);
        t
    }
}

/// Writes `bytes` as `NAME` in a new temporary directory.
fn archive_file(bytes: &[u8], name: &str) -> (TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    (dir, p.display().to_string())
}

/// A layout whose `index.json` has one entry, a nested two-platform index
/// tagged `v1`: with or without the tag, every spelling names the same
/// index. Returns the layout and the nested index's digest.
fn one_tag_layout() -> (Layout, String) {
    let l = Layout::new();
    let v1 = l.index_blob(&two_platforms("one"), Some("v1"));
    let d = v1["digest"].as_str().unwrap().to_owned();
    l.write_index_json(&[v1]);
    (l, d)
}

/// Every spelling of a layout, directory or archive, gives one answer.
#[test]
fn every_layout_spelling_gives_one_answer() {
    let (l, d1) = one_tag_layout();
    let root = l.root();
    let (_a, plain) = archive_file(&Tar::of_dir(l.dir.path(), "", false).finish(), "image.tar");
    let (_b, dotted) = archive_file(&Tar::of_dir(l.dir.path(), "./", true).finish(), "dot.tar");
    let rows: Vec<(String, Vec<&str>, String)> = vec![
        (root.clone(), vec![], root.clone()),
        (format!("{root}:v1"), vec![], root.clone()),
        (root.clone(), vec!["--tag", "v1"], root.clone()),
        (format!("oci:{root}"), vec![], root.clone()),
        (format!("oci:{root}:v1"), vec![], root.clone()),
        (format!("ocidir://{root}"), vec![], root.clone()),
        (format!("ocidir://{root}:v1"), vec![], root.clone()),
        (
            format!("ocidir://{root}"),
            vec!["--tag", "v1"],
            root.clone(),
        ),
        (format!("oci-archive:{plain}"), vec![], format!("{plain}!")),
        (
            format!("oci-archive:{plain}:v1"),
            vec![],
            format!("{plain}!"),
        ),
        (
            format!("oci-archive:{plain}"),
            vec!["--tag", "v1"],
            format!("{plain}!"),
        ),
        (
            format!("oci-archive:{dotted}"),
            vec![],
            format!("{dotted}!"),
        ),
        (
            format!("oci-archive:{dotted}:v1"),
            vec![],
            format!("{dotted}!"),
        ),
    ];
    let hex = d1.strip_prefix("sha256:").unwrap();
    for (source, extra, place) in &rows {
        let what = format!("{source} {extra:?}");
        let v = select(source, "linux/arm64", extra).expect(0).json();
        assert_eq!(v["digest"], json!(fake_digest("one-arm64")), "{what}");
        assert_eq!(v["position"], json!(1), "{what}");
        assert_eq!(v["index"]["digest"], json!(d1), "{what}");
        assert_eq!(v["index"]["entries"], json!(2), "{what}");
        assert_eq!(
            v["index"]["source"],
            json!(format!("{place}/blobs/sha256/{hex}")),
            "{what}"
        );
        // rank agrees, in text too.
        let r = run(&argv("rank --no-config -p linux/amd64", &[source])
            .into_iter()
            .chain(extra.iter().copied())
            .collect::<Vec<_>>());
        r.expect(0);
        assert!(
            r.stdout.contains(&fake_digest("one-amd64")),
            "{what}: {}",
            r.stdout
        );
    }
    // An archive's tag and --tag must agree, as for directories.
    select(
        &format!("oci-archive:{plain}:v1"),
        "linux/amd64",
        &["--tag", "v2"],
    )
    .expect(2)
    .stderr_has("\"v1\"")
    .stderr_has("\"v2\"");
}

/// The issue's one table: the same selection through every platform
/// spelling (containerd's, crane's and oras's `:osversion`, regctl's
/// `,osver=`/`,osversion=`, aliases, a lone architecture, `local/…` and
/// `local`) and every layout spelling (`DIR`, `DIR:TAG`, `--tag`, `oci:`,
/// `ocidir://`, `oci-archive:` with and without `./` names, and the index
/// as a plain file) gives one answer per target: the same digest, and
/// from layouts and archives (`select --raw`) the same manifest bytes.
#[test]
fn every_platform_spelling_through_every_layout_spelling_gives_one_answer() {
    let l = Layout::new();
    // Real manifests stored as blobs (so --raw has bytes to print), each
    // for one platform; 1809 comes before 2022 so that a loose Windows
    // match would pick the wrong build.
    let w1809 = "10.0.17763.3406";
    let w2022 = "10.0.20348.1006";
    let builds: [(&str, Value); 5] = [
        (
            "win-1809",
            json!({"os": "windows", "architecture": "amd64", "os.version": w1809}),
        ),
        (
            "win-2022",
            json!({"os": "windows", "architecture": "amd64", "os.version": w2022}),
        ),
        ("linux-amd64", platform("linux/amd64")),
        ("linux-arm64", platform("linux/arm64")),
        ("linux-arm-v7", platform("linux/arm/v7")),
    ];
    let mut entries = Vec::new();
    let mut manifests = std::collections::BTreeMap::new();
    for (name, plat) in &builds {
        let config = format!(r#"{{"build":"{name}"}}"#);
        let m = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256(config.as_bytes()),
                "size": config.len(),
            },
            "layers": [],
        });
        let bytes = serde_json::to_vec(&m).unwrap();
        let (digest, size) = l.blob(&bytes);
        entries.push(
            json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": size, "platform": plat}),
        );
        manifests.insert(*name, (digest, bytes));
    }
    let inner = index(&entries);
    let v1 = l.index_blob(&inner, Some("v1"));
    l.write_index_json(&[v1]);
    let root = l.root();
    let (_a, plain) = archive_file(&Tar::of_dir(l.dir.path(), "", false).finish(), "image.tar");
    let (_b, dotted) = archive_file(&Tar::of_dir(l.dir.path(), "./", true).finish(), "dot.tar");
    let (_c, file) = archive_file(&serde_json::to_vec_pretty(&inner).unwrap(), "index.json");
    // (source, extra arguments): every layout spelling.
    let layouts: Vec<(String, Vec<&str>)> = vec![
        (root.clone(), vec![]),
        (format!("{root}:v1"), vec![]),
        (root.clone(), vec!["--tag", "v1"]),
        (format!("oci:{root}"), vec![]),
        (format!("oci:{root}:v1"), vec![]),
        (format!("ocidir://{root}"), vec![]),
        (format!("ocidir://{root}:v1"), vec![]),
        (format!("ocidir://{root}"), vec!["--tag", "v1"]),
        (format!("oci-archive:{plain}"), vec![]),
        (format!("oci-archive:{plain}:v1"), vec![]),
        (format!("oci-archive:{plain}"), vec!["--tag", "v1"]),
        (format!("oci-archive:{dotted}"), vec![]),
        (format!("oci-archive:{dotted}:v1"), vec![]),
    ];
    // (the build every spelling must select, the spellings; None: no -p).
    let windows = |v: &str| -> Vec<Option<String>> {
        vec![
            Some(format!("windows({v})/amd64")),      // containerd, nerdctl
            Some(format!("windows({v})/x86_64")),     // containerd's alias
            Some(format!("windows/amd64:{v}")),       // crane, oras
            Some(format!("windows/amd64,osver={v}")), // regctl
            Some(format!("windows/amd64,osversion={v}")),
        ]
    };
    let some =
        |v: &[&str]| -> Vec<Option<String>> { v.iter().map(|s| Some((*s).to_owned())).collect() };
    let mut rows: Vec<(&str, Vec<Option<String>>)> = vec![
        ("win-1809", windows(w1809)),
        ("win-2022", windows(w2022)),
        (
            "linux-arm64",
            some(&[
                "linux/arm64",
                "linux/arm64/v8",
                "linux/aarch64",
                "arm64",
                "local/arm64",
            ]),
        ),
        (
            "linux-arm-v7",
            some(&["linux/arm/v7", "linux/arm", "linux/armhf", "local/arm/v7"]),
        ),
    ];
    // `local` is this machine: the same as naming its platform, and as no
    // -p at all (where this index has a build for it).
    let host = run(&["host", "-o", "json"]).expect(0).json();
    let host = host["platform"].as_str().unwrap().to_owned();
    let local_build = if host.starts_with("linux/amd64") {
        Some("linux-amd64")
    } else if host == "linux/arm64" || host.starts_with("linux/arm64/") {
        Some("linux-arm64")
    } else {
        None
    };
    if let Some(b) = local_build {
        rows.push((b, vec![Some("local".into()), Some(host.clone()), None]));
    } else {
        eprintln!("no build in this index for this machine ({host}): the local row is skipped");
    }

    let mut answers = 0;
    for (build, spellings) in &rows {
        let (want, bytes) = &manifests[build];
        let text = std::str::from_utf8(bytes).unwrap();
        for p in spellings {
            let mut target: Vec<&str> = vec!["--no-config"];
            if let Some(p) = p {
                target.extend(["-p", p.as_str()]);
            }
            for (source, extra) in &layouts {
                let what = format!("-p {p:?} {source} {extra:?}");
                let mut args = vec!["select", "--raw", "-o", "json"];
                args.extend(&target);
                args.extend(extra);
                args.push(source);
                let v = run(&args).expect(0).json();
                assert_eq!(v["digest"], json!(want), "{what}");
                assert_eq!(v["manifest"]["text"], json!(text), "{what}");
                answers += 1;
            }
            // The index as a plain file: the digest alone (no manifests
            // there for --raw).
            let mut args = vec!["digest"];
            args.extend(&target);
            args.push(&file);
            let r = run(&args);
            assert_eq!(r.expect(0).stdout, format!("{want}\n"), "-p {p:?} {file}");
            answers += 1;
        }
    }
    assert!(answers >= 4 * 5 * (layouts.len() + 1), "{answers} answers");
    eprintln!("{answers} answers, one per target");
    // And a spelling that names no version is not one of them.
    select(&format!("{root}:v1"), "linux/arm64,osver=", &[])
        .expect(2)
        .stderr_has("--platform");
}

/// An archive whose `index.json` lists the platforms is itself the index,
/// and a nested index inside is descended into from the archive.
#[test]
fn archive_index_json_with_platforms_and_nested_index() {
    let l = Layout::new();
    let inner = two_platforms("inner");
    let (inner_digest, inner_size) = l.blob(&serde_json::to_vec(&inner).unwrap());
    let mut inner_desc = nested(&inner_digest, inner_size, None);
    inner_desc["platform"] = platform("linux/amd64");
    l.write_index_json(&[entry("top-arm64", Some("linux/arm64"), &[]), inner_desc]);
    let (_a, file) = archive_file(&Tar::of_dir(l.dir.path(), "", false).finish(), "x.tar");
    let src = format!("oci-archive:{file}");
    let v = select(&src, "linux/arm64", &[]).expect(0).json();
    assert_eq!(v["digest"], json!(fake_digest("top-arm64")));
    assert_eq!(v["index"]["source"], json!(format!("{file}!/index.json")));
    let v = select(&src, "linux/amd64", &[]).expect(0).json();
    assert_eq!(v["digest"], json!(fake_digest("inner-amd64")));
    assert_eq!(v["via"], json!([{"position": 1, "digest": inner_digest}]));
}

/// Archives that must be refused: each exits 2 with a message that says
/// what is wrong and where, and prints nothing on stdout.
#[test]
fn bad_archives_are_refused() {
    let (l, d1) = one_tag_layout();
    let good = Tar::of_dir(l.dir.path(), "", false).finish();
    let blob_name = format!("blobs/sha256/{}", d1.strip_prefix("sha256:").unwrap());
    let blob = std::fs::read(l.blob_path(&d1)).unwrap();
    let marker = br#"{"imageLayoutVersion":"1.0.0"}"#;
    let index_json = std::fs::read(l.dir.path().join("index.json")).unwrap();
    // The layout's files with one changed: `(name, bytes)` replaced.
    let with = |f: &dyn Fn(&mut Tar, &str, &[u8])| {
        let mut t = Tar::default();
        t.file("oci-layout", marker);
        f(&mut t, "index.json", &index_json);
        f(&mut t, &blob_name, &blob);
        t.finish()
    };
    let mut altered = blob.clone();
    let i = altered.iter().position(|&b| b == b'4').unwrap();
    altered[i] = b'5';
    let blob_offset = good
        .windows(blob.len())
        .position(|w| w == blob.as_slice())
        .unwrap();
    // A limit that index.json fits and the nested index does not.
    assert!(index_json.len() < blob.len());
    let fits_index_json = index_json.len().to_string();
    // (what, archive bytes, extra arguments, what stderr must say)
    type Case<'a> = (&'a str, Vec<u8>, Vec<&'a str>, Vec<String>);
    let cases: Vec<Case> = vec![
        (
            "truncated inside a blob",
            good[..blob_offset + 10].to_vec(),
            vec![],
            vec!["truncated".into(), format!("member {blob_name:?}")],
        ),
        (
            "truncated after a member, no end-of-archive block",
            good[..good.len() - 1024].to_vec(),
            vec![],
            vec!["truncated: no end-of-archive block".into()],
        ),
        (
            "truncated inside a header",
            // 100 bytes into the header after the blob's padded data.
            good[..(blob_offset + blob.len()).div_ceil(512) * 512 + 100].to_vec(),
            vec![],
            vec!["not a readable tar archive".into()],
        ),
        (
            "a blob whose bytes do not match",
            with(&|t, n, b| {
                t.file(n, if n == blob_name { &altered } else { b });
            }),
            vec![],
            vec![
                "does not match".into(),
                d1.clone(),
                format!("!/{blob_name}"),
            ],
        ),
        (
            "a blob longer than its declared size",
            with(&|t, n, b| {
                let mut longer = b.to_vec();
                if n == blob_name {
                    longer.extend_from_slice(b"\n\n");
                }
                t.file(n, &longer);
            }),
            vec![],
            vec!["does not match".into(), "declared size".into()],
        ),
        (
            "the blob is missing",
            with(&|t, n, b| {
                if n != blob_name {
                    t.file(n, b);
                }
            }),
            vec![],
            vec![format!("!/{blob_name}: the archive has no such member")],
        ),
        (
            "a symbolic link member",
            with(&|t, n, b| {
                t.file(n, b);
                if n == "index.json" {
                    t.member("blobs/sha256/link", tar::EntryType::Symlink, b"");
                }
            }),
            vec![],
            vec!["\"blobs/sha256/link\" is a symbolic link: only regular files are read".into()],
        ),
        (
            "the blob as a hard link",
            with(&|t, n, b| {
                if n == blob_name {
                    t.member(n, tar::EntryType::Link, b"");
                } else {
                    t.file(n, b);
                }
            }),
            vec![],
            vec!["is a hard link".into()],
        ),
        (
            "a character device member",
            with(&|t, n, b| {
                t.file(n, b);
                if n == "index.json" {
                    t.member("dev/zero", tar::EntryType::Char, b"");
                }
            }),
            vec![],
            vec!["\"dev/zero\" is a character device".into()],
        ),
        (
            "a FIFO member",
            with(&|t, n, b| {
                t.member(
                    n,
                    if n == "index.json" {
                        tar::EntryType::Fifo
                    } else {
                        tar::EntryType::Regular
                    },
                    if n == "index.json" { b"" } else { b },
                );
            }),
            vec![],
            vec!["\"index.json\" is a FIFO".into()],
        ),
        (
            "an oversized index.json",
            good.clone(),
            vec!["--max-index-bytes", "100"],
            vec![
                "!/index.json: larger than the 100-byte limit".into(),
                "--max-index-bytes".into(),
            ],
        ),
        (
            "a nested index over the limit (index.json is within it)",
            good.clone(),
            vec!["--max-index-bytes", &fits_index_json],
            vec![
                format!("!/{blob_name}: larger than the {fits_index_json}-byte limit"),
                "--max-index-bytes".into(),
            ],
        ),
        (
            "a missing tag",
            good.clone(),
            vec!["--tag", "v9"],
            vec!["no entry is tagged \"v9\"; tags: v1".into()],
        ),
        (
            "a duplicate name",
            with(&|t, n, b| {
                t.file(n, b);
                if n == "index.json" {
                    t.file("./index.json", b);
                }
            }),
            vec![],
            vec!["\"./index.json\" appears more than once".into()],
        ),
        (
            "a name that leads out",
            with(&|t, n, b| {
                t.file(n, b);
                if n == "index.json" {
                    t.file("blobs/../../escape", b);
                }
            }),
            vec![],
            vec!["\"blobs/../../escape\": a name with .. leads out of the archive".into()],
        ),
        (
            "an absolute name",
            with(&|t, n, b| {
                t.file(n, b);
                if n == "index.json" {
                    t.file("/etc/escape", b);
                }
            }),
            vec![],
            vec!["\"/etc/escape\": an absolute name leads out of the archive".into()],
        ),
        (
            "no oci-layout",
            {
                let mut t = Tar::default();
                t.file("index.json", &index_json);
                t.finish()
            },
            vec![],
            vec!["no oci-layout member".into()],
        ),
        (
            "no index.json",
            {
                let mut t = Tar::default();
                t.file("oci-layout", marker);
                t.finish()
            },
            vec![],
            vec!["no index.json member".into()],
        ),
        (
            "not a tar at all",
            index_json.clone(),
            vec![],
            vec!["not a readable tar archive".into()],
        ),
        (
            "empty",
            Vec::new(),
            vec![],
            vec!["the file is empty".into()],
        ),
        (
            "gzip-compressed",
            [&[0x1f, 0x8b, 8, 0][..], &good[..100]].concat(),
            vec![],
            vec!["gzip-compressed".into()],
        ),
    ];
    for (what, bytes, extra, needles) in &cases {
        let (_d, file) = archive_file(bytes, "bad.tar");
        let r = select(&format!("oci-archive:{file}"), "linux/amd64", extra);
        assert_eq!(r.code, 2, "{what}: {r:#?}");
        assert_eq!(r.stdout, "", "{what}");
        assert!(
            r.stderr.contains(&file),
            "{what}: names the file: {}",
            r.stderr
        );
        for n in needles {
            assert!(
                r.stderr.contains(n.as_str()),
                "{what}: stderr lacks {n:?}: {}",
                r.stderr
            );
        }
        assert_eq!(r.stderr.lines().count(), 1, "{what}: {}", r.stderr);
    }
    // The good one, for contrast.
    let (_d, file) = archive_file(&good, "good.tar");
    select(&format!("oci-archive:{file}"), "linux/amd64", &[]).expect(0);
    // The same limit on the layout as a directory: the same refusal.
    select(
        &l.root(),
        "linux/amd64",
        &["--max-index-bytes", &fits_index_json],
    )
    .expect(2)
    .stderr_has(&format!("larger than the {fits_index_json}-byte limit"));
}

/// An archive path that is not a regular file (a FIFO, a directory) or
/// does not exist is refused before anything is read.
#[test]
fn archive_path_must_be_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.tar");
    mkfifo(&fifo);
    let f = fifo.display().to_string();
    select(&format!("oci-archive:{f}"), "linux/amd64", &[])
        .expect(2)
        .stderr_has("not a regular file");
    let d = dir.path().display().to_string();
    select(&format!("oci-archive:{d}"), "linux/amd64", &[])
        .expect(2)
        .stderr_has("not a regular file");
    select(&format!("oci-archive:{d}/missing.tar"), "linux/amd64", &[])
        .expect(2)
        .stderr_has("missing.tar");
}

/// annotate reads archives but does not rewrite them.
#[test]
fn annotate_does_not_rewrite_an_archive() {
    let l = Layout::new();
    l.write_index_json(&[entry("a", Some("linux/amd64"), &[])]);
    let bytes = Tar::of_dir(l.dir.path(), "", false).finish();
    let (_d, file) = archive_file(&bytes, "x.tar");
    let src = format!("oci-archive:{file}");
    let r = run(&["annotate", &src, "--set", "0", "org.example.k=v"]);
    r.expect(2).stderr_has("does not rewrite oci-archive files");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bytes,
        "the archive is unchanged"
    );
    let out = tempfile::tempdir().unwrap();
    let to = out.path().join("annotated.json").display().to_string();
    run(&[
        "annotate",
        &src,
        "--to",
        &to,
        "--set",
        "0",
        "org.example.k=v",
    ])
    .expect(0);
    let v: Value = serde_json::from_slice(&std::fs::read(&to).unwrap()).unwrap();
    assert_eq!(
        v["manifests"][0]["annotations"]["org.example.k"],
        json!("v")
    );
}

/// An archive as skopeo itself writes it (`skopeo copy oci:DIR:v1
/// oci-archive:FILE:v1`, a real image: an uncompressed tar layer and a
/// config whose diff ID matches) gives the answer the directory gives.
/// Skipped, saying so, where skopeo is not installed (scripts/test.sh
/// installs it).
#[test]
fn an_archive_written_by_skopeo() {
    if Command::new("skopeo").arg("--version").output().is_err() {
        eprintln!("skopeo is not installed: an_archive_written_by_skopeo skipped");
        return;
    }
    let l = Layout::new();
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_cksum();
    layer.append_data(&mut h, "hello", &b"hi\n"[..]).unwrap();
    let layer = layer.into_inner().unwrap();
    let (ld, ls) = l.blob(&layer);
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [ld]},
    });
    let (cd, cs) = l.blob(&serde_json::to_vec(&config).unwrap());
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}],
    });
    let (md, ms) = l.blob(&serde_json::to_vec(&manifest).unwrap());
    let mut m = json!({"mediaType": OCI_MANIFEST, "digest": md, "size": ms});
    m["platform"] = platform("linux/amd64");
    let idx = l.index_blob(&index(&[m]), Some("v1"));
    l.write_index_json(&[idx]);
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("image.tar").display().to_string();
    let st = Command::new("skopeo")
        .args(["copy", "--quiet", "--multi-arch", "all"])
        .arg(format!("oci:{}:v1", l.root()))
        .arg(format!("oci-archive:{file}:v1"))
        .output()
        .unwrap();
    assert!(st.status.success(), "skopeo copy: {st:?}");
    // skopeo may rewrite the manifest (it compresses the layer), so the
    // oracle is the archive extracted by tar(1) into a directory.
    let extracted = tempfile::tempdir().unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(&file)
        .arg("-C")
        .arg(extracted.path())
        .status()
        .unwrap();
    assert!(st.success());
    let dir = extracted.path().display().to_string();
    let from_dir = select(&format!("{dir}:v1"), "linux/amd64", &[])
        .expect(0)
        .json();
    assert_eq!(from_dir["mediaType"], json!(OCI_MANIFEST));
    for source in [
        format!("oci-archive:{file}:v1"),
        format!("oci-archive:{file}"),
    ] {
        let v = select(&source, "linux/amd64", &[]).expect(0).json();
        assert_eq!(v["digest"], from_dir["digest"], "{source}");
        assert_eq!(v["size"], from_dir["size"], "{source}");
        assert_eq!(
            v["index"]["digest"], from_dir["index"]["digest"],
            "{source}"
        );
    }
    // The manifest it names is in the archive, and reads as skopeo wrote it.
    let hex = from_dir["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap()
        .to_owned();
    let m: Value = serde_json::from_slice(
        &std::fs::read(extracted.path().join("blobs/sha256").join(hex)).unwrap(),
    )
    .unwrap();
    assert_eq!(m["config"]["digest"], json!(cd));
}
