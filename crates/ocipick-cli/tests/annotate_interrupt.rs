//! Interrupted `ocipick annotate` writes leave the destination valid
//! (issue 5, "interrupted writes leave the layout valid").
//!
//! - A layout whose tagged index has thousands of entries (and whose
//!   `index.json` has a thousand other tags) is annotated over and over and
//!   the process is killed with SIGKILL at varied moments: after a varied
//!   delay, as soon as it is writing the new blob's temporary file, as soon
//!   as the new blob has been renamed into place (before `index.json` is
//!   replaced), and as soon as it is writing `index.json`'s. After
//!   every kill the layout must be the old one or the new one, whole:
//!   `index.json` parses, every blob it (and the tagged index) references
//!   exists and verifies, `select`/`rank` on `DIR:TAG` succeed and answer
//!   for the old or the new index.
//! - The same for a file destination: the file is always byte for byte the
//!   old or the new document.
//! - A deterministic failure between the blob and `index.json`: a file-size
//!   limit (`ulimit -f`) that the small blob fits under and the large
//!   `index.json` does not. With SIGXFSZ ignored the write fails (exit 2,
//!   temporary file removed); with it at its default the process is killed
//!   half-way through writing `index.json`'s temporary file, and leaves
//!   none behind. Either way the old `index.json` is intact and still
//!   selects.
//!
//! A process killed while writing leaves no temporary file: on Linux the
//! bytes go to an unnamed file (`O_TMPFILE`) that is named
//! (`.NAME.PID.NANOS.tmp`) only once complete and synced, then synced
//! again (btrfs) and renamed. A kill in that moment leaves a complete
//! temporary file, which is never referenced and which no later run
//! removes; the `Writing` trigger therefore fires on an unnamed file only
//! while it has no link.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const KEY: &str = "com.example.fast";
const MAX: &str = "67108864";
/// Entries of the big index (pretty-printed: about 350 KB). The test
/// binary is a debug build: with 50,000 entries one run takes 12 s.
const ENTRIES: usize = 1000;
/// Other tags in the big layout's `index.json`.
const OTHER_TAGS: usize = 300;

fn put_blob(root: &Path, bytes: &[u8]) -> (String, u64) {
    let d = sha256(bytes);
    std::fs::write(blob_path(root, &d), bytes).unwrap();
    (d, bytes.len() as u64)
}

fn blob_path(root: &Path, digest: &str) -> PathBuf {
    root.join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

fn manifest(name: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": fake_digest(name), "size": 2},
        "layers": [],
    }))
    .unwrap()
}

/// A big layout: `index.json` tags `v1` (the big index, state 0) and
/// `OTHER_TAGS` other tags (a small index of their own).
struct Big {
    dir: tempfile::TempDir,
    /// The two states of the big index, exactly as annotate writes them:
    /// [without KEY on entry 1, with KEY=x on entry 1].
    states: [Vec<u8>; 2],
    /// The manifests at positions 0 and 1 (both linux/amd64).
    first: String,
    pref: String,
}

/// The big index: position 0 and 1 are unique linux/amd64 manifests, the
/// rest cycle through four shared manifests of four platforms. Child blobs
/// are written under `root`.
fn big_index(root: &Path, entries: usize) -> (Value, String, String) {
    let (first, s_first) = put_blob(root, &manifest("first"));
    let (pref, s_pref) = put_blob(root, &manifest("pref"));
    let shared: Vec<(String, u64, &str)> = ["amd64", "arm64", "s390x", "ppc64le"]
        .iter()
        .map(|a| {
            let (d, s) = put_blob(root, &manifest(a));
            (d, s, *a)
        })
        .collect();
    let mut ms = vec![
        json!({"mediaType": OCI_MANIFEST, "digest": first, "size": s_first,
               "platform": platform("linux/amd64"), "annotations": {"n": "0"}}),
        json!({"mediaType": OCI_MANIFEST, "digest": pref, "size": s_pref,
               "platform": platform("linux/amd64"), "annotations": {"n": "1"}}),
    ];
    for i in 2..entries {
        let (d, s, a) = &shared[i % 4];
        ms.push(json!({"mediaType": OCI_MANIFEST, "digest": d, "size": s,
                       "platform": platform(&format!("linux/{a}")),
                       "annotations": {"n": i.to_string()}}));
    }
    (index(&ms), first, pref)
}

/// The document `annotate SRC ARGS --dry-run` would write.
fn dry_run(src: &Path, args: &[&str]) -> Vec<u8> {
    let s = src.display().to_string();
    let mut a = vec![
        "annotate",
        s.as_str(),
        "--dry-run",
        "--max-index-bytes",
        MAX,
    ];
    a.extend_from_slice(args);
    let mut c = cmd(&a);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let o = c.output().unwrap();
    assert!(o.status.success(), "{o:?}");
    o.stdout
}

/// The two states of `doc` that alternate under set/unset of KEY on
/// entry 1, as annotate serializes them (computed with --dry-run).
fn two_states(doc: &Value) -> [Vec<u8>; 2] {
    let t = tempfile::tempdir().unwrap();
    let p0 = t.path().join("s.json");
    std::fs::write(&p0, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let s1 = dry_run(&p0, &["--set", "1", &format!("{KEY}=x")]);
    let p1 = t.path().join("s1.json");
    std::fs::write(&p1, &s1).unwrap();
    let s0 = dry_run(&p1, &["--unset", "1", KEY]);
    assert_ne!(s0, s1);
    [s0, s1]
}

/// The annotate arguments that turn state `from` into the other one.
fn toggle(from: usize) -> Vec<String> {
    if from == 0 {
        vec!["--set".into(), "1".into(), format!("{KEY}=x")]
    } else {
        vec!["--unset".into(), "1".into(), KEY.into()]
    }
}

impl Big {
    fn new() -> Big {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        std::fs::write(
            root.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        let (doc, first, pref) = big_index(root, ENTRIES);
        let states = two_states(&doc);
        let (d0, s0) = put_blob(root, &states[0]);
        let small = index(&[json!({"mediaType": OCI_MANIFEST, "digest": first,
            "size": manifest("first").len(), "platform": platform("linux/amd64")})]);
        let (ds, ss) = put_blob(root, &serde_json::to_vec_pretty(&small).unwrap());
        let mut top = vec![json!({"mediaType": OCI_INDEX, "digest": d0, "size": s0,
            "annotations": {REF_NAME: "v1", "org.opencontainers.image.created": "2024-01-01T00:00:00Z"}})];
        for i in 0..OTHER_TAGS {
            top.push(json!({"mediaType": OCI_INDEX, "digest": ds, "size": ss,
                "annotations": {REF_NAME: format!("other{i}")}}));
        }
        let top = json!({"schemaVersion": 2, "manifests": top});
        std::fs::write(
            root.join("index.json"),
            serde_json::to_vec_pretty(&top).unwrap(),
        )
        .unwrap();
        Big {
            dir,
            states,
            first,
            pref,
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn digest(&self, state: usize) -> String {
        sha256(&self.states[state])
    }

    /// Checks that the layout is whole and returns the state `v1` points
    /// at (0 or 1); `rank` also runs `rank` on it.
    fn check(&self, rank: bool) -> usize {
        let root = self.root();
        let bytes = std::fs::read(root.join("index.json")).unwrap();
        let top: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("index.json is not JSON ({e}), {} bytes", bytes.len()));
        let ms = top["manifests"].as_array().unwrap();
        assert_eq!(ms.len(), OTHER_TAGS + 1, "entries of index.json");
        // Every referenced blob exists, is a regular file (not a temporary
        // one) and verifies.
        let mut referenced = BTreeSet::new();
        for d in ms {
            referenced.insert(d["digest"].as_str().unwrap().to_owned());
            verify_blob(root, d);
        }
        let tagged: Vec<&Value> = ms
            .iter()
            .filter(|d| d["annotations"][REF_NAME] == json!("v1"))
            .collect();
        assert_eq!(tagged.len(), 1, "entries tagged v1");
        let v1 = tagged[0];
        assert_eq!(
            v1["annotations"]["org.opencontainers.image.created"],
            json!("2024-01-01T00:00:00Z")
        );
        let digest = v1["digest"].as_str().unwrap();
        let state = (0..2)
            .find(|&s| self.digest(s) == digest)
            .unwrap_or_else(|| panic!("v1 points at {digest}, neither the old nor the new index"));
        assert_eq!(
            std::fs::read(blob_path(root, digest)).unwrap(),
            self.states[state]
        );
        // The tagged index's children are all there.
        let idx: Value = serde_json::from_slice(&self.states[state]).unwrap();
        for d in idx["manifests"].as_array().unwrap().iter().take(6) {
            verify_blob(root, d);
        }
        for d in &referenced {
            assert!(!d.contains(".tmp"), "a temporary file is referenced: {d}");
        }
        // select and rank through the layout answer for that state.
        let dir_tag = format!("{}:v1", root.display());
        let s = run(&argv(
            "select --no-config -p linux/amd64 --prefer",
            &[
                &format!("{KEY}=x"),
                "--max-index-bytes",
                MAX,
                "-o",
                "json",
                &dir_tag,
            ],
        ));
        let want = if state == 1 { &self.pref } else { &self.first };
        assert_eq!(s.expect(0).json()["digest"], json!(want), "{s:#?}");
        if !rank {
            return state;
        }
        let r = run(&argv(
            "rank --no-config -p linux/amd64 --max-index-bytes",
            &[MAX, "-o", "json", &dir_tag],
        ));
        r.expect(0).json();
        state
    }
}

/// The blob a descriptor names exists as a regular file, with its size and
/// digest.
fn verify_blob(root: &Path, d: &Value) {
    let digest = d["digest"].as_str().unwrap();
    let p = blob_path(root, digest);
    let meta = std::fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{digest}: {e}"));
    assert!(meta.is_file(), "{digest} is not a regular file");
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(
        bytes.len() as u64,
        d["size"].as_u64().unwrap(),
        "size of {digest}"
    );
    assert_eq!(sha256(&bytes), digest, "digest of {}", p.display());
}

/// Temporary files (`.NAME.PID.NANOS.tmp`) in `dir`.
fn temps(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') && n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

/// When to kill.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Trigger {
    /// After this long.
    Delay(Duration),
    /// As soon as the process has a temporary file open in this directory,
    /// that is, while it writes one there.
    Writing(usize),
    /// As soon as this file exists.
    Exists(usize),
}

/// Whether process `pid` has a temporary file open in `dir` (canonical)
/// that it is still writing: an unnamed one (`O_TMPFILE`: `/proc/PID/fd`
/// shows `DIR/#INODE (deleted)`) not yet linked (no links; once linked it
/// is complete, and is held open only to be synced again) or a named
/// `.NAME.PID.NANOS.tmp`.
fn writing_in(pid: u32, dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|e| e.ok()).any(|e| {
        let Ok(target) = std::fs::read_link(e.path()) else {
            return false;
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let unlinked = || std::fs::metadata(e.path()).is_ok_and(|m| m.nlink() == 0);
        target.parent() == Some(dir)
            && ((name.starts_with('#') && name.ends_with(" (deleted)") && unlinked())
                || (name.starts_with('.') && name.ends_with(".tmp")))
    })
}

/// Checks that every temporary file in `dir` is complete: `whole` says
/// whether its bytes are a whole file of the kind written there.
fn temps_are_complete(dir: &Path, whole: impl Fn(&[u8]) -> bool) {
    for t in temps(dir) {
        let bytes = std::fs::read(dir.join(&t)).unwrap();
        assert!(whole(&bytes), "a partial temporary file is left: {t}");
    }
}

/// Spawns `ocipick ARGS` and kills it (SIGKILL) when `when` happens.
/// Returns whether it was killed (false: it finished first). A process
/// killed while writing a temporary file must leave no new temporary file
/// behind. `dirs` must be canonical paths.
fn spawn_and_kill(args: &[String], when: Trigger, dirs: &[PathBuf], files: &[PathBuf]) -> bool {
    let before: Vec<BTreeSet<String>> = dirs.iter().map(|d| temps(d)).collect();
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("OCIPICK_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child: Child = c.spawn().unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "ocipick {args:?} failed: {status:?}");
            return false;
        }
        let fire = match when {
            Trigger::Delay(d) => start.elapsed() >= d,
            Trigger::Writing(i) => writing_in(child.id(), &dirs[i]),
            Trigger::Exists(i) => files[i].exists(),
        };
        if fire {
            child.kill().unwrap();
            let status = child.wait().unwrap();
            if let Trigger::Writing(i) = when {
                assert_eq!(
                    temps(&dirs[i]),
                    before[i],
                    "a process killed while writing left a temporary file"
                );
            }
            // It may have finished between the check and the kill.
            return !status.success();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "ocipick {args:?} is still running"
        );
        if matches!(when, Trigger::Delay(_)) {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

#[test]
fn killed_layout_annotate_leaves_the_old_or_the_new_index() {
    let big = Big::new();
    let root = big.root().canonicalize().unwrap();
    let blobs = root.join("blobs/sha256");
    let dir_tag = format!("{}:v1", root.display());
    assert_eq!(big.check(true), 0);

    // One uninterrupted run to time it.
    let start = Instant::now();
    let mut args = vec!["annotate".to_owned(), dir_tag.clone()];
    args.extend(["--max-index-bytes".to_owned(), MAX.to_owned()]);
    let mut a = args.clone();
    a.extend(toggle(0));
    assert!(!spawn_and_kill(
        &a,
        Trigger::Delay(Duration::from_secs(60)),
        &[],
        &[]
    ));
    let full = start.elapsed();
    assert_eq!(big.check(true), 1);

    let (mut killed, mut kept_old, mut took_new, mut mid_write) = (0, 0, 0, 0);
    let mut from = 1;
    for i in 0..20 {
        let to = 1 - from;
        // Blobs are never removed by annotate; remove the unreferenced
        // state's blob so that every run writes it again.
        let _ = std::fs::remove_file(blob_path(&root, &big.digest(to)));
        let mut a = args.clone();
        a.extend(toggle(from));
        let when = match i % 5 {
            0 | 4 => Trigger::Delay(full * (i as u32 * 7 % 20) / 20),
            1 => Trigger::Writing(0),
            2 => Trigger::Exists(0),
            _ => Trigger::Writing(1),
        };
        let new_blob = blob_path(&root, &big.digest(to));
        let was_killed = spawn_and_kill(&a, when, &[blobs.clone(), root.clone()], &[new_blob]);
        let now = big.check(i % 4 == 0);
        killed += usize::from(was_killed);
        if now == from {
            assert!(was_killed, "a finished run left the old index");
            kept_old += 1;
            if !matches!(when, Trigger::Delay(_)) {
                mid_write += 1;
            }
        } else {
            took_new += 1;
        }
        from = now;
    }
    let left: Vec<String> = temps(&blobs).into_iter().chain(temps(&root)).collect();
    eprintln!(
        "a full run took {full:?}; 20 runs: {killed} killed, {kept_old} kept the old index \
         ({mid_write} of them killed while writing), {took_new} took the new one; \
         temporary files left: {}",
        left.len()
    );
    assert!(killed >= 5, "too few runs were interrupted: {killed}");
    assert!(mid_write >= 1, "no run was killed while writing");
    // What a kill between naming and renaming leaves is whole: a blob of
    // one of the two states, or a complete index.json.
    let sums = [big.digest(0), big.digest(1)];
    temps_are_complete(&blobs, |b| sums.contains(&sha256(b)));
    temps_are_complete(&root, |b| {
        serde_json::from_slice::<Value>(b)
            .is_ok_and(|v| v["manifests"].as_array().map(Vec::len) == Some(OTHER_TAGS + 1))
    });

    // Temporary files of killed runs stay; a later successful run does not
    // remove them (and nothing references them: checked above).
    let from = big.check(true);
    let mut a = args.clone();
    a.extend(toggle(from));
    assert!(!spawn_and_kill(
        &a,
        Trigger::Delay(Duration::from_secs(60)),
        &[],
        &[]
    ));
    assert_eq!(big.check(true), 1 - from);
    let after: Vec<String> = temps(&blobs).into_iter().chain(temps(&root)).collect();
    assert_eq!(
        after, left,
        "temporary files changed after a successful run"
    );
}

#[test]
fn killed_file_annotate_leaves_the_old_or_the_new_document() {
    let dir = tempfile::tempdir().unwrap();
    let (doc, _, _) = {
        let scratch = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(scratch.path().join("blobs/sha256")).unwrap();
        big_index(scratch.path(), ENTRIES)
    };
    let states = two_states(&doc);
    let sums = [sha256(&states[0]), sha256(&states[1])];
    let dir_path = dir.path().canonicalize().unwrap();
    let out = dir_path.join("out.json");
    std::fs::write(&out, &states[0]).unwrap();
    let out_s = out.display().to_string();
    let base = vec![
        "annotate".to_owned(),
        out_s.clone(),
        "--max-index-bytes".to_owned(),
        MAX.to_owned(),
    ];
    let state = || {
        let got = sha256(&std::fs::read(&out).unwrap());
        (0..2)
            .find(|&s| sums[s] == got)
            .unwrap_or_else(|| panic!("out.json is {got}, neither the old nor the new document"))
    };
    let start = Instant::now();
    let mut a = base.clone();
    a.extend(toggle(0));
    assert!(!spawn_and_kill(
        &a,
        Trigger::Delay(Duration::from_secs(60)),
        &[],
        &[]
    ));
    let full = start.elapsed();
    assert_eq!(state(), 1);

    let (mut killed, mut kept_old, mut mid_write) = (0, 0, 0);
    for i in 0..20 {
        let from = state();
        let mut a = base.clone();
        a.extend(toggle(from));
        let when = if i % 2 == 0 {
            Trigger::Delay(full * (i as u32 * 3 % 20) / 20)
        } else {
            Trigger::Writing(0)
        };
        let was_killed = spawn_and_kill(&a, when, std::slice::from_ref(&dir_path), &[]);
        killed += usize::from(was_killed);
        let now = state();
        if now == from {
            assert!(was_killed, "a finished run left the old document");
            kept_old += 1;
            mid_write += usize::from(matches!(when, Trigger::Writing(_)));
        }
        // The file always selects.
        run(&argv(
            "select --no-config -p linux/amd64 --max-index-bytes",
            &[MAX, &out_s],
        ))
        .expect(0);
    }
    eprintln!(
        "a full run took {full:?}; 20 runs: {killed} killed, {kept_old} kept the old document \
         ({mid_write} killed while writing); temporary files left: {}",
        temps(&dir_path).len()
    );
    assert!(killed >= 5, "too few runs were interrupted: {killed}");
    assert!(mid_write >= 1, "no run was killed while writing");
    temps_are_complete(&dir_path, |b| sums.contains(&sha256(b)));
}

/// A small layout (the three-entry index tagged `v1`) whose `index.json`
/// is large (2,000 other tags, about 400 KB), so that a file-size limit of
/// 100 blocks lets the blob through and stops `index.json`.
fn small_blob_big_index_json() -> (tempfile::TempDir, String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let mut entries = Vec::new();
    for (name, plat) in [
        ("plain", "linux/amd64"),
        ("arm", "linux/arm64"),
        ("gpu", "linux/amd64"),
    ] {
        let (d, s) = put_blob(root, &manifest(name));
        entries.push(
            json!({"mediaType": OCI_MANIFEST, "digest": d, "size": s, "platform": platform(plat)}),
        );
    }
    let (d, s) = put_blob(root, &serde_json::to_vec_pretty(&index(&entries)).unwrap());
    let mut top = vec![json!({"mediaType": OCI_INDEX, "digest": d, "size": s,
        "annotations": {REF_NAME: "v1"}})];
    for i in 0..2000 {
        top.push(json!({"mediaType": OCI_INDEX, "digest": d, "size": s,
            "annotations": {REF_NAME: format!("other{i}"), "com.example.pad": "x".repeat(64)}}));
    }
    let bytes = serde_json::to_vec_pretty(&json!({"schemaVersion": 2, "manifests": top})).unwrap();
    assert!(bytes.len() > 300_000);
    std::fs::write(root.join("index.json"), &bytes).unwrap();
    (dir, d, bytes)
}

/// `sh -c 'PREFIX ulimit -f 100; exec ocipick ARGS'` (dash counts 512-byte
/// blocks, bash 1024: 50 or 100 KB, either way far between the sizes).
fn limited(prefix: &str, args: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("{prefix} ulimit -f 100; exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args)
        .env_remove("OCIPICK_CONFIG");
    c
}

fn selects(root: &Path) -> String {
    let dir_tag = format!("{}:v1", root.display());
    let s = run(&argv(
        "select --no-config -p linux/amd64 -o json --prefer k.a=v",
        &[&dir_tag],
    ));
    s.expect(0).json()["digest"].as_str().unwrap().to_owned()
}

#[test]
fn index_json_write_failing_after_the_blob_keeps_the_old_index_json() {
    let (dir, old_digest, before) = small_blob_big_index_json();
    let root = dir.path();
    let dir_tag = format!("{}:v1", root.display());
    let picked = selects(root);
    let blobs_before = std::fs::read_dir(root.join("blobs/sha256"))
        .unwrap()
        .count();

    // SIGXFSZ ignored: writing index.json's temporary file fails (EFBIG).
    let r = run_cmd(limited(
        "trap '' XFSZ;",
        &["annotate", &dir_tag, "--set", "2", "k.a=v"],
    ));
    r.expect(2).stderr_has("index.json");
    assert_eq!(std::fs::read(root.join("index.json")).unwrap(), before);
    // The new blob was written (and verifies) but nothing references it.
    let names: Vec<String> = std::fs::read_dir(root.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), blobs_before + 1, "{names:?}");
    for n in &names {
        assert!(!n.starts_with('.'), "temporary file left: {n}");
        let bytes = std::fs::read(root.join("blobs/sha256").join(n)).unwrap();
        assert_eq!(sha256(&bytes), format!("sha256:{n}"));
    }
    // The failed write removed its temporary file.
    assert!(temps(root).is_empty(), "{:?}", temps(root));
    assert_eq!(selects(root), picked);
    let top: Value = serde_json::from_slice(&before).unwrap();
    assert_eq!(top["manifests"][0]["digest"], json!(old_digest));

    // SIGXFSZ at its default: the process dies half-way through writing
    // index.json's temporary file.
    let mut c = limited(
        "ulimit -c 0;",
        &["annotate", &dir_tag, "--set", "2", "k.a=v"],
    );
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = c.status().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGXFSZ), "{status:?}");
    assert_eq!(std::fs::read(root.join("index.json")).unwrap(), before);
    assert_eq!(selects(root), picked);
    // It leaves no temporary file: the partial bytes were in an unnamed
    // file, which the kernel freed with the process.
    assert!(temps(root).is_empty(), "{:?}", temps(root));

    // Without the limit the same request goes through and picks the newly
    // annotated entry.
    run(&["annotate", &dir_tag, "--set", "2", "k.a=v"]).expect(0);
    let top: Value =
        serde_json::from_slice(&std::fs::read(root.join("index.json")).unwrap()).unwrap();
    assert_ne!(top["manifests"][0]["digest"], json!(old_digest));
    assert_eq!(top["manifests"].as_array().unwrap().len(), 2001);
    assert_ne!(selects(root), picked);
    assert!(temps(root).is_empty(), "{:?}", temps(root));
}

#[test]
fn file_write_failing_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let (doc, _, _) = {
        let scratch = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(scratch.path().join("blobs/sha256")).unwrap();
        big_index(scratch.path(), 1000)
    };
    let out = write_json(dir.path(), "out.json", &doc);
    let before = std::fs::read(&out).unwrap();
    assert!(before.len() > 200_000);
    let r = run_cmd(limited(
        "trap '' XFSZ;",
        &["annotate", &out, "--set", "0", "k.a=v"],
    ));
    r.expect(2).stderr_has("writing");
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert!(temps(dir.path()).is_empty(), "{:?}", temps(dir.path()));
}
