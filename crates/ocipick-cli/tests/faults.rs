//! Fault injection against the registry client: a misbehaving HTTP/1.1
//! server on loopback, written here, answers each request from a script
//! (by request number and path), and every test asserts the exit status, a
//! message fragment and how many requests the server saw. Every run of the
//! binary is under the kill guard (20 s), so a hang fails instead of
//! blocking the suite.
//!
//! Without `--plain-http` ocipick first tries HTTPS against a loopback
//! registry: the server sees a TLS ClientHello, counts it apart from the
//! HTTP requests and closes the connection, and ocipick falls back to
//! plain HTTP. Tests named `*_fallback` exercise that path; the others
//! pass `--plain-http 127.0.0.1:PORT`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The kill guard for every run.
const GUARD: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// The scripted server.

/// What the server does with one HTTP request.
enum Reply {
    /// A complete answer with a correct `Content-Length`.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Headers announcing `claimed` bytes, then only `body`, then close.
    Truncated {
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        claimed: usize,
    },
    /// 200 with `Content-Length: claimed` and no body at all; the
    /// connection stays open until the client closes it. A client that
    /// tried to read the body would wait for its read timeout.
    HeadOnly {
        headers: Vec<(String, String)>,
        claimed: u64,
    },
    /// 200 with chunked transfer encoding, chunks of `{"a":…` forever (up
    /// to a safety cap), until a write fails because the client is gone.
    EndlessChunked { headers: Vec<(String, String)> },
    /// Accept the request and never answer; hold the connection until the
    /// client closes it.
    Hang,
}

type Script = dyn Fn(usize, &str) -> Reply + Send + Sync;

/// The most an endless body writes before giving up on the client.
const ENDLESS_CAP: u64 = 512 << 20;

#[derive(Default)]
struct Counters {
    /// HTTP requests (request lines) seen, in order: their paths.
    paths: Mutex<Vec<String>>,
    /// TLS ClientHellos seen (connections closed at once).
    tls: AtomicUsize,
    /// Body bytes written by the endless replies.
    endless_written: AtomicU64,
    /// Whether an endless reply stopped because a write failed (rather
    /// than at the cap).
    endless_cut: AtomicBool,
    /// Whether an endless reply has finished.
    endless_done: AtomicBool,
}

struct Server {
    port: u16,
    counters: Arc<Counters>,
}

impl Server {
    fn start(script: impl Fn(usize, &str) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let counters = Arc::new(Counters::default());
        let script: Arc<Script> = Arc::new(script);
        let c = Arc::clone(&counters);
        // The accept loop lives as long as the test process; every test
        // has its own port, so leftovers are harmless.
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let c = Arc::clone(&c);
                let script = Arc::clone(&script);
                thread::spawn(move || serve(stream, &c, &*script));
            }
        });
        Server { port, counters }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn paths(&self) -> Vec<String> {
        self.counters.paths.lock().expect("paths").clone()
    }

    fn requests(&self) -> usize {
        self.counters.paths.lock().expect("paths").len()
    }

    fn tls(&self) -> usize {
        self.counters.tls.load(Ordering::SeqCst)
    }
}

/// Serves one connection: requests one after the other until a reply
/// closes it (every reply says `Connection: close`).
fn serve(stream: TcpStream, c: &Counters, script: &Script) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut w = stream;
    // A TLS record starts with 0x16 (handshake): this is ocipick trying
    // HTTPS first. Close the connection; it falls back to plain HTTP.
    match reader.fill_buf() {
        Ok([0x16, ..]) => {
            c.tls.fetch_add(1, Ordering::SeqCst);
            let _ = w.shutdown(Shutdown::Both);
            return;
        }
        Ok([]) | Err(_) => return,
        Ok(_) => {}
    }
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    // Skip the headers.
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => return,
            Ok(_) if h == "\r\n" || h == "\n" => break,
            Ok(_) => {}
        }
    }
    let n = {
        let mut p = c.paths.lock().expect("paths");
        p.push(path.clone());
        p.len() - 1
    };
    match script(n, &path) {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let _ = w.write_all(&head(status, &headers, Some(body.len() as u64)));
            let _ = w.write_all(&body);
            let _ = w.flush();
            let _ = w.shutdown(Shutdown::Write);
            drain_until_closed(&mut reader);
        }
        Reply::Truncated {
            headers,
            body,
            claimed,
        } => {
            let _ = w.write_all(&head(200, &headers, Some(claimed as u64)));
            let _ = w.write_all(&body);
            let _ = w.flush();
            let _ = w.shutdown(Shutdown::Both);
        }
        Reply::HeadOnly { headers, claimed } => {
            let _ = w.write_all(&head(200, &headers, Some(claimed)));
            let _ = w.flush();
            drain_until_closed(&mut reader);
        }
        Reply::EndlessChunked { mut headers } => {
            headers.push(("Transfer-Encoding".into(), "chunked".into()));
            let _ = w.write_all(&head(200, &headers, None));
            // Valid JSON as far as it goes: `{"a":"xxxx…` never closed.
            let mut written = 0u64;
            let mut cut = false;
            let first = b"{\"a\":\"";
            if w.write_all(format!("{:x}\r\n", first.len()).as_bytes())
                .and_then(|_| w.write_all(first))
                .and_then(|_| w.write_all(b"\r\n"))
                .is_err()
            {
                cut = true;
            }
            let chunk = vec![b'x'; 16 * 1024];
            while !cut && written < ENDLESS_CAP {
                let r = w
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .and_then(|_| w.write_all(&chunk))
                    .and_then(|_| w.write_all(b"\r\n"));
                match r {
                    Ok(()) => written += chunk.len() as u64,
                    Err(_) => cut = true,
                }
            }
            c.endless_written.store(written, Ordering::SeqCst);
            c.endless_cut.store(cut, Ordering::SeqCst);
            c.endless_done.store(true, Ordering::SeqCst);
        }
        Reply::Hang => drain_until_closed(&mut reader),
    }
}

/// Reads (and discards) until the peer closes or 30 s pass.
fn drain_until_closed(r: &mut impl Read) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}

fn head(status: u16, headers: &[(String, String)], len: Option<u64>) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    };
    let mut s = format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\n");
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(n) = len {
        s.push_str(&format!("Content-Length: {n}\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

fn hdr(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

// ---------------------------------------------------------------------------
// Documents and replies.

/// A small valid OCI index: linux/amd64 then linux/arm64.
fn index_bytes() -> Vec<u8> {
    let doc = index(&[
        entry("fault-amd64", Some("linux/amd64"), &[]),
        entry("fault-arm64", Some("linux/arm64"), &[]),
    ]);
    serde_json::to_vec(&doc).expect("serialize")
}

fn amd64_digest() -> String {
    fake_digest("fault-amd64")
}

/// A small valid OCI image manifest.
fn image_manifest_bytes() -> Vec<u8> {
    let config = b"{}";
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256(config),
            "size": config.len(),
        },
        "layers": [],
    });
    serde_json::to_vec(&doc).expect("serialize")
}

/// 200 with the index, its media type and its true digest.
fn ok_index() -> Reply {
    let body = index_bytes();
    Reply::Full {
        status: 200,
        headers: vec![
            hdr("Content-Type", OCI_INDEX),
            hdr("Docker-Content-Digest", &sha256(&body)),
        ],
        body,
    }
}

fn status(code: u16, headers: Vec<(String, String)>) -> Reply {
    Reply::Full {
        status: code,
        headers,
        body: Vec::new(),
    }
}

fn error_body(code: u16, err: &str, message: &str) -> Reply {
    Reply::Full {
        status: code,
        headers: vec![hdr("Content-Type", "application/json")],
        body: serde_json::to_vec(&json!({"errors": [{"code": err, "message": message}]}))
            .expect("serialize"),
    }
}

// ---------------------------------------------------------------------------
// Running the binary.

struct Timed {
    run: Run,
    elapsed: Duration,
}

/// `ocipick select --no-config -p linux/amd64 EXTRA… SOURCE`, under the
/// kill guard, with an empty Docker configuration.
fn select(source: &str, extra: &[&str]) -> Timed {
    let docker = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["select", "--no-config", "-p", "linux/amd64"];
    args.extend_from_slice(extra);
    args.push(source);
    let mut c = cmd(&args);
    c.env("DOCKER_CONFIG", docker.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let start = Instant::now();
    let child = c.spawn().expect("spawn ocipick");
    let run = wait_guarded(child, GUARD);
    let elapsed = start.elapsed();
    // Shown by the test harness only when the test fails.
    eprintln!(
        "ocipick {args:?}: exit {} after {elapsed:?}\n{}",
        run.code, run.stderr
    );
    Timed { run, elapsed }
}

/// As `select`, with `--plain-http` for the server.
fn select_plain(s: &Server, source: &str, extra: &[&str]) -> Timed {
    let host = s.host();
    let mut args = vec!["--plain-http", host.as_str()];
    args.extend_from_slice(extra);
    select(source, &args)
}

fn tag_ref(s: &Server) -> String {
    format!("{}/fault/repo:v1", s.host())
}

fn manifest_path(what: &str) -> String {
    format!("/v2/fault/repo/manifests/{what}")
}

// ---------------------------------------------------------------------------
// The cases.

#[test]
fn baseline_index_is_selected() {
    let s = Server::start(|_, _| ok_index());
    let t = select_plain(&s, &tag_ref(&s), &[]);
    t.run.expect(0);
    assert!(t.run.stdout.contains(&amd64_digest()), "{:#?}", t.run);
    assert_eq!(s.paths(), vec![manifest_path("v1")]);
    assert_eq!(s.tls(), 0, "--plain-http must skip HTTPS");
}

#[test]
fn baseline_https_falls_back_to_http_fallback() {
    let s = Server::start(|_, _| ok_index());
    let t = select(&tag_ref(&s), &[]);
    t.run.expect(0);
    assert!(t.run.stdout.contains(&amd64_digest()), "{:#?}", t.run);
    assert_eq!(s.tls(), 1, "one HTTPS attempt before the fallback");
    assert_eq!(s.paths(), vec![manifest_path("v1")]);
}

#[test]
fn truncated_body_fails_without_hanging() {
    let s = Server::start(|_, _| {
        let body = index_bytes();
        let claimed = body.len() + 1000;
        Reply::Truncated {
            headers: vec![hdr("Content-Type", OCI_INDEX)],
            body: body[..body.len() / 2].to_vec(),
            claimed,
        }
    });
    let t = select_plain(&s, &tag_ref(&s), &["--timeout", "5"]);
    t.run.expect(3).stderr_has("reading the body");
    assert_eq!(s.requests(), 1);
    assert!(t.elapsed < Duration::from_secs(4), "took {:?}", t.elapsed);
}

#[test]
fn honest_content_length_over_the_limit_is_refused_unread() {
    // No body follows the head: a client that waited for it would sit
    // until its 10 s read timeout.
    let s = Server::start(|_, _| Reply::HeadOnly {
        headers: vec![hdr("Content-Type", OCI_INDEX)],
        claimed: 50_000_000,
    });
    let t = select_plain(
        &s,
        &tag_ref(&s),
        &["--max-index-bytes", "1000", "--timeout", "10"],
    );
    t.run
        .expect(3)
        .stderr_has("Content-Length 50000000 exceeds the 1000-byte limit")
        .stderr_has("--max-index-bytes");
    assert_eq!(s.requests(), 1);
    assert!(t.elapsed < Duration::from_secs(5), "took {:?}", t.elapsed);
}

#[test]
fn endless_chunked_body_stops_at_the_limit_fallback() {
    let s = Server::start(|_, _| Reply::EndlessChunked {
        headers: vec![hdr("Content-Type", OCI_INDEX)],
    });
    let t = select(&tag_ref(&s), &["--max-index-bytes", "1000"]);
    t.run
        .expect(3)
        .stderr_has("body exceeds the 1000-byte limit");
    assert!(t.elapsed < Duration::from_secs(5), "took {:?}", t.elapsed);
    assert_eq!(s.requests(), 1);
    assert_eq!(s.tls(), 1);
    // The process has exited: the server's writes must fail soon.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.counters.endless_done.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the endless writer never stopped"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let written = s.counters.endless_written.load(Ordering::SeqCst);
    eprintln!("the endless writer wrote {written} bytes");
    assert!(
        s.counters.endless_cut.load(Ordering::SeqCst),
        "the server wrote all {written} bytes: the client kept reading"
    );
    // What socket buffers hold at most; far below the cap.
    assert!(
        written < 64 << 20,
        "the server wrote {written} bytes before the client went away"
    );
}

#[test]
fn body_not_matching_the_requested_digest() {
    let s = Server::start(|_, _| ok_index());
    let other = sha256(b"some other bytes");
    let source = format!("{}/fault/repo@{other}", s.host());
    let t = select_plain(&s, &source, &[]);
    t.run.expect(3).stderr_has("hashes to");
    assert_eq!(s.paths(), vec![manifest_path(&other)]);
}

/// `select --raw` fetches the chosen manifest by its digest and checks it
/// before printing anything: bytes that do not hash to the digest, and
/// bytes that hash right but are not the size the index declares, are
/// exit 3 with nothing on stdout; honest bytes are printed exactly as
/// served. Each run makes two requests: the index, then the manifest by
/// digest (no blob).
#[test]
fn raw_manifest_is_checked_before_it_is_printed() {
    let honest = image_manifest_bytes();
    let digest = sha256(&honest);
    let mut forged: serde_json::Value = serde_json::from_slice(&honest).unwrap();
    forged["annotations"] = json!({"org.example.forged": "yes"});
    let forged = serde_json::to_vec(&forged).unwrap();
    // (what the manifest GET answers, the size the index declares, exit
    // status, what stderr says)
    let cases = [
        (honest.clone(), honest.len(), 0, ""),
        (forged, honest.len(), 3, "hashes to"),
        (honest.clone(), honest.len() + 1, 3, "its descriptor says"),
    ];
    for (served, declared, code, says) in cases {
        let listing = serde_json::to_vec(&index(&[json!({
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": declared,
            "platform": platform("linux/amd64"),
        })]))
        .unwrap();
        let body = served.clone();
        let s = Server::start(move |_, path| {
            let (t, b) = if path.ends_with("/v1") {
                (OCI_INDEX, listing.clone())
            } else {
                (OCI_MANIFEST, body.clone())
            };
            Reply::Full {
                status: 200,
                headers: vec![hdr("Content-Type", t)],
                body: b,
            }
        });
        let t = select_plain(&s, &tag_ref(&s), &["--raw"]);
        t.run.expect(code).stderr_has(says);
        assert_eq!(s.paths(), vec![manifest_path("v1"), manifest_path(&digest)]);
        if code == 0 {
            assert_eq!(t.run.stdout.as_bytes(), &served[..]);
        } else {
            assert_eq!(t.run.stdout, "", "nothing printed on a failed check");
        }
    }
}

#[test]
fn docker_content_digest_disagreeing_with_the_body() {
    let s = Server::start(|_, _| Reply::Full {
        status: 200,
        headers: vec![
            hdr("Content-Type", OCI_INDEX),
            hdr("Docker-Content-Digest", &sha256(b"not the body")),
        ],
        body: index_bytes(),
    });
    let t = select_plain(&s, &tag_ref(&s), &[]);
    t.run
        .expect(3)
        .stderr_has("Docker-Content-Digest says")
        .stderr_has("hashes to");
    assert_eq!(s.requests(), 1);
}

#[test]
fn content_type_disagreeing_with_the_body() {
    let s = Server::start(|_, _| Reply::Full {
        status: 200,
        headers: vec![hdr("Content-Type", DOCKER_LIST)],
        body: index_bytes(),
    });
    let t = select_plain(&s, &tag_ref(&s), &[]);
    t.run
        .expect(3)
        .stderr_has("disagrees")
        .stderr_has(DOCKER_LIST)
        .stderr_has(OCI_INDEX);
    assert_eq!(s.requests(), 1);
}

#[test]
fn one_500_then_success_is_retried() {
    let s = Server::start(|n, _| {
        if n == 0 {
            status(500, vec![])
        } else {
            ok_index()
        }
    });
    let t = select_plain(&s, &tag_ref(&s), &[]);
    t.run.expect(0);
    assert!(t.run.stdout.contains(&amd64_digest()), "{:#?}", t.run);
    assert_eq!(s.paths(), vec![manifest_path("v1"), manifest_path("v1")]);
}

#[test]
fn persistent_503_gives_up_after_the_retries_fallback() {
    let s = Server::start(|n, _| {
        if n < 3 {
            status(503, vec![])
        } else {
            ok_index()
        }
    });
    let t = select(&tag_ref(&s), &["--retries", "2"]);
    t.run
        .expect(3)
        .stderr_has("HTTP 503")
        .stderr_has(&format!("{}/fault/repo", s.host()));
    assert_eq!(s.requests(), 3, "one try and two retries");
    assert_eq!(s.tls(), 1);
}

#[test]
fn retry_after_one_second_is_honoured() {
    let s = Server::start(|n, _| {
        if n == 0 {
            status(429, vec![hdr("Retry-After", "1")])
        } else {
            ok_index()
        }
    });
    let t = select_plain(&s, &tag_ref(&s), &[]);
    t.run.expect(0);
    assert_eq!(s.requests(), 2);
    assert!(
        t.elapsed >= Duration::from_millis(950),
        "retried after {:?}, before Retry-After",
        t.elapsed
    );
    assert!(t.elapsed < Duration::from_secs(8), "took {:?}", t.elapsed);
}

#[test]
fn retry_after_an_hour_gives_up_promptly() {
    let s = Server::start(|n, _| {
        if n == 0 {
            status(429, vec![hdr("Retry-After", "3600")])
        } else {
            ok_index()
        }
    });
    let t = select_plain(&s, &tag_ref(&s), &[]);
    t.run.expect(3).stderr_has("HTTP 429");
    assert_eq!(s.requests(), 1);
    assert!(t.elapsed < Duration::from_secs(5), "took {:?}", t.elapsed);
}

#[test]
fn silent_server_times_out() {
    let s = Server::start(|_, _| Reply::Hang);
    let t = select_plain(&s, &tag_ref(&s), &["--timeout", "1"]);
    t.run.expect(3).stderr_has("timed out");
    assert!(t.elapsed < Duration::from_secs(6), "took {:?}", t.elapsed);
    assert!((1..=4).contains(&s.requests()), "requests: {:?}", s.paths());
}

#[test]
fn silent_server_times_out_fallback() {
    // The HTTPS attempt sees no ServerHello either: the TLS handshake
    // times out, then plain HTTP does.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = Arc::clone(&accepted);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            a.fetch_add(1, Ordering::SeqCst);
            thread::spawn(move || drain_until_closed(&mut stream));
        }
    });
    let t = select(
        &format!("127.0.0.1:{port}/fault/repo:v1"),
        &["--timeout", "1"],
    );
    t.run.expect(3).stderr_has("timed out");
    assert!(t.elapsed < Duration::from_secs(8), "took {:?}", t.elapsed);
    let n = accepted.load(Ordering::SeqCst);
    assert!((1..=5).contains(&n), "{n} connections");
}

#[test]
fn connection_refused_after_bounded_retries() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let host = format!("127.0.0.1:{port}");
    // Three retries with a 200 ms backoff that doubles: 1.4 s of waiting.
    let t = select(
        &format!("{host}/fault/repo:v1"),
        &["--plain-http", &host, "--retries", "3"],
    );
    t.run.expect(3).stderr_has(&format!("{host}/fault/repo"));
    assert!(
        t.elapsed >= Duration::from_millis(1300),
        "no backoff between retries: {:?}",
        t.elapsed
    );
    assert!(t.elapsed < Duration::from_secs(10), "took {:?}", t.elapsed);
}

#[test]
fn connection_refused_fallback() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let host = format!("127.0.0.1:{port}");
    let t = select(&format!("{host}/fault/repo:v1"), &["--retries", "1"]);
    t.run.expect(3).stderr_has(&format!("{host}/fault/repo"));
    assert!(t.elapsed < Duration::from_secs(10), "took {:?}", t.elapsed);
}

#[test]
fn unauthorized_without_a_challenge() {
    let s = Server::start(|_, _| status(401, vec![]));
    let t = select_plain(&s, &tag_ref(&s), &[]);
    t.run
        .expect(3)
        .stderr_has("HTTP 401")
        .stderr_has("WWW-Authenticate");
    assert_eq!(s.requests(), 1);
}

#[test]
fn bearer_token_endpoint_failing_fallback() {
    let realm = Arc::new(Mutex::new(String::new()));
    let r = Arc::clone(&realm);
    let s = Server::start(move |_, path| {
        if path.starts_with("/token") {
            status(500, vec![])
        } else {
            let realm = r.lock().expect("realm").clone();
            status(
                401,
                vec![hdr(
                    "WWW-Authenticate",
                    &format!(
                        r#"Bearer realm="{realm}",service="fault",scope="repository:fault/repo:pull""#
                    ),
                )],
            )
        }
    });
    *realm.lock().expect("realm") = format!("http://{}/token", s.host());
    let t = select(&tag_ref(&s), &["--retries", "0"]);
    t.run
        .expect(3)
        .stderr_has("token endpoint")
        .stderr_has("HTTP 500")
        .stderr_has(&format!("http://{}/token", s.host()));
    let paths = s.paths();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert_eq!(paths[0], manifest_path("v1"));
    assert!(
        paths[1].starts_with("/token?")
            && paths[1].contains("scope=repository%3Afault%2Frepo%3Apull"),
        "{paths:?}"
    );
}

#[test]
fn image_manifest_for_a_tag_is_the_only_candidate() {
    let s = Server::start(|_, _| {
        let body = image_manifest_bytes();
        Reply::Full {
            status: 200,
            headers: vec![
                hdr("Content-Type", OCI_MANIFEST),
                hdr("Docker-Content-Digest", &sha256(&body)),
            ],
            body,
        }
    });
    let t = select_plain(&s, &tag_ref(&s), &["-o", "json"]);
    t.run.expect(0);
    let out = t.run.json().to_string();
    let digest = sha256(&image_manifest_bytes());
    assert!(out.contains(&digest), "{out}");
    assert!(out.contains(OCI_MANIFEST), "{out}");
    assert_eq!(s.requests(), 1);
}

#[test]
fn not_found_reports_the_registry_error_code() {
    let s = Server::start(|_, _| error_body(404, "MANIFEST_UNKNOWN", "manifest unknown"));
    let t = select_plain(&s, &tag_ref(&s), &[]);
    t.run
        .expect(3)
        .stderr_has("HTTP 404")
        .stderr_has("MANIFEST_UNKNOWN")
        .stderr_has("manifest unknown");
    assert_eq!(s.requests(), 1, "a 404 is not retried");
}
