//! `ocipick check` against several images on a real loopback registry
//! (`docker-registry`), with the `kubectl get nodes -o json` fixture and a
//! `kubectl get pods -A -o json` document naming the registry's images:
//! the matrix, exit 1 when a pair has no fit, each index fetched exactly
//! once however many nodes; and the `--output html` report rendered by
//! headless Chromium (Debian package `chromium`) with every cell present.

mod common;
#[path = "support/registry.rs"]
mod registry_support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use registry_support::{Registry, GPU_KEY};
use serde_json::{json, Value};

const NODES: [&str; 3] = ["amd-avx2", "arm-1", "gpu-1"];

/// The three images pushed, and the child manifests' digests.
struct Pushed {
    /// `127.0.0.1:PORT/multi:v1`: amd64 + arm64.
    multi: String,
    /// `127.0.0.1:PORT/armonly:v1`: arm64 only.
    armonly: String,
    /// `127.0.0.1:PORT/gpu:v1`: amd64, then amd64 annotated for a GPU.
    gpu: String,
    multi_amd: String,
    multi_arm: String,
    armonly_arm: String,
    gpu_plain: String,
    gpu_gpu: String,
}

fn digest_of(d: &Value) -> String {
    d["digest"].as_str().unwrap().to_owned()
}

fn push_all(reg: &Registry) -> Pushed {
    let oci_index = OCI_INDEX;
    let ma = reg.push_image("multi", "multi-amd", Some("linux/amd64"), &[], false);
    let mr = reg.push_image("multi", "multi-arm", Some("linux/arm64"), &[], false);
    reg.push_index("multi", "v1", oci_index, &[ma.clone(), mr.clone()]);
    let ar = reg.push_image("armonly", "armonly-arm", Some("linux/arm64"), &[], false);
    reg.push_index("armonly", "v1", oci_index, std::slice::from_ref(&ar));
    let gp = reg.push_image("gpu", "gpu-plain", Some("linux/amd64"), &[], false);
    let gg = reg.push_gpu_image("gpu", "gpu-gpu", false);
    reg.push_index("gpu", "v1", oci_index, &[gp.clone(), gg.clone()]);
    let h = reg.host();
    Pushed {
        multi: format!("{h}/multi:v1"),
        armonly: format!("{h}/armonly:v1"),
        gpu: format!("{h}/gpu:v1"),
        multi_amd: digest_of(&ma),
        multi_arm: digest_of(&mr),
        armonly_arm: digest_of(&ar),
        gpu_plain: digest_of(&gp),
        gpu_gpu: digest_of(&gg),
    }
}

/// A `kubectl get pods -A -o json` document using the images, with the
/// `multi` image in two pods (and twice in one of them) so deduplication
/// is exercised.
fn pods_json(p: &Pushed) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web-1", "namespace": "shop"},
                "spec": {
                    "initContainers": [{"name": "init", "image": p.multi}],
                    "containers": [{"name": "app", "image": p.multi}]
                }
            },
            {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "edge", "namespace": "iot"},
                "spec": {"containers": [
                    {"name": "agent", "image": p.armonly},
                    {"name": "proxy", "image": p.multi}
                ]}
            },
            {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "trainer", "namespace": "ml"},
                "spec": {"containers": [{"name": "train", "image": p.gpu}]}
            }
        ]
    })
}

/// `ocipick check --no-config --plain-http HOST --nodes FIXTURE --pods PODS
/// EXTRA…`, with no Docker credentials from the host.
fn check(reg: &Registry, pods: &str, extra: &[&str]) -> Run {
    let nodes = td("check/nodes.json");
    let host = reg.host();
    let mut args = vec![
        "check",
        "--no-config",
        "--plain-http",
        &host,
        "--nodes",
        &nodes,
        "--pods",
        pods,
    ];
    args.extend_from_slice(extra);
    let mut c = cmd(&args);
    c.env("DOCKER_CONFIG", reg.dir.path().join("no-docker-config"));
    run_cmd(c)
}

fn result<'v>(v: &'v Value, image: &str, node: &str) -> &'v Value {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["image"] == image && r["node"] == node)
        .unwrap_or_else(|| panic!("no result for {image} on {node}: {v:#}"))
}

/// Manifest GETs (by anyone but the harness) per repository, and whether
/// each answered 200.
fn manifest_gets(reg: &Registry) -> Vec<(String, u16)> {
    reg.sync_log();
    reg.access_log()
        .into_iter()
        .filter(|a| {
            a.method == "GET"
                && a.uri.contains("/manifests/")
                && !a.user_agent.starts_with("ocipick-test-")
        })
        .map(|a| {
            let repo = a
                .uri
                .trim_start_matches("/v2/")
                .split("/manifests/")
                .next()
                .unwrap()
                .to_owned();
            (repo, a.status)
        })
        .collect()
}

#[test]
fn check_matrix_over_several_registry_images() {
    let reg = Registry::anonymous();
    let p = push_all(&reg);
    let dir = tempfile::tempdir().unwrap();
    let pods = write_json(dir.path(), "pods.json", &pods_json(&p));

    let r = check(&reg, &pods, &["-o", "json"]);
    // armonly has no fit on the amd64 nodes and gpu none on arm-1: exit 1.
    r.expect(1);
    let v = r.json();

    // Images deduplicated, in order of first appearance, with their pods.
    let images: Vec<&str> = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["image"].as_str().unwrap())
        .collect();
    assert_eq!(images, [&p.multi, &p.armonly, &p.gpu], "{v:#}");
    let pods_of = |i: usize| -> Vec<String> {
        let mut ps: Vec<String> = v["images"][i]["pods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect();
        ps.sort();
        ps
    };
    assert_eq!(pods_of(0), ["iot/edge", "shop/web-1"]);
    assert_eq!(pods_of(1), ["iot/edge"]);
    assert_eq!(pods_of(2), ["ml/trainer"]);
    for i in v["images"].as_array().unwrap() {
        assert!(i["error"].is_null(), "{i:#}");
        assert!(
            i["index_digest"].as_str().unwrap().starts_with("sha256:"),
            "{i:#}"
        );
    }
    let nodes: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, NODES);

    // The whole matrix: 3 images × 3 nodes.
    assert_eq!(v["results"].as_array().unwrap().len(), 9);
    let expected: [(&str, &str, Option<&str>); 9] = [
        (&p.multi, "amd-avx2", Some(&p.multi_amd)),
        (&p.multi, "arm-1", Some(&p.multi_arm)),
        (&p.multi, "gpu-1", Some(&p.multi_amd)),
        (&p.armonly, "amd-avx2", None),
        (&p.armonly, "arm-1", Some(&p.armonly_arm)),
        (&p.armonly, "gpu-1", None),
        (&p.gpu, "amd-avx2", Some(&p.gpu_plain)),
        (&p.gpu, "arm-1", None),
        // Without preferences the first fitting entry wins, GPU or not.
        (&p.gpu, "gpu-1", Some(&p.gpu_plain)),
    ];
    for (image, node, digest) in expected {
        let c = result(&v, image, node);
        match digest {
            Some(d) => {
                assert_eq!(c["result"], "fit", "{image} on {node}: {c:#}");
                assert_eq!(c["digest"], d, "{image} on {node}: {c:#}");
            }
            None => {
                assert_eq!(c["result"], "no fit", "{image} on {node}: {c:#}");
                assert!(c["digest"].is_null(), "{c:#}");
                assert!(
                    !c["reasons"].as_array().unwrap().is_empty(),
                    "a no fit says why: {c:#}"
                );
            }
        }
    }
    let s = &v["summary"];
    assert_eq!(s["images"], 3);
    assert_eq!(s["nodes"], 3);
    assert_eq!(s["pairs"], 9);
    assert_eq!(s["fit"], 6);
    assert_eq!(s["no_fit"], 3);
    assert_eq!(s["error"], 0);
    assert_eq!(s["exit_status"], 1);

    // Each index fetched exactly once, whatever the number of nodes: one
    // manifest GET per image, answered 200, and no child manifest fetched.
    let mut gets = manifest_gets(&reg);
    gets.sort();
    assert_eq!(
        gets,
        [
            ("armonly".to_owned(), 200),
            ("gpu".to_owned(), 200),
            ("multi".to_owned(), 200)
        ],
        "manifest GETs: {gets:?}"
    );

    // A preference for the GPU annotation moves both amd64 nodes to the
    // annotated entry; still one GET per image for this second run.
    let r = check(&reg, &pods, &["-o", "json", "--prefer", GPU_KEY]);
    r.expect(1);
    let v = r.json();
    assert_eq!(result(&v, &p.gpu, "gpu-1")["digest"], json!(p.gpu_gpu));
    assert_eq!(result(&v, &p.gpu, "amd-avx2")["digest"], json!(p.gpu_gpu));
    assert_eq!(manifest_gets(&reg).len(), 6);
}

#[test]
fn check_exits_zero_when_every_pair_fits() {
    let reg = Registry::anonymous();
    let p = push_all(&reg);
    let dir = tempfile::tempdir().unwrap();
    let pods = json!({"apiVersion": "v1", "kind": "List", "items": [{
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "shop"},
        "spec": {"containers": [{"name": "app", "image": p.multi}]}
    }]});
    let pods = write_json(dir.path(), "pods.json", &pods);
    let r = check(&reg, &pods, &["-o", "json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["summary"]["fit"], 3);
    assert_eq!(v["summary"]["exit_status"], 0);
    assert_eq!(manifest_gets(&reg), [("multi".to_owned(), 200)]);
}

// ---- the HTML report in headless Chromium ----

fn chromium() -> Option<String> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|p| {
            std::env::var_os("PATH")
                .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(p).is_file()))
        })
        .map(str::to_owned)
}

/// Runs chromium with `args`, killing it after 60 s; returns its stdout.
fn run_chromium(bin: &str, profile: &Path, args: &[String]) -> String {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chromium");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium still running after 60 s: killed; stderr:\n{}",
                err_t.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out_t.join().unwrap();
    let stderr = err_t.join().unwrap();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    stdout
}

/// Decodes the entities an HTML serializer writes in attribute values.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The `(class, title, text)` of every `<td>` in the first table (the
/// matrix) of serialized `dom`.
fn matrix_cells(dom: &str) -> Vec<(String, String, String)> {
    let start = dom.find("<table").expect("a table in the DOM");
    let end = start + dom[start..].find("</table>").expect("table end");
    let table = &dom[start..end];
    let mut cells = Vec::new();
    let mut rest = table;
    while let Some(i) = rest.find("<td") {
        rest = &rest[i + 3..];
        let close = rest.find('>').unwrap();
        let attrs = &rest[..close];
        let attr = |name: &str| -> String {
            let key = format!("{name}=\"");
            attrs
                .find(&key)
                .map(|k| {
                    let v = &attrs[k + key.len()..];
                    unescape(&v[..v.find('"').unwrap()])
                })
                .unwrap_or_default()
        };
        let body_end = rest.find("</td>").unwrap();
        let text = unescape(&rest[close + 1..body_end]);
        cells.push((attr("class"), attr("title"), text));
        rest = &rest[body_end..];
    }
    cells
}

#[test]
fn html_report_renders_every_cell_in_headless_chromium() {
    let Some(bin) = chromium() else {
        assert_ne!(
            std::env::var("OCIPICK_REQUIRE_CHROMIUM").as_deref(),
            Ok("1"),
            "chromium is required (OCIPICK_REQUIRE_CHROMIUM=1) but not installed"
        );
        println!("SKIPPED: chromium not installed (apt-get install chromium)");
        return;
    };
    let reg = Registry::anonymous();
    let p = push_all(&reg);
    let dir = tempfile::tempdir().unwrap();
    let pods = write_json(dir.path(), "pods.json", &pods_json(&p));

    let r = check(&reg, &pods, &["-o", "json"]);
    r.expect(1);
    let v = r.json();
    let r = check(&reg, &pods, &["-o", "html"]);
    r.expect(1);
    let report = dir.path().join("report.html");
    std::fs::write(&report, &r.stdout).unwrap();

    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", report.display());
    let dom = run_chromium(
        &bin,
        profile.path(),
        &["--dump-dom".to_owned(), url.clone()],
    );
    assert!(dom.contains("<table"), "no table rendered:\n{dom}");

    // Every image × node cell is in the rendered matrix, with the verdict
    // and digest the JSON output gives and its hover text naming the pair.
    let cells = matrix_cells(&dom);
    assert_eq!(cells.len(), 9, "cells rendered: {cells:#?}");
    for img in [&p.multi, &p.armonly, &p.gpu] {
        for node in NODES {
            let want = result(&v, img, node);
            let prefix = format!("{img} on {node} (");
            let matching: Vec<_> = cells
                .iter()
                .filter(|(_, title, _)| title.starts_with(&prefix))
                .collect();
            assert_eq!(
                matching.len(),
                1,
                "cell {img} × {node} in the DOM: {cells:#?}"
            );
            let (class, title, text) = matching[0];
            match want["result"].as_str().unwrap() {
                "fit" => {
                    let d = want["digest"].as_str().unwrap();
                    assert_eq!(class, "fit");
                    let hex = d.trim_start_matches("sha256:");
                    assert!(text.contains(&hex[..12]), "{img} × {node}: {text}");
                    assert!(title.contains(d), "{img} × {node}: {title}");
                }
                "no fit" => {
                    assert_eq!(class, "nofit");
                    assert!(text.contains("NO FIT"), "{img} × {node}: {text}");
                }
                other => panic!("unexpected result {other}"),
            }
        }
    }
    // The page is self-contained: nothing external to fetch.
    assert!(!dom.contains("src=\"http"), "external asset in:\n{dom}");

    // A screenshot renders too (non-empty PNG).
    let shot = dir.path().join("report.png");
    run_chromium(
        &bin,
        profile.path(),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,800".to_owned(),
            url,
        ],
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(png.len() > 1000, "tiny screenshot: {} bytes", png.len());
}
