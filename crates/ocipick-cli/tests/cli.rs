//! Integration tests of the `ocipick` command on files and standard input:
//! exit statuses, the output contract, Proposal A scoring, size limits,
//! configuration and text layout.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const GPU_DIGEST: &str = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";
const PLAIN_DIGEST: &str =
    "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f";
const ARM_DIGEST: &str = "sha256:8a5b4c4e1c1a3c2f1e0d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e";

/// `select --no-config -p PLATFORM -o json FILE EXTRA…`
fn select_json(file: &str, platform: &str, extra: &[&str]) -> Run {
    let mut args = vec!["select", "--no-config", "-p", platform, "-o", "json", file];
    args.extend_from_slice(extra);
    run(&args)
}

fn rank_json(file: &str, platform: &str, extra: &[&str]) -> Run {
    let mut args = vec!["rank", "--no-config", "-p", platform, "-o", "json", file];
    args.extend_from_slice(extra);
    run(&args)
}

// ---------------------------------------------------------------------------
// 1. The malformed corpus, file by file.

/// What each file of `testdata/corpus/invalid/` must produce.
struct Decided {
    file: &'static str,
    platform: &'static str,
    code: i32,
    /// Fragments of stderr (exit 1/2) that must appear.
    stderr: &'static [&'static str],
    /// The digest selected (exit 0).
    selected: Option<&'static str>,
}

const INVALID: &[Decided] = &[
    Decided {
        file: "ggcr-docker-v25-save-index-manifests-null.json",
        platform: "linux/amd64",
        code: 2,
        stderr: &["manifests is null"],
        selected: None,
    },
    Decided {
        file: "image-spec-test-descriptor-mediatype-invalid.json",
        platform: "linux/amd64",
        code: 2,
        stderr: &["manifests[0].mediaType", "\"invalid\""],
        selected: None,
    },
    Decided {
        file: "image-spec-test-empty-descriptor-mediatype.json",
        platform: "linux/amd64",
        code: 2,
        stderr: &["manifests[0].mediaType", "mediaType \"\""],
        selected: None,
    },
    Decided {
        file: "image-spec-test-missing-digest.json",
        platform: "linux/amd64",
        code: 2,
        stderr: &["missing field `digest`", "manifests[0]"],
        selected: None,
    },
    Decided {
        file: "image-spec-test-platform-missing-architecture.json",
        platform: "linux/amd64",
        code: 2,
        stderr: &["missing field `architecture`", "manifests[0].platform"],
        selected: None,
    },
    Decided {
        file: "image-spec-test-size-is-string.json",
        platform: "linux/amd64",
        code: 2,
        stderr: &["manifests[0].size", "string \"7682\""],
        selected: None,
    },
    Decided {
        file: "image-spec-test-subject-is-string.json",
        platform: "linux/amd64",
        code: 2,
        stderr: &["(at subject,", "string \"nope\""],
        selected: None,
    },
    Decided {
        file: "quay-dockerlist-truncated-digests-schema1-child.json",
        platform: "linux/amd64",
        code: 2,
        stderr: &["manifests[0].digest", "\"sha256:e6\""],
        selected: None,
    },
    Decided {
        file: "containers-image-ocilayout-unknown-mediatype.json",
        platform: "linux/amd64",
        code: 2,
        stderr: &["manifests[4].mediaType", "x-completely-unknown"],
        selected: None,
    },
    Decided {
        file: "regclient-ambiguous-manifest-and-index-fields.json",
        platform: "linux/amd64",
        code: 2,
        stderr: &["ambiguous"],
        selected: None,
    },
    Decided {
        file: "regclient-oci-index-with-config-and-layers.json",
        platform: "linux/amd64",
        code: 2,
        stderr: &["ambiguous"],
        selected: None,
    },
    Decided {
        file: "quay-oci-index-intel386-nongoarch.json",
        platform: "linux/amd64",
        code: 1,
        stderr: &["no manifest for linux/amd64", "linux/intel386"],
        selected: None,
    },
    // The subject's media type is not looked at by selection.
    Decided {
        file: "quay-oci-index-subject-is-config-mediatype.json",
        platform: "linux/amd64",
        code: 0,
        stderr: &[],
        selected: Some("sha256:31dd947a0acb5d8b840dc0de40a74f336e08cb0e17ba951c2faaea6374c1a0f3"),
    },
    // As a plain file (not a layout) duplicate ref names do not matter:
    // no entry has a platform, so the first is eligible by position.
    Decided {
        file: "containers-image-ocilayout-duplicate-refname.json",
        platform: "linux/amd64",
        code: 0,
        stderr: &[],
        selected: Some("sha256:49d1584496c6e196f512c4a9f52b17b187642269d84c044538523c5b69a660b3"),
    },
];

#[test]
fn invalid_corpus_outcomes() {
    for d in INVALID {
        let rel = format!("corpus/invalid/{}", d.file);
        let r = select_json(&td(&rel), d.platform, &[]);
        assert_eq!(r.code, d.code, "{}: {r:#?}", d.file);
        match d.code {
            0 => {
                assert_eq!(r.stderr, "", "{}", d.file);
                let v = r.json();
                assert_eq!(v["digest"], json!(d.selected.unwrap()), "{}", d.file);
                assert_eq!(v["position"], json!(0), "{}", d.file);
            }
            _ => {
                assert_eq!(r.stdout, "", "{}: select prints nothing on failure", d.file);
                assert_eq!(
                    r.stderr.lines().count(),
                    1,
                    "{}: one-line message: {:?}",
                    d.file,
                    r.stderr
                );
                assert!(r.stderr.starts_with("ocipick: "), "{}", d.file);
                assert!(
                    r.stderr.contains(d.file),
                    "{}: message names the file: {}",
                    d.file,
                    r.stderr
                );
                for frag in d.stderr {
                    assert!(
                        r.stderr.contains(frag),
                        "{}: stderr lacks {frag:?}: {}",
                        d.file,
                        r.stderr
                    );
                }
            }
        }
    }
}

/// A new file in `corpus/invalid/` fails here until it gets a row above.
#[test]
fn invalid_corpus_table_is_complete() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(testdata().join("corpus/invalid"))
        .expect("read corpus/invalid")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let in_table: BTreeSet<String> = INVALID.iter().map(|d| d.file.to_owned()).collect();
    assert_eq!(in_table.len(), INVALID.len(), "duplicate rows");
    let missing: Vec<_> = on_disk.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&on_disk).collect();
    assert!(missing.is_empty(), "files without a row: {missing:?}");
    assert!(stale.is_empty(), "rows without a file: {stale:?}");
}

// ---------------------------------------------------------------------------
// 2. Exit statuses and the output contract.

#[test]
fn select_json_contract() {
    let r = select_json(&gpu(), "linux/amd64", &["--prefer", "com.example.gpu"]);
    r.expect(0);
    assert_eq!(r.stderr, "");
    let v = r.json();
    for key in [
        "digest",
        "mediaType",
        "size",
        "position",
        "score",
        "platform",
        "annotations",
    ] {
        assert!(v.get(key).is_some(), "select JSON lacks {key}: {v:#}");
    }
    assert_eq!(v["digest"], json!(GPU_DIGEST));
    assert_eq!(v["mediaType"], json!(OCI_MANIFEST));
    assert_eq!(v["size"], json!(7682));
    assert_eq!(v["position"], json!(1));
    assert_eq!(v["score"], json!(1));
    assert_eq!(
        v["platform"],
        json!({"architecture": "amd64", "os": "linux"})
    );
    assert_eq!(
        v["annotations"],
        json!({"com.example.gpu": "example-gpu-model"})
    );
    assert_eq!(v["via"], json!([]));
    assert_eq!(v["target"], json!("linux/amd64"));
}

#[test]
fn select_json_platform_null_and_annotations_empty() {
    let dir = tempfile::tempdir().unwrap();
    // No entry has a platform: the first is eligible by position.
    let f = write_json(
        dir.path(),
        "i.json",
        &index(&[entry("a", None, &[]), entry("b", None, &[])]),
    );
    let v = select_json(&f, "linux/amd64", &[]).expect(0).json();
    assert_eq!(v["platform"], Value::Null);
    assert_eq!(v["annotations"], json!({}));
    assert_eq!(v["digest"], json!(fake_digest("a")));
}

#[test]
fn rank_json_contract() {
    let r = rank_json(&gpu(), "linux/amd64", &["--prefer", "com.example.gpu"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["selected"], json!(1));
    let entries = v["entries"].as_array().expect("entries array");
    let positions: Vec<u64> = entries
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [1, 0, 2], "best first, ineligible last");
    let digests: Vec<&str> = entries
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    assert_eq!(digests, [GPU_DIGEST, PLAIN_DIGEST, ARM_DIGEST]);
    let eligible: Vec<bool> = entries
        .iter()
        .map(|e| e["eligible"].as_bool().unwrap())
        .collect();
    assert_eq!(eligible, [true, true, false]);
    let scores: Vec<i64> = entries
        .iter()
        .map(|e| e["score"].as_i64().unwrap())
        .collect();
    assert_eq!(scores, [1, 0, 0]);
    assert_eq!(
        entries[2]["platform"],
        json!({"architecture": "arm64", "os": "linux", "variant": "v8"})
    );
    for e in entries {
        let reasons = e["reasons"].as_array().expect("reasons array");
        assert!(!reasons.is_empty(), "{e:#}");
        for r in reasons {
            let s = r.as_str().expect("reason is a string");
            assert!(!s.trim().is_empty(), "{e:#}");
        }
    }
    assert!(entries[0]["reasons"]
        .as_array()
        .unwrap()
        .contains(&json!("preference com.example.gpu matched: +1")));
    assert!(entries[2]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("does not run on linux/amd64"));
}

#[test]
fn no_match_select_exits_1_with_empty_stdout() {
    for output in ["text", "json"] {
        let r = run(&argv(
            "select --no-config -p linux/s390x -o",
            &[output, &gpu()],
        ));
        r.expect(1);
        assert_eq!(r.stdout, "", "{output}");
        r.stderr_has("no manifest for linux/s390x")
            .stderr_has("gpu-index.json")
            .stderr_has("it offers linux/amd64, linux/arm64/v8");
        assert_eq!(r.stderr.lines().count(), 1);
    }
}

#[test]
fn no_match_rank_still_prints_ranking() {
    let r = rank_json(&gpu(), "linux/s390x", &[]);
    r.expect(1);
    r.stderr_has("no manifest for linux/s390x");
    let v = r.json();
    assert_eq!(v["selected"], Value::Null);
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    // Ineligible entries keep index order.
    let positions: Vec<u64> = entries
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [0, 1, 2]);
    assert!(entries.iter().all(|e| e["eligible"] == json!(false)));

    let t = run(&["rank", "--no-config", "-p", "linux/s390x", &gpu()]);
    t.expect(1);
    assert!(t.stdout.contains("no entry is eligible"), "{}", t.stdout);
    assert!(t.stdout.contains("POS"), "{}", t.stdout);
}

#[test]
fn unusable_documents_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let manifest_v1 = dir.path().join("docker-schema1.json");
    // A Docker schema 1 image manifest: no manifests array at all.
    std::fs::write(
        &manifest_v1,
        br#"{"schemaVersion":1,"name":"library/hello","tag":"latest","architecture":"amd64","fsLayers":[],"history":[]}"#,
    )
    .unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, b"").unwrap();
    let array = dir.path().join("array.json");
    std::fs::write(&array, b"[]").unwrap();
    let rows: &[(String, &str)] = &[
        (td("cases/truncated.json"), "EOF while parsing"),
        (td("cases/not-json.txt"), "expected value"),
        (td("cases/image-manifest.json"), "this is an image manifest"),
        (td("cases/schema-version-1.json"), "schemaVersion is 1"),
        (manifest_v1.display().to_string(), "manifests is missing"),
        (empty.display().to_string(), "EOF while parsing"),
        (array.display().to_string(), "(at ., line 1"),
    ];
    for (file, frag) in rows {
        for mode in ["select", "rank"] {
            let r = run(&[mode, "--no-config", "-p", "linux/amd64", file]);
            assert_eq!(r.code, 2, "{mode} {file}: {r:#?}");
            assert_eq!(r.stdout, "", "{mode} {file}");
            assert_eq!(r.stderr.lines().count(), 1, "{file}: {:?}", r.stderr);
            assert!(
                r.stderr.contains(file.as_str()),
                "names {file}: {}",
                r.stderr
            );
            assert!(r.stderr.contains(frag), "{file}: {frag:?}: {}", r.stderr);
        }
    }
}

#[test]
fn missing_file_and_usage_errors_exit_2() {
    let rows: &[&[&str]] = &[
        &["select", "--no-config", "-p", "linux/*", "GPU"],
        &["select", "--no-config", "-p", "", "GPU"],
        &[
            "select",
            "--no-config",
            "-p",
            "linux/amd64",
            "--prefer",
            "=v",
            "GPU",
        ],
        &[
            "select",
            "--no-config",
            "-p",
            "linux/amd64",
            "--prefer",
            "a key",
            "GPU",
        ],
        &[
            "select",
            "--no-config",
            "-p",
            "linux/amd64",
            "--prefer",
            "k:99999999999",
            "GPU",
        ],
        &[
            "select",
            "--no-config",
            "-p",
            "linux/amd64",
            "--max-index-bytes",
            "5TB",
            "GPU",
        ],
        &[
            "select",
            "--no-config",
            "-p",
            "linux/amd64",
            "-o",
            "yaml",
            "GPU",
        ],
        &[
            "select",
            "--no-config",
            "--config",
            "x.toml",
            "-p",
            "linux/amd64",
            "GPU",
        ],
        &[
            "select",
            "--no-config",
            "-p",
            "linux/amd64",
            "--tag",
            "v1",
            "GPU",
        ],
        &[
            "select",
            "--no-config",
            "-p",
            "linux/amd64",
            "/nonexistent/index.json",
        ],
        &["select"],
        &["frobnicate", "GPU"],
    ];
    let g = gpu();
    for row in rows {
        let args: Vec<&str> = row
            .iter()
            .map(|a| if *a == "GPU" { &g } else { *a })
            .collect();
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {r:#?}");
        assert_eq!(r.stdout, "", "{args:?}");
        assert!(!r.stderr.is_empty(), "{args:?}");
    }
    run(&["select", "--no-config", "-p", "linux/*", &g])
        .expect(2)
        .stderr_has("linux/*");
    run(&argv(
        "select --no-config -p linux/amd64 /nonexistent/index.json",
        &[],
    ))
    .expect(2)
    .stderr_has("/nonexistent/index.json");
}

#[test]
fn stdin_dash_is_read() {
    let bytes = std::fs::read(gpu()).unwrap();
    let r = run_stdin(
        &[
            "select",
            "--no-config",
            "-p",
            "linux/amd64",
            "--prefer",
            "com.example.gpu",
            "-o",
            "json",
            "-",
        ],
        &bytes,
    );
    r.expect(0);
    let v = r.json();
    assert_eq!(v["position"], json!(1));
    assert_eq!(v["digest"], json!(GPU_DIGEST));
    assert_eq!(v["index"]["source"], json!("<stdin>"));
    assert_eq!(v["index"]["digest"], json!(sha256(&bytes)));

    let bad = run_stdin(&["select", "--no-config", "-p", "linux/amd64", "-"], b"{");
    bad.expect(2).stderr_has("<stdin>");
}

// ---------------------------------------------------------------------------
// 3. Proposal A scoring.

#[test]
fn gpu_example_choices() {
    // (platform, extra flags, selected position, score)
    let rows: &[(&str, &[&str], u64, i64)] = &[
        ("linux/amd64", &[], 0, 0),
        ("linux/amd64", &["--prefer", "com.example.gpu"], 1, 1),
        (
            "linux/amd64",
            &["--prefer", "com.example.gpu=example-gpu-model:10"],
            1,
            10,
        ),
        // A value that does not match is no preference at all.
        (
            "linux/amd64",
            &["--prefer", "com.example.gpu=other:10"],
            0,
            0,
        ),
        // Avoiding the GPU keeps the first entry.
        ("linux/amd64", &["--prefer", "com.example.gpu:-3"], 0, 0),
        ("linux/arm64", &[], 2, 0),
        ("linux/arm64", &["--prefer", "com.example.gpu:100"], 2, 0),
    ];
    for (plat, extra, pos, score) in rows {
        let v = select_json(&gpu(), plat, extra).expect(0).json();
        assert_eq!(v["position"], json!(pos), "{plat} {extra:?}");
        assert_eq!(v["score"], json!(score), "{plat} {extra:?}");
    }
}

/// Rows: (entries' annotations, preferences, selected position, score).
#[test]
fn weights_sum_and_ties_keep_order() {
    type Row<'a> = (&'a [&'a [(&'a str, &'a str)]], &'a [&'a str], u64, i64);
    let rows: &[Row] = &[
        // Two preferences on one entry (2+2) beat one heavier (3) elsewhere…
        (
            &[&[("x", "1")], &[("a", "1"), ("b", "1")]],
            &["x:3", "a:2", "b:2"],
            1,
            4,
        ),
        // …but only when the sum is larger: 1+1 < 3.
        (
            &[&[("x", "1")], &[("a", "1"), ("b", "1")]],
            &["x:3", "a:1", "b:1"],
            0,
            3,
        ),
        // Equal sums (3 vs 2+1): the earlier entry wins.
        (
            &[&[("x", "1")], &[("a", "1"), ("b", "1")]],
            &["x:3", "a:2", "b:1"],
            0,
            3,
        ),
        (
            &[&[("a", "1"), ("b", "1")], &[("x", "1")]],
            &["x:3", "a:2", "b:1"],
            0,
            3,
        ),
        // Ties keep the earlier entry, whatever the preference order.
        (&[&[("a", "1")], &[("b", "1")]], &["a", "b"], 0, 1),
        (&[&[("a", "1")], &[("b", "1")]], &["b", "a"], 0, 1),
        (&[&[], &[("a", "1")], &[("a", "2")]], &["a"], 1, 1),
        // Value-specific preferences.
        (&[&[("a", "1")], &[("a", "2")]], &["a=2"], 1, 1),
        (&[&[("a", "1")], &[("a", "2")]], &["a=2", "a=1:2"], 0, 2),
        // A negative weight pushes an entry below a zero-score one.
        (&[&[("debug", "true")], &[]], &["debug:-1"], 1, 0),
        (
            &[&[("debug", "true"), ("a", "1")], &[]],
            &["debug:-1", "a"],
            0,
            0,
        ),
        // Weight 0 is no preference.
        (&[&[], &[("a", "1")]], &["a:0"], 0, 0),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (n, (anns, prefs, pos, score)) in rows.iter().enumerate() {
        let entries: Vec<Value> = anns
            .iter()
            .enumerate()
            .map(|(i, a)| entry(&format!("e{i}"), Some("linux/amd64"), a))
            .collect();
        let f = write_json(dir.path(), &format!("row{n}.json"), &index(&entries));
        let mut extra = Vec::new();
        for p in *prefs {
            extra.push("--prefer");
            extra.push(p);
        }
        let v = select_json(&f, "linux/amd64", &extra).expect(0).json();
        assert_eq!(v["position"], json!(pos), "row {n}: {prefs:?}");
        assert_eq!(v["score"], json!(score), "row {n}: {prefs:?}");
        assert_eq!(
            v["digest"],
            json!(fake_digest(&format!("e{pos}"))),
            "row {n}"
        );
        // rank agrees with select.
        let r = rank_json(&f, "linux/amd64", &extra).expect(0).json();
        assert_eq!(r["selected"], json!(pos), "row {n}");
        assert_eq!(r["entries"][0]["position"], json!(pos), "row {n}");
    }
}

#[test]
fn negative_weight_ranks_below_zero() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_json(
        dir.path(),
        "i.json",
        &index(&[
            entry("debug", Some("linux/amd64"), &[("org.example.debug", "1")]),
            entry("plain", Some("linux/amd64"), &[]),
        ]),
    );
    let v = rank_json(&f, "linux/amd64", &["--prefer", "org.example.debug:-5"])
        .expect(0)
        .json();
    assert_eq!(v["selected"], json!(1));
    let e = v["entries"].as_array().unwrap();
    assert_eq!(
        (e[0]["position"].clone(), e[0]["score"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(
        (e[1]["position"].clone(), e[1]["score"].clone()),
        (json!(0), json!(-5))
    );
    assert_eq!(e[1]["eligible"], json!(true));
}

#[test]
fn preference_never_makes_incompatible_entry_eligible() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_json(
        dir.path(),
        "i.json",
        &index(&[
            entry("amd", Some("linux/amd64"), &[]),
            entry("arm", Some("linux/arm64"), &[("com.example.fast", "yes")]),
        ]),
    );
    let v = rank_json(&f, "linux/amd64", &["--prefer", "com.example.fast:1000"])
        .expect(0)
        .json();
    assert_eq!(v["selected"], json!(0));
    let arm = &v["entries"][1];
    assert_eq!(arm["position"], json!(1));
    assert_eq!(arm["eligible"], json!(false));
    // The score is still computed, for the explanation.
    assert_eq!(arm["score"], json!(1000));

    // With only the arm64 entry, the preference does not rescue it.
    let g = write_json(
        dir.path(),
        "only-arm.json",
        &index(&[entry(
            "arm",
            Some("linux/arm64"),
            &[("com.example.fast", "yes")],
        )]),
    );
    select_json(&g, "linux/amd64", &["--prefer", "com.example.fast:1000"])
        .expect(1)
        .stderr_has("it offers linux/arm64");
}

#[test]
fn closeness_beats_position_and_score_beats_closeness() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_json(
        dir.path(),
        "i.json",
        &index(&[
            entry("v1", Some("linux/amd64"), &[("com.example.generic", "1")]),
            entry("v2", Some("linux/amd64/v2"), &[]),
        ]),
    );
    let v = select_json(&f, "linux/amd64/v3", &[]).expect(0).json();
    assert_eq!(v["position"], json!(1), "amd64/v2 is closer to v3 than v1");
    let r = rank_json(&f, "linux/amd64/v3", &[]).expect(0).json();
    assert_eq!(r["entries"][0]["platformRank"], json!(1));
    assert_eq!(r["entries"][1]["platformRank"], json!(2));
    // On a v2 target both run; v2 is exact.
    let v = select_json(&f, "linux/amd64/v2", &[]).expect(0).json();
    assert_eq!(v["position"], json!(1));
    // On a v1 target, v2 does not run.
    let v = select_json(&f, "linux/amd64", &[]).expect(0).json();
    assert_eq!(v["position"], json!(0));
    // Score beats closeness.
    let v = select_json(&f, "linux/amd64/v3", &["--prefer", "com.example.generic"])
        .expect(0)
        .json();
    assert_eq!(
        (v["position"].clone(), v["score"].clone()),
        (json!(0), json!(1))
    );
}

// ---------------------------------------------------------------------------
// 4. Size limits.

#[test]
fn max_index_bytes_refuses_large_files() {
    let r = run(&argv(
        "select --no-config -p linux/amd64 --max-index-bytes 100",
        &[&gpu()],
    ));
    r.expect(2)
        .stderr_has("100-byte limit")
        .stderr_has("--max-index-bytes")
        .stderr_has("gpu-index.json");
    assert_eq!(r.stdout, "");
    let size = std::fs::metadata(gpu()).unwrap().len().to_string();
    // Exactly the file's size is allowed; one less is not.
    select_json(&gpu(), "linux/amd64", &["--max-index-bytes", &size]).expect(0);
    let less = (size.parse::<u64>().unwrap() - 1).to_string();
    select_json(&gpu(), "linux/amd64", &["--max-index-bytes", &less]).expect(2);
    for ok in ["4MiB", "4M", "2KiB", "1 GiB", "4194304"] {
        select_json(&gpu(), "linux/amd64", &["--max-index-bytes", ok]).expect(0);
    }
    for ok in ["4MiB", "8K", "1 GiB", "8000"] {
        let v = select_json(
            &gpu(),
            "linux/amd64",
            &["--max-manifest-bytes", ok, "--prefer", "com.example.gpu"],
        )
        .expect(0)
        .json();
        assert_eq!(v["position"], json!(1), "{ok}");
    }
    // 7KiB = 7168 bytes: 7143 fits, 7682 does not.
    let v = select_json(
        &gpu(),
        "linux/amd64",
        &[
            "--max-manifest-bytes",
            "7KiB",
            "--prefer",
            "com.example.gpu",
        ],
    )
    .expect(0)
    .json();
    assert_eq!(v["position"], json!(0));
}

#[test]
fn stdin_over_the_limit_stops_reading() {
    const TOTAL: usize = 64 << 20;
    let mut child = cmd(&argv(
        "select --no-config -p linux/amd64 --max-index-bytes 1000 -",
        &[],
    ))
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b' '; 64 * 1024];
        let mut written = 0usize;
        while written < TOTAL {
            match stdin.write(&chunk) {
                Ok(n) => written += n,
                Err(_) => break, // broken pipe: the reader gave up
            }
        }
        written
    });
    let r = wait_guarded(child, Duration::from_secs(10));
    let written = writer.join().unwrap();
    r.expect(2)
        .stderr_has("<stdin>")
        .stderr_has("1000-byte limit");
    assert!(
        written < TOTAL,
        "the whole {TOTAL}-byte input was consumed; ocipick should stop after the limit"
    );
}

#[test]
fn max_manifest_bytes_makes_large_entries_ineligible() {
    let extra = [
        "--max-manifest-bytes",
        "7500",
        "--prefer",
        "com.example.gpu:10",
    ];
    let v = select_json(&gpu(), "linux/amd64", &extra).expect(0).json();
    assert_eq!(v["position"], json!(0));
    assert_eq!(v["digest"], json!(PLAIN_DIGEST));
    let r = rank_json(&gpu(), "linux/amd64", &extra).expect(0).json();
    let gpu_entry = r["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["position"] == json!(1))
        .unwrap()
        .clone();
    assert_eq!(gpu_entry["eligible"], json!(false));
    let reasons: Vec<&str> = gpu_entry["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("7682") && r.contains("7500-byte manifest limit")),
        "{reasons:?}"
    );
    // At the limit exactly, it is eligible again.
    let v = select_json(
        &gpu(),
        "linux/amd64",
        &[
            "--max-manifest-bytes",
            "7682",
            "--prefer",
            "com.example.gpu",
        ],
    )
    .expect(0)
    .json();
    assert_eq!(v["position"], json!(1));
}

// ---------------------------------------------------------------------------
// 5. Configuration files.

fn write_config(dir: &std::path::Path, text: &str) -> String {
    let p = dir.join("config.toml");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn config_preferences_change_the_choice() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[[prefer]]\nannotation = \"com.example.gpu\"\nvalue = \"example-gpu-model\"\nweight = 10\n",
    );
    let r = run(&[
        "select",
        "--config",
        &cfg,
        "-p",
        "linux/amd64",
        "-o",
        "json",
        &gpu(),
    ]);
    let v = r.expect(0).json();
    assert_eq!(
        (v["position"].clone(), v["score"].clone()),
        (json!(1), json!(10))
    );
}

#[test]
fn ocipick_config_env_is_used_without_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "[[prefer]]\nannotation = \"com.example.gpu\"\n");
    let mut c = cmd(&["select", "-p", "linux/amd64", "-o", "json", &gpu()]);
    c.env("OCIPICK_CONFIG", &cfg);
    let v = run_cmd(c).expect(0).json();
    assert_eq!(v["position"], json!(1));
    // An explicit --config wins over the variable.
    let other = dir.path().join("other.toml");
    std::fs::write(&other, "platform = \"linux/arm64\"\n").unwrap();
    let mut c = cmd(&[
        "select",
        "--config",
        other.to_str().unwrap(),
        "-o",
        "json",
        &gpu(),
    ]);
    c.env("OCIPICK_CONFIG", &cfg);
    let v = run_cmd(c).expect(0).json();
    assert_eq!(v["digest"], json!(ARM_DIGEST));
}

/// `--no-config` must work for a user who exported OCIPICK_CONFIG.
#[test]
fn no_config_ignores_ocipick_config_env() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "[[prefer]]\nannotation = \"com.example.gpu\"\n");
    let mut c = cmd(&argv(
        "select --no-config -p linux/amd64 -o json",
        &[&gpu()],
    ));
    c.env("OCIPICK_CONFIG", &cfg);
    let v = run_cmd(c).expect(0).json();
    assert_eq!(v["position"], json!(0));
}

/// Rows: config text → the line its error is reported on.
#[test]
fn config_errors_name_the_line() {
    let rows: &[(&str, usize, &str)] = &[
        (
            "[[prefer]]\nannotation = \"a\"\n\n[[prefer]]\nanotation = \"com.example.gpu\"\n",
            5,
            "anotation",
        ),
        ("# comment\nplatfrom = \"linux/amd64\"\n", 2, "platfrom"),
        (
            "[[prefer]]\nannotation = \"a\"\nweight = \"ten\"\n",
            3,
            "\"ten\"",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (text, line, frag) in rows {
        let cfg = write_config(dir.path(), text);
        let r = run(&["select", "--config", &cfg, "-p", "linux/amd64", &gpu()]);
        assert_eq!(r.code, 2, "{text:?}: {r:#?}");
        assert_eq!(r.stdout, "");
        assert!(r.stderr.contains(&cfg), "names the file: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("line {line}:")),
            "{text:?}: want line {line}: {}",
            r.stderr
        );
        assert!(r.stderr.contains(frag), "{text:?}: {}", r.stderr);
    }
    // A config file that does not exist is an error, not silence.
    run(&[
        "select",
        "--config",
        "/nonexistent/ocipick.toml",
        "-p",
        "linux/amd64",
        &gpu(),
    ])
    .expect(2)
    .stderr_has("/nonexistent/ocipick.toml");
}

#[test]
fn cli_preferences_add_to_config_preferences() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_json(
        dir.path(),
        "i.json",
        &index(&[
            entry("b-only", Some("linux/amd64"), &[("b", "1")]),
            entry("a-and-b", Some("linux/amd64"), &[("a", "1"), ("b", "1")]),
            entry("a-only", Some("linux/amd64"), &[("a", "1")]),
        ]),
    );
    let cfg = write_config(dir.path(), "[[prefer]]\nannotation = \"a\"\nweight = 2\n");
    // CLI alone: b-only and a-and-b tie at 2, the earlier wins.
    let v = select_json(&f, "linux/amd64", &["--prefer", "b:2"])
        .expect(0)
        .json();
    assert_eq!(v["position"], json!(0));
    // Config alone: a-and-b and a-only tie; a-and-b is earlier.
    let v = run(&[
        "select",
        "--config",
        &cfg,
        "-p",
        "linux/amd64",
        "-o",
        "json",
        &f,
    ])
    .expect(0)
    .json();
    assert_eq!(v["position"], json!(1));
    assert_eq!(v["score"], json!(2));
    // Both: the sum, 2 + 2, on a-and-b.
    let r = run(&[
        "rank",
        "--config",
        &cfg,
        "-p",
        "linux/amd64",
        "--prefer",
        "b:2",
        "-o",
        "json",
        &f,
    ])
    .expect(0)
    .json();
    assert_eq!(r["selected"], json!(1));
    assert_eq!(r["entries"][0]["score"], json!(4));
    assert_eq!(
        r["preferences"],
        json!([
            {"annotation": "a", "value": null, "weight": 2},
            {"annotation": "b", "value": null, "weight": 2},
        ])
    );
}

#[test]
fn config_platform_is_used_without_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "platform = \"linux/arm64\"\n");
    let v = run(&["select", "--config", &cfg, "-o", "json", &gpu()])
        .expect(0)
        .json();
    assert_eq!(v["digest"], json!(ARM_DIGEST));
    assert_eq!(v["target"], json!("linux/arm64"));
    // The flag wins over the file.
    let v = run(&[
        "select",
        "--config",
        &cfg,
        "-p",
        "linux/amd64",
        "-o",
        "json",
        &gpu(),
    ])
    .expect(0)
    .json();
    assert_eq!(v["digest"], json!(PLAIN_DIGEST));
    // Limits come from the file too.
    let cfg = write_config(
        dir.path(),
        "platform = \"linux/amd64\"\nmax-manifest-bytes = 7500\n[[prefer]]\nannotation = \"com.example.gpu\"\n",
    );
    let v = run(&["select", "--config", &cfg, "-o", "json", &gpu()])
        .expect(0)
        .json();
    assert_eq!(v["position"], json!(0));
}

// ---------------------------------------------------------------------------
// 7. Text output.

/// Long lines are allowed only when a single unbreakable word (a path or a
/// digest) does not fit after its label or indentation.
fn check_width(what: &str, text: &str) {
    for line in text.lines() {
        let cols = line.chars().count();
        if cols <= 80 {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let last = *words.last().unwrap();
        let head = &line[..line.len() - last.len()];
        let head_words = head.split_whitespace().count();
        assert!(
            head_words <= 1 && last.chars().count() + 11 > 80,
            "{what}: {cols}-column line is not one unbreakable word after a label:\n{line}\n---\n{text}"
        );
    }
}

#[test]
fn text_output_fits_80_columns() {
    let root = workspace_root();
    let mut files: Vec<String> = std::fs::read_dir(root.join("testdata/corpus"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .map(|n| format!("testdata/corpus/{n}"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "{files:?}");
    files.push("testdata/examples/gpu-index.json".into());
    let mut checked = 0;
    for f in &files {
        for plat in [
            "linux/amd64/v3",
            "linux/arm/v7",
            "windows(10.0.20348)/amd64",
        ] {
            for mode in ["rank", "select"] {
                let mut c = cmd(&[
                    mode,
                    "--no-config",
                    "-p",
                    plat,
                    "--prefer",
                    "org.opencontainers.image.ref.name",
                    "--prefer",
                    "com.example.gpu=example-gpu-model:10",
                    f,
                ]);
                c.current_dir(&root);
                let r = run_cmd(c);
                assert!(r.code == 0 || r.code == 1, "{mode} {plat} {f}: {r:#?}");
                if mode == "rank" || r.code == 0 {
                    assert!(!r.stdout.is_empty(), "{mode} {plat} {f}");
                }
                check_width(&format!("{mode} -p {plat} {f}"), &r.stdout);
                checked += 1;
            }
        }
    }
    assert!(checked > 100);
}

#[test]
fn rank_text_shows_marks_and_selection() {
    let r = run(&argv(
        "rank --no-config -p linux/amd64 --prefer com.example.gpu",
        &[&gpu()],
    ));
    r.expect(0);
    let rows: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains("sha256:") && !l.starts_with("selected"))
        .collect();
    assert_eq!(rows.len(), 3, "{}", r.stdout);
    assert!(
        rows[0].starts_with(" *    1      1  linux/amd64"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("      0      0  linux/amd64"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].starts_with(" x    2      -  linux/arm64/v8"),
        "{}",
        rows[2]
    );
    assert!(r.stdout.ends_with(&format!("\nselected {GPU_DIGEST}\n")));
}

/// Every `select` text line is "LABEL VALUE" with at least one space
/// between label and value.
#[test]
fn select_text_labels_are_separated_from_values() {
    let r = run(&argv(
        "select --no-config -p linux/amd64 --prefer com.example.gpu",
        &[&gpu()],
    ));
    r.expect(0);
    let labels = [
        "digest",
        "platform",
        "type",
        "size",
        "position",
        "score",
        "annotation",
        "why",
    ];
    for line in r.stdout.lines().filter(|l| !l.starts_with(' ')) {
        let label = line.split_whitespace().next().unwrap();
        assert!(
            labels.contains(&label),
            "line does not start with a label and a space: {line:?}\n{}",
            r.stdout
        );
    }
    // A 9-column label keeps the full digest line at 80 columns.
    let first = format!("digest   {GPU_DIGEST}");
    assert_eq!(first.len(), 80);
    assert!(r.stdout.starts_with(&format!("{first}\n")));
    assert!(r.stdout.contains("position 1 of 3 in"), "{}", r.stdout);
    assert!(
        r.stdout.contains("com.example.gpu=example-gpu-model"),
        "{}",
        r.stdout
    );
}

/// The man page and completions are generated from the flag definitions,
/// so every subcommand and flag appears in them.
#[test]
fn generated_man_page_and_completions_cover_the_flags() {
    let man = run(&["generate", "man"]);
    man.expect(0);
    for word in ["select", "rank", "resolve", "generate"] {
        assert!(man.stdout.contains(word), "man page lacks {word}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let r = run(&["generate", shell]);
        r.expect(0);
        for flag in ["prefer", "platform", "max-index-bytes", "plain-http"] {
            // bash and zsh write `--flag`; fish writes `-l flag`.
            let spelled = if shell == "fish" {
                format!("-l {flag}")
            } else {
                format!("--{flag}")
            };
            assert!(
                r.stdout.contains(&spelled),
                "{shell} completions lack {spelled}"
            );
        }
    }
}

/// `ocipick host` on a real machine's files (an H200 GPU server captured by
/// scripts/capture-host-fixture.sh): the platform comes from its CPU flags,
/// and the JSON uses node-feature-discovery's layout.
#[test]
fn host_facts_of_a_gpu_server_fixture() {
    let root = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/hosts/h200-xeon-nvidia"
    );
    let r = run(&["host", "--root", root, "-o", "json"]);
    r.expect(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["platform"], json!("linux/amd64/v4"));
    assert_eq!(
        v["attributes"]["nvidia.driver"]["elements"]["version"],
        json!("580.159.04")
    );
    assert_eq!(
        v["attributes"]["system.osrelease"]["elements"]["ID"],
        json!("ubuntu")
    );
    assert!(v["flags"]["cpu.cpuid"]["elements"]["AVX512F"].is_object());
    let devices = v["instances"]["pci.device"]["elements"].as_array().unwrap();
    assert!(devices
        .iter()
        .any(|d| d["attributes"]["vendor"] == json!("10de")
            && d["attributes"]["class"] == json!("0302")));
    let text = run(&["host", "--root", root]);
    text.expect(0);
    assert!(
        text.stdout.contains("nvidia.driver.version=580.159.04"),
        "{}",
        text.stdout
    );
}

/// A root with the h200-xeon-nvidia fixture's files (linked) and, when
/// `db` is given, the small test PCI ID database as hwdata installs it.
fn h200_root(db: bool) -> tempfile::TempDir {
    let fixture = testdata().join("hosts/h200-xeon-nvidia");
    let root = tempfile::tempdir().unwrap();
    for part in ["etc", "proc", "sys", "uname-m"] {
        std::os::unix::fs::symlink(fixture.join(part), root.path().join(part)).unwrap();
    }
    if db {
        let dir = root.path().join("usr/share/hwdata");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(testdata().join("hosts/pci.ids"), dir.join("pci.ids")).unwrap();
    }
    root
}

/// `ocipick host` names PCI vendors and devices from the root's PCI ID
/// database: in text after the numeric IDs, in JSON beside the
/// attributes, which stay exactly as they are without a database.
#[test]
fn host_names_pci_devices_from_the_database() {
    let named = h200_root(true);
    let bare = h200_root(false);
    let root = named.path().display().to_string();
    let text = run(&["host", "--root", &root]);
    text.expect(0);
    let flat = text.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("pci.device 10de:2335 NVIDIA Corporation GH100 [H200 SXM 141GB] (class=0302 device=2335"),
        "{}",
        text.stdout
    );
    assert!(
        flat.contains("pci.device 8086:0d57 Intel Corporation Ice Lake Host Bridge (class=0600"),
        "{}",
        text.stdout
    );
    let v = run(&["host", "--root", &root, "-o", "json"])
        .expect(0)
        .json();
    let devices = v["instances"]["pci.device"]["elements"].as_array().unwrap();
    let h200 = devices
        .iter()
        .find(|d| d["attributes"]["vendor"] == json!("10de"))
        .unwrap();
    assert_eq!(
        h200["names"],
        json!({"vendor": "NVIDIA Corporation", "device": "GH100 [H200 SXM 141GB]", "subsystem": "H200 SXM 141GB (HGX)"})
    );
    assert_eq!(
        h200["attributes"]["device"],
        json!("2335"),
        "IDs stay numeric"
    );
    // Without a database: no names, and with them removed the JSON is the
    // same document.
    let broot = bare.path().display().to_string();
    let b = run(&["host", "--root", &broot, "-o", "json"])
        .expect(0)
        .json();
    assert!(b.to_string().find("\"names\"").is_none(), "{b}");
    let mut stripped = v.clone();
    for d in stripped["instances"]["pci.device"]["elements"]
        .as_array_mut()
        .unwrap()
    {
        d.as_object_mut().unwrap().remove("names");
    }
    assert_eq!(stripped, b);
    let t = run(&["host", "--root", &broot]);
    assert!(
        t.expect(0)
            .stdout
            .contains("pci.device class=0302 device=2335"),
        "{}",
        t.stdout
    );
    assert!(!t.stdout.contains("NVIDIA"), "{}", t.stdout);
    // The named JSON still reads as a node facts file.
    let node = named.path().join("node.json");
    std::fs::write(&node, &run(&["host", "--root", &root, "-o", "json"]).stdout).unwrap();
    let node = node.display().to_string();
    let r = run(&argv("select --no-config -o json --node", &[&node, &gpu()]));
    r.expect(0);
}

/// `ocipick host --root DIR` names the platform of the machine whose files
/// are under DIR, whatever this binary was built for: the architecture
/// from the tree's `uname-m`, else its `/proc/cpuinfo`.
#[test]
fn host_platform_is_the_fixture_machines() {
    for (fixture, platform) in [
        ("firecracker-vm-epyc", "linux/amd64/v3"), // uname-m x86_64, EPYC flags
        ("h200-xeon-nvidia", "linux/amd64/v4"),    // uname-m x86_64, AVX-512
        ("rpi4-arm64", "linux/arm64"),             // cpuinfo only: AArch64 hwcaps
        ("zynq7000-armv7", "linux/arm/v7"),        // cpuinfo only: 32-bit ARMv7
    ] {
        let root = format!(
            "{}/../../testdata/hosts/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        );
        let r = run(&["host", "--root", &root, "-o", "json"]);
        r.expect(0);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["platform"], json!(platform), "{fixture}");
    }
}

/// The README's worked example: one index with a generic, an x86-64-v3 and
/// a CUDA build, one config file, three nodes.
#[test]
fn worked_example_three_nodes() {
    let ex = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let config = format!("{ex}/ocipick.toml");
    let index = format!("{ex}/cuda-index.json");
    let pick = |node: &str| {
        let r = run(&[
            "select",
            "--config",
            &config,
            "--node",
            &format!("{ex}/nodes/{node}.json"),
            "-o",
            "json",
            &index,
        ]);
        let v: serde_json::Value = serde_json::from_str(&r.expect(0).stdout).unwrap();
        (
            v["position"].as_u64().unwrap(),
            v["score"].as_i64().unwrap(),
            v["reasons"].to_string(),
        )
    };
    // The GPU server (real files of an H200 machine): the CUDA build.
    let (pos, score, why) = pick("gpu-server");
    assert_eq!((pos, score), (2, 100), "{why}");
    assert!(why.contains("nvidia.driver.version=580.159.04"), "{why}");
    // An x86-64-v3 VM without a GPU: the v3 build; the CUDA build is out.
    assert_eq!(pick("epyc-vm").0, 1);
    // An old x86-64-v2 server: the generic build.
    assert_eq!(pick("old-xeon").0, 0);
    // And the rank explains why the CUDA build is out on the VM.
    let r = run(&[
        "rank",
        "--config",
        &config,
        "--node",
        &format!("{ex}/nodes/epyc-vm.json"),
        &index,
    ]);
    assert!(
        r.expect(0).stdout.contains("required, so not eligible"),
        "{}",
        r.stdout
    );
}

#[test]
fn config_check_lists_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[prefer]]\nannotation = \"\"\n\n[[rule]]\nannotation = \"a\"\nop = \"bigger\"\nfact = \"x\"\n",
    )
    .unwrap();
    let r = run(&["config", "check", path.to_str().unwrap()]);
    r.expect(2);
    assert!(r.stderr.contains("line 1:"), "{}", r.stderr);
    assert!(r.stderr.contains("line 4:"), "{}", r.stderr);
    let ok = run(&[
        "config",
        "check",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/ocipick.toml"),
    ]);
    assert!(ok.expect(0).stdout.contains("3 rules"), "{}", ok.stdout);
}

#[test]
fn node_file_errors_are_clean() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("node.json");
    std::fs::write(&bad, "[1,2]").unwrap();
    let r = run(&argv(
        "select --no-config --node",
        &[bad.to_str().unwrap(), &gpu()],
    ));
    r.expect(2);
    assert!(r.stderr.contains("node.json"), "{}", r.stderr);
}

/// Hooks configured in the config file take part in select and rank; a
/// failing `fail` hook fails the run, an `ignore` one only warns.
#[test]
fn hooks_from_the_config_file() {
    let hooks = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/hooks");
    let dir = tempfile::tempdir().unwrap();
    let config = |body: &str| {
        let p = dir.path().join("c.toml");
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let veto = config(&format!(
        "[[hook]]\ncommand = [\"{hooks}/veto.sh\", \"0\"]\n"
    ));
    let r = run(&[
        "select",
        "--config",
        &veto,
        "-p",
        "linux/amd64",
        "-o",
        "json",
        &gpu(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&r.expect(0).stdout).unwrap();
    assert_eq!(v["position"], json!(1), "entry 0 was vetoed");
    let r = run(&["rank", "--config", &veto, "-p", "linux/amd64", &gpu()]);
    assert!(
        r.expect(0).stdout.contains("vetoed by veto.sh"),
        "{}",
        r.stdout
    );
    let fail = config(&format!(
        "[[hook]]\ncommand = [\"{hooks}/crash.sh\"]\non-failure = \"fail\"\n"
    ));
    run(&["select", "--config", &fail, "-p", "linux/amd64", &gpu()])
        .expect(2)
        .stderr_has("crash.sh");
    let ignore = config(&format!("[[hook]]\ncommand = [\"{hooks}/crash.sh\"]\n"));
    let r = run(&[
        "select",
        "--config",
        &ignore,
        "-p",
        "linux/amd64",
        "-o",
        "json",
        &gpu(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&r.expect(0).stdout).unwrap();
    assert_eq!(v["position"], json!(0));
    assert!(
        r.stderr.contains("warning") && r.stderr.contains("crash.sh"),
        "{}",
        r.stderr
    );
}

/// What `select` tolerates and `lint` reports (docs/decisions.md): an
/// index whose faults are only in fields selection does not read
/// (`artifactType`, `urls`, `data`) selects as usual and lints with exit 2,
/// each fault at its path.
#[test]
fn select_tolerates_what_lint_reports() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("faults.json");
    std::fs::write(
        &f,
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","artifactType":"sbom","manifests":[
              {{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7682,"digest":"{GPU_DIGEST}",
                "urls":["value"],"data":"YQ","artifactType":"foo/.bar","platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#
        ),
    )
    .unwrap();
    let f = f.to_str().unwrap();
    let sel: Value =
        serde_json::from_str(&select_json(f, "linux/amd64", &[]).expect(0).stdout).unwrap();
    assert_eq!(sel["digest"], json!(GPU_DIGEST));
    let r = run(&argv("lint -o json", &[f]));
    let j: Value = serde_json::from_str(&r.expect(2).stdout).unwrap();
    let found: BTreeSet<(String, String)> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["severity"] == json!("error"))
        .map(|x| {
            (
                x["id"].as_str().unwrap().to_owned(),
                x["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("OCI019", "artifactType"),
        ("OCI019", "manifests[0].artifactType"),
        ("OCI020", "manifests[0].urls[0]"),
        ("OCI022", "manifests[0].data"),
    ]
    .iter()
    .map(|(i, p)| (i.to_string(), p.to_string()))
    .collect();
    assert_eq!(found, want);
}

/// `ocipick lint`: exit status by severity, JSON for CI, SARIF for
/// dashboards, and no failure on any document of the corpus.
#[test]
fn lint_exit_status_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let warn = dir.path().join("warn.json");
    // The proposal's example, with its misspelt `annotation` field.
    std::fs::write(
        &warn,
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,"digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f","platform":{"architecture":"amd64","os":"linux"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7682,"digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270","platform":{"architecture":"amd64","os":"linux"},"annotation":{"com.example.gpu":"example-gpu-model"}}]}"#,
    )
    .unwrap();
    let warn = warn.to_str().unwrap();
    run(&["lint", &gpu()]).expect(0);
    assert!(run(&["lint", warn]).expect(0).stdout.contains("PA006"));
    run(&["lint", "--strict", warn]).expect(1);
    let bad = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/corpus/invalid/quay-dockerlist-truncated-digests-schema1-child.json"
    );
    assert!(run(&["lint", bad])
        .expect(2)
        .stdout
        .contains("manifests[0].digest"));

    let j: serde_json::Value =
        serde_json::from_str(&run(&["lint", "-o", "json", warn]).expect(0).stdout).unwrap();
    assert_eq!(j["warnings"], json!(2));
    let ids: Vec<&str> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["PA002", "PA006"]);
    assert_eq!(j["findings"][1]["path"], json!("manifests[1].annotation"));
    assert!(j["findings"][1]["hint"]
        .as_str()
        .unwrap()
        .contains("annotations"));

    let s: serde_json::Value =
        serde_json::from_str(&run(&["lint", "-o", "sarif", warn]).expect(0).stdout).unwrap();
    assert_eq!(s["version"], json!("2.1.0"));
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[1]["ruleId"], json!("PA006"));
    assert_eq!(results[1]["level"], json!("warning"));
    assert_eq!(
        results[1]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        json!("manifests[1].annotation")
    );
    let rule_ids: Vec<&str> = s["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rule_ids.contains(&"PA006") && rule_ids.contains(&"OCI012"));

    for dir in ["", "invalid/"] {
        let base = format!("{}/../../testdata/corpus/{dir}", env!("CARGO_MANIFEST_DIR"));
        for f in std::fs::read_dir(&base).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "json") {
                let r = run(&["lint", "-o", "json", p.to_str().unwrap()]);
                assert!(r.code == 0 || r.code == 2, "{}: {r:?}", p.display());
                let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
                assert_eq!(
                    v["errors"].as_u64().unwrap() > 0,
                    r.code == 2,
                    "{}",
                    p.display()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Image references that break distribution/reference's grammar.

/// Registry hosts that break the grammar (a port that is no number, a
/// label that starts with a dash, an empty label, no ':' after the
/// brackets, a port beyond 65535), a repository path over 255 characters,
/// a digest ocipick cannot verify and a bare image ID are input errors:
/// exit 2 with a message that says the reference is invalid, before any
/// request. The loopback cases point at a listener of this test, which
/// must see no connection; a valid reference to it does connect (the
/// control), so the listener would notice one.
#[test]
fn invalid_references_exit_2_before_any_request() {
    use std::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let here = format!("127.0.0.1:{port}");
    let no_connection = |what: &str| match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("{what}: the listener saw a connection: {other:?}"),
    };
    let cases: Vec<(String, &str)> = vec![
        (
            "test.com:http/x".into(),
            "the port \"http\" is not a number",
        ),
        ("-ab.com/x".into(), "registry host \"-ab.com\""),
        ("do..cker/x".into(), "registry host \"do..cker\""),
        (
            "[fd00:1:2::3]75050/x".into(),
            "only ':' and a port may follow the ']'",
        ),
        ("127.0.0.1:99999/x".into(), "the port 99999 is out of range"),
        (format!("{here}/{}", "a".repeat(256)), "more than 255"),
        (
            format!("{here}/demo@sha384:{}", "f".repeat(96)),
            "\"sha384\" cannot be verified",
        ),
        (
            format!("{here}/demo@blake3:{}", "f".repeat(64)),
            "\"blake3\" cannot be verified",
        ),
        (
            "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a".into(),
            "image ID",
        ),
    ];
    for (reference, problem) in &cases {
        for source in [reference.clone(), format!("docker://{reference}")] {
            let start = std::time::Instant::now();
            let r = run(&argv(
                "resolve --no-config -p linux/amd64 --retries 0 --",
                &[&source],
            ));
            let took = start.elapsed();
            r.expect(2);
            assert!(
                r.stderr.contains("not an image reference") && r.stderr.contains(problem),
                "{source}: {}",
                r.stderr
            );
            assert!(took < Duration::from_secs(5), "{source}: took {took:?}");
            no_connection(&source);
        }
    }
    // The control: a valid reference to the listener connects (and fails
    // there: nothing answers), which the listener notices.
    let r = run(&argv(
        "resolve --no-config -p linux/amd64 --retries 0 --timeout 1",
        &[&format!("{here}/demo:v1")],
    ));
    r.expect(3);
    assert!(listener.accept().is_ok(), "the control made no connection");
}

/// The boundaries next to the refused cases still parse: a 255-character
/// path, port 65535. Nothing listens there, so each ends at the network
/// (exit 3), not at parsing.
#[test]
fn references_at_the_boundaries_reach_the_network() {
    for source in [
        format!("127.0.0.1:1/{}", "a".repeat(255)),
        "127.0.0.1:65535/x".to_owned(),
    ] {
        let r = run(&argv(
            "resolve --no-config -p linux/amd64 --retries 0 --timeout 1",
            &[&source],
        ));
        r.expect(3);
        assert!(
            !r.stderr.contains("not an image reference"),
            "{source}: {}",
            r.stderr
        );
    }
}

/// Raw control characters in `s` other than line feeds.
fn raw_controls(s: &str) -> Vec<char> {
    s.chars().filter(|c| c.is_control() && *c != '\n').collect()
}

/// lint's text report prints the source's name and every finding (which
/// quote the document's keys and values) with control characters shown
/// escaped: an escape sequence in a file name or an annotation does not
/// reach the terminal, a line break does not forge a line.
#[test]
fn lint_text_shows_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in\u{1b}[31m\nforged: 0 errors.json");
    std::fs::write(
        &file,
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,"digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f","platform":{"architecture":"amd64","os":"linux"},
           "annotations":{"com.example.\u001b[31mgpu\nkey":"v\u001b[0m"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7682,"digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270","platform":{"architecture":"amd64","os":"linux"},"annotation":{"com.example.gpu":"example-gpu-model"}}]}"#,
    )
    .unwrap();
    let r = run(&["lint", file.to_str().unwrap()]);
    r.expect(0);
    assert_eq!(raw_controls(&r.stdout), [] as [char; 0], "{}", r.stdout);
    let last = r.stdout.lines().last().unwrap();
    assert!(
        last.ends_with("in\\u{1b}[31m\\nforged: 0 errors.json: 0 errors, 3 warnings, 0 notes"),
        "{}",
        r.stdout
    );
    // The annotation key the finding quotes, escaped too.
    assert!(
        r.stdout.contains("com.example.\\u{1b}[31mgpu\\nkey"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.lines().any(|l| l.starts_with("forged")),
        "{}",
        r.stdout
    );
}

/// The issue's invalid references make no network system call at all (no
/// DNS lookup either, which a listener cannot see): under strace, no
/// `socket` for an internet address family and no `connect`/`sendto`/
/// `sendmsg`. The control, a valid reference to a loopback listener,
/// shows the trace does see a connection attempt. Skipped where strace
/// cannot trace (`OCIPICK_REQUIRE_STRACE=1` makes that a failure).
#[test]
fn invalid_references_make_no_network_system_call() {
    use std::net::TcpListener;
    let strace = std::env::var("OCIPICK_STRACE").unwrap_or_else(|_| "strace".into());
    let works = std::process::Command::new(&strace)
        .args(["-f", "-o", "/dev/null", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        assert_ne!(
            std::env::var("OCIPICK_REQUIRE_STRACE").as_deref(),
            Ok("1"),
            "strace is required (OCIPICK_REQUIRE_STRACE=1) but {strace} cannot trace here"
        );
        println!("SKIPPED: {strace} cannot run here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("trace");
    let traced = |reference: &str| -> (Run, Vec<String>) {
        let mut c = std::process::Command::new(&strace);
        c.args([
            "-f",
            "-qq",
            "-e",
            "trace=socket,connect,sendto,sendmsg",
            "-o",
        ])
        .arg(&log)
        .arg(BIN)
        .args([
            "resolve",
            "--no-config",
            "-p",
            "linux/amd64",
            "--retries",
            "0",
            "--timeout",
            "1",
            "--",
            reference,
        ])
        .env_remove("OCIPICK_CONFIG");
        let r = run_cmd(c);
        let network: Vec<String> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| {
                l.contains("connect(")
                    || l.contains("sendto(")
                    || l.contains("sendmsg(")
                    || (l.contains("socket(") && (l.contains("AF_INET") || l.contains("AF_INET6")))
            })
            .map(str::to_owned)
            .collect();
        (r, network)
    };
    for reference in [
        "test.com:http/x",
        "-ab.com/x",
        "do..cker/x",
        "[fd00:1:2::3]75050/x",
        "127.0.0.1:99999/x",
        "-ab.com",
        "do..cker",
        "[fd00:1:2::3]75050",
    ] {
        let (r, network) = traced(reference);
        r.expect(2);
        assert!(
            network.is_empty(),
            "{reference}: network system calls {network:?}"
        );
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let here = format!(
        "127.0.0.1:{}/demo:v1",
        listener.local_addr().unwrap().port()
    );
    let (r, network) = traced(&here);
    r.expect(3);
    assert!(
        network.iter().any(|l| l.contains("connect(")),
        "the control made no connect: {network:?}"
    );
}
