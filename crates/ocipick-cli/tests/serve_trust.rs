//! Signature-aware selection in `ocipick serve`, end to end against the
//! real CNCF distribution registry (2.8: no referrers API), with
//! signatures made by the `openssl` command line in cosign's formats
//! (support/signing.rs; openssl's own verdict checked on each signature
//! made here). Every request count is read from the registry's own access
//! log and compared with the mirror's metrics:
//!
//! - a signed index (`.sig` tag, or a Sigstore bundle referrer) is
//!   honoured (the GPU entry, by its annotation); its verdict is kept by
//!   index digest, so another tag naming the same index costs no
//!   signature request;
//! - an unsigned index (or one signed by another key) is answered on
//!   platform alone in child mode (the first match), passed through
//!   byte for byte in reorder mode and with `--on-unsigned refuse`;
//! - a new index digest under the same tag is verified afresh (a replayed
//!   signature of the old one does not count);
//! - without a policy for the repository no signature request is made;
//! - a silent signature endpoint (the `.sig` tag, or the bundle
//!   referrers) is cut off by `--signature-deadline`, in `serve` and
//!   `select` alike;
//! - in child mode the child's own signature (cosign `--recursive`)
//!   keeps verifying over the bytes the mirror answers.
//!
//! The demo index is [plain linux/amd64, linux/arm64, linux/amd64 with
//! the GPU annotation]; every mirror prefers the GPU annotation.

mod common;
#[path = "support/registry.rs"]
mod registry_support;
#[path = "support/serve.rs"]
mod serve_support;
#[path = "support/signing.rs"]
mod signing;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{sha256, OCI_INDEX};
use registry_support::{Access, Registry, GPU_KEY};
use serde_json::{json, Value};
use serve_support::{get, Mirror};
use signing::{
    attach, dsse_bundle, keypair, openssl_verifies, payload, push_demo, push_signature, sign,
    sign_and_push, statement, subject, Demo,
};

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

/// Where the registry's access log stands now.
fn mark(reg: &Registry) -> usize {
    reg.log_mark()
}

/// The mirror's requests to the registry (user agent `ocipick/…`) since
/// `from`, as `METHOD URI`.
fn upstream_since(reg: &Registry, from: usize) -> Vec<String> {
    reg.ocipick_since(from)
        .iter()
        .map(|a: &Access| format!("{} {}", a.method, a.uri))
        .collect()
}

/// Signature requests among `seen`, the mirror's requests for tags of
/// `demo`: everything but a tag GET and the GET of one of the demo
/// index's entries (`.sig` manifests, payload and bundle blobs, the
/// referrers API, the `sha256-<hex>` tag-schema index, bundle manifests).
fn signature_requests(seen: &[String], demo: &Demo) -> usize {
    seen.iter()
        .filter(|l| {
            let what = l.rsplit("/manifests/").next().unwrap_or("");
            let plain_tag = l.contains("/manifests/") && !what.starts_with("sha256");
            let entry = what == demo.plain || what == demo.gpu;
            !plain_tag && !entry
        })
        .count()
}

fn sig_uri(repo: &str, digest: &str) -> String {
    format!(
        "GET /v2/{repo}/manifests/sha256-{}.sig",
        digest.strip_prefix("sha256:").unwrap()
    )
}

const SIG_REQUESTS: &str = "ocipick_mirror_signature_requests_total";

fn verdicts(verdict: &str, action: &str) -> String {
    format!("ocipick_mirror_trust_verdicts_total{{verdict=\"{verdict}\",action=\"{action}\"}}")
}

#[test]
fn signed_index_is_honoured_and_its_verdict_kept_by_digest() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "a");
    let host = reg.host();
    let demo = push_demo(&reg, "team/app", "v1", "s");
    sign_and_push(&reg, d, (&key, &public), "team/app", &demo.index);
    // Another tag naming the very same index bytes (same digest).
    let bytes = reg.get_manifest("team/app", "v1");
    reg.push_manifest("team/app", "v1-copy", OCI_INDEX, &bytes);
    let m = mirror(&host, &["--trust-key", public.to_str().unwrap()]);

    let from = mark(&reg);
    let g = get(&format!("{}/v2/team/app/manifests/v1", m.url()));
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(sha256(&g.body), demo.gpu, "signed: the annotation counts");
    let seen = upstream_since(&reg, from);
    // The tag, its .sig manifest, the payload blob, the chosen child.
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[0], "GET /v2/team/app/manifests/v1", "{seen:?}");
    assert!(seen.contains(&sig_uri("team/app", &demo.index)), "{seen:?}");
    let cost = signature_requests(&seen, &demo);
    eprintln!(
        "serve, .sig-signed index: {cost} signature requests, {} in all",
        seen.len()
    );
    assert_eq!(cost, 2, "{seen:?}");
    assert_eq!(m.metric(SIG_REQUESTS), cost as f64);
    assert_eq!(m.metric(&verdicts("signed", "honoured")), 1.0);
    let line = format!(
        "trust image=\"{host}/team/app:v1\" repository=\"{host}/team/app\" index={} verdict=signed key=\"{}\" action=honoured cached=false",
        demo.index,
        public.display()
    );
    assert!(m.wait_log(&line, Duration::from_secs(2)), "{}", m.log());
    assert!(
        m.log().contains(&format!(
            "ocipick serve: trust policy: 1 key(s) ({}), repositories all, on-unsigned ignore-annotations, signature deadline 5 s",
            public.display()
        )),
        "{}",
        m.log()
    );

    // The same tag again: the tag's answer is kept, nothing upstream.
    let from = mark(&reg);
    assert_eq!(
        sha256(&get(&format!("{}/v2/team/app/manifests/v1", m.url())).body),
        demo.gpu
    );
    assert_eq!(upstream_since(&reg, from), Vec::<String>::new());

    // Another tag, the same index digest: the verdict is kept, so the tag
    // costs its manifest GET and no signature request.
    let from = mark(&reg);
    let g = get(&format!("{}/v2/team/app/manifests/v1-copy", m.url()));
    assert_eq!(sha256(&g.body), demo.gpu);
    let seen = upstream_since(&reg, from);
    assert_eq!(signature_requests(&seen, &demo), 0, "{seen:?}");
    assert_eq!(seen[0], "GET /v2/team/app/manifests/v1-copy", "{seen:?}");
    assert_eq!(m.metric(SIG_REQUESTS), cost as f64);
    assert_eq!(
        m.metric("ocipick_mirror_cache_lookups_total{cache=\"verdict\",result=\"hit\"}"),
        1.0
    );
    assert_eq!(m.metric(&verdicts("signed", "honoured")), 2.0);
    assert!(
        m.wait_log("action=honoured cached=true", Duration::from_secs(2)),
        "{}",
        m.log()
    );
}

#[test]
fn unsigned_index_first_match_in_child_mode_passed_through_otherwise() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key_a, pub_a) = keypair(d, "a");
    let (key_b, pub_b) = keypair(d, "b");
    let host = reg.host();
    let unsigned = push_demo(&reg, "team/unsigned", "v1", "u");
    let by_b = push_demo(&reg, "team/by-b", "v1", "b");
    sign_and_push(&reg, d, (&key_b, &pub_b), "team/by-b", &by_b.index);
    let signed = push_demo(&reg, "team/signed", "v1", "s");
    sign_and_push(&reg, d, (&key_a, &pub_a), "team/signed", &signed.index);
    let key = pub_a.to_str().unwrap();

    // Child mode: the first match on platform alone, logged and counted.
    // On this registry (no referrers API) the signature requests are the
    // .sig tag's 404, the referrers API's 404 and the tag-schema index's
    // 404; the client remembers the missing API, so a later index costs
    // two.
    let child = mirror(&host, &["--trust-key", key]);
    let from = mark(&reg);
    let g = get(&format!("{}/v2/team/unsigned/manifests/v1", child.url()));
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(
        sha256(&g.body),
        unsigned.plain,
        "annotations must not count"
    );
    let seen = upstream_since(&reg, from);
    let cost = signature_requests(&seen, &unsigned);
    eprintln!(
        "serve, unsigned index, first of the mirror: {cost} signature requests, {} in all",
        seen.len()
    );
    assert_eq!(cost, 3, "{seen:?}");
    assert!(seen.contains(&sig_uri("team/unsigned", &unsigned.index)));
    assert_eq!(child.metric(SIG_REQUESTS), cost as f64);
    assert_eq!(child.metric(&verdicts("unsigned", "first_match")), 1.0);
    let line = format!(
        "repository=\"{host}/team/unsigned\" index={} verdict=unsigned reason=\"no signature",
        unsigned.index
    );
    assert!(
        child.wait_log(&line, Duration::from_secs(2)),
        "{}",
        child.log()
    );
    assert!(child.log().contains("action=first_match cached=false"));
    assert!(
        child
            .log()
            .contains("annotations ignored: the index has no valid signature"),
        "the decision line says why: {}",
        child.log()
    );
    // Signed by a key not trusted: the same (the .sig manifest, its
    // payload, the tag-schema index's 404).
    let from = mark(&reg);
    let g = get(&format!("{}/v2/team/by-b/manifests/v1", child.url()));
    assert_eq!(sha256(&g.body), by_b.plain);
    let seen = upstream_since(&reg, from);
    let cost_b = signature_requests(&seen, &by_b);
    assert_eq!(cost_b, 3, "{seen:?}");
    assert_eq!(child.metric(SIG_REQUESTS), (cost + cost_b) as f64);
    // Another unsigned index, now that the client knows the registry has
    // no referrers API: the .sig 404 and the tag-schema 404.
    let later = push_demo(&reg, "team/unsigned-later", "v1", "l");
    let from = mark(&reg);
    let g = get(&format!(
        "{}/v2/team/unsigned-later/manifests/v1",
        child.url()
    ));
    assert_eq!(sha256(&g.body), later.plain);
    let seen = upstream_since(&reg, from);
    let cost_later = signature_requests(&seen, &later);
    eprintln!(
        "serve, unsigned index, later: {cost_later} signature requests, {} in all",
        seen.len()
    );
    assert_eq!(cost_later, 2, "{seen:?}");
    assert!(!seen.iter().any(|l| l.contains("/referrers/")), "{seen:?}");
    assert_eq!(
        child.metric(SIG_REQUESTS),
        (cost + cost_b + cost_later) as f64
    );
    assert!(child.log().contains("no trusted key made its signature"));
    assert_eq!(child.metric(&verdicts("unsigned", "first_match")), 3.0);

    // Reorder mode: the index as upstream serves it (the runtime's own
    // first match applies).
    let upstream_bytes = reg.get_manifest("team/unsigned", "v1");
    let reorder = mirror(&host, &["--trust-key", key, "--mode", "reorder"]);
    let g = get(&format!("{}/v2/team/unsigned/manifests/v1", reorder.url()));
    assert_eq!(g.status, 200);
    assert_eq!(g.body, upstream_bytes, "passed through byte for byte");
    assert_eq!(g.digest.as_deref(), Some(unsigned.index.as_str()));
    assert_eq!(reorder.metric(&verdicts("unsigned", "passed_through")), 1.0);
    assert_eq!(
        reorder.metric("ocipick_mirror_selections_total{outcome=\"untrusted\"}"),
        1.0
    );

    // --on-unsigned refuse: passed through untouched, in child mode too…
    let refuse = mirror(&host, &["--trust-key", key, "--on-unsigned", "refuse"]);
    let g = get(&format!("{}/v2/team/unsigned/manifests/v1", refuse.url()));
    assert_eq!(g.body, upstream_bytes, "passed through byte for byte");
    assert_eq!(g.digest.as_deref(), Some(unsigned.index.as_str()));
    let g = get(&format!("{}/v2/team/by-b/manifests/v1", refuse.url()));
    assert_eq!(g.body, reg.get_manifest("team/by-b", "v1"));
    assert_eq!(refuse.metric(&verdicts("unsigned", "passed_through")), 2.0);
    // …while a signed index is honoured.
    let g = get(&format!("{}/v2/team/signed/manifests/v1", refuse.url()));
    assert_eq!(sha256(&g.body), signed.gpu);
}

#[test]
fn a_new_index_digest_is_verified_afresh() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "a");
    let host = reg.host();
    let old = push_demo(&reg, "team/app", "v1", "r1");
    let p_old = payload(&format!("{host}/team/app"), &old.index);
    let sig_old = sign(d, &key, &p_old);
    assert!(openssl_verifies(d, &public, &p_old, &sig_old));
    push_signature(&reg, "team/app", &old.index, &p_old, &sig_old, None);
    // A new index in the same repository, with the old signature replayed
    // under the new digest's .sig tag.
    let new = push_demo(&reg, "team/app", "v2", "r2");
    assert_ne!(new.index, old.index);
    push_signature(&reg, "team/app", &new.index, &p_old, &sig_old, None);
    let key_arg = public.to_str().unwrap();

    // While the old index's verdict is kept (30 s TTL), the new digest is
    // verified on its own, and the replay does not count.
    let from = mark(&reg);
    let m = mirror(&host, &["--trust-key", key_arg]);
    let get_tag = |m: &Mirror, tag: &str| {
        sha256(&get(&format!("{}/v2/team/app/manifests/{tag}", m.url())).body)
    };
    assert_eq!(get_tag(&m, "v1"), old.gpu);
    let between = mark(&reg);
    assert_eq!(get_tag(&m, "v2"), new.plain, "a replay must not count");
    let seen = upstream_since(&reg, between);
    assert!(seen.contains(&sig_uri("team/app", &new.index)), "{seen:?}");
    let line = format!(
        "index={} verdict=unsigned reason=\"sha256-{}.sig: the signature is for {}",
        new.index,
        new.index.strip_prefix("sha256:").unwrap(),
        old.index
    );
    assert!(m.wait_log(&line, Duration::from_secs(2)), "{}", m.log());
    // Every signature request of both indexes, as the registry saw them.
    let all = upstream_since(&reg, from);
    let cost = signature_requests(&all, &old) - signature_requests(&seen, &old)
        + signature_requests(&seen, &new);
    assert_eq!(m.metric(SIG_REQUESTS), cost as f64, "{all:?}");

    // The tag moves to the new index: verified afresh once the tag's
    // answer expires (1 s TTL); signed for real after that, it counts
    // once the verdict kept for the TTL has expired too.
    let m = mirror(&host, &["--trust-key", key_arg, "--cache-ttl", "1"]);
    assert_eq!(get_tag(&m, "v1"), old.gpu);
    reg.push_manifest(
        "team/app",
        "v1",
        OCI_INDEX,
        &reg.get_manifest("team/app", "v2"),
    );
    thread::sleep(Duration::from_millis(1300));
    assert_eq!(get_tag(&m, "v1"), new.plain);
    let p_new = payload(&format!("{host}/team/app"), &new.index);
    let sig_new = sign(d, &key, &p_new);
    assert!(openssl_verifies(d, &public, &p_new, &sig_new));
    push_signature(&reg, "team/app", &new.index, &p_new, &sig_new, None);
    thread::sleep(Duration::from_millis(1300));
    assert_eq!(get_tag(&m, "v1"), new.gpu);
    assert_eq!(m.metric(&verdicts("signed", "honoured")), 2.0);
    assert_eq!(m.metric(&verdicts("unsigned", "first_match")), 1.0);
}

#[test]
fn no_policy_for_the_repository_means_no_signature_request() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let (_key, public) = keypair(dir.path(), "a");
    let host = reg.host();
    let demo = push_demo(&reg, "team/app", "v1", "n");
    let key = public.to_str().unwrap();
    for extra in [
        &[][..],
        &[
            "--trust-key",
            key,
            "--trust-repository",
            "elsewhere.example/*",
        ][..],
        &["--trust-key", key, "--trust-repository", "*/other/*"][..],
    ] {
        let m = mirror(&host, extra);
        let from = mark(&reg);
        let g = get(&format!("{}/v2/team/app/manifests/v1", m.url()));
        assert_eq!(sha256(&g.body), demo.gpu, "annotations count as ever");
        // The tag and the chosen child, nothing else.
        assert_eq!(
            upstream_since(&reg, from),
            [
                "GET /v2/team/app/manifests/v1".to_owned(),
                format!("GET /v2/team/app/manifests/{}", demo.gpu)
            ],
            "{extra:?}"
        );
        assert_eq!(m.metric(SIG_REQUESTS), 0.0);
        assert!(!m.log().contains(" trust image="), "{}", m.log());
    }
}

/// One index in two repositories, one under the policy (unsigned there)
/// and one outside it: the mirror keeps its choice per index digest *and*
/// per kind of choice, so neither answer leaks into the other, in either
/// order.
#[test]
fn one_index_in_and_out_of_the_policy_keeps_both_answers() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let (_key, public) = keypair(dir.path(), "a");
    let host = reg.host();
    let inside = push_demo(&reg, "team/app", "v1", "same");
    let outside = push_demo(&reg, "other/app", "v1", "same");
    assert_eq!(inside.index, outside.index, "the same index in both");
    let key = public.to_str().unwrap();
    for order in [["other/app", "team/app"], ["team/app", "other/app"]] {
        let m = mirror(
            &host,
            &["--trust-key", key, "--trust-repository", "*/team/*"],
        );
        for repo in order {
            let g = get(&format!("{}/v2/{repo}/manifests/v1", m.url()));
            let want = if repo == "team/app" {
                &inside.plain
            } else {
                &outside.gpu
            };
            assert_eq!(
                &sha256(&g.body),
                want,
                "{repo} after {order:?}: {}",
                m.log()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// A signature endpoint that never answers.

/// A loopback HTTP/1.1 proxy in front of the registry on `target` that
/// forwards each request (one per connection) except those whose request
/// line contains `hold` (the `.sig` tag, the referrers API), which it
/// holds without a word.
struct SilentSignatures {
    port: u16,
    held: Arc<AtomicUsize>,
    stopped: Arc<AtomicBool>,
}

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

fn proxy_one(
    mut client: TcpStream,
    target: u16,
    hold: &str,
    held: &AtomicUsize,
    stopped: &AtomicBool,
) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(head) = read_head(&mut client) else {
        return;
    };
    if head.lines().next().is_some_and(|l| l.contains(hold)) {
        held.fetch_add(1, Ordering::SeqCst);
        let end = Instant::now() + Duration::from_secs(60);
        while Instant::now() < end && !stopped.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(50));
        }
        return;
    }
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
    while let Ok(n @ 1..) = up.read(&mut buf) {
        if client.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
}

impl SilentSignatures {
    fn start(target: u16, hold: &'static str) -> SilentSignatures {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = Arc::new(AtomicUsize::new(0));
        let stopped = Arc::new(AtomicBool::new(false));
        let (h, st) = (held.clone(), stopped.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (h, st) = (h.clone(), st.clone());
                thread::spawn(move || proxy_one(conn, target, hold, &h, &st));
            }
        });
        SilentSignatures {
            port,
            held,
            stopped,
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for SilentSignatures {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[test]
fn a_silent_signature_endpoint_is_cut_off_by_the_deadline() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let (_key, public) = keypair(dir.path(), "a");
    let demo = push_demo(&reg, "team/app", "v1", "t");
    let bytes = reg.get_manifest("team/app", "v1");
    reg.push_manifest("team/app", "v1-copy", OCI_INDEX, &bytes);
    let proxy = SilentSignatures::start(reg.port, ".sig ");
    let up = proxy.host();
    let key = public.to_str().unwrap();

    // serve: the read timeout (5 s) would hold the pull; the 1 s deadline
    // answers first, on platform alone.
    let m = mirror(&up, &["--trust-key", key, "--signature-deadline", "1"]);
    let g = get(&format!("{}/v2/team/app/manifests/v1", m.url()));
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(sha256(&g.body), demo.plain, "treated as unsigned");
    eprintln!(
        "serve: answered in {:?} with a 1 s signature deadline",
        g.took
    );
    assert!(
        g.took >= Duration::from_millis(900) && g.took < Duration::from_millis(3500),
        "answered in {:?}",
        g.took
    );
    assert_eq!(m.metric(&verdicts("deadline", "first_match")), 1.0);
    assert!(
        m.wait_log(
            "verdict=deadline reason=\"the signature reads did not finish within the 1 s deadline\"",
            Duration::from_secs(2)
        ),
        "{}",
        m.log()
    );
    assert_eq!(proxy.held.load(Ordering::SeqCst), 1);
    // A verdict cut off by the deadline is not kept: the next index fetch
    // (another tag, the same digest) asks again.
    let g = get(&format!("{}/v2/team/app/manifests/v1-copy", m.url()));
    assert_eq!(sha256(&g.body), demo.plain);
    assert_eq!(proxy.held.load(Ordering::SeqCst), 2);
    assert!(m.log().contains("verdict=deadline") && !m.log().contains("cached=true"));

    // select: its --timeout (30 s) would hold it; the deadline does not.
    let began = Instant::now();
    let r = signing::select(
        &format!("{up}/team/app:v1"),
        &["--trust-key", key, "--signature-deadline", "1"],
    );
    let took = began.elapsed();
    eprintln!("select: finished in {took:?} with a 1 s signature deadline");
    let v = r.expect(0).json();
    assert_eq!(v["digest"], json!(demo.plain), "{r:#?}");
    assert_eq!(v["trust"]["deadlinePassed"], json!(true));
    assert_eq!(v["trust"]["signed"], json!(false));
    r.stderr_has("passed the 1 s deadline");
    assert!(took < Duration::from_millis(3500), "select took {took:?}");

    // The bundle lookup obeys the same deadline: the .sig tag answers 404
    // at once, the referrers API never does.
    let proxy = SilentSignatures::start(reg.port, "/referrers/");
    let up = proxy.host();
    let m = mirror(&up, &["--trust-key", key, "--signature-deadline", "1"]);
    let g = get(&format!("{}/v2/team/app/manifests/v1", m.url()));
    assert_eq!(sha256(&g.body), demo.plain, "treated as unsigned");
    eprintln!(
        "serve: answered in {:?} with the referrers API silent, 1 s deadline",
        g.took
    );
    assert!(
        g.took >= Duration::from_millis(900) && g.took < Duration::from_millis(3500),
        "answered in {:?}",
        g.took
    );
    assert_eq!(proxy.held.load(Ordering::SeqCst), 1);
    assert_eq!(m.metric(&verdicts("deadline", "first_match")), 1.0);
    // The .sig 404 and the held referrers request, both sent.
    assert_eq!(m.metric(SIG_REQUESTS), 2.0);
}

// ---------------------------------------------------------------------------
// Children keep their own signatures.

#[test]
fn child_mode_answers_bytes_the_childs_own_signature_verifies() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "a");
    let host = reg.host();
    let demo = push_demo(&reg, "team/app", "v1", "c");
    // As `cosign sign --recursive`: the index and each child.
    sign_and_push(&reg, d, (&key, &public), "team/app", &demo.index);
    sign_and_push(&reg, d, (&key, &public), "team/app", &demo.gpu);
    let m = mirror(&host, &["--trust-key", public.to_str().unwrap()]);

    // Pulled by tag, as a runtime does: the child's own bytes.
    let g = get(&format!("{}/v2/team/app/manifests/v1", m.url()));
    assert_eq!(g.status, 200);
    let digest = sha256(&g.body);
    assert_eq!(digest, demo.gpu);
    assert_eq!(g.digest.as_deref(), Some(digest.as_str()));
    assert_eq!(g.body, reg.get_manifest("team/app", &demo.gpu));

    // As Podman's sigstoreSigned policy or `cosign verify` would, through
    // the mirror: the .sig of the digest of the bytes received…
    let hex = digest.strip_prefix("sha256:").unwrap();
    let s = get(&format!(
        "{}/v2/team/app/manifests/sha256-{hex}.sig",
        m.url()
    ));
    assert_eq!(s.status, 200, "{s:?}");
    let sig_manifest: Value = serde_json::from_slice(&s.body).unwrap();
    let layer = &sig_manifest["layers"][0];
    let payload_digest = layer["digest"].as_str().unwrap();
    let sig = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(
                layer["annotations"][signing::SIG_ANNOTATION]
                    .as_str()
                    .unwrap(),
            )
            .unwrap()
    };
    let p = get(&format!("{}/v2/team/app/blobs/{payload_digest}", m.url()));
    assert_eq!(sha256(&p.body), payload_digest);
    // …names those bytes, and openssl says the trusted key made it.
    let claims: Value = serde_json::from_slice(&p.body).unwrap();
    assert_eq!(
        claims["critical"]["image"]["docker-manifest-digest"],
        json!(digest)
    );
    assert!(openssl_verifies(d, &public, &p.body, &sig));

    // ocipick's verifier agrees, reading everything through the mirror
    // (the signature names the upstream repository, accepted explicitly
    // as a runtime behind a mirror does).
    let mut c = common::cmd(&[
        "select",
        "--no-config",
        "-p",
        "linux/amd64",
        "-o",
        "json",
        "--plain-http",
        &m.addr,
        "--trust-key",
        public.to_str().unwrap(),
        "--trust-accept-reference",
        &format!("{host}/team/app"),
        &format!("{}/team/app@{digest}", m.addr),
    ]);
    c.env("DOCKER_CONFIG", "/nonexistent/ocipick-signature-tests");
    let r = common::run_cmd(c);
    let v = r.expect(0).json();
    assert_eq!(v["trust"]["signed"], json!(true), "{r:#?}");
    assert_eq!(v["trust"]["digest"], json!(digest));
    assert_eq!(v["trust"]["key"], json!(public.display().to_string()));
}

// ---------------------------------------------------------------------------
// Sigstore bundles.

/// A DSSE bundle attached as cosign attaches it to a registry without
/// the referrers API: honoured by the mirror as select honours it, its
/// cost (the .sig 404, the referrers 404, the tag-schema index, the
/// bundle manifest and blob) in the registry's log and the metrics, and
/// kept by index digest.
#[test]
fn a_bundle_signed_index_is_honoured() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "a");
    let host = reg.host();
    let demo = push_demo(&reg, "team/bundled", "v1", "b");
    let (bundle, pae, sig) = dsse_bundle(d, &key, &statement(&demo.index));
    assert!(openssl_verifies(d, &public, &pae, &sig));
    let bundle_manifest = attach(
        &reg,
        "team/bundled",
        &subject(&reg, "team/bundled", "v1"),
        &bundle,
    );
    let bytes = reg.get_manifest("team/bundled", "v1");
    reg.push_manifest("team/bundled", "v1-copy", OCI_INDEX, &bytes);
    let m = mirror(&host, &["--trust-key", public.to_str().unwrap()]);

    let from = mark(&reg);
    let g = get(&format!("{}/v2/team/bundled/manifests/v1", m.url()));
    assert_eq!(
        sha256(&g.body),
        demo.gpu,
        "bundle-signed: the annotation counts"
    );
    let seen = upstream_since(&reg, from);
    assert!(
        seen.contains(&sig_uri("team/bundled", &demo.index)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&format!("GET /v2/team/bundled/manifests/{bundle_manifest}")),
        "{seen:?}"
    );
    let cost = signature_requests(&seen, &demo);
    eprintln!(
        "serve, bundle-signed index: {cost} signature requests, {} in all",
        seen.len()
    );
    assert_eq!(cost, 5, "{seen:?}");
    assert_eq!(m.metric(SIG_REQUESTS), cost as f64);
    assert_eq!(m.metric(&verdicts("signed", "honoured")), 1.0);

    let from = mark(&reg);
    let g = get(&format!("{}/v2/team/bundled/manifests/v1-copy", m.url()));
    assert_eq!(sha256(&g.body), demo.gpu);
    assert_eq!(signature_requests(&upstream_since(&reg, from), &demo), 0);
    assert_eq!(m.metric(SIG_REQUESTS), cost as f64);
}
