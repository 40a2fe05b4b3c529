//! The global `-q/--quiet` and `-v/--verbose` (`--debug`) flags on local
//! sources: quiet leaves the result alone and drops warnings and notes, but
//! never errors; the two exclude each other; both may come before or after
//! the subcommand. (Verbose request lines are tested against the real
//! registry in registry_auth.rs.)

mod common;

use common::{entry, fake_digest, index, run, write_json};

fn demo(dir: &std::path::Path) -> String {
    write_json(
        dir,
        "index.json",
        &index(&[
            entry("plain", Some("linux/amd64"), &[]),
            entry("arm", Some("linux/arm64"), &[]),
        ]),
    )
}

#[test]
fn quiet_drops_warnings_and_notes_but_not_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let src = demo(dir.path());
    let out = dir.path().join("out.json").display().to_string();
    let annotate = [
        "annotate",
        &src,
        "--to",
        &out,
        "--set",
        "0",
        "org.example.k=v",
    ];
    // Without -q: the signature warning.
    let loud = run(&annotate);
    loud.expect(0).stderr_has("warning");
    for q in ["-q", "--quiet"] {
        // After the subcommand, and before it.
        let mut after = annotate.to_vec();
        after.push(q);
        let mut before = vec![q];
        before.extend(annotate);
        for args in [after, before] {
            let r = run(&args);
            r.expect(0);
            assert_eq!(r.stderr, "", "{args:?}: {r:#?}");
            assert_eq!(r.stdout, loud.stdout, "{args:?}");
        }
    }
    // A dry run's notes (the two digests) go too; the index is printed.
    let dry = [
        "annotate",
        &src,
        "--dry-run",
        "--set",
        "0",
        "org.example.k=w",
    ];
    let loud = run(&dry);
    loud.expect(0).stderr_has("dry run: nothing written");
    let mut quiet = dry.to_vec();
    quiet.push("-q");
    let r = run(&quiet);
    r.expect(0);
    assert_eq!(r.stderr, "");
    assert_eq!(r.stdout, loud.stdout);
    assert!(r.stdout.contains("org.example.k"));
}

#[test]
fn quiet_still_reports_errors_with_their_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let src = demo(dir.path());
    // No fit: exit 1 and its message.
    let r = run(&["select", "-q", "--no-config", "-p", "linux/s390x", &src]);
    r.expect(1).stderr_has("linux/arm64");
    // Invalid input: exit 2 and its message.
    let missing = dir.path().join("absent.json").display().to_string();
    let r = run(&[
        "-q",
        "select",
        "--no-config",
        "-p",
        "linux/amd64",
        "--authfile",
        &missing,
        "registry.example/a:b",
    ]);
    r.expect(2).stderr_has("--authfile");
    let r = run(&[
        "select",
        "--quiet",
        "--no-config",
        "-p",
        "linux/amd64",
        &format!("{src}.nope/"),
    ]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(!r.stderr.is_empty());
    // The result itself is unchanged.
    let r = run(&["select", "-q", "--no-config", "-p", "linux/amd64", &src]);
    assert!(r.expect(0).stdout.contains(&fake_digest("plain")));
    assert_eq!(r.stderr, "");
}

#[test]
fn verbose_and_quiet_exclude_each_other_and_verbose_is_also_debug() {
    let dir = tempfile::tempdir().unwrap();
    let src = demo(dir.path());
    for args in [
        vec!["-v", "-q", "select", &src],
        vec!["select", "--debug", "--quiet", &src],
        vec!["--verbose", "rank", "-q", &src],
    ] {
        run(&args).expect(2).stderr_has("cannot be used with");
    }
    // A local source makes no request: -v adds nothing then.
    let plain = run(&["select", "--no-config", "-p", "linux/amd64", &src]);
    for v in ["-v", "--verbose", "--debug"] {
        let r = run(&["select", v, "--no-config", "-p", "linux/amd64", &src]);
        assert_eq!(r.expect(0).stdout, plain.stdout);
        assert_eq!(r.stderr, "");
    }
    // Every flag is defined once, and the generated documentation has them.
    let man = run(&["generate", "man"]);
    for flag in ["verbose", "quiet", "debug"] {
        assert!(man.expect(0).stdout.contains(flag), "man page lacks {flag}");
    }
    let help = run(&["select", "--help"]);
    for flag in [
        "--verbose",
        "--quiet",
        "--authfile",
        "--cert-dir",
        "REGISTRY_AUTH_FILE",
        "certs.d",
    ] {
        assert!(
            help.expect(0).stdout.contains(flag),
            "select --help lacks {flag}"
        );
    }
}
