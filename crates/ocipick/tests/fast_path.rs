//! The fast reader of `Policy::select_bytes` against the serde reader of
//! `Index::parse`: wherever the fast reader accepts a document it must
//! produce exactly what `Index::parse` produces (the same index, or the same
//! top-level error), and `select_bytes` must always agree with
//! `Index::parse` + `select`, fast or not.
//!
//! Covered: the corpus, a table of tricky documents (escapes, Unicode,
//! white space, duplicate keys, deep nesting, numbers in odd forms, invalid
//! UTF-8, control characters), every truncation of a document, and
//! generated documents written with random white space, escapes, unknown
//! fields and edits (proptest).

mod common;

use std::path::Path;

use common::Rng;
use ocipick::__testing::fast_parse;
use ocipick::{Index, Platform, Policy};
use proptest::prelude::*;
use serde_json::{json, Value};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// What the fast reader did with a document.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Path_ {
    Fast,
    Fallback,
}

/// Checks the fast reader and `select_bytes` against `Index::parse`;
/// returns which path the fast reader took.
fn check(bytes: &[u8]) -> Path_ {
    let parsed = Index::parse(bytes);
    let taken = match fast_parse(bytes) {
        Some(fast) => {
            assert_eq!(
                fast,
                parsed,
                "fast reader differs on {:?}",
                String::from_utf8_lossy(bytes)
            );
            Path_::Fast
        }
        None => Path_::Fallback,
    };
    for target in [
        Platform::new("linux", "amd64", None),
        Platform::new("linux", "arm", Some("v7")),
        Platform::new("windows", "amd64", None),
    ] {
        let policy = Policy::new(&target).prefer("com.example.gpu:10".parse().unwrap());
        let streamed = policy.select_bytes(bytes);
        match &parsed {
            Err(e) => assert_eq!(streamed.as_ref().unwrap_err(), e),
            Ok(index) => {
                let s = streamed.expect("select_bytes refused what Index::parse accepts");
                assert_eq!(s.entries, index.manifests.len());
                assert_eq!(s.media_type, index.media_type);
                let sel = policy.select(index);
                assert_eq!(
                    s.chosen.as_ref().map(|(d, r)| (d, r.position, r.score)),
                    sel.map(|x| (x.descriptor, x.position, x.score))
                );
            }
        }
    }
    taken
}

fn entry(i: usize, extra: &str) -> String {
    format!(
        r#"{{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{i:064x}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}{extra}}}"#,
        100 + i
    )
}

fn doc(entries: &[String], top_extra: &str) -> String {
    format!(
        r#"{{"schemaVersion":2{top_extra},"manifests":[{}]}}"#,
        entries.join(",")
    )
}

#[test]
fn corpus_and_cases_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let (mut fast, mut all) = (0, 0);
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for f in std::fs::read_dir(dir).unwrap() {
            let path = f.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let bytes = std::fs::read(&path).unwrap();
                all += 1;
                if check(&bytes) == Path_::Fast {
                    fast += 1;
                }
            }
        }
    }
    println!("{fast} of {all} testdata documents read by the fast reader");
    assert!(all > 20 && fast * 2 > all, "{fast} of {all}");
}

/// Documents the fast reader must read itself (so that the speed-up is
/// real), and the serde reader must accept.
#[test]
fn common_shapes_take_the_fast_path() {
    let e = entry(0, "");
    let rows: Vec<(&str, String)> = vec![
        ("compact", doc(std::slice::from_ref(&e), "")),
        ("empty manifests", doc(&[], "")),
        (
            "pretty",
            serde_json::to_string_pretty(
                &serde_json::from_str::<Value>(&doc(&[e.clone(), entry(1, "")], "")).unwrap(),
            )
            .unwrap(),
        ),
        (
            "every white space",
            format!(" \t\r\n{} \t\r\n", doc(std::slice::from_ref(&e), "").replace(',', " \t\r\n,\r\n\t ").replace("\":", "\"\n:\t")),
        ),
        (
            "unicode unescaped",
            doc(&[entry(0, r#","annotations":{"ключ ✓":"värde 😀","a":""}"#)], ""),
        ),
        (
            // Every optional field, then none or null: nothing of one
            // element may stay on the next.
            "each element's fields are its own",
            doc(
                &[
                    entry(
                        0,
                        r#","urls":["u"],"annotations":{"k":"v"},"data":"ZA==","artifactType":"a/b""#,
                    ),
                    format!(
                        r#"{{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{:064x}","size":1,"platform":null,"data":null,"artifactType":null}}"#,
                        1
                    ),
                    entry(2, r#","annotations":{"k2":"v2"}"#),
                    format!(
                        r#"{{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{:064x}","size":1}}"#,
                        3
                    ),
                ],
                "",
            ),
        ),
        (
            // The same for a platform's optional fields: every one, then
            // none or null on the next platform.
            "each platform's fields are its own",
            doc(
                &[
                    entry(0, "").replace(
                        r#""os":"linux""#,
                        r#""os":"windows","os.version":"10.0.1","os.features":["win32k"],"variant":"v2","features":["sse4"]"#,
                    ),
                    entry(1, "").replace(
                        r#""os":"linux""#,
                        r#""os":"windows","os.version":null,"variant":null"#,
                    ),
                    entry(2, "").replace(r#""os":"linux""#, r#""os":"linux","variant":"v3""#),
                    entry(3, ""),
                ],
                "",
            ),
        ),
        (
            // Known names are recognized without a scan when written
            // plainly; longer names that start with one are other fields.
            "names that extend known ones",
            doc(
                &[entry(
                    0,
                    r#","mediaTypeX":1,"sizes":[2],"digest ":"d","platforms":{},"annotation":{},"url":"u""#,
                )
                .replace(r#""os":"linux""#, r#""os":"linux","osx":"y","variants":null,"os.version2":1"#)],
                "",
            ),
        ),
        (
            "unknown fields of every kind",
            doc(
                &[entry(
                    0,
                    r#","x":{"a":[1,-2,0,true,false,null,"s",{},[],{"b":[[[]]]}]},"y":-0,"z":[]"#,
                )],
                r#","x-top":{"k":[null]},"config":null,"layers":null"#,
            ),
        ),
        (
            "every descriptor field",
            doc(
                &[entry(
                    0,
                    r#","urls":["https://a/b","c"],"data":"e30=","artifactType":"application/x.y","annotations":{}"#,
                )
                .replace(
                    r#""os":"linux"}"#,
                    r#""os":"windows","os.version":"10.0.1","os.features":["win32k"],"variant":"v3","features":["sse4"],"x":1}"#,
                )],
                &format!(
                    r#","mediaType":"application/vnd.oci.image.index.v1+json","artifactType":"a/b","annotations":{{"k":"v"}},"subject":{{"mediaType":"a/b","digest":"sha512:{}","size":0}}"#,
                    "ab".repeat(64)
                ),
            ),
        ),
        (
            "nulls where allowed",
            doc(
                &[entry(0, r#","data":null,"artifactType":null"#)
                    .replace(r#""os":"linux""#, r#""os":"linux","variant":null,"os.version":null"#)],
                r#","mediaType":null,"artifactType":null,"subject":null"#,
            ),
        ),
        ("no platform", doc(&[entry(0, "").replace(r#","platform":{"architecture":"amd64","os":"linux"}"#, "")], "")),
        ("platform null", doc(&[entry(0, "").replace(r#"{"architecture":"amd64","os":"linux"}"#, "null")], "")),
        ("largest fast size", doc(&[entry(0, "").replace("\"size\":100", "\"size\":999999999999999999")], "")),
        ("other digest algorithm", doc(&[entry(0, "").replace(&format!("sha256:{:064x}", 0), "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")], "")),
        // The top-level rules still apply, with the same errors.
        ("schemaVersion 1", doc(std::slice::from_ref(&e), "").replace("\"schemaVersion\":2", "\"schemaVersion\":1")),
        ("manifests null", r#"{"schemaVersion":2,"manifests":null}"#.into()),
        ("image manifest", r#"{"schemaVersion":2,"config":{},"layers":[]}"#.into()),
        ("ambiguous", r#"{"schemaVersion":2,"manifests":[],"layers":[]}"#.into()),
        ("not an index", r#"{"schemaVersion":2,"mediaType":"text/plain","manifests":[]}"#.into()),
        ("empty object", "{}".into()),
    ];
    for (name, text) in rows {
        assert_eq!(check(text.as_bytes()), Path_::Fast, "{name}: {text}");
    }
}

/// Documents the fast reader leaves to the serde reader: results and
/// errors are then the serde reader's by construction; `check` still
/// compares them.
#[test]
fn unusual_documents_fall_back_and_agree() {
    let e = entry(0, "");
    let deep = |n: usize| {
        doc(
            &[entry(
                0,
                &format!(r#","x":{}1{}"#, "[".repeat(n), "]".repeat(n)),
            )],
            "",
        )
    };
    let rows: Vec<(&str, String)> = vec![
        (
            "escaped slash",
            doc(&[e.replace("application/", "application\\/")], ""),
        ),
        (
            "escaped key",
            doc(&[e.replace("\"size\"", "\"si\\u007ae\"")], ""),
        ),
        (
            "unicode escape",
            doc(
                &[entry(0, r#","annotations":{"a":"\u00e9\ud83d\ude00"}"#)],
                "",
            ),
        ),
        (
            "lone surrogate",
            doc(&[entry(0, r#","annotations":{"a":"\ud800"}"#)], ""),
        ),
        (
            "bad escape",
            doc(&[entry(0, r#","annotations":{"a":"\q"}"#)], ""),
        ),
        (
            "control character",
            doc(&[entry(0, ",\"annotations\":{\"a\":\"x\u{1}y\"}")], ""),
        ),
        (
            "tab in string",
            doc(&[entry(0, ",\"annotations\":{\"a\":\"x\ty\"}")], ""),
        ),
        ("duplicate field", doc(&[entry(0, r#","size":2"#)], "")),
        (
            "duplicate platform field",
            doc(
                &[e.replace(r#""os":"linux""#, r#""os":"linux","os":"linux""#)],
                "",
            ),
        ),
        (
            "duplicate annotation",
            doc(&[entry(0, r#","annotations":{"a":"1","a":"1"}"#)], ""),
        ),
        (
            "duplicate top field",
            doc(
                std::slice::from_ref(&e),
                r#","mediaType":null,"mediaType":null"#,
            ),
        ),
        (
            "duplicate manifests",
            format!("{{\"manifests\":[],{}", &doc(&[], "")[1..]),
        ),
        ("deep but allowed", deep(100)),
        ("too deep for serde", deep(200)),
        (
            "negative size",
            doc(&[e.replace("\"size\":100", "\"size\":-1")], ""),
        ),
        (
            "minus zero size",
            doc(&[e.replace("\"size\":100", "\"size\":-0")], ""),
        ),
        (
            "leading zero",
            doc(&[e.replace("\"size\":100", "\"size\":0100")], ""),
        ),
        (
            "fraction",
            doc(&[e.replace("\"size\":100", "\"size\":100.0")], ""),
        ),
        (
            "exponent",
            doc(&[e.replace("\"size\":100", "\"size\":1e2")], ""),
        ),
        (
            "19 digits",
            doc(
                &[e.replace("\"size\":100", "\"size\":9223372036854775807")],
                "",
            ),
        ),
        (
            "beyond int64",
            doc(
                &[e.replace("\"size\":100", "\"size\":9223372036854775808")],
                "",
            ),
        ),
        (
            "beyond u64",
            doc(
                &[e.replace("\"size\":100", "\"size\":99999999999999999999999")],
                "",
            ),
        ),
        (
            "size string",
            doc(&[e.replace("\"size\":100", "\"size\":\"100\"")], ""),
        ),
        ("float in unknown", doc(&[entry(0, r#","x":1.5e-3"#)], "")),
        ("bad number in unknown", doc(&[entry(0, r#","x":1."#)], "")),
        ("minus alone", doc(&[entry(0, r#","x":-"#)], "")),
        (
            "schemaVersion null",
            doc(std::slice::from_ref(&e), "")
                .replace("\"schemaVersion\":2", "\"schemaVersion\":null"),
        ),
        (
            "schemaVersion 2.0",
            doc(std::slice::from_ref(&e), "")
                .replace("\"schemaVersion\":2", "\"schemaVersion\":2.0"),
        ),
        (
            "schemaVersion huge",
            doc(std::slice::from_ref(&e), "")
                .replace("\"schemaVersion\":2", "\"schemaVersion\":4294967298"),
        ),
        ("bad digest", doc(&[e.replace("sha256:0", "sha256:G")], "")),
        (
            "bad media type",
            doc(&[e.replace(OCI_MANIFEST, "nonsense")], ""),
        ),
        (
            "missing digest",
            doc(
                &[e.replace(&format!(r#""digest":"sha256:{:064x}","#, 0), "")],
                "",
            ),
        ),
        (
            "missing mediaType",
            doc(
                &[e.replace(&format!(r#""mediaType":"{OCI_MANIFEST}","#), "")],
                "",
            ),
        ),
        ("missing size", doc(&[e.replace(r#","size":100"#, "")], "")),
        (
            "platform without architecture",
            doc(&[e.replace(r#""architecture":"amd64","#, "")], ""),
        ),
        (
            "platform without os",
            doc(&[e.replace(r#","os":"linux""#, "")], ""),
        ),
        (
            "platform empty",
            doc(
                &[e.replace(r#"{"architecture":"amd64","os":"linux"}"#, "{}")],
                "",
            ),
        ),
        ("descriptor empty", doc(&["{}".into()], "")),
        ("urls null", doc(&[entry(0, r#","urls":null"#)], "")),
        (
            "annotations null",
            doc(&[entry(0, r#","annotations":null"#)], ""),
        ),
        (
            "annotation number",
            doc(&[entry(0, r#","annotations":{"a":1}"#)], ""),
        ),
        ("array as descriptor", doc(&["[]".into()], "")),
        (
            "trailing comma",
            doc(std::slice::from_ref(&e), "").replace("]}", ",]}"),
        ),
        ("trailing comma in object", doc(&[entry(0, ",")], "")),
        (
            "trailing garbage",
            format!("{} x", doc(std::slice::from_ref(&e), "")),
        ),
        (
            "two documents",
            format!("{0}{0}", doc(std::slice::from_ref(&e), "")),
        ),
        (
            "bom",
            format!("\u{feff}{}", doc(std::slice::from_ref(&e), "")),
        ),
        (
            "nul byte",
            format!("{}\0", doc(std::slice::from_ref(&e), "")),
        ),
        (
            "form feed",
            format!("\u{c}{}", doc(std::slice::from_ref(&e), "")),
        ),
        (
            "nonbreaking space",
            format!("\u{a0}{}", doc(std::slice::from_ref(&e), "")),
        ),
        ("literal typo", doc(&[entry(0, r#","x":nul"#)], "")),
        ("literal capital", doc(&[entry(0, r#","x":True"#)], "")),
        ("empty", String::new()),
        ("only space", "   ".into()),
        ("array", "[]".into()),
        ("string", "\"x\"".into()),
    ];
    for (name, text) in rows {
        assert_eq!(check(text.as_bytes()), Path_::Fallback, "{name}: {text}");
    }
}

#[test]
fn invalid_utf8_anywhere() {
    let text = doc(&[entry(0, r#","annotations":{"k":"v"}"#), entry(1, "")], "");
    for at in (0..text.len()).step_by(7) {
        for bad in [0xff, 0xc3, 0x80, 0xed] {
            let mut b = text.clone().into_bytes();
            b[at] = bad;
            check(&b);
            // The fast reader checks UTF-8 itself, string by string: it
            // must give up on every invalid document (leaving the serde
            // reader to refuse it), and the refusal must say where.
            if let Err(e) = std::str::from_utf8(&b) {
                assert!(
                    fast_parse(&b).is_none(),
                    "invalid UTF-8 at byte {at} read fast"
                );
                let err = Index::parse(&b).expect_err("invalid UTF-8 accepted");
                let want = format!("invalid UTF-8 at byte {}", e.valid_up_to());
                assert!(err.to_string().contains(&want), "{err} (want {want})");
            }
        }
    }
}

#[test]
fn every_truncation_and_byte_change() {
    let text = doc(
        &[
            entry(
                0,
                r#","annotations":{"com.example.gpu":"x","k":"v"},"urls":["u"]"#,
            ),
            entry(1, r#","x":[{"y":null}]"#),
        ],
        r#","mediaType":"application/vnd.oci.image.index.v1+json""#,
    );
    let b = text.as_bytes();
    assert_eq!(check(b), Path_::Fast);
    for cut in 0..b.len() {
        check(&b[..cut]);
    }
    for at in 0..b.len() {
        for byte in [
            b' ', b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'-', b'n', 0,
        ] {
            let mut m = b.to_vec();
            m[at] = byte;
            check(&m);
        }
    }
}

/// Writes `v` as JSON with random white space between tokens and, now and
/// then, escapes that JSON allows but does not need.
fn write(v: &Value, r: &mut Rng, out: &mut String) {
    fn ws(r: &mut Rng, out: &mut String) {
        while r.one_in(3) {
            out.push([' ', '\n', '\t', '\r'][(r.next() % 4) as usize]);
            if r.one_in(4) {
                out.push_str(&" ".repeat((r.next() % 40) as usize));
            }
        }
    }
    fn string(s: &str, r: &mut Rng, out: &mut String) {
        let escape = r.one_in(20);
        out.push('"');
        for ch in s.chars() {
            match ch {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                '/' if escape => out.push_str("\\/"),
                c if escape && r.one_in(8) && (c as u32) < 0x10000 => {
                    out.push_str(&format!("\\u{:04X}", c as u32))
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    ws(r, out);
    match v {
        Value::Object(m) => {
            out.push('{');
            ws(r, out);
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(r, out);
                string(k, r, out);
                ws(r, out);
                out.push(':');
                write(x, r, out);
            }
            ws(r, out);
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            ws(r, out);
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, r, out);
            }
            ws(r, out);
            out.push(']');
        }
        Value::String(s) => string(s, r, out),
        other => out.push_str(&other.to_string()),
    }
    ws(r, out);
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9./-]{0,12}",
        1 => any::<String>(),
        1 => "[\\x00-\\x7f]{0,6}",
        1 => Just("é😀\u{7f}\u{80}\u{ffff}".to_owned()),
    ]
}

fn arb_unknown() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{0,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_descriptor() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            OCI_MANIFEST,
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.in-toto+json",
            "text/plain",
        ]),
        0u64..2000,
        prop::option::of((
            prop::sample::select(vec!["linux", "windows", "Linux", "darwin"]),
            prop::sample::select(vec!["amd64", "arm", "arm64", "x86_64", "386"]),
            prop::option::of(prop::sample::select(vec!["v7", "v8", "v3", ""])),
            prop::option::of(arb_string()),
        )),
        prop::collection::btree_map(
            prop_oneof![Just("com.example.gpu".to_owned()), arb_string()],
            arb_string(),
            0..3,
        ),
        prop::option::of(arb_unknown()),
        any::<u16>(),
    )
        .prop_map(|(mt, size, plat, ann, unknown, n)| {
            let mut d = json!({
                "mediaType": mt,
                "digest": format!("sha256:{n:064x}"),
                "size": size,
            });
            if let Some((os, arch, var, osv)) = plat {
                let mut p = json!({"os": os, "architecture": arch});
                if let Some(v) = var {
                    p["variant"] = json!(v);
                }
                if let Some(v) = osv {
                    p["os.version"] = json!(v);
                }
                d["platform"] = p;
            }
            if !ann.is_empty() {
                d["annotations"] = json!(ann);
            }
            if let Some(u) = unknown {
                d["x-unknown"] = u;
            }
            d
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Generated documents, written with random formatting, then maybe
    /// edited (a byte changed, inserted or cut).
    #[test]
    fn generated_documents_agree(
        entries in prop::collection::vec(arb_descriptor(), 0..6),
        top_unknown in prop::option::of(arb_unknown()),
        seed in any::<u64>(),
        edit in prop::option::of((any::<prop::sample::Index>(), any::<u8>(), 0..3u8)),
    ) {
        let mut top = json!({"schemaVersion": 2, "manifests": entries});
        if let Some(u) = top_unknown {
            top["x-top"] = u;
        }
        let mut text = String::new();
        write(&top, &mut Rng(seed | 1), &mut text);
        let mut bytes = text.into_bytes();
        let unedited = edit.is_none();
        if let Some((at, byte, how)) = edit {
            let at = at.index(bytes.len());
            match how {
                0 => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => bytes.truncate(at),
            }
        }
        check(&bytes);
        if unedited {
            // Unedited documents are valid: the result must be an index.
            prop_assert!(Index::parse(&bytes).is_ok());
        }
    }
}

/// Replays a fuzz corpus through `check` and says how much of it the
/// fast reader read itself (an absolute path: tests run in the crate's
/// folder): `OCIPICK_FUZZ_CORPUS=$PWD/fuzz/corpus/index_select cargo test -p ocipick --test fast_path -- --ignored --nocapture`.
#[test]
#[ignore = "needs OCIPICK_FUZZ_CORPUS"]
fn fuzz_corpus_agrees() {
    let dir = std::env::var("OCIPICK_FUZZ_CORPUS").expect("OCIPICK_FUZZ_CORPUS");
    let (mut fast, mut ok, mut all) = (0, 0, 0);
    for f in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        all += 1;
        ok += usize::from(Index::parse(&bytes).is_ok());
        if check(&bytes) == Path_::Fast {
            fast += 1;
        }
    }
    println!("{all} corpus inputs: {ok} valid indexes, {fast} read by the fast reader");
}
