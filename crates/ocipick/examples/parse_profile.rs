//! Profiling driver: parse + select one index many times.
//! `cargo run --release -p ocipick --example parse_profile -- FILE [ITERS] [MODE] [PLATFORM] [PREFER]`
//!
//! PLATFORM (default `linux/amd64`) is the target; PREFER, if given, one
//! preference (`--prefer`'s syntax).
//!
//! MODE `compare` alternates serde_json validation and `select_bytes` one
//! parse at a time, ITERS times each, and prints the minimum and median of
//! single parses and their ratios: on a shared machine, alternating within
//! one process and taking the best single parse is the steadiest measure.
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("FILE");
    let iters: usize = args.next().map_or(200, |s| s.parse().unwrap());
    let mode = args.next().unwrap_or_else(|| "select".into());
    let bytes = std::fs::read(&path).unwrap();
    let host = ocipick::Platform::new("linux", "amd64", None);
    let target = args.next().unwrap_or_else(|| "linux/amd64".into());
    let target = ocipick::platform::selector::parse(&target, &host).unwrap();
    let mut policy = ocipick::Policy::new(&target);
    if let Some(p) = args.next() {
        policy = policy.prefer(p.parse().unwrap());
    }
    if mode == "compare" {
        return compare(&bytes, &policy, iters);
    }
    let t = Instant::now();
    let mut n = 0usize;
    for _ in 0..iters {
        match mode.as_str() {
            "validate" => {
                let _: serde::de::IgnoredAny = serde_json::from_slice(&bytes).unwrap();
                n += 1;
            }
            "value" => {
                let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                n += v.as_object().unwrap().len();
            }
            "parse" => {
                let idx = ocipick::Index::parse(&bytes).unwrap();
                n += idx.manifests.len();
            }
            "stream" => {
                n += policy
                    .select_bytes(&bytes)
                    .unwrap()
                    .chosen
                    .map_or(0, |c| c.1.position);
            }
            _ => {
                let idx = ocipick::Index::parse(&bytes).unwrap();
                n += policy.select(&idx).unwrap().position;
            }
        }
    }
    let per = t.elapsed() / iters as u32;
    println!(
        "{mode}: {per:?}/iter, {:.0} MB/s ({n})",
        bytes.len() as f64 / per.as_secs_f64() / 1e6
    );
}

fn compare(bytes: &[u8], policy: &ocipick::Policy, iters: usize) {
    let (mut validate, mut select) = (Vec::new(), Vec::new());
    for _ in 0..iters {
        let t = Instant::now();
        let _: serde::de::IgnoredAny = serde_json::from_slice(std::hint::black_box(bytes)).unwrap();
        validate.push(t.elapsed());
        let t = Instant::now();
        let found = policy.select_bytes(std::hint::black_box(bytes)).unwrap();
        select.push(t.elapsed());
        std::hint::black_box(found.chosen.map(|(_, r)| r.position));
    }
    validate.sort();
    select.sort();
    let mbs = |d: Duration| bytes.len() as f64 / d.as_secs_f64() / 1e6;
    let (vmin, vmed) = (validate[0], validate[iters / 2]);
    let (smin, smed) = (select[0], select[iters / 2]);
    println!(
        "validate:     min {vmin:?} ({:.0} MB/s), median {vmed:?}",
        mbs(vmin)
    );
    println!(
        "select_bytes: min {smin:?} ({:.0} MB/s), median {smed:?} ({:.0} MB/s)",
        mbs(smin),
        mbs(smed)
    );
    println!(
        "select_bytes / validate: {:.2} by min, {:.2} by median ({iters} alternating parses each)",
        smin.as_secs_f64() / vmin.as_secs_f64(),
        smed.as_secs_f64() / vmed.as_secs_f64()
    );
}
