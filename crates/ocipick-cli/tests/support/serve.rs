//! A running `ocipick serve` for the integration tests: started on a free
//! loopback port (port 0; the address is read from its "listening on"
//! line), its standard error collected, killed on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A mirror process.
pub struct Mirror {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    log: Arc<Mutex<String>>,
}

impl Mirror {
    /// Starts `ocipick serve --listen 127.0.0.1:0 ARGS…` (with
    /// `--no-config` unless ARGS name a config) and waits for it to listen.
    pub fn start(args: &[&str]) -> Mirror {
        Mirror::start_with_docker_config(args, Path::new("/nonexistent-ocipick-test"))
    }

    /// [`Mirror::start`] with `DOCKER_CONFIG=docker_config`: the mirror's
    /// own credentials for its upstreams come from its `config.json`.
    pub fn start_with_docker_config(args: &[&str], docker_config: &Path) -> Mirror {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocipick"));
        cmd.args(["serve", "--listen", "127.0.0.1:0"]);
        if !args.contains(&"--config") {
            cmd.arg("--no-config");
        }
        cmd.args(args)
            .env_remove("OCIPICK_CONFIG")
            .env("DOCKER_CONFIG", docker_config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start ocipick serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split([',', ' ']).next().unwrap_or("").to_owned();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("ocipick serve did not start: {}", log.lock().unwrap());
            }
        };
        Mirror { child, addr, log }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything the mirror wrote on standard error so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to `limit` for `fragment` to appear in the log.
    pub fn wait_log(&self, fragment: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if self.log().contains(fragment) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The process id (for /proc/PID/status).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Peak resident memory (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// The value of one sample of `/metrics` (0 when absent), e.g.
    /// `ocipick_mirror_upstream_requests_total{kind="manifest"}`.
    pub fn metric(&self, sample: &str) -> f64 {
        let text = ureq::get(&format!("{}/metrics", self.url()))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(sample).and_then(|v| v.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Sends SIGTERM and waits (up to 10 s) for the exit status.
    pub fn terminate(mut self) -> Option<i32> {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer of the mirror (or the registry) to [`get`].
#[derive(Debug)]
pub struct Got {
    pub status: u16,
    /// Its `Docker-Content-Digest`.
    pub digest: Option<String>,
    pub body: Vec<u8>,
    pub took: Duration,
}

impl Got {
    /// The distribution-spec error code of the body, if any.
    pub fn code(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// A client that returns every status as an answer, 40 s at most a call.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(40)))
        .build()
        .into()
}

/// `GET url` accepting an OCI index or manifest, timed.
pub fn get(url: &str) -> Got {
    let began = Instant::now();
    let mut r = agent()
        .get(url)
        .header(
            "Accept",
            "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json",
        )
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let body = r.body_mut().read_to_vec().unwrap_or_default();
    Got {
        status: r.status().as_u16(),
        digest: r
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
        took: began.elapsed(),
    }
}
