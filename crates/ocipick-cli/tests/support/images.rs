//! Runnable images and the tools that pull them, shared by the mirror's
//! tests (tests/serve.rs, tests/serve_reorder.rs): Debian packages
//! installed on demand, one-layer images that containerd unpacks and
//! skopeo copies unchanged, and skopeo copies through a registries.conf.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use serde_json::Value;

use crate::common;
use crate::registry_support::Registry;
use crate::runtimes::which;

/// Installs the Debian package `package` when `program` is missing, once
/// per package and test binary, one apt-get at a time. `Err` says why it
/// could not be installed.
pub fn ensure_tool(program: &str, package: &str) -> Result<(), String> {
    static APT: Mutex<()> = Mutex::new(());
    static DONE: Mutex<BTreeMap<String, Result<(), String>>> = Mutex::new(BTreeMap::new());
    let _apt = APT.lock().unwrap_or_else(|e| e.into_inner());
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = done.get(package) {
        return r.clone();
    }
    let result = if which(program) {
        Ok(())
    } else {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                 apt-get install -y -qq --no-install-recommends {package}"
            ))
            .stdin(Stdio::null())
            .output();
        match out {
            Err(e) => Err(format!("cannot run apt-get: {e}")),
            Ok(o) if !o.status.success() => Err(format!(
                "apt-get install {package} failed ({}): {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Ok(_) if !which(program) => Err(format!(
                "{program} is still missing after installing {package}"
            )),
            Ok(_) => Ok(()),
        }
    };
    done.insert(package.to_owned(), result.clone());
    result
}
/// A gzipped tar holding one file, `label.txt`; returns (gzip, tar).
pub fn layer_tar_gz(label: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("label.txt"), format!("{label}\n")).unwrap();
    let tar = Command::new("tar")
        .args([
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-C",
        ])
        .arg(dir.path())
        .args(["-cf", "-", "label.txt"])
        .output()
        .expect("run tar");
    assert!(tar.status.success(), "tar: {tar:?}");
    let mut gz = Command::new("gzip")
        .args(["-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gzip");
    {
        use std::io::Write;
        let mut stdin = gz.stdin.take().unwrap();
        stdin.write_all(&tar.stdout).unwrap();
    }
    let out = gz.wait_with_output().expect("gzip");
    assert!(out.status.success(), "gzip: {out:?}");
    (out.stdout, tar.stdout)
}
/// Pushes a runnable OCI image, declared as `platform` in its index entry (a real gzipped tar layer and a
/// config whose diff ID matches it, so skopeo copies it unchanged and
/// containerd unpacks it); returns its index descriptor and diff ID.
pub fn push_real_image(
    reg: &Registry,
    repo: &str,
    label: &str,
    platform: &str,
    annotations: &[(&str, &str)],
) -> (Value, String) {
    let (gz, tar) = layer_tar_gz(label);
    let diff_id = common::sha256(&tar);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"label": label}, "Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    });
    let d = reg.push_layered(repo, &config, &gz, platform, annotations);
    (d, diff_id)
}
/// Copies `docker://REF` into a new OCI layout with skopeo, using only
/// `registries_conf` for registry settings; returns the digest of the
/// manifest copied (from the layout's index.json).
pub fn skopeo_copy(registries_conf: &Path, reference: &str, work: &Path, name: &str) -> String {
    let policy = work.join("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let layout = work.join(name);
    let out = Command::new("skopeo")
        .arg("--registries-conf")
        .arg(registries_conf)
        .arg("--policy")
        .arg(&policy)
        .arg("--override-os")
        .arg("linux")
        .arg("--override-arch")
        .arg("amd64")
        .arg("copy")
        .arg(format!("docker://{reference}"))
        .arg(format!("oci:{}:t", layout.display()))
        .env("REGISTRY_AUTH_FILE", work.join("auth.json"))
        .env("HOME", work)
        .env("XDG_RUNTIME_DIR", work)
        .stdin(Stdio::null())
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo copy {reference} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index.json"))
            .expect("index.json is JSON");
    let m = index["manifests"].as_array().expect("manifests");
    assert_eq!(m.len(), 1, "one image in the layout: {index}");
    m[0]["digest"].as_str().unwrap().to_owned()
}
