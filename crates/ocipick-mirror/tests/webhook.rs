//! The example admission webhook (examples/admission_webhook.rs), built and
//! run as a process over HTTPS with a test CA, judging real AdmissionReview
//! documents (testdata/admission/) against images pushed to a real
//! registry (the CNCF distribution registry, as the CLI's registry tests
//! use), with requests sent by an HTTPS client that trusts that CA.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// What the CLI's registry harness needs of the CLI tests' `common`.
mod common {
    use serde_json::{json, Value};
    use sha2::{Digest as _, Sha256};

    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

    pub fn sha256(bytes: &[u8]) -> String {
        let h = Sha256::digest(bytes);
        let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    pub fn platform(p: &str) -> Value {
        let parts: Vec<&str> = p.split('/').collect();
        let mut m = json!({"os": parts[0], "architecture": parts[1]});
        if let Some(v) = parts.get(2) {
            m["variant"] = json!(v);
        }
        m
    }
}

#[path = "../../ocipick-cli/tests/support/registry.rs"]
mod registry;

use registry::{Registry, TlsMaterial};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The example, built now (a no-op when it is up to date), with the same
/// cargo and profile as this test.
fn example() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let mut build = Command::new(env!("CARGO"));
            build
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "ocipick-mirror",
                    "--example",
                    "admission_webhook",
                ])
                .current_dir(workspace());
            // Without the variables cargo sets for this test (some build
            // scripts rerun when CARGO_MANIFEST_DIR changes).
            for (k, _) in std::env::vars_os() {
                let k = k.to_string_lossy().into_owned();
                let set_for_tests = [
                    "CARGO_PKG_",
                    "CARGO_MANIFEST_",
                    "CARGO_CRATE_",
                    "CARGO_BIN_",
                ]
                .iter()
                .any(|p| k.starts_with(p))
                    || k == "CARGO_PRIMARY_PACKAGE"
                    || k == "CARGO_TARGET_TMPDIR";
                if set_for_tests {
                    build.env_remove(&k);
                }
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "building the example failed");
            // target/debug/deps/webhook-HASH → target/debug/examples/.
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().unwrap().parent().unwrap();
            let bin = dir.join("examples/admission_webhook");
            assert!(bin.is_file(), "{} missing", bin.display());
            bin
        })
        .clone()
}

/// The running webhook, killed on drop.
struct Webhook {
    child: Child,
    addr: String,
    agent: ureq::Agent,
    log: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nodes: two arm64 nodes in pool `arm`, one amd64 node in pool
/// `general` (kubectl JSON, with node-feature-discovery labels), and an
/// s390x node described by a facts file (no labels).
fn inventory(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let node = |name: &str, arch: &str, pool: &str| {
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": name, "labels": {
                   "kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
                   "kubernetes.io/hostname": name, "pool": pool,
                   "feature.node.kubernetes.io/kernel-version.full": "6.1.0"}},
               "status": {"nodeInfo": {"operatingSystem": "linux", "architecture": arch}}})
    };
    let nodes = json!({"apiVersion": "v1", "kind": "List", "items": [
        node("arm-1", "arm64", "arm"), node("arm-2", "arm64", "arm"), node("amd-1", "amd64", "general")]});
    let nodes_path = dir.join("nodes.json");
    std::fs::write(&nodes_path, serde_json::to_vec(&nodes).unwrap()).unwrap();
    let facts = dir.join("facts");
    std::fs::create_dir(&facts).unwrap();
    std::fs::write(
        facts.join("s390-1.json"),
        serde_json::to_vec(
            &json!({"platform": "linux/s390x", "flags": {}, "attributes": {}, "instances": {}}),
        )
        .unwrap(),
    )
    .unwrap();
    (nodes_path, facts)
}

impl Webhook {
    fn start(tls: &TlsMaterial, extra: &[&str]) -> Webhook {
        let dir = tempfile::tempdir().unwrap();
        let (nodes, facts) = inventory(dir.path());
        let cert = dir.path().join("tls.crt");
        let key = dir.path().join("tls.key");
        std::fs::write(&cert, &tls.cert_pem).unwrap();
        std::fs::write(&key, &tls.key_pem).unwrap();
        let mut child = Command::new(example())
            .arg("--listen=127.0.0.1:0")
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .arg("--nodes")
            .arg(&nodes)
            .arg("--node")
            .arg(&facts)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the webhook");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the webhook said nothing");
        let addr = line
            .strip_prefix("admission_webhook: serving https://")
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        assert!(line.ends_with("for 4 nodes in 3 classes"), "{line}");
        Webhook {
            child,
            addr,
            agent: https_client(&tls.ca_pem),
            log: rx,
            _dir: dir,
        }
    }

    /// POSTs `body`; the status and the body.
    fn post(&self, body: &[u8]) -> (u16, Vec<u8>) {
        let mut resp = self
            .agent
            .post(format!("https://{}/validate", self.addr))
            .header("Content-Type", "application/json")
            .send(body)
            .expect("POST to the webhook");
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .unwrap();
        (status, body)
    }

    fn review(&self, doc: &Value) -> Value {
        let (status, body) = self.post(&serde_json::to_vec(doc).unwrap());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: Value = serde_json::from_slice(&body).expect("the answer is JSON");
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(v["kind"], "AdmissionReview");
        v["response"].clone()
    }
}

/// Sends `head` over TLS, then (with `chunked`) 16 KiB chunks until the
/// server answers, at most 16 MiB; the answer's status and the body bytes
/// sent.
fn raw(addr: &str, ca_pem: &str, head: &str, chunked: bool) -> (u16, usize) {
    use rustls::pki_types::pem::PemObject;
    use std::io::{Read, Write};
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).unwrap();
    }
    // Writes without ever reading (rustls' Stream would read too).
    fn flush(
        conn: &mut rustls::ClientConnection,
        tcp: &mut std::net::TcpStream,
    ) -> std::io::Result<()> {
        while conn.wants_write() {
            conn.write_tls(tcp)?;
        }
        Ok(())
    }
    // Reads what has arrived (all of it, or until blocked) into `answer`.
    fn take(
        conn: &mut rustls::ClientConnection,
        tcp: &mut std::net::TcpStream,
        answer: &mut Vec<u8>,
    ) -> bool {
        match conn.read_tls(tcp) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(_) => return false,
        }
        if conn.process_new_packets().is_err() {
            return false;
        }
        let mut buf = [0u8; 4096];
        while let Ok(n) = conn.reader().read(&mut buf) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        true
    }
    conn.writer().write_all(head.as_bytes()).unwrap();
    flush(&mut conn, &mut tcp).unwrap();
    let mut sent = 0;
    let mut answer = Vec::new();
    if chunked {
        let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
        while sent < 16 << 20 && answer.is_empty() {
            conn.writer().write_all(chunk.as_bytes()).unwrap();
            if flush(&mut conn, &mut tcp).is_err() {
                break;
            }
            sent += 0x4000;
            tcp.set_nonblocking(true).unwrap();
            take(&mut conn, &mut tcp, &mut answer);
            tcp.set_nonblocking(false).unwrap();
        }
    }
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        if !take(&mut conn, &mut tcp, &mut answer) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    (status, sent)
}

/// An HTTPS client that trusts the test CA only.
fn https_client(ca_pem: &str) -> ureq::Agent {
    let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(ca_pem.as_bytes())
        .filter_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        .build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(tls)
        .build()
        .into()
}

/// The registry with the test images: `multi:1` (amd64 and arm64),
/// `amd-only:1`, `arm-only:1` and `single:1` (a plain manifest).
fn images() -> Registry {
    let reg = Registry::anonymous();
    let multi = [
        reg.push_image("multi", "multi-amd64", Some("linux/amd64"), &[], false),
        reg.push_image("multi", "multi-arm64", Some("linux/arm64"), &[], false),
    ];
    reg.push_index("multi", "1", OCI_INDEX, &multi);
    let amd = reg.push_image("amd-only", "amd", Some("linux/amd64"), &[], false);
    reg.push_index("amd-only", "1", OCI_INDEX, &[amd]);
    let arm = reg.push_image("arm-only", "arm", Some("linux/arm64"), &[], false);
    reg.push_index("arm-only", "1", OCI_INDEX, &[arm]);
    reg
}

/// A testdata/admission document with the registry's address in it.
fn doc(name: &str, registry: &str) -> Value {
    let path = workspace().join("testdata/admission").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text.replace("REGISTRY", registry)).unwrap()
}

fn message(r: &Value) -> String {
    r["status"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn warnings(r: &Value) -> Vec<String> {
    r["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|w| w.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn refuses_pods_whose_images_fit_no_selected_node_and_admits_the_rest() {
    let reg = images();
    let host = reg.host();
    let tls = TlsMaterial::new();
    let hook = Webhook::start(&tls, &[]);

    // nodeSelector pool=arm and an amd64-only image: refused, naming the
    // image, the nodes tried, and what the index offers.
    let d = doc("pod-node-selector.json", &host);
    let r = hook.review(&d);
    assert_eq!(r["uid"], d["request"]["uid"]);
    assert_eq!(r["allowed"], false, "{r}");
    assert_eq!(r["status"]["code"], 403);
    let m = message(&r);
    assert!(m.starts_with("ocipick refused pod web/shop: "), "{m}");
    assert!(
        m.contains(&format!(
            "image {host}/amd-only:1: no entry fits any of the 2 nodes matching nodeSelector {{pool=arm}}: arm-1, arm-2 (linux/arm64): no manifest for linux/arm64 in {host}/amd-only:1; it offers linux/amd64"
        )),
        "{m}"
    );
    assert!(
        !m.contains("multi:1"),
        "the image that fits is not blamed: {m}"
    );

    // The same image in an init container is refused too.
    let d = doc("pod-init-container.json", &host);
    let r = hook.review(&d);
    assert_eq!(r["uid"], "0df28fbd-5f5f-11e8-bc74-36e6bb280816");
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        message(&r).contains(&format!("image {host}/amd-only:1: no entry fits")),
        "{r}"
    );

    // kubectl debug adds an arm64-only ephemeral container to a Pod bound
    // to amd-1: refused, naming that node.
    let d = doc("pod-ephemeral-container.json", &host);
    let r = hook.review(&d);
    assert_eq!(r["uid"], "a1e2c3d4-0000-4000-8000-00000000e001");
    assert_eq!(r["allowed"], false, "{r}");
    let m = message(&r);
    assert!(
        m.contains(&format!("image {host}/arm-only:1: no entry fits any of the 1 nodes matching nodeSelector {{pool=general}} and nodeName amd-1: amd-1 (linux/amd64): no manifest for linux/amd64")),
        "{m}"
    );

    // No nodeSelector (and no name yet, generateName): every node is a
    // candidate; the multi-arch image fits three of four, admitted with a
    // warning naming the s390x node.
    let d = doc("pod-no-selector.json", &host);
    let r = hook.review(&d);
    assert_eq!(r["uid"], "b3c1b0a2-3f5d-4a47-9a11-7c1e8d1a6f10");
    assert_eq!(r["allowed"], true, "{r}");
    assert!(r.get("status").is_none(), "{r}");
    let w = warnings(&r);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains(&format!("image {host}/multi:1 fits 3 of the 4 nodes (no nodeSelector); not s390-1 (linux/s390x): no manifest for linux/s390x")),
        "{w:?}"
    );

    // Each review fetched each image's index once: one manifest GET each
    // (amd-only:1 twice, in two reviews).
    reg.sync_log();
    let gets = |uri: &str| {
        reg.access_log()
            .iter()
            .filter(|a| a.method == "GET" && a.uri == uri)
            .count()
    };
    assert_eq!(gets("/v2/amd-only/manifests/1"), 2);
    assert_eq!(gets("/v2/arm-only/manifests/1"), 1);
    assert_eq!(gets("/v2/multi/manifests/1"), 4);
}

#[test]
fn images_that_cannot_be_fetched_follow_on_error() {
    let reg = images();
    let host = reg.host();
    let tls = TlsMaterial::new();
    let d = doc("pod-missing-image.json", &host);

    // Fail open (the default): admitted with a warning.
    let open = Webhook::start(&tls, &[]);
    let r = open.review(&d);
    assert_eq!(r["uid"], "5d2f7a10-1c2b-4d3e-9f40-5a6b7c8d9e0f");
    assert_eq!(r["allowed"], true, "{r}");
    let w = warnings(&r);
    assert!(
        w[0].starts_with(&format!(
            "ocipick: image {host}/missing:1 not checked: {host}/missing: manifest 1: HTTP 404"
        )),
        "{w:?}"
    );

    // Fail closed: refused, saying why.
    let closed = Webhook::start(&tls, &["--on-error", "deny"]);
    let r = closed.review(&d);
    assert_eq!(r["allowed"], false, "{r}");
    assert_eq!(r["status"]["code"], 403);
    assert!(
        message(&r).contains(&format!(
            "image {host}/missing:1 could not be checked: {host}/missing: manifest 1: HTTP 404"
        )),
        "{r}"
    );
}

#[test]
fn a_registry_that_never_answers_is_cut_off_at_the_deadline() {
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = silent.local_addr().unwrap().to_string();
    let tls = TlsMaterial::new();
    let hook = Webhook::start(&tls, &["--fetch-timeout-ms", "700"]);
    let mut d = doc("pod-missing-image.json", &host);
    d["request"]["uid"] = json!("slow-1");
    let started = Instant::now();
    let r = hook.review(&d);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    assert_eq!(r["uid"], "slow-1");
    assert_eq!(r["allowed"], true, "{r}");
    let w = warnings(&r);
    assert!(
        w[0].starts_with(&format!("ocipick: image {host}/missing:1 not checked: ")),
        "{w:?}"
    );
    drop(silent);
}

#[test]
fn bad_requests_get_clear_errors_and_the_webhook_keeps_serving() {
    let tls = TlsMaterial::new();
    let hook = Webhook::start(&tls, &[]);
    let (status, body) = hook.post(b"{not json");
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).starts_with("the request body is not JSON"));
    let v1beta1 = json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview",
                         "request": {"uid": "x"}});
    let (status, body) = hook.post(&serde_json::to_vec(&v1beta1).unwrap());
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("admission.k8s.io/v1 only"));
    let mut no_uid = doc("pod-no-selector.json", "127.0.0.1:1");
    no_uid["request"].as_object_mut().unwrap().remove("uid");
    let (status, body) = hook.post(&serde_json::to_vec(&no_uid).unwrap());
    assert_eq!(
        (status, String::from_utf8_lossy(&body).trim()),
        (
            400,
            "not an admission.k8s.io/v1 AdmissionReview: no request.uid"
        )
    );
    // Over the limit: a declared length is refused before the body is
    // read; a chunked body is refused once the limit is read, while the
    // client still has more to send.
    let head = |extra: &str| {
        format!(
            "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}\r\n"
        )
    };
    let (status, sent) = raw(
        &hook.addr,
        &tls.ca_pem,
        &head(&format!("Content-Length: {}\r\n", 5 << 20)),
        false,
    );
    assert_eq!((status, sent), (413, 0));
    let (status, sent) = raw(
        &hook.addr,
        &tls.ca_pem,
        &head("Transfer-Encoding: chunked\r\n"),
        true,
    );
    assert_eq!(status, 413);
    // Answered before the body's end (never sent): the limit held while
    // reading. (What was sent past 4 MiB sat in socket buffers.)
    assert!(sent < 16 << 20, "sent {sent} bytes");
    // Only POST; GET /healthz for probes.
    let mut resp = hook
        .agent
        .get(format!("https://{}/healthz", hook.addr))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.body_mut().read_to_string().unwrap(), "ok\n");
    let resp = hook
        .agent
        .get(format!("https://{}/validate", hook.addr))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    // Still serving: a Deployment is not judged, just admitted.
    let mut other = doc("pod-no-selector.json", "127.0.0.1:1");
    other["request"]["kind"] = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
    let r = hook.review(&other);
    assert_eq!(r["allowed"], true);
    assert_eq!(r["uid"], other["request"]["uid"]);
    // It logged one line per answered review, with its uid.
    let logged: Vec<String> = hook.log.try_iter().collect();
    assert!(
        logged
            .iter()
            .any(|l| l.contains("\"b3c1b0a2-3f5d-4a47-9a11-7c1e8d1a6f10\": allowed")),
        "{logged:?}"
    );
    // SIGTERM: it stops, exit 0.
    let mut hook = hook;
    let pid = hook.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = hook.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn bad_flags_and_inputs_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(example()).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let missing = dir.path().join("none.pem");
    let missing = missing.to_str().unwrap();
    let (nodes, _) = inventory(dir.path());
    let nodes = nodes.to_str().unwrap();
    let (code, err) = run(&["--cert", missing, "--key", missing, "--nodes", nodes]);
    assert_eq!(code, Some(2));
    assert!(err.contains("none.pem"), "{err}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"items\": [{\"metadata\": {}}]}").unwrap();
    let (code, err) = run(&[
        "--cert",
        missing,
        "--key",
        missing,
        "--nodes",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("bad.json: items[0] has no metadata.name"),
        "{err}"
    );
    let (code, err) = run(&["--cert", missing, "--key", missing]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no nodes"), "{err}");
}
