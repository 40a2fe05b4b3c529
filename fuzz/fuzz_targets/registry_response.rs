//! Arbitrary registry answers: a loopback HTTP server in this process
//! serves status lines, headers and bodies taken from the input, and
//! `Client::fetch_manifest` (plain HTTP, no retries, short timeouts) asks it
//! for a manifest by tag or by digest.
//!
//! Input: byte 0 = flags (bit 0: ask by digest of the first body; bit 1:
//! responses are sent raw, unframed; bit 2: one retry), then up to four
//! NUL-separated responses, one per connection (a 401 challenge leads to a
//! token request and a second manifest GET). A structured response is
//! `STATUS\nName: value\n…\n\nBODY`; Content-Length is added when absent.
//!
//! Asserted: success only with status 200, a body within the limit whose
//! digest is the one asked for and that agrees with Docker-Content-Digest.
//! Inputs that name a URL on another host are skipped, so no name
//! resolution or outside connection ever happens.
#![no_main]

use std::collections::{BTreeSet, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ocipick::Digest;
use ocipick_registry::{Client, ClientOptions, Reference, RegistryError};

const LIMIT: u64 = 64 * 1024;

struct Server {
    addr: SocketAddr,
    queue: Arc<Mutex<VecDeque<Vec<u8>>>>,
}

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let queue: Arc<Mutex<VecDeque<Vec<u8>>>> = Arc::default();
        let q = queue.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
                // Read the request head.
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = q.lock().unwrap().pop_front().unwrap_or_else(|| {
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_vec()
                });
                let _ = c.write_all(&answer);
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
        });
        Server { addr, queue }
    })
}

fn frame(part: &[u8]) -> Vec<u8> {
    let (head, body) = match part.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&part[..i], &part[i + 2..]),
        None => (part, &b""[..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let status = lines.next().unwrap_or(b"200");
    let mut out = b"HTTP/1.1 ".to_vec();
    out.extend_from_slice(status);
    out.extend_from_slice(b" X\r\n");
    let mut has_len = false;
    for l in lines {
        if l.len() >= 15 && l[..15].eq_ignore_ascii_case(b"content-length:") {
            has_len = true;
        }
        out.extend_from_slice(l);
        out.extend_from_slice(b"\r\n");
    }
    if !has_len {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out.extend_from_slice(body);
    out
}

fn names_other_host(bytes: &[u8], port: u16) -> bool {
    let ok = format!("://127.0.0.1:{port}/");
    bytes
        .windows(3)
        .enumerate()
        .filter(|(_, w)| *w == b"://")
        .any(|(i, _)| !bytes[i..].starts_with(ok.as_bytes()))
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&flags, rest)) = bytes.split_first() else {
        return;
    };
    let s = server();
    // Seeds use port 5000 in realms; make them point here.
    let rest = {
        let from = b"://127.0.0.1:5000/";
        let to = format!("://127.0.0.1:{}/", s.addr.port());
        let mut out = Vec::with_capacity(rest.len());
        let mut i = 0;
        while i < rest.len() {
            if rest[i..].starts_with(from) {
                out.extend_from_slice(to.as_bytes());
                i += from.len();
            } else {
                out.push(rest[i]);
                i += 1;
            }
        }
        out
    };
    if names_other_host(&rest, s.addr.port()) {
        return;
    }
    let parts: Vec<&[u8]> = rest.split(|&b| b == 0).take(4).collect();
    let first_body = parts
        .first()
        .map(|p| match p.windows(2).position(|w| w == b"\n\n") {
            Some(i) => &p[i + 2..],
            None => &b""[..],
        })
        .unwrap_or(b"");
    let by_digest = flags & 1 != 0;
    let what = if by_digest {
        Digest::sha256_of(first_body).to_string()
    } else {
        "latest".to_owned()
    };
    {
        let mut q = s.queue.lock().unwrap();
        q.clear();
        for p in &parts {
            q.push_back(if flags & 2 != 0 { p.to_vec() } else { frame(p) });
        }
    }
    let registry = format!("127.0.0.1:{}", s.addr.port());
    let reference: Reference = format!("{registry}/fuzz/repo:latest").parse().unwrap();
    let client = Client::new(ClientOptions {
        plain_http: BTreeSet::from([registry.clone()]),
        auth_files: Vec::new(),
        credentials: None,
        max_bytes: LIMIT,
        connect_timeout: Duration::from_millis(500),
        read_timeout: Duration::from_millis(500),
        retries: u32::from(flags & 4 != 0),
        backoff: Duration::ZERO,
        max_retry_after: Duration::ZERO,
        ca_file: None,
        ..ClientOptions::default()
    })
    .unwrap();
    match client.fetch_manifest(&reference, &what) {
        Ok(f) => {
            assert!(f.bytes.len() as u64 <= LIMIT);
            if by_digest {
                assert_eq!(f.digest.to_string(), what);
            }
            assert!(f.digest.verify(&f.bytes));
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty());
            if let RegistryError::Status { status, .. } = e {
                assert_ne!(status, 200);
            }
        }
    }
});
