//! Selection hooks (`ocipick_host::hooks`), run for real: each hook is a small
//! `#!/bin/sh` script in `testdata/hooks/`. Every failing hook is tried
//! under both failure policies: `ignore` gives a warning and no
//! adjustments, `fail` gives the error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use ocipick::{Adjustment, HookSpec, Index, OnFailure, Platform, Policy};
use ocipick_host::hooks::{run_hooks, Candidate, HookError, HookInput};
use ocipick_host::Facts;
use serde_json::{json, Value};

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/hooks")
        .join(name)
        .display()
        .to_string()
}

fn spec(name: &str, args: &[&str], timeout_ms: u64, on_failure: OnFailure) -> HookSpec {
    let mut command = vec![script(&format!("{name}.sh"))];
    command.extend(args.iter().map(|a| a.to_string()));
    HookSpec {
        name: name.to_owned(),
        command,
        timeout_ms,
        on_failure,
    }
}

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn candidate(position: usize, arch: Option<&str>, annotations: &[(&str, &str)]) -> Candidate {
    Candidate {
        position,
        digest: format!("sha256:{position:064x}"),
        media_type: MANIFEST.to_owned(),
        size: 100 + position as u64,
        platform: arch.map(|a| json!({"os": "linux", "architecture": a})),
        annotations: annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        eligible: arch == Some("amd64"),
        score: 0,
    }
}

/// Three entries: plain amd64, a fast amd64 build, an arm64 build.
fn candidates() -> Vec<Candidate> {
    vec![
        candidate(0, Some("amd64"), &[]),
        candidate(1, Some("amd64"), &[("org.example.fast", "yes")]),
        candidate(2, Some("arm64"), &[("org.example.fast", "yes")]),
    ]
}

fn facts() -> Facts {
    let mut f = Facts::default();
    f.flags.insert(
        "cpu.cpuid".into(),
        BTreeSet::from(["AVX2".to_owned(), "FMA".to_owned()]),
    );
    f.attributes.insert(
        "kernel.version".into(),
        BTreeMap::from([
            ("major".to_owned(), "6".to_owned()),
            ("full".to_owned(), "6.1.0".to_owned()),
        ]),
    );
    f.instances.insert(
        "pci.device".into(),
        vec![BTreeMap::from([
            ("vendor".to_owned(), "10de".to_owned()),
            ("class".to_owned(), "0302".to_owned()),
        ])],
    );
    f
}

fn run(hooks: &[HookSpec], c: &[Candidate]) -> Result<(Vec<Adjustment>, Vec<String>), HookError> {
    let facts = facts();
    let input = HookInput {
        target: "linux/amd64/v3".into(),
        facts: &facts,
        index_media_type: Some("application/vnd.oci.image.index.v1+json"),
        candidates: c,
    };
    run_hooks(hooks, &input)
}

fn adj(source: &str, position: usize, delta: i64, veto: bool, note: &str) -> Adjustment {
    Adjustment {
        position,
        delta,
        veto,
        source: source.to_owned(),
        note: Some(note.to_owned()),
    }
}

const BOTH: [OnFailure; 2] = [OnFailure::Ignore, OnFailure::Fail];

#[test]
fn raise() {
    for policy in BOTH {
        let (a, w) = run(&[spec("raise", &[], 5000, policy)], &candidates()).unwrap();
        assert_eq!(
            a,
            [
                adj("raise", 1, 5, false, "fast build"),
                adj("raise", 2, 5, false, "fast build")
            ]
        );
        assert!(w.is_empty(), "{w:?}");
    }
}

#[test]
fn veto() {
    for policy in BOTH {
        let (a, w) = run(&[spec("veto", &["0"], 5000, policy)], &candidates()).unwrap();
        assert_eq!(a, [adj("veto", 0, 0, true, "vetoed by test")]);
        assert!(w.is_empty(), "{w:?}");
    }
}

/// A hook that never reads its input still answers, even when the input is
/// far larger than a pipe's buffer.
#[test]
fn never_reads_stdin() {
    let big = "x".repeat(1 << 20);
    let mut c = candidates();
    c[0].annotations.insert("org.example.big".into(), big);
    for policy in BOTH {
        let start = Instant::now();
        let (a, w) = run(&[spec("no-stdin", &[], 5000, policy)], &c).unwrap();
        assert_eq!(
            a,
            [adj("no-stdin", 1, 2, false, "answered without reading")]
        );
        assert!(w.is_empty(), "{w:?}");
        assert!(start.elapsed() < Duration::from_secs(3));
    }
}

fn alive(pid: u32) -> bool {
    // A zombie (reparented to an init that does not reap) is gone too.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn timeout_kills_the_hook_and_its_children() {
    for policy in BOTH {
        let dir = tempfile::tempdir().unwrap();
        let (pid_file, child_file) = (dir.path().join("pid"), dir.path().join("child"));
        let hook = spec(
            "sleep",
            &[pid_file.to_str().unwrap(), child_file.to_str().unwrap()],
            500,
            policy,
        );
        let start = Instant::now();
        let result = run(&[hook], &candidates());
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(500), "{took:?}");
        assert!(took < Duration::from_millis(2500), "{took:?}");
        match (policy, result) {
            (OnFailure::Ignore, Ok((a, w))) => {
                assert!(a.is_empty());
                assert_eq!(w, ["hook sleep: timed out after 500 ms (killed) (ignored)"]);
            }
            (OnFailure::Fail, Err(e)) => {
                assert_eq!(
                    e,
                    HookError::TimedOut {
                        hook: "sleep".into(),
                        timeout_ms: 500
                    }
                );
                assert_eq!(e.to_string(), "hook sleep: timed out after 500 ms (killed)");
            }
            other => panic!("{policy:?}: {other:?}"),
        }
        // The hook and the sleep it started in the background are gone.
        let (pid, child) = (read_pid(&pid_file), read_pid(&child_file));
        let deadline = Instant::now() + Duration::from_secs(2);
        while (alive(pid) || alive(child)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(pid), "hook {pid} still runs");
        assert!(!alive(child), "its child {child} still runs");
    }
}

/// Runs one failing hook under both policies: `ignore` gives no
/// adjustments and one warning (the error's text + " (ignored)"), `fail`
/// gives the error. Returns the error.
fn fails(hook: &str, args: &[&str]) -> HookError {
    let (a, w) = run(&[spec(hook, args, 5000, OnFailure::Ignore)], &candidates()).unwrap();
    assert!(a.is_empty(), "{hook}: {a:?}");
    let e = run(&[spec(hook, args, 5000, OnFailure::Fail)], &candidates()).unwrap_err();
    assert_eq!(w, [format!("{e} (ignored)")], "{hook}");
    assert_eq!(e.hook(), hook);
    let text = e.to_string();
    assert!(!text.contains('\n'), "{text:?}");
    assert!(text.starts_with(&format!("hook {hook}: ")), "{text}");
    e
}

#[test]
fn crash() {
    let e = fails("crash", &[]);
    assert_eq!(
        e,
        HookError::Crashed {
            hook: "crash".into(),
            status: "exit status 3".into(),
            stderr: "crash.sh: no GPU here".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "hook crash: failed with exit status 3: crash.sh: no GPU here"
    );
}

#[test]
fn garbage() {
    let e = fails("garbage", &[]);
    assert!(matches!(e, HookError::Garbage { .. }), "{e:?}");
    assert!(e.to_string().contains("not JSON"), "{e}");
    assert!(e.to_string().contains("hello, I am not JSON"), "{e}");
}

#[test]
fn bad_position() {
    let e = fails("bad-position", &[]);
    assert_eq!(
        e,
        HookError::BadPosition {
            hook: "bad-position".into(),
            position: 99,
            candidates: 3
        }
    );
    assert!(e.to_string().contains("position 99"), "{e}");
}

#[test]
fn missing_program() {
    let mut hook = spec("missing", &[], 5000, OnFailure::Ignore);
    hook.command = vec!["/nonexistent/ocipick-hook".into()];
    let (a, w) = run(&[hook.clone()], &candidates()).unwrap();
    assert!(a.is_empty());
    assert_eq!(w.len(), 1);
    hook.on_failure = OnFailure::Fail;
    let e = run(&[hook], &candidates()).unwrap_err();
    assert!(matches!(e, HookError::Spawn { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("hook missing: cannot run /nonexistent/ocipick-hook: "),
        "{e}"
    );
}

/// More than 1 MiB on stdout is garbage, and is noticed at once, not at the
/// timeout.
#[test]
fn flood_is_garbage_at_once() {
    for policy in BOTH {
        let start = Instant::now();
        let r = run(&[spec("flood", &[], 20_000, policy)], &candidates());
        assert!(start.elapsed() < Duration::from_secs(5));
        match r {
            Ok((a, w)) => {
                assert_eq!(policy, OnFailure::Ignore);
                assert!(a.is_empty());
                assert!(w[0].contains("more than 1048576 bytes"), "{w:?}");
            }
            Err(e) => {
                assert_eq!(policy, OnFailure::Fail);
                assert!(matches!(e, HookError::Garbage { .. }), "{e}");
            }
        }
    }
}

/// Answers, verbatim: accepted ones and their adjustments, rejected ones
/// and a fragment of the error.
#[test]
fn answers() {
    let ok: &[(&str, Vec<Adjustment>)] = &[
        ("", vec![]),
        ("  \n", vec![]),
        ("{\"adjustments\":[]}", vec![]),
        (
            r#"{"adjustments":[{"position":0}]}"#,
            vec![Adjustment {
                position: 0,
                delta: 0,
                veto: false,
                source: "answer".into(),
                note: None,
            }],
        ),
        (
            r#"{"adjustments":[{"position":2,"score":-7},{"position":2,"veto":true,"reason":"two\nlines"}]}"#,
            vec![
                Adjustment {
                    position: 2,
                    delta: -7,
                    veto: false,
                    source: "answer".into(),
                    note: None,
                },
                adj("answer", 2, 0, true, "two lines"),
            ],
        ),
    ];
    for (text, want) in ok {
        let (a, w) = run(
            &[spec("answer", &[text], 5000, OnFailure::Fail)],
            &candidates(),
        )
        .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(&a, want, "{text:?}");
        assert!(w.is_empty());
    }
    let bad: &[(&str, &str)] = &[
        ("[]", "not a JSON object"),
        ("{}", "no \"adjustments\" array"),
        (r#"{"adjustments":{}}"#, "no \"adjustments\" array"),
        (r#"{"adjustments":[],"extra":1}"#, "unknown key \"extra\""),
        (r#"{"adjustments":[1]}"#, "#1: not an object"),
        (r#"{"adjustments":[{}]}"#, "#1: no position"),
        (
            r#"{"adjustments":[{"position":-1}]}"#,
            "not a non-negative integer",
        ),
        (
            r#"{"adjustments":[{"position":"0"}]}"#,
            "position is not a number",
        ),
        (
            r#"{"adjustments":[{"position":0,"score":1.5}]}"#,
            "not a 64-bit integer",
        ),
        (
            r#"{"adjustments":[{"position":0,"veto":"yes"}]}"#,
            "veto is not true or false",
        ),
        (
            r#"{"adjustments":[{"position":0,"reason":3}]}"#,
            "reason is not a string",
        ),
        (
            r#"{"adjustments":[{"position":0,"vetoo":true}]}"#,
            "unknown key \"vetoo\"",
        ),
        (r#"{"adjustments":[]} trailing"#, "not JSON"),
    ];
    for (text, fragment) in bad {
        let e = run(
            &[spec("answer", &[text], 5000, OnFailure::Fail)],
            &candidates(),
        )
        .unwrap_err();
        assert!(matches!(e, HookError::Garbage { .. }), "{text:?}: {e:?}");
        assert!(e.to_string().contains(fragment), "{text:?}: {e}");
    }
    // Position 3 does not exist (3 candidates), nor does a huge one.
    for text in [
        r#"{"adjustments":[{"position":3}]}"#,
        r#"{"adjustments":[{"position":18446744073709551615}]}"#,
    ] {
        let e = run(
            &[spec("answer", &[text], 5000, OnFailure::Fail)],
            &candidates(),
        )
        .unwrap_err();
        assert!(matches!(e, HookError::BadPosition { .. }), "{text}: {e:?}");
    }
}

#[test]
fn long_reasons_are_cut_to_200_characters() {
    let answer = json!({"adjustments":[{"position":1,"score":1,"reason":"é".repeat(500)}]});
    let (a, _) = run(
        &[spec(
            "answer",
            &[&answer.to_string()],
            5000,
            OnFailure::Fail,
        )],
        &candidates(),
    )
    .unwrap();
    let note = a[0].note.as_deref().unwrap();
    assert_eq!(note.chars().count(), 200);
    assert!(note.starts_with("éé") && note.ends_with('…'));
}

#[test]
fn long_stderr_is_cut_in_the_message() {
    let hook = spec("noisy", &[], 5000, OnFailure::Fail);
    let e = run(&[hook], &candidates()).unwrap_err();
    let HookError::Crashed { stderr, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(stderr.chars().count(), 200);
    assert!(stderr.starts_with("line of complaint line of complaint"));
    assert!(!e.to_string().contains('\n'));
}

/// Hooks run in order; an ignored failure is a warning and the rest go on;
/// a `fail` failure stops the run before the later hooks.
#[test]
fn several_hooks() {
    let (a, w) = run(
        &[
            spec("raise", &[], 5000, OnFailure::Ignore),
            spec("crash", &[], 5000, OnFailure::Ignore),
            spec("veto", &["0"], 5000, OnFailure::Fail),
        ],
        &candidates(),
    )
    .unwrap();
    assert_eq!(
        a,
        [
            adj("raise", 1, 5, false, "fast build"),
            adj("raise", 2, 5, false, "fast build"),
            adj("veto", 0, 0, true, "vetoed by test")
        ]
    );
    assert_eq!(w.len(), 1);
    assert!(w[0].starts_with("hook crash: "), "{w:?}");

    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let e = run(
        &[
            spec("garbage", &[], 5000, OnFailure::Fail),
            spec("record", &[marker.to_str().unwrap()], 5000, OnFailure::Fail),
        ],
        &candidates(),
    )
    .unwrap_err();
    assert_eq!(e.hook(), "garbage");
    assert!(!marker.exists(), "a hook after the failed one ran");
}

/// The document on stdin is exactly the documented one (docs/hooks.md).
#[test]
fn stdin_is_the_documented_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.json");
    let mut c = candidates();
    c[1].score = 4;
    c.push(Candidate {
        position: 3,
        digest: format!("sha256:{:064x}", 3),
        media_type: MANIFEST.into(),
        size: 9,
        platform: None,
        annotations: BTreeMap::new(),
        eligible: false,
        score: -2,
    });
    let (a, w) = run(
        &[spec(
            "record",
            &[file.to_str().unwrap()],
            5000,
            OnFailure::Fail,
        )],
        &c,
    )
    .unwrap();
    assert!(a.is_empty() && w.is_empty());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.ends_with("}\n") && text.matches('\n').count() == 1,
        "one line"
    );
    let got: Value = serde_json::from_str(&text).unwrap();
    let d = |n: u64| format!("sha256:{n:064x}");
    let want = json!({
        "version": 1,
        "target": "linux/amd64/v3",
        "facts": {
            "flags": {"cpu.cpuid": {"elements": {"AVX2": {}, "FMA": {}}}},
            "attributes": {"kernel.version": {"elements": {"full": "6.1.0", "major": "6"}}},
            "instances": {"pci.device": {"elements": [
                {"attributes": {"class": "0302", "vendor": "10de"}}
            ]}}
        },
        "index": {"mediaType": "application/vnd.oci.image.index.v1+json"},
        "candidates": [
            {"position": 0, "digest": d(0), "mediaType": MANIFEST, "size": 100,
             "platform": {"os": "linux", "architecture": "amd64"},
             "annotations": {}, "eligible": true, "score": 0},
            {"position": 1, "digest": d(1), "mediaType": MANIFEST, "size": 101,
             "platform": {"os": "linux", "architecture": "amd64"},
             "annotations": {"org.example.fast": "yes"}, "eligible": true, "score": 4},
            {"position": 2, "digest": d(2), "mediaType": MANIFEST, "size": 102,
             "platform": {"os": "linux", "architecture": "arm64"},
             "annotations": {"org.example.fast": "yes"}, "eligible": false, "score": 0},
            {"position": 3, "digest": d(3), "mediaType": MANIFEST, "size": 9,
             "platform": null, "annotations": {}, "eligible": false, "score": -2}
        ]
    });
    assert_eq!(got, want);

    // No index media type: null. No facts: empty objects.
    let facts = Facts::default();
    let input = HookInput {
        target: "linux/arm64".into(),
        facts: &facts,
        index_media_type: None,
        candidates: &[],
    };
    run_hooks(
        &[spec(
            "record",
            &[file.to_str().unwrap()],
            5000,
            OnFailure::Fail,
        )],
        &input,
    )
    .unwrap();
    let got: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        got,
        json!({"version": 1, "target": "linux/arm64",
               "facts": {"flags": {}, "attributes": {}, "instances": {}},
               "index": {"mediaType": null}, "candidates": []})
    );
}

/// From an index through a hook to the policy: the hook raises the fast
/// builds, and the fast amd64 build is selected; the fast arm64 build stays
/// ineligible on amd64 however much it is raised.
#[test]
fn with_the_policy() {
    let doc = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
      "manifests": [
        {"mediaType": MANIFEST, "size": 1, "digest": format!("sha256:{:064x}", 1),
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": MANIFEST, "size": 1, "digest": format!("sha256:{:064x}", 2),
         "platform": {"os": "linux", "architecture": "arm64"}, "annotations": {"org.example.fast": "yes"}},
        {"mediaType": MANIFEST, "size": 1, "digest": format!("sha256:{:064x}", 3),
         "platform": {"os": "linux", "architecture": "amd64"}, "annotations": {"org.example.fast": "yes"}}
      ]})
    .to_string();
    let index = Index::parse(doc.as_bytes()).unwrap();
    let policy = Policy::new(&Platform::new("linux", "amd64", None));
    let ranking = policy.rank(&index);
    let c = ocipick_host::hooks::candidates(&index, &ranking);
    assert_eq!(policy.select(&index).unwrap().position, 0);
    let facts = Facts::default();
    let input = HookInput {
        target: "linux/amd64".into(),
        facts: &facts,
        index_media_type: index.media_type.as_deref(),
        candidates: &c,
    };
    let (a, _) = run_hooks(&[spec("raise", &[], 5000, OnFailure::Fail)], &input).unwrap();
    let adjusted = policy.clone().with_adjustments(a);
    let chosen = adjusted.select(&index).unwrap();
    assert_eq!((chosen.position, chosen.score), (2, 5));

    // Veto the two amd64 builds: nothing is left, arm64 is not picked.
    let (a, _) = run_hooks(
        &[
            spec("raise", &[], 5000, OnFailure::Fail),
            spec("veto", &["0"], 5000, OnFailure::Fail),
            spec("veto", &["2"], 5000, OnFailure::Fail),
        ],
        &input,
    )
    .unwrap();
    assert!(policy.with_adjustments(a).select(&index).is_none());
}

/// `hooks::apply`, what `select` and `serve` both call: the hooks see every
/// entry with its eligibility and score under the base policy, and their
/// answers change what the policy selects (a veto of the first fit moves
/// the choice to the next); an ignored failure is a warning.
#[test]
fn apply_builds_the_input_and_adjusts_the_policy() {
    let d = |n: u64| format!("sha256:{n:064x}");
    let doc = format!(
        r#"{{"schemaVersion":2,"manifests":[
        {{"mediaType":"{MANIFEST}","size":1,"digest":"{}","platform":{{"os":"linux","architecture":"amd64"}}}},
        {{"mediaType":"{MANIFEST}","size":2,"digest":"{}","platform":{{"os":"linux","architecture":"amd64"}},"annotations":{{"k":"v"}}}},
        {{"mediaType":"{MANIFEST}","size":3,"digest":"{}","platform":{{"os":"linux","architecture":"arm64"}}}}]}}"#,
        d(1),
        d(2),
        d(3)
    );
    let index = Index::parse(doc.as_bytes()).unwrap();
    let base = Policy::new(&Platform::new("linux", "amd64", None));
    assert_eq!(base.select(&index).map(|s| s.position), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("input.json");
    let seen_s = seen.display().to_string();
    let hooks = [
        spec("record", &[&seen_s], 5000, OnFailure::Fail),
        spec("veto", &["0"], 5000, OnFailure::Fail),
        spec("crash", &[], 5000, OnFailure::Ignore),
    ];
    let (adjusted, warnings) = ocipick_host::hooks::apply(&base, &hooks, &facts(), &index).unwrap();
    assert_eq!(adjusted.select(&index).map(|s| s.position), Some(1));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("(ignored)"), "{warnings:?}");
    let input: Value = serde_json::from_slice(&std::fs::read(&seen).unwrap()).unwrap();
    let c = input["candidates"].as_array().unwrap();
    assert_eq!(c.len(), 3);
    assert_eq!(c[1]["digest"], json!(d(2)));
    assert_eq!(c[1]["annotations"], json!({"k": "v"}));
    assert_eq!(
        c.iter().map(|c| c["eligible"].clone()).collect::<Vec<_>>(),
        [json!(true), json!(true), json!(false)]
    );
    // No hooks: the base policy, nothing run.
    let (same, w) = ocipick_host::hooks::apply(&base, &[], &facts(), &index).unwrap();
    assert!(w.is_empty());
    assert_eq!(same.select(&index).map(|s| s.position), Some(0));
}
