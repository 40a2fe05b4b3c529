//! `ocipick compat attach`: an NFD image compatibility artifact written
//! from YAML or TOML and attached to an image in an OCI layout (found and
//! evaluated by `compat validate-node --subject` afterwards) and in the
//! real distribution registry (manifest by digest, the referrers tag
//! schema index created, extended and left alone, with the requests
//! counted from the registry's access log); a registry that answers
//! `OCI-Subject` (a loopback server) gets no tag schema update; bad input.

mod common;
#[path = "support/nfd.rs"]
mod nfd;
#[path = "support/registry.rs"]
mod registry_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{cmd, run_cmd, sha256, td, Run, OCI_INDEX, OCI_MANIFEST, REF_NAME};
use nfd::{ARTIFACT_TYPE, CREATED, EMPTY_TYPE, SPEC_TYPE};
use registry_support::Registry;
use serde_json::{json, Value};

/// The digest of `{}`, the OCI empty descriptor's (image-spec manifest.md).
const EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

fn go(args: &[&str]) -> Run {
    let mut c = cmd(args);
    c.env("DOCKER_CONFIG", "/nonexistent/ocipick-attach-tests")
        .env_remove("SOURCE_DATE_EPOCH");
    run_cmd(c)
}

fn write_blob(layout: &Path, bytes: &[u8]) -> Value {
    let d = sha256(bytes);
    let p = layout.join("blobs/sha256");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(d.trim_start_matches("sha256:")), bytes).unwrap();
    json!({"mediaType": OCI_MANIFEST, "digest": d, "size": bytes.len()})
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

/// A layout with two images: `v1` tagged in index.json, and one only as
/// a blob (as a platform's image below a nested index would be).
fn layout(dir: &Path) -> (std::path::PathBuf, Value, Value) {
    let l = dir.join("layout");
    std::fs::create_dir_all(&l).unwrap();
    std::fs::write(l.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let config = write_blob(&l, b"{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    let image = |label: &str| {
        json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                          "digest": config["digest"], "size": config["size"]},
               "layers": [], "annotations": {"label": label}})
    };
    let tagged = write_blob(&l, &serde_json::to_vec(&image("tagged")).unwrap());
    let child = write_blob(&l, &serde_json::to_vec(&image("child")).unwrap());
    let mut entry = tagged.clone();
    entry["annotations"] = json!({REF_NAME: "v1"});
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]});
    std::fs::write(l.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    (l, tagged, child)
}

/// A node in `nfd export features` form that passes the docs example.
fn good_node(dir: &Path) -> String {
    let v = json!({
        "flags": {"kernel.loadedmodule": {"elements": {"vfio-pci": {}}}},
        "attributes": {"cpu.model": {"elements": {"vendor_id": "Intel"}}},
        "instances": {"pci.device": {"elements": [{"attributes": {"vendor": "0fff", "class": "0200"}}]}},
    });
    let p = dir.join("good.json");
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p.display().to_string()
}

fn docs_yaml() -> String {
    td("nfd/docs-example.yaml")
}

#[test]
fn attach_to_a_layout_then_validate_node_finds_it() {
    let dir = tempfile::tempdir().unwrap();
    let (l, tagged, child) = layout(dir.path());
    let ls = l.display().to_string();
    let node = good_node(dir.path());
    let yaml = docs_yaml();

    let r = go(&[
        "compat",
        "attach",
        &yaml,
        &format!("{ls}:v1"),
        "--created",
        "2025-01-01T00:00:00Z",
    ]);
    r.expect(0).stderr_has("attached sha256:");
    let digest = r.stdout.trim().to_owned();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{r:?}");

    // The manifest as NFD's documentation shows one.
    let m: Value = serde_json::from_slice(&blob(&l, &digest)).unwrap();
    assert_eq!(sha256(&blob(&l, &digest)), digest);
    assert_eq!(m["mediaType"], OCI_MANIFEST);
    assert_eq!(m["artifactType"], ARTIFACT_TYPE);
    assert_eq!(
        m["config"],
        json!({"mediaType": EMPTY_TYPE, "digest": EMPTY_DIGEST, "size": 2})
    );
    assert_eq!(blob(&l, EMPTY_DIGEST), b"{}");
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], SPEC_TYPE);
    // YAML is the layer byte for byte.
    assert_eq!(
        blob(&l, layers[0]["digest"].as_str().unwrap()),
        std::fs::read(&yaml).unwrap()
    );
    assert_eq!(m["subject"], tagged);
    assert_eq!(m["annotations"], json!({CREATED: "2025-01-01T00:00:00Z"}));

    // index.json lists it, untagged, with its artifactType.
    let index: Value =
        serde_json::from_slice(&std::fs::read(l.join("index.json")).unwrap()).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["digest"], digest.as_str());
    assert_eq!(entries[1]["artifactType"], ARTIFACT_TYPE);
    assert!(entries[1].get("annotations").is_none());

    let subject = tagged["digest"].as_str().unwrap();
    let v = go(&[
        "compat",
        "validate-node",
        &ls,
        "--subject",
        subject,
        "--node",
        &node,
        "-o",
        "json",
    ]);
    let v = v.expect(0).json();
    assert_eq!(v["artifact"]["digest"], digest.as_str());
    assert_eq!(v["outcome"], "pass");

    // Attaching the same again changes nothing.
    let before = std::fs::read(l.join("index.json")).unwrap();
    let again = go(&[
        "compat",
        "attach",
        &yaml,
        &format!("{ls}:v1"),
        "--created",
        "2025-01-01T00:00:00Z",
    ]);
    assert_eq!(again.expect(0).stdout.trim(), digest);
    assert_eq!(std::fs::read(l.join("index.json")).unwrap(), before);

    // A newer artifact that the node fails wins over the first; another
    // image's artifact (by --subject, a blob only) is apart.
    let strict = dir.path().join("strict.yaml");
    std::fs::write(
        &strict,
        std::fs::read_to_string(&yaml)
            .unwrap()
            .replace("vfio-pci", "no-such-module"),
    )
    .unwrap();
    let s = strict.display().to_string();
    go(&[
        "compat",
        "attach",
        &s,
        &format!("{ls}:v1"),
        "--created",
        "2026-01-01T00:00:00Z",
    ])
    .expect(0);
    let child_digest = child["digest"].as_str().unwrap();
    let for_child = go(&[
        "compat",
        "attach",
        &yaml,
        &ls,
        "--subject",
        child_digest,
        "--created",
        "2027-01-01T00:00:00Z",
    ]);
    let for_child = for_child.expect(0).stdout.trim().to_owned();
    let v = go(&[
        "compat",
        "validate-node",
        &ls,
        "--subject",
        subject,
        "--node",
        &node,
        "-o",
        "json",
    ]);
    let v = v.expect(1).json();
    assert_eq!(v["artifact"]["candidates"], 2);
    assert_eq!(v["artifact"]["created"], "2026-01-01T00:00:00Z");
    let v = go(&[
        "compat",
        "validate-node",
        &ls,
        "--subject",
        child_digest,
        "--node",
        &node,
        "-o",
        "json",
    ]);
    assert_eq!(v.expect(0).json()["artifact"]["digest"], for_child.as_str());
    let m: Value = serde_json::from_slice(&blob(&l, &for_child)).unwrap();
    assert_eq!(m["subject"], child);

    // With artifacts in index.json, the one image is still "the only
    // entry" to attach to, and to select, when no tag is named.
    go(&[
        "compat",
        "attach",
        &yaml,
        &ls,
        "--created",
        "2025-01-01T00:00:00Z",
    ])
    .expect(0);
    let d = go(&["digest", "--no-config", "-p", "linux/amd64", &ls]);
    assert_eq!(d.expect(0).stdout.trim(), subject);
}

#[test]
fn toml_and_yaml_give_the_same_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let (l, _, _) = layout(dir.path());
    let target = format!("{}:v1", l.display());
    let toml = td("nfd/docs-example.toml");
    let created = ["--created", "2025-01-01T00:00:00Z"];
    let dry = |spec: &str| {
        let mut a = vec![
            "compat",
            "attach",
            spec,
            target.as_str(),
            "--dry-run",
            "-o",
            "json",
        ];
        a.extend(created);
        go(&a).expect(0).json()
    };
    let before = std::fs::read(l.join("index.json")).unwrap();
    let from_toml = dry(&toml);
    assert_eq!(
        std::fs::read(l.join("index.json")).unwrap(),
        before,
        "--dry-run wrote"
    );
    assert_eq!(from_toml["dryRun"], true);
    // The TOML's YAML says what the documentation's YAML says: the same
    // answers, set by set, rule by rule, on a node.
    let yaml_of_toml = dir.path().join("from-toml.yaml");
    std::fs::write(&yaml_of_toml, from_toml["specYaml"].as_str().unwrap()).unwrap();
    let node = good_node(dir.path());
    let answers = |spec: &str| {
        let mut v = go(&[
            "compat",
            "validate-node",
            spec,
            "--node",
            &node,
            "-o",
            "json",
        ])
        .expect(0)
        .json();
        v["compatibilities"].take()
    };
    assert_eq!(
        answers(yaml_of_toml.to_str().unwrap()),
        answers(&docs_yaml())
    );
    // And that YAML attached is the TOML's artifact, digest for digest.
    let from_yaml = dry(yaml_of_toml.to_str().unwrap());
    assert_eq!(
        from_yaml["artifact"]["digest"],
        from_toml["artifact"]["digest"]
    );
    assert_eq!(from_yaml["manifest"], from_toml["manifest"]);
    // --format overrides the extension.
    let renamed = dir.path().join("spec.txt");
    std::fs::copy(&toml, &renamed).unwrap();
    let mut a = vec![
        "compat",
        "attach",
        renamed.to_str().unwrap(),
        target.as_str(),
        "--dry-run",
        "-o",
        "json",
        "--format",
        "toml",
    ];
    a.extend(created);
    assert_eq!(
        go(&a).expect(0).json()["artifact"]["digest"],
        from_toml["artifact"]["digest"]
    );
    // SOURCE_DATE_EPOCH gives the created time when --created is absent.
    let mut c = cmd(&[
        "compat",
        "attach",
        &toml,
        &target,
        "--dry-run",
        "-o",
        "json",
    ]);
    c.env("SOURCE_DATE_EPOCH", "1735689600");
    let v = run_cmd(c).expect(0).json();
    assert_eq!(
        v["artifact"]["annotations"][CREATED],
        "2025-01-01T00:00:00Z"
    );
    assert_eq!(v["artifact"]["digest"], from_toml["artifact"]["digest"]);
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (l, _, _) = layout(dir.path());
    let ls = l.display().to_string();
    let tagged = format!("{ls}:v1");
    let files = || std::fs::read_dir(l.join("blobs/sha256")).unwrap().count();
    let n = files();
    let index = std::fs::read(l.join("index.json")).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let misspelt = write(
        "bad.yaml",
        "version: v1alpha1\ncompatibilities:\n- wieght: 3\n  rules: []\n",
    );
    go(&["compat", "attach", &misspelt, &tagged])
        .expect(2)
        .stderr_has("wieght")
        .stderr_has("line 3 column");
    let version = write("v9.yaml", "version: v9\ncompatibilities: []\n");
    go(&["compat", "attach", &version, &tagged])
        .expect(2)
        .stderr_has("only v1alpha1");
    let toml = write("bad.toml", "version = \"v1alpha1\"\ncompatibilities = 3\n");
    go(&["compat", "attach", &toml, &tagged])
        .expect(2)
        .stderr_has("TOML at line 2 column");
    let docs = docs_yaml();
    go(&["compat", "attach", &docs, &tagged, "--created", "yesterday"])
        .expect(2)
        .stderr_has("not an RFC 3339 date-time");
    go(&[
        "compat",
        "attach",
        &docs,
        &tagged,
        "--annotation",
        "novalue",
    ])
    .expect(2)
    .stderr_has("KEY=VALUE");
    go(&["compat", "attach", &docs, &format!("{ls}:v2")])
        .expect(2)
        .stderr_has("no entry is tagged \"v2\"; tags: v1");
    let none = format!("sha256:{}", "0".repeat(64));
    go(&["compat", "attach", &docs, &ls, "--subject", &none])
        .expect(2)
        .stderr_has("has no manifest");
    go(&["compat", "attach", &docs, &ls, "--subject", "sha256:nothex"]).expect(2);
    go(&["compat", "attach", &docs, &docs])
        .expect(2)
        .stderr_has("files and archives are not rewritten");
    assert_eq!(files(), n, "a refused attach wrote blobs");
    assert_eq!(std::fs::read(l.join("index.json")).unwrap(), index);
}

/// ocipick's access-log lines after the first `from`, as `METHOD URI`.
fn ocipick_requests(reg: &Registry, from: usize) -> Vec<String> {
    reg.ocipick_since(from)
        .into_iter()
        .map(|a| {
            format!(
                "{} {} {}",
                a.method,
                a.uri.split('?').next().unwrap(),
                a.status
            )
        })
        .collect()
}

/// `/v2/REPO/blobs/uploads/UUID` → `/v2/REPO/blobs/uploads/*`.
fn generic(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .map(|l| match l.split_once("/blobs/uploads/") {
            Some((head, tail)) if !tail.starts_with(' ') => {
                let status = tail.rsplit(' ').next().unwrap();
                format!("{head}/blobs/uploads/* {status}")
            }
            _ => l,
        })
        .collect()
}

#[test]
fn attach_in_the_registry_with_the_tag_schema() {
    let reg = Registry::anonymous();
    let host = reg.host();
    let repo = "nfd/app";
    let image = reg.push_image(repo, "app", None, &[], false);
    let image_digest = image["digest"].as_str().unwrap().to_owned();
    let bytes = reg.get_manifest(repo, &image_digest);
    reg.push_manifest(repo, "v1", OCI_MANIFEST, &bytes);
    let hex = image_digest.trim_start_matches("sha256:");
    let schema_tag = format!("sha256-{hex}");
    let docs = docs_yaml();
    let target = format!("{host}/{repo}:v1");
    let attach = |spec: &str, created: &str| {
        let from = reg.log_mark();
        let v = go(&[
            "compat",
            "attach",
            spec,
            &target,
            "--plain-http",
            &host,
            "--created",
            created,
            "-o",
            "json",
        ])
        .expect(0)
        .json();
        let lines = generic(ocipick_requests(&reg, from));
        assert_eq!(v["requests"], lines.len(), "{lines:#?}");
        (v, lines)
    };

    let (first, lines) = attach(&docs, "2025-01-01T00:00:00Z");
    let art = first["artifact"]["digest"].as_str().unwrap().to_owned();
    let layer = first["layer"]["digest"].as_str().unwrap().to_owned();
    let p = format!("/v2/{repo}");
    assert_eq!(
        lines,
        [
            format!("GET {p}/manifests/v1 200"),
            format!("HEAD {p}/blobs/{EMPTY_DIGEST} 404"),
            format!("POST {p}/blobs/uploads/ 202"),
            format!("PUT {p}/blobs/uploads/* 201"),
            format!("HEAD {p}/blobs/{layer} 404"),
            format!("POST {p}/blobs/uploads/ 202"),
            format!("PUT {p}/blobs/uploads/* 201"),
            format!("PUT {p}/manifests/{art} 201"),
            format!("GET {p}/manifests/{schema_tag} 404"),
            format!("PUT {p}/manifests/{schema_tag} 201"),
        ]
    );
    assert_eq!(
        first["tagSchema"],
        json!({"tag": schema_tag, "action": "created", "entries": 1})
    );
    assert_eq!(first["blobsWritten"], 2);
    // Fetchable by digest, byte for byte what was built.
    let m: Value = serde_json::from_slice(&reg.get_manifest(repo, &art)).unwrap();
    assert_eq!(sha256(&reg.get_manifest(repo, &art)), art);
    assert_eq!(m["artifactType"], ARTIFACT_TYPE);
    assert_eq!(m["subject"]["digest"], image_digest.as_str());
    assert_eq!(m["subject"]["size"], bytes.len());
    let referrers: Value = serde_json::from_slice(&reg.get_manifest(repo, &schema_tag)).unwrap();
    assert_eq!(referrers["mediaType"], OCI_INDEX);
    let want_first = json!({"mediaType": OCI_MANIFEST, "digest": art, "size": first["artifact"]["size"],
                            "artifactType": ARTIFACT_TYPE,
                            "annotations": {CREATED: "2025-01-01T00:00:00Z"}});
    assert_eq!(referrers["manifests"], json!([want_first]));

    // A second artifact: the config blob is there already, the tag
    // schema index keeps the first entry and gains the second.
    let strict = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        strict.path(),
        std::fs::read_to_string(&docs)
            .unwrap()
            .replace("vfio-pci", "other"),
    )
    .unwrap();
    let (second, lines) = attach(strict.path().to_str().unwrap(), "2026-01-01T00:00:00Z");
    let art2 = second["artifact"]["digest"].as_str().unwrap().to_owned();
    let layer2 = second["layer"]["digest"].as_str().unwrap().to_owned();
    assert_eq!(
        lines,
        [
            format!("GET {p}/manifests/v1 200"),
            format!("HEAD {p}/blobs/{EMPTY_DIGEST} 200"),
            format!("HEAD {p}/blobs/{layer2} 404"),
            format!("POST {p}/blobs/uploads/ 202"),
            format!("PUT {p}/blobs/uploads/* 201"),
            format!("PUT {p}/manifests/{art2} 201"),
            format!("GET {p}/manifests/{schema_tag} 200"),
            format!("PUT {p}/manifests/{schema_tag} 201"),
        ]
    );
    assert_eq!(second["tagSchema"]["action"], "updated");
    assert_eq!(second["tagSchema"]["entries"], 2);
    let referrers: Value = serde_json::from_slice(&reg.get_manifest(repo, &schema_tag)).unwrap();
    let listed = referrers["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], want_first);
    assert_eq!(listed[1]["digest"], art2.as_str());
    assert_eq!(listed[1]["annotations"][CREATED], "2026-01-01T00:00:00Z");

    // The first again: everything is there, the index is not rewritten.
    let (third, lines) = attach(&docs, "2025-01-01T00:00:00Z");
    assert_eq!(third["artifact"]["digest"], art.as_str());
    assert_eq!(third["tagSchema"]["action"], "unchanged");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("PUT")).count(),
        1,
        "{lines:#?}"
    );
    assert_eq!(lines.len(), 5, "{lines:#?}");

    // By digest works as by tag; an image that is not there is exit 3
    // and nothing is pushed.
    let by_digest = format!("{host}/{repo}@{image_digest}");
    let v = go(&[
        "compat",
        "attach",
        &docs,
        &by_digest,
        "--plain-http",
        &host,
        "--created",
        "2025-01-01T00:00:00Z",
        "-o",
        "json",
    ]);
    assert_eq!(v.expect(0).json()["artifact"]["digest"], art.as_str());
    let from = reg.log_mark();
    go(&[
        "compat",
        "attach",
        &docs,
        &format!("{host}/{repo}:missing"),
        "--plain-http",
        &host,
    ])
    .expect(3)
    .stderr_has("404");
    let lines = ocipick_requests(&reg, from);
    assert_eq!(lines.len(), 1, "{lines:#?}");
}

/// A registry that answers `OCI-Subject` to the artifact's PUT (it keeps
/// referrers itself): no tag schema request follows. A loopback server
/// that answers as the distribution-spec says, recording the requests.
#[test]
fn oci_subject_skips_the_tag_schema() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let image = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
    let image_digest = sha256(image);
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let subject = image_digest.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let mut parts = line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap().to_owned(),
                parts.next().unwrap().to_owned(),
            );
            log.lock()
                .unwrap()
                .push(format!("{method} {}", path.split('?').next().unwrap()));
            let (status, headers, body): (u16, String, Vec<u8>) = if method == "GET"
                && path.ends_with("/manifests/v1")
            {
                (
                    200,
                    format!("Content-Type: {OCI_MANIFEST}\r\nDocker-Content-Digest: {subject}\r\n"),
                    image.to_vec(),
                )
            } else if method == "HEAD" {
                (200, String::new(), Vec::new())
            } else if method == "PUT" && path.contains("/manifests/sha256:") {
                (201, format!("OCI-Subject: {subject}\r\n"), Vec::new())
            } else {
                (404, String::new(), Vec::new())
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    let host = format!("127.0.0.1:{port}");
    let v = go(&[
        "compat",
        "attach",
        &docs_yaml(),
        &format!("{host}/app:v1"),
        "--plain-http",
        &host,
        "-o",
        "json",
    ])
    .expect(0)
    .json();
    assert_eq!(v["tagSchema"]["action"], "skipped");
    assert_eq!(v["subject"]["digest"], image_digest.as_str());
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(|l| !l.contains("sha256-")), "{seen:#?}");
    assert_eq!(seen.len(), 4, "{seen:#?}"); // GET v1, HEAD, HEAD, PUT by digest
    assert_eq!(v["requests"], 4);
}

/// NFD's documented example with `from` replaced by `to`, written to
/// `dir/name`.
fn docs_variant(dir: &Path, name: &str, from: &str, to: &str) -> PathBuf {
    let path = dir.join(name);
    let text = std::fs::read_to_string(docs_yaml()).unwrap();
    assert!(text.contains(from), "{from:?} is not in the example");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    path
}

/// `ocipick lint` on NFD artifacts: the manifest alone (a file), the
/// artifacts a layout lists (their specifications read from the layout),
/// and an artifact in the registry by digest (its layer fetched).
#[test]
fn lint_checks_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let (l, _, _) = layout(dir.path());
    let ls = l.display().to_string();
    let bad_weight = docs_variant(dir.path(), "w.yaml", "weight: 10", "weight: 500");
    let art = go(&[
        "compat",
        "attach",
        bad_weight.to_str().unwrap(),
        &format!("{ls}:v1"),
        "--created",
        "2025-01-01T00:00:00Z",
    ]);
    let art = art.expect(0).stdout.trim().to_owned();

    // The manifest as a file: clean but for the note that its layer was not read.
    let file = dir.path().join("artifact.json");
    std::fs::write(&file, blob(&l, &art)).unwrap();
    let v = go(&["lint", file.to_str().unwrap(), "-o", "json"])
        .expect(0)
        .json();
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["NFD011"]);
    // Without subject and artifactType: errors, exit 2.
    let mut m: Value = serde_json::from_slice(&blob(&l, &art)).unwrap();
    m.as_object_mut().unwrap().remove("subject");
    m.as_object_mut().unwrap().remove("artifactType");
    std::fs::write(&file, serde_json::to_vec(&m).unwrap()).unwrap();
    let r = go(&["lint", file.to_str().unwrap()]);
    r.expect(2);
    assert!(
        r.stdout.contains("error NFD001") && r.stdout.contains("error NFD005"),
        "{r:?}"
    );

    // The layout (a multi-platform index.json): its index is fine; the
    // artifact it lists has the weight.
    let mut index: Value =
        serde_json::from_slice(&std::fs::read(l.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["platform"] = json!({"architecture": "amd64", "os": "linux"});
    std::fs::write(l.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    let v = go(&["lint", &ls, "-o", "json"]).expect(0).json();
    let f = v["findings"].as_array().unwrap();
    let nfd: Vec<&Value> = f
        .iter()
        .filter(|f| f["id"].as_str().unwrap().starts_with("NFD"))
        .collect();
    assert_eq!(nfd.len(), 1, "{f:#?}");
    assert_eq!(nfd[0]["id"], "NFD008");
    assert_eq!(
        nfd[0]["path"],
        format!("manifests[1] ({art}): layers[0]: compatibilities[0].weight")
    );
    go(&["lint", &ls, "--strict"]).expect(1);

    // In the registry, by digest: the specification is fetched.
    let reg = Registry::anonymous();
    let host = reg.host();
    let image = reg.push_image("lint/app", "app", None, &[], false);
    let at = format!("{host}/lint/app@{}", image["digest"].as_str().unwrap());
    let bad_op = docs_variant(
        dir.path(),
        "op.yaml",
        "{op: Exists}",
        "{op: Exists, value: [x]}",
    );
    let v = go(&[
        "compat",
        "attach",
        bad_op.to_str().unwrap(),
        &at,
        "--plain-http",
        &host,
        "-o",
        "json",
    ])
    .expect(0)
    .json();
    let art = v["artifact"]["digest"].as_str().unwrap().to_owned();
    let r = go(&[
        "lint",
        &format!("{host}/lint/app@{art}"),
        "--plain-http",
        &host,
        "-o",
        "json",
    ]);
    let v = r.expect(2).json();
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["id"], "NFD010");
    assert!(
        f[0]["message"].as_str().unwrap().contains("takes no value"),
        "{f:#?}"
    );
    // SARIF lists the NFD rules.
    let s = go(&[
        "lint",
        &format!("{host}/lint/app@{art}"),
        "--plain-http",
        &host,
        "-o",
        "sarif",
    ]);
    assert!(s.stdout.contains("\"NFD013\""));
}
