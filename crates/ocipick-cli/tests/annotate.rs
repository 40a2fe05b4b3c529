//! `ocipick annotate`: files, in place, dry runs, OCI layouts, selectors
//! (position, platform, digest), unset, mapping files (TOML and JSON),
//! errors that write nothing, and a round trip through a real loopback
//! registry (`docker-registry`): annotate to a new tag, then `select
//! --prefer` picks the newly annotated entry.

mod common;
#[path = "support/registry.rs"]
mod registry_support;

use std::path::Path;
use std::process::Command;

use common::*;
use registry_support::Registry;
use serde_json::{json, Value};

const KEY: &str = "com.example.fast";

/// [plain amd64, arm64, gpu amd64 (annotated)], as a pretty file.
fn demo_index() -> Value {
    index(&[
        entry("plain", Some("linux/amd64"), &[]),
        entry("arm", Some("linux/arm64"), &[]),
        entry("gpu", Some("linux/amd64"), &[("com.example.gpu", "model")]),
    ])
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The manifests with their annotations removed.
fn without_annotations(v: &Value) -> Vec<Value> {
    v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let mut d = d.clone();
            d.as_object_mut().unwrap().remove("annotations");
            d
        })
        .collect()
}

/// The `new index: sha256:…` digest printed by a text run.
fn printed(r: &Run, which: &str) -> String {
    let prefix = format!("{which} index: ");
    r.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line: {r:#?}"))
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn file_to_file_changes_only_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let src = write_json(dir.path(), "index.json", &demo_index());
    let before = std::fs::read(&src).unwrap();
    let out = dir.path().join("out.json");
    let out_s = out.display().to_string();
    let r = run(&[
        "annotate",
        &src,
        "--to",
        &out_s,
        "--set",
        "0",
        &format!("{KEY}=yes"),
    ]);
    r.expect(0)
        .stderr_has("do not cover the new index")
        .stderr_has("warning");
    // The source is untouched; the printed digests are right.
    assert_eq!(std::fs::read(&src).unwrap(), before);
    assert_eq!(printed(&r, "old"), sha256(&before));
    let written = std::fs::read(&out).unwrap();
    assert_eq!(printed(&r, "new"), sha256(&written), "{r:#?}");
    assert_ne!(sha256(&written), sha256(&before));
    let (old, new) = (demo_index(), read_json(&out));
    // Same descriptors, same order, same digests: only annotations differ.
    assert_eq!(without_annotations(&old), without_annotations(&new));
    assert_eq!(new["manifests"][0]["annotations"], json!({ KEY: "yes" }));
    assert_eq!(new["manifests"][1].get("annotations"), None);
    assert_eq!(
        new["manifests"][2]["annotations"],
        old["manifests"][2]["annotations"]
    );
    assert_eq!(new["mediaType"], old["mediaType"]);
    // And select --prefer now picks it.
    let s = run(&argv(
        "select --no-config -p linux/amd64 --prefer",
        &[KEY, "-o", "json", &out_s],
    ));
    assert_eq!(s.expect(0).json()["digest"], json!(fake_digest("plain")));
}

#[test]
fn in_place_file_and_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let src = write_json(dir.path(), "index.json", &demo_index());
    let before = std::fs::read(&src).unwrap();
    let r = run(&[
        "annotate",
        &src,
        "--set",
        "linux/arm64",
        &format!("{KEY}=arm"),
        "-o",
        "json",
    ]);
    let v = r.expect(0).json();
    let after = std::fs::read(&src).unwrap();
    assert_eq!(v["oldDigest"], json!(sha256(&before)));
    assert_eq!(v["newDigest"], json!(sha256(&after)));
    assert_eq!(v["written"], json!(true));
    assert_eq!(v["changes"][0]["position"], json!(1));
    assert_eq!(v["changes"][0]["new"], json!("arm"));
    assert_eq!(
        read_json(Path::new(&src))["manifests"][1]["annotations"][KEY],
        "arm"
    );
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn dry_run_prints_the_index_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = write_json(dir.path(), "index.json", &demo_index());
    let before = std::fs::read(&src).unwrap();
    let out = dir.path().join("out.json");
    let r = run(&[
        "annotate",
        &src,
        "--to",
        &out.display().to_string(),
        "--dry-run",
        "--set",
        "2",
        &format!("{KEY}=x"),
    ]);
    r.expect(0).stderr_has("dry run: nothing written");
    assert_eq!(std::fs::read(&src).unwrap(), before);
    assert!(!out.exists());
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["manifests"][2]["annotations"][KEY], "x");
    // The bytes printed are the new index: their digest is the one announced.
    assert!(r.stderr.contains(&sha256(r.stdout.as_bytes())), "{r:#?}");
}

#[test]
fn selectors_by_position_platform_and_digest_and_unset() {
    let dir = tempfile::tempdir().unwrap();
    let src = write_json(dir.path(), "index.json", &demo_index());
    let out = dir.path().join("out.json");
    let gpu = fake_digest("gpu");
    let r = run(&[
        "annotate",
        &src,
        "--to",
        &out.display().to_string(),
        "--set",
        "linux/amd64",
        "a.example.both=amd",
        "--set",
        &gpu,
        "a.example.gpu=1",
        "--set",
        "1",
        "a.example.pos=1",
        "--unset",
        &gpu,
        "com.example.gpu",
    ]);
    r.expect(0);
    let v = read_json(&out);
    assert_eq!(
        v["manifests"][0]["annotations"],
        json!({"a.example.both": "amd"})
    );
    assert_eq!(
        v["manifests"][1]["annotations"],
        json!({"a.example.pos": "1"})
    );
    assert_eq!(
        v["manifests"][2]["annotations"],
        json!({"a.example.both": "amd", "a.example.gpu": "1"})
    );
    // Removing the last annotation removes the field.
    let r = run(&[
        "annotate",
        &out.display().to_string(),
        "--unset",
        "1",
        "a.example.pos",
    ]);
    r.expect(0);
    assert_eq!(read_json(&out)["manifests"][1].get("annotations"), None);
}

#[test]
fn mapping_files_toml_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let src = write_json(dir.path(), "index.json", &demo_index());
    let toml = dir.path().join("map.toml");
    std::fs::write(
        &toml,
        format!(
            "# annotations to add\n[\"linux/arm64\"]\n\"{KEY}\" = \"arm\"\n\n[2]\n\"com.example.gpu\" = false\n\"x.y\" = 'z'\n"
        ),
    )
    .unwrap();
    run(&["annotate", &src, "--mapping", &toml.display().to_string()]).expect(0);
    let v = read_json(Path::new(&src));
    assert_eq!(v["manifests"][1]["annotations"], json!({ KEY: "arm" }));
    assert_eq!(v["manifests"][2]["annotations"], json!({"x.y": "z"}));

    let js = dir.path().join("map.json");
    std::fs::write(
        &js,
        serde_json::to_vec(&json!({ "0": {"k.a": "v"}, "linux/arm64": { KEY: null } })).unwrap(),
    )
    .unwrap();
    run(&["annotate", &src, "--mapping", &js.display().to_string()]).expect(0);
    let v = read_json(Path::new(&src));
    assert_eq!(v["manifests"][0]["annotations"], json!({"k.a": "v"}));
    assert_eq!(v["manifests"][1].get("annotations"), None);

    // A bad mapping file: exit 2, nothing written.
    std::fs::write(&toml, "[linux/arm64]\nk = \"v\"\n").unwrap();
    let before = std::fs::read(&src).unwrap();
    run(&["annotate", &src, "--mapping", &toml.display().to_string()])
        .expect(2)
        .stderr_has("line 1");
    assert_eq!(std::fs::read(&src).unwrap(), before);
}

#[test]
fn invalid_requests_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = write_json(dir.path(), "index.json", &demo_index());
    let before = std::fs::read(&src).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--set", "linux/s390x", "k=v"], "matches no entry"),
        (&["--set", "7", "k=v"], "matches no entry"),
        (&["--set", &fake_digest("nope"), "k=v"], "matches no entry"),
        (&["--set", "sha256:xyz", "k=v"], "not a digest"),
        (&["--set", "0", "novalue"], "KEY=VALUE"),
        (&["--set", "0", "bad key=v"], "white space"),
        (&["--unset", "0", ""], "empty"),
        (&[], "nothing to change"),
    ];
    for (extra, msg) in cases {
        let mut args = vec!["annotate", src.as_str()];
        args.extend_from_slice(extra);
        run(&args).expect(2).stderr_has(msg);
        assert_eq!(std::fs::read(&src).unwrap(), before, "{extra:?}");
    }
    // A single manifest is not an index.
    let single = write_json(
        dir.path(),
        "m.json",
        &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": []}),
    );
    run(&["annotate", &single, "--set", "0", "k=v"]).expect(2);
}

#[test]
fn failed_writes_leave_the_destination_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let src = write_json(dir.path(), "index.json", &demo_index());
    let before = std::fs::read(&src).unwrap();
    let set = ["--set", "0", "k.a=v"];

    // A destination that is a directory (not a layout).
    let sub = dir.path().join("adir.json");
    std::fs::create_dir(&sub).unwrap();
    let mut args = vec!["annotate", src.as_str(), "--to"];
    let sub_s = sub.display().to_string();
    args.push(&sub_s);
    args.extend_from_slice(&set);
    run(&args).expect(2);
    assert!(sub.is_dir() && std::fs::read_dir(&sub).unwrap().next().is_none());

    // A destination in a directory that does not exist.
    let missing = dir.path().join("nodir/out.json").display().to_string();
    let mut args = vec!["annotate", src.as_str(), "--to", missing.as_str()];
    args.extend_from_slice(&set);
    run(&args).expect(2);
    assert!(!dir.path().join("nodir").exists());

    // In place in a read-only directory (meaningless as root, who may write).
    let ro = tempfile::tempdir().unwrap();
    let ro_src = write_json(ro.path(), "index.json", &demo_index());
    let mut perms = std::fs::metadata(ro.path()).unwrap().permissions();
    use std::os::unix::fs::PermissionsExt;
    perms.set_mode(0o555);
    std::fs::set_permissions(ro.path(), perms.clone()).unwrap();
    let root_can_write = std::fs::write(ro.path().join("probe"), b"x").is_ok();
    if !root_can_write {
        let mut args = vec!["annotate", ro_src.as_str()];
        args.extend_from_slice(&set);
        run(&args).expect(2);
        assert_eq!(std::fs::read(&ro_src).unwrap(), before);
        assert_eq!(std::fs::read_dir(ro.path()).unwrap().count(), 1);
    }
    perms.set_mode(0o755);
    std::fs::set_permissions(ro.path(), perms).unwrap();
    assert_eq!(std::fs::read(&src).unwrap(), before);
}

/// An OCI layout: the demo's image manifests as blobs and the demo index
/// tagged `v1`.
struct Layout {
    dir: tempfile::TempDir,
}

impl Layout {
    fn new() -> (Layout, Value, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(
            dir.path().join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        let l = Layout { dir };
        let root = l.dir.path();
        let mut entries = Vec::new();
        for (name, plat) in [
            ("plain", "linux/amd64"),
            ("arm", "linux/arm64"),
            ("gpu", "linux/amd64"),
        ] {
            let m = serde_json::to_vec(&json!({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": fake_digest(name), "size": 2},
                "layers": [],
            }))
            .unwrap();
            let (d, s) = l.blob(&m);
            entries.push(json!({"mediaType": OCI_MANIFEST, "digest": d, "size": s, "platform": platform(plat)}));
        }
        let idx = index(&entries);
        let (d, s) = l.blob(&serde_json::to_vec_pretty(&idx).unwrap());
        let top = json!({"schemaVersion": 2, "manifests": [
            {"mediaType": OCI_INDEX, "digest": d, "size": s,
             "annotations": {REF_NAME: "v1", "org.opencontainers.image.created": "2024-01-01T00:00:00Z"}}
        ]});
        std::fs::write(
            root.join("index.json"),
            serde_json::to_vec_pretty(&top).unwrap(),
        )
        .unwrap();
        (l, idx, d)
    }

    fn root(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn blob_path(&self, digest: &str) -> std::path::PathBuf {
        self.dir
            .path()
            .join("blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap())
    }

    fn blob(&self, bytes: &[u8]) -> (String, u64) {
        let d = sha256(bytes);
        std::fs::write(self.blob_path(&d), bytes).unwrap();
        (d, bytes.len() as u64)
    }

    fn top(&self) -> Value {
        read_json(&self.dir.path().join("index.json"))
    }
}

#[test]
fn layout_to_layout_moves_the_tag_and_keeps_the_old_blob() {
    let (l, old_index, old_digest) = Layout::new();
    let src = format!("{}:v1", l.root());
    let r = run(&["annotate", &src, "--set", "2", &format!("{KEY}=gpu")]);
    r.expect(0);
    let new_digest = printed(&r, "new");
    assert_eq!(printed(&r, "old"), old_digest);
    // The new blob exists and verifies; the old one is kept.
    let bytes = std::fs::read(l.blob_path(&new_digest)).unwrap();
    assert_eq!(sha256(&bytes), new_digest);
    assert!(l.blob_path(&old_digest).is_file());
    let new: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(without_annotations(&new), without_annotations(&old_index));
    assert_eq!(new["manifests"][2]["annotations"][KEY], "gpu");
    // The tag moved, keeping the entry's other annotations.
    let top = l.top();
    assert_eq!(top["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(top["manifests"][0]["digest"], json!(new_digest));
    assert_eq!(top["manifests"][0]["size"], json!(bytes.len()));
    assert_eq!(
        top["manifests"][0]["annotations"]["org.opencontainers.image.created"],
        "2024-01-01T00:00:00Z"
    );
    // select --prefer through the layout picks the annotated entry.
    let s = run(&argv(
        "select --no-config -p linux/amd64 --prefer",
        &[KEY, "-o", "json", &src],
    ));
    assert_eq!(s.expect(0).json()["digest"], new["manifests"][2]["digest"]);
    // The old content stays reachable by a new tag: annotate to v2 adds it.
    let r = run(&[
        "annotate",
        &src,
        "--to",
        &format!("{}:v2", l.root()),
        "--unset",
        "2",
        KEY,
    ]);
    r.expect(0);
    let top = l.top();
    let tags: Vec<&str> = top["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["annotations"][REF_NAME].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["v1", "v2"]);
    // Unsetting what was set gives back the original bytes' content.
    assert_eq!(
        top["manifests"][1]["digest"],
        json!(sha256(&serde_json::to_vec_pretty(&old_index).unwrap()))
    );
}

#[test]
fn file_to_layout_refuses_missing_children() {
    let (l, _, _) = Layout::new();
    let dir = tempfile::tempdir().unwrap();
    let src = write_json(dir.path(), "index.json", &demo_index());
    let before = std::fs::read(l.dir.path().join("index.json")).unwrap();
    run(&[
        "annotate",
        &src,
        "--to",
        &format!("{}:v3", l.root()),
        "--set",
        "0",
        "k.a=v",
    ])
    .expect(2)
    .stderr_has("lacks 3");
    assert_eq!(
        std::fs::read(l.dir.path().join("index.json")).unwrap(),
        before
    );
}

// ---- the real loopback registry ----

fn oc(args: &[&str]) -> Command {
    let mut c = common::cmd(args);
    c.env("DOCKER_CONFIG", "/nonexistent/ocipick-annotate-tests");
    c
}

fn go(args: &[&str]) -> Run {
    run_cmd(oc(args))
}

#[test]
fn registry_round_trip_then_select_prefers_the_annotated_entry() {
    let reg = Registry::anonymous();
    let repo = "demo/app";
    let plain = reg.push_image(repo, "plain-amd64", Some("linux/amd64"), &[], false);
    let arm = reg.push_image(repo, "arm64", Some("linux/arm64"), &[], false);
    let fast = reg.push_image(repo, "fast-amd64", Some("linux/amd64"), &[], false);
    let old = reg.push_index(repo, "v1", OCI_INDEX, &[plain.clone(), arm, fast.clone()]);
    let src = format!("{}/{repo}:v1", reg.host());
    let dest = format!("{}/{repo}:v1-annotated", reg.host());

    // Before: the plain image wins, even preferring KEY.
    let sel = |r: &str| {
        go(&argv(
            "select --no-config -p linux/amd64 --prefer",
            &[KEY, "-o", "json", r],
        ))
    };
    assert_eq!(sel(&src).expect(0).json()["digest"], plain["digest"]);

    let r = go(&[
        "annotate",
        &src,
        "--to",
        &dest,
        "--set",
        fast["digest"].as_str().unwrap(),
        &format!("{KEY}=yes"),
    ]);
    r.expect(0).stderr_has("do not cover");
    assert_eq!(printed(&r, "old"), old);
    let new_digest = printed(&r, "new");
    let stored = reg.get_manifest(repo, "v1-annotated");
    assert_eq!(sha256(&stored), new_digest);
    let new: Value = serde_json::from_slice(&stored).unwrap();
    let orig: Value = serde_json::from_slice(&reg.get_manifest(repo, "v1")).unwrap();
    assert_eq!(without_annotations(&new), without_annotations(&orig));
    // The old tag is untouched; the new tag picks the annotated child.
    assert_eq!(sha256(&reg.get_manifest(repo, "v1")), old);
    assert_eq!(sel(&dest).expect(0).json()["digest"], fast["digest"]);
    assert_eq!(sel(&src).expect(0).json()["digest"], plain["digest"]);
    // Children are untouched, byte for byte.
    for d in new["manifests"].as_array().unwrap() {
        let digest = d["digest"].as_str().unwrap();
        assert_eq!(sha256(&reg.get_manifest(repo, digest)), digest);
    }
    // The registry saw HEADs for the children and one PUT.
    reg.sync_log();
    let log = reg.access_log();
    assert_eq!(
        log.iter()
            .filter(|a| a.method == "HEAD" && a.status == 200)
            .count(),
        3,
        "{:#?}",
        log.iter()
            .map(|a| format!("{} {} {}", a.method, a.uri, a.status))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        log.iter()
            .filter(|a| a.method == "PUT" && a.uri.ends_with("/manifests/v1-annotated"))
            .count(),
        1
    );
}

#[test]
fn registry_destination_missing_children_is_refused() {
    let reg = Registry::anonymous();
    let plain = reg.push_image("src/app", "plain", Some("linux/amd64"), &[], false);
    let arm = reg.push_image("src/app", "arm", Some("linux/arm64"), &[], false);
    reg.push_index("src/app", "v1", OCI_INDEX, &[plain, arm]);
    let src = format!("{}/src/app:v1", reg.host());
    let dest = format!("{}/other/app:v1", reg.host());
    let r = go(&["annotate", &src, "--to", &dest, "--set", "0", "k.a=v"]);
    r.expect(3)
        .stderr_has("lacks 2")
        .stderr_has("nothing was pushed");
    // Nothing was pushed.
    go(&["select", "--no-config", "-p", "linux/amd64", &dest]).expect(3);
    reg.sync_log();
    assert!(!reg
        .access_log()
        .iter()
        .any(|a| a.method == "PUT" && a.uri.contains("other/app")));
    // A file destination from a registry source works without the check.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json").display().to_string();
    go(&[
        "annotate",
        &src,
        "--to",
        &out,
        "--set",
        "linux/arm64",
        "k.a=v",
    ])
    .expect(0);
    assert_eq!(
        read_json(Path::new(&out))["manifests"][1]["annotations"]["k.a"],
        "v"
    );
}

/// annotate's text report shows control characters of file names and
/// values escaped, never raw (an escape sequence in a name must not reach
/// the terminal, a line break must not forge a line).
#[test]
fn text_report_shows_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let src = write_json(dir.path(), "in\u{1b}[31m.json", &demo_index());
    let out = dir.path().join("out\u{1b}]0;title\u{7}\nwrote x.json");
    let r = run(&[
        "annotate",
        &src,
        "--to",
        out.to_str().unwrap(),
        "--set",
        "0",
        &format!("{KEY}=a\u{1b}[2Jb\nforged"),
    ]);
    r.expect(0);
    let raw: Vec<char> = r
        .stdout
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert_eq!(raw, [] as [char; 0], "{}", r.stdout);
    assert!(r.stdout.contains("in\\u{1b}[31m.json -> "), "{}", r.stdout);
    assert!(
        r.stdout.contains("out\\u{1b}]0;title\\u{7}\\nwrote x.json"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("a\\u{1b}[2Jb\\nforged"), "{}", r.stdout);
    // The first line, one change, two digests, where it was written.
    assert_eq!(r.stdout.lines().count(), 5, "{}", r.stdout);
    // The value itself is written as it was given.
    assert_eq!(
        read_json(&out)["manifests"][0]["annotations"][KEY],
        json!("a\u{1b}[2Jb\nforged")
    );
}

/// Only the edited `annotations` objects change: the other descriptors,
/// their key order (`size` before `digest`, unlike serde_json's sorted
/// output), whitespace, escapes and the index's own annotations keep their
/// bytes, and an untouched annotation keeps its place and spelling.
#[test]
fn edits_keep_every_other_byte_and_the_key_order() {
    let (a, b) = (fake_digest("plain"), fake_digest("arm"));
    let m = "application/vnd.oci.image.manifest.v1+json";
    let doc = format!(
        "{{\n  \"schemaVersion\": 2,\n  \"manifests\": [\n    {{ \"size\": 1, \"mediaType\": \"{m}\", \"digest\": \"{a}\",\n      \"platform\": {{ \"os\": \"linux\", \"architecture\": \"amd64\" }} }},\n    {{ \"size\": 2, \"mediaType\": \"{m}\", \"digest\": \"{b}\",\n      \"annotations\": {{ \"z.kept\": \"\\u0041\", \"a.old\": \"1\" }},\n      \"platform\": {{ \"os\": \"linux\", \"architecture\": \"arm64\" }} }}\n  ],\n  \"annotations\": {{ \"top\": \"t\" }}\n}}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("index.json");
    std::fs::write(&src, &doc).unwrap();
    let s = src.display().to_string();
    run(&[
        "annotate",
        &s,
        "--set",
        "linux/arm64",
        "a.old=2",
        "--set",
        "0",
        "n.new=x",
    ])
    .expect(0);
    let want = doc.replace("\"a.old\": \"1\"", "\"a.old\": \"2\"").replace(
        "\"amd64\" } }",
        "\"amd64\" }, \"annotations\": { \"n.new\": \"x\" } }",
    );
    assert_ne!(want, doc);
    assert_eq!(std::fs::read_to_string(&src).unwrap(), want);
}
