//! containerd/platforms' own test tables, transcribed as facts and run
//! against ocipick. Each row names the upstream file, test function and
//! case it comes from. Where ocipick deliberately differs (see the table in
//! `docs/decisions.md`), the row says so and asserts ocipick's documented
//! behaviour instead.
//!
//! Versions read (the `containerd/platforms` repository):
//! - `compare_test.go` `TestOnly` and `TestCompareOSFeatures`: the newest
//!   stored version (commit 8b16a10c, the branch of containerd/platforms
//!   pull request #35, opened 2026-08-25 and not merged; see
//!   `docs/decisions.md`). Its rows hold for the
//!   `platformVector` rules ocipick follows, except the rows for variant
//!   schemes of other architectures (`ppc64le/powerN`, `riscv64/rvaNNu64`),
//!   which come with that version's generic variant matching; those rows
//!   are marked `Differs`. For `TestCompareOSFeatures` the `expected`
//!   column (the ordered comparer's, i.e. `Only` built on
//!   `platformVector`) is used. `TestOnlyStrict`, `TestOnlyOS` and
//!   `TestOnlyOSLess` are left out: ocipick has no such comparers.
//! - `platforms_test.go` `TestParseSelector`, `TestFormatAllEncoding`,
//!   `TestParseSelectorInvalid`, `TestFormatAllSkipsEmptyOSFeatures`:
//!   commit 042728d8 (its fuzz function and benchmarks hold no rows).
//! - `platform_windows_compat_test.go` `Test_PlatformCompat`: commit
//!   45499741 (LTSC 2022 and 2025 as stable-ABI releases).

use ocipick::platform::selector;
use ocipick::platform::windows::WindowsVersion;
use ocipick::{Index, Matcher, Platform, Policy};

/// What a row asserts.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// As upstream.
    Same,
    /// ocipick deliberately differs: why (the `docs/decisions.md` row).
    Differs(&'static str),
}
use Expect::{Differs, Same};

impl Expect {
    /// For the failure message.
    fn note(&self) -> &'static str {
        match self {
            Same => "as upstream",
            Differs(why) => why,
        }
    }
}

fn host() -> Platform<'static> {
    Platform::new("linux", "amd64", None)
}

fn parse(s: &str) -> Platform<'static> {
    selector::parse(s, &host()).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// `compare_test.go`, `TestOnly`: (case = target, entries that match,
/// entries that do not). A `Differs` row lists ocipick's answer.
#[test]
fn compare_test_only() {
    type Row = (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        Expect,
    );
    const LINUX_ARM: &[&str] = &[
        "linux/arm",
        "linux/arm/v5",
        "linux/arm/v6",
        "linux/arm/v7",
        "linux/arm/v8",
    ];
    let rows: &[Row] = &[
        (
            "linux/amd64",
            &["linux/amd64", "linux/386"],
            &[
                "linux/amd64/v2",
                "linux/arm/v7",
                "linux/arm64",
                "windows/amd64",
                "windows/arm",
            ],
            Same,
        ),
        (
            "linux/amd64/v2",
            &[
                "linux/amd64",
                "linux/amd64/v1",
                "linux/amd64/v2",
                "linux/386",
            ],
            &[
                "linux/amd64/v3",
                "linux/amd64/v4",
                "linux/arm/v7",
                "linux/arm64",
                "windows/amd64",
                "windows/arm",
            ],
            Same,
        ),
        (
            "linux/386",
            &["linux/386"],
            &[
                "linux/amd64",
                "linux/arm/v7",
                "linux/arm64",
                "windows/amd64",
                "windows/arm",
            ],
            Same,
        ),
        (
            "windows/amd64",
            &["windows/amd64", "windows(10.0.17763)/amd64"],
            &["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/arm"],
            Same,
        ),
        (
            "linux/arm/v8",
            LINUX_ARM,
            &[
                "linux/amd64",
                "linux/arm/v4",
                "linux/arm64",
                "windows/amd64",
                "windows/arm",
            ],
            Same,
        ),
        (
            "linux/arm/v7",
            &["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7"],
            &[
                "linux/amd64",
                "linux/arm/v4",
                "linux/arm/v8",
                "linux/arm64",
                "windows/amd64",
                "windows/arm",
            ],
            Same,
        ),
        (
            "linux/arm/v6",
            &["linux/arm/v5", "linux/arm/v6"],
            &[
                "linux/amd64",
                "linux/arm",
                "linux/arm/v4",
                "linux/arm/v7",
                "linux/arm/v8",
                "linux/arm64",
                "windows/amd64",
                "windows/arm",
            ],
            Same,
        ),
        (
            "linux/arm/v5",
            &["linux/arm/v5"],
            &[
                "linux/amd64",
                "linux/arm",
                "linux/arm/v4",
                "linux/arm/v6",
                "linux/arm/v7",
                "linux/arm/v8",
                "linux/arm64",
                "windows/amd64",
                "windows/arm",
            ],
            Same,
        ),
        (
            "linux/arm/v4",
            &["linux/arm/v4"],
            &[
                "linux/amd64",
                "linux/arm",
                "linux/arm/v5",
                "linux/arm/v6",
                "linux/arm/v7",
                "linux/arm/v8",
                "linux/arm64",
                "windows/amd64",
                "windows/arm",
            ],
            Same,
        ),
        (
            "linux/arm64/v9.6",
            &[
                "linux/arm",
                "linux/arm/v5",
                "linux/arm/v6",
                "linux/arm/v7",
                "linux/arm/v8",
                "linux/arm64",
                "linux/arm64/v8",
                "linux/arm64/v8.1",
                "linux/arm64/v8.2",
                "linux/arm64/v8.3",
                "linux/arm64/v8.4",
                "linux/arm64/v8.5",
                "linux/arm64/v8.6",
                "linux/arm64/v8.7",
                "linux/arm64/v8.8",
                "linux/arm64/v8.9",
                "linux/arm64/v9",
                "linux/arm64/v9.0",
                "linux/arm64/v9.1",
                "linux/arm64/v9.2",
                "linux/arm64/v9.3",
                "linux/arm64/v9.4",
                "linux/arm64/v9.5",
                "linux/arm64/v9.6",
            ],
            &[
                "linux/amd64",
                "linux/arm/v4",
                "windows/amd64",
                "windows/arm",
                "linux/arm64/v8.10",
            ],
            Same,
        ),
        (
            "linux/arm64/v9",
            &[
                "linux/arm",
                "linux/arm/v5",
                "linux/arm/v6",
                "linux/arm/v7",
                "linux/arm/v8",
                "linux/arm64",
                "linux/arm64/v8",
                "linux/arm64/v8.1",
                "linux/arm64/v8.2",
                "linux/arm64/v8.3",
                "linux/arm64/v8.4",
                "linux/arm64/v8.5",
                "linux/arm64/v9",
                "linux/arm64/v9.0",
            ],
            &[
                "linux/amd64",
                "linux/arm/v4",
                "windows/amd64",
                "windows/arm",
                "linux/arm64/v8.6",
            ],
            Same,
        ),
        (
            "linux/arm64/v8.1",
            &[
                "linux/arm",
                "linux/arm/v5",
                "linux/arm/v6",
                "linux/arm/v7",
                "linux/arm/v8",
                "linux/arm64",
                "linux/arm64/v8",
                "linux/arm64/v8.1",
            ],
            &[
                "linux/amd64",
                "linux/arm/v4",
                "linux/arm/v9",
                "linux/arm64/v9",
                "windows/amd64",
                "windows/arm",
            ],
            Same,
        ),
        (
            "linux/arm64",
            &[
                "linux/arm",
                "linux/arm/v5",
                "linux/arm/v6",
                "linux/arm/v7",
                "linux/arm/v8",
                "linux/arm64",
                "linux/arm64/v8",
            ],
            &[
                "linux/amd64",
                "linux/arm/v4",
                "linux/arm/v9",
                "linux/arm64/v9",
                "windows/amd64",
                "windows/arm",
            ],
            Same,
        ),
        (
            "linux/arm64/v9.8",
            &[
                "linux/arm64/v9",
                "linux/arm64/v9.8",
                "linux/arm64/v8.9",
                "linux/arm",
            ],
            &["linux/arm64/v9.9", "linux/amd64"],
            Same,
        ),
        (
            "linux/ppc64le/power10",
            &["linux/ppc64le/power10"],
            &[
                "linux/ppc64le",
                "linux/ppc64le/power8",
                "linux/ppc64le/power9",
                "linux/ppc64le/power11",
                "linux/amd64",
                "linux/arm64",
            ],
            Differs("other architectures' variants run only themselves (upstream here: power10 also runs power9, power8 and plain ppc64le)"),
        ),
        (
            "linux/riscv64/rva23u64",
            &["linux/riscv64/rva23u64"],
            &[
                "linux/riscv64/rva22u64",
                "linux/riscv64/rva20u64",
                "linux/riscv64",
                "linux/riscv64/rva24u64",
                "linux/riscv64/rva20s64",
                "linux/amd64",
            ],
            Differs("other architectures' variants run only themselves (upstream here: rva23u64 also runs rva22u64, rva20u64 and plain riscv64)"),
        ),
    ];
    for (target, yes, no, expect) in rows {
        let m = Matcher::new(&parse(target));
        for e in *yes {
            assert!(
                m.check(&parse(e)).is_ok(),
                "compare_test.go TestOnly/{target}: {e} must match ({})",
                expect.note()
            );
        }
        for e in *no {
            assert!(
                m.check(&parse(e)).is_err(),
                "compare_test.go TestOnly/{target}: {e} must not match ({})",
                expect.note()
            );
        }
    }
}

/// Selects from an index of these platforms (in this order) with no
/// preferences, and returns the eligible ones in ocipick's rank order.
fn eligible_order(target: &str, entries: &[&str]) -> Vec<String> {
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{i:064x}"),
                "size": 1,
                "platform": serde_json::to_value(parse(e)).unwrap(),
            })
        })
        .collect();
    let bytes =
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": manifests}))
            .unwrap();
    let index = Index::parse(&bytes).unwrap();
    let policy = Policy::new(&parse(target));
    let ranking = policy.rank(&index);
    let streamed = policy.select_bytes(&bytes).unwrap();
    assert_eq!(
        streamed.chosen.map(|(_, r)| r.position),
        ranking.selected,
        "select_bytes and rank agree for {target}"
    );
    ranking
        .entries
        .iter()
        .filter(|e| e.eligible)
        .map(|e| entries[e.position].to_owned())
        .collect()
}

/// `compare_test.go`, `TestCompareOSFeatures` (the `expected` column):
/// containerd sorts every entry; ocipick's rank lists the eligible ones
/// first in the same order, so the row asserts upstream's order with the
/// entries that do not match taken out (they follow, in index order).
#[test]
fn compare_test_os_features_order() {
    type Row = (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    );
    let rows: &[Row] = &[
        (
            "linux/amd64",
            &[
                "windows/amd64",
                "linux/amd64",
                "linux(+other)/amd64",
                "linux/arm64",
            ],
            &["linux/amd64"],
        ),
        (
            "linux(+none)/amd64",
            &[
                "windows/amd64",
                "linux/amd64",
                "linux/arm64",
                "linux(+other)/amd64",
            ],
            &["linux/amd64"],
        ),
        (
            "linux(+other)/amd64",
            &[
                "windows/amd64",
                "linux/amd64",
                "linux/arm64",
                "linux(+other)/amd64",
            ],
            &["linux(+other)/amd64", "linux/amd64"],
        ),
        (
            "linux(+af+other+zf)/amd64",
            &[
                "windows/amd64",
                "linux/amd64",
                "linux/arm64",
                "linux(+other)/amd64",
            ],
            &["linux(+other)/amd64", "linux/amd64"],
        ),
        (
            "linux(+f1+f2)/amd64",
            &[
                "linux/amd64",
                "linux(+f2)/amd64",
                "linux(+f1)/amd64",
                "linux(+f1+f2)/amd64",
            ],
            &[
                "linux(+f1+f2)/amd64",
                "linux(+f2)/amd64",
                "linux(+f1)/amd64",
                "linux/amd64",
            ],
        ),
        (
            "linux(7.2+other)/amd64",
            &[
                "linux/amd64",
                "linux(+other)/amd64",
                "linux(7.1)/amd64",
                "linux(7.2+other)/amd64",
            ],
            &[
                "linux(+other)/amd64",
                "linux(7.2+other)/amd64",
                "linux/amd64",
                "linux(7.1)/amd64",
            ],
        ),
    ];
    for (target, entries, want) in rows {
        assert_eq!(
            eligible_order(target, entries),
            *want,
            "compare_test.go TestCompareOSFeatures/{target}"
        );
    }
}

/// `platforms_test.go`, `TestParseSelector`: (case = input, upstream's
/// parsed platform as a selector, entries its matcher matches, how ocipick
/// relates). The host is `linux/amd64/v3`, so upstream's `defaultOS` is
/// `linux` and `defaultArch` `amd64`. Upstream's `Parse` leaves some
/// spellings for `Normalize` (`arm64/v8`, `arm` for `arm/v7`); ocipick
/// returns them normalized, so the row compares ocipick's platform with
/// upstream's expected platform normalized.
#[test]
fn platforms_test_parse_selector() {
    type Row = (&'static str, &'static str, &'static [&'static str], Expect);
    const ONE_WORD: Expect = Differs(
        "a one-word OS selector takes this machine's whole architecture, amd64 level included (upstream: runtime.GOARCH only)",
    );
    let rows: &[Row] = &[
        (
            "linux/arm64",
            "linux/arm64",
            &["linux/aarch64", "linux/aarch64/v8", "linux/arm64/v8"],
            Same,
        ),
        (
            "linux/arm64/v8",
            "linux/arm64/v8",
            &["linux/aarch64", "linux/aarch64/v8", "linux/arm64"],
            Same,
        ),
        (
            "linux/arm",
            "linux/arm",
            &["linux/arm/v7", "linux/armhf", "linux/arm/7"],
            Same,
        ),
        ("linux/arm/v6", "linux/arm/v6", &["linux/armel"], Same),
        (
            "linux/arm/v7",
            "linux/arm/v7",
            &["linux/arm", "linux/armhf"],
            Same,
        ),
        ("arm", "linux/arm", &[], Same),
        ("armel", "linux/arm/v6", &[], Same),
        ("armhf", "linux/arm", &[], Same),
        ("Aarch64", "linux/arm64", &[], Same),
        ("x86_64", "linux/amd64", &[], Same),
        ("Linux/x86_64", "linux/amd64", &[], Same),
        ("i386", "linux/386", &[], Same),
        ("linux", "linux/amd64/v3", &[], ONE_WORD),
        ("s390x", "linux/s390x", &[], Same),
        ("linux/s390x", "linux/s390x", &[], Same),
        ("macOS", "darwin/amd64/v3", &[], ONE_WORD),
        ("windows", "windows/amd64/v3", &[], ONE_WORD),
        ("windows()", "windows/amd64/v3", &[], ONE_WORD),
        (
            "windows(10.0.17763)",
            "windows(10.0.17763)/amd64/v3",
            &[],
            ONE_WORD,
        ),
        (
            "windows(10.0.17763+win32k)",
            "windows(10.0.17763+win32k)/amd64/v3",
            &[],
            ONE_WORD,
        ),
        ("linux(+gpu)", "linux(+gpu)/amd64/v3", &[], ONE_WORD),
        (
            "linux(+gpu+simd)",
            "linux(+gpu+simd)/amd64/v3",
            &[],
            ONE_WORD,
        ),
        (
            "linux(+unsorted+erofs)",
            "linux(+unsorted+erofs)/amd64/v3",
            &[],
            ONE_WORD,
        ),
        (
            "windows(10.0.17763%2Bbuild.42)",
            "windows(10.0.17763%2Bbuild.42)/amd64/v3",
            &[],
            ONE_WORD,
        ),
        (
            "windows(10.0.17763%2Bbuild.42+win32k)",
            "windows(10.0.17763%2Bbuild.42+win32k)/amd64/v3",
            &[],
            ONE_WORD,
        ),
        (
            "windows(50%25done)",
            "windows(50%25done)/amd64/v3",
            &[],
            ONE_WORD,
        ),
    ];
    let host = Platform::new("linux", "amd64", Some("v3"));
    for (input, want, matches, expect) in rows {
        let ctx = format!(
            "platforms_test.go TestParseSelector/{input} ({})",
            expect.note()
        );
        let got = selector::parse(input, &host).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let want = selector::parse(want, &host).unwrap().normalized();
        assert_eq!(got, want, "{ctx}");
        let m = Matcher::new(&got);
        for e in std::iter::once(&want.to_string()[..]).chain(matches.iter().copied()) {
            let r = m.check(&selector::parse(e, &host).unwrap());
            assert_eq!(r.map(|r| r.tier), Ok(0), "{ctx}: matches {e}");
        }
        // Formatting and parsing again is stable.
        assert_eq!(
            selector::parse(&got.to_string(), &host).unwrap(),
            got,
            "{ctx}"
        );
    }
    // The decoded values themselves.
    let p = selector::parse("windows(10.0.17763%2Bbuild.42+win32k)/amd64", &host).unwrap();
    assert_eq!(p.os_version.as_deref(), Some("10.0.17763+build.42"));
    assert_eq!(p.os_features, ["win32k"]);
    let p = selector::parse("windows(50%25done)/amd64", &host).unwrap();
    assert_eq!(p.os_version.as_deref(), Some("50%done"));
}

/// `platforms_test.go`, `TestFormatAllEncoding`: (platform, its text).
/// ocipick's `Display` is containerd's `FormatAll`, escapes included, and
/// the text parses back to the same version and features.
#[test]
fn platforms_test_format_all_encoding() {
    let rows: &[(&str, Option<&str>, &[&str], &str)] = &[
        (
            "windows",
            Some("10.0.17763+build.42"),
            &[],
            "windows(10.0.17763%2Bbuild.42)/amd64",
        ),
        (
            "windows",
            Some("10.0.17763+build.42"),
            &["win32k"],
            "windows(10.0.17763%2Bbuild.42+win32k)/amd64",
        ),
        ("windows", Some("50%done"), &[], "windows(50%25done)/amd64"),
        (
            "windows",
            Some("1.0(beta)"),
            &[],
            "windows(1.0%28beta%29)/amd64",
        ),
        ("windows", Some("a/b"), &[], "windows(a%2Fb)/amd64"),
        (
            "windows",
            Some("10.0.17763"),
            &[],
            "windows(10.0.17763)/amd64",
        ),
        ("linux", None, &["feat+v2"], "linux(+feat%2Bv2)/amd64"),
        ("linux", None, &["100%gpu"], "linux(+100%25gpu)/amd64"),
        (
            "windows",
            Some("10.0+build"),
            &["feat+1"],
            "windows(10.0%2Bbuild+feat%2B1)/amd64",
        ),
    ];
    for (os, version, features, text) in rows {
        let p = Platform {
            os_version: version.map(Into::into),
            os_features: features.iter().map(|f| (*f).into()).collect(),
            ..Platform::new(*os, "amd64", None)
        };
        assert_eq!(p.to_string(), *text, "TestFormatAllEncoding/{text}");
        let again = selector::parse(text, &host()).unwrap();
        assert_eq!(
            again.os_version, p.os_version,
            "TestFormatAllEncoding/{text}"
        );
        assert_eq!(
            again.os_features, p.os_features,
            "TestFormatAllEncoding/{text}"
        );
    }
}

/// `platforms_test.go`, `TestFormatAllSkipsEmptyOSFeatures`: an empty
/// feature (an index can list one; no selector can spell one) is left out
/// of the text, which therefore still parses. Matching still sees it: no
/// target lists an empty feature, so such an entry matches nothing, as
/// under containerd's subset rule.
#[test]
fn platforms_test_format_all_skips_empty_os_features() {
    let p = Platform {
        os_features: vec!["".into(), "gpu".into(), "".into(), "simd".into()],
        ..Platform::new("linux", "amd64", None)
    };
    assert_eq!(
        p.to_string(),
        "linux(+gpu+simd)/amd64",
        "TestFormatAllSkipsEmptyOSFeatures"
    );
    let again = selector::parse(&p.to_string(), &host()).unwrap();
    assert_eq!(again.os_features, ["gpu", "simd"]);
    // Only empty features: no parentheses at all.
    let only_empty = Platform {
        os_features: vec!["".into()],
        ..Platform::new("linux", "amd64", None)
    };
    assert_eq!(only_empty.to_string(), "linux/amd64");
    // The empty feature still counts for matching, and the reason names it.
    let m = Matcher::new(&parse("linux(+gpu+simd)/amd64"));
    let why = m.check(&p).unwrap_err().to_string();
    assert!(why.contains("\"\" (empty)"), "{why}");
}

/// `platforms_test.go`, `TestParseSelectorInvalid`, and what containerd's
/// `osRe` (`platforms.go`) refuses.
#[test]
fn platforms_test_parse_selector_invalid() {
    for input in [
        "",
        "/linux/arm",
        "linux/arm/",
        "linux /arm",
        "linux/&arm",
        "linux/arm/foo/bar",
    ] {
        assert!(
            selector::parse(input, &host()).is_err(),
            "TestParseSelectorInvalid/{input:?}"
        );
    }
    for input in [
        "linux(++gpu)/amd64",
        "linux(+gpu+)/amd64",
        "linux(+gpu++simd)/amd64",
        "linux(7.1+)/amd64",
        "lin.ux/amd64",
        "linux.2/amd64",
        "linux(a b)/amd64",
        "linux(+gpu)x/amd64",
        // TestParseSelector's three wildcard rows are skipped upstream
        // ("not yet supported"); Parse refuses any '*', as ocipick does.
        "*",
        "linux/*",
        "*/arm64",
    ] {
        assert!(
            selector::parse(input, &host()).is_err(),
            "platforms.go osRe refuses {input:?}"
        );
    }
}

/// `platform_windows_compat_test.go`, `Test_PlatformCompat`: (case
/// `Host_<host>_Ctr_<ctr>`, runs?). The last rows are ocipick's own, for
/// hosts newer than LTSC 2025, from the same function's rule.
#[test]
fn windows_compat_test_platform_compat() {
    const LTSC2019: u32 = 17763;
    const LTSC2022: u32 = 20348;
    const V22H2WIN11: u32 = 22621;
    const V23H2: u32 = 25398;
    const LTSC2025: u32 = 26100;
    let rows: &[(u32, u32, bool, Expect)] = &[
        (LTSC2019, LTSC2019, true, Same),
        (LTSC2019, LTSC2022, false, Same),
        (LTSC2022, LTSC2019, false, Same),
        (LTSC2022, LTSC2022, true, Same),
        (V22H2WIN11, LTSC2019, false, Same),
        (V22H2WIN11, LTSC2022, true, Same),
        (V23H2, LTSC2019, false, Same),
        (V23H2, LTSC2022, true, Same),
        (LTSC2025, LTSC2022, true, Same),
        (LTSC2022, LTSC2025, false, Same),
        (LTSC2022, V22H2WIN11, false, Same),
        (LTSC2025, V22H2WIN11, true, Same),
        // Not upstream rows: checkWindowsHostAndContainerCompat's floor for
        // a host past 26100 is 26100.
        (26200, LTSC2025, true, Same),
        (26200, LTSC2022, false, Same),
        (26200, V22H2WIN11, false, Same),
        (26200, 26200, true, Same),
        (26200, 26300, false, Same),
    ];
    for (h, c, want, expect) in rows {
        let host = WindowsVersion::parse(&format!("10.0.{h}")).unwrap();
        let ctr = WindowsVersion::parse(&format!("10.0.{c}")).unwrap();
        assert_eq!(
            host.runs(&ctr),
            *want,
            "Test_PlatformCompat/Host_{h}_Ctr_{c} ({})",
            expect.note()
        );
        // And through the matcher, as selection sees it.
        let m = Matcher::new(&parse(&format!("windows(10.0.{h}.1)/amd64")));
        let e = parse(&format!("windows(10.0.{c}.7)/amd64"));
        assert_eq!(m.check(&e).is_ok(), *want, "matcher Host_{h}_Ctr_{c}");
    }
}

/// One row per class where ocipick used to disagree with containerd v1,
/// each asserting containerd's answer (now ocipick's), or ocipick's
/// documented one where it deliberately differs.
#[test]
fn classes_fixed_or_decided() {
    type Row = (&'static str, &'static str, &'static str, bool, Expect);
    let rows: &[Row] = &[
        // platforms.go matcher: win32k left out on Windows targets.
        ("win32k ignored", "windows(10.0.20348.1)/amd64", "windows(10.0.20348.1+win32k)/amd64", true, Same),
        ("win32k ignored, no version", "windows/amd64", "windows(+win32k)/amd64", true, Same),
        ("other features still required", "windows/amd64", "windows(+win32k+gpu)/amd64", false, Same),
        ("win32k is a feature on Linux", "linux/amd64", "linux(+win32k)/amd64", false, Same),
        // platform_windows_compat.go: the floor past 26100 is 26100.
        ("host past 2025, 2022 image", "windows(10.0.26200.1)/amd64", "windows(10.0.20348.1)/amd64", false, Same),
        ("host past 2025, Windows 11 image", "windows(10.0.26200.1)/amd64", "windows(10.0.22621.1)/amd64", false, Same),
        ("host past 2025, 2025 image", "windows(10.0.26200.1)/amd64", "windows(10.0.26100.1)/amd64", true, Same),
        // getWindowsOSVersion reads major.minor.build only.
        ("fifth component ignored", "windows(10.0.20348.1.5)/amd64", "windows(10.0.20348.9)/amd64", true, Same),
        ("text revision ignored", "windows(10.0.20348.1)/amd64", "windows(10.0.20348.abc)/amd64", true, Same),
        ("entry build out of range", "windows(10.0.20348.1)/amd64", "windows(10.0.70000.1)/amd64", false, Same),
        // platformVector: amd64/3 expands like v3 (the target itself stays "3").
        ("amd64/3 runs v2", "linux/amd64/3", "linux/amd64/v2", true, Same),
        ("amd64/3 runs v1", "linux/amd64/3", "linux/amd64", true, Same),
        ("amd64/3 runs 386", "linux/amd64/3", "linux/386", true, Same),
        ("amd64/3 is not v3", "linux/amd64/3", "linux/amd64/v3", false, Same),
        // arm64 v8.x/v9/v9.x run arm/v8 and below, never arm/v9.
        ("arm64/v9 no arm/v9", "linux/arm64/v9", "linux/arm/v9", false, Same),
        ("arm64/v9 arm/v8", "linux/arm64/v9", "linux/arm/v8", true, Same),
        ("arm64/v9.2 no arm/v9", "linux/arm64/v9.2", "linux/arm/v9", false, Same),
        ("v9.x capped at v8.9", "linux/arm64/v9.8", "linux/arm64/v8.10", false, Same),
        // Decided: unknown arm64 variants run only themselves.
        ("arm64/v10 runs itself", "linux/arm64/v10", "linux/arm64/v10", true, Same),
        ("arm64/v10 no baseline", "linux/arm64/v10", "linux/arm64", false, Same),
        ("arm64/v10 no arm", "linux/arm64/v10", "linux/arm/v8", false, Differs("unknown arm64 variants run only themselves (upstream platformVector: arm/v10 … arm/v5)")),
        ("arm64/v8.10 no arm", "linux/arm64/v8.10", "linux/arm/v7", false, Differs("unknown arm64 variants run only themselves (upstream platformVector reads v8.10 as v8 and runs arm/v8 … arm/v5)")),
        ("arm64/v8.10 no v8.9", "linux/arm64/v8.10", "linux/arm64/v8.9", false, Same),
        ("two-digit v9 minor", "linux/arm64/v9.10", "linux/arm64/v9.9", true, Differs("two-digit minors are read (upstream reads a minor only from four-character variants, so v9.10 runs v8.5 down, not even v9)")),
    ];
    for (what, target, entry, want, expect) in rows {
        let m = Matcher::new(&parse(target));
        assert_eq!(
            m.check(&parse(entry)).is_ok(),
            *want,
            "{what}: {target} runs {entry}? ({})",
            expect.note()
        );
    }
    // Within a tier, more matching os.features first (compare.go
    // orderedPlatformComparer.Less); Windows versions do not order.
    assert_eq!(
        eligible_order("linux(+gpu)/amd64", &["linux/amd64", "linux(+gpu)/amd64"]),
        ["linux(+gpu)/amd64", "linux/amd64"]
    );
    assert_eq!(
        eligible_order(
            "windows(10.0.26100.1)/amd64",
            &["windows(10.0.20348.5)/amd64", "windows(10.0.26100.9)/amd64"]
        ),
        ["windows(10.0.20348.5)/amd64", "windows(10.0.26100.9)/amd64"]
    );
    assert_eq!(
        eligible_order(
            "windows(10.0.20348.1+win32k)/amd64",
            &[
                "windows(10.0.20348.1)/amd64",
                "windows(10.0.20348.1+win32k)/amd64"
            ]
        ),
        [
            "windows(10.0.20348.1)/amd64",
            "windows(10.0.20348.1+win32k)/amd64"
        ],
        "win32k is not counted"
    );
}
