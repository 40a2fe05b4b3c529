//! Real container runtimes for the runtime matrix (tests/runtime_matrix.rs):
//! runnable busybox images pushed to the test registry, and containerd
//! (`ctr`), Podman and Docker (Debian's packages) each started with
//! private state, so that a test never touches the machine's own
//! daemons, images or configuration.
//!
//! Sandbox-proofing, the same on any root Debian 12 machine: runc as the
//! OCI runtime (crun refuses hybrid cgroup hierarchies), open-file and
//! process limits lowered to 1024 (a container may not raise a limit over
//! its parent's hard limit), no container networking, and storage drivers
//! that leave no mounts behind (native snapshotter, vfs).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;
use crate::registry_support::Registry;

/// Where Debian's `busybox-static` puts its binary.
pub const BUSYBOX: &str = "/bin/busybox";
/// Debian's Docker CLI (`docker.io`); the `docker` first on `PATH` may be
/// another one.
pub const DOCKER_CLI: &str = "/usr/bin/docker";

/// Whether `program` is on the PATH.
pub fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Why the runtime matrix cannot run here (`None`: it can): not root, or
/// a program missing (scripts/runtimes.sh install provides them).
pub fn missing(programs: &[&str]) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("the runtimes need root".into());
    }
    let gone: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| {
            if p.starts_with('/') {
                !Path::new(p).is_file()
            } else {
                !which(p)
            }
        })
        .collect();
    if gone.is_empty() {
        None
    } else {
        Some(format!(
            "missing {} (scripts/runtimes.sh install installs them)",
            gone.join(", ")
        ))
    }
}

/// A static busybox, as bytes: refuses a dynamically linked one (it would
/// not run in a one-layer image).
pub fn static_busybox() -> Vec<u8> {
    let bytes = std::fs::read(BUSYBOX).unwrap_or_else(|e| {
        panic!("{BUSYBOX}: {e} (install busybox-static: scripts/runtimes.sh install)")
    });
    let dynamic = bytes.windows(14).any(|w| w == b"/lib64/ld-linu")
        || bytes.windows(11).any(|w| w == b"/lib/ld-lin");
    assert!(
        !dynamic,
        "{BUSYBOX} is dynamically linked: install busybox-static (it replaces busybox)"
    );
    bytes
}

/// The one layer of a build: `/bin/busybox` (static) and `/build` holding
/// `build` and a newline; returns (gzip, tar).
pub fn build_layer(busybox: &[u8], build: &str) -> (Vec<u8>, Vec<u8>) {
    let mut t = tar::Builder::new(Vec::new());
    for (name, data, mode, kind) in [
        ("bin/", &b""[..], 0o755, tar::EntryType::Directory),
        ("bin/busybox", busybox, 0o755, tar::EntryType::Regular),
        (
            "build",
            format!("{build}\n").as_bytes(),
            0o644,
            tar::EntryType::Regular,
        ),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        t.append_data(&mut h, name, data).expect("tar member");
    }
    let tar = t.into_inner().expect("tar");
    let mut gz = Command::new("gzip")
        .args(["-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gzip");
    let mut stdin = gz.stdin.take().unwrap();
    let input = tar.clone();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(&input).expect("gzip stdin");
    });
    let out = gz.wait_with_output().expect("gzip");
    writer.join().unwrap();
    assert!(out.status.success(), "gzip: {out:?}");
    (out.stdout, tar)
}

/// Pushes a runnable image whose entrypoint prints `build`: config
/// platform linux/amd64, with `variant` when given; returns its index
/// descriptor (platform `entry_platform`, and `annotations`).
pub fn push_build(
    reg: &Registry,
    repo: &str,
    busybox: &[u8],
    build: &str,
    config_variant: Option<&str>,
    entry_platform: &str,
    annotations: &[(&str, &str)],
) -> Value {
    let (gz, tar) = build_layer(busybox, build);
    let mut config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/bin/busybox", "cat", "/build"], "Labels": {"build": build}},
        "rootfs": {"type": "layers", "diff_ids": [common::sha256(&tar)]},
    });
    if let Some(v) = config_variant {
        config["variant"] = json!(v);
    }
    reg.push_layered(repo, &config, &gz, entry_platform, annotations)
}

/// The text a command wrote, for messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `cmd` with a time limit (killed past it); `Err` holds what it
/// wrote.
pub fn run_limited(mut cmd: Command, limit: Duration) -> Result<Output, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out_t = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err_t = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let end = Instant::now() + limit;
    let (status, killed) = loop {
        match child.try_wait() {
            Ok(Some(s)) => break (s, false),
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                break (child.wait().map_err(|e| e.to_string())?, true);
            }
        }
    };
    let out = Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    };
    if killed {
        Err(format!(
            "{cmd:?}: killed after {limit:?}: {}",
            output_text(&out)
        ))
    } else if out.status.success() {
        Ok(out)
    } else {
        Err(format!("{cmd:?}: {}", output_text(&out)))
    }
}

/// A private temporary directory under /tmp (short paths: unix sockets).
pub fn short_tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("tempdir")
}

fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn stop(child: &mut Child, limit: Duration) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------------
// containerd

/// A containerd daemon with its own root, state and socket (CRI plugin
/// off), stopped on drop.
pub struct Containerd {
    child: Child,
    pub dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        stop(&mut self.child, Duration::from_secs(10));
    }
}

impl Containerd {
    pub fn start() -> Result<Containerd, String> {
        let dir = short_tempdir("ocirtc");
        let d = dir.path();
        let socket = d.join("c.sock");
        let config = format!(
            "version = 2\n\
             root = \"{root}\"\n\
             state = \"{state}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{sock}\"\n\
             [ttrpc]\n  address = \"{sock}.ttrpc\"\n\
             [debug]\n  address = \"\"\n\
             [metrics]\n  address = \"\"\n\
             [plugins.\"io.containerd.metadata.v1.bolt\"]\n  \
             content_sharing_policy = \"isolated\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{opt}\"\n",
            root = d.join("root").display(),
            opt = d.join("opt").display(),
            state = d.join("state").display(),
            sock = socket.display(),
        );
        std::fs::write(d.join("config.toml"), config).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(d.join("containerd.log")).map_err(|e| e.to_string())?;
        let child = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("cannot start containerd: {e}"))?;
        let mut c = Containerd { child, dir, socket };
        let up = wait_until(Duration::from_secs(30), || {
            c.ctr("default", &["version"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        if let Ok(Some(st)) = c.child.try_wait() {
            return Err(format!("containerd exited ({st}): {}", c.log()));
        }
        if !up {
            return Err(format!("containerd did not answer in 30 s: {}", c.log()));
        }
        Ok(c)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// The daemon's socket (for `dockerd --containerd`).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `ctr --address SOCK -n NAMESPACE ARGS…`.
    pub fn ctr(&self, namespace: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(&self.socket)
            .arg("-n")
            .arg(namespace)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// Runs ctr; panics with its output on failure.
    pub fn ctr_ok(&self, namespace: &str, args: &[&str]) -> String {
        let out = self.ctr(namespace, args).output().expect("run ctr");
        assert!(
            out.status.success(),
            "ctr {args:?} failed: {}\n{}\ncontainerd log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The target digest of image `name` in `namespace` (`ctr image ls`).
    pub fn image_target(&self, namespace: &str, name: &str) -> String {
        let out = self.ctr_ok(namespace, &["image", "ls"]);
        out.lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|cols| cols.first() == Some(&name))
            .and_then(|cols| cols.get(2).map(|s| (*s).to_owned()))
            .unwrap_or_else(|| panic!("no image {name} in ctr image ls:\n{out}"))
    }

    /// The committed snapshots of `namespace` (native snapshotter): for
    /// one-layer images, their layers' diff IDs.
    pub fn snapshots(&self, namespace: &str) -> Vec<String> {
        let out = self.ctr_ok(namespace, &["snapshot", "--snapshotter", "native", "ls"]);
        out.lines()
            .skip(1)
            .filter(|l| l.contains("Committed"))
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect()
    }

    /// Whether content `digest` is in `namespace`'s content store.
    pub fn has_content(&self, namespace: &str, digest: &str) -> bool {
        self.ctr_ok(namespace, &["content", "ls", "-q"])
            .lines()
            .any(|l| l.trim() == digest)
    }

    /// A hosts directory for `upstream` whose only mirror is `mirror`
    /// (`None`: the upstream alone, plain HTTP).
    pub fn hosts_dir(&self, name: &str, upstream: &str, mirror: Option<&str>) -> PathBuf {
        let dir = self.dir.path().join(name);
        let d = dir.join(upstream);
        std::fs::create_dir_all(&d).unwrap();
        let mut text = format!("server = \"http://{upstream}\"\n");
        if let Some(m) = mirror {
            text.push_str(&format!(
                "\n[host.\"http://{m}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
            ));
        }
        std::fs::write(d.join("hosts.toml"), text).unwrap();
        dir
    }
}

// ---------------------------------------------------------------------------
// Podman

/// Podman with private storage (`--root`, `--runroot`, vfs) and a private
/// `registries.conf` (`CONTAINERS_REGISTRIES_CONF`); nothing to stop.
pub struct Podman {
    pub dir: tempfile::TempDir,
    registries_conf: PathBuf,
}

impl Podman {
    /// `registry` (plain HTTP) alone, or through `mirror` (the form of
    /// docs/serve/registries.conf: a `[[registry.mirror]]` entry).
    pub fn new(registry: &str, mirror: Option<&str>) -> Podman {
        let dir = short_tempdir("ocirtp");
        let mut text = format!(
            "unqualified-search-registries = []\n\n\
             [[registry]]\nprefix = \"{registry}\"\nlocation = \"{registry}\"\ninsecure = true\n"
        );
        if let Some(m) = mirror {
            text.push_str(&format!(
                "\n[[registry.mirror]]\nlocation = \"{m}\"\ninsecure = true\n"
            ));
        }
        let registries_conf = dir.path().join("registries.conf");
        std::fs::write(&registries_conf, text).unwrap();
        Podman {
            dir,
            registries_conf,
        }
    }

    /// `podman --root … ARGS…`.
    pub fn podman(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut c = Command::new("podman");
        c.env("CONTAINERS_REGISTRIES_CONF", &self.registries_conf)
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .args([
                "--storage-driver",
                "vfs",
                "--runtime",
                "runc",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
            ])
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(args);
        c
    }
}

// ---------------------------------------------------------------------------
// Docker

/// A fresh dockerd (Debian's), with its own data root, exec root,
/// pidfile and socket, stopped on drop. Docker keeps manifests and their
/// digests after `rmi`, so every case gets its own daemon.
pub struct Dockerd {
    child: Child,
    pub dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        stop(&mut self.child, Duration::from_secs(15));
    }
}

impl Dockerd {
    /// `registry-mirrors` is `[http://MIRROR]` when `mirror` is given.
    /// Containers run on `containerd` in namespace `namespace` (dockerd
    /// would otherwise use the system's containerd when its socket
    /// exists, or start one of its own per daemon).
    pub fn start(
        mirror: Option<&str>,
        containerd: &Containerd,
        namespace: &str,
    ) -> Result<Dockerd, String> {
        let dir = short_tempdir("ocirtd");
        let d = dir.path();
        let mirrors: Vec<String> = mirror.iter().map(|m| format!("http://{m}")).collect();
        let config = json!({"registry-mirrors": mirrors});
        std::fs::write(d.join("daemon.json"), config.to_string()).map_err(|e| e.to_string())?;
        let socket = d.join("d.sock");
        let log = std::fs::File::create(d.join("dockerd.log")).map_err(|e| e.to_string())?;
        let child = Command::new("dockerd")
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("--host")
            .arg(format!("unix://{}", socket.display()))
            .arg("--containerd")
            .arg(containerd.socket())
            .arg("--containerd-namespace")
            .arg(namespace)
            .arg("--containerd-plugins-namespace")
            .arg(format!("{namespace}-plugins"))
            .args([
                "--storage-driver",
                "vfs",
                "--bridge",
                "none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
                "--default-runtime",
                "runc",
                "--default-ulimit",
                "nofile=1024:1024",
                "--default-ulimit",
                "nproc=1024:1024",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("cannot start dockerd: {e}"))?;
        let mut dk = Dockerd { child, dir, socket };
        let up = wait_until(Duration::from_secs(60), || {
            dk.docker(&["version"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if let Ok(Some(st)) = dk.child.try_wait() {
            return Err(format!("dockerd exited ({st}): {}", dk.log()));
        }
        if !up {
            return Err(format!("dockerd did not answer in 60 s: {}", dk.log()));
        }
        Ok(dk)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// `/usr/bin/docker --host unix://SOCK ARGS…`, with its own client
    /// configuration directory.
    pub fn docker(&self, args: &[&str]) -> Command {
        let mut c = Command::new(DOCKER_CLI);
        c.env("DOCKER_CONFIG", self.dir.path().join("client"))
            .arg("--host")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .stdin(Stdio::null());
        c
    }
}

/// The version line of a program (`PROGRAM ARGS`), for the summary.
pub fn version_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.lines().next().unwrap_or("").trim().to_owned()
        })
        .unwrap_or_default()
}
