//! The referrers client against a loopback HTTP server written here that
//! answers as the OCI distribution-spec (v1.1, "Listing Referrers") says:
//! `GET /v2/<name>/referrers/<digest>` returns an image index of referrer
//! descriptors (artifactType and annotations copied from each manifest),
//! `?artifactType=` filters it and the answer then carries
//! `OCI-Filters-Applied: artifactType`, and `Link: <…>; rel="next"` pages
//! it. A registry without the API answers that endpoint 404, and the
//! client falls back to the referrers tag schema (`sha256-<hex>`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use ocipick::Digest;
use ocipick_registry::referrers::{self, Via};
use ocipick_registry::{Client, ClientOptions, Reference};
use serde_json::{json, Value};

const NFD: &str = "application/vnd.nfd.image-compatibility.v1alpha1";
const SBOM: &str = "application/spdx+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// How the server behaves.
#[derive(Clone, Default)]
struct Behaviour {
    /// Answer the referrers endpoint (else 404 there, like distribution 2.8).
    api: bool,
    /// Filter by artifactType when asked (and say so).
    filters: bool,
    /// Page size of the referrers answer (0: one page).
    page: usize,
    /// Serve this tag-schema index, when set.
    tag_index: Option<Vec<u8>>,
    /// Serve blobs with their last byte changed.
    corrupt_blobs: bool,
}

struct Server {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

struct Content {
    subject: String,
    /// digest → (media type, bytes) of manifests.
    manifests: BTreeMap<String, (String, Vec<u8>)>,
    blobs: BTreeMap<String, Vec<u8>>,
    /// The referrer descriptors, in order.
    referrers: Vec<Value>,
}

fn artifact(subject: &str, kind: &str, created: &str, layer: &[u8]) -> (Value, Vec<u8>, Value) {
    let layer_d = Digest::sha256_of(layer).to_string();
    let m = json!({
        "schemaVersion": 2, "mediaType": MANIFEST, "artifactType": kind,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                   "digest": Digest::sha256_of(b"{}").to_string()},
        "layers": [{"mediaType": "application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml",
                    "size": layer.len(), "digest": layer_d}],
        "subject": {"mediaType": MANIFEST, "size": 100, "digest": subject},
        "annotations": {"org.opencontainers.image.created": created},
    });
    let bytes = serde_json::to_vec(&m).unwrap();
    let d = json!({
        "mediaType": MANIFEST, "size": bytes.len(),
        "digest": Digest::sha256_of(&bytes).to_string(),
        "artifactType": kind,
        "annotations": {"org.opencontainers.image.created": created},
    });
    (m, bytes, d)
}

fn content() -> Content {
    let subject = Digest::sha256_of(b"the image").to_string();
    let mut c = Content {
        subject: subject.clone(),
        manifests: BTreeMap::new(),
        blobs: BTreeMap::new(),
        referrers: Vec::new(),
    };
    for (kind, created, layer) in [
        (
            NFD,
            "2026-01-01T00:00:00Z",
            &b"version: v1alpha1\ncompatibilities: []\n"[..],
        ),
        (SBOM, "2026-01-02T00:00:00Z", &b"{}"[..]),
        (
            NFD,
            "2026-01-03T00:00:00Z",
            &b"version: v1alpha1\ncompatibilities: [] \n"[..],
        ),
    ] {
        let (_, bytes, d) = artifact(&subject, kind, created, layer);
        c.manifests.insert(
            d["digest"].as_str().unwrap().to_owned(),
            (MANIFEST.to_owned(), bytes),
        );
        c.blobs
            .insert(Digest::sha256_of(layer).to_string(), layer.to_vec());
        c.referrers.push(d);
    }
    c
}

fn index_of(descriptors: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": descriptors}))
        .unwrap()
}

/// Percent-decodes a query value.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn start(behaviour: Behaviour, content: Content) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::new((behaviour, content));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let shared = shared.clone();
            let log = log2.clone();
            std::thread::spawn(move || serve(stream, &shared.0, &shared.1, &log));
        }
    });
    Server { port, log }
}

fn respond(s: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
}

fn serve(mut stream: TcpStream, b: &Behaviour, c: &Content, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
        }
        log.lock().unwrap().push(format!("{method} {target}"));
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let params: BTreeMap<String, String> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), decode(v)))
            .collect();
        let not_found = br#"{"errors":[{"code":"NOT_FOUND","message":"not found"}]}"#;
        let rest = path.strip_prefix("/v2/team/app/").unwrap_or("");
        if let Some(digest) = rest.strip_prefix("referrers/") {
            if !b.api {
                respond(&mut stream, "404 Not Found", &[], b"404 page not found\n");
                continue;
            }
            let mut listed: Vec<Value> = if digest == c.subject {
                c.referrers.clone()
            } else {
                Vec::new()
            };
            let mut headers = vec![("Content-Type", INDEX.to_owned())];
            if let (true, Some(t)) = (b.filters, params.get("artifactType")) {
                listed.retain(|d| d["artifactType"] == t.as_str());
                headers.push(("OCI-Filters-Applied", "artifactType".to_owned()));
            }
            if b.page > 0 {
                let from: usize = params.get("last").map_or(0, |l| l.parse().unwrap());
                let to = (from + b.page).min(listed.len());
                if to < listed.len() {
                    let mut next = format!("/v2/team/app/referrers/{digest}?last={to}");
                    if let Some(t) = params.get("artifactType") {
                        next.push_str(&format!(
                            "&artifactType={}",
                            t.replace('/', "%2F").replace('+', "%2B")
                        ));
                    }
                    headers.push(("Link", format!("<{next}>; rel=\"next\"")));
                }
                listed = listed[from..to].to_vec();
            }
            respond(&mut stream, "200 OK", &headers, &index_of(&listed));
        } else if let Some(r) = rest.strip_prefix("manifests/") {
            let tag = referrers::tag_schema_tag(&Digest::parse(c.subject.clone()).unwrap());
            if r == tag {
                match &b.tag_index {
                    Some(i) => respond(
                        &mut stream,
                        "200 OK",
                        &[("Content-Type", INDEX.to_owned())],
                        i,
                    ),
                    None => respond(&mut stream, "404 Not Found", &[], not_found),
                }
            } else if let Some((t, m)) = c.manifests.get(r) {
                respond(
                    &mut stream,
                    "200 OK",
                    &[
                        ("Content-Type", t.clone()),
                        ("Docker-Content-Digest", r.to_owned()),
                    ],
                    m,
                );
            } else {
                respond(&mut stream, "404 Not Found", &[], not_found);
            }
        } else if let Some(d) = rest.strip_prefix("blobs/") {
            match c.blobs.get(d) {
                Some(bytes) => {
                    let mut bytes = bytes.clone();
                    if b.corrupt_blobs {
                        *bytes.last_mut().unwrap() ^= 1;
                    }
                    respond(&mut stream, "200 OK", &[], &bytes)
                }
                None => respond(&mut stream, "404 Not Found", &[], not_found),
            }
        } else {
            respond(&mut stream, "404 Not Found", &[], not_found);
        }
    }
}

fn connect(port: u16) -> (Client, Reference) {
    let host = format!("127.0.0.1:{port}");
    let opts = ClientOptions {
        plain_http: [host.clone()].into_iter().collect(),
        auth_files: Vec::new(),
        retries: 0,
        ..ClientOptions::default()
    };
    let r: Reference = format!("{host}/team/app:v1").parse().unwrap();
    (Client::new(opts).unwrap(), r)
}

fn digests(r: &referrers::Referrers) -> Vec<String> {
    r.descriptors.iter().map(|d| d.digest.to_string()).collect()
}

#[test]
fn api_filters_and_says_so() {
    let c = content();
    let want: Vec<String> = c
        .referrers
        .iter()
        .filter(|d| d["artifactType"] == NFD)
        .map(|d| d["digest"].as_str().unwrap().to_owned())
        .collect();
    let subject = Digest::parse(c.subject.clone()).unwrap();
    let s = start(
        Behaviour {
            api: true,
            filters: true,
            ..Behaviour::default()
        },
        c,
    );
    let (client, r) = connect(s.port);
    let found = referrers::list(&client, &r, &subject, Some(NFD)).unwrap();
    assert_eq!(digests(&found), want);
    assert_eq!(
        found.via,
        Via::Api {
            filtered: true,
            pages: 1
        }
    );
    assert_eq!(found.requests, 1);
    let log = s.log.lock().unwrap().clone();
    assert_eq!(
        log,
        [format!(
            "GET /v2/team/app/referrers/{subject}?artifactType=application%2Fvnd.nfd.image-compatibility.v1alpha1"
        )]
    );
    // Each listed descriptor carries the manifest's annotations.
    assert_eq!(
        found.descriptors[1]
            .annotations
            .get("org.opencontainers.image.created")
            .map(|v| v.as_ref()),
        Some("2026-01-03T00:00:00Z")
    );
    // Unfiltered: all three.
    let all = referrers::list(&client, &r, &subject, None).unwrap();
    assert_eq!(all.descriptors.len(), 3);
    assert_eq!(
        all.via,
        Via::Api {
            filtered: false,
            pages: 1
        }
    );
}

#[test]
fn api_that_does_not_filter_is_filtered_here() {
    let c = content();
    let subject = Digest::parse(c.subject.clone()).unwrap();
    let s = start(
        Behaviour {
            api: true,
            ..Behaviour::default()
        },
        c,
    );
    let (client, r) = connect(s.port);
    let found = referrers::list(&client, &r, &subject, Some(NFD)).unwrap();
    assert_eq!(found.descriptors.len(), 2, "the SBOM is dropped here");
    assert!(found
        .descriptors
        .iter()
        .all(|d| d.artifact_type.as_deref() == Some(NFD)));
    assert_eq!(
        found.via,
        Via::Api {
            filtered: false,
            pages: 1
        }
    );
}

#[test]
fn api_pages_are_followed() {
    let c = content();
    let subject = Digest::parse(c.subject.clone()).unwrap();
    let s = start(
        Behaviour {
            api: true,
            page: 1,
            ..Behaviour::default()
        },
        c,
    );
    let (client, r) = connect(s.port);
    let found = referrers::list(&client, &r, &subject, None).unwrap();
    assert_eq!(found.descriptors.len(), 3);
    assert_eq!(
        found.via,
        Via::Api {
            filtered: false,
            pages: 3
        }
    );
    assert_eq!(found.requests, 3);
    assert_eq!(s.log.lock().unwrap().len(), 3);
}

#[test]
fn no_api_falls_back_to_the_tag_schema() {
    let c = content();
    let subject = Digest::parse(c.subject.clone()).unwrap();
    let tag_index = index_of(&c.referrers);
    let s = start(
        Behaviour {
            tag_index: Some(tag_index),
            ..Behaviour::default()
        },
        c,
    );
    let (client, r) = connect(s.port);
    let found = referrers::list(&client, &r, &subject, Some(NFD)).unwrap();
    assert_eq!(found.descriptors.len(), 2);
    assert_eq!(found.via, Via::TagSchema { found: true });
    assert_eq!(found.requests, 2);
    let log = s.log.lock().unwrap().clone();
    assert_eq!(
        log[1],
        format!("GET /v2/team/app/manifests/sha256-{}", subject.encoded())
    );
}

#[test]
fn the_missing_api_is_asked_once_per_registry() {
    let c = content();
    let subject = Digest::parse(c.subject.clone()).unwrap();
    let other = Digest::sha256_of(b"another subject");
    let tag_index = index_of(&c.referrers);
    let s = start(
        Behaviour {
            tag_index: Some(tag_index),
            ..Behaviour::default()
        },
        c,
    );
    let (client, r) = connect(s.port);
    assert_eq!(
        referrers::list(&client, &r, &subject, None)
            .unwrap()
            .requests,
        2
    );
    // The 404 is remembered: the next listing, of another subject too,
    // goes to its tag at once.
    let again = referrers::list(&client, &r, &other, None).unwrap();
    assert_eq!(again.requests, 1);
    assert_eq!(again.via, Via::TagSchema { found: false });
    let log = s.log.lock().unwrap().clone();
    let asked = log.iter().filter(|l| l.contains("/referrers/")).count();
    assert_eq!(asked, 1, "{log:#?}");
    assert_eq!(
        log.last().unwrap(),
        &format!("GET /v2/team/app/manifests/sha256-{}", other.encoded())
    );
}

#[test]
fn no_api_and_no_tag_is_no_referrers() {
    let c = content();
    let subject = Digest::parse(c.subject.clone()).unwrap();
    let s = start(Behaviour::default(), c);
    let (client, r) = connect(s.port);
    let found = referrers::list(&client, &r, &subject, None).unwrap();
    assert!(found.descriptors.is_empty());
    assert_eq!(found.via, Via::TagSchema { found: false });
    assert_eq!(found.requests, 2);
}

#[test]
fn artifacts_are_fetched_and_checked() {
    let c = content();
    let subject = Digest::parse(c.subject.clone()).unwrap();
    let behaviour = Behaviour {
        api: true,
        filters: true,
        ..Behaviour::default()
    };
    let s = start(behaviour.clone(), c);
    let (client, r) = connect(s.port);
    let found = referrers::list(&client, &r, &subject, Some(NFD)).unwrap();
    let d = &found.descriptors[0];
    let m = referrers::fetch_manifest(&client, &r, d, 1 << 20).unwrap();
    let v: Value = serde_json::from_slice(&m).unwrap();
    assert_eq!(v["subject"]["digest"], subject.as_str());
    let l = &v["layers"][0];
    let layer = ocipick::Descriptor::new(
        l["mediaType"].as_str().unwrap().to_owned(),
        Digest::parse(l["digest"].as_str().unwrap().to_owned()).unwrap(),
        l["size"].as_u64().unwrap(),
    );
    let yaml = client.fetch_blob(&r, &layer, 1 << 20).unwrap();
    assert!(yaml.starts_with(b"version: v1alpha1"));
    // Limits are checked before anything is asked.
    let before = client.stats().requests;
    let e = client.fetch_blob(&r, &layer, 4).unwrap_err();
    assert!(e.to_string().contains("more than the 4 read"), "{e}");
    assert_eq!(client.stats().requests, before);
    // A blob whose bytes differ from its digest is refused.
    let s = start(
        Behaviour {
            corrupt_blobs: true,
            ..behaviour
        },
        content(),
    );
    let (client, r) = connect(s.port);
    let e = client.fetch_blob(&r, &layer, 1 << 20).unwrap_err();
    assert!(e.to_string().contains("content hashes to"), "{e}");
}

#[test]
fn a_listing_that_is_not_an_index_is_an_error() {
    let c = content();
    let subject = Digest::parse(c.subject.clone()).unwrap();
    let s = start(
        Behaviour {
            tag_index: Some(br#"{"schemaVersion":2,"layers":[]}"#.to_vec()),
            ..Behaviour::default()
        },
        c,
    );
    let (client, r) = connect(s.port);
    let e = referrers::list(&client, &r, &subject, None).unwrap_err();
    assert!(e.to_string().contains("referrers tag sha256-"), "{e}");
}
