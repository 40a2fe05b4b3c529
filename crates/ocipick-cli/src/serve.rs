//! `ocipick serve`: the node-local pull-through mirror
//! (`ocipick-mirror`), with this node's policy built from the same flags,
//! configuration, node facts and hooks as `select`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use ocipick::{Index, Policy};
use ocipick_mirror::{Decide, Decision, Mirror, Options};

use crate::args::{parse_bytes, parse_deadline, PolicyArgs, RegistryArgs, TargetArgs, TrustArgs};
use crate::run::{self, Failure, Setup};

/// What a tag request for an index is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServeMode {
    /// The selected child manifest, byte for byte as upstream serves it.
    Child,
    /// A new index whose selected entry comes first among the entries
    /// that fit this node, for clients that insist on an index.
    Reorder,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port; the address in use
    /// is printed on standard error ("listening on ADDR").
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5050")]
    pub listen: SocketAddr,

    /// An upstream registry (HOST[:PORT], or docker.io). Repeatable: the
    /// first answers requests that name no other; containerd's `?ns=`
    /// parameter or a first path component naming an upstream
    /// (`/v2/ghcr.io/org/app/…`) choose another.
    #[arg(long, value_name = "REGISTRY", required = true)]
    pub upstream: Vec<String>,

    /// Answer tag requests for indexes with the selected child manifest,
    /// or with a reordered index.
    #[arg(long, value_enum, default_value_t = ServeMode::Child)]
    pub mode: ServeMode,

    /// Seconds an answer to a tag request (and the decision for an index
    /// digest) is reused; 0 fetches the tag for every request.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_ttl)]
    pub cache_ttl: f64,

    /// Bytes of selected manifests kept by digest; the tag and decision
    /// caches get the same budget each (so about three times this in
    /// all). Accepts KiB/MiB suffixes.
    #[arg(long, value_name = "BYTES", default_value = "64MiB", value_parser = parse_bytes)]
    pub cache_bytes: u64,

    /// Connections served at once; more wait to be accepted.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_connections: u32,

    /// Also serve /metrics alone on this address (e.g. the node's IP for
    /// Prometheus), so the mirror itself can stay on loopback.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// Log one line per request on standard error (method, path, status,
    /// length, milliseconds to the answer), besides the decisions.
    #[arg(long)]
    pub log_requests: bool,

    /// The platform the node's container runtime matches index entries
    /// with, in any spelling --platform accepts. Reorder mode places the
    /// chosen entry where that matcher takes it (or answers the chosen
    /// child when no order can), and a chosen entry declaring another
    /// platform is logged and counted.
    /// [default: the target platform as containerd, Podman and Docker
    /// match: without an amd64 level (linux/amd64), with the ARM variant]
    #[arg(long, value_name = "PLATFORM")]
    pub runtime_platform: Option<String>,

    /// After SIGTERM or SIGINT, seconds the requests in progress may take
    /// to finish (new connections are refused, /readyz answers 503) before
    /// the mirror exits anyway.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = parse_deadline)]
    pub drain_timeout: f64,
    /// Seconds past its TTL a tag's last good answer still answers the
    /// tag while upstream fails (unreachable, timed out, 5xx, 429; never
    /// 401/403/404, which are answers). 0 never answers stale.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0, value_parser = parse_ttl)]
    pub stale_for: f64,

    /// Seconds to connect to an upstream (default: 2, or --timeout when
    /// lower).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub connect_timeout: Option<f64>,

    /// Seconds an upstream may take to start answering, and to send each
    /// next part of an answer (default: 5, or --timeout when lower).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub read_timeout: Option<f64>,

    /// Seconds a manifest request by tag waits for upstream before it is
    /// answered anyway: stale (--stale-for) or 504. 0: no deadline.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = parse_ttl)]
    pub tag_deadline: f64,

    /// Keep the reordered indexes of --mode reorder in this directory
    /// (created if missing), one file per digest, so that a runtime's GET
    /// by such a digest still works after a restart of the mirror.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<std::path::PathBuf>,

    /// Most files kept in --state-dir (the oldest go first).
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub state_max_files: u32,

    /// Most bytes kept in --state-dir. Accepts KiB/MiB suffixes.
    #[arg(long, value_name = "BYTES", default_value = "64MiB", value_parser = parse_bytes)]
    pub state_max_bytes: u64,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub policy: PolicyArgs,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// The trust policy, as select's: the index of each tag fetched from a
    /// repository it names is verified (cached by digest for
    /// --cache-ttl); without a valid signature child mode answers the
    /// first match on platform alone and reorder mode (or
    /// --on-unsigned refuse) passes the index through unchanged.
    #[command(flatten)]
    pub trust: TrustArgs,
}

fn parse_ttl(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=86400.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number of seconds between 0 and 86400"
        )),
    }
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number of seconds above 0 and at most 3600"
        )),
    }
}

/// The node's policy as the mirror asks for it.
struct NodePolicy {
    setup: Setup,
    /// The same target with no preferences, rules or hooks: what a
    /// first-match runtime takes, for `--mode reorder`.
    plain: Policy,
}

impl NodePolicy {
    /// The decision of `policy` (already adjusted by hooks) over `index`.
    fn decision(&self, policy: &Policy, index: &Index<'_>) -> Result<Decision, String> {
        let Some(chosen) = policy.select(index) else {
            return Err(run::no_match_message("the index", policy, index));
        };
        let ranked = policy.explain(index, chosen.position);
        let fallbacks = policy
            .rank(index)
            .entries
            .iter()
            .filter(|e| e.eligible && e.position != chosen.position)
            .map(|e| e.position)
            .collect();
        let d = &index.manifests[chosen.position];
        Ok(Decision {
            position: chosen.position,
            digest: d.digest.to_string(),
            media_type: d.media_type.to_string(),
            score: ranked.score,
            reasons: ranked.reasons.iter().map(ToString::to_string).collect(),
            first_fit: self.plain.select(index).map(|s| s.position),
            fallbacks,
        })
    }
}

impl Decide for NodePolicy {
    fn decide(&self, bytes: &[u8]) -> Result<Decision, String> {
        let index = Index::parse(bytes).map_err(|e| format!("invalid index: {e}"))?;
        let adjusted;
        let policy = if self.setup.hooks.is_empty() {
            &self.setup.policy
        } else {
            let warnings;
            (adjusted, warnings) = ocipick_host::hooks::apply(
                &self.setup.policy,
                &self.setup.hooks,
                &self.setup.facts,
                &index,
            )
            .map_err(|e| e.to_string())?;
            for w in warnings {
                crate::say::warn(&w);
            }
            &adjusted
        };
        self.decision(policy, &index)
    }

    /// select's `ignore-annotations` policy: the target alone, no
    /// preferences, rules or hooks (the hooks are not even run).
    fn decide_platform_only(&self, bytes: &[u8]) -> Result<Decision, String> {
        let index = Index::parse(bytes).map_err(|e| format!("invalid index: {e}"))?;
        let mut d = self.decision(&self.setup.platform_only, &index)?;
        d.reasons.push(
            "annotations ignored: the index has no valid signature (trust policy); platform alone decides, first match"
                .into(),
        );
        Ok(d)
    }
}

/// Runs the mirror until SIGINT or SIGTERM.
pub fn run(args: &ServeArgs) -> Result<(String, u8), Failure> {
    let setup = run::setup_target(&args.target, &args.policy)?;
    // Every key is read now: a bad one stops the mirror before it listens.
    let trust = crate::trust::policy(&args.trust, setup.trust.clone())?
        .map(crate::trust::Loaded::into_mirror);
    if setup.compat.is_some() {
        // Refused rather than ignored: the mirror would answer differently
        // from `select --compat nfd` for the same node.
        return Err(Failure::Invalid(
            "--compat nfd (or a [compat] table) is not applied by serve yet; use select/resolve, or remove it for serve".into(),
        ));
    }
    let mut client_opts = run::client_options(&args.registry, setup.max_index)?;
    // --username/--password-stdin are for the first upstream only; the
    // others take theirs from the credential files (--authfile, auth.json,
    // the Docker configuration).
    client_opts.credentials_registry = Some(args.upstream[0].clone());
    // Fail fast: a runtime waits for its mirror longer than is useful
    // (containerd has no response timeout at all), so the mirror bounds
    // its own wait and answers, letting the runtime fall back.
    client_opts.connect_timeout = Duration::from_secs_f64(
        args.connect_timeout
            .unwrap_or(args.registry.timeout.min(2.0)),
    );
    client_opts.read_timeout =
        Duration::from_secs_f64(args.read_timeout.unwrap_or(args.registry.timeout.min(5.0)));
    let client =
        ocipick_registry::Client::new(client_opts).map_err(|e| Failure::Invalid(e.to_string()))?;
    for u in &args.upstream {
        format!("{u}/x")
            .parse::<ocipick_registry::Reference>()
            .ok()
            .filter(|r| r.registry == *u)
            .ok_or_else(|| {
                Failure::Invalid(format!("--upstream {u:?} is not a registry host[:port]"))
            })?;
    }
    let plain = Policy::new(setup.policy.target()).max_manifest_bytes(u64::MAX);
    let target = setup.policy.target().to_string();
    let runtime_platform = match &args.runtime_platform {
        Some(sel) => {
            let host = ocipick_host::platform(std::path::Path::new("/"));
            ocipick::platform::spelling::parse(sel, &host)
                .map_err(|e| Failure::Invalid(format!("--runtime-platform {e}")))?
                .normalized()
        }
        None => ocipick_mirror::runtime::matching_platform(setup.policy.target()),
    };
    let runtime_text = runtime_platform.to_string();
    let trust_text = trust.as_ref().map(|t| {
        format!(
            "ocipick serve: trust policy: {} key(s) ({}), repositories {}, on-unsigned {}, signature deadline {} s",
            t.keys.len(),
            t.keys.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "),
            if t.policy.repositories.is_empty() {
                "all".to_owned()
            } else {
                t.policy.repositories.join(", ")
            },
            t.policy.on_unsigned.as_str(),
            t.deadline.as_secs_f64()
        )
    });
    let opts = Options {
        mode: match args.mode {
            ServeMode::Child => ocipick_mirror::Mode::Child,
            ServeMode::Reorder => ocipick_mirror::Mode::Reorder,
        },
        ttl: Duration::from_secs_f64(args.cache_ttl),
        max_connections: args.max_connections as usize,
        manifest_cache_bytes: usize::try_from(args.cache_bytes).unwrap_or(usize::MAX),
        log_requests: args.log_requests,
        runtime_platform: Some(runtime_platform),
        drain_timeout: Duration::from_secs_f64(args.drain_timeout),
        stale_for: Duration::from_secs_f64(args.stale_for),
        tag_deadline: Duration::from_secs_f64(args.tag_deadline),
        state: args
            .state_dir
            .as_ref()
            .map(|dir| ocipick_mirror::StateOptions {
                dir: dir.clone(),
                max_files: args.state_max_files as usize,
                max_bytes: usize::try_from(args.state_max_bytes).unwrap_or(usize::MAX),
            }),
        trust,
        ..Options::new(args.upstream.clone())
    };
    // Before listening: a state directory that cannot be opened stops here.
    let mirror = Mirror::open(
        opts,
        Arc::new(client),
        Arc::new(NodePolicy { setup, plain }),
    )
    .map_err(|e| Failure::Invalid(e.to_string()))?;
    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|e| Failure::Invalid(format!("--listen {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::Invalid(format!("--listen {}: {e}", args.listen)))?;
    let metrics = match args.metrics_listen {
        Some(m) => {
            let l = std::net::TcpListener::bind(m)
                .map_err(|e| Failure::Invalid(format!("--metrics-listen {m}: {e}")))?;
            let a = l
                .local_addr()
                .map_err(|e| Failure::Invalid(format!("--metrics-listen {m}: {e}")))?;
            eprintln!("ocipick serve: metrics on {a}");
            Some(l)
        }
        None => None,
    };
    if let Some(t) = trust_text {
        eprintln!("{t}");
    }
    eprintln!(
        "ocipick serve: listening on {addr}, mirroring {} for {target} ({} mode, cache TTL {} s, runtime matches as {runtime_text})",
        args.upstream.join(", "),
        match args.mode {
            ServeMode::Child => "child",
            ServeMode::Reorder => "reorder",
        },
        args.cache_ttl
    );
    mirror
        .run(listener, metrics)
        .map_err(|e| Failure::Invalid(format!("serve: {e}")))?;
    eprintln!("ocipick serve: stopped");
    Ok((String::new(), 0))
}
