//! `ocipick serve` judged by the runtime's own matcher, its probes and its
//! drain, against the real registry (CNCF distribution, `docker-registry`)
//! with real clients:
//!
//! - `--mode reorder` places the chosen entry where the runtime's matcher
//!   (plain `linux/amd64` here, whatever the node's amd64 level) takes it,
//!   checked with ocipick's own first-match select on the answered index,
//!   with skopeo through a `registries.conf` mirror, and with containerd's
//!   `ctr image pull` through a `hosts.toml` mirror (skipped with a printed
//!   reason only when containerd cannot run here, unless
//!   `OCIPICK_REQUIRE_CONTAINERD` is set);
//! - a chosen `linux/amd64/v3` entry that no order makes such a runtime
//!   take: the chosen child is answered instead (as in child mode),
//!   logged and counted; with `--runtime-platform linux/amd64/v3` the
//!   reordered index is answered;
//! - the platform-mismatch warning, in both modes;
//! - `/healthz`, `/readyz`, and the drain after SIGTERM: a slow request in
//!   progress (its upstream slowed by a delaying TCP proxy in front of the
//!   registry) completes, new connections are refused, `/readyz` answers
//!   503 on the metrics listener, exit status 0; past `--drain-timeout` the
//!   mirror exits anyway.

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
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{OCI_INDEX, OCI_MANIFEST};
use images::{ensure_tool, push_real_image, skopeo_copy};
use registry_support::{Registry, GPU_KEY, GPU_MODEL};
use runtimes::{which, Containerd};
use serde_json::Value;
use serve_support::Mirror;

// ---------------------------------------------------------------------------
// Tools, content, HTTP.

/// An image pushed by digest: its index descriptor (with `platform` and
/// annotations) and its layer's diff ID.
struct Image {
    desc: Value,
    diff: String,
}

impl Image {
    /// [`push_real_image`], kept with its diff ID.
    fn push(
        reg: &Registry,
        repo: &str,
        label: &str,
        platform: &str,
        annotations: &[(&str, &str)],
    ) -> Image {
        let (desc, diff) = push_real_image(reg, repo, label, platform, annotations);
        Image { desc, diff }
    }

    fn digest(&self) -> &str {
        self.desc["digest"].as_str().unwrap()
    }
}

/// One answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent("ocipick-serve-reorder-test")
        .build()
        .into()
}

/// `method url` with a registry client's `Accept`; `Err` when no answer
/// came (refused, reset, timed out).
fn try_send(agent: &ureq::Agent, method: &str, url: &str) -> Result<Answer, String> {
    let req = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Accept", ACCEPT)
        .body(())
        .map_err(|e| e.to_string())?;
    let mut resp = agent.run(req).map_err(|e| e.to_string())?;
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = if method == "HEAD" {
        Vec::new()
    } else {
        resp.body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .map_err(|e| e.to_string())?
    };
    Ok(Answer {
        status: resp.status().as_u16(),
        headers,
        body,
    })
}

fn send(method: &str, url: &str) -> Answer {
    try_send(&agent(Duration::from_secs(60)), method, url)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

fn get(url: &str) -> Answer {
    send("GET", url)
}

/// A mirror of `reg` (plain HTTP) with `args`.
fn mirror_of(reg: &Registry, args: &[&str]) -> Mirror {
    let host = reg.host();
    let mut all = vec!["--upstream", host.as_str(), "--plain-http", host.as_str()];
    all.extend_from_slice(args);
    Mirror::start(&all)
}

/// What `ocipick select -p PLATFORM` (no preferences: the first-match
/// choice a runtime makes) takes from the index `bytes`.
fn first_match(bytes: &[u8], platform: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("index.json");
    std::fs::write(&f, bytes).unwrap();
    let out = Command::new(common::BIN)
        .args(["select", "--no-config", "-o", "json", "-p", platform])
        .arg(&f)
        .env_remove("OCIPICK_CONFIG")
        .output()
        .expect("run ocipick select");
    assert!(
        out.status.success(),
        "ocipick select: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("select JSON");
    v["digest"].as_str().unwrap().to_owned()
}

fn digests(index: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(index).expect("index JSON");
    v["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|e| e["digest"].as_str().unwrap().to_owned())
        .collect()
}

fn registries_conf(dir: &Path, upstream: &str, mirror: &str) -> PathBuf {
    let text = format!(
        "unqualified-search-registries = []\n\n\
         [[registry]]\nlocation = \"{upstream}\"\ninsecure = true\n\n\
         [[registry.mirror]]\nlocation = \"{mirror}\"\ninsecure = true\n"
    );
    let p = dir.join("registries.conf");
    std::fs::write(&p, text).unwrap();
    p
}

// ---------------------------------------------------------------------------
// containerd (the runtime matrix's private daemon; ctr with a hosts.toml
// mirror).

/// Starts containerd, or says why it cannot run here (a failure when
/// `OCIPICK_REQUIRE_CONTAINERD` is set, as in CI).
fn containerd_or_skip(test: &str) -> Option<Containerd> {
    let started = ensure_tool("containerd", "containerd").and_then(|()| {
        if which("ctr") {
            Containerd::start()
        } else {
            Err("the containerd package installed no ctr".into())
        }
    });
    match started {
        Ok(c) => Some(c),
        Err(why) => {
            if std::env::var_os("OCIPICK_REQUIRE_CONTAINERD").is_some() {
                panic!("containerd cannot run here (OCIPICK_REQUIRE_CONTAINERD is set): {why}");
            }
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED the containerd part of {test}: containerd cannot run here: {why}"
            );
            None
        }
    }
}

/// Pulls `image` as linux/amd64 through `mirror` only (hosts.toml),
/// unpacking it with the native snapshotter; returns the image's target
/// digest and the committed snapshots (for one-layer images: the diff ID
/// of the layer unpacked).
fn pull(ctd: &Containerd, upstream: &str, mirror: &str, image: &str) -> (String, Vec<String>) {
    let hosts = ctd.hosts_dir("hosts", upstream, Some(mirror));
    ctd.ctr_ok(
        "test",
        &[
            "image",
            "pull",
            "--hosts-dir",
            hosts.to_str().unwrap(),
            "--snapshotter",
            "native",
            "--platform",
            "linux/amd64",
            image,
        ],
    );
    (ctd.image_target("test", image), ctd.snapshots("test"))
}

// ---------------------------------------------------------------------------
// Reorder mode, judged by the runtime's matcher.

/// On an x86-64-v3 node (`-p linux/amd64/v3`) the runtime still matches as
/// plain `linux/amd64`. The index [generic amd64, GPU amd64, amd64/v2]:
/// the node's own matcher would place the GPU entry before the v2 one
/// (closest for v3), which a runtime ignores; the runtime's matcher moves
/// it before the generic build, which the runtime takes.
#[test]
fn reorder_places_the_chosen_entry_where_the_runtimes_matcher_takes_it() {
    let reg = Registry::anonymous();
    let repo = "demo/app";
    let plain = Image::push(&reg, repo, "plain-amd64", "linux/amd64", &[]);
    let gpu = Image::push(
        &reg,
        repo,
        "gpu-amd64",
        "linux/amd64",
        &[(GPU_KEY, GPU_MODEL)],
    );
    let v2 = Image::push(&reg, repo, "v2-amd64", "linux/amd64/v2", &[]);
    let entries = [plain.desc.clone(), gpu.desc.clone(), v2.desc.clone()];
    let index = reg.push_index(repo, "v1", OCI_INDEX, &entries);
    let upstream = reg.get_manifest(repo, "v1");
    assert_eq!(
        first_match(&upstream, "linux/amd64"),
        plain.digest(),
        "a runtime alone takes the generic build"
    );

    let m = mirror_of(
        &reg,
        &[
            "-p",
            "linux/amd64/v3",
            "--prefer",
            GPU_KEY,
            "--mode",
            "reorder",
        ],
    );
    assert!(
        m.wait_log("runtime matches as linux/amd64)", Duration::from_secs(5)),
        "{}",
        m.log()
    );
    let g = get(&format!("{}/v2/{repo}/manifests/v1", m.url()));
    assert_eq!(g.status, 200, "{}", m.log());
    assert_eq!(g.header("content-type"), Some(OCI_INDEX));
    assert_ne!(common::sha256(&g.body), index, "a new index");
    assert_eq!(
        digests(&g.body),
        [gpu.digest(), plain.digest(), v2.digest()],
        "the GPU entry moved before the generic one; log:\n{}",
        m.log()
    );
    assert_eq!(
        first_match(&g.body, "linux/amd64"),
        gpu.digest(),
        "ocipick's first-match select for the runtime's platform takes the GPU build"
    );
    assert!(m.wait_log("reordered image=", Duration::from_secs(5)));
    assert_eq!(
        m.metric(r#"ocipick_mirror_selections_total{outcome="reordered"}"#),
        1.0
    );
    assert_eq!(
        m.metric(r#"ocipick_mirror_reorder_fallbacks_total{reason="runtime_drops_variant"}"#),
        0.0
    );

    // skopeo, through a registries.conf mirror, copies the GPU build.
    ensure_tool("skopeo", "skopeo").expect("skopeo");
    let work = tempfile::tempdir().unwrap();
    let conf = registries_conf(work.path(), &reg.host(), &m.addr);
    let image = format!("{}/{repo}:v1", reg.host());
    assert_eq!(
        skopeo_copy(&conf, &image, work.path(), "copied"),
        gpu.digest(),
        "skopeo through the reordering mirror; log:\n{}",
        m.log()
    );

    // containerd pulls the reordered index and unpacks the GPU build.
    if let Some(ctd) = containerd_or_skip("reorder_places_the_chosen_entry…") {
        let (target, snaps) = pull(&ctd, &reg.host(), &m.addr, &image);
        assert_eq!(target, common::sha256(&g.body), "the reordered index");
        assert_eq!(
            snaps,
            std::slice::from_ref(&gpu.diff),
            "containerd unpacked the GPU build"
        );
    }
}

/// The index [generic amd64, amd64/v3, amd64/v3 + GPU] for a v3 node that
/// prefers the GPU build.
fn push_v3_index(reg: &Registry, repo: &str) -> (Image, Image, Image, Vec<u8>) {
    let plain = Image::push(reg, repo, "plain-amd64", "linux/amd64", &[]);
    let v3 = Image::push(reg, repo, "v3-amd64", "linux/amd64/v3", &[]);
    let gpu = Image::push(
        reg,
        repo,
        "v3-gpu",
        "linux/amd64/v3",
        &[(GPU_KEY, GPU_MODEL)],
    );
    let entries = [plain.desc.clone(), v3.desc.clone(), gpu.desc.clone()];
    reg.push_index(repo, "v1", OCI_INDEX, &entries);
    let bytes = reg.get_manifest(repo, "v1");
    (plain, v3, gpu, bytes)
}

/// A chosen v3 entry that a `linux/amd64` runtime drops wherever it stands:
/// reorder mode answers the chosen child instead, as child mode does, and
/// says why in the log and the metrics.
#[test]
fn reorder_falls_back_to_the_child_when_the_runtime_drops_the_variant() {
    let reg = Registry::anonymous();
    let repo = "demo/v3";
    let (plain, _v3, gpu, _) = push_v3_index(&reg, repo);
    let child = reg.get_manifest(repo, gpu.digest());
    let m = mirror_of(
        &reg,
        &[
            "-p",
            "linux/amd64/v3",
            "--prefer",
            GPU_KEY,
            "--mode",
            "reorder",
        ],
    );
    let url = format!("{}/v2/{repo}/manifests/v1", m.url());
    let g = get(&url);
    assert_eq!(g.status, 200, "{}", m.log());
    assert_eq!(g.header("docker-content-digest"), Some(gpu.digest()));
    assert_eq!(g.header("content-type"), Some(OCI_MANIFEST));
    assert_eq!(g.body, child, "the chosen child's bytes, unchanged");
    let h = send("HEAD", &url);
    assert_eq!(h.header("docker-content-digest"), Some(gpu.digest()));
    assert_eq!(
        m.metric(r#"ocipick_mirror_reorder_fallbacks_total{reason="runtime_drops_variant"}"#),
        1.0
    );
    assert_eq!(
        m.metric(r#"ocipick_mirror_selections_total{outcome="selected"}"#),
        1.0
    );
    assert_eq!(
        m.metric(r#"ocipick_mirror_selections_total{outcome="reordered"}"#),
        0.0
    );
    assert!(
        m.wait_log("reason=runtime_drops_variant", Duration::from_secs(5)),
        "{}",
        m.log()
    );
    let line = m
        .log()
        .lines()
        .find(|l| l.contains("reorder-fallback"))
        .unwrap_or_default()
        .to_owned();
    assert!(line.contains(&format!("chosen={}", gpu.digest())), "{line}");
    assert!(line.contains("runtime=linux/amd64 "), "{line}");
    assert!(line.contains(r#"declared="linux/amd64/v3""#), "{line}");

    // containerd runs the v3 build the node chose, not the generic one.
    if let Some(ctd) = containerd_or_skip("reorder_falls_back_to_the_child…") {
        let image = format!("{}/{repo}:v1", reg.host());
        let (target, snaps) = pull(&ctd, &reg.host(), &m.addr, &image);
        assert_eq!(target, gpu.digest(), "the chosen child");
        assert_eq!(snaps, std::slice::from_ref(&gpu.diff));
        assert_ne!(snaps, std::slice::from_ref(&plain.diff));
    }
}

/// Told that the runtime matches as `linux/amd64/v3`, reorder mode answers
/// the reordered index, without falling back.
#[test]
fn a_v3_runtime_platform_makes_reorder_deliver_the_v3_entry() {
    let reg = Registry::anonymous();
    let repo = "demo/v3";
    let (plain, v3, gpu, upstream) = push_v3_index(&reg, repo);
    assert_eq!(first_match(&upstream, "linux/amd64/v3"), v3.digest());
    let m = mirror_of(
        &reg,
        &[
            "-p",
            "linux/amd64/v3",
            "--prefer",
            GPU_KEY,
            "--mode",
            "reorder",
            "--runtime-platform",
            "linux/amd64/v3",
        ],
    );
    let g = get(&format!("{}/v2/{repo}/manifests/v1", m.url()));
    assert_eq!(g.status, 200, "{}", m.log());
    assert_eq!(g.header("content-type"), Some(OCI_INDEX), "{}", m.log());
    assert_eq!(
        digests(&g.body),
        [plain.digest(), gpu.digest(), v3.digest()],
        "the GPU entry moved before the other v3 entry (the generic build is no rival for a v3 runtime)"
    );
    assert_eq!(first_match(&g.body, "linux/amd64/v3"), gpu.digest());
    assert_eq!(
        m.metric(r#"ocipick_mirror_reorder_fallbacks_total{reason="runtime_drops_variant"}"#),
        0.0
    );
    assert_eq!(
        m.metric(r#"ocipick_mirror_selections_total{outcome="reordered"}"#),
        1.0
    );
    // Those lines would come before the answer's own.
    assert!(m.wait_log("reordered image=", Duration::from_secs(5)));
    assert!(!m.log().contains("reorder-fallback"), "{}", m.log());
    assert!(!m.log().contains("platform-mismatch"), "{}", m.log());

    // Every spelling -p accepts: a bad one is a usage error.
    let out = Command::new(common::BIN)
        .args(["serve", "--no-config", "--upstream", "127.0.0.1:1"])
        .args(["--runtime-platform", "linux/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--runtime-platform"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A chosen entry whose declared platform differs from the runtime's
/// matching platform is logged and counted, in both modes; one that does
/// not differ is not.
#[test]
fn a_platform_mismatch_is_warned_and_counted_in_both_modes() {
    let reg = Registry::anonymous();
    let repo = "demo/v3";
    let (_, _, gpu, _) = push_v3_index(&reg, repo);
    for mode in ["child", "reorder"] {
        let m = mirror_of(
            &reg,
            &["-p", "linux/amd64/v3", "--prefer", GPU_KEY, "--mode", mode],
        );
        let g = get(&format!("{}/v2/{repo}/manifests/v1", m.url()));
        assert_eq!(g.status, 200);
        let sample = format!(
            r#"ocipick_mirror_platform_mismatch_total{{difference="variant",mode="{mode}"}}"#
        );
        assert_eq!(m.metric(&sample), 1.0, "{mode}: {}", m.log());
        assert!(m.wait_log("warning: platform-mismatch", Duration::from_secs(5)));
        let line = m
            .log()
            .lines()
            .find(|l| l.contains("platform-mismatch"))
            .unwrap()
            .to_owned();
        assert!(line.contains(&format!("chosen={}", gpu.digest())), "{line}");
        assert!(
            line.contains("runtime=linux/amd64 difference=variant"),
            "{line}"
        );
    }
    // A plain linux/amd64 choice: no warning.
    let plain_repo = "demo/plain";
    let a = Image::push(&reg, plain_repo, "a", "linux/amd64", &[]);
    let b = Image::push(
        &reg,
        plain_repo,
        "b",
        "linux/amd64",
        &[(GPU_KEY, GPU_MODEL)],
    );
    reg.push_index(plain_repo, "v1", OCI_INDEX, &[a.desc, b.desc.clone()]);
    let m = mirror_of(&reg, &["-p", "linux/amd64/v3", "--prefer", GPU_KEY]);
    let g = get(&format!("{}/v2/{plain_repo}/manifests/v1", m.url()));
    assert_eq!(g.header("docker-content-digest"), Some(b.digest()));
    assert!(m.wait_log("selected image=", Duration::from_secs(5)));
    assert_eq!(
        m.metric(r#"ocipick_mirror_platform_mismatch_total{difference="variant",mode="child"}"#),
        0.0
    );
    assert!(!m.log().contains("platform-mismatch"), "{}", m.log());
}

// ---------------------------------------------------------------------------
// Probes and the drain.

/// A TCP proxy in front of `target` that delays the next chunk the target
/// sends back by `delay` milliseconds (0: none; reset once used), and
/// counts the chunks clients send.
struct SlowProxy {
    port: u16,
    delay: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
}

impl SlowProxy {
    fn start(target: String) -> SlowProxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let delay = Arc::new(AtomicU64::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let (d, s) = (delay.clone(), sent.clone());
        std::thread::spawn(move || {
            for client in l.incoming() {
                let Ok(client) = client else { continue };
                let Ok(up) = TcpStream::connect(&target) else {
                    continue;
                };
                let (mut c_read, mut u_write) =
                    (client.try_clone().unwrap(), up.try_clone().unwrap());
                let s = s.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = c_read.read(&mut buf) {
                        if n == 0 || u_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        s.fetch_add(1, Ordering::SeqCst);
                    }
                    let _ = u_write.shutdown(std::net::Shutdown::Write);
                });
                let (mut u_read, mut c_write) = (up, client);
                let d = d.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = u_read.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        // Once: the answer's first chunk (its headers).
                        let ms = d.swap(0, Ordering::SeqCst);
                        if ms > 0 {
                            std::thread::sleep(Duration::from_millis(ms));
                        }
                        if c_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        SlowProxy { port, delay, sent }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A mirror of `reg` behind a [`SlowProxy`], with a metrics listener;
/// returns the mirror, the proxy and the metrics address.
fn slow_mirror(reg: &Registry, extra: &[&str]) -> (Mirror, SlowProxy, String) {
    let proxy = SlowProxy::start(reg.host());
    let host = proxy.host();
    let mut args = vec![
        "--upstream",
        host.as_str(),
        "--plain-http",
        host.as_str(),
        "--metrics-listen",
        "127.0.0.1:0",
        "-p",
        "linux/amd64",
    ];
    args.extend_from_slice(extra);
    let m = Mirror::start(&args);
    assert!(m.wait_log("metrics on ", Duration::from_secs(5)));
    let metrics = m
        .log()
        .lines()
        .find_map(|l| l.split("metrics on ").nth(1).map(|a| a.trim().to_owned()))
        .unwrap();
    (m, proxy, metrics)
}

fn sigterm(m: &Mirror) {
    // SAFETY: kill(2) on the mirror's own process id.
    let r = unsafe { libc::kill(m.pid() as i32, libc::SIGTERM) };
    assert_eq!(r, 0);
}

#[test]
fn healthz_and_readyz_answer_on_both_listeners() {
    let reg = Registry::anonymous();
    let (m, _proxy, metrics) = slow_mirror(&reg, &[]);
    for base in [m.url(), format!("http://{metrics}")] {
        let h = get(&format!("{base}/healthz"));
        assert_eq!((h.status, h.body.as_slice()), (200, &b"ok\n"[..]), "{base}");
        let r = get(&format!("{base}/readyz"));
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"ready\n"[..]),
            "{base}"
        );
        let h = send("HEAD", &format!("{base}/readyz"));
        assert_eq!(h.status, 200);
        assert_eq!(h.header("content-length"), Some("6"));
    }
    // They do not shadow the distribution API: /v2/ is still the mirror's,
    // a repository named healthz still goes upstream.
    assert_eq!(get(&format!("{}/v2/", m.url())).status, 200);
    let up = get(&format!("{}/v2/healthz/manifests/v1", m.url()));
    assert_eq!(
        up.status, 404,
        "the upstream's answer for an unknown repository"
    );
    assert!(String::from_utf8_lossy(&up.body).contains("errors"));
    assert_eq!(
        m.metric(r#"ocipick_mirror_requests_total{kind="probe",method="GET",code="200"}"#),
        2.0
    );
}

/// SIGTERM while a slow request is in progress: the mirror refuses new
/// connections, answers `/readyz` 503 on its metrics listener, lets the
/// request finish, and exits 0.
#[test]
fn sigterm_drains_the_request_in_progress_then_exits_0() {
    let reg = Registry::anonymous();
    let repo = "demo/slow";
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (digest, _) = reg.push_blob(repo, &blob);
    let (mut m, proxy, metrics) = slow_mirror(&reg, &["--drain-timeout", "20"]);
    let url = format!("{}/v2/{repo}/blobs/{digest}", m.url());
    assert_eq!(get(&url).body, blob, "the blob through the mirror");

    proxy.delay.store(1500, Ordering::SeqCst);
    let before = proxy.sent.load(Ordering::SeqCst);
    let began = Instant::now();
    let slow = std::thread::spawn(move || {
        let a = try_send(&agent(Duration::from_secs(60)), "GET", &url);
        (a, Instant::now())
    });
    // The request reached the upstream (through the proxy): it is in
    // progress in the mirror.
    let end = Instant::now() + Duration::from_secs(10);
    while proxy.sent.load(Ordering::SeqCst) == before && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        proxy.sent.load(Ordering::SeqCst) > before,
        "the request went upstream"
    );
    sigterm(&m);
    assert!(
        m.wait_log("draining: ", Duration::from_secs(5)),
        "{}",
        m.log()
    );
    // New connections are refused.
    let refused = TcpStream::connect_timeout(&m.addr.parse().unwrap(), Duration::from_secs(2));
    assert!(
        refused.is_err(),
        "a new connection during the drain was accepted"
    );
    // The metrics listener says it is not ready, still alive.
    let r = get(&format!("http://{metrics}/readyz"));
    assert_eq!((r.status, r.body.as_slice()), (503, &b"draining\n"[..]));
    assert_eq!(get(&format!("http://{metrics}/healthz")).status, 200);
    assert!(m.alive(), "still draining");

    let (answer, done) = slow.join().unwrap();
    let answer =
        answer.unwrap_or_else(|e| panic!("the request in progress failed: {e}\n{}", m.log()));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, blob, "the whole blob");
    assert!(done - began >= Duration::from_millis(1500), "it was slow");
    assert_eq!(m.terminate(), Some(0), "exit 0 after the drain");
}

/// Past `--drain-timeout`, the mirror stops anyway (exit 0) and the
/// request still in progress is cut.
#[test]
fn the_drain_ends_at_the_drain_timeout() {
    let reg = Registry::anonymous();
    let repo = "demo/slow";
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let (digest, _) = reg.push_blob(repo, &blob);
    let (mut m, proxy, _) = slow_mirror(&reg, &["--drain-timeout", "0.5"]);
    let url = format!("{}/v2/{repo}/blobs/{digest}", m.url());
    proxy.delay.store(6000, Ordering::SeqCst);
    let slow = std::thread::spawn(move || try_send(&agent(Duration::from_secs(60)), "GET", &url));
    let end = Instant::now() + Duration::from_secs(10);
    while proxy.sent.load(Ordering::SeqCst) == 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    let began = Instant::now();
    sigterm(&m);
    let end = Instant::now() + Duration::from_secs(5);
    while m.alive() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = began.elapsed();
    assert!(!m.alive(), "still running 5 s after SIGTERM: {}", m.log());
    assert!(took < Duration::from_secs(4), "stopped after {took:?}");
    assert!(
        m.wait_log("drain timed out", Duration::from_secs(5)),
        "{}",
        m.log()
    );
    assert_eq!(m.terminate(), Some(0));
    match slow.join().unwrap() {
        Err(_) => {}
        Ok(a) => assert_ne!(a.body, blob, "the cut request cannot have the whole blob"),
    }
}
