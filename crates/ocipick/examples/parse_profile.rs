//! Profiling driver: parse + select one index many times.
//! `cargo run --release -p ocipick --example parse_profile -- FILE [ITERS] [MODE]`
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("FILE");
    let iters: usize = args.next().map_or(200, |s| s.parse().unwrap());
    let mode = args.next().unwrap_or_else(|| "select".into());
    let bytes = std::fs::read(&path).unwrap();
    let policy = ocipick::Policy::new(&ocipick::Platform::new("linux", "amd64", None));
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
                    .unwrap()
                    .1
                    .position;
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
