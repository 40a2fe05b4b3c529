//! Resource bounds of the `ocipick` binary on the worst inputs: peak memory
//! (measured with `/usr/bin/time -v` when it is installed) and time of very
//! large and very deep documents, over-limit standard input, and layout
//! files that are FIFOs or links to devices. Every run must end in the
//! correct result or a clean error (exit 2), within the guard's time, and
//! write nothing (each runs in an empty working directory that must stay
//! empty).
//!
//! Blob symbolic links out of the layout and blob FIFOs are covered by
//! `tests/layout.rs` (`blob_symlink_out_of_the_layout_is_refused`,
//! `fifo_is_refused_without_hanging`); standard input beyond the limit by
//! `tests/cli.rs::stdin_over_the_limit_stops_reading` (here only its peak
//! memory is measured).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const TIME: &str = "/usr/bin/time";

/// One measured run: its outcome, peak RSS in KiB (if measured) and time.
struct Measured {
    run: Run,
    rss_kib: Option<u64>,
    wall: Duration,
}

/// Runs `ocipick ARGS` in an empty directory, under `/usr/bin/time -v`
/// when available, with `stdin` fed from a file or a generator.
fn measured(args: &[&str], stdin: Option<&Path>) -> Measured {
    let cwd = tempfile::tempdir().unwrap();
    let timed = Path::new(TIME).exists();
    let mut c = if timed {
        let mut c = Command::new(TIME);
        c.arg("-v").arg(BIN);
        c
    } else {
        Command::new(BIN)
    };
    c.args(args)
        .env_remove("OCIPICK_CONFIG")
        .current_dir(cwd.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match stdin {
        Some(p) => c.stdin(std::fs::File::open(p).unwrap()),
        None => c.stdin(Stdio::null()),
    };
    let t = Instant::now();
    let child = c.spawn().unwrap();
    let mut run = wait_guarded(child, Duration::from_secs(60));
    let wall = t.elapsed();
    let rss_kib = if timed { take_rss(&mut run) } else { None };
    let left: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "ocipick wrote into its working directory: {left:?}"
    );
    Measured { run, rss_kib, wall }
}

/// Removes `/usr/bin/time -v`'s report from stderr, returning the peak RSS.
fn take_rss(run: &mut Run) -> Option<u64> {
    let at = run.stderr.find("\tCommand being timed:")?;
    let report = run.stderr.split_off(at);
    // `time` reports a non-zero exit with a line of its own.
    if let Some(i) = run.stderr.find("Command exited with non-zero status") {
        run.stderr.truncate(i);
    }
    report
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|n| n.parse().ok())
}

fn report(name: &str, m: &Measured, bound_mib: u64) {
    match m.rss_kib {
        Some(k) => {
            println!(
                "{name}: exit {}, peak RSS {:.1} MiB, wall {:?}",
                m.run.code,
                k as f64 / 1024.0,
                m.wall
            );
            assert!(
                k / 1024 <= bound_mib,
                "{name}: peak RSS {k} KiB over {bound_mib} MiB"
            );
        }
        None => println!(
            "{name}: exit {}, wall {:?} (no /usr/bin/time)",
            m.run.code, m.wall
        ),
    }
}

fn amd64(i: usize, os: &str, ann: Option<(&str, &str)>) -> Value {
    let mut d = json!({
        "mediaType": OCI_MANIFEST,
        "digest": format!("sha256:{i:064x}"),
        "size": 500,
        "platform": {"architecture": "amd64", "os": os},
    });
    if let Some((k, v)) = ann {
        d["annotations"] = json!({ k: v });
    }
    d
}

/// 100,000 entries (about 20 MB): refused at the default 4 MiB limit while
/// reading; selected (the last entry) with a raised limit, from a file and
/// from standard input.
#[test]
fn hundred_thousand_entries() {
    let dir = tempfile::tempdir().unwrap();
    let n = 100_000;
    let mut entries: Vec<Value> = (0..n - 1).map(|i| amd64(i, "windows", None)).collect();
    entries.push(amd64(n - 1, "linux", None));
    let f = write_json(dir.path(), "big.json", &index(&entries));
    let size = std::fs::metadata(&f).unwrap().len();

    let m = measured(&["select", "--no-config", "-p", "linux/amd64", &f], None);
    m.run.expect(2).stderr_has("limit");
    report("100k entries, default limit", &m, 64);

    let args = [
        "select",
        "--no-config",
        "-p",
        "linux/amd64",
        "-o",
        "json",
        "--max-index-bytes",
        "64MiB",
    ];
    let mut with_file = args.to_vec();
    with_file.push(&f);
    let m = measured(&with_file, None);
    assert_eq!(m.run.expect(0).json()["position"], json!(n - 1));
    report(&format!("100k entries ({size} bytes), file"), &m, 512);

    let mut with_stdin = args.to_vec();
    with_stdin.push("-");
    let m = measured(&with_stdin, Some(Path::new(&f)));
    assert_eq!(m.run.expect(0).json()["position"], json!(n - 1));
    report(&format!("100k entries ({size} bytes), stdin"), &m, 512);

    let m = measured(
        &[
            "rank",
            "--no-config",
            "-p",
            "linux/amd64",
            "-o",
            "json",
            "--max-index-bytes",
            "64MiB",
            &f,
        ],
        None,
    );
    m.run.expect(0);
    report("100k entries, rank -o json", &m, 1024);
}

/// A 1 MiB annotation value: selected and printed whole.
#[test]
fn one_mib_annotation_value() {
    let dir = tempfile::tempdir().unwrap();
    let big = "v".repeat(1 << 20);
    let doc = index(&[
        amd64(0, "linux", None),
        amd64(1, "linux", Some(("org.example.big", &big))),
    ]);
    let f = write_json(dir.path(), "ann.json", &doc);
    let m = measured(
        &[
            "select",
            "--no-config",
            "-p",
            "linux/amd64",
            "-o",
            "json",
            "--prefer",
            "org.example.big",
            &f,
        ],
        None,
    );
    let v = m.run.expect(0).json();
    assert_eq!(v["position"], json!(1));
    assert_eq!(
        v["annotations"]["org.example.big"].as_str().unwrap().len(),
        1 << 20
    );
    report("1 MiB annotation", &m, 64);
}

/// 100,000 levels of nesting: unclosed is a clean error; closed inside an
/// unknown field is skipped (valid JSON) and the entry is selected.
#[test]
fn deep_nesting() {
    let dir = tempfile::tempdir().unwrap();
    let e = r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f","size":1,"platform":{"architecture":"amd64","os":"linux"}}"#;
    let depth = 100_000;
    let open = format!(
        r#"{{"schemaVersion":2,"x":{},"manifests":[{e}]}}"#,
        "[".repeat(depth)
    );
    let closed = format!(
        r#"{{"schemaVersion":2,"x":{}{},"manifests":[{e}]}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let in_manifests = format!(
        r#"{{"schemaVersion":2,"manifests":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    for (name, text, code) in [
        ("unclosed", open, 2),
        ("closed", closed, 0),
        ("as manifests", in_manifests, 2),
    ] {
        let p = dir.path().join(format!("{name}.json"));
        std::fs::write(&p, text).unwrap();
        let m = measured(
            &[
                "select",
                "--no-config",
                "-p",
                "linux/amd64",
                p.to_str().unwrap(),
            ],
            None,
        );
        m.run.expect(code);
        report(&format!("100,000-deep nesting, {name}"), &m, 64);
    }
}

/// Standard input far beyond the limit: reading stops at the limit, so
/// memory stays near the limit whatever the input's size. (Behaviour is
/// tested in tests/cli.rs; this measures memory.)
#[test]
fn over_limit_stdin_memory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge");
    let mut f = std::fs::File::create(&p).unwrap();
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..256 {
        f.write_all(&chunk).unwrap();
    }
    drop(f);
    let m = measured(
        &[
            "select",
            "--no-config",
            "-p",
            "linux/amd64",
            "--max-index-bytes",
            "4MiB",
            "-",
        ],
        Some(&p),
    );
    m.run.expect(2).stderr_has("<stdin>");
    report("256 MiB stdin, 4 MiB limit", &m, 64);
}

/// Layout files that are not regular files are refused before they are
/// opened: `index.json` or `oci-layout` as a FIFO (nobody writes to it, so
/// opening it would hang), `index.json` as a link to `/dev/zero` (endless)
/// or to a directory.
#[test]
fn layout_special_files_are_refused() {
    let cases: [(&str, &str); 4] = [
        ("index.json", "fifo"),
        ("oci-layout", "fifo"),
        ("index.json", "/dev/zero"),
        ("index.json", "/"),
    ];
    for (file, kind) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        for f in ["oci-layout", "index.json"] {
            if f != file {
                let body: &[u8] = if f == "oci-layout" {
                    br#"{"imageLayoutVersion":"1.0.0"}"#
                } else {
                    br#"{"schemaVersion":2,"manifests":[]}"#
                };
                std::fs::write(dir.path().join(f), body).unwrap();
            }
        }
        let target = dir.path().join(file);
        if kind == "fifo" {
            let st = Command::new("mkfifo").arg(&target).status().unwrap();
            assert!(st.success());
        } else {
            std::os::unix::fs::symlink(kind, &target).unwrap();
        }
        let m = measured(
            &[
                "select",
                "--no-config",
                "-p",
                "linux/amd64",
                dir.path().to_str().unwrap(),
            ],
            None,
        );
        m.run.expect(2);
        assert!(
            m.wall < Duration::from_secs(10),
            "{file} as {kind}: {:?}",
            m.wall
        );
        report(&format!("layout {file} as {kind}"), &m, 64);
    }
}

// ---------------------------------------------------------------------------
// Security claims of docs/security.md that no other test backs.

/// Annotation values are data: whatever they hold (shell syntax, newlines,
/// terminal escapes, a fake digest), `resolve` prints exactly the selected
/// digest and nothing from the annotations, and the JSON output carries
/// them as escaped JSON strings.
#[test]
fn hostile_annotations_do_not_reach_resolve_output() {
    let dir = tempfile::tempdir().unwrap();
    let evil = "$(touch pwned); `id` --privileged\n\u{1b}[2Jsha256:0000\r\u{7}";
    let doc = index(&[
        amd64(0, "linux", Some(("org.example.run", evil))),
        amd64(1, "linux", Some((evil, "x"))),
    ]);
    let f = write_json(dir.path(), "evil.json", &doc);
    let m = measured(&["resolve", "--no-config", "-p", "linux/amd64", &f], None);
    assert_eq!(m.run.expect(0).stdout, format!("sha256:{:064x}\n", 0));
    let m = measured(
        &[
            "select",
            "--no-config",
            "-p",
            "linux/amd64",
            "-o",
            "json",
            "--prefer",
            "org.example.run",
            &f,
        ],
        None,
    );
    let v = m.run.expect(0).json();
    assert_eq!(v["annotations"]["org.example.run"], json!(evil));
    assert!(!m.run.stdout.contains('\u{1b}') && !m.run.stdout.contains('\r'));
    assert!(!dir.path().join("pwned").exists());
}

/// The text output of `select` and `rank` shows annotation values, which
/// come from the registry: control characters in them (a newline that
/// forges a `digest` line, terminal escapes) must not reach the terminal
/// raw.
#[test]
fn text_output_escapes_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let evil = "x\ndigest   sha256:forged\u{1b}[2J\r";
    let doc = index(&[amd64(0, "linux", Some(("org.example.note", evil)))]);
    let f = write_json(dir.path(), "evil.json", &doc);
    for sub in ["select", "rank"] {
        let m = measured(&[sub, "--no-config", "-p", "linux/amd64", &f], None);
        let out = &m.run.expect(0).stdout;
        assert!(
            !out.contains('\u{1b}') && !out.contains('\r'),
            "{sub}: {out:?}"
        );
        assert!(
            !out.lines().any(|l| l.starts_with("digest   sha256:forged")),
            "{sub}: {out:?}"
        );
    }
}

/// A plain-HTTP registry on 127.0.0.1 that records what it receives.
struct Plain {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl Plain {
    fn start(body: Vec<u8>) -> Plain {
        use std::io::Read;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let seen: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>> = Default::default();
        let s = seen.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else { continue };
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                    if head.first() == Some(&0x16) {
                        break; // a TLS ClientHello: not answered
                    }
                }
                let plain = head.starts_with(b"GET ");
                s.lock().unwrap().push(head);
                if plain {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {OCI_INDEX}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(&body);
                    let _ = c.write_all(&r);
                }
            }
        });
        Plain { port, seen }
    }

    fn plain_requests(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.starts_with(b"GET "))
            .count()
    }
}

/// Plain HTTP is used only for loopback registries or with --plain-http:
/// `127.1` reaches 127.0.0.1 but is not recognised as a loopback name, so
/// ocipick speaks only TLS to it (and fails) until `--plain-http` names it.
#[test]
fn plain_http_only_for_loopback_names_or_when_asked() {
    let doc = serde_json::to_vec(&index(&[amd64(0, "linux", None)])).unwrap();
    let s = Plain::start(doc);
    let host = format!("127.1:{}", s.port);
    let source = format!("{host}/sec/repo:latest");
    let base = [
        "select",
        "--no-config",
        "-p",
        "linux/amd64",
        "--retries",
        "0",
        "--timeout",
        "2",
    ];
    let mut args = base.to_vec();
    args.push(&source);
    let m = measured(&args, None);
    m.run.expect(3);
    assert_eq!(
        s.plain_requests(),
        0,
        "plain HTTP sent to a non-loopback name"
    );
    assert!(
        !s.seen.lock().unwrap().is_empty(),
        "no TLS attempt reached the server"
    );

    let mut args = base.to_vec();
    args.extend(["--plain-http", host.as_str(), source.as_str()]);
    measured(&args, None).run.expect(0);
    assert_eq!(s.plain_requests(), 1);

    // The loopback name itself falls back to plain HTTP after HTTPS fails.
    let loopback = format!("127.0.0.1:{}/sec/repo:latest", s.port);
    let mut args = base.to_vec();
    args.push(&loopback);
    measured(&args, None).run.expect(0);
    assert_eq!(s.plain_requests(), 2);
}

/// A plain-HTTP server on 127.0.0.1 answering each request head with
/// `answer(head, port)`, recording the heads.
struct Scripted {
    port: u16,
    heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Scripted {
    fn start(answer: fn(&str, u16) -> Vec<u8>) -> Scripted {
        use std::io::Read;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let heads: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
        let h = heads.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else { continue };
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let _ = c.write_all(&answer(&head, port));
                h.lock().unwrap().push(head);
            }
        });
        Scripted { port, heads }
    }
}

fn http(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    let mut r = r.into_bytes();
    r.extend_from_slice(body);
    r
}

/// A registry whose token realm is `http://REALM_HOST:PORT/token`, where
/// REALM_HOST is the first path segment of the repository (`127.1` or
/// `127.0.0.1`).
fn token_registry(head: &str, port: u16) -> Vec<u8> {
    let path = head.split(' ').nth(1).unwrap_or("");
    let authorized = head
        .to_ascii_lowercase()
        .contains("authorization: bearer t0ken");
    if path.starts_with("/token") {
        return http("200 OK", &[], br#"{"token":"t0ken"}"#);
    }
    if !authorized {
        let realm_host = path
            .trim_start_matches("/v2/")
            .split('/')
            .next()
            .unwrap_or("");
        let challenge = format!(r#"Bearer realm="http://{realm_host}:{port}/token",service="sec""#);
        return http("401 Unauthorized", &[("WWW-Authenticate", challenge)], b"");
    }
    let doc = serde_json::to_vec(&index(&[amd64(0, "linux", None)])).unwrap();
    http("200 OK", &[("Content-Type", OCI_INDEX.to_owned())], &doc)
}

/// Credentials go to a token endpoint only over HTTPS, on a loopback
/// address, or on a registry named by --plain-http: a challenge that points
/// at plain HTTP elsewhere gets an anonymous token request. The password
/// never appears in the output.
#[test]
fn credentials_are_not_sent_to_a_plain_http_realm_elsewhere() {
    let s = Scripted::start(token_registry);
    let secret = "s3cret-pa55word";
    for (realm_host, expect_credentials) in [("127.1", false), ("127.0.0.1", true)] {
        s.heads.lock().unwrap().clear();
        let host = format!("127.0.0.1:{}", s.port);
        let source = format!("{host}/{realm_host}/repo:latest");
        let c = {
            let mut c = cmd(&argv(
                "select --no-config -p linux/amd64 --plain-http",
                &[
                    &host,
                    "--retries",
                    "0",
                    "--timeout",
                    "2",
                    "--username",
                    "someone",
                    "--password-stdin",
                    &source,
                ],
            ));
            c.env("DOCKER_CONFIG", "/nonexistent");
            c
        };
        let r = run_cmd_stdin(c, format!("{secret}\n").as_bytes());
        r.expect(0);
        assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
        let heads = s.heads.lock().unwrap().clone();
        let token_req = heads
            .iter()
            .find(|h| h.starts_with("GET /token"))
            .unwrap_or_else(|| panic!("no token request: {heads:?}"));
        let sent = token_req
            .to_ascii_lowercase()
            .contains("authorization: basic");
        assert_eq!(
            sent, expect_credentials,
            "realm on {realm_host}: {token_req}"
        );
    }
}
