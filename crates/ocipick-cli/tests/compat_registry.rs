//! `--compat nfd` against the real registry (Debian's distribution 2.8,
//! which has no referrers API): NFD artifacts attached to two builds of an
//! index with `subject`, listed by the referrers tag schema index
//! (`sha256-<hex>`) the test pushes itself; three nodes (testdata/nfd/
//! nodes) get three answers, `rank` names each set and rule, and the
//! requests counted in the JSON output are those of the registry's own
//! access log. Without `--compat` the one-GET path is unchanged.

mod common;
#[path = "support/nfd.rs"]
mod nfd;
#[path = "support/registry.rs"]
mod registry_support;

use std::process::Command;

use common::{run_cmd, Run, OCI_INDEX, OCI_MANIFEST};
use nfd::testdata;
use registry_support::{Access, Registry};
use serde_json::{json, Value};

/// `ocipick ARGS` without configuration; `--plain-http` is the
/// registry's (an HTTPS attempt first would be a request the registry
/// never logs).
fn ocipick(args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ocipick"));
    c.args(args)
        .args(["--no-config"])
        .env_remove("OCIPICK_CONFIG");
    if let Some(host) = args
        .iter()
        .find_map(|a| a.split_once("/team/").map(|(h, _)| h))
    {
        c.args(["--plain-http", host]);
    }
    run_cmd(c)
}

/// Attaches the YAML file `spec` to `subject` (a descriptor), created at
/// `created`; returns the artifact's referrer descriptor.
fn attach(reg: &Registry, repo: &str, subject: &Value, spec: &str, created: &str) -> Value {
    let yaml = std::fs::read(spec).unwrap();
    let (ld, ls) = reg.push_blob(repo, &yaml);
    let (cd, cs) = reg.push_blob(repo, b"{}");
    let manifest = nfd::manifest((&ld, ls), (&cd, cs), subject, created);
    nfd::referrer(reg.push_by_digest(repo, OCI_MANIFEST, &manifest), created)
}

/// Pushes the referrers tag schema index of `subject`.
fn tag_schema(reg: &Registry, repo: &str, subject: &Value, referrers: &[Value]) {
    let hex = subject["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap();
    reg.push_index(repo, &format!("sha256-{hex}"), OCI_INDEX, referrers);
}

/// The demo: generic, CUDA and AVX-512 builds of linux/amd64; the CUDA
/// build carries two artifacts (an older one with no sets), the AVX-512
/// build one.
fn demo(reg: &Registry, repo: &str) -> Vec<Value> {
    let generic = reg.push_image(repo, "generic", Some("linux/amd64"), &[], false);
    let cuda = reg.push_image(repo, "cuda", Some("linux/amd64"), &[], false);
    let avx = reg.push_image(repo, "avx512", Some("linux/amd64"), &[], false);
    reg.push_index(
        repo,
        "v1",
        OCI_INDEX,
        &[generic.clone(), cuda.clone(), avx.clone()],
    );
    let old = attach(
        reg,
        repo,
        &cuda,
        &testdata("avx512-build.yaml"),
        "2026-01-01T00:00:00Z",
    );
    let new = attach(
        reg,
        repo,
        &cuda,
        &testdata("cuda-build.yaml"),
        "2026-02-01T00:00:00Z",
    );
    tag_schema(reg, repo, &cuda, &[new, old]);
    let a = attach(
        reg,
        repo,
        &avx,
        &testdata("avx512-build.yaml"),
        "2026-02-01T00:00:00Z",
    );
    tag_schema(reg, repo, &avx, &[a]);
    vec![generic, cuda, avx]
}

/// `select SRC --node FILE --compat nfd -o json MORE…`, which must exit 0.
fn select_json(src: &str, node_file: &str, more: &[&str]) -> Value {
    let base = [
        "select", src, "--node", node_file, "--compat", "nfd", "-o", "json",
    ];
    let r = ocipick(&[&base[..], more].concat());
    assert_eq!(r.code, 0, "{node_file}: {}", r.stderr);
    json_of(&r)
}

fn ocipick_seen(reg: &Registry, before: usize) -> Vec<String> {
    reg.ocipick_since(before).iter().map(Access::line).collect()
}

fn json_of(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr))
}

#[test]
fn three_nodes_three_answers_through_the_tag_schema() {
    let reg = Registry::anonymous();
    let host = reg.host();
    let builds = demo(&reg, "team/cuda");
    let src = format!("{host}/team/cuda:v1");
    let digest = |i: usize| builds[i]["digest"].as_str().unwrap().to_owned();
    for (node, want) in [("gpu-node", 1), ("avx512-node", 2), ("plain-node", 0)] {
        let node_file = testdata(&format!("nodes/{node}.json"));
        let before = reg.log_mark();
        let v = select_json(&src, &node_file, &["--platform", "linux/amd64"]);
        assert_eq!(v["digest"], json!(digest(want)), "{node}: {v:#}");
        // The index and its three entries looked up through the tag
        // schema: the first lookup's 404 on referrers says the registry
        // has no API, so each costs its tag GET (4) plus that one 404; the
        // two builds with artifacts add their manifest and YAML layer: 9.
        assert_eq!(v["registry"]["compatRequests"], json!(9), "{node}: {v:#}");
        let seen = ocipick_seen(&reg, before);
        assert_eq!(
            seen.len() as u64,
            v["registry"]["requests"].as_u64().unwrap(),
            "{seen:#?}"
        );
        assert_eq!(seen.len(), 10, "{seen:#?}");
        let referrers_404 = seen
            .iter()
            .filter(|l| l.contains("/referrers/") && l.ends_with(" 404"))
            .count();
        assert_eq!(referrers_404, 1, "{seen:#?}");
        // Nothing but manifests and the two YAML blobs.
        let blobs = seen.iter().filter(|l| l.contains("/blobs/")).count();
        assert_eq!(blobs, 2, "{seen:#?}");
    }
}

#[test]
fn rank_names_each_set_and_rule() {
    let reg = Registry::anonymous();
    let host = reg.host();
    let builds = demo(&reg, "team/cuda");
    let src = format!("{host}/team/cuda:v1");
    let rank = |node: &str, more: &[&str]| {
        let base = [
            "rank",
            src.as_str(),
            "--platform",
            "linux/amd64",
            "--node",
            node,
            "--compat",
            "nfd",
        ];
        ocipick(&[&base[..], more].concat())
    };
    // What the README shows: each node's ranking (run with --nocapture).
    let mut texts = std::collections::BTreeMap::new();
    for n in ["gpu-node", "avx512-node", "plain-node"] {
        let r = rank(&testdata(&format!("nodes/{n}.json")), &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        println!("== {n}\n{}", r.stdout);
        texts.insert(n, r);
    }
    let node = testdata("nodes/avx512-node.json");
    let r = &texts["avx512-node"];
    // Reasons are wrapped at 80 columns: compare with runs of blanks as one.
    let flat = r.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for line in [
        "nfd compatibility 1 \"NVIDIA GPU\" (tag gpu, weight 50): fail, unpreferred",
        "rule \"nvidia display or 3D controller\" fail: pci.device class In [0300, 0302]: fail",
        "nfd compatibility 2 \"NVIDIA driver loaded\" (tag gpu, weight 30): fail",
        "nfd compatibility 1 \"AVX-512 foundation\" (tag cpu, weight 20): pass, +20",
    ] {
        assert!(flat.contains(line), "{line:?} not in\n{}", r.stdout);
    }
    // The newest of the CUDA build's two artifacts is the one used.
    assert!(r.stdout.contains("newest of 2"), "{}", r.stdout);
    let j = json_of(&rank(&node, &["-o", "json"]));
    assert_eq!(j["selected"], json!(2));
    let cuda = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["digest"] == builds[1]["digest"])
        .unwrap();
    let sets = cuda["compat"].as_array().unwrap();
    assert_eq!(sets.len(), 2, "{cuda:#}");
    assert_eq!(sets[0]["outcome"], json!("fail"));
    assert_eq!(sets[0]["added"], json!(0));
    assert_eq!(sets[0]["rules"][0]["outcome"], json!("fail"));
    // --compat-tag gpu leaves the AVX-512 set out: every score is 0, so
    // the first match (generic) wins, as without data.
    let t = json_of(&rank(&node, &["--compat-tag", "gpu", "-o", "json"]));
    assert_eq!(t["selected"], json!(0), "{t:#}");
    assert_eq!(t["compat"]["tags"], json!(["gpu"]));
}

#[test]
fn without_compat_the_one_get_path_is_unchanged() {
    let reg = Registry::anonymous();
    let host = reg.host();
    let builds = demo(&reg, "team/plain");
    let src = format!("{host}/team/plain:v1");
    let before = reg.log_mark();
    let node = testdata("nodes/gpu-node.json");
    let r = ocipick(&[
        "select",
        &src,
        "--platform",
        "linux/amd64",
        "--node",
        &node,
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json_of(&r);
    assert_eq!(
        v["digest"], builds[0]["digest"],
        "first match without --compat"
    );
    assert_eq!(v["registry"]["requests"], json!(1));
    assert_eq!(v["registry"]["compatRequests"], json!(0));
    assert!(v.get("compat").is_none());
    let seen = ocipick_seen(&reg, before);
    assert_eq!(seen, ["GET /v2/team/plain/manifests/v1 200".to_owned()]);
    // The configuration's [compat] table turns it on as the flag does.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[compat]\nartifacts = \"nfd\"\n").unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_ocipick"));
    c.args([
        "select",
        &src,
        "--platform",
        "linux/amd64",
        "--node",
        &node,
        "-o",
        "json",
        "--plain-http",
        &host,
        "--config",
    ])
    .arg(&cfg);
    let r = run_cmd(c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json_of(&r)["digest"], builds[1]["digest"]);
    // --compat-tag alone is a usage error.
    let r = ocipick(&["select", &src, "--compat-tag", "gpu"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// testdata/nfd/nodes' three nodes, each `copies` times (`NAME.json`, or
/// `NAME-1.json`, `NAME-2.json`…), with `"platform": "linux/amd64"` added
/// (NFD's export names none, and check has no `--platform`).
fn nodes_dir(copies: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for n in ["gpu-node", "avx512-node", "plain-node"] {
        let text = std::fs::read_to_string(testdata(&format!("nodes/{n}.json"))).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["platform"] = json!("linux/amd64");
        for k in 1..=copies {
            let name = if copies == 1 {
                n.to_owned()
            } else {
                format!("{n}-{k}")
            };
            std::fs::write(dir.path().join(format!("{name}.json")), v.to_string()).unwrap();
        }
    }
    dir
}

/// `check SRC --compat nfd --node DIR -o json --per-pair`: the result per
/// node name (its digest) and the image's head (with its `compat`).
fn check_per_node(src: &str, nodes: &str, more: &[&str]) -> (Vec<(String, Value)>, Value, Run) {
    let base = ["check", src, "--node", nodes, "-o", "json", "--per-pair"];
    let r = ocipick(&[&base[..], more].concat());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v = json_of(&r);
    let results = v["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{v:#}"))
        .iter()
        .map(|x| (x["node"].as_str().unwrap().to_owned(), x["digest"].clone()))
        .collect();
    let head = v["images"][0].clone();
    (results, head, r)
}

/// What `select --compat nfd --node FILE` picks for `src` on that node.
fn select_on(src: &str, node_file: &str, more: &[&str]) -> Value {
    select_json(src, node_file, more)["digest"].clone()
}

/// `check --compat nfd` gives each node what `select --compat nfd --node`
/// gives it (the three nodes of testdata/nfd/nodes, three answers), with
/// one discovery per image: the requests counted in its `compat` object
/// plus the index GET are the registry's access log, whatever the number
/// of nodes (3 or 6).
#[test]
fn check_gives_each_node_what_select_gives_it() {
    let reg = Registry::anonymous();
    let host = reg.host();
    let builds = demo(&reg, "team/cuda");
    let src = format!("{host}/team/cuda:v1");
    let nodes = nodes_dir(1);
    let dir = nodes.path().to_str().unwrap();
    let before = reg.log_mark();
    let (results, head, _) = check_per_node(&src, dir, &["--compat", "nfd"]);
    let seen = ocipick_seen(&reg, before);
    assert_eq!(results.len(), 3, "{results:?}");
    let mut answers = std::collections::BTreeSet::new();
    for (node, digest) in &results {
        let file = nodes.path().join(format!("{node}.json"));
        let want = select_on(&src, file.to_str().unwrap(), &[]);
        assert_eq!(digest, &want, "{node}: check and select disagree");
        answers.insert(digest.to_string());
    }
    assert_eq!(answers.len(), 3, "three nodes, three answers: {results:?}");
    let by_node: std::collections::BTreeMap<_, _> = results.iter().cloned().collect();
    assert_eq!(by_node["gpu-node"], builds[1]["digest"]);
    assert_eq!(by_node["avx512-node"], builds[2]["digest"]);
    assert_eq!(by_node["plain-node"], builds[0]["digest"]);
    // One index GET, then the discovery select makes (9 requests: see
    // three_nodes_three_answers_through_the_tag_schema), once.
    let compat = &head["compat"];
    assert_eq!(compat["requests"], json!(9), "{head:#}");
    assert_eq!(seen.len(), 10, "{seen:#?}");
    assert_eq!(seen[0], "GET /v2/team/cuda/manifests/v1 200");
    // The text report: the discovery line with its request count, and the
    // set that decided the GPU node's build named in its cell.
    let t = ocipick(&["check", &src, "--node", dir, "--compat", "nfd"]);
    assert_eq!(t.code, 0, "{}", t.stderr);
    let line = t.stdout.lines().find(|l| l.starts_with("  nfd: "));
    assert!(
        line.is_some_and(|l| l.contains("newest of 2") && l.ends_with(" (9 requests)")),
        "{}",
        t.stdout
    );
    let j = json_of(&ocipick(&[
        "check", &src, "--node", dir, "--compat", "nfd", "-o", "json",
    ]));
    let cells = j["images"][0]["cells"].as_array().unwrap();
    let gpu = cells
        .iter()
        .find(|c| c["digest"] == builds[1]["digest"])
        .unwrap_or_else(|| panic!("{j:#}"));
    assert!(
        gpu["decided_by"]
            .as_array()
            .unwrap()
            .contains(&json!("nfd:NVIDIA GPU")),
        "{gpu:#}"
    );

    // Six nodes (each file twice): the same classes, the same requests.
    let six = nodes_dir(2);
    let before = reg.log_mark();
    let (results6, head6, r) =
        check_per_node(&src, six.path().to_str().unwrap(), &["--compat", "nfd"]);
    let seen6 = ocipick_seen(&reg, before);
    assert_eq!(results6.len(), 6);
    for (node, digest) in &results6 {
        let stem = node.trim_end_matches("-1").trim_end_matches("-2");
        assert_eq!(digest, &by_node[stem], "{node}");
    }
    assert_eq!(json_of(&r)["summary"]["classes"], json!(3));
    assert_eq!(head6["compat"]["requests"], json!(9), "{head6:#}");
    assert_eq!(seen6, seen, "the same requests for 6 nodes as for 3");
}

/// Without `--compat` check reads nothing but the index (one GET) and
/// every node gets the first match; `--compat-tag gpu` leaves the AVX-512
/// set out, as select's `--compat-tag` does.
#[test]
fn check_without_compat_reads_only_the_index_and_tags_limit_the_sets() {
    let reg = Registry::anonymous();
    let host = reg.host();
    let builds = demo(&reg, "team/tags");
    let src = format!("{host}/team/tags:v1");
    let nodes = nodes_dir(1);
    let dir = nodes.path().to_str().unwrap();
    let before = reg.log_mark();
    let (results, head, _) = check_per_node(&src, dir, &[]);
    assert_eq!(
        ocipick_seen(&reg, before),
        ["GET /v2/team/tags/manifests/v1 200".to_owned()]
    );
    assert!(head["compat"].is_null(), "{head:#}");
    for (node, digest) in &results {
        assert_eq!(digest, &builds[0]["digest"], "{node}: first match");
    }
    let (results, head, _) = check_per_node(&src, dir, &["--compat", "nfd", "--compat-tag", "gpu"]);
    assert_eq!(head["compat"]["tags"], json!(["gpu"]), "{head:#}");
    for (node, digest) in &results {
        let file = nodes.path().join(format!("{node}.json"));
        let want = select_on(&src, file.to_str().unwrap(), &["--compat-tag", "gpu"]);
        assert_eq!(digest, &want, "{node}");
        let expect = if node == "gpu-node" { 1 } else { 0 };
        assert_eq!(digest, &builds[expect]["digest"], "{node}");
    }
}
