//! `ocipick compat validate-node`: the NFD documentation's example
//! specification against three nodes (files in `nfd export features`
//! form), from a YAML file and from an OCI image layout holding two
//! artifacts (the newest wins), with text, JSON and exit statuses.

#[path = "support/nfd.rs"]
mod nfd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nfd::{ARTIFACT_TYPE, SPEC_TYPE};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_ocipick");

fn spec_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/nfd/docs-example.yaml"
    ))
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// A node in `nfd export features` form.
fn node(dir: &Path, name: &str, vendor: &str, modules: &[&str], nics: &[(&str, &str)]) -> String {
    let flags: serde_json::Map<String, Value> = modules
        .iter()
        .map(|m| ((*m).to_owned(), json!({})))
        .collect();
    let devices: Vec<Value> = nics
        .iter()
        .map(|(v, c)| json!({"attributes": {"vendor": v, "class": c}}))
        .collect();
    let v = json!({
        "flags": {"kernel.loadedmodule": {"elements": flags}},
        "attributes": {"cpu.model": {"elements": {"vendor_id": vendor}}},
        "instances": {"pci.device": {"elements": devices}},
    });
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p.display().to_string()
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn three_nodes_three_answers() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_path().display().to_string();
    let good = node(
        dir.path(),
        "good",
        "Intel",
        &["vfio-pci"],
        &[("0fff", "0200")],
    );
    let no_nic = node(
        dir.path(),
        "nonic",
        "AMD",
        &["vfio-pci"],
        &[("0eee", "0300")],
    );
    let arm = node(dir.path(), "arm", "ARM", &[], &[("0eee", "0200")]);

    let o = run(&["compat", "validate-node", &spec, "--node", &good]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("(tag nics, weight 10): PASS"), "{text}");
    assert!(
        text.contains("pass    kernel.loadedmodule vfio-pci Exists"),
        "{text}"
    );
    assert!(text.contains("result: pass"), "{text}");

    let o = run(&[
        "compat",
        "validate-node",
        &spec,
        "--node",
        &no_nic,
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v = json_of(&o);
    assert_eq!(v["outcome"], "fail");
    let rules = &v["compatibilities"][0]["rules"];
    assert_eq!(rules[0]["outcome"], "pass");
    assert_eq!(rules[1]["outcome"], "fail");
    assert_eq!(rules[1]["matchAny"][0]["outcome"], "fail");

    let o = run(&[
        "compat",
        "validate-node",
        &spec,
        "--node",
        &arm,
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v = json_of(&o);
    let rules = &v["compatibilities"][0]["rules"];
    assert_eq!(rules[0]["outcome"], "fail");
    assert_eq!(rules[1]["outcome"], "pass");
    let exprs = &rules[0]["matchFeatures"]["expressions"];
    assert_eq!(exprs[0]["feature"], "kernel.loadedmodule");
    assert_eq!(exprs[0]["outcome"], "fail");
    assert_eq!(exprs[1]["feature"], "cpu.model");
    assert_eq!(exprs[1]["outcome"], "fail");
}

#[test]
fn tags_select_sets() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_path().display().to_string();
    let good = node(
        dir.path(),
        "good",
        "Intel",
        &["vfio-pci"],
        &[("0fff", "0200")],
    );
    let o = run(&[
        "compat",
        "validate-node",
        &spec,
        "--node",
        &good,
        "--tags",
        "other",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no compatibility set has the tags"));
    let o = run(&[
        "compat",
        "validate-node",
        &spec,
        "--node",
        &good,
        "--compat-tag",
        "nics",
    ]);
    assert_eq!(o.status.code(), Some(0));
}

fn write_blob(layout: &Path, bytes: &[u8]) -> Value {
    let hex = format!("{:x}", Sha256::digest(bytes));
    let p = layout.join("blobs/sha256");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(&hex), bytes).unwrap();
    json!({"digest": format!("sha256:{hex}"), "size": bytes.len()})
}

fn artifact(layout: &Path, spec: &[u8], created: &str) -> Value {
    artifact_of(layout, spec, created, None)
}

fn artifact_of(layout: &Path, spec: &[u8], created: &str, subject: Option<&Value>) -> Value {
    let config = write_blob(layout, b"{}");
    let layer = write_blob(layout, spec);
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": config["digest"], "size": config["size"]},
        "layers": [{"mediaType": SPEC_TYPE, "digest": layer["digest"], "size": layer["size"]}],
        "annotations": {"org.opencontainers.image.created": created},
    });
    if let Some(subject) = subject {
        m["subject"] = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                              "digest": subject["digest"], "size": subject["size"]});
    }
    let d = write_blob(layout, &serde_json::to_vec(&m).unwrap());
    json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "artifactType": ARTIFACT_TYPE, "digest": d["digest"], "size": d["size"]})
}

#[test]
fn a_layout_gives_its_newest_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let docs = std::fs::read(spec_path()).unwrap();
    // The older artifact requires a module no node has.
    let old = String::from_utf8(docs.clone())
        .unwrap()
        .replace("vfio-pci", "no-such-module");
    let newer = artifact(&layout, &docs, "2025-06-01T00:00:00Z");
    let older = artifact(&layout, old.as_bytes(), "2024-01-01T00:00:00Z");
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": [newer, older]});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let good = node(
        dir.path(),
        "good",
        "Intel",
        &["vfio-pci"],
        &[("0fff", "0200")],
    );
    let l = layout.display().to_string();
    let o = run(&["compat", "validate-node", &l, "--node", &good, "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let v = json_of(&o);
    assert_eq!(v["artifact"]["digest"], newer["digest"]);
    assert_eq!(v["artifact"]["created"], "2025-06-01T00:00:00Z");
    assert_eq!(v["artifact"]["candidates"], 2);
    // Listed the other way round, the newest still wins.
    let index = json!({"schemaVersion": 2, "manifests": [older, newer]});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let v = json_of(&run(&[
        "compat",
        "validate-node",
        &l,
        "--node",
        &good,
        "-o",
        "json",
    ]));
    assert_eq!(v["artifact"]["digest"], newer["digest"]);
    assert_eq!(v["outcome"], "pass");
}

#[test]
fn bad_input_is_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "version: v9\ncompatibilities: []\n").unwrap();
    let o = run(&["compat", "validate-node", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("only v1alpha1"));
    // A layout with no NFD artifact.
    let layout = dir.path().join("empty");
    std::fs::create_dir_all(&layout).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        layout.join("index.json"),
        br#"{"schemaVersion":2,"manifests":[]}"#,
    )
    .unwrap();
    let o = run(&["compat", "validate-node", layout.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no manifest of artifact type"));
}

/// The captured H200 server (testdata/hosts/h200-xeon-nvidia) against
/// the all-operators fixture: its GPU, driver, kernel and OS rules pass,
/// the Go template is noted, `kernel.config` (a source ocipick-host does
/// not read) fails; and `--tags` leaves only that set.
#[test]
fn the_gpu_server_fixture_meets_the_cuda_rules() {
    let root = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/hosts/h200-xeon-nvidia"
    );
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/nfd/all-operators.yaml"
    );
    let o = run(&[
        "compat",
        "validate-node",
        spec,
        "--root",
        root,
        "--tags",
        "gpu",
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v = json_of(&o);
    let sets = v["compatibilities"].as_array().unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0]["tag"], "gpu");
    let rules = sets[0]["rules"].as_array().unwrap();
    let outcome = |name: &str| {
        rules.iter().find(|r| r["name"] == name).unwrap()["outcome"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for name in ["nvidia device", "driver", "kernel", "os", "templated"] {
        assert_eq!(outcome(name), "pass", "{name}");
    }
    assert_eq!(outcome("any and le"), "fail");
    let templated = rules.iter().find(|r| r["name"] == "templated").unwrap();
    assert!(templated["notes"][0]
        .as_str()
        .unwrap()
        .contains("not expanded"));
}

/// `--subject`: of a layout's artifacts, only those attached to that
/// manifest count, the newest of them winning.
#[test]
fn subject_picks_the_artifacts_of_one_image() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let img_a = write_blob(&layout, br#"{"schemaVersion":2,"a":1}"#);
    let img_b = write_blob(&layout, br#"{"schemaVersion":2,"b":1}"#);
    let docs = std::fs::read(spec_path()).unwrap();
    let strict = String::from_utf8(docs.clone())
        .unwrap()
        .replace("vfio-pci", "no-such-module");
    // B's artifact is the newest overall, and fails on the node.
    let for_a = artifact_of(&layout, &docs, "2025-01-01T00:00:00Z", Some(&img_a));
    let for_b = artifact_of(
        &layout,
        strict.as_bytes(),
        "2026-01-01T00:00:00Z",
        Some(&img_b),
    );
    let index = json!({"schemaVersion": 2, "manifests": [for_a, for_b]});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let good = node(
        dir.path(),
        "good",
        "Intel",
        &["vfio-pci"],
        &[("0fff", "0200")],
    );
    let l = layout.display().to_string();
    let a = img_a["digest"].as_str().unwrap();
    let o = run(&[
        "compat",
        "validate-node",
        &l,
        "--node",
        &good,
        "--subject",
        a,
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let v = json_of(&o);
    assert_eq!(v["artifact"]["digest"], for_a["digest"]);
    assert_eq!(v["artifact"]["candidates"], 1);
    let o = run(&["compat", "validate-node", &l, "--node", &good, "-o", "json"]);
    assert_eq!(json_of(&o)["artifact"]["digest"], for_b["digest"]);
    assert_eq!(o.status.code(), Some(1));
    let none = format!("sha256:{}", "0".repeat(64));
    let o = run(&["compat", "validate-node", &l, "--subject", &none]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("with subject"));
}
