//! `ocipick serve` when its upstream fails, end to end against the real
//! CNCF distribution registry (`docker-registry`, per test on a free
//! loopback port, deletion enabled), one test per mechanism:
//!
//! - serve-stale-on-error (`--stale-for`): a tag answered with its last
//!   good answer while upstream answers `429` or is gone, never over a
//!   `404`, and no more once `--stale-for` ran out;
//! - a chosen child deleted upstream: the next entry of the ranking
//!   answers, and with none left the index is passed through; in
//!   `--mode reorder` the missing child is not moved forward;
//! - `--mode reorder` with `--state-dir`: a reordered index is still
//!   served by its digest after a restart; a corrupted state file is
//!   dropped, not served;
//! - a silent upstream (accepts TCP, never answers): answered with `504`
//!   within the read timeout, or within `--tag-deadline`.
//!
//! Faults the registry cannot produce (a `429`, a silent socket, a port
//! that stops listening) come from a small proxy written here, in front of
//! the registry.

mod common;
#[path = "support/registry.rs"]
mod registry_support;
#[path = "support/serve.rs"]
mod serve_support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{sha256, OCI_INDEX};
use registry_support::{Registry, GPU_KEY};
use serde_json::Value;
use serve_support::{agent, get, Mirror};

// ---------------------------------------------------------------------------
// The proxy.

const FORWARD: u8 = 0;
const TOO_MANY: u8 = 1;
const NOT_FOUND: u8 = 2;
const SILENT: u8 = 3;

/// A loopback HTTP/1.1 proxy in front of `target`: forwards each request
/// (one per connection), or answers `429`/`404` itself, or never answers;
/// [`Proxy::stop`] stops listening (connections are then refused).
struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
    stopped: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

/// Reads a request head (up to the blank line; 64 KiB at most).
fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 << 10 || s.read(&mut b).ok()? == 0 {
            return None;
        }
        head.push(b[0]);
    }
    String::from_utf8(head).ok()
}

fn refusal(status: u16, reason: &str, code: &str) -> Vec<u8> {
    let body = format!(r#"{{"errors":[{{"code":"{code}","message":"{reason}"}}]}}"#);
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn proxy_one(mut client: TcpStream, target: u16, mode: u8, stopped: &AtomicBool) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(head) = read_head(&mut client) else {
        return;
    };
    match mode {
        TOO_MANY => {
            let _ = client.write_all(&refusal(429, "Too Many Requests", "TOOMANYREQUESTS"));
        }
        NOT_FOUND => {
            let _ = client.write_all(&refusal(404, "Not Found", "MANIFEST_UNKNOWN"));
        }
        SILENT => {
            // Holds the connection, says nothing.
            let end = Instant::now() + Duration::from_secs(60);
            while Instant::now() < end && !stopped.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(50));
            }
        }
        _ => {
            // One request per connection: `Connection: close` both ways.
            let mut lines: Vec<&str> = head
                .trim_end()
                .split("\r\n")
                .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                .collect();
            lines.push("Connection: close");
            let req = format!("{}\r\n\r\n", lines.join("\r\n"));
            let Ok(mut up) = TcpStream::connect(("127.0.0.1", target)) else {
                return;
            };
            let _ = up.set_read_timeout(Some(Duration::from_secs(10)));
            if up.write_all(req.as_bytes()).is_err() {
                return;
            }
            let mut buf = vec![0u8; 64 << 10];
            loop {
                match up.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if client.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
        }
    }
    let _ = client.shutdown(Shutdown::Both);
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(FORWARD));
        let stopped = Arc::new(AtomicBool::new(false));
        let (m, st) = (mode.clone(), stopped.clone());
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break; // the listener is dropped: connections refused
                }
                let Ok(conn) = conn else { continue };
                let (mode, st) = (m.load(Ordering::SeqCst), st.clone());
                thread::spawn(move || proxy_one(conn, target, mode, &st));
            }
        });
        Proxy {
            port,
            mode,
            stopped,
            accept: Some(accept),
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    /// Stops listening: from now on connections are refused.
    fn stop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes accept
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------
// Helpers.

fn delete_manifest(reg: &Registry, repo: &str, digest: &str) {
    let r = agent()
        .delete(&format!(
            "http://{}/v2/{repo}/manifests/{digest}",
            reg.host()
        ))
        .call()
        .expect("DELETE");
    assert_eq!(r.status().as_u16(), 202, "DELETE {repo}@{digest}");
}

fn digest_of(d: &Value) -> String {
    d["digest"].as_str().unwrap().to_owned()
}

/// A mirror of `upstream` (plain HTTP) for linux/amd64 preferring the GPU
/// annotation, with `extra` flags.
fn mirror(upstream: &str, extra: &[&str]) -> Mirror {
    let mut args = vec![
        "--upstream",
        upstream,
        "--plain-http",
        upstream,
        "-p",
        "linux/amd64",
        "--prefer",
        GPU_KEY,
    ];
    args.extend_from_slice(extra);
    Mirror::start(&args)
}

const STALE_429: &str = r#"ocipick_mirror_stale_answers_total{reason="429"}"#;
const STALE_UNREACHABLE: &str = r#"ocipick_mirror_stale_answers_total{reason="unreachable"}"#;
const STALE_TIMEOUT: &str = r#"ocipick_mirror_stale_answers_total{reason="timeout"}"#;

// ---------------------------------------------------------------------------
// 1. Serve stale on error.

#[test]
fn a_failing_upstream_is_covered_by_the_last_good_answer_until_stale_for_runs_out() {
    let reg = Registry::anonymous();
    let repo = "resilience/stale";
    let plain = reg.push_image(repo, "plain-amd64", Some("linux/amd64"), &[], false);
    let gpu = reg.push_gpu_image(repo, "gpu-amd64", false);
    reg.push_index(repo, "v1", OCI_INDEX, &[plain, gpu.clone()]);
    let mut proxy = Proxy::start(reg.port);
    let m = mirror(
        &proxy.host(),
        &["--cache-ttl", "1", "--stale-for", "3", "--retries", "0"],
    );
    let url = format!("{}/v2/{repo}/manifests/v1", m.url());
    let ttl = Duration::from_millis(1100);

    let fresh = get(&url);
    assert_eq!(fresh.status, 200, "{}", m.log());
    assert_eq!(fresh.digest.as_deref(), Some(digest_of(&gpu).as_str()));

    // 429 once the TTL ran out: the last good answer, logged and counted.
    proxy.set(TOO_MANY);
    thread::sleep(ttl);
    let stale = get(&url);
    assert_eq!(
        stale.status,
        200,
        "stale answer over a 429; log:\n{}",
        m.log()
    );
    assert_eq!(
        stale.body, fresh.body,
        "the last good answer, byte for byte"
    );
    assert_eq!(m.metric(STALE_429), 1.0, "{}", m.log());
    assert!(
        m.log().contains("ocipick serve: stale image="),
        "{}",
        m.log()
    );

    // A 404 is an answer, not a failure: passed on, never covered.
    proxy.set(NOT_FOUND);
    let gone = get(&url);
    assert_eq!(gone.status, 404, "{gone:?}");
    assert_eq!(gone.code(), "MANIFEST_UNKNOWN");

    // Good again, then the upstream dies (its port refuses connections).
    proxy.set(FORWARD);
    let again = get(&url);
    assert_eq!(again.status, 200);
    let last_good = Instant::now();
    proxy.stop();
    thread::sleep(ttl);
    let stale = get(&url);
    assert_eq!(
        stale.status,
        200,
        "stale answer, upstream down; log:\n{}",
        m.log()
    );
    assert_eq!(stale.body, fresh.body);
    assert_eq!(m.metric(STALE_UNREACHABLE), 1.0, "{}", m.log());

    // Past TTL + --stale-for (1 + 3 s): the failure shows.
    let window = Duration::from_millis(4300);
    thread::sleep(window.saturating_sub(last_good.elapsed()));
    let expired = get(&url);
    assert_eq!(
        expired.status, 502,
        "no stale answer past --stale-for: {expired:?}"
    );
    assert_eq!(expired.code(), "UNAVAILABLE");
    assert_eq!(m.metric(STALE_UNREACHABLE), 1.0);
}

#[test]
fn stale_for_zero_answers_no_stale() {
    let reg = Registry::anonymous();
    let repo = "resilience/nostale";
    let plain = reg.push_image(repo, "plain-amd64", Some("linux/amd64"), &[], false);
    reg.push_index(repo, "v1", OCI_INDEX, &[plain]);
    let proxy = Proxy::start(reg.port);
    let m = mirror(
        &proxy.host(),
        &["--cache-ttl", "1", "--stale-for", "0", "--retries", "0"],
    );
    let url = format!("{}/v2/{repo}/manifests/v1", m.url());
    assert_eq!(get(&url).status, 200);
    proxy.set(TOO_MANY);
    thread::sleep(Duration::from_millis(1100));
    assert_eq!(get(&url).status, 429, "{}", m.log());
    assert_eq!(m.metric(STALE_429), 0.0);
}

// ---------------------------------------------------------------------------
// 2. A chosen child that vanished upstream.

#[test]
fn a_vanished_child_falls_to_the_next_candidate_then_to_the_index() {
    let reg = Registry::anonymous();
    let repo = "resilience/vanish";
    let arm = reg.push_image(repo, "arm64", Some("linux/arm64"), &[], false);
    let plain = reg.push_image(repo, "plain-amd64", Some("linux/amd64"), &[], false);
    let gpu = reg.push_gpu_image(repo, "gpu-amd64", false);
    let index = reg.push_index(repo, "v1", OCI_INDEX, &[arm, plain.clone(), gpu.clone()]);
    let index_bytes = reg.get_manifest(repo, "v1");
    let m = mirror(&reg.host(), &["--cache-ttl", "1"]);
    let url = format!("{}/v2/{repo}/manifests/v1", m.url());
    let ttl = Duration::from_millis(1100);

    let first = get(&url);
    assert_eq!(
        first.digest.as_deref(),
        Some(digest_of(&gpu).as_str()),
        "{}",
        m.log()
    );

    // The GPU child is deleted upstream; the mirror still holds its bytes.
    delete_manifest(&reg, repo, &digest_of(&gpu));
    thread::sleep(ttl);
    let next = get(&url);
    assert_eq!(next.status, 200, "{}", m.log());
    assert_eq!(
        next.digest.as_deref(),
        Some(digest_of(&plain).as_str()),
        "the next candidate of the ranking; log:\n{}",
        m.log()
    );
    assert_eq!(next.body, reg.get_manifest(repo, &digest_of(&plain)));
    let gone = r#"ocipick_mirror_child_checks_total{result="gone"}"#;
    assert_eq!(m.metric(gone), 1.0, "{}", m.log());
    assert!(m.log().contains(&format!(
        "ocipick serve: gone image=\"{}/{repo}:v1\"",
        reg.host()
    )));
    // Checked once per TTL window: a burst within it costs no more HEADs.
    for _ in 0..5 {
        assert_eq!(
            get(&url).digest.as_deref(),
            Some(digest_of(&plain).as_str())
        );
    }
    assert_eq!(m.metric(gone), 1.0);

    // No candidate left (arm64 does not fit): the index, unchanged.
    delete_manifest(&reg, repo, &digest_of(&plain));
    thread::sleep(ttl);
    let through = get(&url);
    assert_eq!(through.status, 200);
    assert_eq!(
        through.digest.as_deref(),
        Some(index.as_str()),
        "{}",
        m.log()
    );
    assert_eq!(
        through.body, index_bytes,
        "the upstream index, byte for byte"
    );
    // Both HEADed in this window: the GPU child's earlier answer expired
    // with its TTL, and the plain child's bytes are held now.
    assert_eq!(m.metric(gone), 3.0, "{}", m.log());
    assert_eq!(
        m.metric(r#"ocipick_mirror_selections_total{outcome="fallback"}"#),
        1.0
    );
}

#[test]
fn reorder_mode_does_not_move_a_vanished_child_forward() {
    let reg = Registry::anonymous();
    let repo = "resilience/vanish-reorder";
    let plain = reg.push_image(repo, "plain-amd64", Some("linux/amd64"), &[], false);
    let gpu = reg.push_gpu_image(repo, "gpu-amd64", false);
    let index = reg.push_index(repo, "v1", OCI_INDEX, &[plain, gpu.clone()]);
    let m = mirror(&reg.host(), &["--cache-ttl", "1", "--mode", "reorder"]);
    let url = format!("{}/v2/{repo}/manifests/v1", m.url());
    let first = get(&url);
    assert_ne!(first.digest.as_deref(), Some(index.as_str()), "reordered");
    let v: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(v["manifests"][0]["digest"], gpu["digest"]);

    delete_manifest(&reg, repo, &digest_of(&gpu));
    thread::sleep(Duration::from_millis(1100));
    // The plain entry, next in the ranking, already comes first: the
    // upstream index as it is, not one that puts a missing child first.
    let after = get(&url);
    assert_eq!(after.status, 200);
    assert_eq!(after.digest.as_deref(), Some(index.as_str()), "{}", m.log());
    assert_eq!(
        m.metric(r#"ocipick_mirror_child_checks_total{result="gone"}"#),
        1.0
    );
}

// ---------------------------------------------------------------------------
// 3. Reordered indexes survive a restart.

#[test]
fn a_reordered_index_is_served_by_digest_after_a_restart_and_a_corrupt_one_is_dropped() {
    let reg = Registry::anonymous();
    let repo = "resilience/reorder";
    let plain = reg.push_image(repo, "plain-amd64", Some("linux/amd64"), &[], false);
    let gpu = reg.push_gpu_image(repo, "gpu-amd64", false);
    let index = reg.push_index(repo, "v1", OCI_INDEX, &[plain, gpu]);
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("state");
    let dir_s = dir.to_str().unwrap().to_owned();
    let flags = ["--mode", "reorder", "--state-dir", dir_s.as_str()];

    let m = mirror(&reg.host(), &flags);
    let tag = get(&format!("{}/v2/{repo}/manifests/v1", m.url()));
    assert_eq!(tag.status, 200, "{}", m.log());
    let reordered = tag.digest.clone().unwrap();
    assert_ne!(reordered, index, "a new index");
    assert_eq!(sha256(&tag.body), reordered);
    let file = dir.join(reordered.replace(':', "-"));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        tag.body,
        "kept on disk by digest"
    );
    assert_eq!(m.terminate(), Some(0));

    // A new mirror process: the runtime's follow-up GET by digest works.
    let m = mirror(&reg.host(), &flags);
    let by_digest = format!("{}/v2/{repo}/manifests/{reordered}", m.url());
    let after = get(&by_digest);
    assert_eq!(
        after.status,
        200,
        "GET by the reordered digest after a restart; log:\n{}",
        m.log()
    );
    assert_eq!(after.body, tag.body);
    assert_eq!(after.digest.as_deref(), Some(reordered.as_str()));
    assert_eq!(
        m.metric(r#"ocipick_mirror_state_files_total{event="loaded"}"#),
        1.0
    );
    // Only the mirror has it.
    let upstream = get(&format!(
        "http://{}/v2/{repo}/manifests/{reordered}",
        reg.host()
    ));
    assert_eq!(upstream.status, 404);
    assert_eq!(m.terminate(), Some(0));

    // A corrupted file is dropped at start (and logged), never served.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&file, &bytes).unwrap();
    let m = mirror(&reg.host(), &flags);
    assert!(
        m.wait_log("ocipick serve: state: dropped", Duration::from_secs(5)),
        "{}",
        m.log()
    );
    assert!(!file.exists(), "the corrupt file is deleted");
    assert_eq!(
        m.metric(r#"ocipick_mirror_state_files_total{event="dropped"}"#),
        1.0
    );
    let after = get(&format!("{}/v2/{repo}/manifests/{reordered}", m.url()));
    assert_eq!(
        after.status, 404,
        "passed upstream, which does not have it: {after:?}"
    );
    assert_ne!(after.body, bytes);
}

// ---------------------------------------------------------------------------
// 4. A silent upstream.

#[test]
fn a_silent_upstream_is_answered_504_within_the_bound() {
    let reg = Registry::anonymous();
    let repo = "resilience/silent";
    let plain = reg.push_image(repo, "plain-amd64", Some("linux/amd64"), &[], false);
    reg.push_index(repo, "v1", OCI_INDEX, std::slice::from_ref(&plain));
    let proxy = Proxy::start(reg.port);
    proxy.set(SILENT);

    // The defaults: 5 s to the first byte (not --timeout's 30 s).
    let m = mirror(&proxy.host(), &[]);
    let url = format!("{}/v2/{repo}/manifests/v1", m.url());
    let a = get(&url);
    assert_eq!(a.status, 504, "{a:?}; log:\n{}", m.log());
    assert_eq!(a.code(), "UNAVAILABLE");
    assert!(
        a.took >= Duration::from_secs(4) && a.took < Duration::from_secs(8),
        "the default read timeout bounds it: {:?}",
        a.took
    );
    let blob = get(&format!(
        "{}/v2/{repo}/blobs/{}",
        m.url(),
        common::fake_digest("blob")
    ));
    assert_eq!(blob.status, 504, "{blob:?}");
    assert!(blob.took < Duration::from_secs(8), "{:?}", blob.took);
    drop(m);

    // A long read timeout, and --tag-deadline bounds the tag's answer.
    let m = mirror(
        &proxy.host(),
        &["--read-timeout", "30", "--tag-deadline", "2"],
    );
    let url = format!("{}/v2/{repo}/manifests/v1", m.url());
    let a = get(&url);
    assert_eq!(a.status, 504, "{a:?}; log:\n{}", m.log());
    assert!(
        a.took >= Duration::from_millis(1900) && a.took < Duration::from_secs(4),
        "--tag-deadline bounds it: {:?}",
        a.took
    );
    assert!(m.log().contains("--tag-deadline"), "{}", m.log());
    drop(m);

    // Requests that wait for one failing fetch share its failure: all
    // answered when it fails, not one read timeout after another.
    let m = mirror(&proxy.host(), &["--read-timeout", "2", "--stale-for", "0"]);
    let url = format!("{}/v2/{repo}/manifests/v1", m.url());
    let waiting: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            thread::spawn(move || get(&url))
        })
        .collect();
    for w in waiting {
        let a = w.join().unwrap();
        assert_eq!(a.status, 504, "{a:?}");
        assert!(
            a.took < Duration::from_millis(3500),
            "one failure for all who waited: {:?}",
            a.took
        );
    }
    drop(m);

    // With a recent good answer, the deadline answers it, stale.
    proxy.set(FORWARD);
    let m = mirror(
        &proxy.host(),
        &[
            "--read-timeout",
            "30",
            "--tag-deadline",
            "2",
            "--cache-ttl",
            "1",
        ],
    );
    let url = format!("{}/v2/{repo}/manifests/v1", m.url());
    let good = get(&url);
    assert_eq!(good.status, 200);
    assert_eq!(good.digest.as_deref(), Some(digest_of(&plain).as_str()));
    proxy.set(SILENT);
    thread::sleep(Duration::from_millis(1100));
    let a = get(&url);
    assert_eq!(a.status, 200, "{a:?}; log:\n{}", m.log());
    assert_eq!(a.body, good.body);
    assert!(a.took < Duration::from_secs(4), "{:?}", a.took);
    assert_eq!(m.metric(STALE_TIMEOUT), 1.0, "{}", m.log());
}
