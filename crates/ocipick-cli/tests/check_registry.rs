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
    /// The digest of the `gpu:v1` index.
    gpu_index: String,
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
    let gpu_index = reg.push_index("gpu", "v1", oci_index, &[gp.clone(), gg.clone()]);
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
        gpu_index,
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

    let r = check(&reg, &pods, &["-o", "json", "--per-pair"]);
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
    let r = check(
        &reg,
        &pods,
        &["-o", "json", "--per-pair", "--prefer", GPU_KEY],
    );
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

/// The default JSON groups nodes into classes: the two amd64/v3 nodes of
/// the fixture are one class, listed with both names, and each image has
/// one cell per class, naming the build in words with its digest.
#[test]
fn compact_json_groups_nodes_by_class() {
    let reg = Registry::anonymous();
    let p = push_all(&reg);
    let dir = tempfile::tempdir().unwrap();
    let pods = write_json(dir.path(), "pods.json", &pods_json(&p));
    let r = check(&reg, &pods, &["-o", "json", "--prefer", GPU_KEY]);
    r.expect(1);
    let v = r.json();
    let classes = v["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 2, "{v:#}");
    assert_eq!(classes[0]["platform"], "linux/amd64/v3");
    assert_eq!(classes[0]["nodes"], json!(["amd-avx2", "gpu-1"]));
    assert_eq!(classes[1]["platform"], "linux/arm64");
    assert_eq!(classes[1]["nodes"], json!(["arm-1"]));
    assert!(v.get("results").is_none(), "no per-pair results by default");
    let gpu = &v["images"][2];
    assert_eq!(gpu["image"], json!(p.gpu));
    let cells = gpu["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    // The preference decided it: said in words, the digest beside.
    assert_eq!(cells[0]["class"], "c1");
    assert_eq!(cells[0]["build"], "#1 amd64 gpu=example-gpu-model");
    assert_eq!(cells[0]["decided_by"], json!(["gpu=example-gpu-model"]));
    assert_eq!(cells[0]["digest"], json!(p.gpu_gpu));
    assert_eq!(cells[1]["result"], "no fit");
    assert!(cells[1]["build"].is_null());
    let multi = &v["images"][0]["cells"];
    assert_eq!(multi[0]["build"], "#0 amd64 first match");
    assert_eq!(multi[1]["build"], "#1 arm64 first match");
    // Pairs are still counted per node.
    assert_eq!(v["summary"]["pairs"], 9);
    assert_eq!(v["summary"]["classes"], 2);
    assert_eq!(v["summary"]["per_class"]["c1"]["fit"], 2);
    assert_eq!(manifest_gets(&reg).len(), 3);
}

/// A pod pinned to an index digest gets the runtime's first match, not
/// the policy's choice (no mirror can reorder content addressed by its
/// digest); the pods section shows it next to what the pod's status says
/// it runs, for init, app and ephemeral containers.
#[test]
fn pinned_index_digests_get_the_first_match() {
    let reg = Registry::anonymous();
    let p = push_all(&reg);
    let o = p.gpu_index.clone();
    assert!(o.starts_with("sha256:"), "{o}");
    let pinned = format!("{}/gpu@{o}", reg.host());
    let dir = tempfile::tempdir().unwrap();
    let pods = json!({"kind": "List", "items": [
        {"kind": "Pod", "metadata": {"name": "train", "namespace": "ml"},
         "spec": {"nodeName": "gpu-1",
                  "initContainers": [{"name": "init", "image": p.multi}],
                  "containers": [{"name": "t", "image": pinned}],
                  "ephemeralContainers": [{"name": "dbg", "image": p.gpu}]},
         "status": {"containerStatuses": [{"name": "t", "imageID": format!("{}/gpu@{o}", reg.host())}],
                    "initContainerStatuses": [{"name": "init", "imageID": format!("x@{}", p.multi_amd)}],
                    "ephemeralContainerStatuses": [{"name": "dbg", "imageID": format!("x@{}", p.gpu_plain)}]}}]});
    let pods = write_json(dir.path(), "pods.json", &pods);
    let r = check(&reg, &pods, &["-o", "json", "--prefer", GPU_KEY]);
    let v = r.json();
    let img = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["image"] == json!(pinned))
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(img["pinned"], "index");
    // The policy would pick the GPU build; pinned, the runtime picks #0.
    let c1 = &img["cells"][0];
    assert_eq!(c1["digest"], json!(p.gpu_gpu));
    assert_eq!(c1["first_match"]["digest"], json!(p.gpu_plain));
    assert_eq!(c1["first_match"]["build"], "#0 amd64 first match");
    // The tag-addressed image is not pinned.
    let tagged = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["image"] == json!(p.gpu))
        .unwrap();
    assert!(tagged["pinned"].is_null());
    assert!(tagged["cells"][0].get("first_match").is_none());
    let rows = v["pods"].as_array().unwrap();
    let row = |c: &str| {
        rows.iter()
            .find(|r| r["container"] == c)
            .unwrap_or_else(|| panic!("{c}: {rows:#?}"))
    };
    let t = row("t");
    assert_eq!(t["pinned_index"], true);
    assert_eq!(t["class"], "c1");
    assert_eq!(t["gets"]["digest"], json!(p.gpu_plain));
    assert_eq!(t["runs"], json!(o));
    assert_eq!(t["compare"], "same index");
    let init = row("init");
    assert_eq!(init["kind"], "init");
    assert_eq!(init["gets"]["digest"], json!(p.multi_amd));
    assert_eq!(init["compare"], "same build");
    let dbg = row("dbg");
    assert_eq!(dbg["kind"], "ephemeral");
    assert_eq!(dbg["pinned_index"], false);
    // Not pinned: the policy's choice (the GPU build), not what runs.
    assert_eq!(dbg["gets"]["digest"], json!(p.gpu_gpu));
    assert_eq!(dbg["compare"], "differs");
    // The same section in text, CSV and HTML.
    let t = check(&reg, &pods, &["--prefer", GPU_KEY]);
    assert!(t.stdout.contains("[pinned to an index digest: the runtime's first match applies, no mirror can change it]"), "{}", t.stdout);
    assert!(t.stdout.contains(&format!("ml/train t (app) {pinned} on gpu-1 (c1): gets #0 amd64 first match {} (pinned to an index: first match); runs {o} (same index)", p.gpu_plain)), "{}", t.stdout);
    assert!(
        t.stdout.contains("ml/train dbg (ephemeral)"),
        "{}",
        t.stdout
    );
    let c = check(&reg, &pods, &["-o", "csv", "--prefer", GPU_KEY]);
    assert!(c.stdout.contains(&format!("\nml/train,t,app,{pinned},gpu-1,c1,true,#0 amd64 first match,{},{}/gpu@{o},same index\n", p.gpu_plain, reg.host())), "{}", c.stdout);
    let h = check(&reg, &pods, &["-o", "html", "--prefer", GPU_KEY]);
    assert!(h.stdout.contains("<h2>Pods</h2>"));
    assert!(h.stdout.contains("dbg (ephemeral)"));
    assert!(h.stdout.contains("(same index)"));
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

    let r = check(&reg, &pods, &["-o", "json", "--per-pair"]);
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

    // Every image × class cell is in the rendered matrix (the two amd64/v3
    // nodes are one class), with the verdict and digest the JSON output
    // gives each node of the class and its hover text naming the pair.
    let cells = matrix_cells(&dom);
    assert_eq!(cells.len(), 3 * 2, "cells rendered: {cells:#?}");
    for img in [&p.multi, &p.armonly, &p.gpu] {
        for node in NODES {
            let want = result(&v, img, node);
            let class = want["class"].as_str().unwrap();
            let prefix = format!("{img} on {class} (");
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
                    // The build in words as text, the digest on hover.
                    assert_eq!(text, want["build"].as_str().unwrap(), "{img} × {node}");
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
