//! Parse + select throughput on synthetic image indexes.
//!
//! `cargo bench -p ocipick --bench select`
//!
//! The indexes are generated here, as `scripts/make_synth.py` writes
//! them (same 16-entry platform pool, digest `sha256(str(i))`, size
//! `400 + (i*37) % 1000`, annotations on every 7th entry, pretty-printed
//! with a 2-space indent). serde_json sorts object keys (no
//! `preserve_order`), so the text differs from Python's only in key order;
//! the byte count is identical (the 10,000-entry index is 3,062,753 bytes).
//! Set `OCIPICK_BENCH_DUMP=DIR` to write the generated documents to
//! `DIR/index-N.json` for comparison with the Python output.
//!
//! Cases, each reported as bytes of input per second:
//! - `validate`: `serde_json::from_slice::<IgnoredAny>`, the JSON-validation
//!   floor;
//! - `parse_select`: `Policy::select_bytes` for `linux/amd64`, no preferences:
//!   the one-pass parse+select that `ocipick select` runs (the whole document
//!   is validated; only the best entry is kept);
//! - `parse_select_pref`: the same with `com.example.gpu=example-gpu-model-3:10`;
//! - `parse_index_then_select`: `Index::parse` (every descriptor kept) then
//!   `Policy::select`, what a library user holding an `Index` pays;
//! - `parse_rank`: `Index::parse` + `Policy::rank` (every entry with reasons).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ocipick::{Digest, Index, Platform, Policy, Preference};
use serde_json::{json, Map, Value};

/// `(os, architecture, variant, os.version)`, as in make_synth.py.
const POOL: [(&str, &str, Option<&str>, Option<&str>); 16] = [
    ("linux", "amd64", None, None),
    ("linux", "arm64", Some("v8"), None),
    ("linux", "arm", Some("v7"), None),
    ("linux", "arm", Some("v6"), None),
    ("linux", "arm", Some("v5"), None),
    ("linux", "386", None, None),
    ("linux", "ppc64le", None, None),
    ("linux", "s390x", None, None),
    ("linux", "riscv64", None, None),
    ("linux", "mips64le", None, None),
    ("windows", "amd64", None, Some("10.0.17763.1234")),
    ("windows", "amd64", None, Some("10.0.20348.2031")),
    ("linux", "amd64", Some("v2"), None),
    ("linux", "amd64", Some("v3"), None),
    ("freebsd", "amd64", None, None),
    ("darwin", "arm64", None, None),
];

const SIZES: [usize; 3] = [100, 1_000, 10_000];

/// The index make_synth.py writes for `n` entries.
fn synth(n: usize) -> Vec<u8> {
    let manifests: Vec<Value> = (0..n)
        .map(|i| {
            let (os, arch, variant, os_version) = POOL[i % POOL.len()];
            let mut p = Map::new();
            p.insert("architecture".into(), arch.into());
            p.insert("os".into(), os.into());
            if let Some(v) = variant {
                p.insert("variant".into(), v.into());
            }
            if let Some(v) = os_version {
                p.insert("os.version".into(), v.into());
            }
            let mut d = Map::new();
            d.insert(
                "mediaType".into(),
                "application/vnd.oci.image.manifest.v1+json".into(),
            );
            d.insert(
                "digest".into(),
                Digest::sha256_of(i.to_string().as_bytes())
                    .to_string()
                    .into(),
            );
            d.insert("size".into(), (400 + (i * 37) % 1000).into());
            d.insert("platform".into(), Value::Object(p));
            if i % 7 == 0 {
                d.insert(
                    "annotations".into(),
                    json!({
                        "com.example.gpu": format!("example-gpu-model-{}", i % 5),
                        "org.opencontainers.image.ref.name": format!("entry-{i}"),
                    }),
                );
            }
            Value::Object(d)
        })
        .collect();
    let mut idx = Map::new();
    idx.insert("schemaVersion".into(), 2.into());
    idx.insert(
        "mediaType".into(),
        "application/vnd.oci.image.index.v1+json".into(),
    );
    idx.insert("manifests".into(), Value::Array(manifests));
    serde_json::to_vec_pretty(&Value::Object(idx)).expect("serializable")
}

fn bench(c: &mut Criterion) {
    let target = Platform::new("linux", "amd64", None);
    let plain = Policy::new(&target);
    let pref: Preference = "com.example.gpu=example-gpu-model-3:10"
        .parse()
        .expect("valid preference");
    let gpu = Policy::new(&target).prefer(pref);
    let dump = std::env::var_os("OCIPICK_BENCH_DUMP");

    for n in SIZES {
        let doc = synth(n);
        eprintln!("select/{n}: {} bytes", doc.len());
        if let Some(dir) = &dump {
            let path = std::path::Path::new(dir).join(format!("index-{n}.json"));
            std::fs::write(&path, &doc).expect("write dump");
        }

        // Sanity: the cases compute what they claim.
        let index = Index::parse(&doc).expect("synthetic index parses");
        assert_eq!(index.manifests.len(), n);
        assert_eq!(plain.select(&index).map(|s| s.position), Some(0));
        // Entry 448 is the first linux/amd64 entry with example-gpu-model-3.
        let want = if n > 448 { (448, 10) } else { (0, 0) };
        assert_eq!(
            gpu.select(&index).map(|s| (s.position, s.score)),
            Some(want)
        );
        assert_eq!(plain.rank(&index).entries.len(), n);
        let one_pass = gpu.select_bytes(&doc).expect("one-pass select");
        assert_eq!(
            one_pass.chosen.map(|(_, r)| (r.position, r.score)),
            Some(want)
        );
        drop(index);

        let mut g = c.benchmark_group(format!("select/{n}"));
        g.throughput(Throughput::Bytes(doc.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter("validate"), &doc, |b, doc| {
            b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(doc)).unwrap())
        });
        g.bench_with_input(
            BenchmarkId::from_parameter("parse_select"),
            &doc,
            |b, doc| {
                b.iter(|| {
                    let found = plain.select_bytes(black_box(doc)).unwrap();
                    found.chosen.map(|(_, r)| r.position)
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::from_parameter("parse_select_pref"),
            &doc,
            |b, doc| {
                b.iter(|| {
                    let found = gpu.select_bytes(black_box(doc)).unwrap();
                    found.chosen.map(|(_, r)| r.position)
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::from_parameter("parse_index_then_select"),
            &doc,
            |b, doc| {
                b.iter(|| {
                    let index = Index::parse(black_box(doc)).unwrap();
                    plain.select(&index).map(|s| s.position)
                })
            },
        );
        g.bench_with_input(BenchmarkId::from_parameter("parse_rank"), &doc, |b, doc| {
            b.iter(|| {
                let index = Index::parse(black_box(doc)).unwrap();
                plain.rank(&index).selected
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
