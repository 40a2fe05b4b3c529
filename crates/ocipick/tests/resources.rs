//! Resource bounds of the pure core on hostile documents: deep nesting,
//! very many entries, very long strings, huge numbers, invalid UTF-8 and
//! duplicate keys. Each must end in a clean error or the correct result,
//! within a bounded time, without overflowing the stack.
//!
//! The timings printed here (run with `--nocapture`) are recorded in
//! `docs/robustness.md`.

use std::time::{Duration, Instant};

use ocipick::platform::selector;
use ocipick::{Index, Matcher, Platform, Policy, Preference};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn digest(i: usize) -> String {
    format!("sha256:{i:064x}")
}

fn entry(i: usize, extra: &str) -> String {
    format!(
        r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}{extra}}}"#,
        digest(i),
        100 + i
    )
}

fn doc(entries: &[String], top_extra: &str) -> String {
    format!(
        r#"{{"schemaVersion":2{top_extra},"manifests":[{}]}}"#,
        entries.join(",")
    )
}

fn amd64() -> Policy {
    Policy::new(&Platform::new("linux", "amd64", None))
}

/// Parses with both entry points and checks they agree on success.
fn parse_both(bytes: &[u8]) -> Result<Option<usize>, String> {
    let policy = amd64();
    let parsed = Index::parse(bytes).map_err(|e| e.to_string());
    let streamed = policy.select_bytes(bytes).map_err(|e| e.to_string());
    match (&parsed, &streamed) {
        (Ok(index), Ok(s)) => {
            let want = policy.select(index).map(|s| s.position);
            assert_eq!(s.chosen.as_ref().map(|(_, r)| r.position), want);
            Ok(want)
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "Index::parse and select_bytes disagree on the error");
            Err(a.clone())
        }
        _ => panic!("Index::parse {parsed:?} but select_bytes {streamed:?}"),
    }
}

fn assert_err(bytes: &[u8], fragment: &str) {
    match parse_both(bytes) {
        Err(msg) => assert!(msg.contains(fragment), "{msg:?} lacks {fragment:?}"),
        Ok(sel) => panic!(
            "accepted ({sel:?}): {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        ),
    }
}

/// 100,000 levels of nesting. Inside an unknown field, well-formed nesting
/// is skipped without recursion (serde_json's `IgnoredAny` skips
/// iteratively), so the document is valid and the field ignored; unclosed
/// nesting is an EOF error. Where the parser descends (the manifests
/// array, an annotation value, the document itself), serde_json's
/// recursion limit (128) or a type error refuses it. The stack never
/// overflows (this test runs on a normal 2 MiB test thread).
/// (name, document, Ok(selected) or Err(message fragment)).
type Case = (&'static str, String, Result<Option<usize>, &'static str>);

#[test]
fn deep_nesting_is_a_clean_error_or_skipped() {
    const DEPTH: usize = 100_000;
    let open_arr = "[".repeat(DEPTH);
    let closed_arr = format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH));
    let open_obj = r#"{"a":"#.repeat(DEPTH);
    let closed_obj = format!("{}1{}", r#"{"a":"#.repeat(DEPTH), "}".repeat(DEPTH));
    let platform_x =
        |x: &str| entry(0, "").replace(r#""os":"linux""#, &format!(r#""os":"linux","x":{x}"#));
    // (name, document, Ok(selected) or Err(message fragment))
    let cases: Vec<Case> = vec![
        (
            "unknown top-level field, unclosed",
            doc(&[entry(0, "")], &format!(r#","x":{open_arr}"#)),
            Err("expected"),
        ),
        (
            "unknown top-level field, closed",
            doc(&[entry(0, "")], &format!(r#","x":{closed_arr}"#)),
            Ok(Some(0)),
        ),
        (
            "unknown descriptor field, closed",
            doc(&[entry(0, &format!(r#","x":{closed_arr}"#))], ""),
            Ok(Some(0)),
        ),
        (
            "unknown descriptor field, objects",
            doc(&[entry(0, &format!(r#","x":{closed_obj}"#))], ""),
            Ok(Some(0)),
        ),
        (
            "unknown descriptor field, unclosed objects",
            doc(&[entry(0, &format!(r#","x":{open_obj}1"#))], ""),
            Err(""),
        ),
        (
            "unknown platform field, closed",
            doc(&[platform_x(&closed_arr)], ""),
            Ok(Some(0)),
        ),
        (
            "as the manifests array",
            format!(r#"{{"schemaVersion":2,"manifests":{closed_arr}}}"#),
            Err("expected a descriptor object"),
        ),
        (
            "as an annotation value",
            doc(
                &[entry(0, &format!(r#","annotations":{{"k":{closed_arr}}}"#))],
                "",
            ),
            Err("invalid type"),
        ),
        (
            "as urls",
            doc(&[entry(0, &format!(r#","urls":{closed_arr}"#))], ""),
            Err("invalid type"),
        ),
        ("bare arrays", closed_arr.clone(), Err("")),
        ("bare objects", closed_obj.clone(), Err("")),
    ];
    let n = cases.len();
    for (name, text, want) in cases {
        let t = Instant::now();
        let got = parse_both(text.as_bytes());
        match (&got, want) {
            (Ok(a), Ok(b)) if *a == b => {}
            (Err(msg), Err(frag)) if msg.contains(frag) => {}
            _ => panic!("{name}: got {got:?}, want {want:?}"),
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{name}: {:?}",
            t.elapsed()
        );
    }
    println!("deep-nesting cases: {n}");
}

/// 100,000 entries: parsed and selected, the last entry being the only
/// match; timings printed.
#[test]
fn hundred_thousand_entries() {
    const N: usize = 100_000;
    let mut entries: Vec<String> = (0..N - 1)
        .map(|i| entry(i, "").replace(r#""os":"linux""#, r#""os":"windows""#))
        .collect();
    entries.push(entry(N - 1, r#","annotations":{"com.example.gpu":"a100"}"#));
    let text = doc(&entries, "");
    let policy = amd64().prefer(Preference::key("com.example.gpu").weight(10));

    let t = Instant::now();
    let index = Index::parse(text.as_bytes()).unwrap();
    let parse = t.elapsed();
    let t = Instant::now();
    let sel = policy.select(&index).unwrap();
    let select = t.elapsed();
    let t = Instant::now();
    let ranking = policy.rank(&index);
    let rank = t.elapsed();
    let t = Instant::now();
    let streamed = policy.select_bytes(text.as_bytes()).unwrap();
    let stream = t.elapsed();

    assert_eq!(index.manifests.len(), N);
    assert_eq!((sel.position, sel.score), (N - 1, 10));
    assert_eq!(ranking.selected, Some(N - 1));
    assert_eq!(streamed.chosen.unwrap().1.position, N - 1);
    println!(
        "100000 entries, {} bytes: parse {parse:?}, select {select:?}, rank {rank:?}, select_bytes {stream:?}",
        text.len()
    );
    // Generous: a debug build on a loaded CI machine.
    assert!(parse + select + rank + stream < Duration::from_secs(60));
}

/// A 1 MiB annotation value is kept whole and can be preferred.
#[test]
fn one_mib_annotation_value() {
    let big = "x".repeat(1 << 20);
    let text = doc(
        &[
            entry(0, ""),
            entry(
                1,
                &format!(r#","annotations":{{"org.example.blob":"{big}"}}"#),
            ),
        ],
        &format!(r#","annotations":{{"top":"{big}"}}"#),
    );
    let index = Index::parse(text.as_bytes()).unwrap();
    assert_eq!(
        index.manifests[1].annotations["org.example.blob"].len(),
        1 << 20
    );
    assert_eq!(index.annotations["top"].len(), 1 << 20);
    let policy = amd64().prefer(Preference::key_value("org.example.blob", big.clone()));
    assert_eq!(policy.select(&index).unwrap().position, 1);
    let streamed = policy.select_bytes(text.as_bytes()).unwrap();
    assert_eq!(streamed.chosen.unwrap().1.position, 1);
    // And a 1 MiB key.
    let text = doc(
        &[entry(0, &format!(r#","annotations":{{"{big}":"v"}}"#))],
        "",
    );
    assert_eq!(parse_both(text.as_bytes()), Ok(Some(0)));
}

/// Sizes that are not a 64-bit non-negative integer are refused; the
/// largest valid one parses and makes the entry ineligible (over the limit).
#[test]
fn huge_numbers_in_size() {
    let bad = [
        "1e400",
        "-1e400",
        "18446744073709551616",
        "18446744073709551615",
        "9223372036854775808",
        "-1",
        "-0.0",
        "1.0",
        "1e3",
        "340282366920938463463374607431768211456",
        &"9".repeat(10_000),
        "\"1\"",
        "null",
    ];
    for n in bad {
        let text = doc(
            &[entry(0, "").replace(r#""size":100"#, &format!(r#""size":{n}"#))],
            "",
        );
        assert_err(text.as_bytes(), "size");
    }
    let max = doc(
        &[entry(0, "").replace(r#""size":100"#, r#""size":9223372036854775807"#)],
        "",
    );
    assert_eq!(parse_both(max.as_bytes()), Ok(None));
    let explained = amd64().explain(&Index::parse(max.as_bytes()).unwrap(), 0);
    assert!(!explained.eligible);
    // Huge schemaVersion values are refused too.
    for v in ["1e400", "18446744073709551616", "-1", "2.0"] {
        let text = format!(r#"{{"schemaVersion":{v},"manifests":[]}}"#);
        assert!(parse_both(text.as_bytes()).is_err(), "schemaVersion {v}");
    }
}

/// Invalid UTF-8 anywhere (raw bytes) and lone surrogates (escapes) are
/// clean errors.
#[test]
fn invalid_utf8_and_lone_surrogates() {
    let base = doc(
        &[entry(0, r#","annotations":{"KEY":"VALUE"}"#)],
        r#","annotations":{"TOP":"x"}"#,
    );
    let bad_bytes: [&[u8]; 6] = [
        b"\xff",
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xe2\x82",
        b"\x80",
    ];
    let mut cases = 0;
    for spot in [
        "KEY",
        "VALUE",
        "TOP",
        "linux",
        "amd64",
        "sha256",
        "application",
    ] {
        for bad in bad_bytes {
            let at = base.find(spot).unwrap();
            let mut bytes = base.as_bytes()[..at].to_vec();
            bytes.extend_from_slice(bad);
            bytes.extend_from_slice(&base.as_bytes()[at..]);
            assert_err(&bytes, "invalid UTF-8");
            cases += 1;
        }
    }
    for esc in [r"\ud800", r"\udfff", r"\ud800\u0041", r"\uZZZZ", r"\u00"] {
        for spot in ["KEY", "VALUE"] {
            let text = base.replace(spot, esc);
            assert!(parse_both(text.as_bytes()).is_err(), "{esc} in {spot}");
            cases += 1;
        }
    }
    println!("invalid UTF-8 / surrogate cases: {cases}");
}

/// A duplicate key at every level of the document is refused.
#[test]
fn duplicate_keys_at_every_level() {
    let e = entry(0, r#","annotations":{"a":"1"}"#);
    let cases = [
        (
            "schemaVersion",
            format!(r#"{{"schemaVersion":2,"schemaVersion":2,"manifests":[{e}]}}"#),
        ),
        (
            "manifests",
            format!(r#"{{"schemaVersion":2,"manifests":[],"manifests":[{e}]}}"#),
        ),
        (
            "mediaType (top)",
            doc(
                std::slice::from_ref(&e),
                r#","mediaType":"application/vnd.oci.image.index.v1+json","mediaType":"application/vnd.oci.image.index.v1+json""#,
            ),
        ),
        (
            "artifactType (top)",
            doc(
                std::slice::from_ref(&e),
                r#","artifactType":"a/b","artifactType":"a/b""#,
            ),
        ),
        (
            "annotations (top)",
            doc(
                std::slice::from_ref(&e),
                r#","annotations":{},"annotations":{}"#,
            ),
        ),
        (
            "annotation key (top)",
            doc(
                std::slice::from_ref(&e),
                r#","annotations":{"k":"1","k":"2"}"#,
            ),
        ),
        (
            "subject",
            doc(
                std::slice::from_ref(&e),
                &format!(r#","subject":{e},"subject":{e}"#),
            ),
        ),
        (
            "subject field",
            doc(
                std::slice::from_ref(&e),
                &format!(
                    r#","subject":{}"#,
                    e.replace(r#""size":100"#, r#""size":100,"size":100"#)
                ),
            ),
        ),
        (
            "descriptor mediaType",
            doc(
                &[e.replace(
                    "{\"mediaType\"",
                    &format!(r#"{{"mediaType":"{OCI_MANIFEST}","mediaType""#),
                )],
                "",
            ),
        ),
        (
            "descriptor digest",
            doc(&[entry(0, &format!(r#","digest":"{}""#, digest(0)))], ""),
        ),
        ("descriptor size", doc(&[entry(0, r#","size":100"#)], "")),
        (
            "descriptor urls",
            doc(&[entry(0, r#","urls":[],"urls":[]"#)], ""),
        ),
        (
            "descriptor data",
            doc(&[entry(0, r#","data":"","data":"""#)], ""),
        ),
        (
            "descriptor artifactType",
            doc(
                &[entry(0, r#","artifactType":"a/b","artifactType":"a/b""#)],
                "",
            ),
        ),
        (
            "descriptor annotations",
            doc(&[entry(0, r#","annotations":{},"annotations":{}"#)], ""),
        ),
        (
            "annotation key",
            doc(&[entry(0, r#","annotations":{"a":"1","a":"1"}"#)], ""),
        ),
        (
            "descriptor platform",
            doc(
                &[entry(
                    0,
                    r#","platform":{"architecture":"amd64","os":"linux"}"#,
                )],
                "",
            ),
        ),
        (
            "platform os",
            doc(
                &[entry(0, "").replace(r#""os":"linux""#, r#""os":"linux","os":"windows""#)],
                "",
            ),
        ),
        (
            "platform architecture",
            doc(
                &[entry(0, "")
                    .replace(r#""os":"linux""#, r#""os":"linux","architecture":"arm64""#)],
                "",
            ),
        ),
        (
            "platform variant",
            doc(
                &[entry(0, "").replace(
                    r#""os":"linux""#,
                    r#""os":"linux","variant":"v2","variant":"v3""#,
                )],
                "",
            ),
        ),
        (
            "platform os.version",
            doc(
                &[entry(0, "").replace(
                    r#""os":"linux""#,
                    r#""os":"linux","os.version":"1","os.version":"2""#,
                )],
                "",
            ),
        ),
        (
            "platform os.features",
            doc(
                &[entry(0, "").replace(
                    r#""os":"linux""#,
                    r#""os":"linux","os.features":[],"os.features":[]"#,
                )],
                "",
            ),
        ),
        (
            "platform features",
            doc(
                &[entry(0, "").replace(
                    r#""os":"linux""#,
                    r#""os":"linux","features":[],"features":[]"#,
                )],
                "",
            ),
        ),
    ];
    let n = cases.len();
    for (name, text) in cases {
        match parse_both(text.as_bytes()) {
            Err(msg) => assert!(msg.contains("duplicate"), "{name}: {msg}"),
            Ok(sel) => panic!("{name}: accepted ({sel:?})"),
        }
    }
    println!("duplicate-key cases: {n}");
}

/// Bug: a target variant with a huge number makes `Matcher::new` build a
/// compatibility list with that many entries (`linux/amd64/v4000000000`
/// from `--platform` or a configuration file exhausts memory).
#[test]
fn huge_target_variant_is_bounded() {
    let host = Platform::new("linux", "amd64", None);
    for s in [
        "linux/amd64/v1000000",
        "linux/arm/v1000000",
        "linux/arm64/v8.1000000",
        "linux/arm64/v9.1000000",
    ] {
        let t = selector::parse(s, &host).unwrap();
        let started = Instant::now();
        let m = Matcher::new(&t);
        let n = m.compatible().count();
        assert!(n <= 256, "{s}: {n} compatible platforms");
        assert!(started.elapsed() < Duration::from_secs(1), "{s}");
        // It still runs itself and the baseline.
        assert_eq!(m.check(&t).unwrap().tier, 0, "{s}");
    }
}

/// Bug: `arm64/v9.Y` with Y near `u32::MAX` overflows `minor + 5` (a panic
/// in debug builds; a wrong, wrapped list in release builds).
#[test]
fn arm64_v9_minor_overflow_does_not_panic() {
    let host = Platform::new("linux", "amd64", None);
    let t = selector::parse("linux/arm64/v9.4294967295", &host).unwrap();
    let r = std::panic::catch_unwind(|| Matcher::new(&t).compatible().count());
    assert!(r.is_ok(), "Matcher::new panicked");
}

/// Bug: a weight of exactly `i64::MIN` makes `Preference::validate` call
/// `i64::abs` on `i64::MIN`: a panic with overflow checks, and without
/// them the weight is accepted although it is far outside ±2^31.
#[test]
fn weight_i64_min_is_refused() {
    let r = std::panic::catch_unwind(|| "k:-9223372036854775808".parse::<Preference>());
    assert!(matches!(r, Ok(Err(_))), "{r:?}");
    let r = std::panic::catch_unwind(|| {
        ocipick::Config::parse("[[prefer]]\nannotation = \"k\"\nweight = -9223372036854775808\n")
    });
    assert!(matches!(r, Ok(Err(_))), "{r:?}");
}

/// Weights at the limit add up without overflow over many preferences.
#[test]
fn extreme_weights_saturate() {
    let text = doc(&[entry(0, r#","annotations":{"a":"1"}"#), entry(1, "")], "");
    let index = Index::parse(text.as_bytes()).unwrap();
    let max = ocipick::prefer::MAX_WEIGHT;
    let many = (0..10_000).map(|_| Preference::key("a").weight(max));
    let sel = amd64().with_preferences(many).select(&index).unwrap();
    assert_eq!(sel.position, 0);
    assert!(sel.score > 0);
    let neg = (0..10_000).map(|_| Preference::key("a").weight(-max));
    let sel = amd64().with_preferences(neg).select(&index).unwrap();
    assert_eq!(sel.position, 1);
    assert!(format!("k:{}", max + 1).parse::<Preference>().is_err());
}

// ---------------------------------------------------------------------------
// Crash inputs found by the fuzz targets (fuzz/fuzz_targets/), replayed
// with the target's own assertions. New crash files dropped into
// testdata/fuzz-regressions/TARGET/ are picked up automatically.

fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fuzz-regressions")
        .join(target);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

/// `platform_selector`: a selector that parses formats to text that parses
/// to the same platform, and a matcher for it accepts it at tier 0.
#[test]
fn fuzz_regressions_platform_selector() {
    let files = regressions("platform_selector");
    assert!(!files.is_empty());
    let host = Platform::new("linux", "amd64", Some("v3"));
    for (name, bytes) in files {
        let Ok(s) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let Ok(p) = selector::parse(s, &host) else {
            continue;
        };
        let again = selector::parse(&p.to_string(), &host).unwrap();
        assert_eq!(p, again, "{name}");
        let r = Matcher::new(&p).check(&p);
        assert_eq!(r.map(|r| r.tier), Ok(0), "{name}: {p}");
    }
}

/// `index_select`, `prefer` and `config`: whatever the input, parsing
/// returns (no panic), and parse and `select_bytes` agree.
#[test]
fn fuzz_regressions_documents_and_strings() {
    for (name, bytes) in regressions("index_select") {
        let _ = parse_both(&bytes).map_err(|e| assert!(!e.is_empty(), "{name}"));
    }
    for (_, bytes) in regressions("prefer") {
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = s.parse::<Preference>();
        }
    }
    for (_, bytes) in regressions("config") {
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = ocipick::Config::parse(s);
        }
    }
}
