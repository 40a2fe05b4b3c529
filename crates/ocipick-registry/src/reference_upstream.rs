//! distribution/reference's test tables, as facts: each row is an input of
//! an upstream test case and the outcome upstream expects, written as what
//! ocipick gives for it, and names the file and test function it comes
//! from. Files are distribution/reference's (the newest copies:
//! `reference_test.go`, `normalize_test.go`, `regexp_test.go`); "older
//! copy" rows come from an earlier `reference_test.go`, and
//! "docker/distribution" rows from the older copies in that repository's
//! `reference/`, where they differ from the newest.
//!
//! Upstream's `Parse` reads names without Docker's defaults; ocipick always
//! reads as `ParseNormalizedNamed` does (what Docker, containerd and Podman
//! call), so a `Parse` row's domain-less name is written here normalized
//! (`docker.io`, `library/` for one component). ocipick also adds the tag
//! `latest` when neither tag nor digest is given, as `ParseDockerRef` /
//! `TagNameOnly` do. Neither is repeated on every row; every other
//! difference is in the row's note (and in `docs/decisions.md`).
//!
//! Not transcribed: normalize_test.go `TestMatch` and `TestMatchError`
//! (`FamiliarMatch`, path patterns: ocipick has no such function), and
//! reference_test.go's JSON-field round trip (`Field`/`AsField`): only
//! `TestSerialization`'s four inputs are rows.

use super::*;

const F64: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const DBCC: &str = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
const BE17: &str = "be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912";
const HEX_1A3F: &str = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";

const RT: &str = "reference_test.go TestReferenceParse";
const RT_OLD: &str = "reference_test.go TestReferenceParse (older copy)";
const RT_WNF: &str = "reference_test.go TestWithNameFailure";
const RT_DP: &str = "reference_test.go TestDomainAndPath";
const RT_SER: &str = "reference_test.go TestSerialization";
const RT_WD: &str = "reference_test.go TestWithDigest";
const RT_PN: &str = "reference_test.go TestParseNamed";
const NT_VRN: &str = "normalize_test.go TestValidateReferenceName";
const NT_VREM: &str = "normalize_test.go TestValidateRemoteName";
const NT_IRC: &str = "normalize_test.go TestInvalidReferenceComponents";
const NT_ANY: &str = "normalize_test.go TestParseAnyReference";
const NT_SPLIT: &str = "normalize_test.go TestNormalizedSplitHostname";
const DD_VRN: &str = "docker/distribution reference/normalize_test.go TestValidateReferenceName";
const DD_ANY: &str = "docker/distribution reference/normalize_test.go TestParseAnyReference";
const XT_NAME: &str = "regexp_test.go TestFullNameRegexp";
const XT_REF: &str = "regexp_test.go TestReferenceRegexp";
const XT_ID: &str = "regexp_test.go TestIdentifierRegexp";
const OURS: &str = "ocipick";

#[derive(Debug)]
enum Want {
    /// registry, repository, tag, digest
    Ok(String, String, Option<String>, Option<String>),
    /// A fragment of the problem reported.
    Err(&'static str),
}

#[derive(Debug)]
struct Row {
    from: &'static str,
    input: String,
    want: Want,
    /// Where ocipick differs from upstream's expectation, and why.
    note: &'static str,
}

fn ok(
    from: &'static str,
    input: impl Into<String>,
    registry: &str,
    repository: impl Into<String>,
    tag: Option<&str>,
    digest: Option<&str>,
) -> Row {
    Row {
        from,
        input: input.into(),
        want: Want::Ok(
            registry.to_owned(),
            repository.into(),
            tag.map(str::to_owned),
            digest.map(str::to_owned),
        ),
        note: "",
    }
}

fn bad(from: &'static str, input: impl Into<String>, fragment: &'static str) -> Row {
    Row {
        from,
        input: input.into(),
        want: Want::Err(fragment),
        note: "",
    }
}

impl Row {
    fn note(mut self, note: &'static str) -> Row {
        self.note = note;
        self
    }
}

const L: Option<&str> = Some("latest");

fn sha256(hex: &str) -> String {
    format!("sha256:{hex}")
}

#[rustfmt::skip]
fn rows() -> Vec<Row> {
    let f256 = sha256(F64);
    let f512 = format!("sha512:{}", F64.repeat(2));
    let be = sha256(BE17);
    let db = sha256(DBCC);
    let a127 = format!("{}a", "a/".repeat(127));
    let a255 = "a".repeat(255);
    let long_ns = "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_".repeat(4);
    let long_ns = format!("{}/docker", long_ns.trim_end_matches('_'));
    let t = Some("tag");
    vec![
        // reference_test.go TestReferenceParse
        ok(RT, "test_com", DOCKER_HUB, "library/test_com", L, None),
        ok(RT, "test.com:tag", DOCKER_HUB, "library/test.com", t, None),
        ok(RT, "test.com:5000", DOCKER_HUB, "library/test.com", Some("5000"), None),
        ok(RT, "test.com/repo:tag", "test.com", "repo", t, None),
        ok(RT, "test:5000/repo", "test:5000", "repo", L, None),
        ok(RT, "test:5000/repo:tag", "test:5000", "repo", t, None),
        ok(RT, format!("test:5000/repo@{f256}"), "test:5000", "repo", None, Some(&f256)),
        ok(RT, format!("test:5000/repo:tag@{f256}"), "test:5000", "repo", t, Some(&f256)),
        bad(RT, "", "empty"),
        bad(RT, ":justtag", "repository name"),
        bad(RT, format!("@{f256}"), "repository name"),
        bad(RT, "repo@sha256:ffffffffffffffffffffffffffffffffff", "invalid encoded part"),
        bad(RT, format!("validname@invaliddigest:{F64}"), "cannot be verified"),
        bad(RT, "Uppercase:tag", "must be lower-case"),
        // Upstream's commented-out FIXME: "Uppercase" is read as a domain,
        // so the reference passes; ocipick reads it so too.
        ok(RT, "Uppercase/lowercase:tag", "Uppercase", "lowercase", t, None),
        bad(RT, "test:5000/Uppercase/lowercase:tag", "must be lower-case"),
        ok(RT, "lowercase:Uppercase", DOCKER_HUB, "library/lowercase", Some("Uppercase"), None),
        bad(RT, format!("domain/{}:tag", "a".repeat(256)), "more than 255"),
        bad(RT_OLD, format!("{}a:tag", "a/".repeat(128)), "more than 255"),
        ok(RT, format!("{a127}:tag-puts-this-over-max"), DOCKER_HUB, &*a127, Some("tag-puts-this-over-max"), None)
            .note("Parse reads \"a\" as the domain; normalized, \"a\" names no registry and the path is the whole 255 characters"),
        bad(RT, "aa/asdf$$^/aa", "repository name"),
        ok(RT, "sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", L, None),
        ok(RT, "sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux", Some("some-long-tag"), None),
        ok(RT, "b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app", Some("test.example.com"), None),
        ok(RT, "xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", Some("xn--n3h.com"), None),
        ok(RT, format!("xn--7o8h.com/myimage:xn--7o8h.com@{f512}"), "xn--7o8h.com", "myimage", Some("xn--7o8h.com"), Some(&f512)),
        ok(RT, "foo_bar.com:8080", DOCKER_HUB, "library/foo_bar.com", Some("8080"), None),
        ok(RT, "foo/foo_bar.com:8080", DOCKER_HUB, "foo/foo_bar.com", Some("8080"), None)
            .note("Parse reads \"foo\" as the domain; normalized, \"foo\" names no registry"),
        ok(RT, "192.168.1.1", DOCKER_HUB, "library/192.168.1.1", L, None),
        ok(RT, "192.168.1.1:tag", DOCKER_HUB, "library/192.168.1.1", t, None),
        ok(RT, "192.168.1.1:5000", DOCKER_HUB, "library/192.168.1.1", Some("5000"), None),
        ok(RT, "192.168.1.1/repo", "192.168.1.1", "repo", L, None),
        ok(RT, "192.168.1.1:5000/repo", "192.168.1.1:5000", "repo", L, None),
        ok(RT, "192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", Some("5050"), None),
        bad(RT, "[2001:db8::1]", "repository name"),
        bad(RT, "[2001:db8::1]:5000", "repository name"),
        bad(RT, "[2001:db8::1]:tag", "repository name"),
        ok(RT, "[2001:db8::1]/repo", "[2001:db8::1]", "repo", L, None),
        ok(RT, "[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", t, None),
        ok(RT, "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", L, None),
        ok(RT, "[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", t, None),
        ok(RT, format!("[2001:db8::1]:5000/repo@{f256}"), "[2001:db8::1]:5000", "repo", None, Some(&f256)),
        ok(RT, format!("[2001:db8::1]:5000/repo:tag@{f256}"), "[2001:db8::1]:5000", "repo", t, Some(&f256)),
        ok(RT, "[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", L, None),
        ok(RT, "[::1]:5000/repo", "[::1]:5000", "repo", L, None),
        bad(RT, "[fe80::1%eth0]:5000/repo", "not an IPv6 address"),
        bad(RT, "[fe80::1%@invalidzone]:5000/repo", "invalid algorithm"),
        ok(RT, format!("example.com/{a255}:tag"), "example.com", &*a255, t, None),
        // reference_test.go TestWithNameFailure
        ok(RT_WNF, "example.com/repo:tag", "example.com", "repo", t, None)
            .note("WithName reads a name, which has no tag; as a reference it is valid"),
        bad(RT_WNF, format!("example.com/{}", "a".repeat(256)), "more than 255"),
        bad(RT_WNF, "aa/asdf$$^/aa", "repository name"),
        // The same function's other rows (inputs TestReferenceParse also has).
        bad(RT_WNF, "", "empty"),
        bad(RT_WNF, ":justtag", "repository name"),
        bad(RT_WNF, format!("@{f256}"), "repository name"),
        bad(RT_WNF, format!("validname@invaliddigest:{F64}"), "cannot be verified"),
        bad(RT_WNF, format!("{}a:tag", "a/".repeat(128)), "more than 255"),
        // reference_test.go TestDomainAndPath (WithName: no defaults)
        ok(RT_DP, "test.com/foo", "test.com", "foo", L, None),
        ok(RT_DP, "test_com/foo", DOCKER_HUB, "test_com/foo", L, None),
        ok(RT_DP, "test:8080/foo", "test:8080", "foo", L, None),
        ok(RT_DP, "test.com:8080/foo", "test.com:8080", "foo", L, None),
        ok(RT_DP, "test-com:8080/foo", "test-com:8080", "foo", L, None),
        ok(RT_DP, "xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", L, None),
        // reference_test.go TestSerialization
        bad(RT_SER, "", "empty"),
        ok(RT_SER, "example.com:8000/named", "example.com:8000", "named", L, None),
        ok(RT_SER, "example.com:8000/named:tagged", "example.com:8000", "named", Some("tagged"), None),
        ok(RT_SER, "other.com/named@sha256:1234567890098765432112345667890098765432112345667890098765432112", "other.com", "named", None,
            Some("sha256:1234567890098765432112345667890098765432112345667890098765432112")),
        // reference_test.go TestWithDigest
        bad(RT_WD, "test.com/foo@sha256:1234567890098765432112345667890098765", "invalid encoded part")
            .note("WithDigest checks only the pattern (32 or more hex digits); ocipick reads a digest as go-digest's Parse does, which TestReferenceParse's own short-sha256 row expects"),
        // reference_test.go TestParseNamed
        ok(RT_PN, "test.com/foo", "test.com", "foo", L, None),
        ok(RT_PN, "test:8080/foo", "test:8080", "foo", L, None),
        ok(RT_PN, "docker.io/library/foo", DOCKER_HUB, "library/foo", L, None),
        ok(RT_PN, "test_com/foo", DOCKER_HUB, "test_com/foo", L, None)
            .note("ParseNamed demands the canonical form; ocipick reads familiar forms, as ParseNormalizedNamed"),
        ok(RT_PN, "test.com", DOCKER_HUB, "library/test.com", L, None)
            .note("ParseNamed demands the canonical form; ocipick reads familiar forms, as ParseNormalizedNamed"),
        ok(RT_PN, "foo", DOCKER_HUB, "library/foo", L, None)
            .note("ParseNamed demands the canonical form; ocipick reads familiar forms, as ParseNormalizedNamed"),
        ok(RT_PN, "library/foo", DOCKER_HUB, "library/foo", L, None)
            .note("ParseNamed demands the canonical form; ocipick reads familiar forms, as ParseNormalizedNamed"),
        ok(RT_PN, "docker.io/foo", DOCKER_HUB, "library/foo", L, None)
            .note("ParseNamed demands the canonical form; ocipick reads familiar forms, as ParseNormalizedNamed"),
        // normalize_test.go TestValidateReferenceName, valid names
        ok(NT_VRN, "docker/docker", DOCKER_HUB, "docker/docker", L, None),
        ok(NT_VRN, "library/debian", DOCKER_HUB, "library/debian", L, None),
        ok(NT_VRN, "debian", DOCKER_HUB, "library/debian", L, None),
        ok(NT_VRN, "docker.io/docker/docker", DOCKER_HUB, "docker/docker", L, None),
        ok(NT_VRN, "docker.io/library/debian", DOCKER_HUB, "library/debian", L, None),
        ok(NT_VRN, "docker.io/debian", DOCKER_HUB, "library/debian", L, None),
        ok(NT_VRN, "index.docker.io/docker/docker", DOCKER_HUB, "docker/docker", L, None),
        ok(NT_VRN, "index.docker.io/library/debian", DOCKER_HUB, "library/debian", L, None),
        ok(NT_VRN, "index.docker.io/debian", DOCKER_HUB, "library/debian", L, None),
        ok(NT_VRN, "127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker", L, None),
        ok(NT_VRN, "127.0.0.1:5000/library/debian", "127.0.0.1:5000", "library/debian", L, None),
        ok(NT_VRN, "127.0.0.1:5000/debian", "127.0.0.1:5000", "debian", L, None),
        ok(NT_VRN, "192.168.0.1", DOCKER_HUB, "library/192.168.0.1", L, None),
        ok(NT_VRN, "192.168.0.1:80", DOCKER_HUB, "library/192.168.0.1", Some("80"), None),
        ok(NT_VRN, "192.168.0.1:8/debian", "192.168.0.1:8", "debian", L, None),
        ok(NT_VRN, "192.168.0.2:25000/debian", "192.168.0.2:25000", "debian", L, None),
        ok(NT_VRN, "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", DOCKER_HUB,
            "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", L, None),
        ok(NT_VRN, "[fc00::1]:5000/docker", "[fc00::1]:5000", "docker", L, None),
        ok(NT_VRN, "[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", L, None),
        ok(NT_VRN, "[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian", L, None),
        ok(NT_VRN, format!("docker.io/{HEX_1A3F}"), DOCKER_HUB, format!("library/{HEX_1A3F}"), L, None),
        ok(NT_VRN, "Docker/docker", "Docker", "docker", L, None),
        ok(NT_VRN, "DOCKER/docker", "DOCKER", "docker", L, None),
        // normalize_test.go TestValidateReferenceName, invalid names
        bad(NT_VRN, "https://github.com/docker/docker", "port"),
        bad(NT_VRN, "docker/Docker", "must be lower-case"),
        bad(NT_VRN, "-docker", "repository name"),
        bad(NT_VRN, "-docker/docker", "repository name"),
        bad(NT_VRN, "-docker.io/docker/docker", "registry host"),
        bad(NT_VRN, "docker///docker", "repository name"),
        bad(NT_VRN, "docker.io/docker/Docker", "must be lower-case"),
        bad(NT_VRN, "docker.io/docker///docker", "repository name"),
        bad(NT_VRN, "[fc00::1]", "repository name"),
        bad(NT_VRN, "[fc00::1]:5000", "repository name"),
        bad(NT_VRN, "fc00::1:5000/debian", "port"),
        bad(NT_VRN, "[fe80::1%eth0]:5000/debian", "not an IPv6 address"),
        bad(NT_VRN, "[2001:db8:3:4::192.0.2.33]:5000/debian", "not an IPv6 address"),
        bad(NT_VRN, HEX_1A3F, "image ID"),
        // docker/distribution reference/normalize_test.go: its older grammar
        // took IPv6 zones; the newest refuses them, as ocipick does.
        bad(DD_VRN, "[fc00::1%eth0]:5000/docker/docker", "not an IPv6 address")
            .note("valid in docker/distribution's older copy; the newest distribution/reference refuses zones, and so does ocipick"),
        bad(DD_VRN, "[fc00::1%eth0]:5000/library/debian", "not an IPv6 address")
            .note("valid in docker/distribution's older copy; the newest distribution/reference refuses zones, and so does ocipick"),
        bad(DD_VRN, "[fc00::1%eth0]:5000/debian", "not an IPv6 address")
            .note("valid in docker/distribution's older copy; the newest distribution/reference refuses zones, and so does ocipick"),
        // ParseAnyReferenceWithSet: a short ID found in a set of local digests.
        ok(DD_ANY, "dbcc1c", DOCKER_HUB, "library/dbcc1c", L, None)
            .note("with a set of local digests that dbcc1c prefixes, upstream reads it as that image ID; ocipick has no local images and reads the name, as upstream does without a match"),
        // normalize_test.go TestValidateRemoteName
        ok(NT_VREM, "docker/docker", DOCKER_HUB, "docker/docker", L, None),
        ok(NT_VREM, "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", DOCKER_HUB,
            "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", L, None),
        ok(NT_VREM, "docker-rules/docker", DOCKER_HUB, "docker-rules/docker", L, None),
        ok(NT_VREM, "docker---rules/docker", DOCKER_HUB, "docker---rules/docker", L, None),
        ok(NT_VREM, "doc/docker", DOCKER_HUB, "doc/docker", L, None),
        ok(NT_VREM, "d/docker", DOCKER_HUB, "d/docker", L, None),
        ok(NT_VREM, "jess/t", DOCKER_HUB, "jess/t", L, None),
        ok(NT_VREM, "dock__er/docker", DOCKER_HUB, "dock__er/docker", L, None),
        bad(NT_VREM, "docker/Docker", "must be lower-case"),
        bad(NT_VREM, "docker///docker", "repository name"),
        bad(NT_VREM, HEX_1A3F, "image ID"),
        bad(NT_VREM, "-docker/docker", "repository name"),
        bad(NT_VREM, "docker-/docker", "repository name"),
        bad(NT_VREM, "-docker-/docker", "repository name"),
        bad(NT_VREM, "____/____", "repository name"),
        bad(NT_VREM, "_docker/_docker", "repository name"),
        bad(NT_VREM, "dock..er/docker", "registry host"),
        bad(NT_VREM, "dock_.er/docker", "registry host"),
        bad(NT_VREM, "dock-.er/docker", "registry host"),
        bad(NT_VREM, "docker/", "repository name"),
        bad(NT_VREM, long_ns, "more than 255"),
        // normalize_test.go TestInvalidReferenceComponents
        bad(NT_IRC, "-foo", "repository name"),
        bad(NT_IRC, "busybox:-foo", "tag"),
        bad(NT_IRC, "busybox@foo", "digest"),
        // normalize_test.go TestParseAnyReference
        ok(NT_ANY, "redis", DOCKER_HUB, "library/redis", L, None),
        ok(NT_ANY, "redis:latest", DOCKER_HUB, "library/redis", L, None),
        ok(NT_ANY, "docker.io/library/redis:latest", DOCKER_HUB, "library/redis", L, None),
        ok(NT_ANY, format!("redis@{db}"), DOCKER_HUB, "library/redis", None, Some(&db)),
        ok(NT_ANY, format!("docker.io/library/redis@{db}"), DOCKER_HUB, "library/redis", None, Some(&db)),
        ok(NT_ANY, "dmcgowan/myapp", DOCKER_HUB, "dmcgowan/myapp", L, None),
        ok(NT_ANY, "dmcgowan/myapp:latest", DOCKER_HUB, "dmcgowan/myapp", L, None),
        ok(NT_ANY, "docker.io/mcgowan/myapp:latest", DOCKER_HUB, "mcgowan/myapp", L, None),
        ok(NT_ANY, format!("dmcgowan/myapp@{db}"), DOCKER_HUB, "dmcgowan/myapp", None, Some(&db)),
        ok(NT_ANY, format!("docker.io/dmcgowan/myapp@{db}"), DOCKER_HUB, "dmcgowan/myapp", None, Some(&db)),
        bad(NT_ANY, DBCC, "image ID")
            .note("ParseAnyReference reads a bare 64-hex string as a local image ID (sha256:…); ocipick has no local images and refuses it, as ParseNormalizedNamed does"),
        ok(NT_ANY, db.clone(), DOCKER_HUB, "library/sha256", Some(DBCC), None)
            .note("ParseAnyReference reads it as a local image ID; ocipick reads it as ParseNormalizedNamed does: repository sha256, the hex as its tag"),
        ok(NT_ANY, &DBCC[..63], DOCKER_HUB, format!("library/{}", &DBCC[..63]), L, None),
        ok(NT_ANY, "dbcc1", DOCKER_HUB, "library/dbcc1", L, None),
        // normalize_test.go TestNormalizedSplitHostname
        ok(NT_SPLIT, "test.com/foo", "test.com", "foo", L, None),
        ok(NT_SPLIT, "test_com/foo", DOCKER_HUB, "test_com/foo", L, None),
        ok(NT_SPLIT, "docker/migrator", DOCKER_HUB, "docker/migrator", L, None),
        ok(NT_SPLIT, "test.com:8080/foo", "test.com:8080", "foo", L, None),
        ok(NT_SPLIT, "test-com:8080/foo", "test-com:8080", "foo", L, None),
        ok(NT_SPLIT, "foo", DOCKER_HUB, "library/foo", L, None),
        ok(NT_SPLIT, "xn--n3h.com/foo", "xn--n3h.com", "foo", L, None),
        ok(NT_SPLIT, "xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", L, None),
        ok(NT_SPLIT, "docker.io/foo", DOCKER_HUB, "library/foo", L, None),
        ok(NT_SPLIT, "docker.io/library/foo", DOCKER_HUB, "library/foo", L, None),
        ok(NT_SPLIT, "docker.io/library/foo/bar", DOCKER_HUB, "library/foo/bar", L, None),
        // regexp_test.go TestFullNameRegexp (names; normalized here)
        bad(XT_NAME, "a/a/a/a/", "repository name"),
        bad(XT_NAME, "a//a/a", "repository name"),
        bad(XT_NAME, "foo.com/", "repository name"),
        ok(XT_NAME, "foo.com:8080/bar", "foo.com:8080", "bar", L, None),
        bad(XT_NAME, "foo.com:http/bar", "port"),
        ok(XT_NAME, "localhost:8080/bar", "localhost:8080", "bar", L, None),
        bad(XT_NAME, "a^a", "repository name"),
        bad(XT_NAME, "asdf$$^/aa", "repository name"),
        bad(XT_NAME, "a-/a/a/a", "repository name"),
        bad(XT_NAME, "foo.com/a-/a/a", "repository name"),
        bad(XT_NAME, "foo/bar-", "repository name"),
        bad(XT_NAME, "foo/-bar", "repository name"),
        ok(XT_NAME, "foo_bar.com", DOCKER_HUB, "library/foo_bar.com", L, None),
        bad(XT_NAME, "foo_bar.com:8080/app", "registry host"),
        ok(XT_NAME, "foo.com/foo_bar", "foo.com", "foo_bar", L, None),
        bad(XT_NAME, "docker_/docker_", "repository name"),
        ok(XT_NAME, "example.com/some_separator__underscore/myimage", "example.com", "some_separator__underscore/myimage", L, None),
        bad(XT_NAME, "example.com/__underscore/myimage", "repository name"),
        bad(XT_NAME, "example.com/..dots/myimage", "repository name"),
        bad(XT_NAME, "example.com/.dots/myimage", "repository name"),
        bad(XT_NAME, "example.com/nodouble..dots/myimage", "repository name"),
        bad(XT_NAME, "docker./docker", "registry host"),
        bad(XT_NAME, ".docker/docker", "registry host"),
        bad(XT_NAME, "do__cker:8080/docker", "registry host"),
        ok(XT_NAME, "do__cker/docker", DOCKER_HUB, "do__cker/docker", L, None),
        ok(XT_NAME, "registry.io/foo/project--id.module--name.ver---sion--name", "registry.io",
            "foo/project--id.module--name.ver---sion--name", L, None),
        ok(XT_NAME, "Asdf.com/foo/bar", "Asdf.com", "foo/bar", L, None),
        bad(XT_NAME, "Foo/FarB", "must be lower-case"),
        // regexp_test.go TestReferenceRegexp
        ok(XT_REF, "registry.com:8080/myapp:tag", "registry.com:8080", "myapp", t, None),
        ok(XT_REF, format!("registry.com:8080/myapp@{be}"), "registry.com:8080", "myapp", None, Some(&be)),
        ok(XT_REF, format!("registry.com:8080/myapp:tag2@{be}"), "registry.com:8080", "myapp", Some("tag2"), Some(&be)),
        bad(XT_REF, "registry.com:8080/myapp@sha256:badbadbadbad", "invalid encoded part"),
        bad(XT_REF, "registry.com:8080/myapp:invalid~tag", "tag"),
        bad(XT_REF, "bad_hostname.com:8080/myapp:tag", "registry host"),
        ok(XT_REF, format!("localhost:8080@{be}"), DOCKER_HUB, "library/localhost", Some("8080"), Some(&be)),
        ok(XT_REF, format!("localhost:8080/name@{be}"), "localhost:8080", "name", None, Some(&be)),
        bad(XT_REF, format!("localhost:http/name@{be}"), "port"),
        ok(XT_REF, format!("localhost@{be}"), DOCKER_HUB, "library/localhost", None, Some(&be)),
        bad(XT_REF, "registry.com:8080/myapp@bad", "digest"),
        bad(XT_REF, "registry.com:8080/myapp@2bad", "digest"),
        // regexp_test.go TestIdentifierRegexp: the 64-hex rule, as references
        bad(XT_ID, "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", "image ID"),
        bad(XT_ID, "7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C", "must be lower-case"),
        ok(XT_ID, "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf", DOCKER_HUB,
            "library/da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf", L, None),
        ok(XT_ID, "sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", DOCKER_HUB,
            "library/sha256", Some("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821"), None),
        ok(XT_ID, "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482", DOCKER_HUB,
            "library/da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482", L, None),
        // ocipick's own rows: its deliberate differences and the classes
        // it used to get wrong.
        ok(OURS, "docker://nginx:1.25", DOCKER_HUB, "library/nginx", Some("1.25"), None)
            .note("the docker:// prefix (skopeo's transport) is dropped; upstream has no prefix"),
        ok(OURS, "registry-1.docker.io/library/nginx", DOCKER_HUB, "library/nginx", L, None)
            .note("Docker Hub's API host is read as docker.io; upstream keeps registry-1.docker.io"),
        ok(OURS, "registry-1.docker.io/nginx", DOCKER_HUB, "library/nginx", L, None)
            .note("Docker Hub's API host is read as docker.io, and gains library/ as docker.io does"),
        ok(OURS, "LOCALDOMAIN/debian", "LOCALDOMAIN", "debian", L, None),
        ok(OURS, "Foo/bar", "Foo", "bar", L, None),
        // The hosts with nothing after them: no '/' follows, so
        // the first component is no registry (splitDockerDomain), and the
        // text is a Docker Hub name, with a tag where a ':' is followed by
        // a valid tag, as upstream reads "test.com:tag" and "192.168.1.1:5000".
        ok(OURS, "test.com:http", DOCKER_HUB, "library/test.com", Some("http"), None),
        ok(OURS, "127.0.0.1:99999", DOCKER_HUB, "library/127.0.0.1", Some("99999"), None),
        bad(OURS, "-ab.com", "repository name"),
        bad(OURS, "do..cker", "repository name"),
        bad(OURS, "[fd00:1:2::3]75050", "repository name"),
        bad(OURS, "test.com:http/x", "port"),
        bad(OURS, "-ab.com/x", "registry host"),
        bad(OURS, "do..cker/x", "registry host"),
        bad(OURS, "[fd00:1:2::3]75050/x", "follow the ']'"),
        bad(OURS, "127.0.0.1:99999/x", "out of range")
            .note("the grammar's port is any digits; ocipick refuses ports outside 1-65535"),
        bad(OURS, "127.0.0.1:0/x", "out of range")
            .note("the grammar's port is any digits; ocipick refuses ports outside 1-65535"),
        ok(OURS, "127.0.0.1:65535/x", "127.0.0.1:65535", "x", L, None),
        bad(OURS, "[fffff::1]:5000/x", "not an IPv6 address")
            .note("the grammar takes any hex digits and colons in brackets; ocipick wants an IPv6 address"),
        bad(OURS, "[]:5000/x", "not an IPv6 address"),
        bad(OURS, "[::1/x", "without closing"),
        bad(OURS, format!("nginx@sha384:{}", "f".repeat(96)), "cannot be verified")
            .note("go-digest knows sha384; ocipick verifies what it fetches and can hash sha256 and sha512 only"),
        bad(OURS, format!("docker://{HEX_1A3F}"), "image ID"),
        ok(OURS, format!("{HEX_1A3F}:v1"), DOCKER_HUB, format!("library/{HEX_1A3F}"), Some("v1"), None),
        bad(OURS, format!("docker.io/{}", "a".repeat(248)), "more than 255"),
        ok(OURS, format!("docker.io/{}", "a".repeat(247)), DOCKER_HUB, format!("library/{}", "a".repeat(247)), L, None),
        bad(OURS, format!("a@{f256}@{f256}"), "digest"),
        bad(OURS, "a/b:c/d", "tag"),
        bad(OURS, "ÉCOLE/x", "registry host"),
    ]
}

#[test]
fn upstream_tables() {
    let mut failures = Vec::new();
    for row in rows() {
        let got = row.input.parse::<Reference>();
        let fine = match (&row.want, &got) {
            (Want::Ok(reg, repo, tag, digest), Ok(r)) => {
                let same = r.registry == *reg
                    && r.repository == *repo
                    && r.tag == *tag
                    && r.digest.as_ref().map(|d| d.to_string()) == *digest;
                // What parses formats to a reference that parses back the same.
                same && r.to_string().parse::<Reference>().as_ref() == Ok(r)
            }
            (Want::Err(fragment), Err(e)) => e.problem.contains(fragment),
            _ => false,
        };
        if !fine {
            failures.push(format!(
                "{} {:?}: want {:?}, got {got:?}{}",
                row.from,
                row.input,
                row.want,
                if row.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", row.note)
                }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// normalize_test.go TestParseRepositoryInfo: each of the familiar, full
/// and ambiguous spellings reads as the same domain and remote name, and
/// the familiar string is the familiar name (with ocipick's default tag).
#[test]
#[rustfmt::skip]
fn parse_repository_info() {
    // remote name, familiar name, full name, ambiguous name, domain
    let rows = [
        ("fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io"),
        ("library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io"),
        ("nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "", "docker.io"),
        ("other/library", "other/library", "docker.io/other/library", "", "docker.io"),
        ("private/moonbase", "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase", "", "127.0.0.1:8000"),
        ("privatebase", "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", "", "127.0.0.1:8000"),
        ("private/moonbase", "example.com/private/moonbase", "example.com/private/moonbase", "", "example.com"),
        ("privatebase", "example.com/privatebase", "example.com/privatebase", "", "example.com"),
        ("private/moonbase", "example.com:8000/private/moonbase", "example.com:8000/private/moonbase", "", "example.com:8000"),
        ("privatebasee", "example.com:8000/privatebasee", "example.com:8000/privatebasee", "", "example.com:8000"),
        ("library/ubuntu-12.04-base", "ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base", "index.docker.io/library/ubuntu-12.04-base", "docker.io"),
        ("library/foo", "foo", "docker.io/library/foo", "docker.io/foo", "docker.io"),
        ("library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", "", "docker.io"),
        ("store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", "", "docker.io"),
        ("bar", "Foo/bar", "Foo/bar", "", "Foo"),
        ("bar", "FOO/bar", "FOO/bar", "", "FOO"),
    ];
    for (remote, familiar, full, ambiguous, domain) in rows {
        for s in [familiar, full, ambiguous].into_iter().filter(|s| !s.is_empty()) {
            let r: Reference = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!((r.registry.as_str(), r.repository.as_str()), (domain, remote), "{s}");
            assert_eq!(r.to_string(), format!("{full}:latest"), "{s}");
            assert_eq!(r.familiar(), format!("{familiar}:latest"), "{s}");
        }
    }
}

/// normalize_test.go TestParseDockerRef (every case, by its name), and
/// reference_test.go TestWithTag and TestWithDigest (name, tag, digest and
/// the combined string, read here as one reference): the string ocipick
/// prints for the reference. `ParseDockerRef` is what containerd calls.
#[test]
#[rustfmt::skip]
fn parse_docker_ref_with_tag_with_digest() {
    const E669: &str = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";
    const SHORT: &str = "sha256:1234567890098765432112345667890098765";
    const PDR: &str = "normalize_test.go TestParseDockerRef";
    const WT: &str = "reference_test.go TestWithTag";
    const WD: &str = "reference_test.go TestWithDigest";
    // (upstream case, input, what ocipick prints or the problem's fragment, note)
    let rows: Vec<(String, String, Result<String, &str>, &str)> = vec![
        (format!("{PDR}/nothing"), "busybox".into(), Ok("docker.io/library/busybox:latest".into()), ""),
        (format!("{PDR}/tag only"), "busybox:latest".into(), Ok("docker.io/library/busybox:latest".into()), ""),
        (format!("{PDR}/digest only"), format!("busybox@{E669}"), Ok(format!("docker.io/library/busybox@{E669}")), ""),
        (format!("{PDR}/path only"), "library/busybox".into(), Ok("docker.io/library/busybox:latest".into()), ""),
        (format!("{PDR}/hostname only"), "docker.io/busybox".into(), Ok("docker.io/library/busybox:latest".into()), ""),
        (format!("{PDR}/no tag"), "docker.io/library/busybox".into(), Ok("docker.io/library/busybox:latest".into()), ""),
        (format!("{PDR}/no path"), "docker.io/busybox:latest".into(), Ok("docker.io/library/busybox:latest".into()), ""),
        (format!("{PDR}/no hostname"), "library/busybox:latest".into(), Ok("docker.io/library/busybox:latest".into()), ""),
        (format!("{PDR}/full reference with tag"), "docker.io/library/busybox:latest".into(), Ok("docker.io/library/busybox:latest".into()), ""),
        (format!("{PDR}/gcr reference without tag"), "gcr.io/library/busybox".into(), Ok("gcr.io/library/busybox:latest".into()), ""),
        (format!("{PDR}/both tag and digest"), format!("gcr.io/library/busybox:latest@{E669}"), Ok(format!("gcr.io/library/busybox:latest@{E669}")),
            "ParseDockerRef drops the tag when a digest is present (upstream: gcr.io/library/busybox@sha256:…); ocipick keeps both, as ParseNormalizedNamed does, and fetches by the digest"),
        (format!("{WT}/test.com/foo:tag"), "test.com/foo:tag".into(), Ok("test.com/foo:tag".into()), ""),
        (format!("{WT}/foo:tag2"), "foo:tag2".into(), Ok("docker.io/library/foo:tag2".into()), "WithName keeps \"foo\" as written; read as a reference it is normalized"),
        (format!("{WT}/test.com:8000/foo:tag4"), "test.com:8000/foo:tag4".into(), Ok("test.com:8000/foo:tag4".into()), ""),
        (format!("{WT}/test.com:8000/foo:TAG5"), "test.com:8000/foo:TAG5".into(), Ok("test.com:8000/foo:TAG5".into()), ""),
        (format!("{WT}/test.com:8000/foo:TAG5@{SHORT}"), format!("test.com:8000/foo:TAG5@{SHORT}"), Err("invalid encoded part"),
            "WithDigest checks only the pattern; ocipick reads the digest as go-digest's Parse does (TestReferenceParse's own short-sha256 row)"),
        (format!("{WD}/test.com/foo@{SHORT}"), format!("test.com/foo@{SHORT}"), Err("invalid encoded part"), "as above"),
        (format!("{WD}/foo@{SHORT}"), format!("foo@{SHORT}"), Err("invalid encoded part"), "as above"),
        (format!("{WD}/test.com:8000/foo@{SHORT}"), format!("test.com:8000/foo@{SHORT}"), Err("invalid encoded part"), "as above"),
        (format!("{WD}/test.com:8000/foo:latest@{SHORT}"), format!("test.com:8000/foo:latest@{SHORT}"), Err("invalid encoded part"), "as above"),
    ];
    let mut failures = Vec::new();
    for (case, input, want, note) in &rows {
        let got = input.parse::<Reference>();
        let fine = match (want, &got) {
            (Ok(text), Ok(r)) => r.to_string() == *text && text.parse::<Reference>().as_ref() == Ok(r),
            (Err(fragment), Err(e)) => e.problem.contains(fragment),
            _ => false,
        };
        if !fine {
            failures.push(format!("{case}: want {want:?}, got {got:?} {note}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert_eq!(rows.iter().filter(|r| r.0.starts_with(PDR)).count(), 11);
}

/// normalize_test.go TestParseReferenceWithTagAndDigest: a tag and a
/// digest both stay; the full string gains `docker.io/library/`, the
/// familiar string is the input.
#[test]
fn tag_and_digest_familiar_string() {
    let short =
        "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
    let r: Reference = short.parse().unwrap();
    assert_eq!(r.to_string(), format!("docker.io/library/{short}"));
    assert_eq!(r.tag.as_deref(), Some("latest"));
    assert!(r.digest.is_some());
    assert_eq!(r.familiar(), short);
}

/// regexp_test.go TestDomainRegexp: hosts (with a port or not), the
/// grammar's answer and ocipick's. They differ only where a note says
/// why (ports beyond 65535, brackets that hold no IPv6 address).
#[test]
#[rustfmt::skip]
fn domain_grammar() {
    const RANGE: &str = "ports are 1-65535";
    const V6: &str = "the brackets must hold an IPv6 address";
    // host, grammar matches, ocipick accepts, note
    let rows: &[(&str, bool, bool, &str)] = &[
        ("test.com", true, true, ""),
        ("test.com:10304", true, true, ""),
        ("test.com:http", false, false, ""),
        ("localhost", true, true, ""),
        ("localhost:8080", true, true, ""),
        ("a", true, true, ""),
        ("a.b", true, true, ""),
        ("ab.cd.com", true, true, ""),
        ("a-b.com", true, true, ""),
        ("-ab.com", false, false, ""),
        ("ab-.com", false, false, ""),
        ("ab.c-om", true, true, ""),
        ("ab.-com", false, false, ""),
        ("ab.com-", false, false, ""),
        ("0101.com", true, true, ""),
        ("001a.com", true, true, ""),
        ("b.gbc.io:443", true, true, ""),
        ("b.gbc.io", true, true, ""),
        ("xn--n3h.com", true, true, ""),
        ("Asdf.com", true, true, ""),
        ("192.168.1.1:75050", true, false, RANGE),
        ("192.168.1.1:750050", true, false, RANGE),
        ("[fd00:1:2::3]:75050", true, false, RANGE),
        ("[fd00:1:2::3]75050", false, false, ""),
        ("[fd00:1:2::3]::75050", false, false, ""),
        ("[fd00:1:2::3%eth0]:75050", false, false, ""),
        ("[fd00123123123]:75050", true, false, V6),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050", true, false, RANGE),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505", true, false, RANGE),
        ("fd00:1:2::3:75050", false, false, ""),
        // ocipick's own: the same hosts with ports in range.
        ("[fd00:1:2::3]:7505", true, true, ""),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:7505", true, true, ""),
        ("[fd00123123123]:7505", true, false, V6),
        ("do..cker", false, false, ""),
    ];
    for &(host, grammar, ours, note) in rows {
        assert_eq!(registry_host_problem(host).is_none(), ours, "{host}: {:?}", registry_host_problem(host));
        assert!(grammar == ours || !note.is_empty(), "{host}: differs from the grammar without a note");
    }
}
