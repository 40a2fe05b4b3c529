//! What users of crane, regctl, skopeo, oras, Podman and nerdctl bring:
//! their platform spellings, a digest-only command, and the selected
//! manifest's own bytes (`select --raw`), the last against the real CNCF
//! distribution registry (`docker-registry`) with request counts from its
//! access log.

mod common;
#[path = "support/registry.rs"]
mod registry_support;

use std::process::Command;

use common::{argv, run_cmd, td, Run, OCI_INDEX};
use registry_support::{Registry, GPU_KEY};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

fn oc(args: &[&str]) -> Command {
    let mut c = common::cmd(args);
    c.env("DOCKER_CONFIG", "/nonexistent/ocipick-peer-tests");
    c
}

fn go(args: &[&str]) -> Run {
    run_cmd(oc(args))
}

/// `ocipick digest --no-config -p PLATFORM SOURCE`: the digest printed.
fn digest_for(platform: &str, source: &str) -> String {
    let r = go(&argv("digest --no-config -p", &[platform, source]));
    r.expect(0);
    r.stdout.clone()
}

/// The digest of the first entry of the index `file` whose platform
/// satisfies `pick`, read from the file itself.
fn entry_digest(file: &str, pick: impl Fn(&Value) -> bool) -> String {
    let doc: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let e = doc["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| pick(&e["platform"]))
        .unwrap_or_else(|| panic!("{file} has no such entry"));
    format!("{}\n", e["digest"].as_str().unwrap())
}

/// Every row: one target written in every spelling ocipick accepts for
/// it, the peer tool each comes from, and the entry all must select.
#[test]
fn every_platform_spelling_selects_the_same_entry() {
    // Three Windows builds (1809, 20H2, LTSC 2022) and linux/amd64.
    let pause = td("corpus/k8s-registry-pause-3.8-dockerlist-windows-3-osversions.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(&pause).unwrap()).unwrap();
    let osv = |build: &str| -> String {
        doc["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["platform"]["os.version"].as_str())
            .find(|v| v.starts_with(&format!("10.0.{build}.")))
            .unwrap_or_else(|| panic!("no 10.0.{build} build"))
            .to_owned()
    };
    for build in ["17763", "19042", "20348"] {
        let v = osv(build);
        let want = entry_digest(&pause, |p| p["os.version"] == json!(v));
        let spellings = [
            format!("windows({v})/amd64"),          // containerd, nerdctl
            format!("windows({v})/x86_64"),         // containerd's alias
            format!("windows/amd64:{v}"),           // crane, oras
            format!("windows/amd64,osver={v}"),     // regctl
            format!("windows/amd64,osversion={v}"), // regctl's long key
        ];
        for s in &spellings {
            assert_eq!(digest_for(s, &pause), want, "-p {s}");
        }
    }

    // Variants: the proposal's GPU index offers linux/amd64 and arm64.
    let gpu = common::gpu();
    let arm = entry_digest(&gpu, |p| p["architecture"] == "arm64");
    for s in [
        "linux/arm64",
        "linux/arm64/v8",
        "linux/aarch64",
        "arm64",
        "local/arm64",
    ] {
        assert_eq!(digest_for(s, &gpu), arm, "-p {s}");
    }
}

/// `-p local` is this machine, exactly as no `-p` at all.
#[test]
fn local_is_this_machine() {
    let gpu = common::gpu();
    let without = go(&argv("digest --no-config", &[&gpu]));
    let local = go(&argv("digest --no-config -p local", &[&gpu]));
    assert_eq!(local.code, without.code);
    assert_eq!(local.stdout, without.stdout);
    let host = go(&["host", "-o", "json"]).expect(0).json();
    let platform = host["platform"].as_str().expect("host names its platform");
    let rank = go(&argv("rank --no-config -p local -o json", &[&gpu])).json();
    assert_eq!(rank["target"].as_str(), Some(platform));
}

#[test]
fn malformed_peer_spellings_are_usage_errors() {
    let gpu = common::gpu();
    for s in [
        "windows/amd64:",
        "windows/amd64,osver=",
        "windows/amd64,arch=arm64",
        "linux/amd64,prefer=com.example.gpu=x",
        "windows(10.0.17763)/amd64:10.0.17763",
    ] {
        let r = go(&argv("select --no-config -p", &[s, &gpu]));
        r.expect(2);
        assert!(r.stderr.contains("--platform"), "{s}: {}", r.stderr);
    }
}

/// `digest` prints the selected digest alone; `--full-ref` prints what
/// `resolve` prints; its JSON is resolve's, which names the digest.
#[test]
fn digest_prints_the_selected_digest_alone() {
    let gpu = common::gpu();
    let prefer = ["--prefer", "com.example.gpu=example-gpu-model"];
    let sel = go(&argv(
        "select --no-config -p linux/amd64 -o json",
        &[prefer[0], prefer[1], &gpu],
    ))
    .expect(0)
    .json();
    let chosen = sel["digest"].as_str().unwrap().to_owned();
    let d = go(&argv(
        "digest --no-config -p linux/amd64",
        &[prefer[0], prefer[1], &gpu],
    ));
    d.expect(0);
    assert_eq!(d.stdout, format!("{chosen}\n"));
    assert!(d.stderr.is_empty(), "{}", d.stderr);
    let full = go(&argv(
        "digest --full-ref --no-config -p linux/amd64",
        &[prefer[0], prefer[1], &gpu],
    ));
    let resolve = go(&argv(
        "resolve --no-config -p linux/amd64",
        &[prefer[0], prefer[1], &gpu],
    ));
    assert_eq!(full.expect(0).stdout, resolve.expect(0).stdout);
    let j = go(&argv(
        "digest --no-config -p linux/amd64 -o json",
        &[prefer[0], prefer[1], &gpu],
    ))
    .expect(0)
    .json();
    assert_eq!(j["digest"], json!(chosen));
    // No fit: nothing on stdout, status 1, as select.
    let none = go(&argv("digest --no-config -p linux/s390x", &[&gpu]));
    none.expect(1);
    assert!(none.stdout.is_empty());
}

/// `select --raw` on a registry: the bytes printed are the child manifest
/// exactly as the registry serves it, hashing to the selected digest;
/// the run makes one more manifest GET (by that digest), counted in the
/// JSON figures, and requests no blob.
#[test]
fn raw_prints_the_selected_manifest_as_served() {
    registry_support::ensure_installed();
    let reg = Registry::anonymous();
    let repo = "peers/raw";
    let plain = reg.push_image(repo, "plain", Some("linux/amd64"), &[], false);
    let gpu = reg.push_gpu_image(repo, "gpu", false);
    let arm = reg.push_image(repo, "arm", Some("linux/arm64"), &[], false);
    reg.push_index(repo, "v1", OCI_INDEX, &[plain.clone(), gpu.clone(), arm]);
    let host = reg.host();
    let src = format!("{host}/{repo}:v1");
    let gpu_digest = gpu["digest"].as_str().unwrap().to_owned();

    let before = reg.log_mark();
    let r = go(&argv(
        "select --raw --no-config -p linux/amd64 --plain-http",
        &[&host, "--prefer", GPU_KEY, &src],
    ));
    r.expect(0);
    let served = reg.get_manifest(repo, &gpu_digest);
    assert_eq!(r.stdout.as_bytes(), &served[..], "the manifest as served");
    let hash = format!("sha256:{:x}", Sha256::digest(r.stdout.as_bytes()));
    assert_eq!(hash, gpu_digest);

    let ours = reg.ocipick_since(before);
    let uris: Vec<&str> = ours.iter().map(|a| a.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            format!("/v2/{repo}/manifests/v1"),
            format!("/v2/{repo}/manifests/{gpu_digest}")
        ],
        "one index GET, one GET of the chosen manifest by digest"
    );
    assert!(ours.iter().all(|a| a.method == "GET" && a.status == 200));

    let j = go(&argv(
        "select --raw --no-config -p linux/amd64 -o json --plain-http",
        &[&host, "--prefer", GPU_KEY, &src],
    ))
    .expect(0)
    .json();
    assert_eq!(j["digest"], json!(gpu_digest));
    assert_eq!(j["manifest"]["digest"], json!(gpu_digest));
    assert_eq!(
        j["manifest"]["text"].as_str().map(str::as_bytes),
        Some(&served[..])
    );
    assert_eq!(j["registry"]["manifestRequests"], json!(2));
    assert_eq!(j["registry"]["requests"], json!(2));

    // `digest` on the registry: the digest alone; `--full-ref` the pinned
    // reference resolve prints. One index GET each, no more.
    let before = reg.log_mark();
    let d = go(&argv(
        "digest --no-config -p linux/amd64 --plain-http",
        &[&host, "--prefer", GPU_KEY, &src],
    ));
    assert_eq!(d.expect(0).stdout, format!("{gpu_digest}\n"));
    let full = go(&argv(
        "digest --full-ref --no-config -p linux/amd64 --plain-http",
        &[&host, "--prefer", GPU_KEY, &src],
    ));
    assert_eq!(
        full.expect(0).stdout,
        format!("{host}/{repo}@{gpu_digest}\n")
    );
    let uris: Vec<String> = reg
        .ocipick_since(before)
        .into_iter()
        .map(|a| a.uri)
        .collect();
    assert_eq!(uris, vec![format!("/v2/{repo}/manifests/v1"); 2]);

    // Without --raw: the index GET alone.
    let j = go(&argv(
        "select --no-config -p linux/amd64 -o json --plain-http",
        &[&host, &src],
    ))
    .expect(0)
    .json();
    assert_eq!(j["digest"], plain["digest"]);
    assert_eq!(j["registry"]["manifestRequests"], json!(1));
    assert!(j.get("manifest").is_none());
}

/// From an OCI layout, `--raw` prints the blob, verified; a blob that does
/// not hash to its digest is refused, and a plain file has no manifests to
/// print.
#[test]
fn raw_from_a_layout_and_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
    let hex = format!("{:x}", Sha256::digest(manifest));
    std::fs::write(root.join("blobs/sha256").join(&hex), manifest).unwrap();
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{hex}"),
            "size": manifest.len(),
            "platform": {"os": "linux", "architecture": "amd64"},
            "annotations": {"org.opencontainers.image.ref.name": "v1"}
        }]
    });
    std::fs::write(root.join("index.json"), index.to_string()).unwrap();
    let layout = format!("{}:v1", root.display());
    let r = go(&argv("select --raw --no-config -p linux/amd64", &[&layout]));
    assert_eq!(r.expect(0).stdout.as_bytes(), manifest);

    // The same path with other bytes: refused, nothing printed.
    let mut forged = manifest.to_vec();
    forged[3] = b'S';
    std::fs::write(root.join("blobs/sha256").join(&hex), &forged).unwrap();
    let r = go(&argv("select --raw --no-config -p linux/amd64", &[&layout]));
    assert_ne!(r.code, 0);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains(&hex[..12]) || r.stderr.contains("match"),
        "{}",
        r.stderr
    );

    let r = go(&argv(
        "select --raw --no-config -p linux/amd64",
        &[&common::gpu()],
    ));
    r.expect(2);
    assert!(
        r.stderr.contains("--raw needs an OCI layout or a registry"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

/// `--help`, the man page and the shell completions are generated from the
/// same flag definitions, and each shows what this issue added: every
/// platform spelling, the layout spellings, `digest` with `--full-ref`,
/// `select --raw`, the credential and TLS flags, `-v`/`--debug` and `-q`.
#[test]
fn help_man_page_and_completions_show_the_peer_conventions() {
    let forms = [
        "os[(osversion+feature…)]/arch[/variant]",
        "os/arch[/variant]:osversion",
        "os/arch[/variant],osver=osversion",
        "`local`",
    ];
    let sources = ["ocidir://DIR[:TAG]", "oci-archive:FILE[:TAG]"];
    let registry = ["--authfile", "REGISTRY_AUTH_FILE", "--cert-dir", "certs.d"];
    for sub in ["select", "rank", "resolve", "digest"] {
        let r = go(&[sub, "--help"]);
        let help = &r.expect(0).stdout;
        for want in forms.iter().chain(&sources).chain(&registry) {
            assert!(help.contains(want), "{sub} --help lacks {want}");
        }
        for want in ["-v, --verbose", "-q, --quiet", "--debug"] {
            assert!(help.contains(want), "{sub} --help lacks {want}");
        }
    }
    assert!(go(&["select", "--help"]).stdout.contains("--raw"));
    assert!(go(&["digest", "--help"]).stdout.contains("--full-ref"));
    assert!(go(&["--help"]).stdout.contains("digest"));

    // The man page: roff writes `-` as `\-`; each command has a section
    // with its flags.
    let r = go(&["generate", "man"]);
    let man = r.expect(0).stdout.replace("\\-", "-");
    for want in forms.iter().chain(&sources).chain(&registry).chain(&[
        ".SH \"OCIPICK SELECT\"",
        ".SH \"OCIPICK DIGEST\"",
        ".SH \"OCIPICK CONFIG CHECK\"",
        "--raw",
        "--full-ref",
        "--platform",
        "--verbose",
        "--quiet",
        "--debug",
    ]) {
        assert!(man.contains(want), "the man page lacks {want}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let r = go(&["generate", shell]);
        let text = &r.expect(0).stdout;
        for flag in [
            "raw", "full-ref", "authfile", "cert-dir", "verbose", "quiet", "debug", "platform",
        ] {
            let spelled = if shell == "fish" {
                format!("-l {flag}")
            } else {
                format!("--{flag}")
            };
            assert!(
                text.contains(&spelled),
                "{shell} completions lack {spelled}"
            );
        }
        assert!(text.contains("digest"), "{shell} completions lack digest");
    }
}
