//! The image-spec's own schema tests for image indexes and descriptors,
//! transcribed as facts: each row is one upstream case (its JSON input and
//! whether the schema must refuse it), named by file, test function and
//! position in that function's table (0-based, as the Go loop's `i`
//! reports it) with the case's comment. What is asserted is what ocipick
//! does with it: whether `Index::parse` (selection's reader) accepts it,
//! and which errors `lint` reports.
//!
//! Upstream, newest versions found (github.com/opencontainers/image-spec):
//! - `schema/imageindex_test.go` at ef481833c5138b23a61b66ed9b1bba1313f36b47,
//!   `TestImageIndex` (validated against `image-index-schema.json`);
//! - `schema/descriptor_test.go` at 02ba6e2143771aaefdb542c2222f40db48ef3a0b,
//!   `TestDescriptor` (validated against `content-descriptor.json`);
//! - `schema/backwards_compatibility_test.go` at
//!   0e094f3dd1176669e417b1b67919fddaea96b51e,
//!   `TestBackwardsCompatibilityImageIndex` (its one case, a Docker manifest
//!   list, in `backwards_compatibility_image_index` below).
//!
//! Not transcribed: `schema/manifestlist_test.go` (`TestManifestList`), the
//! file's name before the index was renamed, whose cases
//! `imageindex_test.go` carries on; the other `schema/*_test.go` files test
//! manifests, configs, layouts and artifacts, which ocipick does not read.
//!
//! A descriptor case is a bare descriptor upstream; here it is the only
//! entry of an otherwise valid index (`manifests[0]`), since ocipick reads
//! indexes.
//!
//! Where ocipick agrees with the schema, refusing means both: `Index::parse`
//! refuses and `lint` reports an error. A row marked `differs` is a
//! deliberate difference, listed in `docs/decisions.md`'s table of
//! deliberate differences from the image-spec; the test checks that the
//! table names it, and that a marked row really differs.

use ocipick::lint::{lint, Severity};
use ocipick::Index;

const IDX: &str = "imageindex_test.go TestImageIndex";
const DESC: &str = "descriptor_test.go TestDescriptor";

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const D5B: &str = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";
const DE69: &str = "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f";
const C86: &str = "c86f7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b";
const TYPE_127: &str = "1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567";

/// The deliberate differences the rows rely on; each must be a row of the
/// table in `docs/decisions.md`.
const URLS: &str = "a `urls` entry that is not a URI";
const ARTIFACT_TYPE: &str = "an `artifactType` that is not a media type";
const DATA: &str = "`data` that is not base 64";

struct Row {
    /// File, test function, position and the case's own comment.
    upstream: String,
    /// The document ocipick reads.
    json: String,
    /// Upstream: the schema refuses it.
    schema_fails: bool,
    /// ocipick: `Index::parse` accepts it.
    parses: bool,
    /// ocipick: the IDs of `lint`'s errors, sorted.
    lint_errors: &'static [&'static str],
    /// A deliberate difference from the schema (its row in decisions.md).
    differs: Option<&'static str>,
}

fn idx(i: usize, comment: &str, json: &str, schema_fails: bool) -> Row {
    Row {
        upstream: format!("{IDX} #{i}: {comment}"),
        json: json.to_owned(),
        schema_fails,
        parses: !schema_fails,
        lint_errors: &[],
        differs: None,
    }
}

fn desc(i: usize, comment: &str, descriptor: &str, schema_fails: bool) -> Row {
    Row {
        upstream: format!("{DESC} #{i}: {comment}"),
        json: format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{descriptor}]}}"#
        ),
        schema_fails,
        parses: !schema_fails,
        lint_errors: &[],
        differs: None,
    }
}

impl Row {
    fn lint(mut self, ids: &'static [&'static str]) -> Row {
        self.lint_errors = ids;
        self
    }
    /// Selection tolerates it; lint reports it.
    fn tolerated(mut self, difference: &'static str) -> Row {
        self.parses = true;
        self.differs = Some(difference);
        self
    }
}

fn rows() -> Vec<Row> {
    let plat = |arch: &str| format!(r#""platform":{{"architecture":"{arch}","os":"linux"}}"#);
    let index = |manifests: &str, extra: &str| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",{extra}"manifests":[{manifests}]}}"#
        )
    };
    let amd64 = format!(
        r#"{{"mediaType":"{MANIFEST}","size":7682,"digest":"{D5B}",{}}}"#,
        plat("amd64")
    );
    let d = |fields: &str| format!("{{{fields}}}");
    vec![
        // schema/imageindex_test.go, TestImageIndex
        idx(0, "expected failure: mediaType does not match pattern",
            &index(&format!(r#"{{"mediaType":"invalid","size":7143,"digest":"{DE69}",{}}}"#, plat("ppc64le")), ""), true)
            .lint(&["OCI011"]),
        idx(1, "expected failure: manifest.size is string, expected integer",
            &index(&format!(r#"{{"mediaType":"{MANIFEST}","size":"7682","digest":"{D5B}",{}}}"#, plat("amd64")), ""), true)
            .lint(&["OCI014"]),
        idx(2, "expected failure: manifest.digest is missing, expected required",
            &index(&format!(r#"{{"mediaType":"{MANIFEST}","size":7682,{}}}"#, plat("amd64")), ""), true)
            .lint(&["OCI012"]),
        idx(3, "expected failure: in the optional field platform platform.architecture is missing, expected required",
            &index(&format!(r#"{{"mediaType":"{MANIFEST}","size":7682,"digest":"{D5B}","platform":{{"os":"linux"}}}}"#), ""), true)
            .lint(&["OCI015"]),
        idx(4, "expected failure: invalid referenced manifest media type",
            &index(&format!(r#"{{"mediaType":"invalid","size":7682,"digest":"{D5B}",{}}}"#, plat("amd64")), ""), true)
            .lint(&["OCI011"]),
        idx(5, "expected failure: empty referenced manifest media type",
            &index(&format!(r#"{{"mediaType":"","size":7682,"digest":"{D5B}",{}}}"#, plat("amd64")), ""), true)
            .lint(&["OCI011"]),
        idx(6, "valid image index, with optional fields",
            &index(&format!(r#"{{"mediaType":"{MANIFEST}","size":7143,"digest":"{DE69}",{}}},{amd64}"#, plat("ppc64le")),
                r#""annotations":{"com.example.key1":"value1","com.example.key2":"value2"},"#), false),
        idx(7, "valid image index, with required fields only",
            &index(&format!(r#"{{"mediaType":"{MANIFEST}","size":7143,"digest":"{DE69}"}}"#), ""), false),
        idx(8, "valid image index, with customized media type of referenced manifest",
            &index(&format!(r#"{{"mediaType":"application/customized.manifest+json","size":7143,"digest":"{DE69}",{}}}"#, plat("ppc64le")), ""), false),
        idx(9, "valid image index with artifactType and manifests",
            &index(&format!(
                r#"{{"mediaType":"{MANIFEST}","size":7143,"digest":"{D5B}"}},{{"mediaType":"{MANIFEST}","artifactType":"application/vnd.example1+type","size":506,"digest":"sha256:99953afc4b90c7d78079d189ae10da0a1002e6be5e9e8dedaf9f7f29def42111"}}"#),
                r#""artifactType":"application/vnd.example+type","#), false),
        idx(10, "valid image index with a subject field",
            &index(&amd64, &format!(r#""subject":{{"mediaType":"{MANIFEST}","size":1234,"digest":"sha256:220a60ecd4a3c32c282622a625a54db9ba0ff55b5ba9c29c7064a2bc358b6a3e"}},"#)), false),
        idx(11, "expected failure, invalid subject field",
            &index(&amd64, r#""subject":"nope","#), true)
            .lint(&["OCI006"]),

        // schema/descriptor_test.go, TestDescriptor
        desc(0, "valid descriptor", &d(&format!(r#""mediaType":"{MANIFEST}","size":7682,"digest":"{D5B}""#)), false),
        desc(1, "zero length blob",
            &d(r#""mediaType":"application/octet-stream","size":0,"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855""#), false),
        desc(2, "expected failure: mediaType missing", &d(&format!(r#""size":7682,"digest":"{D5B}""#)), true)
            .lint(&["OCI011"]),
        desc(3, "expected failure: mediaType does not match pattern (no subtype)",
            &d(&format!(r#""mediaType":"application","size":7682,"digest":"{D5B}""#)), true)
            .lint(&["OCI011"]),
        desc(4, "expected failure: mediaType does not match pattern (invalid first type character)",
            &d(&format!(r#""mediaType":".foo/bar","size":7682,"digest":"{D5B}""#)), true)
            .lint(&["OCI011"]),
        desc(5, "expected failure: mediaType does not match pattern (invalid first subtype character)",
            &d(&format!(r#""mediaType":"foo/.bar","size":7682,"digest":"{D5B}""#)), true)
            .lint(&["OCI011"]),
        desc(6, "expected success: mediaType has type and subtype as long as possible",
            &d(&format!(r#""mediaType":"{TYPE_127}/{TYPE_127}","size":7682,"digest":"{D5B}""#)), false),
        desc(7, "expected failure: mediaType does not match pattern (type too long)",
            &d(&format!(r#""mediaType":"{TYPE_127}8/bar","size":7682,"digest":"{D5B}""#)), true)
            .lint(&["OCI011"]),
        desc(8, "expected failure: mediaType does not match pattern (subtype too long)",
            &d(&format!(r#""mediaType":"foo/{TYPE_127}8","size":7682,"digest":"{D5B}""#)), true)
            .lint(&["OCI011"]),
        desc(9, "expected failure: size missing", &d(&format!(r#""mediaType":"{MANIFEST}","digest":"{D5B}""#)), true)
            .lint(&["OCI014"]),
        desc(10, "expected failure: size is a string, expected integer",
            &d(&format!(r#""mediaType":"{MANIFEST}","size":"7682","digest":"{D5B}""#)), true)
            .lint(&["OCI014"]),
        desc(11, "expected failure: digest missing", &d(&format!(r#""mediaType":"{MANIFEST}","size":7682"#)), true)
            .lint(&["OCI012"]),
        desc(12, "expected failure: digest does not match pattern (no algorithm)",
            &d(&format!(r#""mediaType":"{MANIFEST}","size":7682,"digest":":{}""#, &D5B[7..])), true)
            .lint(&["OCI012"]),
        desc(13, "expected failure: digest does not match pattern (no hash)",
            &d(&format!(r#""mediaType":"{MANIFEST}","size":7682,"digest":"sha256""#)), true)
            .lint(&["OCI012"]),
        desc(14, "expected failure: digest does not match pattern (invalid aglorithm characters)",
            &d(&format!(r#""mediaType":"{MANIFEST}","size":7682,"digest":"SHA256:{}""#, &D5B[7..])), true)
            .lint(&["OCI012"]),
        desc(15, "expected failure: digest does not match pattern (characters needs to be lower for sha256)",
            &d(&format!(r#""mediaType":"{MANIFEST}","size":7682,"digest":"sha256:{}""#, D5B[7..].to_uppercase())), true)
            .lint(&["OCI012"]),
        desc(16, "expected success: valid URL entry",
            &d(&format!(r#""mediaType":"{MANIFEST}","size":7682,"digest":"{D5B}","urls":["https://example.com/foo"]"#)), false),
        desc(17, "expected failure: urls does not match format (invalide url characters)",
            &d(&format!(r#""mediaType":"{MANIFEST}","size":7682,"digest":"{D5B}","urls":["value"]"#)), true)
            .tolerated(URLS)
            .lint(&["OCI020"]),
        desc(18, "expected success: artifactType is present and an IANA compliant value",
            &d(&format!(r#""mediaType":"{MANIFEST}","artifactType":"{MANIFEST}","size":7682,"digest":"{D5B}""#)), false),
        desc(19, "expected failure: artifactType does not match pattern (invalid first subtype character)",
            &d(&format!(r#""mediaType":"{MANIFEST}","artifactType":"foo/.bar","size":7682,"digest":"{D5B}""#)), true)
            .tolerated(ARTIFACT_TYPE)
            .lint(&["OCI019"]),
        desc(20, "expected success: data field is present and has base64 content",
            &d(r#""mediaType":"text/plain","size":34,"data":"aHR0cHM6Ly9naXRodWIuY29tL29wZW5jb250YWluZXJzCg==","digest":"sha256:2690af59371e9eca9453dc29882643f46e5ca47ec2862bd517b5e17351325153""#), false),
        desc(21, "expected success: test for alternate digest algorithm",
            &d(&format!(r#""mediaType":"{CONFIG}","size":1470,"digest":"sha256+b64:{C86}""#)), false),
        desc(22, "expected success: test for alternate digest algorithm (the same document again)",
            &d(&format!(r#""mediaType":"{CONFIG}","size":1470,"digest":"sha256+b64:{C86}""#)), false),
        desc(23, "expected success: test for alternate digest algorithm",
            &d(&format!(r#""mediaType":"{CONFIG}","size":1470,"digest":"sha256+foo-bar:{C86}""#)), false),
        desc(24, "expected success: test for alternate digest algorithm",
            &d(&format!(r#""mediaType":"{CONFIG}","size":1470,"digest":"sha256.foo-bar:{C86}""#)), false),
        desc(25, "expected success: test for alternate digest algorithm",
            &d(&format!(r#""mediaType":"{CONFIG}","size":1470,"digest":"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8""#)), false),
        desc(26, "fail: repeated separators in algorithm",
            &d(&format!(r#""mediaType":"{CONFIG}","size":1470,"digest":"sha256+foo+-b:{C86}""#)), true)
            .lint(&["OCI012"]),
        desc(27, "expected success: test for alternate digest encoding",
            &d(&format!(r#""digest":"sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564","size":1000000,"mediaType":"{CONFIG}""#)), false),
        desc(28, "expected success: test for those who cannot use modulo arithmetic to recover padding.",
            &d(&format!(r#""digest":"sha256+b64u.unknownlength:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564=","size":1000000,"mediaType":"{CONFIG}""#)), false),
        desc(29, "expected failure: invalid data base64, missing padding",
            &d(r#""mediaType":"text/plain","size":34,"data":"aHR0cHM6Ly9naXRodWIuY29tL29wZW5jb250YWluZXJzCg","digest":"sha256:2690af59371e9eca9453dc29882643f46e5ca47ec2862bd517b5e17351325153""#), true)
            .tolerated(DATA)
            .lint(&["OCI022"]),
        desc(30, "expected failure: negative size",
            &d(&format!(r#""mediaType":"{MANIFEST}","size":-7682,"digest":"{D5B}""#)), true)
            .lint(&["OCI014"]),
    ]
}

fn lint_errors(json: &str) -> Vec<&'static str> {
    let mut ids: Vec<&str> = lint(json.as_bytes(), ocipick::DEFAULT_MAX_MANIFEST_BYTES)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn upstream_schema_cases() {
    let rows = rows();
    // Every upstream case, once: 12 index cases, 31 descriptor cases.
    assert_eq!(
        rows.iter().filter(|r| r.upstream.starts_with(IDX)).count(),
        12
    );
    assert_eq!(
        rows.iter().filter(|r| r.upstream.starts_with(DESC)).count(),
        31
    );
    let mut failures = Vec::new();
    for r in &rows {
        let parsed = Index::parse(r.json.as_bytes());
        let errors = lint_errors(&r.json);
        if parsed.is_ok() != r.parses {
            failures.push(format!(
                "{}: Index::parse {}, the row says it {}",
                r.upstream,
                match &parsed {
                    Ok(_) => "accepts".to_owned(),
                    Err(e) => format!("refuses ({e})"),
                },
                if r.parses { "accepts" } else { "refuses" }
            ));
        }
        if errors != r.lint_errors {
            failures.push(format!(
                "{}: lint errors {errors:?}, the row says {:?}",
                r.upstream, r.lint_errors
            ));
        }
        let refuses = parsed.is_err();
        let reports = !errors.is_empty();
        let agrees = refuses == r.schema_fails && reports == r.schema_fails;
        match r.differs {
            None if !agrees => failures.push(format!(
                "{}: ocipick differs from the schema (schema refuses: {}) without a mark",
                r.upstream, r.schema_fails
            )),
            Some(d) if agrees => failures.push(format!(
                "{}: marked as differing ({d}) but agrees with the schema",
                r.upstream
            )),
            _ => {}
        }
        // Whatever selection tolerates, lint still reports: no schema
        // failure goes unreported.
        if r.schema_fails && errors.is_empty() {
            failures.push(format!(
                "{}: the schema refuses it, lint is silent",
                r.upstream
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Every difference a row relies on is in the table of deliberate
/// differences, as a row of its own.
#[test]
fn differences_are_documented() {
    let decisions = include_str!("../../../docs/decisions.md");
    let table = decisions
        .split("## Deliberate differences from the image-spec")
        .nth(1)
        .expect("docs/decisions.md has a table of deliberate differences from the image-spec");
    for d in [URLS, ARTIFACT_TYPE, DATA] {
        assert!(
            table.lines().any(|l| l.starts_with("| ") && l.contains(d)),
            "no row for {d:?} in the table"
        );
    }
    for r in rows() {
        if let Some(d) = r.differs {
            assert!([URLS, ARTIFACT_TYPE, DATA].contains(&d), "{}", r.upstream);
        }
    }
}

/// The rows of `docs/decisions.md` beyond the upstream cases: `null` read
/// as absent (and which of them `lint` reports), duplicates refused (and
/// reported, `OCI025`), `manifests` with `config`, and the int64 bound on `size`.
#[test]
fn other_documented_differences() {
    let entry = |extra: &str| {
        format!(
            r#"{{"mediaType":"{MANIFEST}","digest":"{D5B}","size":7682,"platform":{{"architecture":"amd64","os":"linux"{extra}}}}}"#
        )
    };
    let doc = |top: &str, e: &str| format!(r#"{{"schemaVersion":2,{top}"manifests":[{e}]}}"#);
    // (document, Index::parse accepts, lint's errors)
    let rows: Vec<(&str, String, bool, Vec<&str>)> = vec![
        (
            "index mediaType null",
            doc(r#""mediaType":null,"#, &entry("")),
            true,
            vec!["OCI005"],
        ),
        (
            "index artifactType null",
            doc(r#""artifactType":null,"#, &entry("")),
            true,
            vec!["OCI019"],
        ),
        (
            "subject null",
            doc(r#""subject":null,"#, &entry("")),
            true,
            vec!["OCI006"],
        ),
        (
            "config null",
            doc(r#""config":null,"#, &entry("")),
            true,
            vec!["OCI007"],
        ),
        (
            "layers null",
            doc(r#""layers":null,"#, &entry("")),
            true,
            vec!["OCI007"],
        ),
        (
            "entry artifactType null",
            doc(
                "",
                &entry("").replacen("\"size\"", "\"artifactType\":null,\"size\"", 1),
            ),
            true,
            vec!["OCI019"],
        ),
        (
            "entry data null",
            doc(
                "",
                &entry("").replacen("\"size\"", "\"data\":null,\"size\"", 1),
            ),
            true,
            vec!["OCI022"],
        ),
        (
            "entry platform null",
            doc(
                "",
                &format!(
                    r#"{{"mediaType":"{MANIFEST}","digest":"{D5B}","size":7682,"platform":null}}"#
                ),
            ),
            true,
            vec![],
        ),
        (
            "os.version null",
            doc("", &entry(r#","os.version":null"#)),
            true,
            vec![],
        ),
        (
            "variant null",
            doc("", &entry(r#","variant":null"#)),
            true,
            vec![],
        ),
        (
            "duplicate field",
            doc(
                "",
                &entry("").replacen("\"size\":7682", "\"size\":7682,\"size\":7683", 1),
            ),
            false,
            vec!["OCI025"],
        ),
        (
            "duplicate annotation key",
            doc(
                "",
                &entry("").replacen(
                    "\"size\"",
                    r#""annotations":{"a.b":"1","a.b":"2"},"size""#,
                    1,
                ),
            ),
            false,
            vec!["OCI025"],
        ),
        (
            "manifests and config",
            doc(r#""config":{},"#, &entry("")),
            false,
            vec!["OCI007"],
        ),
        (
            "size 2^63",
            doc("", &entry("").replace("7682", "9223372036854775808")),
            false,
            vec!["OCI014"],
        ),
        (
            "size 2^63-1",
            doc("", &entry("").replace("7682", "9223372036854775807")),
            true,
            vec![],
        ),
    ];
    for (name, json, parses, want) in rows {
        assert_eq!(
            Index::parse(json.as_bytes()).is_ok(),
            parses,
            "{name}: {json}"
        );
        assert_eq!(lint_errors(&json), want, "{name}");
    }
}

/// `schema/backwards_compatibility_test.go`, `TestBackwardsCompatibilityImageIndex`
/// (at 0e094f3dd1176669e417b1b67919fddaea96b51e), its one case: a Docker
/// manifest list from Docker Hub, which upstream checks by its digest and
/// then, with the Docker media types replaced by the OCI ones
/// (`convertFormats`), validates against `image-index-schema.json`: valid.
/// The document is transcribed byte for byte (the digest check proves it);
/// ocipick reads it, in both spellings, and `lint` finds no error in it.
#[test]
fn backwards_compatibility_image_index() {
    use sha2::{Digest as _, Sha256};
    const UPSTREAM: &str = "backwards_compatibility_test.go TestBackwardsCompatibilityImageIndex/0";
    const DOCKER_LIST: &str = r#"{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
   "manifests": [
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "size": 2094,
         "digest": "sha256:7820f9a86d4ad15a2c4f0c0e5479298df2aa7c2f6871288e2ef8546f3e7b6783",
         "platform": {
            "architecture": "ppc64le",
            "os": "linux"
         }
      },
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "size": 1922,
         "digest": "sha256:ae1b0e06e8ade3a11267564a26e750585ba2259c0ecab59ab165ad1af41d1bdd",
         "platform": {
            "architecture": "amd64",
            "os": "linux"
         }
      },
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "size": 2084,
         "digest": "sha256:e4c0df75810b953d6717b8f8f28298d73870e8aa2a0d5e77b8391f16fdfbbbe2",
         "platform": {
            "architecture": "s390x",
            "os": "linux"
         }
      },
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "size": 2084,
         "digest": "sha256:07ebe243465ef4a667b78154ae6c3ea46fdb1582936aac3ac899ea311a701b40",
         "platform": {
            "architecture": "arm",
            "os": "linux",
            "variant": "v7"
         }
      },
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "size": 2090,
         "digest": "sha256:fb2fc0707b86dafa9959fe3d29e66af8787aee4d9a23581714be65db4265ad8a",
         "platform": {
            "architecture": "arm64",
            "os": "linux",
            "variant": "v8"
         }
      }
   ]
}"#;
    let hex: String = Sha256::digest(DOCKER_LIST.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex, "4ffd0883f25635999f04ea543240a27c9a4341979ff7d46a9774f71512eebb1f",
        "{UPSTREAM}: the transcribed document is upstream's"
    );
    // upstream's compatMap, for the media types this document uses.
    let converted = DOCKER_LIST
        .replace(
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.index.v1+json",
        )
        .replace(
            "application/vnd.docker.distribution.manifest.v2+json",
            MANIFEST,
        );
    for (spelling, doc) in [("Docker", DOCKER_LIST), ("converted", &converted[..])] {
        let index = Index::parse(doc.as_bytes())
            .unwrap_or_else(|e| panic!("{UPSTREAM} ({spelling}): Index::parse refuses: {e}"));
        assert_eq!(index.manifests.len(), 5, "{UPSTREAM} ({spelling})");
        assert_eq!(
            lint_errors(doc),
            Vec::<&str>::new(),
            "{UPSTREAM} ({spelling}): the schema accepts it"
        );
        let target = ocipick::Platform::new("linux", "amd64", None);
        let chosen = ocipick::Policy::new(&target)
            .select(&index)
            .map(|s| s.descriptor.digest.to_string());
        assert_eq!(
            chosen.as_deref(),
            Some("sha256:ae1b0e06e8ade3a11267564a26e750585ba2259c0ecab59ab165ad1af41d1bdd"),
            "{UPSTREAM} ({spelling}): linux/amd64 takes its entry"
        );
    }
}
