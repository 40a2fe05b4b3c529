//! `ocipick serve` end to end, with real clients against a real registry
//! (the CNCF distribution registry, `docker-registry`, started per test on
//! a free loopback port) through the mirror:
//!
//! - skopeo, configured only through a `registries.conf` mirror entry,
//!   copies the node's preferred image of a tag (and the plain one without
//!   the mirror or without the preference), its blobs through the mirror;
//! - containerd 1.6 (its own daemon; `ctr image pull --hosts-dir` with a
//!   `hosts.toml` mirror entry, native snapshotter) resolves the tag to the
//!   preferred child and unpacks it (and the plain one without the
//!   mirror); skipped with a printed reason only when containerd cannot be
//!   installed or started here;
//! - `?ns=` (percent-encoded, as containerd sends it) chooses among
//!   several upstreams;
//! - pass-through fidelity: blobs and manifests by digest byte for byte with
//!   the upstream's headers, HEAD agreeing with GET, ranges, upstream 404s
//!   in the distribution error format, 405 for writes, `/v2/`;
//! - `--mode reorder`: a new index that differs only in entry order, served
//!   again by its digest; Docker manifest lists like OCI indexes;
//! - the tag cache: one upstream fetch for a burst, a new one after the TTL;
//! - a large blob (1 GiB; 256 MiB when the disk is short;
//!   `OCIPICK_SERVE_BLOB_MIB` to choose) streamed in bounded memory.
//!
//! skopeo and containerd are installed with apt-get when missing, as
//! `docker-registry` is.

mod common;
#[path = "support/images.rs"]
mod images;
#[path = "support/registry.rs"]
mod registry_support;
#[path = "support/runtimes.rs"]
mod runtimes;
#[path = "support/serve.rs"]
mod serve_support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use common::{OCI_INDEX, OCI_MANIFEST};
use images::{ensure_tool, push_real_image, skopeo_copy};
use registry_support::{Access, Registry, GPU_KEY, GPU_MODEL};
use runtimes::{which, Containerd};
use serde_json::Value;
use serve_support::Mirror;

// ---------------------------------------------------------------------------
// Tools installed on demand.

// ---------------------------------------------------------------------------
// Content and mirrors.

/// The two linux/amd64 images of a tag, plain first, GPU second.
struct Pair {
    plain: Value,
    gpu: Value,
    /// The digest of the index.
    index: String,
    /// The diff ID (uncompressed digest) of each image's one layer.
    plain_diff: String,
    gpu_diff: String,
}

impl Pair {
    fn plain_digest(&self) -> &str {
        self.plain["digest"].as_str().unwrap()
    }
    fn gpu_digest(&self) -> &str {
        self.gpu["digest"].as_str().unwrap()
    }
}

/// Pushes [plain linux/amd64, linux/amd64 + GPU annotation] as an OCI index
/// under `tag`: a first-match runtime takes the plain one.
fn push_pair(reg: &Registry, repo: &str, tag: &str) -> Pair {
    let (plain, plain_diff) = push_real_image(reg, repo, "plain-amd64", "linux/amd64", &[]);
    let (gpu, gpu_diff) = push_real_image(
        reg,
        repo,
        "gpu-amd64",
        "linux/amd64",
        &[(GPU_KEY, GPU_MODEL)],
    );
    let index = reg.push_index(repo, tag, OCI_INDEX, &[plain.clone(), gpu.clone()]);
    Pair {
        plain,
        gpu,
        index,
        plain_diff,
        gpu_diff,
    }
}

/// A mirror of `reg` for linux/amd64 with `extra` arguments.
fn mirror_of(reg: &Registry, extra: &[&str]) -> Mirror {
    let host = reg.host();
    let mut args = vec![
        "--upstream",
        host.as_str(),
        "--plain-http",
        host.as_str(),
        "-p",
        "linux/amd64",
    ];
    args.extend_from_slice(extra);
    Mirror::start(&args)
}

/// A mirror of `reg` for a linux/amd64 node that prefers the GPU build.
fn preferring(reg: &Registry, extra: &[&str]) -> Mirror {
    let mut args = vec!["--prefer", GPU_KEY];
    args.extend_from_slice(extra);
    mirror_of(reg, &args)
}

/// The manifest and blob digests a manifest names (config and layers).
fn blobs_of(manifest: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(manifest).expect("manifest JSON");
    let mut out = vec![v["config"]["digest"].as_str().unwrap().to_owned()];
    for l in v["layers"].as_array().unwrap() {
        out.push(l["digest"].as_str().unwrap().to_owned());
    }
    out
}

/// `n` bytes of deterministic noise (xorshift64*), from `seed`.
struct Noise {
    state: u64,
    left: u64,
}

impl Noise {
    fn new(seed: u64, n: u64) -> Noise {
        Noise {
            state: seed | 1,
            left: n,
        }
    }

    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n);
        Noise::new(seed, n as u64)
            .read_to_end(&mut v)
            .expect("noise");
        v
    }
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let w = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// `n` bytes that repeat a block of noise whose length (1 MiB + 17) is
/// prime to the mirror's 64 KiB chunks and the buffers around them, so a
/// chunk lost, repeated or swapped changes the digest; cheap to produce
/// in the unoptimized test build.
struct Cycle {
    block: Vec<u8>,
    pos: u64,
    left: u64,
}

impl Cycle {
    fn new(seed: u64, n: u64) -> Cycle {
        Cycle {
            block: Noise::bytes(seed, (1 << 20) + 17),
            pos: 0,
            left: n,
        }
    }
}

impl Read for Cycle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let at = (self.pos % self.block.len() as u64) as usize;
        let n = (buf.len() as u64)
            .min(self.left)
            .min((self.block.len() - at) as u64) as usize;
        buf[..n].copy_from_slice(&self.block[at..at + n]);
        self.pos += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}

// ---------------------------------------------------------------------------
// HTTP.

fn agent(timeout: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(timeout)
        .user_agent("ocipick-serve-test")
        .build()
        .into()
}

/// One answer: status, headers (names lower-case; repeated ones joined
/// with ", "), body.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The headers a registry client relies on.
    fn content_headers(&self) -> [(&'static str, Option<&str>); 3] {
        [
            (
                "docker-content-digest",
                self.header("docker-content-digest"),
            ),
            ("content-length", self.header("content-length")),
            ("content-type", self.header("content-type")),
        ]
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends `method url` with `headers` (and `body` unless it is `None`).
fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Answer {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    let agent = AGENT.get_or_init(|| agent(Some(Duration::from_secs(60))));
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let result = match body {
        Some(bytes) => agent.run(b.body(bytes).expect("request")),
        None => agent.run(b.body(()).expect("request")),
    };
    let mut resp = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let mut headers = BTreeMap::new();
    for (k, v) in resp.headers() {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        headers
            .entry(k.as_str().to_owned())
            .and_modify(|s: &mut String| {
                s.push_str(", ");
                s.push_str(&v);
            })
            .or_insert(v);
    }
    let body = if method == "HEAD" {
        Vec::new()
    } else {
        resp.body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap_or_else(|e| panic!("{method} {url}: body: {e}"))
    };
    Answer {
        status: resp.status().as_u16(),
        headers,
        body,
    }
}

/// What registry clients send for manifests.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

fn get(url: &str) -> Answer {
    send("GET", url, &[("Accept", ACCEPT)], None)
}

fn head(url: &str) -> Answer {
    send("HEAD", url, &[("Accept", ACCEPT)], None)
}

fn sha256(bytes: &[u8]) -> String {
    common::sha256(bytes)
}

/// Asserts a distribution-spec error body: `{"errors":[{"code",…}, …]}`
/// with at least one error, each with a string `code`.
fn assert_errors_body(a: &Answer, what: &str) {
    let v = a.json();
    let errors = v["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no \"errors\" array in {v}"));
    assert!(!errors.is_empty(), "{what}: empty errors in {v}");
    for e in errors {
        assert!(e["code"].is_string(), "{what}: error without code: {v}");
    }
}

/// Requests the registry saw for `uri` with `method`.
fn count(log: &[Access], method: &str, uri: &str) -> usize {
    log.iter()
        .filter(|a| a.method == method && a.uri == uri)
        .count()
}

// ---------------------------------------------------------------------------
// 1. skopeo through a registries.conf mirror.

/// A registries.conf for `upstream` with, optionally, one mirror.
fn registries_conf(dir: &Path, name: &str, upstream: &str, mirror: Option<&str>) -> PathBuf {
    let mut text = format!(
        "unqualified-search-registries = []\n\n\
         [[registry]]\nlocation = \"{upstream}\"\ninsecure = true\n"
    );
    if let Some(m) = mirror {
        text.push_str(&format!(
            "\n[[registry.mirror]]\nlocation = \"{m}\"\ninsecure = true\n"
        ));
    }
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn skopeo_pulls_the_preferred_image_through_a_registries_conf_mirror() {
    if let Err(why) = ensure_tool("skopeo", "skopeo") {
        panic!("skopeo is needed for this test: {why}");
    }
    let reg = Registry::anonymous();
    let pair = push_pair(&reg, "demo/app", "v1");
    let gpu_manifest = reg.get_manifest("demo/app", pair.gpu_digest());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let image = format!("{}/demo/app:v1", reg.host());

    // Directly from the upstream: the first linux/amd64 entry.
    let direct = registries_conf(w, "direct.conf", &reg.host(), None);
    assert_eq!(
        skopeo_copy(&direct, &image, w, "direct"),
        pair.plain_digest(),
        "skopeo without a mirror takes the first linux/amd64 entry"
    );

    // Through a mirror without the preference: the same.
    let neutral = mirror_of(&reg, &[]);
    let conf = registries_conf(w, "neutral.conf", &reg.host(), Some(&neutral.addr));
    assert_eq!(
        skopeo_copy(&conf, &image, w, "neutral"),
        pair.plain_digest(),
        "a mirror with no preference answers with the first fit; log:\n{}",
        neutral.log()
    );
    drop(neutral);

    // Through the preferring mirror: the GPU build, blobs through it too.
    reg.sync_log();
    let before = reg.access_log().len();
    let m = preferring(&reg, &[]);
    let conf = registries_conf(w, "mirror.conf", &reg.host(), Some(&m.addr));
    let got = skopeo_copy(&conf, &image, w, "mirrored");
    assert_eq!(
        got,
        pair.gpu_digest(),
        "skopeo through the mirror gets the preferred child; log:\n{}",
        m.log()
    );
    assert!(
        m.log().contains(&format!("chosen={}", pair.gpu_digest())),
        "the mirror logged its decision:\n{}",
        m.log()
    );
    // The layout holds the GPU build's blobs, byte for byte.
    let layout = w.join("mirrored");
    let stored = std::fs::read(
        layout
            .join("blobs/sha256")
            .join(pair.gpu_digest().trim_start_matches("sha256:")),
    )
    .expect("manifest blob in the layout");
    assert_eq!(stored, gpu_manifest, "the child manifest, unchanged");
    let blobs = blobs_of(&gpu_manifest);
    for b in &blobs {
        assert!(
            layout
                .join("blobs/sha256")
                .join(b.trim_start_matches("sha256:"))
                .is_file(),
            "blob {b} copied"
        );
    }
    // Every blob came through the mirror: skopeo itself never reached the
    // upstream, and the mirror's client fetched each blob there.
    reg.sync_log();
    let log: Vec<Access> = reg.access_log().into_iter().skip(before).collect();
    let direct_hits: Vec<&Access> = log
        .iter()
        .filter(|a| !a.user_agent.starts_with("ocipick/") && !a.user_agent.contains("sentinel"))
        .collect();
    assert!(
        direct_hits.is_empty(),
        "skopeo reached the upstream directly: {direct_hits:#?}"
    );
    for b in &blobs {
        let uri = format!("/v2/demo/app/blobs/{b}");
        assert!(
            log.iter()
                .any(|a| a.uri == uri && a.method == "GET" && a.user_agent.starts_with("ocipick/")),
            "the mirror fetched {uri} upstream: {log:#?}"
        );
    }
    let blob_gets =
        m.metric(r#"ocipick_mirror_requests_total{kind="blob",method="GET",code="200"}"#);
    assert!(
        blob_gets >= blobs.len() as f64,
        "the mirror served {blob_gets} blob GETs, want at least {}",
        blobs.len()
    );
    drop(m);

    // In reorder mode skopeo gets an index and takes its first linux/amd64
    // entry, now the GPU build.
    let r = preferring(&reg, &["--mode", "reorder"]);
    let conf = registries_conf(w, "reorder.conf", &reg.host(), Some(&r.addr));
    assert_eq!(
        skopeo_copy(&conf, &image, w, "reordered"),
        pair.gpu_digest(),
        "skopeo through a reordering mirror; log:\n{}",
        r.log()
    );
    assert!(
        r.metric(r#"ocipick_mirror_selections_total{outcome="reordered"}"#) >= 1.0,
        "the mirror answered with a reordered index"
    );
}

// ---------------------------------------------------------------------------
// 2. containerd through a hosts.toml mirror.

/// Starts the runtime matrix's private containerd (namespaces do not
/// share content, so each pull fetches its own blobs), installing the
/// package when missing; `Err` says why it cannot run here.
fn start_containerd() -> Result<Containerd, String> {
    ensure_tool("containerd", "containerd")?;
    if !which("ctr") {
        return Err("the containerd package installed no ctr".into());
    }
    Containerd::start()
}

/// The mirror's `ocipick_mirror_requests_total` samples (for messages).
fn requests_metrics(m: &Mirror) -> String {
    let text = get(&format!("{}/metrics", m.url()));
    String::from_utf8_lossy(&text.body)
        .lines()
        .filter(|l| l.starts_with("ocipick_mirror_requests_total{"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn containerd_resolves_the_tag_to_the_preferred_image_through_a_hosts_toml_mirror() {
    let reg = Registry::anonymous();
    let pair = push_pair(&reg, "demo/app", "v1");
    let ctd = match start_containerd() {
        Ok(c) => c,
        Err(why) => {
            // scripts/test.sh (CI) requires it: there a skip is a failure.
            if std::env::var_os("OCIPICK_REQUIRE_CONTAINERD").is_some() {
                panic!("containerd cannot run here (OCIPICK_REQUIRE_CONTAINERD is set): {why}");
            }
            // Straight to the terminal: the harness hides a passing test's
            // captured output.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED containerd_resolves_the_tag…: containerd cannot run here: {why}"
            );
            return;
        }
    };
    let image = format!("{}/demo/app:v1", reg.host());
    let gpu_manifest = reg.get_manifest("demo/app", pair.gpu_digest());

    // Directly: the tag resolves to the index, and containerd pulls and
    // unpacks its first linux/amd64 entry, the plain one.
    ctd.ctr_ok(
        "direct",
        &[
            "image",
            "pull",
            "--plain-http",
            "--snapshotter",
            "native",
            "--platform",
            "linux/amd64",
            &image,
        ],
    );
    // (ctr fetches every linux/amd64 entry, then unpacks the first.)
    assert_eq!(ctd.image_target("direct", &image), pair.index);
    assert!(ctd.has_content("direct", pair.plain_digest()));
    assert_eq!(
        ctd.snapshots("direct"),
        std::slice::from_ref(&pair.plain_diff),
        "containerd alone unpacks the plain build"
    );

    // Through the mirror: the tag resolves to the GPU build itself, which
    // containerd pulls and unpacks.
    reg.sync_log();
    let before = reg.access_log().len();
    let m = preferring(&reg, &[]);
    let hosts = ctd.hosts_dir("hosts", &reg.host(), Some(&m.addr));
    ctd.ctr_ok(
        "mirrored",
        &[
            "image",
            "pull",
            "--hosts-dir",
            hosts.to_str().unwrap(),
            "--snapshotter",
            "native",
            "--platform",
            "linux/amd64",
            &image,
        ],
    );
    assert_eq!(
        ctd.image_target("mirrored", &image),
        pair.gpu_digest(),
        "containerd through the mirror resolves the tag to the preferred child; mirror log:\n{}\n\
         mirror requests:\n{}",
        m.log(),
        requests_metrics(&m)
    );
    let stored = ctd.ctr_ok("mirrored", &["content", "get", pair.gpu_digest()]);
    assert_eq!(stored.as_bytes(), gpu_manifest.as_slice());
    for b in blobs_of(&gpu_manifest) {
        assert!(ctd.has_content("mirrored", &b), "blob {b} fetched");
    }
    assert!(!ctd.has_content("mirrored", pair.plain_digest()));
    assert_eq!(
        ctd.snapshots("mirrored"),
        std::slice::from_ref(&pair.gpu_diff),
        "the GPU build's layer is unpacked"
    );
    // containerd resolved with HEAD on the tag (with ?ns=), fetched by
    // digest, all through the mirror: nothing reached the upstream but the
    // mirror's own client.
    assert!(
        m.metric(r#"ocipick_mirror_requests_total{kind="manifest_tag",method="HEAD",code="200"}"#)
            >= 1.0,
        "containerd resolved through the mirror"
    );
    reg.sync_log();
    let log: Vec<Access> = reg.access_log().into_iter().skip(before).collect();
    let direct_hits: Vec<&Access> = log
        .iter()
        .filter(|a| !a.user_agent.starts_with("ocipick/") && !a.user_agent.contains("sentinel"))
        .collect();
    assert!(
        direct_hits.is_empty(),
        "containerd reached the upstream directly: {direct_hits:#?}"
    );
    for b in blobs_of(&gpu_manifest) {
        let uri = format!("/v2/demo/app/blobs/{b}");
        assert!(
            log.iter()
                .any(|a| a.uri == uri && a.method == "GET" && a.user_agent.starts_with("ocipick/")),
            "the mirror fetched {uri} upstream: {log:#?}"
        );
    }
    let blob_gets =
        m.metric(r#"ocipick_mirror_requests_total{kind="blob",method="GET",code="200"}"#);
    assert!(blob_gets >= 2.0, "blobs through the mirror: {blob_gets}");
}

/// containerd's `?ns=` chooses among several upstreams, as containerd
/// sends it: percent-encoded (`ns=127.0.0.1%3A5000`, Go's
/// `url.Values.Encode`), which is what the containerd test above relies on.
#[test]
fn the_ns_parameter_chooses_the_upstream_as_containerd_encodes_it() {
    let a = Registry::anonymous();
    let b = Registry::anonymous();
    let pa = push_pair(&a, "demo/app", "v1");
    // Different content in B: labels differ, so digests do.
    let (plain_b, _) = push_real_image(&b, "demo/app", "plain-b", "linux/amd64", &[]);
    let (gpu_b, _) = push_real_image(
        &b,
        "demo/app",
        "gpu-b",
        "linux/amd64",
        &[(GPU_KEY, GPU_MODEL)],
    );
    b.push_index("demo/app", "v1", OCI_INDEX, &[plain_b, gpu_b.clone()]);
    let (ha, hb) = (a.host(), b.host());
    let m = Mirror::start(&[
        "--upstream",
        &ha,
        "--upstream",
        &hb,
        "--plain-http",
        &ha,
        "--plain-http",
        &hb,
        "-p",
        "linux/amd64",
        "--prefer",
        GPU_KEY,
    ]);
    let tag = |query: &str| get(&format!("{}/v2/demo/app/manifests/v1{query}", m.url()));
    let digest_of = |a: &Answer| a.header("docker-content-digest").map(str::to_owned);
    let gpu_b = gpu_b["digest"].as_str().unwrap();

    // No ns: the first upstream.
    let r = tag("");
    assert_eq!(r.status, 200);
    assert_eq!(digest_of(&r).as_deref(), Some(pa.gpu_digest()));
    // ns naming an upstream, plain and percent-encoded.
    let r = tag(&format!("?ns={ha}"));
    assert_eq!(digest_of(&r).as_deref(), Some(pa.gpu_digest()), "ns={ha}");
    let r = tag(&format!("?ns={hb}"));
    assert_eq!(r.status, 200, "ns={hb}");
    assert_eq!(digest_of(&r).as_deref(), Some(gpu_b), "ns={hb}");
    let encoded = hb.replace(':', "%3A");
    let r = tag(&format!("?ns={encoded}"));
    assert_eq!(
        (r.status, digest_of(&r).as_deref()),
        (200, Some(gpu_b)),
        "ns={encoded} (as containerd sends it): {:?}",
        String::from_utf8_lossy(&r.body)
    );
    // Blobs follow ns too.
    let gpu_manifest = b.get_manifest("demo/app", gpu_b);
    let layer = blobs_of(&gpu_manifest).pop().unwrap();
    let r = get(&format!(
        "{}/v2/demo/app/blobs/{layer}?ns={encoded}",
        m.url()
    ));
    assert_eq!(r.status, 200, "blob with ns={encoded}");
    assert_eq!(sha256(&r.body), layer);
    // A registry the mirror does not serve: 404 in the distribution format.
    let r = tag("?ns=ghcr.io");
    assert_eq!(r.status, 404);
    assert_errors_body(&r, "ns=ghcr.io");
}

// ---------------------------------------------------------------------------
// 3. Pass-through fidelity.

#[test]
fn passes_blobs_and_digest_manifests_through_unchanged() {
    let reg = Registry::anonymous();
    let pair = push_pair(&reg, "demo/app", "v1");
    // A blob larger than the mirror's 64 KiB chunks.
    let data = Noise::bytes(7, 300_000);
    let (blob, _) = reg.push_blob("demo/app", &data);
    let m = preferring(&reg, &[]);
    let up = format!("http://{}/v2/demo/app", reg.host());
    let via = format!("{}/v2/demo/app", m.url());

    // A blob: bytes and headers as upstream.
    let u = get(&format!("{up}/blobs/{blob}"));
    let g = get(&format!("{via}/blobs/{blob}"));
    assert_eq!(u.status, 200);
    assert_eq!(g.status, 200);
    assert!(g.body == data, "the blob through the mirror is the blob");
    assert_eq!(g.content_headers(), u.content_headers(), "blob headers");
    assert_eq!(g.header("docker-content-digest"), Some(blob.as_str()));
    assert_eq!(g.header("content-length"), Some("300000"));
    let h = head(&format!("{via}/blobs/{blob}"));
    assert_eq!(h.status, 200, "HEAD blob");
    assert_eq!(h.content_headers(), g.content_headers(), "HEAD = GET, blob");
    assert!(h.body.is_empty());

    // A manifest by digest: bytes and headers as upstream.
    for d in [pair.plain_digest(), pair.gpu_digest(), pair.index.as_str()] {
        let u = get(&format!("{up}/manifests/{d}"));
        let g = get(&format!("{via}/manifests/{d}"));
        assert_eq!((u.status, g.status), (200, 200), "{d}");
        assert_eq!(g.body, u.body, "manifest {d} byte for byte");
        assert_eq!(g.content_headers(), u.content_headers(), "manifest {d}");
        assert_eq!(g.header("docker-content-digest"), Some(d));
        let h = head(&format!("{via}/manifests/{d}"));
        assert_eq!(h.status, 200);
        assert_eq!(h.content_headers(), g.content_headers(), "HEAD = GET, {d}");
    }
    // The index by digest is the upstream's index, not a selection.
    let g = get(&format!("{via}/manifests/{}", pair.index));
    assert_eq!(g.header("content-type"), Some(OCI_INDEX));

    // A manifest by tag: the selected child, as upstream serves the child.
    let child = get(&format!("{up}/manifests/{}", pair.gpu_digest()));
    let g = get(&format!("{via}/manifests/v1"));
    assert_eq!(g.status, 200);
    assert_eq!(g.body, child.body, "the tag answers with the GPU child");
    assert_eq!(g.content_headers(), child.content_headers(), "tag = child");
    assert_eq!(g.header("content-type"), Some(OCI_MANIFEST));
    assert_eq!(g.header("docker-content-digest"), Some(pair.gpu_digest()));
    let h = head(&format!("{via}/manifests/v1"));
    assert_eq!(h.status, 200);
    assert_eq!(h.content_headers(), g.content_headers(), "HEAD = GET, tag");
    assert!(h.body.is_empty());

    // Ranges: within the first chunk, and across the 64 KiB chunk border.
    for (from, to) in [(3u64, 10u64), (65_530, 65_545), (299_990, 299_999)] {
        let range = format!("bytes={from}-{to}");
        let r = send(
            "GET",
            &format!("{via}/blobs/{blob}"),
            &[("Range", range.as_str())],
            None,
        );
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.body,
            &data[from as usize..=to as usize],
            "{range}: the right bytes"
        );
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {from}-{to}/300000").as_str()),
            "{range}"
        );
        assert_eq!(
            r.header("content-length"),
            Some((to - from + 1).to_string().as_str())
        );
    }

    // Tag lists pass through with their query and Link header;
    // referrers as the upstream answers them (distribution 2.8: 404).
    reg.push_index(
        "demo/app",
        "v2",
        OCI_INDEX,
        &[pair.plain.clone(), pair.gpu.clone()],
    );
    for path in [
        "tags/list".to_owned(),
        "tags/list?n=1".to_owned(),
        "tags/list?n=1&last=v1".to_owned(),
        format!("referrers/{}", pair.gpu_digest()),
    ] {
        let u = get(&format!("{up}/{path}"));
        let g = get(&format!("{via}/{path}"));
        assert_eq!(g.status, u.status, "{path}");
        assert_eq!(g.body, u.body, "{path}");
        assert_eq!(g.header("link"), u.header("link"), "{path}");
        assert_eq!(g.header("content-type"), u.header("content-type"), "{path}");
    }
    assert_eq!(
        get(&format!("{via}/tags/list")).json()["tags"],
        serde_json::json!(["v1", "v2"])
    );
    // (distribution 2.8 ignores `n`; the query reaches it unchanged.)
    reg.sync_log();
    assert!(
        reg.access_log().iter().any(|a| a.method == "GET"
            && a.uri == "/v2/demo/app/tags/list?n=1&last=v1"
            && a.user_agent.starts_with("ocipick/")),
        "the mirror forwarded the query"
    );

    // Upstream 404s: the status and the distribution-spec error body.
    let missing_blob = common::sha256(b"never pushed");
    for (what, path) in [
        ("unknown tag", "manifests/nosuchtag".to_owned()),
        (
            "unknown manifest digest",
            format!("manifests/{missing_blob}"),
        ),
        ("unknown blob", format!("blobs/{missing_blob}")),
    ] {
        let g = get(&format!("{via}/{path}"));
        assert_eq!(
            g.status,
            404,
            "{what}: {:?}",
            String::from_utf8_lossy(&g.body)
        );
        assert_errors_body(&g, what);
        let h = head(&format!("{via}/{path}"));
        assert_eq!(h.status, 404, "HEAD {what}");
    }
    // An unknown repository too.
    let g = get(&format!("{}/v2/no/such/repo/manifests/v1", m.url()));
    assert_eq!(g.status, 404);
    assert_errors_body(&g, "unknown repository");

    // Writes: 405, and none reaches the upstream.
    reg.sync_log();
    let writes_before = reg
        .access_log()
        .iter()
        .filter(|a| a.method != "GET" && a.method != "HEAD")
        .count();
    for (method, path) in [
        ("PUT", "manifests/v1".to_owned()),
        ("PUT", format!("manifests/{}", pair.gpu_digest())),
        ("DELETE", format!("manifests/{}", pair.gpu_digest())),
        ("DELETE", format!("blobs/{blob}")),
        ("POST", "blobs/uploads/".to_owned()),
        ("PATCH", "blobs/uploads/abc".to_owned()),
        ("PUT", "blobs/uploads/abc?digest=sha256:00".to_owned()),
        ("GET", "blobs/uploads/abc".to_owned()),
    ] {
        let body: Option<&[u8]> = match method {
            "PUT" | "POST" | "PATCH" => Some(b"{}"),
            _ => None,
        };
        let r = send(method, &format!("{via}/{path}"), &[], body);
        assert_eq!(r.status, 405, "{method} {path}");
        assert_errors_body(&r, &format!("{method} {path}"));
    }
    reg.sync_log();
    let writes_after = reg
        .access_log()
        .iter()
        .filter(|a| a.method != "GET" && a.method != "HEAD")
        .count();
    assert_eq!(writes_after, writes_before, "no write reached the upstream");
    // The tag still names the index upstream.
    assert_eq!(sha256(&reg.get_manifest("demo/app", "v1")), pair.index);

    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let body: Option<&[u8]> = (method != "DELETE").then_some(b"{}");
        let r = send(method, &format!("{}/v2/", m.url()), &[], body);
        assert_eq!(r.status, 405, "{method} /v2/");
    }

    // The API version check.
    for method in ["GET", "HEAD"] {
        let r = send(method, &format!("{}/v2/", m.url()), &[], None);
        assert_eq!(r.status, 200, "{method} /v2/");
        assert_eq!(
            r.header("docker-distribution-api-version"),
            Some("registry/2.0")
        );
    }
}

// ---------------------------------------------------------------------------
// 4. --mode reorder.

#[test]
fn reorder_mode_answers_with_the_index_reordered_and_serves_it_by_digest() {
    let reg = Registry::anonymous();
    let repo = "demo/app";
    let arm = reg.push_image(repo, "arm64", Some("linux/arm64"), &[], false);
    let plain = reg.push_image(repo, "plain-amd64", Some("linux/amd64"), &[], false);
    let gpu = reg.push_gpu_image(repo, "gpu-amd64", false);
    let index = reg.push_index(
        repo,
        "v1",
        OCI_INDEX,
        &[arm.clone(), plain.clone(), gpu.clone()],
    );
    let upstream_bytes = reg.get_manifest(repo, "v1");
    assert_eq!(sha256(&upstream_bytes), index);
    let m = preferring(&reg, &["--mode", "reorder"]);
    let via = format!("{}/v2/{repo}", m.url());

    let g = get(&format!("{via}/manifests/v1"));
    assert_eq!(g.status, 200, "{}", m.log());
    assert_eq!(g.header("content-type"), Some(OCI_INDEX));
    let served_digest = sha256(&g.body);
    assert_eq!(
        g.header("docker-content-digest"),
        Some(served_digest.as_str()),
        "the digest header is the sha256 of the bytes served"
    );
    assert_ne!(served_digest, index, "a new index");
    assert_eq!(
        g.header("content-length"),
        Some(g.body.len().to_string().as_str())
    );

    // The first linux/amd64 entry is the GPU build; the arm64 entry, which
    // no amd64 runtime considers, stays first.
    let new = g.json();
    let old: Value = serde_json::from_slice(&upstream_bytes).unwrap();
    let entries = new["manifests"].as_array().unwrap();
    let first_amd64 = entries
        .iter()
        .find(|e| e["platform"]["architecture"] == "amd64" && e["platform"]["os"] == "linux")
        .expect("an amd64 entry");
    assert_eq!(first_amd64["digest"], gpu["digest"]);
    let order: Vec<&Value> = entries.iter().map(|e| &e["digest"]).collect();
    assert_eq!(
        order,
        [&arm["digest"], &gpu["digest"], &plain["digest"]],
        "the GPU entry moved to where a first-match runtime looks"
    );
    // Only the order differs: the same entries (as a multiset), the same
    // everything else, the same length.
    let canon = |v: &Value| {
        let mut s: Vec<String> = v["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        s.sort();
        s
    };
    assert_eq!(canon(&new), canon(&old), "the same entries");
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("manifests");
        v
    };
    assert_eq!(strip(&new), strip(&old), "the same document around them");
    assert_eq!(g.body.len(), upstream_bytes.len());
    // Each entry's text is moved as it was.
    for e in old["manifests"].as_array().unwrap() {
        let text = serde_json::to_string(e).unwrap();
        assert!(
            String::from_utf8_lossy(&g.body).contains(&text),
            "entry {text} kept verbatim"
        );
    }

    // HEAD agrees; a GET by the new digest answers the same bytes — from
    // the mirror, since the upstream never had them.
    let h = head(&format!("{via}/manifests/v1"));
    assert_eq!(h.status, 200);
    assert_eq!(h.content_headers(), g.content_headers());
    let by_digest = get(&format!("{via}/manifests/{served_digest}"));
    assert_eq!(by_digest.status, 200, "{}", m.log());
    assert_eq!(by_digest.body, g.body);
    assert_eq!(by_digest.content_headers(), g.content_headers());
    let h = head(&format!("{via}/manifests/{served_digest}"));
    assert_eq!(h.status, 200);
    assert_eq!(h.content_headers(), g.content_headers());
    let upstream = get(&format!(
        "http://{}/v2/{repo}/manifests/{served_digest}",
        reg.host()
    ));
    assert_eq!(upstream.status, 404, "the reordered index is the mirror's");
    // The children are still served by digest, unchanged.
    let c = get(&format!(
        "{via}/manifests/{}",
        gpu["digest"].as_str().unwrap()
    ));
    assert_eq!(
        c.body,
        reg.get_manifest(repo, gpu["digest"].as_str().unwrap())
    );
}

/// Docker manifest lists too: the Docker child in child mode (with its
/// own media type), a reordered list in reorder mode.
/// A reordered index exists only in the mirror: while its tag hands it
/// out, a GET by its digest must still find it, even after other indexes
/// pushed it out of a small manifest cache.
#[test]
fn a_reordered_index_is_served_by_digest_after_its_eviction() {
    let reg = Registry::anonymous();
    let repo = "demo/app";
    let plain = reg.push_image(repo, "plain-amd64", Some("linux/amd64"), &[], false);
    let other = reg.push_image(repo, "other-amd64", Some("linux/amd64"), &[], false);
    let gpu = reg.push_gpu_image(repo, "gpu-amd64", false);
    reg.push_index(repo, "a", OCI_INDEX, &[plain, gpu.clone()]);
    reg.push_index(repo, "b", OCI_INDEX, &[other, gpu]);
    let (len_a, len_b) = (
        reg.get_manifest(repo, "a").len(),
        reg.get_manifest(repo, "b").len(),
    );
    // Room for one reordered index, not for both.
    let budget = len_a.max(len_b) + len_a.min(len_b) / 2;
    let budget = budget.to_string();
    let m = preferring(&reg, &["--mode", "reorder", "--cache-bytes", &budget]);
    let via = format!("{}/v2/{repo}", m.url());

    let a = get(&format!("{via}/manifests/a"));
    assert_eq!(a.status, 200, "{}", m.log());
    let b = get(&format!("{via}/manifests/b"));
    assert_eq!(b.status, 200, "{}", m.log());
    // Tag a again, from the tag cache; then the runtime's GET by digest.
    let again = get(&format!("{via}/manifests/a"));
    assert_eq!(again.body, a.body);
    let digest = sha256(&a.body);
    let by_digest = get(&format!("{via}/manifests/{digest}"));
    assert_eq!(by_digest.status, 200, "{}", m.log());
    assert_eq!(by_digest.body, a.body);
}

#[test]
fn docker_manifest_lists_are_answered_like_oci_indexes() {
    use registry_support::{DOCKER_LIST, DOCKER_MANIFEST};
    let reg = Registry::anonymous();
    let repo = "docker/app";
    let plain = reg.push_image(repo, "plain", Some("linux/amd64"), &[], true);
    let gpu = reg.push_gpu_image(repo, "gpu", true);
    let list = reg.push_index(repo, "v1", DOCKER_LIST, &[plain.clone(), gpu.clone()]);
    let gpu_digest = gpu["digest"].as_str().unwrap();

    let m = preferring(&reg, &[]);
    let g = get(&format!("{}/v2/{repo}/manifests/v1", m.url()));
    assert_eq!(g.status, 200, "{}", m.log());
    assert_eq!(g.header("content-type"), Some(DOCKER_MANIFEST));
    assert_eq!(g.header("docker-content-digest"), Some(gpu_digest));
    assert_eq!(g.body, reg.get_manifest(repo, gpu_digest));
    drop(m);

    let r = preferring(&reg, &["--mode", "reorder"]);
    let g = get(&format!("{}/v2/{repo}/manifests/v1", r.url()));
    assert_eq!(g.status, 200, "{}", r.log());
    assert_eq!(g.header("content-type"), Some(DOCKER_LIST));
    let digest = sha256(&g.body);
    assert_ne!(digest, list);
    assert_eq!(g.header("docker-content-digest"), Some(digest.as_str()));
    let order: Vec<Value> = g.json()["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].clone())
        .collect();
    assert_eq!(order, [gpu["digest"].clone(), plain["digest"].clone()]);
    let again = get(&format!("{}/v2/{repo}/manifests/{digest}", r.url()));
    assert_eq!(again.body, g.body);
    assert_eq!(again.header("content-type"), Some(DOCKER_LIST));
}

// ---------------------------------------------------------------------------
// 4b. Faithful forwarding: what Docker sends, and the headers both ways.

/// `method path` sent to `addr` over a plain socket with `lines` as header
/// lines exactly as given, one line each (a name may repeat, as Docker
/// repeats `Accept`), and `Connection: close`; the answer read to its end.
fn raw(addr: &str, method: &str, path: &str, lines: &[(&str, &str)]) -> Answer {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in lines {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no header block in {raw:?}"));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut it = head.split("\r\n");
    let status = it
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let mut headers = BTreeMap::new();
    for (k, v) in it.filter_map(|l| l.split_once(':')) {
        headers
            .entry(k.trim().to_ascii_lowercase())
            .and_modify(|s: &mut String| {
                s.push_str(", ");
                s.push_str(v.trim());
            })
            .or_insert_with(|| v.trim().to_owned());
    }
    let rest = raw[end + 4..].to_vec();
    assert!(
        !headers
            .get("transfer-encoding")
            .is_some_and(|t| t.contains("chunked")),
        "{method} {path}: expected a Content-Length answer"
    );
    Answer {
        status,
        headers,
        body: if method == "HEAD" { Vec::new() } else { rest },
    }
}

/// A pull by digest of an OCI manifest and of an OCI index, through the
/// mirror, with the `Accept` header as Docker sends it (one line per media
/// type, the Docker manifest type first, the OCI types later), in other
/// orders, as one comma-separated line, and split over two lines:
/// distribution refuses an OCI manifest or index to a request whose
/// `Accept` does not name its type, so every line must reach it.
#[test]
fn docker_style_accept_lines_reach_the_upstream_for_pulls_by_digest() {
    use registry_support::{DOCKER_LIST, DOCKER_MANIFEST};
    const SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    let reg = Registry::anonymous();
    let repo = "demo/app";
    let pair = push_pair(&reg, repo, "v1");
    let m = preferring(&reg, &[]);
    let path = |d: &str| format!("/v2/{repo}/manifests/{d}");
    let targets = [
        (pair.plain_digest().to_owned(), OCI_MANIFEST),
        (pair.index.clone(), OCI_INDEX),
    ];

    // The registry itself refuses each when only the first line reaches it.
    for (d, _) in &targets {
        let a = raw(&reg.host(), "GET", &path(d), &[("Accept", DOCKER_MANIFEST)]);
        assert_eq!(a.status, 404, "upstream, Docker manifest type only: {d}");
    }

    let orders: [&[&str]; 4] = [
        // Docker Engine 20.10–27: the Docker types first.
        &[DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX],
        &[
            SCHEMA1,
            DOCKER_MANIFEST,
            DOCKER_LIST,
            OCI_INDEX,
            OCI_MANIFEST,
        ],
        &[DOCKER_LIST, OCI_INDEX, DOCKER_MANIFEST, OCI_MANIFEST],
        &[OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST],
    ];
    for (d, media_type) in &targets {
        let upstream = reg.get_manifest(repo, d);
        for order in orders {
            let joined = order.join(", ");
            let half = order.len() / 2;
            let (first, second) = (order[..half].join(","), order[half..].join(" ,"));
            let forms: [(&str, Vec<(&str, &str)>); 3] = [
                (
                    "one line per type",
                    order.iter().map(|t| ("Accept", *t)).collect(),
                ),
                ("one comma list", vec![("Accept", joined.as_str())]),
                (
                    "two lines",
                    vec![("Accept", first.as_str()), ("Accept", second.as_str())],
                ),
            ];
            for (form, lines) in forms {
                for method in ["GET", "HEAD"] {
                    let a = raw(&m.addr, method, &path(d), &lines);
                    let what = format!("{method} {d} ({media_type}), {form}: {order:?}");
                    assert_eq!(
                        a.status,
                        200,
                        "{what}: {}",
                        String::from_utf8_lossy(&a.body)
                    );
                    assert_eq!(a.header("content-type"), Some(*media_type), "{what}");
                    assert_eq!(
                        a.header("docker-content-digest"),
                        Some(d.as_str()),
                        "{what}"
                    );
                    let len = upstream.len().to_string();
                    assert_eq!(a.header("content-length"), Some(len.as_str()), "{what}");
                    if method == "GET" {
                        assert!(a.body == upstream, "{what}: the bytes the registry stores");
                    }
                }
            }
        }
    }
}

/// Ranges, validators and caching headers through the mirror, against the
/// registry: a `Range` on a blob is answered 206 with its `Content-Range`;
/// blobs keep the registry's `Cache-Control` and `Etag`; `If-None-Match`
/// with the right entity tag is answered 304, passed through for blobs and
/// manifests by digest, and by the mirror for its own answers, whose
/// `Etag` is their own digest, never the upstream index's.
#[test]
fn ranges_validators_and_cache_headers_pass_both_ways() {
    let reg = Registry::anonymous();
    let repo = "demo/app";
    let pair = push_pair(&reg, repo, "v1");
    let data = Noise::bytes(11, 100_000);
    let (blob, _) = reg.push_blob(repo, &data);
    let m = preferring(&reg, &[]);
    let up = format!("http://{}/v2/{repo}", reg.host());
    let via = format!("{}/v2/{repo}", m.url());
    let quoted = |d: &str| format!("\"{d}\"");

    // A blob: the registry's caching and validator headers.
    let u = get(&format!("{up}/blobs/{blob}"));
    let g = get(&format!("{via}/blobs/{blob}"));
    assert_eq!((u.status, g.status), (200, 200));
    let cache_control = u
        .header("cache-control")
        .expect("distribution 2.8 sends Cache-Control on blobs");
    for name in [
        "cache-control",
        "etag",
        "accept-ranges",
        "last-modified",
        "expires",
    ] {
        assert_eq!(g.header(name), u.header(name), "blob {name}");
    }
    assert_eq!(g.header("etag"), Some(quoted(&blob).as_str()));
    assert_eq!(g.header("cache-control"), Some(cache_control));

    // Range: 206 with Content-Range and the caching headers.
    let r = send(
        "GET",
        &format!("{via}/blobs/{blob}"),
        &[("Range", "bytes=100-199")],
        None,
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 100-199/100000"));
    assert_eq!(r.header("content-length"), Some("100"));
    assert!(r.body == data[100..200], "the range's bytes");
    assert_eq!(r.header("cache-control"), Some(cache_control));

    // If-None-Match on a blob: 304 with the right entity tag, 200 without.
    for method in ["GET", "HEAD"] {
        let blob_etag = quoted(&blob);
        let n = send(
            method,
            &format!("{via}/blobs/{blob}"),
            &[("If-None-Match", blob_etag.as_str())],
            None,
        );
        assert_eq!(n.status, 304, "{method} blob, If-None-Match");
        assert!(n.body.is_empty());
        assert_eq!(n.header("etag"), Some(blob_etag.as_str()));
        let o = send(
            method,
            &format!("{via}/blobs/{blob}"),
            &[("If-None-Match", "\"sha256:other\"")],
            None,
        );
        assert_eq!(o.status, 200, "{method} blob, another entity tag");
    }

    // A manifest by digest, passed through (the mirror has not fetched the
    // plain child): 304 from the registry.
    let plain = pair.plain_digest();
    let plain_etag = quoted(plain);
    let n = send(
        "GET",
        &format!("{via}/manifests/{plain}"),
        &[("Accept", ACCEPT), ("If-None-Match", plain_etag.as_str())],
        None,
    );
    assert_eq!(n.status, 304, "manifest by digest, If-None-Match");
    assert!(n.body.is_empty());
    reg.sync_log();
    assert!(
        reg.access_log().iter().any(|a| a.status == 304
            && a.uri == format!("/v2/{repo}/manifests/{plain}")
            && a.user_agent.starts_with("ocipick/")),
        "the 304 came from the registry"
    );

    // The tag: the selected child, with the child's Etag, not the index's.
    let gpu = pair.gpu_digest();
    let (gpu_etag, index_etag) = (quoted(gpu), quoted(&pair.index));
    let u = get(&format!("{up}/manifests/v1"));
    assert_eq!(u.header("etag"), Some(index_etag.as_str()), "upstream");
    for method in ["GET", "HEAD"] {
        let g = send(
            method,
            &format!("{via}/manifests/v1"),
            &[("Accept", ACCEPT)],
            None,
        );
        assert_eq!(g.status, 200, "{}", m.log());
        assert_eq!(g.header("etag"), Some(gpu_etag.as_str()), "{method} tag");
        assert_eq!(g.header("docker-content-digest"), Some(gpu));
        // Revalidating with the child's tag: 304; with the index's: 200.
        let n = send(
            method,
            &format!("{via}/manifests/v1"),
            &[("Accept", ACCEPT), ("If-None-Match", gpu_etag.as_str())],
            None,
        );
        assert_eq!(n.status, 304, "{method} tag, If-None-Match: the child");
        assert!(n.body.is_empty());
        assert_eq!(n.header("etag"), Some(gpu_etag.as_str()));
        assert_eq!(n.header("docker-content-digest"), Some(gpu));
        let i = send(
            method,
            &format!("{via}/manifests/v1"),
            &[("Accept", ACCEPT), ("If-None-Match", index_etag.as_str())],
            None,
        );
        assert_eq!(i.status, 200, "{method} tag, If-None-Match: the index");
    }
    // The child by digest, now from the mirror's cache: its Etag, and 304.
    let c = get(&format!("{via}/manifests/{gpu}"));
    assert_eq!(c.header("etag"), Some(gpu_etag.as_str()));
    let n = send(
        "GET",
        &format!("{via}/manifests/{gpu}"),
        &[("Accept", ACCEPT), ("If-None-Match", gpu_etag.as_str())],
        None,
    );
    assert_eq!(n.status, 304, "cached child, If-None-Match");
    drop(m);

    // Reorder mode: the new index's own digest, also served by digest.
    let r = preferring(&reg, &["--mode", "reorder"]);
    let via = format!("{}/v2/{repo}", r.url());
    let g = get(&format!("{via}/manifests/v1"));
    assert_eq!(g.status, 200, "{}", r.log());
    let new = sha256(&g.body);
    assert_ne!(new, pair.index);
    assert_eq!(g.header("etag"), Some(quoted(&new).as_str()));
    let by_digest = get(&format!("{via}/manifests/{new}"));
    assert_eq!(by_digest.header("etag"), Some(quoted(&new).as_str()));
}

/// Behind a registry that authenticates, pass-through still pulls with the
/// mirror's own credentials (its Docker `config.json`): a client's own
/// `Authorization`, here a wrong password the registry refuses, is not
/// passed on and does not get in the way; Docker's `Accept` lines still
/// reach the registry.
#[test]
fn pass_through_authenticates_with_the_mirrors_credentials_not_the_clients() {
    use base64::Engine as _;
    use registry_support::{Auth, DOCKER_LIST, DOCKER_MANIFEST};
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let reg = Registry::start(
        None,
        Auth::Htpasswd {
            username: "mirror".into(),
            password: "s3cret".into(),
        },
    );
    let repo = "demo/app";
    let pair = push_pair(&reg, repo, "v1");
    let config = tempfile::tempdir().unwrap();
    let auths = serde_json::json!({"auths": {reg.host(): {"auth": b64("mirror:s3cret")}}});
    std::fs::write(config.path().join("config.json"), auths.to_string()).unwrap();
    let host = reg.host();
    let m = Mirror::start_with_docker_config(
        &[
            "--upstream",
            &host,
            "--plain-http",
            &host,
            "-p",
            "linux/amd64",
        ],
        config.path(),
    );
    let wrong = format!("Basic {}", b64("mirror:wrong"));
    let mut wrong_lines: Vec<(&str, &str)> =
        [DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX]
            .iter()
            .map(|t| ("Accept", *t))
            .collect();
    wrong_lines.push(("Authorization", wrong.as_str()));
    let plain = pair.plain_digest();
    let a = raw(
        &reg.host(),
        "GET",
        &format!("/v2/{repo}/manifests/{plain}"),
        &wrong_lines,
    );
    assert_eq!(a.status, 401, "the registry refuses the client's password");
    for d in [plain, pair.index.as_str()] {
        let a = raw(
            &m.addr,
            "GET",
            &format!("/v2/{repo}/manifests/{d}"),
            &wrong_lines,
        );
        assert_eq!(
            a.status,
            200,
            "{d} through the mirror: {}\n{}",
            String::from_utf8_lossy(&a.body),
            m.log()
        );
        assert_eq!(sha256(&a.body), d);
    }
    let blob = blobs_of(&reg.get_manifest(repo, plain))[1].clone();
    let a = raw(
        &m.addr,
        "GET",
        &format!("/v2/{repo}/blobs/{blob}"),
        &[("Authorization", wrong.as_str()), ("Range", "bytes=0-9")],
    );
    assert_eq!(a.status, 206, "{}", m.log());
    assert_eq!(a.body.len(), 10);
}

// ---------------------------------------------------------------------------
// 5. The tag cache.

/// Upstream GETs of `repo`'s manifest `reference`, from the registry's log.
fn upstream_gets(reg: &Registry, repo: &str, reference: &str) -> usize {
    reg.sync_log();
    count(
        &reg.access_log(),
        "GET",
        &format!("/v2/{repo}/manifests/{reference}"),
    )
}

const UPSTREAM_MANIFESTS: &str = r#"ocipick_mirror_upstream_requests_total{kind="manifest"}"#;

#[test]
fn a_burst_of_tag_requests_makes_one_upstream_fetch() {
    let reg = Registry::anonymous();
    let pair = push_pair(&reg, "demo/app", "v1");
    let m = preferring(&reg, &[]);
    let url = format!("{}/v2/demo/app/manifests/v1", m.url());
    let n = 16;
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let barrier = barrier.clone();
            let url = url.clone();
            std::thread::spawn(move || {
                barrier.wait();
                get(&url)
            })
        })
        .collect();
    for t in threads {
        let a = t.join().unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(a.header("docker-content-digest"), Some(pair.gpu_digest()));
    }
    assert_eq!(
        upstream_gets(&reg, "demo/app", "v1"),
        1,
        "one upstream GET of the tag for {n} requests"
    );
    assert_eq!(
        upstream_gets(&reg, "demo/app", pair.gpu_digest()),
        1,
        "one upstream GET of the chosen child"
    );
    // The tag and the child: two upstream manifest requests in all.
    assert_eq!(m.metric(UPSTREAM_MANIFESTS), 2.0);
    assert_eq!(
        m.metric(r#"ocipick_mirror_cache_lookups_total{cache="tag",result="miss"}"#),
        1.0
    );
    assert_eq!(
        m.metric(r#"ocipick_mirror_cache_lookups_total{cache="tag",result="hit"}"#),
        (n - 1) as f64
    );
    assert_eq!(
        m.metric(r#"ocipick_mirror_requests_total{kind="manifest_tag",method="GET",code="200"}"#),
        n as f64
    );
}

#[test]
fn a_tag_is_fetched_again_after_the_cache_ttl() {
    let reg = Registry::anonymous();
    let pair = push_pair(&reg, "demo/app", "v1");
    let m = preferring(&reg, &["--cache-ttl", "1"]);
    let url = format!("{}/v2/demo/app/manifests/v1", m.url());
    let began = Instant::now();
    assert_eq!(get(&url).status, 200);
    assert_eq!(get(&url).status, 200);
    let within = began.elapsed();
    if within < Duration::from_millis(900) {
        // Both within the TTL: one fetch.
        assert_eq!(upstream_gets(&reg, "demo/app", "v1"), 1, "within the TTL");
        assert_eq!(m.metric(UPSTREAM_MANIFESTS), 2.0, "tag and child");
    }
    std::thread::sleep(Duration::from_millis(1300));
    let a = get(&url);
    assert_eq!(a.status, 200);
    assert_eq!(a.header("docker-content-digest"), Some(pair.gpu_digest()));
    let tag_gets = upstream_gets(&reg, "demo/app", "v1");
    assert!(
        tag_gets >= 2,
        "the tag is fetched again after the TTL ({tag_gets} GETs)"
    );
    // The child is content-addressed: still from the mirror's store, only
    // checked upstream (a HEAD, at most once per TTL window).
    assert_eq!(upstream_gets(&reg, "demo/app", pair.gpu_digest()), 1);
    let child_heads = count(
        &reg.access_log(),
        "HEAD",
        &format!("/v2/demo/app/manifests/{}", pair.gpu_digest()),
    );
    assert!(
        child_heads >= 1 && child_heads < tag_gets,
        "{child_heads} HEADs"
    );
    assert_eq!(
        m.metric(UPSTREAM_MANIFESTS),
        (tag_gets + 1 + child_heads) as f64
    );

    // A retagged index is seen after the TTL.
    let other = reg.push_gpu_image("demo/app", "gpu-amd64-2", false);
    reg.push_index(
        "demo/app",
        "v1",
        OCI_INDEX,
        &[pair.plain.clone(), other.clone()],
    );
    std::thread::sleep(Duration::from_millis(1300));
    let a = get(&url);
    assert_eq!(a.header("docker-content-digest"), other["digest"].as_str());
}

// ---------------------------------------------------------------------------
// 6. A large blob in bounded memory.

/// Bytes available to unprivileged users on the file system of `path`.
fn free_bytes(path: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path");
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a zeroed statvfs to fill in.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    st.f_bavail as u64 * st.f_frsize as u64
}

/// `sha256:HEX` of what `hasher` hashed. (ring's SHA-256 is assembly, fast
/// in the unoptimized test build, where sha2 hashes at about 10 MB/s.)
fn hex_digest(hasher: ring::digest::Context) -> String {
    let d = hasher.finish();
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Pushes `n` bytes of [`Cycle`] as one blob, streamed (one chunked PATCH,
/// then the closing PUT), hashing while sending; returns the digest.
fn push_streamed_blob(reg: &Registry, repo: &str, seed: u64, n: u64) -> String {
    struct Hashing<R> {
        inner: R,
        hasher: ring::digest::Context,
    }
    impl<R: Read> Read for Hashing<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let k = self.inner.read(buf)?;
            self.hasher.update(&buf[..k]);
            Ok(k)
        }
    }
    let agent = agent(Some(Duration::from_secs(1800)));
    let base = format!("http://{}", reg.host());
    let absolute = |loc: &str| {
        if loc.starts_with('/') {
            format!("{base}{loc}")
        } else {
            loc.to_owned()
        }
    };
    let location = |r: &ureq::http::Response<ureq::Body>| {
        r.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(absolute)
            .expect("upload Location")
    };
    let r = agent
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send_empty()
        .expect("POST upload");
    assert_eq!(r.status().as_u16(), 202);
    let loc = location(&r);
    let mut reader = Hashing {
        inner: Cycle::new(seed, n),
        hasher: ring::digest::Context::new(&ring::digest::SHA256),
    };
    let r = agent
        .patch(&loc)
        .header("Content-Type", "application/octet-stream")
        .send(ureq::SendBody::from_reader(&mut reader))
        .expect("PATCH upload");
    assert_eq!(r.status().as_u16(), 202, "PATCH upload");
    let loc = location(&r);
    let digest = hex_digest(reader.hasher);
    let sep = if loc.contains('?') { '&' } else { '?' };
    let mut r = agent
        .put(format!("{loc}{sep}digest={digest}"))
        .header("Content-Type", "application/octet-stream")
        .send_empty()
        .expect("PUT upload");
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    assert_eq!(status, 201, "closing the upload: {body}");
    digest
}

#[test]
fn a_large_blob_streams_through_in_bounded_memory() {
    let reg = Registry::anonymous();
    // 1 GiB (about 35 s here, unoptimized), unless the registry's disk
    // lacks room for it twice over (upload and blob) plus 1 GiB; then
    // 256 MiB. OCIPICK_SERVE_BLOB_MIB sets the size.
    let mib: u64 = match std::env::var("OCIPICK_SERVE_BLOB_MIB") {
        Ok(v) => v.parse().expect("OCIPICK_SERVE_BLOB_MIB: a number of MiB"),
        Err(_) => {
            let free = free_bytes(reg.dir.path());
            if free >= (3 << 30) {
                1024
            } else {
                eprintln!(
                    "large blob: {} MiB free under {}: 256 MiB instead of 1 GiB",
                    free >> 20,
                    reg.dir.path().display()
                );
                256
            }
        }
    };
    let size = mib << 20;
    let pushing = Instant::now();
    let digest = push_streamed_blob(&reg, "big/blob", 42, size);
    let push_time = pushing.elapsed();
    let m = preferring(&reg, &[]);
    // Warm up (threads, connections, the client's first request) so the
    // baseline holds the mirror's fixed costs.
    let small = reg.push_blob("big/blob", b"small").0;
    assert_eq!(
        get(&format!("{}/v2/big/blob/blobs/{small}", m.url())).status,
        200
    );
    let baseline = m.peak_rss_kib();

    let fetching = Instant::now();
    let agent = agent(Some(Duration::from_secs(1800)));
    let mut resp = agent
        .get(format!("{}/v2/big/blob/blobs/{digest}", m.url()))
        .call()
        .expect("GET big blob");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some(size.to_string().as_str())
    );
    let mut reader = resp.body_mut().as_reader();
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    loop {
        let k = reader.read(&mut buf).expect("read big blob");
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
        total += k as u64;
    }
    let fetch_time = fetching.elapsed();
    let peak = m.peak_rss_kib();
    let got = hex_digest(hasher);
    eprintln!(
        "large blob: {mib} MiB; push {:.1} s; through the mirror {:.1} s ({:.0} MiB/s); \
         mirror peak RSS {} KiB (baseline {} KiB, +{} KiB)",
        push_time.as_secs_f64(),
        fetch_time.as_secs_f64(),
        mib as f64 / fetch_time.as_secs_f64(),
        peak,
        baseline,
        peak.saturating_sub(baseline)
    );
    assert_eq!(total, size, "every byte");
    assert_eq!(got, digest, "the bytes hash to the blob's digest");
    assert!(peak > 0, "VmHWM readable");
    // The mirror reads ahead at most 256 KiB per stream (plus a chunk being
    // sent and hyper's write buffer): its peak must not grow with the blob.
    // Measured here: about 15 MiB idle (unoptimized build), under 1 MiB
    // more while streaming 1 GiB. 64 MiB is four times the idle footprint
    // and a quarter of the smallest size run; 16 MiB of growth is 1/64 of
    // 1 GiB. A mirror that buffered the blob would exceed both many times.
    assert!(
        peak < 64 << 10,
        "mirror peak RSS {peak} KiB for a {mib} MiB blob (want < 64 MiB)"
    );
    assert!(
        peak.saturating_sub(baseline) < 16 << 10,
        "mirror RSS grew by {} KiB while streaming (want < 16 MiB)",
        peak.saturating_sub(baseline)
    );
}
