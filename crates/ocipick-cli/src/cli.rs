//! Every command-line flag, defined once. Help text, the man page and shell
//! completions are all generated from these definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ocipick::Preference;

/// Pick the right image for a machine out of an OCI image index.
///
/// ocipick matches index entries to a platform exactly as containerd does,
/// then lets weighted annotation preferences (OCI "Proposal A") choose among
/// the entries that fit. With no preferences it picks what containerd picks.
#[derive(Debug, Parser)]
#[command(name = "ocipick", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Print on standard error one line per HTTP request and answer:
    /// method, URL (query strings hidden), status, body length and time
    /// taken; and where credentials and TLS material came from. Never
    /// Authorization headers, passwords, tokens or refresh tokens. Also
    /// spelled --debug.
    #[arg(short, long, visible_alias = "debug", global = true)]
    pub verbose: bool,

    /// Print nothing but the result: no warnings or notes on standard
    /// error. Errors are still printed there, with the exit status.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the manifest selected for the target platform and preferences.
    ///
    /// Exit status: 0 selected, 1 no entry fits (the message lists the
    /// platforms the index offers), 2 usage error or invalid input, 3
    /// network, registry or authentication failure.
    Select(Deferred<SelectCmd>),
    /// Explain the decision: every entry, best first, with its reasons.
    ///
    /// Exit status as for select: the ranking is printed either way, and the
    /// status is 1 when no entry is eligible.
    Rank(Deferred<SelectArgs>),
    /// Print the pinned reference of the selected manifest,
    /// REGISTRY/REPOSITORY@DIGEST, for any runtime to run unmodified:
    /// `docker run $(ocipick resolve --prefer com.example.gpu nginx:latest)`.
    ///
    /// For local sources it prints the selected digest. Exit status as for
    /// select, and 3 for network, registry and authentication failures.
    Resolve(Deferred<SelectArgs>),
    /// Print only the digest of the selected manifest, for scripts (as
    /// `crane digest`, `oras resolve` or `skopeo inspect --format
    /// '{{.Digest}}'` do, but selected for the target and preferences).
    ///
    /// `--full-ref` prints REGISTRY/REPOSITORY@DIGEST instead, as resolve
    /// does. Exit status as for select.
    Digest(Deferred<DigestCmd>),
    /// Print what this machine is: its platform and its facts, named as
    /// node-feature-discovery names them (cpu.cpuid, kernel.version,
    /// pci.device, …). `--output json` prints NFD's feature layout.
    Host {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Output::Text)]
        output: Output,
        /// Read /proc, /sys and /etc under this directory instead of /.
        ///
        /// The platform is then that machine's: its architecture comes from
        /// DIR/uname-m (what `uname -m` printed there), else from
        /// DIR/proc/cpuinfo, and this binary's only when neither tells.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
    },
    /// Check an index against the OCI image-spec and Proposal A's guidance.
    ///
    /// Every finding has a stable ID, a severity, a JSON path and a fix
    /// hint. Exit status: 0 clean (or warnings only), 1 warnings with
    /// --strict, 2 errors (or unreadable input), 3 registry failures.
    Lint(Deferred<LintArgs>),
    /// Check many images against many nodes: which manifest each node
    /// would get, or "no fit".
    ///
    /// Images come from SOURCE arguments, --images FILE and --pods FILE
    /// (`kubectl get pods -A -o json`); nodes from --node FILE|DIR and
    /// --nodes FILE (`kubectl get nodes -o json`). Each index is fetched
    /// once. Exit status: 0 every pair fits, 1 some pair has no fit, 2
    /// usage error or an invalid image, 3 an image failed to fetch from its
    /// registry (the others are still checked and reported).
    Check(Deferred<crate::check::CheckArgs>),
    /// Add, change or remove descriptor annotations of an index and write
    /// the new index (to SOURCE, or --to a file, OCI layout or registry).
    ///
    /// Only the index changes: the child manifests, their digests and
    /// order stay as they were. Prints the old and new index digests.
    /// Exit status: 0 written (or nothing to change), 2 usage error,
    /// invalid input, unknown selector or failed write, 3 network,
    /// registry or authentication failure, or child manifests missing
    /// from the destination repository.
    Annotate(Deferred<crate::annotate::AnnotateArgs>),
    /// Run a node-local pull-through registry mirror that answers tag
    /// requests with the manifest selected for this node, so unmodified
    /// runtimes (containerd, CRI-O, Podman, Docker) pull it.
    ///
    /// A manifest request by tag whose upstream answer is an index gets
    /// the selected child manifest, byte for byte (or, with --mode
    /// reorder, an index with that entry first); everything else passes
    /// through, streamed. Decisions are logged on standard error, one line
    /// each; /metrics serves Prometheus counters, /healthz and /readyz
    /// the probes. Runs until SIGINT or SIGTERM, then drains (exit 0);
    /// exit 2 for usage errors or an address in use.
    Serve(Deferred<crate::serve::ServeArgs>),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print shell completions or the man page, generated from these flags.
    Generate {
        /// What to generate.
        #[arg(value_enum)]
        what: Generated,
    },
}

/// A subcommand's arguments, added only when clap builds that subcommand
/// (to parse it, or for its help, the man page or completions, which build
/// every subcommand): a run of one subcommand does not build the flags of
/// all the others first. The flags are the same; only when they are built
/// changes.
#[derive(Debug)]
pub struct Deferred<T>(pub T);

impl<T> std::ops::Deref for Deferred<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Args> Args for Deferred<T> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.defer(|cmd| keep_about(cmd, T::augment_args))
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(|cmd| keep_about(cmd, T::augment_args_for_update))
    }
    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
}

/// Adds a subcommand's arguments after its description was set (the
/// derive sets it after them, so it wins over any description the
/// arguments' struct carries): the subcommand's own description is kept.
fn keep_about(cmd: clap::Command, add: fn(clap::Command) -> clap::Command) -> clap::Command {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let cmd = add(cmd);
    match (about, long_about) {
        (None, _) => cmd,
        (Some(about), Some(long)) => cmd.about(about).long_about(long),
        (Some(about), None) => cmd.about(about).long_about(None::<&str>),
    }
}

impl<T: clap::FromArgMatches> clap::FromArgMatches for Deferred<T> {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Deferred)
    }
    fn from_arg_matches_mut(m: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(m).map(Deferred)
    }
    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
    fn update_from_arg_matches_mut(&mut self, m: &mut clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(m)
    }
}

/// `ocipick lint` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintOutput {
    /// One line a finding.
    Text,
    /// One JSON object, for CI.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// The index, as for select.
    pub source: String,
    /// Exit 1 when there are warnings (and no errors).
    #[arg(long)]
    pub strict: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = LintOutput::Text)]
    pub output: LintOutput,
    /// In an OCI layout, the tag to use.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Refuse index documents larger than this, while reading them. [default: 4MiB]
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_index_bytes: Option<u64>,
    /// Flag entries whose declared size is larger than this. [default: 4MiB]
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_manifest_bytes: Option<u64>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `ocipick config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file and print every problem with its line.
    /// Exit status 0 when it is valid, 2 otherwise.
    Check {
        /// The file. [default: $OCIPICK_CONFIG, else /etc/ocipick/config.toml]
        file: Option<PathBuf>,
    },
}

/// What `ocipick generate` can print.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Generated {
    /// The roff man page.
    Man,
    /// bash completions.
    Bash,
    /// zsh completions.
    Zsh,
    /// fish completions.
    Fish,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned text for people.
    Text,
    /// One JSON object, for scripts.
    Json,
}

/// `ocipick select`: the selection flags, and `--raw`.
#[derive(Debug, Args)]
pub struct SelectCmd {
    #[command(flatten)]
    pub args: SelectArgs,

    /// Print the selected manifest itself: its bytes exactly as the OCI
    /// layout or registry holds them, checked against the selected digest
    /// and size (from a registry, one more manifest GET; never a blob).
    /// With --output json the answer carries them as "manifest.text".
    /// A file or standard input holds only the index: --raw needs a layout
    /// or a registry.
    #[arg(long)]
    pub raw: bool,
}

/// `ocipick digest`: the selection flags, and `--full-ref`.
#[derive(Debug, Args)]
pub struct DigestCmd {
    #[command(flatten)]
    pub args: SelectArgs,

    /// Print REGISTRY/REPOSITORY@DIGEST (what resolve prints), not the
    /// digest alone.
    #[arg(long)]
    pub full_ref: bool,
}

#[derive(Debug, Args)]
pub struct SelectArgs {
    /// The index: a JSON file (an OCI image index or a Docker manifest list),
    /// `-` for standard input, an OCI image layout directory as DIR, DIR:TAG,
    /// oci:DIR[:TAG] or ocidir://DIR[:TAG], a tar of one as
    /// oci-archive:FILE[:TAG], or a registry reference
    /// [docker://][REGISTRY/]REPO[:TAG|@DIGEST]. An existing path is always
    /// local.
    pub source: String,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// In an OCI layout, the tag (org.opencontainers.image.ref.name) to use.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Whom a command selects for, and the index size limit: shared by
/// select, rank, resolve and serve.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Target platform, in any of these spellings:
    /// os[(osversion+feature…)]/arch[/variant] (containerd, Docker, Podman:
    /// linux/arm64, linux/amd64/v3, windows(10.0.20348)/amd64);
    /// os/arch[/variant]:osversion (crane, oras: windows/amd64:10.0.20348);
    /// os/arch[/variant],osver=osversion (regctl); a lone OS or architecture
    /// (linux, arm64: the rest is this machine's); `local` for this machine.
    /// [default: this machine, e.g. linux/amd64/v3 on an x86-64-v3 CPU]
    #[arg(short, long, value_name = "PLATFORM")]
    pub platform: Option<String>,

    /// Select for another node instead of this host: a facts file written by
    /// `ocipick host --output json`, or the JSON of `nfd export features`.
    /// Its facts feed the config file's rules and hooks; its platform (if it
    /// names one) is the target unless --platform is given.
    #[arg(long, value_name = "FILE")]
    pub node: Option<PathBuf>,

    /// Refuse index documents larger than this, while reading them.
    /// Accepts KiB/MiB suffixes. [default: 4MiB]
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_index_bytes: Option<u64>,
}

/// What selects among the entries that fit: preferences, the
/// configuration file (preferences, rules, hooks), the size limit. Shared
/// by every command that selects.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Prefer entries with an annotation: KEY (any value) or KEY=VALUE, each
    /// optionally with :WEIGHT (default 1; negative to avoid). Repeatable;
    /// adds to the config file's preferences.
    #[arg(long, value_name = "KEY[=VALUE][:WEIGHT]", value_parser = parse_preference)]
    pub prefer: Vec<Preference>,

    /// Configuration file (TOML) with [[prefer]], [[rule]] and [[hook]]
    /// entries and defaults.
    /// [default: $OCIPICK_CONFIG, else /etc/ocipick/config.toml if present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Ignore configuration files.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,

    /// Entries whose declared size is larger than this are not eligible.
    /// Accepts KiB/MiB suffixes. [default: 4MiB]
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_manifest_bytes: Option<u64>,
}

/// How to reach registries.
#[derive(Debug, Args)]
#[command(next_help_heading = "Registry options")]
pub struct RegistryArgs {
    /// Reach this registry (HOST[:PORT]) over plain HTTP. Repeatable.
    /// Loopback registries fall back to plain HTTP by themselves.
    #[arg(long, value_name = "REGISTRY")]
    pub plain_http: Vec<String>,

    /// Trust the CA certificates in this PEM file instead of the system's.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// TLS material for every registry, from this directory (skopeo's
    /// --cert-dir), instead of the registry's own directory: the first of
    /// /etc/containers/certs.d/HOST[:PORT]/ and
    /// /etc/docker/certs.d/HOST[:PORT]/ that exists. In either, Docker's
    /// rules: each *.crt holds CA certificates trusted besides the usual
    /// roots (--ca-file's, or the system's); NAME.cert with NAME.key
    /// (client.cert, client.key) is the client certificate and its key.
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,

    /// User name for the registry (with --password-stdin; for serve, the
    /// first --upstream). Without it, credentials come from the files that
    /// --authfile lists.
    #[arg(long, value_name = "USER", requires = "password_stdin")]
    pub username: Option<String>,

    /// Read registry credentials from this file only: podman/skopeo's
    /// auth.json (containers-auth.json(5)), whose format Docker's
    /// config.json shares. Without it: $REGISTRY_AUTH_FILE only, when set;
    /// else these, in this order, the first with credentials for the
    /// registry winning: $XDG_RUNTIME_DIR/containers/auth.json
    /// (/run/containers/UID/auth.json without XDG_RUNTIME_DIR),
    /// $XDG_CONFIG_HOME/containers/auth.json (~/.config/containers/auth.json),
    /// $DOCKER_CONFIG/config.json (~/.docker/config.json). In each file:
    /// credHelpers for the registry, else credsStore, else auths, keyed by
    /// REGISTRY/NAMESPACE (most specific first) or REGISTRY; an entry's
    /// identitytoken is exchanged at the token endpoint. --username wins
    /// over every file.
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,

    /// Read the password (or token) from the first line of standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,

    /// Connect and read timeout, in seconds; one request may take twice this in all.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_timeout)]
    pub timeout: f64,

    /// Retries after connection errors, HTTP 429 and 5xx (with backoff,
    /// honouring Retry-After up to 10 s).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number of seconds between 0 and 3600"
        )),
    }
}

fn parse_preference(s: &str) -> Result<Preference, String> {
    s.parse::<Preference>().map_err(|e| e.problem)
}

/// Parses a byte count: digits with an optional `K`, `KiB`, `M`, `MiB`,
/// `G` or `GiB` suffix (powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a byte count (e.g. 4194304 or 4MiB)"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        other => return Err(format!("unknown unit {other:?} (use KiB, MiB or GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Deferred subcommands get their flags when built, and keep their own
    /// descriptions (not those of the argument structs they flatten).
    #[test]
    fn deferred_subcommands_keep_their_descriptions() {
        let describe = |cmd: &clap::Command| -> Vec<(String, Option<String>, Option<String>)> {
            cmd.get_subcommands()
                .filter(|c| c.get_name() != "help") // added by `build`
                .map(|c| {
                    let text = |s: Option<&clap::builder::StyledStr>| s.map(|s| s.to_string());
                    (
                        c.get_name().to_owned(),
                        text(c.get_about()),
                        text(c.get_long_about()),
                    )
                })
                .collect()
        };
        let unbuilt = Cli::command();
        let select = unbuilt.find_subcommand("select").unwrap();
        assert_eq!(
            select.get_arguments().count(),
            0,
            "select's flags are deferred"
        );
        let mut built = Cli::command();
        built.build();
        assert_eq!(describe(&built), describe(&unbuilt));
        for name in [
            "select", "rank", "resolve", "digest", "lint", "check", "annotate", "serve",
        ] {
            let sub = built.find_subcommand(name).unwrap();
            assert!(
                sub.get_arguments().count() > 3,
                "{name} has its flags once built"
            );
        }
    }

    #[test]
    fn byte_counts() {
        for (s, want) in [
            ("10", Some(10)),
            ("4MiB", Some(4 << 20)),
            ("2K", Some(2048)),
            ("1 GiB", Some(1 << 30)),
            ("x", None),
            ("5TB", None),
            ("99999999999999999999", None),
            ("18446744073709551615G", None),
        ] {
            assert_eq!(parse_bytes(s).ok(), want, "{s}");
        }
    }
}
