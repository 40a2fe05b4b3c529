//! `--compat nfd` through the distribution-spec referrers API, end to end:
//! the loopback server of support/referrers_api.rs answers `GET
//! /v2/NAME/referrers/DIGEST` with an image index of referrer
//! descriptors, as the API does, without `OCI-Filters-Applied` (so the
//! client must filter by artifact type itself). The real registry of the
//! other tests (distribution 2.8) has no such API; compat_registry.rs
//! covers its tag-schema path.
//!
//! The demo is compat_registry.rs's: generic, CUDA and AVX-512 builds of
//! linux/amd64, the CUDA build with two NFD artifacts (the newer one
//! counts), the AVX-512 build with one, and an SBOM beside them that
//! must never be fetched. Three nodes get three answers; the server's
//! own log is the request count.

mod common;
#[path = "support/nfd.rs"]
mod nfd;
#[path = "support/referrers_api.rs"]
mod referrers_api;

use std::process::Command;

use common::{run_cmd, Run, OCI_INDEX, OCI_MANIFEST};
use nfd::testdata;
use serde_json::{json, Value};

const REPO: &str = "team/cuda";

fn ocipick(host: &str, args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ocipick"));
    c.args(args)
        .args(["--no-config", "--plain-http", host])
        .env_remove("OCIPICK_CONFIG");
    run_cmd(c)
}

/// What the server holds for the demo, and the digests the test checks.
struct Demo {
    content: referrers_api::Content,
    index: String,
    builds: Vec<String>,
    /// The CUDA build's artifacts: (newer, older).
    cuda_artifacts: (String, String),
    /// The newer one's YAML layer.
    cuda_layer: String,
    sbom: String,
}

/// One image manifest of `name`, served under its digest; its descriptor.
fn image(c: &mut referrers_api::Content, name: &str) -> Value {
    let config = format!("{{\"build\":\"{name}\"}}");
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": common::sha256(config.as_bytes()), "size": config.len()},
        "layers": [],
    }))
    .unwrap();
    let d = common::sha256(&m);
    c.manifest(REPO, &d, OCI_MANIFEST, &m);
    json!({"mediaType": OCI_MANIFEST, "digest": d, "size": m.len(),
           "platform": {"os": "linux", "architecture": "amd64"}})
}

/// An NFD artifact of `spec` for `subject`, created at `created`: its
/// manifest and layer served by digest; its referrer descriptor and the
/// layer's digest.
fn artifact(
    c: &mut referrers_api::Content,
    subject: &Value,
    spec: &str,
    created: &str,
) -> (Value, String) {
    let yaml = std::fs::read(testdata(spec)).unwrap();
    let ld = common::sha256(&yaml);
    c.blob(REPO, &ld, &yaml);
    let m = serde_json::to_vec(&nfd::manifest(
        (&ld, yaml.len() as u64),
        (&common::sha256(b"{}"), 2),
        subject,
        created,
    ))
    .unwrap();
    let md = common::sha256(&m);
    c.manifest(REPO, &md, OCI_MANIFEST, &m);
    let d = nfd::referrer(
        json!({"mediaType": OCI_MANIFEST, "digest": md, "size": m.len()}),
        created,
    );
    (d, ld)
}

fn listing(referrers: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": referrers}))
        .unwrap()
}

fn demo() -> Demo {
    let mut c = referrers_api::Content::default();
    let generic = image(&mut c, "generic");
    let cuda = image(&mut c, "cuda");
    let avx = image(&mut c, "avx512");
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [generic, cuda, avx],
    }))
    .unwrap();
    let index_digest = common::sha256(&index);
    c.manifest(REPO, "v1", OCI_INDEX, &index);
    c.manifest(REPO, &index_digest, OCI_INDEX, &index);
    // The older artifact is listed first: the newest by created wins,
    // not the first listed.
    let (old, _) = artifact(&mut c, &cuda, "avx512-build.yaml", "2026-01-01T00:00:00Z");
    let (new, new_layer) = artifact(&mut c, &cuda, "cuda-build.yaml", "2026-02-01T00:00:00Z");
    let sbom = common::sha256(b"an sbom manifest");
    let sbom_d = json!({"mediaType": OCI_MANIFEST, "digest": sbom, "size": 16,
                        "artifactType": "application/spdx+json"});
    let digest = |d: &Value| d["digest"].as_str().unwrap().to_owned();
    c.referrers(
        REPO,
        &digest(&cuda),
        &listing(&[old.clone(), sbom_d.clone(), new.clone()]),
    );
    let (a, _) = artifact(&mut c, &avx, "avx512-build.yaml", "2026-02-01T00:00:00Z");
    c.referrers(REPO, &digest(&avx), &listing(&[a]));
    // The generic build and the index: the API answers with empty listings.
    c.referrers(REPO, &digest(&generic), &listing(&[]));
    c.referrers(REPO, &index_digest, &listing(&[sbom_d]));
    Demo {
        content: c,
        index: index_digest,
        builds: vec![digest(&generic), digest(&cuda), digest(&avx)],
        cuda_artifacts: (digest(&new), digest(&old)),
        cuda_layer: new_layer,
        sbom,
    }
}

fn json_of(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr))
}

#[test]
fn three_nodes_three_answers_through_the_referrers_api() {
    let d = demo();
    let server = referrers_api::Server::start(d.content.clone());
    let host = server.host();
    let src = format!("{host}/{REPO}:v1");
    let filter = "?artifactType=application%2Fvnd.nfd.image-compatibility.v1alpha1";
    let mut seen_before = 0;
    for (node, want) in [("gpu-node", 1), ("avx512-node", 2), ("plain-node", 0)] {
        let node_file = testdata(&format!("nodes/{node}.json"));
        let r = ocipick(
            &host,
            &[
                "select",
                &src,
                "--platform",
                "linux/amd64",
                "--node",
                &node_file,
                "--compat",
                "nfd",
                "-o",
                "json",
            ],
        );
        assert_eq!(r.code, 0, "{node}: {}", r.stderr);
        let v = json_of(&r);
        assert_eq!(v["digest"], json!(d.builds[want]), "{node}: {v:#}");
        let log = server.log();
        let seen = &log[seen_before..];
        seen_before = log.len();
        // The index GET; one referrers GET for the index and each of its
        // three entries, all answered by the API (no tag schema tried);
        // then the newest artifact of each build that has one, and its
        // YAML layer. Nothing else: not the older CUDA artifact, not the
        // SBOM, not the images.
        let (new, _old) = &d.cuda_artifacts;
        let mut want_log = vec![
            format!("GET /v2/{REPO}/manifests/v1 200"),
            format!("GET /v2/{REPO}/referrers/{}{filter} 200", d.index),
        ];
        for b in &d.builds {
            want_log.push(format!("GET /v2/{REPO}/referrers/{b}{filter} 200"));
        }
        // Each build's artifact fetches follow its listing: compare the
        // lookups in order and the fetches as a set.
        let (got, fetches): (Vec<String>, Vec<String>) = seen
            .iter()
            .cloned()
            .partition(|l| l.contains("/referrers/") || l.contains("/manifests/v1 "));
        assert_eq!(got, want_log, "{node}: {log:#?}");
        assert_eq!(fetches.len(), 4, "{node}: {fetches:#?}");
        assert!(
            fetches.contains(&format!("GET /v2/{REPO}/manifests/{new} 200")),
            "{fetches:#?}"
        );
        assert!(
            fetches.contains(&format!("GET /v2/{REPO}/blobs/{} 200", d.cuda_layer)),
            "{fetches:#?}"
        );
        // (The older artifact's layer is the AVX-512 build's YAML, which
        // that build's own artifact fetches, so only its manifest counts.)
        for never in [&d.cuda_artifacts.1, &d.sbom] {
            assert!(
                !seen.iter().any(|l| l.contains(never.as_str())),
                "{seen:#?}"
            );
        }
        assert!(!seen.iter().any(|l| l.contains("sha256-")), "{seen:#?}");
        // The counts in the JSON are the server's.
        assert_eq!(
            v["registry"]["requests"].as_u64().unwrap(),
            seen.len() as u64,
            "{v:#}"
        );
        assert_eq!(
            v["registry"]["compatRequests"].as_u64().unwrap(),
            seen.len() as u64 - 1,
            "{v:#}"
        );
        // Each subject says it was listed by the API, and which artifact
        // it used.
        let subjects = v["compat"]["subjects"].as_array().unwrap();
        assert_eq!(subjects.len(), 4, "{v:#}");
        assert!(
            subjects
                .iter()
                .all(|s| s["via"].to_string().contains("api")),
            "{v:#}"
        );
        let cuda = subjects.iter().find(|s| s["position"] == json!(1)).unwrap();
        assert_eq!(cuda["artifact"]["digest"], json!(new), "{v:#}");
        assert_eq!(cuda["artifact"]["candidates"], json!(2), "{v:#}");
    }
}

/// `rank` through the API names the sets that decided, as it does
/// through the tag schema.
#[test]
fn rank_through_the_referrers_api_names_the_sets() {
    let d = demo();
    let server = referrers_api::Server::start(d.content.clone());
    let host = server.host();
    let src = format!("{host}/{REPO}:v1");
    let node = testdata("nodes/gpu-node.json");
    let r = ocipick(
        &host,
        &[
            "rank",
            &src,
            "--platform",
            "linux/amd64",
            "--node",
            &node,
            "--compat",
            "nfd",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let flat = r.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(r#"nfd compatibility 1 "NVIDIA GPU" (tag gpu, weight 50): pass, +50"#),
        "{}",
        r.stdout
    );
    assert!(
        flat.contains(&format!("selected {}", d.builds[1])),
        "{}",
        r.stdout
    );
    assert!(flat.contains(&d.cuda_artifacts.0), "{}", r.stdout);
}
