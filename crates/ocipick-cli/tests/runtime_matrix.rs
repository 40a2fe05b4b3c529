//! The real-runtime matrix of `ocipick serve`: containerd (`ctr` with a
//! `hosts.toml` mirror), Podman (a `registries.conf` mirror) and Docker
//! (`registry-mirrors`), Debian 12's packages, each pointed at the mirror
//! only through its ordinary mirror setting, pull, unpack and **run** a
//! container whose entrypoint prints which build it is; each cell asserts
//! the build that printed.
//!
//! Images (built here: Debian's static busybox and a `/build` file as the
//! one layer, entrypoint `busybox cat /build`), pushed to the real registry:
//!
//! - `gpu`: linux/amd64 `generic` first, linux/amd64 annotated
//!   `com.example.gpu=example-gpu-model` (`gpu`) second;
//! - `v3-variant`: linux/amd64 `generic` first, linux/amd64/v3 (`v3`) second,
//!   its image config saying `variant: v3`;
//! - `v3-plain`: the same, the v3 build's config without a variant.
//!
//! Modes: `direct` (no mirror: the runtime's own first match, `generic`);
//! `child` and `reorder` (a mirror for linux/amd64/v3 preferring the GPU
//! annotation: a tag pull runs `gpu` or `v3`; in reorder mode the runtimes
//! match plain linux/amd64 and drop a v3 entry, so the mirror answers the
//! v3 child instead). Pulls by tag, and by the index's digest (a pinned
//! pull: no mirror changes it, `generic`). Through a mirror, a cell also
//! asserts that the mirror answered the pull's manifest request.
//!
//! Root and the runtimes are needed (scripts/runtimes.sh install);
//! without them the tests print why and pass, unless
//! `OCIPICK_REQUIRE_RUNTIMES` is set (scripts/test.sh, CI), where they fail.
//! containerd's CRI plugin is not driven: Debian 12 has no crictl.

mod common;
#[path = "support/registry.rs"]
mod registry_support;
#[path = "support/runtimes.rs"]
mod runtimes;
#[path = "support/serve.rs"]
mod serve_support;

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant};

use common::OCI_INDEX;
use registry_support::{Registry, GPU_KEY, GPU_MODEL};
use runtimes::{run_limited, Containerd, Dockerd, Podman};
use serve_support::Mirror;

/// One command's limit: a pull of a 1 MB image and a container run.
const LIMIT: Duration = Duration::from_secs(120);

/// An index pushed for the matrix.
struct Image {
    /// `gpu`, `v3-variant`, `v3-plain`: the repository is `library/NAME`
    /// (Docker's `registry-mirrors` apply to Docker Hub names only).
    name: &'static str,
    /// The index's digest.
    index: String,
    /// The build a mirror's tag answer runs.
    preferred: &'static str,
}

impl Image {
    fn repo(&self) -> String {
        format!("library/{}", self.name)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Direct,
    Child,
    Reorder,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Child => "child",
            Mode::Reorder => "reorder",
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Pull {
    Tag,
    Digest,
}

impl Pull {
    fn name(self) -> &'static str {
        match self {
            Pull::Tag => "tag",
            Pull::Digest => "digest",
        }
    }
}

/// What a cell pulls: the repository (`library/NAME`) and `:v1` or
/// `@INDEX-DIGEST`.
struct Target<'a> {
    image: &'a Image,
    pull: Pull,
}

impl Target<'_> {
    /// `:v1` or `@sha256:…`.
    fn suffix(&self) -> String {
        match self.pull {
            Pull::Tag => ":v1".to_owned(),
            Pull::Digest => format!("@{}", self.image.index),
        }
    }
}

/// The registry and its three indexes.
fn setup() -> (Registry, Vec<Image>) {
    let reg = Registry::anonymous();
    let busybox = runtimes::static_busybox();
    let mut images = Vec::new();
    for (name, second_build, entry_platform, config_variant, annotations) in [
        (
            "gpu",
            "gpu",
            "linux/amd64",
            None,
            &[(GPU_KEY, GPU_MODEL)][..],
        ),
        ("v3-variant", "v3", "linux/amd64/v3", Some("v3"), &[][..]),
        ("v3-plain", "v3", "linux/amd64/v3", None, &[][..]),
    ] {
        let repo = format!("library/{name}");
        let generic =
            runtimes::push_build(&reg, &repo, &busybox, "generic", None, "linux/amd64", &[]);
        let second = runtimes::push_build(
            &reg,
            &repo,
            &busybox,
            second_build,
            config_variant,
            entry_platform,
            annotations,
        );
        let index = reg.push_index(&repo, "v1", OCI_INDEX, &[generic, second]);
        images.push(Image {
            name,
            index,
            preferred: second_build,
        });
    }
    (reg, images)
}

/// A mirror of `reg` in `mode` for a linux/amd64/v3 node preferring the
/// GPU annotation (forced, so that the answers do not depend on this CPU).
fn mirror(reg: &Registry, mode: Mode) -> Mirror {
    let host = reg.host();
    let prefer = format!("{GPU_KEY}={GPU_MODEL}");
    Mirror::start(&[
        "--upstream",
        &host,
        "--plain-http",
        &host,
        "-p",
        "linux/amd64/v3",
        "--prefer",
        &prefer,
        "--mode",
        mode.name(),
        "--log-requests",
    ])
}

/// The build a cell must print.
fn expected(image: &Image, mode: Mode, pull: Pull) -> &'static str {
    match (mode, pull) {
        (Mode::Direct, _) | (_, Pull::Digest) => "generic",
        (Mode::Child | Mode::Reorder, Pull::Tag) => image.preferred,
    }
}

/// Requests of `kind` (`manifest_tag`, `manifest_digest`) the mirror
/// answered 200, any method.
fn answered(m: &Mirror, kind: &str) -> f64 {
    let text = ureq::get(&format!("{}/metrics", m.url()))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    let prefix = format!("ocipick_mirror_requests_total{{kind=\"{kind}\",");
    text.lines()
        .filter(|l| l.starts_with(&prefix) && l.contains("code=\"200\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// What one cell's runtime did: the build printed and notes (warnings).
struct Ran {
    printed: String,
    notes: String,
}

/// Runs every cell with `cell`, prints a table, and fails listing every
/// cell that printed another build than expected or bypassed the mirror.
fn matrix(
    runtime: &str,
    reg: &Registry,
    images: &[Image],
    mut cell: impl FnMut(&str, &Target, Mode, Option<&Mirror>) -> Result<Ran, String>,
) {
    let start = Instant::now();
    let mut table = String::new();
    let mut failures = Vec::new();
    let mut n = 0;
    for image in images {
        for mode in [Mode::Direct, Mode::Child, Mode::Reorder] {
            for pull in [Pull::Tag, Pull::Digest] {
                n += 1;
                let case = format!("{runtime}/{}/{}/{}", mode.name(), image.name, pull.name());
                let m = (mode != Mode::Direct).then(|| mirror(reg, mode));
                let want = expected(image, mode, pull);
                let t0 = Instant::now();
                let target = Target { image, pull };
                let outcome = cell(&format!("c{n}"), &target, mode, m.as_ref());
                let secs = t0.elapsed().as_secs_f64();
                let (verdict, printed, notes) = match outcome {
                    Err(e) => {
                        failures.push(format!(
                            "{case}: runtime {runtime}, mode {}, image {}, pull by {}: expected \
                             build {want:?}, the runtime failed: {e}{}",
                            mode.name(),
                            image.name,
                            pull.name(),
                            m.as_ref()
                                .map(|m| format!("\nmirror log:\n{}", m.log()))
                                .unwrap_or_default()
                        ));
                        ("FAIL", "(failed)".to_owned(), String::new())
                    }
                    Ok(ran) => {
                        let mut bad = Vec::new();
                        if ran.printed != want {
                            bad.push(format!("printed build {:?}", ran.printed));
                        }
                        if let Some(m) = &m {
                            let kind = match pull {
                                Pull::Tag => "manifest_tag",
                                Pull::Digest => "manifest_digest",
                            };
                            if answered(m, kind) < 1.0 {
                                bad.push(format!("the mirror answered no {kind} request"));
                            }
                        }
                        if bad.is_empty() {
                            ("ok", ran.printed, ran.notes)
                        } else {
                            failures.push(format!(
                                "{case}: runtime {runtime}, mode {}, image {}, pull by {}: \
                                 expected build {want:?}, {}{}",
                                mode.name(),
                                image.name,
                                pull.name(),
                                bad.join("; "),
                                m.as_ref()
                                    .map(|m| format!("\nmirror log:\n{}", m.log()))
                                    .unwrap_or_default()
                            ));
                            ("FAIL", ran.printed, ran.notes)
                        }
                    }
                };
                let _ = writeln!(
                    table,
                    "  {verdict:4} {case:38} expected {want:8} printed {printed:8} {secs:5.1} s {notes}"
                );
            }
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "runtime matrix, {runtime}: {n} cells, {} failed, {:.1} s\n{table}",
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {n} {runtime} cells failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Whether to skip `test` (root or `programs` missing), printing why; a
/// panic instead under `OCIPICK_REQUIRE_RUNTIMES`.
fn skip(test: &str, programs: &[&str]) -> bool {
    let Some(why) = runtimes::missing(programs) else {
        return false;
    };
    if std::env::var_os("OCIPICK_REQUIRE_RUNTIMES").is_some() {
        panic!("{test}: cannot run here (OCIPICK_REQUIRE_RUNTIMES is set): {why}");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    true
}

/// The last line a container printed.
fn build_printed(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_owned()
}

#[test]
fn containerd_runs_the_build_the_mirror_selects() {
    if skip(
        "containerd_runs_the_build_the_mirror_selects",
        &["containerd", "ctr", "runc", runtimes::BUSYBOX],
    ) {
        return;
    }
    let (reg, images) = setup();
    let ctd = Containerd::start().expect("containerd");
    matrix("containerd", &reg, &images, |id, target, _mode, m| {
        let reference = format!("{}/{}{}", reg.host(), target.image.repo(), target.suffix());
        let mut pull = vec!["image", "pull", "--snapshotter", "native"];
        let hosts;
        match m {
            None => pull.push("--plain-http"),
            Some(m) => {
                hosts = ctd.hosts_dir(&format!("hosts-{id}"), &reg.host(), Some(&m.addr));
                pull.extend(["--hosts-dir", hosts.to_str().unwrap()]);
            }
        }
        pull.push(&reference);
        // A namespace per cell; namespaces share no content.
        run_limited(ctd.ctr(id, &pull), LIMIT)
            .map_err(|e| format!("{e}\ncontainerd log:\n{}", ctd.log()))?;
        let run = || {
            run_limited(
                ctd.ctr(
                    id,
                    &["run", "--rm", "--snapshotter", "native", &reference, id],
                ),
                LIMIT,
            )
        };
        let mut out = run()?;
        let mut notes = String::new();
        // `ctr run` exited 0 with no output in one cell of one CI run
        // (2026-12-02, reorder/gpu/digest; the mirror's log showed every
        // answer right, and three reruns printed): its output copy was
        // lost, not the build. Run it once more; what it prints is still
        // asserted.
        if out.stdout.is_empty() {
            out = run()?;
            notes = "ctr run printed nothing the first time; ran again".into();
        }
        Ok(Ran {
            printed: build_printed(&out.stdout),
            notes,
        })
    });
}

#[test]
fn podman_runs_the_build_the_mirror_selects() {
    if skip(
        "podman_runs_the_build_the_mirror_selects",
        &["podman", "runc", "conmon", runtimes::BUSYBOX],
    ) {
        return;
    }
    let (reg, images) = setup();
    matrix("podman", &reg, &images, |_id, target, _mode, m| {
        let reference = format!("{}/{}{}", reg.host(), target.image.repo(), target.suffix());
        // Fresh storage per cell.
        let podman = Podman::new(&reg.host(), m.map(|m| m.addr.as_str()));
        let out = run_limited(
            podman.podman(&[
                "run",
                "--rm",
                "--network",
                "none",
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
                &reference,
            ]),
            LIMIT,
        )?;
        Ok(Ran {
            printed: build_printed(&out.stdout),
            notes: String::new(),
        })
    });
}

#[test]
fn docker_runs_the_build_the_mirror_selects() {
    if skip(
        "docker_runs_the_build_the_mirror_selects",
        &["dockerd", runtimes::DOCKER_CLI, "runc", runtimes::BUSYBOX],
    ) {
        return;
    }
    let (reg, images) = setup();
    let ctd = Containerd::start().expect("containerd for dockerd");
    matrix("docker", &reg, &images, |id, target, _mode, m| {
        // registry-mirrors serve Docker Hub names: through the mirror the
        // image is `NAME` (docker.io/library/NAME), which the mirror's
        // first upstream answers; directly, the registry's own name.
        let reference = match m {
            Some(_) => format!("{}{}", target.image.name, target.suffix()),
            None => format!("{}/{}{}", reg.host(), target.image.repo(), target.suffix()),
        };
        // A fresh daemon per cell: Docker keeps manifests after rmi.
        let dk = Dockerd::start(m.map(|m| m.addr.as_str()), &ctd, &format!("moby-{id}"))?;
        let out = run_limited(
            dk.docker(&["run", "--rm", "--network", "none", &reference]),
            LIMIT,
        )
        .map_err(|e| format!("{e}\ndockerd log (tail):\n{}", tail(&dk.log(), 30)))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Docker 20.10 warns about an image config whose platform has a
        // variant the host platform lacks, and runs it: exactly when the
        // cell runs the v3 build of `v3-variant`.
        let warned = stderr.contains(
            "WARNING: The requested image's platform (linux/amd64/v3) does not match the \
             detected host platform (linux/amd64)",
        );
        let v3_config = target.image.name == "v3-variant" && build_printed(&out.stdout) == "v3";
        if warned != v3_config {
            return Err(format!(
                "Docker's platform warning: expected {}, got {}: {}",
                if v3_config { "one" } else { "none" },
                if warned { "one" } else { "none" },
                runtimes::output_text(&out)
            ));
        }
        let notes = if warned {
            "(Docker warned: platform linux/amd64/v3 does not match the host's)".to_owned()
        } else {
            String::new()
        };
        Ok(Ran {
            printed: build_printed(&out.stdout),
            notes,
        })
    });
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
