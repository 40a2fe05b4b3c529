//! Durable writes (Linux): `annotate`'s atomic write, watched with
//! `strace`, makes its system calls in the order that survives a crash:
//!
//! - the unnamed (`O_TMPFILE`) way: `fsync` of the complete unnamed file,
//!   `linkat` names it, the rename over the destination follows at once
//!   (nothing between them, so a killed run leaves no second name), then
//!   `fsync` of that file again (btrfs does not persist an fsync made
//!   before the link), then `fsync` of the directory;
//! - the named fallback (`O_TMPFILE` refused, by injecting `EOPNOTSUPP`
//!   into that `openat`): `fsync` of the temporary file, the rename, then
//!   `fsync` of the directory;
//! - a failing sync (an injected `EIO` into each `fsync` in turn) is
//!   reported with exit 2, never ignored; before the rename it leaves the
//!   destination as it was and no temporary file, after it the message
//!   says the new file may not survive a crash.
//!
//! Without a working `strace` (not installed, or ptrace not permitted) the
//! tests print `SKIPPED` unless `OCIPICK_REQUIRE_STRACE=1`, which
//! `scripts/test.sh` (CI) sets after installing Debian's `strace`.

#![cfg(target_os = "linux")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The strace to use, if it can trace here.
fn strace() -> Option<String> {
    let bin = std::env::var("OCIPICK_STRACE").unwrap_or_else(|_| "strace".into());
    let works = Command::new(&bin)
        .args(["-f", "-o", "/dev/null", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        return Some(bin);
    }
    assert_ne!(
        std::env::var("OCIPICK_REQUIRE_STRACE").as_deref(),
        Ok("1"),
        "strace is required (OCIPICK_REQUIRE_STRACE=1) but {bin} cannot trace here"
    );
    println!("SKIPPED: {bin} cannot run here (apt-get install strace; ptrace must be permitted)");
    None
}

/// One traced system call: `NAME(ARGS) = RET`.
#[derive(Debug, Clone)]
struct Call {
    pid: u32,
    name: String,
    args: String,
    ret: String,
    injected: bool,
}

fn parse_log(path: &Path) -> Vec<Call> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|line| {
            let (pid, rest) = line.split_once(' ')?;
            let pid = pid.parse().ok()?;
            let rest = rest.trim_start();
            let open = rest.find('(')?;
            // strace pads short calls: `fsync(3</dir>)             = 0`.
            let eq = rest.rfind(" = ")?;
            let ret = rest[eq + 3..].trim();
            let args = rest[open + 1..eq].trim_end().strip_suffix(')')?;
            Some(Call {
                pid,
                name: rest[..open].to_owned(),
                args: args.to_owned(),
                ret: ret.split_whitespace().next().unwrap_or("").to_owned(),
                injected: ret.contains("(INJECTED)"),
            })
        })
        .collect()
}

/// The descriptor number an `fsync(3</path>)` argument names.
fn fd_of(arg: &str) -> &str {
    arg.split('<').next().unwrap().trim()
}

/// The path `strace -y` shows for a descriptor argument.
fn fd_path(arg: &str) -> &str {
    arg.split_once('<')
        .map_or("", |(_, p)| p.trim_end_matches('>'))
}

fn is_rename(c: &Call) -> bool {
    matches!(c.name.as_str(), "rename" | "renameat" | "renameat2")
}

fn is_sync(c: &Call) -> bool {
    matches!(c.name.as_str(), "fsync" | "fdatasync")
}

struct Setup {
    _dir: tempfile::TempDir,
    src: String,
    dest_dir: PathBuf,
    out: PathBuf,
}

/// A source index, and a destination directory holding an old `out.json`.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let src = write_json(
        dir.path(),
        "in.json",
        &index(&[entry("a", Some("linux/amd64"), &[])]),
    );
    std::fs::create_dir(dir.path().join("dest")).unwrap();
    // As `strace -y` shows it.
    let dest_dir = dir.path().join("dest").canonicalize().unwrap();
    let out = dest_dir.join("out.json");
    std::fs::write(&out, b"old\n").unwrap();
    Setup {
        _dir: dir,
        src,
        dest_dir,
        out,
    }
}

/// `strace -f -y -o LOG [strace args] ocipick annotate SRC --to OUT --set 0
/// k=v`: the run and the calls traced.
fn traced(strace: &str, s: &Setup, strace_args: &[&str]) -> (Run, Vec<Call>) {
    let log = s._dir.path().join(format!(
        "strace.{}.log",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut c = Command::new(strace);
    c.args(["-f", "-y", "-o"])
        .arg(&log)
        .args(strace_args)
        .arg(BIN)
        .args(["annotate", &s.src, "--to"])
        .arg(&s.out)
        .args(["--set", "0", "com.example.k=v"])
        .env_remove("OCIPICK_CONFIG");
    let r = run_cmd(c);
    let calls = parse_log(&log);
    (r, calls)
}

const TRACE: &str = "trace=openat,fsync,fdatasync,linkat,rename,renameat,renameat2";

/// Temporary files left in the destination directory.
fn leftovers(s: &Setup) -> Vec<String> {
    std::fs::read_dir(&s.dest_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "out.json")
        .collect()
}

fn position(calls: &[Call], from: usize, what: &str, f: impl Fn(&Call) -> bool) -> usize {
    calls[from..]
        .iter()
        .position(f)
        .map(|p| p + from)
        .unwrap_or_else(|| panic!("no {what} after call #{from}: {calls:#?}"))
}

#[test]
fn unnamed_file_is_linked_renamed_synced_then_the_directory_synced() {
    let Some(strace) = strace() else { return };
    let s = setup();
    let (r, calls) = traced(&strace, &s, &["-e", TRACE]);
    r.expect(0);
    assert_ne!(std::fs::read(&s.out).unwrap(), b"old\n");
    let dest = s.dest_dir.display().to_string();
    // The unnamed file, opened in the destination directory.
    let open = position(&calls, 0, "O_TMPFILE openat", |c| {
        c.name == "openat" && c.args.contains("O_TMPFILE") && c.ret != "-1"
    });
    let fd = fd_of(&calls[open].ret).to_owned();
    // linkat gives it the temporary name (through /proc/self/fd/N, or the
    // descriptor itself with AT_EMPTY_PATH).
    let link = position(&calls, open, "linkat of the unnamed file", |c| {
        c.name == "linkat"
            && c.ret == "0"
            && (c.args.contains(&format!("\"/proc/self/fd/{fd}\""))
                || (fd_of(&c.args) == fd && c.args.contains("AT_EMPTY_PATH")))
    });
    let tmp = calls[link]
        .args
        .rsplit(", \"")
        .next()
        .and_then(|a| a.split('"').next())
        .unwrap()
        .to_owned();
    assert!(
        Path::new(&tmp)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".out.json."),
        "{tmp}"
    );
    // Then renamed over the destination, with no sync or rename between.
    let rename = position(&calls, link, "rename over out.json", |c| {
        is_rename(c) && c.args.contains(&format!("{tmp}\"")) && c.args.contains("out.json\"")
    });
    assert_eq!(calls[rename].ret, "0");
    assert!(
        calls[link + 1..rename]
            .iter()
            .all(|c| !is_rename(c) && !is_sync(c)),
        "{:#?}",
        &calls[link..=rename]
    );
    // Then the file is synced again, by the same descriptor.
    let sync = position(&calls, rename, "fsync of the renamed file", |c| {
        is_sync(c) && fd_of(&c.args) == fd && c.ret == "0"
    });
    // Then the directory is synced.
    let dir_sync = position(&calls, sync, "fsync of the directory", |c| {
        is_sync(c) && fd_path(&c.args) == dest
    });
    assert_eq!(calls[dir_sync].ret, "0");
    assert_eq!(leftovers(&s), [] as [&str; 0]);
}

/// The ordinal (1-based, among the main process's `openat` calls) of the
/// `O_TMPFILE` one, from a first, untampered run.
fn tmpfile_open_ordinal(strace: &str) -> usize {
    let s = setup();
    let (r, calls) = traced(strace, &s, &["-e", "trace=openat"]);
    r.expect(0);
    let main = calls[0].pid;
    calls
        .iter()
        .filter(|c| c.pid == main && c.name == "openat")
        .position(|c| c.args.contains("O_TMPFILE"))
        .map(|p| p + 1)
        .unwrap_or_else(|| panic!("no O_TMPFILE openat: {calls:#?}"))
}

#[test]
fn named_fallback_syncs_the_file_renames_then_syncs_the_directory() {
    let Some(strace) = strace() else { return };
    let n = tmpfile_open_ordinal(&strace);
    let s = setup();
    let inject = format!("inject=openat:error=EOPNOTSUPP:when={n}");
    let (r, calls) = traced(&strace, &s, &["-e", TRACE, "-e", &inject]);
    r.expect(0);
    assert_ne!(std::fs::read(&s.out).unwrap(), b"old\n");
    let dest = s.dest_dir.display().to_string();
    let refused = position(&calls, 0, "the injected openat", |c| c.injected);
    assert!(
        calls[refused].args.contains("O_TMPFILE"),
        "the refused openat is the O_TMPFILE one: {:?}",
        calls[refused]
    );
    // The named temporary file, created anew.
    let open = position(&calls, refused, "openat of the named file", |c| {
        c.name == "openat" && c.args.contains("O_EXCL") && c.args.contains("/.out.json.")
    });
    let fd = fd_of(&calls[open].ret).to_owned();
    let tmp = calls[open].args.split('"').nth(1).unwrap().to_owned();
    let sync = position(&calls, open, "fsync of the named file", |c| {
        is_sync(c) && fd_of(&c.args) == fd && c.ret == "0"
    });
    let rename = position(&calls, sync, "rename over out.json", |c| {
        is_rename(c) && c.args.contains(&format!("{tmp}\"")) && c.args.contains("out.json\"")
    });
    assert_eq!(calls[rename].ret, "0");
    let dir_sync = position(&calls, rename, "fsync of the directory", |c| {
        is_sync(c) && fd_path(&c.args) == dest
    });
    assert_eq!(calls[dir_sync].ret, "0");
    assert!(
        !calls.iter().any(|c| c.name == "linkat"),
        "nothing to link: {calls:#?}"
    );
    assert_eq!(leftovers(&s), [] as [&str; 0]);
}

/// Each sync failing in turn (EIO injected into the 1st, 2nd, 3rd fsync:
/// the unnamed file before its link, the file after the rename, the
/// directory) fails the run with exit 2 and says what failed.
#[test]
fn a_failed_sync_is_reported_with_exit_2() {
    let Some(strace) = strace() else { return };
    for k in 1..=3 {
        let s = setup();
        let inject = format!("inject=fsync:error=EIO:when={k}");
        let (r, calls) = traced(&strace, &s, &["-e", TRACE, "-e", &inject]);
        r.expect(2).stderr_has("Input/output error");
        let hit = position(&calls, 0, "the injected fsync", |c| c.injected);
        let after_rename = calls[..hit].iter().any(|c| is_rename(c) && c.ret == "0");
        assert_eq!(after_rename, k >= 2, "fsync #{k}: {calls:#?}");
        if k >= 2 {
            // After the rename: the new file is in place, and the message
            // says what failed and that it may not survive a crash.
            r.stderr_has(if k == 2 {
                "syncing the new file after renaming it"
            } else {
                "syncing the directory"
            })
            .stderr_has("may not survive a crash");
            assert_ne!(std::fs::read(&s.out).unwrap(), b"old\n");
        } else {
            // Before the rename: the old file stays, nothing is left.
            assert_eq!(std::fs::read(&s.out).unwrap(), b"old\n", "fsync #{k}");
        }
        assert_eq!(leftovers(&s), [] as [&str; 0], "fsync #{k}");
        assert!(!r.stdout.contains("wrote"), "fsync #{k}: {}", r.stdout);
    }
    // In the named fallback too: the 2nd fsync is the directory's.
    let n = tmpfile_open_ordinal(&strace);
    let s = setup();
    let (r, _) = traced(
        &strace,
        &s,
        &[
            "-e",
            TRACE,
            "-e",
            &format!("inject=openat:error=EOPNOTSUPP:when={n}"),
            "-e",
            "inject=fsync:error=EIO:when=2",
        ],
    );
    r.expect(2).stderr_has("syncing the directory");
}
