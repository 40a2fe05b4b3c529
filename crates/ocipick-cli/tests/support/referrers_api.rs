//! A loopback registry with the distribution-spec referrers API, which
//! the CNCF distribution 2.8 registry of the other tests lacks: it serves
//! the manifests and blobs it is given (`GET /v2/NAME/manifests/REF`,
//! `GET /v2/NAME/blobs/DIGEST`) and answers `GET
//! /v2/NAME/referrers/DIGEST` with the listing it is given, as the API
//! does (an image index, `OCI-Filters-Applied` never sent: the client
//! must filter). Everything else is a 404 with a distribution-style error
//! body. Every request line is logged with its status.
//!
//! Plain HTTP/1.1, one request per connection (`Connection: close`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What the server holds: path after `/v2/` → (content type, body).
#[derive(Default, Clone)]
pub struct Content {
    docs: BTreeMap<String, (String, Vec<u8>)>,
}

impl Content {
    /// `repo`'s manifest under `reference` (a tag or digest).
    pub fn manifest(&mut self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) {
        self.docs.insert(
            format!("{repo}/manifests/{reference}"),
            (media_type.to_owned(), bytes.to_vec()),
        );
    }

    /// `repo`'s blob `digest`.
    pub fn blob(&mut self, repo: &str, digest: &str, bytes: &[u8]) {
        self.docs.insert(
            format!("{repo}/blobs/{digest}"),
            ("application/octet-stream".to_owned(), bytes.to_vec()),
        );
    }

    /// The referrers listing (an image index) of `subject` in `repo`.
    pub fn referrers(&mut self, repo: &str, subject: &str, listing: &[u8]) {
        self.docs.insert(
            format!("{repo}/referrers/{subject}"),
            (
                "application/vnd.oci.image.index.v1+json".to_owned(),
                listing.to_vec(),
            ),
        );
    }
}

/// A running server; it stops with the test process.
pub struct Server {
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(content: Content) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let content = Arc::new(content);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (c, l) = (content.clone(), l.clone());
                std::thread::spawn(move || serve(stream, &c, &l));
            }
        });
        Server { port, log }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `METHOD PATH STATUS` of every request so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, c: &Content, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h == "\r\n" || h == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let path = target.split('?').next().unwrap_or("");
    let found = path
        .strip_prefix("/v2/")
        .and_then(|p| c.docs.get(p))
        .filter(|_| method == "GET" || method == "HEAD");
    let (status, kind, body) = match found {
        Some((kind, body)) => ("200 OK", kind.clone(), body.clone()),
        None if path == "/v2/" => ("200 OK", "application/json".into(), b"{}".to_vec()),
        None => (
            "404 Not Found",
            "application/json".into(),
            br#"{"errors":[{"code":"NAME_UNKNOWN","message":"not here"}]}"#.to_vec(),
        ),
    };
    log.lock().unwrap().push(format!(
        "{method} {target} {}",
        status.split(' ').next().unwrap()
    ));
    let mut s = stream;
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = s.write_all(&body);
    }
    let _ = s.flush();
}
