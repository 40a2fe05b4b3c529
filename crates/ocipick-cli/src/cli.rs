//! The command line: the commands and their subcommands. Help text, the
//! man page and shell completions are all generated from these definitions
//! and the flag groups of [`crate::args`] and the command modules.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::args::*;

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
    /// Check an index against the OCI image-spec and Proposal A's guidance,
    /// or an NFD image compatibility artifact (NFD001…: a manifest file,
    /// a layout tag or registry reference, and the NFD artifacts a layout
    /// lists, their specification layers included).
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
    /// Node-feature-discovery image compatibility artifacts: validate a
    /// node against an image's compatibility specification.
    #[command(subcommand)]
    Compat(crate::compat::CompatCommand),
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
