//! Integration tests of `ocipick check`: images × nodes, from kubectl JSON
//! and facts files, in every output format.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ocipick");

const GPU_PLAIN: &str = "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f";
const GPU_ARM: &str = "sha256:8a5b4c4e1c1a3c2f1e0d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e";
const CUDA_V3: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
const CUDA_GPU: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const CUDA_ARM: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// `ocipick check ARGS…` in the workspace root (fixtures name images by
/// paths relative to it), without configuration from the environment.
fn check(args: &[&str]) -> Run {
    let o = Command::new(BIN)
        .arg("check")
        .args(args)
        .current_dir(root())
        .env_remove("OCIPICK_CONFIG")
        .env(
            "DOCKER_CONFIG",
            root().join("testdata/check/no-docker-config"),
        )
        .output()
        .expect("ocipick runs");
    Run {
        code: o.status.code().expect("not killed"),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

const PODS: &str = "testdata/check/pods.json";
const NODES: &str = "testdata/check/nodes.json";
const CONFIG: &str = "examples/ocipick.toml";

/// The result for (image, node) in JSON output.
fn result<'v>(v: &'v Value, image: &str, node: &str) -> &'v Value {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["image"] == image && r["node"] == node)
        .unwrap_or_else(|| panic!("no result for {image} on {node}"))
}

#[test]
fn pods_and_kubectl_nodes_json() {
    let r = check(&[
        "--config", CONFIG, "--pods", PODS, "--nodes", NODES, "-o", "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    // Two images out of four container references, in order of appearance
    // (the init container comes first), each with the pods that use it.
    let images = v["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["image"], "testdata/examples/gpu-index.json");
    assert_eq!(
        images[0]["pods"],
        serde_json::json!(["ml/trainer", "shop/web-1"])
    );
    assert_eq!(images[1]["image"], "examples/cuda-index.json");
    assert_eq!(
        images[1]["pods"],
        serde_json::json!(["ml/trainer", "shop/web-1", "shop/web-2"])
    );
    assert!(images[0]["index_digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    // Nodes: platform from the kubernetes.io labels, the x86-64 level from
    // NFD's cpuid labels.
    let nodes: Vec<(&str, &str)> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap(), n["platform"].as_str().unwrap()))
        .collect();
    assert_eq!(
        nodes,
        [
            ("amd-avx2", "linux/amd64/v3"),
            ("arm-1", "linux/arm64"),
            ("gpu-1", "linux/amd64/v3")
        ]
    );
    let gpu = "testdata/examples/gpu-index.json";
    let cuda = "examples/cuda-index.json";
    assert_eq!(result(&v, gpu, "amd-avx2")["digest"], GPU_PLAIN);
    assert_eq!(result(&v, gpu, "arm-1")["digest"], GPU_ARM);
    assert_eq!(result(&v, cuda, "amd-avx2")["digest"], CUDA_V3);
    assert_eq!(result(&v, cuda, "arm-1")["digest"], CUDA_ARM);
    // The NVIDIA node (PCI label, driver from gpu-feature-discovery) gets
    // the CUDA build, with the rules' reasons.
    let g = result(&v, cuda, "gpu-1");
    assert_eq!(g["digest"], CUDA_GPU);
    assert_eq!(g["result"], "fit");
    assert_eq!(g["position"], 2);
    assert!(g["score"].as_i64().unwrap() >= 100, "{g}");
    let reasons = g["reasons"].to_string();
    assert!(reasons.contains("550.90.07"), "{reasons}");
    assert!(reasons.contains("+100"), "{reasons}");
    // Shape of results and summary.
    assert_eq!(v["results"].as_array().unwrap().len(), 6);
    for r in v["results"].as_array().unwrap() {
        for k in [
            "image", "node", "digest", "position", "score", "reasons", "result",
        ] {
            assert!(r.get(k).is_some(), "{k} missing in {r}");
        }
    }
    let s = &v["summary"];
    assert_eq!(
        (s["images"].as_u64(), s["nodes"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(
        (s["pairs"].as_u64(), s["fit"].as_u64(), s["no_fit"].as_u64()),
        (Some(6), Some(6), Some(0))
    );
    assert_eq!(s["per_node"]["gpu-1"]["fit"], 2);
}

/// check gives every facts-file node what `select --node` gives it.
#[test]
fn agrees_with_select_for_facts_files() {
    let r = check(&[
        "--config",
        CONFIG,
        "examples/cuda-index.json",
        "--node",
        "examples/nodes",
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["nodes"].as_array().unwrap().len(), 3);
    for name in ["epyc-vm", "gpu-server", "old-xeon"] {
        let o = Command::new(BIN)
            .args(["select", "--config", CONFIG, "-o", "json", "--node"])
            .arg(format!("examples/nodes/{name}.json"))
            .arg("examples/cuda-index.json")
            .current_dir(root())
            .output()
            .unwrap();
        assert!(o.status.success());
        let sel: Value = serde_json::from_slice(&o.stdout).unwrap();
        let want = sel["digest"]
            .as_str()
            .or(sel["descriptor"]["digest"].as_str())
            .unwrap_or_else(|| panic!("{sel}"));
        assert_eq!(
            result(&v, "examples/cuda-index.json", name)["digest"],
            want,
            "{name}"
        );
    }
}

#[test]
fn text_matrix_and_no_fit_exit() {
    let r = check(&[
        "--no-config",
        "--pods",
        PODS,
        "--nodes",
        NODES,
        "--node",
        "testdata/check/nodes/s390x.json",
    ]);
    assert_eq!(
        r.code, 1,
        "a pair without fit gates: {}{}",
        r.stdout, r.stderr
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["IMAGE", "s390x", "amd-avx2", "arm-1", "gpu-1"]);
    let platforms: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        platforms,
        [
            "linux/s390x",
            "linux/amd64/v3",
            "linux/arm64",
            "linux/amd64/v3"
        ]
    );
    let row = |image: &str| -> Vec<String> {
        let l = lines.iter().find(|l| l.starts_with(image)).unwrap();
        let rest = l[image.len()..].trim();
        rest.split("  ")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        row("testdata/examples/gpu-index.json"),
        ["NO FIT", "e692418e4cba", "8a5b4c4e1c1a", "e692418e4cba"]
    );
    assert_eq!(
        row("examples/cuda-index.json"),
        ["NO FIT", "333333333333", "aaaaaaaaaaaa", "333333333333"]
    );
    assert!(r.stdout.contains("no fit on s390x"), "{}", r.stdout);
    assert!(r
        .stdout
        .contains("used by 3 pods: ml/trainer, shop/web-1, shop/web-2"));
    assert!(r.stdout.contains("s390x (linux/s390x): 0 of 2 images fit"));
    assert!(r.stdout.contains("8 pairs: 6 fit, 2 no fit, 0 errors"));
    // The reason names what the index offers.
    let j = check(&[
        "--no-config",
        "examples/cuda-index.json",
        "--node",
        "testdata/check/nodes/s390x.json",
        "-o",
        "json",
    ]);
    assert_eq!(j.code, 1);
    let v = j.json();
    let c = &v["results"][0];
    assert_eq!(c["result"], "no fit");
    assert!(c["digest"].is_null());
    assert!(
        c["reasons"][0]
            .as_str()
            .unwrap()
            .contains("it offers linux/amd64"),
        "{c}"
    );
}

#[test]
fn images_file_dedups_and_skips_comments() {
    let r = check(&[
        "--no-config",
        "--images",
        "testdata/check/images.txt",
        "examples/cuda-index.json",
        "--nodes",
        NODES,
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let names: Vec<&str> = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["image"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "examples/cuda-index.json",
            "testdata/examples/gpu-index.json"
        ]
    );
}

#[test]
fn csv_rows_are_quoted() {
    let r = check(&[
        "--config", CONFIG, "--pods", PODS, "--nodes", NODES, "-o", "csv",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "image,pods,node,node_platform,result,digest,platform,position,score,reasons"
    );
    assert_eq!(lines.len(), 7, "a header and one row a pair");
    // Reasons hold commas and quotes (the rule quotes the annotation), so
    // the field is quoted and its quotes doubled.
    let gpu = lines
        .iter()
        .find(|l| l.starts_with("examples/cuda-index.json,") && l.contains(",gpu-1,"))
        .unwrap();
    assert!(gpu.contains(CUDA_GPU));
    assert!(gpu.ends_with('"'), "{gpu}");
    assert!(gpu.contains("\"\"avx2,fma,bmi2\"\""), "{gpu}");
    // Pods are one field, space-separated.
    assert!(
        gpu.starts_with(
            "examples/cuda-index.json,ml/trainer shop/web-1 shop/web-2,gpu-1,linux/amd64/v3,fit,"
        ),
        "{gpu}"
    );
    // A comma in a field is quoted.
    let h = check(&[
        "--config",
        CONFIG,
        "--pods",
        "testdata/check/hostile-pods.json",
        "--nodes",
        NODES,
        "-o",
        "csv",
    ]);
    assert!(h.stdout.contains("\"avx2,<script>"), "{}", h.stdout);
    assert!(
        h.stdout
            .contains("\"evil\"\"ns/<img src=x onerror=alert(1)>\""),
        "{}",
        h.stdout
    );
}

#[test]
fn html_is_self_contained_and_escaped() {
    let r = check(&[
        "--config",
        CONFIG,
        "--pods",
        PODS,
        "--pods",
        "testdata/check/hostile-pods.json",
        "--nodes",
        NODES,
        "--node",
        "testdata/check/nodes/s390x.json",
        "-o",
        "html",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let h = &r.stdout;
    assert!(h.starts_with("<!DOCTYPE html>"));
    assert_eq!(h.matches("<html").count(), 1, "one page");
    assert!(h.contains("<style>"));
    let lower = h.to_ascii_lowercase();
    for bad in [
        "<script",
        "src=\"http",
        "href=\"http",
        "src='http",
        "href=",
        "<link",
        "@import",
        "url(",
    ] {
        assert!(!lower.contains(bad), "{bad} in the page");
    }
    // The hostile annotation and pod name are escaped everywhere.
    assert!(!h.contains("<img"));
    assert!(h.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(h.contains("evil&quot;ns/&lt;img src=x onerror=alert(1)&gt;"));
    // Colour-coded cells, each with its explanation.
    assert!(h.contains("<td class=\"fit\" title=\""));
    assert!(h.contains("<td class=\"nofit\" title=\""));
    assert_eq!(h.matches("<td class=\"").count(), 3 * 4, "every cell");
    // Nodes grouped by platform: the two amd64/v3 nodes share one header.
    assert!(
        h.contains("<th colspan=\"2\" class=\"group\">linux/amd64/v3</th>"),
        "{h}"
    );
    let amd = h.find(">amd-avx2<").unwrap();
    let gpu = h.find(">gpu-1<").unwrap();
    let arm = h.find(">arm-1<").unwrap();
    assert!(amd < gpu && gpu < arm, "grouped columns");
    // Each cell's title explains the choice.
    assert!(h.contains("platform linux/amd64/v3 matches linux/amd64/v3"));
    assert!(h.contains("no manifest for linux/s390x"));
}

#[test]
fn registry_failure_marks_the_row_and_exits_3() {
    // Nothing listens on port 1 of the loopback address.
    let r = check(&[
        "--no-config",
        "--retries",
        "0",
        "--timeout",
        "2",
        "127.0.0.1:1/none/app:1",
        "examples/cuda-index.json",
        "--nodes",
        NODES,
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert!(v["images"][0]["error"].is_string());
    assert_eq!(
        result(&v, "127.0.0.1:1/none/app:1", "arm-1")["result"],
        "error"
    );
    // The other image is still checked.
    assert_eq!(
        result(&v, "examples/cuda-index.json", "arm-1")["digest"],
        CUDA_ARM
    );
    let t = check(&[
        "--no-config",
        "--retries",
        "0",
        "127.0.0.1:1/none/app:1",
        "--nodes",
        NODES,
    ]);
    assert_eq!(t.code, 3);
    assert!(t.stdout.contains("ERROR"), "{}", t.stdout);
}

#[test]
fn usage_errors_exit_2() {
    let r = check(&["--no-config", "--nodes", NODES]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no images"), "{}", r.stderr);
    let r = check(&["--no-config", "examples/cuda-index.json"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no nodes"), "{}", r.stderr);
    let r = check(&["--no-config", "examples/cuda-index.json", "--nodes", PODS]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // An image that is not an index is reported, the others checked.
    let r = check(&[
        "--no-config",
        "testdata/check/images.txt",
        "examples/cuda-index.json",
        "--nodes",
        NODES,
    ]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("ERROR"));
    assert!(r.stdout.contains("aaaaaaaaaaaa"));
}
