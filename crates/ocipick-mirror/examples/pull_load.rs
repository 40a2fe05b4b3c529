//! A bounded load generator for `ocipick serve` (used by
//! `bench/serve-load.sh`): CLIENTS threads, each with its own keep-alive
//! connection, each doing PULLS pulls over the tags round-robin (client `c`
//! starts at tag `c * 7`). A pull is a manifest GET by tag, checked against
//! the digest the node should get, plus (with `--blob`) a GET of the
//! config blob the manifest names — from the mirror, or with `--blob-from
//! URL` straight from the registry (to tell the mirror's share of the blob
//! latency). Prints one JSON summary on stdout.
//!
//! ```text
//! cargo run --release -p ocipick-mirror --example pull_load -- \
//!     --mirror http://127.0.0.1:5050 --repo bench/app --expect tags.json \
//!     [--clients 32] [--pulls 200] [--blob] [--blob-from URL] [--pace-ms 0]
//! ```
//!
//! `tags.json` maps each tag to the digest of the manifest the mirror
//! should answer with: `{"t0": "sha256:…", …}`.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn usage() -> ! {
    eprintln!(
        "usage: pull_load --mirror URL --repo REPO --expect TAGS.json \
         [--clients N] [--pulls N] [--blob] [--blob-from URL] [--pace-ms MS]"
    );
    std::process::exit(2)
}

struct Args {
    mirror: String,
    repo: String,
    expect: BTreeMap<String, String>,
    clients: usize,
    pulls: usize,
    blob: bool,
    blob_from: Option<String>,
    pace: Duration,
}

fn args() -> Args {
    let mut a = std::env::args().skip(1);
    let (mut mirror, mut repo, mut expect, mut blob_from) = (None, None, None, None);
    let (mut clients, mut pulls, mut blob, mut pace) = (32, 200, false, 0u64);
    while let Some(k) = a.next() {
        let mut v = || a.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--mirror" => mirror = Some(v()),
            "--repo" => repo = Some(v()),
            "--expect" => expect = Some(v()),
            "--clients" => clients = v().parse().unwrap_or_else(|_| usage()),
            "--pulls" => pulls = v().parse().unwrap_or_else(|_| usage()),
            "--pace-ms" => pace = v().parse().unwrap_or_else(|_| usage()),
            "--blob" => blob = true,
            "--blob-from" => blob_from = Some(v()),
            _ => usage(),
        }
    }
    let expect = expect.unwrap_or_else(|| usage());
    let text = std::fs::read_to_string(&expect).unwrap_or_else(|e| {
        eprintln!("pull_load: {expect}: {e}");
        std::process::exit(2)
    });
    let expect: BTreeMap<String, String> = serde_json::from_str(&text).unwrap_or_else(|e| {
        eprintln!("pull_load: {expect}: {e}");
        std::process::exit(2)
    });
    if expect.is_empty() || clients == 0 {
        usage();
    }
    Args {
        mirror: mirror.unwrap_or_else(|| usage()),
        repo: repo.unwrap_or_else(|| usage()),
        expect,
        clients,
        pulls,
        blob,
        blob_from,
        pace: Duration::from_millis(pace),
    }
}

#[derive(Default)]
struct Tally {
    /// Latency of every request, in microseconds.
    requests_us: Vec<u64>,
    /// Latency of every blob GET, in microseconds.
    blobs_us: Vec<u64>,
    /// Latency of every pull (manifest and blob), in microseconds.
    pulls_us: Vec<u64>,
    /// Manifest answers that were not the expected child.
    wrong: usize,
    /// Requests that failed (transport or non-200).
    errors: usize,
    first_error: Option<String>,
}

fn fail(t: &mut Tally, what: String) {
    t.errors += 1;
    t.first_error.get_or_insert(what);
}

fn pull(agent: &ureq::Agent, a: &Args, tag: &str, want: &str, t: &mut Tally) {
    let began = Instant::now();
    let url = format!("{}/v2/{}/manifests/{tag}", a.mirror, a.repo);
    let r = agent
        .get(&url)
        .header(
            "Accept",
            "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json",
        )
        .call();
    let mut resp = match r {
        Ok(r) => r,
        Err(e) => return fail(t, format!("GET {url}: {e}")),
    };
    let digest = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut body = Vec::new();
    if let Err(e) = resp.body_mut().as_reader().read_to_end(&mut body) {
        return fail(t, format!("GET {url}: body: {e}"));
    }
    t.requests_us.push(began.elapsed().as_micros() as u64);
    if digest != want {
        t.wrong += 1;
        t.first_error
            .get_or_insert(format!("{tag}: got {digest}, want {want}"));
    }
    if a.blob {
        let config = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["config"]["digest"].as_str().map(str::to_owned));
        let Some(config) = config else {
            return fail(t, format!("{tag}: the answer names no config"));
        };
        let b = Instant::now();
        let base = a.blob_from.as_deref().unwrap_or(&a.mirror);
        let url = format!("{base}/v2/{}/blobs/{config}", a.repo);
        match agent.get(&url).call() {
            Ok(mut r) => {
                let mut sink = Vec::new();
                if let Err(e) = r.body_mut().as_reader().read_to_end(&mut sink) {
                    return fail(t, format!("GET {url}: body: {e}"));
                }
            }
            Err(e) => return fail(t, format!("GET {url}: {e}")),
        }
        let us = b.elapsed().as_micros() as u64;
        t.requests_us.push(us);
        t.blobs_us.push(us);
    }
    t.pulls_us.push(began.elapsed().as_micros() as u64);
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let a = Arc::new(args());
    let tags: Arc<Vec<(String, String)>> = Arc::new(
        a.expect
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    let start = Arc::new(Barrier::new(a.clients + 1));
    let handles: Vec<_> = (0..a.clients)
        .map(|c| {
            let (a, tags, start) = (a.clone(), tags.clone(), start.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(true)
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build()
                    .into();
                let mut t = Tally::default();
                start.wait();
                for i in 0..a.pulls {
                    let (tag, want) = &tags[(c * 7 + i) % tags.len()];
                    pull(&agent, &a, tag, want, &mut t);
                    if !a.pace.is_zero() {
                        std::thread::sleep(a.pace);
                    }
                }
                t
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let mut all = Tally::default();
    for h in handles {
        let t = h.join().expect("client thread");
        all.requests_us.extend(t.requests_us);
        all.pulls_us.extend(t.pulls_us);
        all.blobs_us.extend(t.blobs_us);
        all.wrong += t.wrong;
        all.errors += t.errors;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
    }
    let secs = began.elapsed().as_secs_f64();
    all.requests_us.sort_unstable();
    all.pulls_us.sort_unstable();
    all.blobs_us.sort_unstable();
    let summary = serde_json::json!({
        "clients": a.clients,
        "pullsPerClient": a.pulls,
        "tags": tags.len(),
        "blob": a.blob,
        "blobFrom": a.blob_from.as_deref().unwrap_or("mirror"),
        "paceMs": a.pace.as_millis() as u64,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "pulls": all.pulls_us.len(),
        "requests": all.requests_us.len(),
        "requestsPerSecond": (all.requests_us.len() as f64 / secs).round(),
        "pullsPerSecond": (all.pulls_us.len() as f64 / secs).round(),
        "requestMs": {"p50": percentile(&all.requests_us, 0.5),
                      "p99": percentile(&all.requests_us, 0.99),
                      "max": percentile(&all.requests_us, 1.0)},
        "blobMs": {"p50": percentile(&all.blobs_us, 0.5),
                   "p99": percentile(&all.blobs_us, 0.99)},
        "pullMs": {"p50": percentile(&all.pulls_us, 0.5),
                   "p99": percentile(&all.pulls_us, 0.99),
                   "max": percentile(&all.pulls_us, 1.0)},
        "wrongManifest": all.wrong,
        "errors": all.errors,
        "firstError": all.first_error,
    });
    println!("{summary}");
    if all.errors > 0 || all.wrong > 0 {
        std::process::exit(1);
    }
}
