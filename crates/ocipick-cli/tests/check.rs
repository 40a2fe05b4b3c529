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
        "--config",
        CONFIG,
        "--pods",
        PODS,
        "--nodes",
        NODES,
        "-o",
        "json",
        "--per-pair",
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
        "--per-pair",
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
    // Node classes first: without rules, the two amd64/v3 nodes are one
    // class; then one block an image, a line a class.
    let out = &r.stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "4 nodes in 3 classes:", "{out}");
    assert_eq!(lines[1], "  c1 linux/s390x: s390x");
    assert_eq!(lines[2], "  c2 linux/amd64/v3: amd-avx2, gpu-1");
    assert_eq!(lines[3], "  c3 linux/arm64: arm-1");
    let block = |image: &str| -> Vec<String> {
        let at = lines
            .iter()
            .position(|l| l.starts_with(image))
            .unwrap_or_else(|| panic!("no block for {image}:\n{out}"));
        lines[at + 1..at + 4]
            .iter()
            .map(|l| l.to_string())
            .collect()
    };
    // Each cell names the build in words, with its digest beside it.
    assert_eq!(
        block("testdata/examples/gpu-index.json")[1..],
        [
            format!("  c2  #0 amd64 first match  {GPU_PLAIN}"),
            format!("  c3  #2 arm64/v8 first match  {GPU_ARM}"),
        ]
    );
    assert_eq!(
        block("examples/cuda-index.json")[1..],
        [
            format!("  c2  #1 amd64/v3 first match  {CUDA_V3}"),
            format!("  c3  #3 arm64 first match  {CUDA_ARM}"),
        ]
    );
    assert!(block("examples/cuda-index.json")[0]
        .starts_with("  c1  NO FIT: no manifest for linux/s390x"));
    assert!(r
        .stdout
        .contains("examples/cuda-index.json (used by 3 pods: ml/trainer, shop/web-1, shop/web-2)"));
    assert!(out.contains("  c1 (linux/s390x, 1 node): 0 of 2 images fit; no fit for testdata/examples/gpu-index.json, examples/cuda-index.json"), "{out}");
    assert!(out.contains("  c2 (linux/amd64/v3, 2 nodes): 2 of 2 images fit"));
    assert!(out.ends_with("8 pairs (2 images × 4 nodes): 6 fit, 2 no fit, 0 errors\n"));
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
    let c = &v["images"][0]["cells"][0];
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
        "--config",
        CONFIG,
        "--pods",
        PODS,
        "--nodes",
        NODES,
        "-o",
        "csv",
        "--per-pair",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (pairs, pods) = r.stdout.split_once("\n\n").expect("a pods table");
    let lines: Vec<&str> = pairs.lines().collect();
    assert_eq!(
        lines[0],
        "image,pods,node,node_platform,result,digest,platform,position,score,reasons,build"
    );
    assert_eq!(lines.len(), 7, "a header and one row a pair");
    assert_eq!(
        pods.lines().count(),
        1 + 5,
        "a header and a row a container"
    );
    // Reasons hold commas and quotes (the rule quotes the annotation), so
    // the field is quoted and its quotes doubled.
    let gpu = lines
        .iter()
        .find(|l| l.starts_with("examples/cuda-index.json,") && l.contains(",gpu-1,"))
        .unwrap();
    assert!(gpu.contains(CUDA_GPU));
    assert!(gpu.ends_with(",#2 amd64/v3 cuda.version=12.4"), "{gpu}");
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
        "--per-pair",
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
        "--per-pair",
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

// ---------------------------------------------------------------------------
// Hostile names and annotation values, in every output format.
//
// testdata/check/hostile-nodes.json names nodes with an escape sequence, a
// line break that would forge a summary line, a spreadsheet formula and an
// attribute-breaking `"><script>`; hostile-names-pods.json names pods and
// images so (a formula, an OSC title sequence with BEL, a tab, an erase-
// screen sequence with a line break), and its first image,
// hostile-annotations.json, has an annotation value with all of those,
// which the configuration's rule quotes in its reasons.

const HOSTILE_NODES: &str = "testdata/check/hostile-nodes.json";
const HOSTILE_PODS: &str = "testdata/check/hostile-names-pods.json";

/// Every hostile node name, image spelling and pod of the fixtures.
const HOSTILE_NODE_NAMES: [&str; 5] = [
    "red\u{1b}[31mnode\u{1b}[0m",
    "=HYPERLINK(\"http://evil.example/\",\"click\")",
    "two\nforged (linux/amd64): 9 of 9 images fit",
    "\"><script>alert(2)</script>",
    "@SUM(1+1)*cmd|' /C calc'!A0",
];
const HOSTILE_IMAGES: [&str; 3] = [
    "testdata/check/hostile-annotations.json",
    "=HYPERLINK(\"http://evil.example/\",\"click\")",
    "testdata/check/\u{1b}[2Jwipe\nimages:.json",
];
const HOSTILE_ANNOTATION: &str = "AVX2,\u{1b}[31mred\u{1b}[0m,line\nbreak,=HYPERLINK(\"http://evil.example/\"),\"><script>alert(3)</script>";

fn hostile(output: &str) -> Run {
    hostile_with(output, &[])
}

fn hostile_with(output: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "--config",
        CONFIG,
        "--pods",
        HOSTILE_PODS,
        "--nodes",
        HOSTILE_NODES,
        "-o",
        output,
    ];
    args.extend_from_slice(extra);
    let r = check(&args);
    // Two images cannot be read (exit 2); the other fits no node.
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    r
}

/// Raw control characters other than `allowed`.
fn raw_controls(s: &str, allowed: &[char]) -> Vec<char> {
    s.chars()
        .filter(|c| c.is_control() && !allowed.contains(c))
        .collect()
}

#[test]
fn text_shows_control_characters_escaped() {
    let r = hostile("text");
    let out = &r.stdout;
    assert_eq!(
        raw_controls(out, &['\n']),
        [] as [char; 0],
        "raw control characters in the text report:\n{out}"
    );
    // Each shown escaped where it was, in the matrix and the summaries.
    for shown in [
        "red\\u{1b}[31mnode\\u{1b}[0m",
        "two\\nforged (linux/amd64): 9 of 9 images fit",
        "testdata/check/\\u{1b}[2Jwipe\\nimages:.json",
        "default/title\\u{1b}]0;pwned\\u{7}",
        "\\tns/tab",
    ] {
        assert!(out.contains(shown), "{shown} not in\n{out}");
    }
    // No line is forged: the classes (a header and 2 lines), three image
    // blocks (a blank line, the image, one line per class or one error
    // line), the pods (a blank line, a header, 3 lines), the classes
    // summary (a blank line, a header, 2 lines) and the totals.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        3 + (2 + 2) + (2 + 1) + (2 + 1) + (2 + 3) + (2 + 2) + 1,
        "{out}"
    );
    assert_eq!(lines[0], "5 nodes in 2 classes:");
    let forged: Vec<&&str> = lines.iter().filter(|l| l.starts_with("forged")).collect();
    assert!(forged.is_empty(), "{forged:?}");
    assert_eq!(
        lines[lines.len() - 1],
        "15 pairs (3 images × 5 nodes): 0 fit, 5 no fit, 10 errors"
    );
}

/// Parses RFC 4180 CSV (LF line ends): rows of decoded fields; panics on
/// a malformed quoted field.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_start => {
                loop {
                    match chars.next().expect("a quoted field is closed") {
                        '"' if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        '"' => break,
                        c => field.push(c),
                    }
                }
                assert!(
                    matches!(chars.peek(), None | Some(',') | Some('\n')),
                    "text after a closing quote: {field:?}"
                );
                at_start = false;
            }
            '"' => panic!("a quote inside an unquoted field: {field:?}"),
            ',' => {
                row.push(std::mem::take(&mut field));
                at_start = true;
            }
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                at_start = true;
            }
            c => {
                field.push(c);
                at_start = false;
            }
        }
    }
    assert!(field.is_empty() && row.is_empty(), "the last line ends");
    rows
}

#[test]
fn csv_neutralizes_formulas_and_quotes_hostile_names() {
    let r = hostile_with("csv", &["--per-pair"]);
    let (pairs, pods) = r.stdout.split_once("\n\n").expect("a pods table");
    let rows = parse_csv(&format!("{pairs}\n"));
    assert_eq!(rows.len(), 1 + 3 * 5, "{}", r.stdout);
    let pod_rows = parse_csv(pods);
    assert_eq!(pod_rows.len(), 1 + 3, "{pods}");
    for row in rows
        .iter()
        .chain(&pod_rows)
        .chain(&parse_csv(&hostile("csv").stdout.replace("\n\n", "\n")))
    {
        assert!(row.len() == 11 || row.len() == 12, "{row:?}");
        for f in row {
            let formula = f.starts_with(['=', '+', '-', '@', '\t', '\r'])
                && !(f.starts_with('-') && f[1..].bytes().all(|b| b.is_ascii_digit()));
            assert!(!formula, "a cell a spreadsheet would run: {f:?}");
        }
    }
    // The cells hold the names as they are, behind the `'`.
    let cell = |image: &str, node: &str| -> &Vec<String> {
        rows.iter()
            .find(|r| {
                r[0].trim_start_matches('\'') == image && r[2].trim_start_matches('\'') == node
            })
            .unwrap_or_else(|| panic!("no row for {image:?} on {node:?}"))
    };
    for node in HOSTILE_NODE_NAMES {
        for image in HOSTILE_IMAGES {
            cell(image, node);
        }
    }
    let formula = cell(HOSTILE_IMAGES[1], HOSTILE_NODE_NAMES[1]);
    assert_eq!(
        formula[0],
        "'=HYPERLINK(\"http://evil.example/\",\"click\")"
    );
    assert_eq!(formula[1], "default/title\u{1b}]0;pwned\u{7}");
    assert_eq!(
        formula[2],
        "'=HYPERLINK(\"http://evil.example/\",\"click\")"
    );
    assert!(formula[9].starts_with("'=HYPERLINK("), "{:?}", formula[9]);
    let first = cell(HOSTILE_IMAGES[0], HOSTILE_NODE_NAMES[4]);
    assert_eq!(first[1], "'-ns/+cmd|' /C calc'!A0");
    assert_eq!(first[2], "'@SUM(1+1)*cmd|' /C calc'!A0");
    assert_eq!(
        cell(HOSTILE_IMAGES[2], HOSTILE_NODE_NAMES[0])[1],
        "'\tns/tab"
    );
    // A line break in a name or an annotation stays inside its quoted cell.
    let two = cell(HOSTILE_IMAGES[0], HOSTILE_NODE_NAMES[2]);
    assert_eq!(two[2], HOSTILE_NODE_NAMES[2]);
    let red = cell(HOSTILE_IMAGES[0], HOSTILE_NODE_NAMES[0]);
    // The rule quotes the value (escaped as Rust quotes strings), then
    // lists what the node lacks as it is.
    assert!(
        red[9].contains(&format!("{HOSTILE_ANNOTATION:?}")),
        "{:?}",
        red[9]
    );
    assert!(red[9].contains("lacks \u{1b}[31mred\u{1b}[0m, line\nbreak, =HYPERLINK(\"http://evil.example/\"), \"><script>alert(3)</script>"), "{:?}", red[9]);
}

#[test]
fn json_escapes_hostile_strings() {
    let r = hostile_with("json", &["--per-pair"]);
    // serde_json escapes every control character; the pretty-printer's
    // line breaks are the only raw ones.
    assert_eq!(raw_controls(&r.stdout, &['\n']), [] as [char; 0]);
    assert!(r.stdout.contains("red\\u001b[31mnode\\u001b[0m"));
    assert!(r.stdout.contains("two\\nforged"));
    assert!(r.stdout.contains("title\\u001b]0;pwned\\u0007"));
    assert!(r.stdout.contains("\\\"><script>alert(2)</script>"));
    // And every string comes back as it was.
    let v = r.json();
    let nodes: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, HOSTILE_NODE_NAMES);
    let images: Vec<&str> = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["image"].as_str().unwrap())
        .collect();
    assert_eq!(images, HOSTILE_IMAGES);
    assert_eq!(v["images"][0]["pods"][0], "-ns/+cmd|' /C calc'!A0");
    assert_eq!(v["images"][2]["pods"][0], "\tns/tab");
    let reasons = result(&v, HOSTILE_IMAGES[0], HOSTILE_NODE_NAMES[0])["reasons"].to_string();
    assert!(
        reasons.contains("lacks \\u001b[31mred\\u001b[0m, line\\nbreak"),
        "{reasons}"
    );
}

#[test]
fn html_escapes_hostile_strings() {
    let r = hostile("html");
    let h = &r.stdout;
    assert_eq!(raw_controls(h, &['\n']), [] as [char; 0], "{h}");
    let lower = h.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "{h}");
    // The node name's quote does not end the title attribute it is in.
    assert!(!h.contains("\"\"><"), "an attribute broken out of: {h}");
    // Node names in the class headers' titles and the classes table, escaped.
    assert!(h.contains("<td>=HYPERLINK(&quot;http://evil.example/&quot;,&quot;click&quot;), two&#10;forged (linux/amd64): 9 of 9 images fit, &quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;, @SUM(1+1)*cmd|&#39; /C calc&#39;!A0</td>"), "{h}");
    assert!(h.contains("title=\"c2 (linux/amd64): 4 nodes: =HYPERLINK(&quot;http://evil.example/&quot;,&quot;click&quot;), two&#10;forged"), "{h}");
    assert!(
        h.contains("title=\"c1 (linux/amd64): 1 node: red&#27;[31mnode&#27;[0m"),
        "{h}"
    );
    assert!(h.contains("<td>red&#27;[31mnode&#27;[0m</td>"), "{h}");
    // The annotation value in the cells' titles, escaped.
    assert!(h.contains("lacks &#27;[31mred&#27;[0m, line&#10;break, =HYPERLINK(&quot;http://evil.example/&quot;), &quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;"), "{h}");
    // Pods and images.
    assert!(h.contains("default/title&#27;]0;pwned&#7;"));
    assert!(h.contains("testdata/check/&#27;[2Jwipe&#10;images:.json"));
    // Every image × class cell: 3 images, 2 classes.
    assert_eq!(h.matches("<td class=\"").count(), 3 * 2, "every cell");
}

/// The errors that name a node (a bad platform, no platform labels) quote
/// it, control characters escaped.
#[test]
fn node_errors_quote_hostile_names() {
    let dir = tempfile::tempdir().unwrap();
    for (labels, says) in [
        (
            serde_json::json!({"kubernetes.io/os": "linux", "kubernetes.io/arch": "a b"}),
            "node \"x\\u{1b}[31m\\nforged\": platform",
        ),
        (
            serde_json::json!({}),
            "node \"x\\u{1b}[31m\\nforged\" has no kubernetes.io/os",
        ),
    ] {
        let nodes = dir.path().join("nodes.json");
        std::fs::write(
            &nodes,
            serde_json::json!({"kind": "List", "items": [{"kind": "Node",
                "metadata": {"name": "x\u{1b}[31m\nforged", "labels": labels}}]})
            .to_string(),
        )
        .unwrap();
        let r = check(&[
            "--no-config",
            "examples/cuda-index.json",
            "--nodes",
            nodes.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert_eq!(raw_controls(&r.stderr, &['\n']), [] as [char; 0]);
        assert!(r.stderr.contains(says), "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert_eq!(r.stdout, "");
    }
}

/// The report streams: an image's part is on stdout as soon as it (and
/// every image before it) is judged, while a later image is still
/// loading. The later image is on a loopback server that accepts and never
/// answers, so it can only end with its timeout.
#[test]
fn output_streams_while_later_images_load() {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Hold every connection open, silent.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming() {
            held.push(c);
        }
    });
    let silent = format!("127.0.0.1:{port}/slow/app:1");
    for output in ["text", "json", "csv", "html"] {
        let start = std::time::Instant::now();
        let mut child = Command::new(BIN)
            .args(["check", "--no-config", "--retries", "0", "--timeout", "4"])
            .args(["--plain-http", &format!("127.0.0.1:{port}")])
            .args([
                "examples/cuda-index.json",
                &silent,
                "--nodes",
                NODES,
                "-o",
                output,
            ])
            .current_dir(root())
            .env_remove("OCIPICK_CONFIG")
            .env(
                "DOCKER_CONFIG",
                root().join("testdata/check/no-docker-config"),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // The first image's part names its arm64 build's digest.
        let seen = lines
            .by_ref()
            .map(|l| l.unwrap())
            .find(|l| l.contains("aaaaaaaaaaaa"))
            .unwrap_or_else(|| panic!("{output}: the first image never came"));
        let at = start.elapsed();
        assert!(
            child.try_wait().unwrap().is_none(),
            "{output}: the run had already ended when the first image came"
        );
        assert!(
            at < std::time::Duration::from_secs(3),
            "{output}: the first image came after {at:?}: {seen}"
        );
        let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(3), "{output}: {rest:?}");
        assert!(
            start.elapsed() >= std::time::Duration::from_secs_f32(3.5),
            "{output}: the slow image timed out early"
        );
    }
}

/// The build in words quotes an annotation value (here one with an escape
/// sequence, a line break and a formula, chosen by `--prefer`): escaped in
/// every format as the other untrusted strings are.
#[test]
fn build_words_escape_hostile_annotation_values() {
    let run = |output: &str| {
        let r = check(&[
            "--no-config",
            "--prefer",
            "org.example.cpu.features:5",
            "testdata/check/hostile-annotations.json",
            "--nodes",
            NODES,
            "-o",
            output,
        ]);
        assert_eq!(r.code, 1, "arm-1 has no fit: {}{}", r.stdout, r.stderr);
        r
    };
    let want = "#0 amd64 cpu.features=AVX2,\u{1b}[31mred\u{1b}[0m,line\nbreak,=H…";
    let j = run("json");
    assert_eq!(raw_controls(&j.stdout, &['\n']), [] as [char; 0]);
    assert_eq!(j.json()["images"][0]["cells"][0]["build"], want);
    let t = run("text");
    assert_eq!(
        raw_controls(&t.stdout, &['\n']),
        [] as [char; 0],
        "{}",
        t.stdout
    );
    assert!(
        t.stdout.contains("  c1  #0 amd64 cpu.features=AVX2,\\u{1b}[31mred\\u{1b}[0m,line\\nbreak,=H…  sha256:5555"),
        "{}",
        t.stdout
    );
    let c = run("csv");
    let rows = parse_csv(&c.stdout);
    assert_eq!(rows[1][6], want, "the build field, quoted whole");
    let h = run("html");
    assert_eq!(raw_controls(&h.stdout, &['\n']), [] as [char; 0]);
    assert!(
        h.stdout
            .contains(">#0 amd64 cpu.features=AVX2,&#27;[31mred&#27;[0m,line&#10;break,=H…</td>"),
        "{}",
        h.stdout
    );
}

/// `--compat-tag` without `--compat nfd` (or a `[compat]` table) is a
/// usage error, as for select, with nothing on stdout; with the table, a
/// fleet of file sources runs (nothing to look up there, said in the
/// image's `compat` object).
#[test]
fn compat_tag_needs_compat_and_the_table_turns_it_on() {
    let r = check(&["--pods", PODS, "--nodes", NODES, "--compat-tag", "gpu"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("--compat-tag needs --compat nfd"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[compat]\nartifacts = \"nfd\"\n").unwrap();
    let r = check(&[
        "--pods",
        PODS,
        "--nodes",
        NODES,
        "--config",
        cfg.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(r.code != 2, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let unavailable = &v["images"][0]["compat"]["unavailable"];
    assert!(unavailable.is_string(), "{v:#}");
}
