//! Helpers shared by the integration tests: running the compiled `ocipick`
//! binary, locating test data and building small index documents.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// The compiled binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_ocipick");

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An argument list: the words of `line` (the fixed part of a command
/// line, split at white space), then `rest` as they are (paths,
/// references, values that may hold spaces):
/// `run(&argv("select --no-config -p linux/amd64 -o json", &[&file]))`.
pub fn argv<'a>(line: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    line.split_whitespace()
        .chain(rest.iter().copied())
        .collect()
}

/// `testdata/` at the workspace root.
pub fn testdata() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata"))
}

/// The workspace root (where `testdata/` lives), for relative paths.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// A file under `testdata/`, as a string argument.
pub fn td(rel: &str) -> String {
    testdata().join(rel).display().to_string()
}

/// The proposal's GPU example.
pub fn gpu() -> String {
    td("examples/gpu-index.json")
}

/// The outcome of one run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(o: Output) -> Run {
        Run {
            code: o.status.code().expect("ocipick was killed by a signal"),
            stdout: String::from_utf8(o.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(o.stderr).expect("stderr is UTF-8"),
        }
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Asserts the exit status, showing everything when it differs.
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "unexpected exit status: {self:#?}");
        self
    }

    /// Asserts that stderr contains `fragment`.
    pub fn stderr_has(&self, fragment: &str) -> &Run {
        assert!(
            self.stderr.contains(fragment),
            "stderr lacks {fragment:?}: {self:#?}"
        );
        self
    }
}

/// A command for the binary with a clean environment for configuration.
pub fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("OCIPICK_CONFIG");
    c
}

/// Runs `ocipick ARGS` with empty stdin.
pub fn run(args: &[&str]) -> Run {
    run_cmd(cmd(args))
}

/// Runs a prepared command with empty stdin, under the timeout guard.
pub fn run_cmd(mut c: Command) -> Run {
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().expect("spawn ocipick");
    wait_guarded(child, Duration::from_secs(10))
}

/// Runs `ocipick ARGS` with `input` on stdin.
pub fn run_stdin(args: &[&str], input: &[u8]) -> Run {
    run_cmd_stdin(cmd(args), input)
}

/// Waits for `child`, polling, and kills it (failing the test) when it runs
/// longer than `limit`. stdout/stderr are drained on threads so a chatty
/// child cannot block on a full pipe.
pub fn wait_guarded(mut child: Child, limit: Duration) -> Run {
    let out_t = drain(child.stdout.take());
    let err_t = drain(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ocipick still running after {limit:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let o = Output {
        status,
        stdout: out_t.join().expect("stdout thread"),
        stderr: err_t.join().expect("stderr thread"),
    };
    Run::from_output(o)
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// `sha256:` + hex of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A made-up but well-formed digest, distinct per `name`.
pub fn fake_digest(name: &str) -> String {
    sha256(name.as_bytes())
}

/// A platform object from `os/arch[/variant]`.
pub fn platform(p: &str) -> Value {
    let parts: Vec<&str> = p.split('/').collect();
    let mut m = json!({"os": parts[0], "architecture": parts[1]});
    if let Some(v) = parts.get(2) {
        m["variant"] = json!(v);
    }
    m
}

/// An image-manifest descriptor named `name` (its digest is derived from
/// the name), for `plat` (`None`: no platform), with annotations.
pub fn entry(name: &str, plat: Option<&str>, annotations: &[(&str, &str)]) -> Value {
    let mut d = json!({
        "mediaType": OCI_MANIFEST,
        "digest": fake_digest(name),
        "size": 500,
    });
    if let Some(p) = plat {
        d["platform"] = platform(p);
    }
    if !annotations.is_empty() {
        let a: serde_json::Map<String, Value> = annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        d["annotations"] = Value::Object(a);
    }
    d
}

/// An OCI image index document with these entries.
pub fn index(entries: &[Value]) -> Value {
    json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
}

/// Writes `v` (pretty) to `dir/name` and returns the path as a string.
pub fn write_json(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).expect("serialize")).expect("write");
    p.display().to_string()
}

/// Runs a prepared command with `input` on stdin, under the timeout guard.
pub fn run_cmd_stdin(mut c: Command, input: &[u8]) -> Run {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ocipick");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // The process may stop reading early; a broken pipe is fine.
        let _ = stdin.write_all(&input);
    });
    let r = wait_guarded(child, Duration::from_secs(10));
    writer.join().expect("writer thread");
    r
}
