//! The select/rank job: load the configuration, the target and the index,
//! select (descending into nested indexes where their blobs are at hand),
//! and render the answer. Nothing is printed until everything succeeded.

use std::path::{Path, PathBuf};

use ocipick::media_type::{self, Kind};
use ocipick::{Config, Descriptor, Digest, Index, Policy, Ranked, Ranking};
use ocipick_registry::source::{self, LoadOptions};
pub(crate) use ocipick_registry::source::{Doc, Source, DEFAULT_MAX_INDEX_BYTES, MAX_DEPTH};
use ocipick_registry::{Client, ClientOptions, SourceError};

use crate::args::{Output, RegistryArgs, SelectArgs};
use crate::output::{self, Answer, Hop};

/// Where the installation-wide configuration lives.
pub const SYSTEM_CONFIG: &str = "/etc/ocipick/config.toml";
const INDEX_HINT: &str = " (raise it with --max-index-bytes)";

/// A failed run, with its exit status.
#[derive(Debug)]
pub enum Failure {
    /// Exit 1: no entry fits. The ranking (if any) is still printed.
    NoMatch {
        /// What to print on stdout before failing (rank's explanation).
        stdout: String,
        /// The one-line message.
        message: String,
    },
    /// Exit 2: usage error or invalid input.
    Invalid(String),
    /// Exit 3: network, registry or authentication failure.
    Registry(String),
}

/// Registry failures are exit 3, except a local setup problem (a bad
/// `--ca-file`, a malformed credential file or certificate directory),
/// which is invalid input: exit 2.
impl From<ocipick_registry::RegistryError> for Failure {
    fn from(e: ocipick_registry::RegistryError) -> Self {
        match e {
            ocipick_registry::RegistryError::Setup(m) => Failure::Invalid(m),
            other => Failure::Registry(other.to_string()),
        }
    }
}

impl From<SourceError> for Failure {
    fn from(e: SourceError) -> Self {
        Failure::Invalid(e.to_string())
    }
}

/// Invalid spellings and local reads are exit 2, registry failures 3.
impl From<source::Error> for Failure {
    fn from(e: source::Error) -> Self {
        match e {
            source::Error::Invalid(m) => Failure::Invalid(m),
            source::Error::Source(e) => e.into(),
            source::Error::Registry(e) => e.into(),
            source::Error::Remote(m) => Failure::Registry(m),
        }
    }
}

/// Whether to print the chosen entry or the whole ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `ocipick select`; `--raw` prints the selected manifest's bytes.
    Select {
        /// `--raw`
        raw: bool,
    },
    /// `ocipick rank`
    Rank,
    /// `ocipick resolve`
    Resolve,
    /// `ocipick digest`; `--full-ref` prints what resolve prints.
    Digest {
        /// `--full-ref`
        full_ref: bool,
    },
}

/// Where nested content can be fetched from: the library's
/// [`source::Store`], with its errors as [`Failure`]s.
pub(crate) struct Store(pub(crate) source::Store);

impl Store {
    pub(crate) fn fetch(&self, d: &Descriptor<'_>) -> Result<Vec<u8>, Failure> {
        Ok(self.0.fetch(d)?)
    }

    pub(crate) fn origin(&self, d: &Descriptor<'_>) -> String {
        self.0.origin(d)
    }
}

/// The bytes of the manifest `d` describes, from the layout, archive or
/// registry the index came from: what `select --raw` prints. They are
/// checked against `d`'s digest and size by [`Store::fetch`] (a layout's or
/// archive's blob read, or a registry GET by that digest). A file or
/// standard input has no manifests beside the index.
fn raw_manifest(store: Option<&Store>, d: &Descriptor<'_>) -> Result<String, Failure> {
    let Some(store) = store else {
        return Err(Failure::Invalid(
            "--raw needs an OCI layout or a registry: a file or standard input holds only the index"
                .into(),
        ));
    };
    let bytes = store.fetch(d)?;
    String::from_utf8(bytes).map_err(|_| {
        Failure::Invalid(format!(
            "{}: the manifest is not UTF-8 text",
            store.origin(d)
        ))
    })
}

/// [`Source::parse`], with its errors as [`Failure`]s.
pub(crate) fn parse_source(s: &str, tag_flag: Option<&str>) -> Result<Source, Failure> {
    Ok(Source::parse(s, tag_flag)?)
}

/// Loads the configuration file, if any: `--config`, else `$OCIPICK_CONFIG`,
/// else the system file when it exists; none with `--no-config`.
pub(crate) fn load_config(args: &crate::args::PolicyArgs) -> Result<Config, Failure> {
    if args.no_config {
        return Ok(Config::default());
    }
    let from_env = std::env::var_os("OCIPICK_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let path = match args.config.clone().or(from_env) {
        Some(p) => p,
        None if Path::new(SYSTEM_CONFIG).is_file() => PathBuf::from(SYSTEM_CONFIG),
        None => return Ok(Config::default()),
    };
    let bytes = ocipick_registry::read_file(&path, 1 << 20, "")?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::Invalid(format!("{}: not UTF-8 text", path.display())))?;
    Config::parse(text).map_err(|e| Failure::Invalid(format!("{}: {e}", path.display())))
}

/// Builds the policy from flags, configuration and this host.
/// What a run selects with: the policy, the index size limit, and the
/// facts and hooks of the node it selects for.
pub struct Setup {
    /// The policy (target, preferences, rules, limits).
    pub policy: Policy,
    /// `--max-index-bytes`.
    pub max_index: u64,
    /// The node's facts: `--node FILE`, else this host's (read only when
    /// rules or hooks need them).
    pub facts: ocipick_host::Facts,
    /// Configured hooks.
    pub hooks: Vec<ocipick::HookSpec>,
    /// The configuration file's `[trust]` table.
    pub trust: Option<ocipick::trust::Trust>,
    /// The policy on platform alone (the first-match rule, no
    /// preferences or rules): what an index without a valid signature is
    /// selected with under `on-unsigned = "ignore-annotations"`.
    pub platform_only: Policy,
    /// `--compat nfd` or the `[compat]` table, with the tags in force.
    pub compat: Option<ocipick::CompatConfig>,
}

/// Reads a node facts file: `ocipick host --output json` or `nfd export
/// features` JSON.
pub(crate) fn load_node(path: &Path) -> Result<(ocipick_host::Facts, Option<String>), Failure> {
    let bytes = ocipick_registry::read_file(path, 16 << 20, "")?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::Invalid(format!("{}: not JSON: {e}", path.display())))?;
    ocipick_host::Facts::from_nfd_json(&v)
        .map_err(|e| Failure::Invalid(format!("{}: {e}", path.display())))
}

/// Builds the policy from flags, configuration, the node and this host.
///
/// The target platform is `--platform`, else the node file's platform,
/// else the configuration's, else this host's.
pub fn setup(args: &SelectArgs) -> Result<Setup, Failure> {
    setup_target(&args.target, &args.policy)
}

/// [`setup`] from the flags that choose the target and the policy, shared
/// by every command that selects for one node (`select`, `rank`,
/// `resolve`, `serve`).
pub(crate) fn setup_target(
    target_args: &crate::args::TargetArgs,
    policy_args: &crate::args::PolicyArgs,
) -> Result<Setup, Failure> {
    let platform = target_args.platform.as_deref();
    let node = target_args.node.as_deref();
    let max_index_bytes = target_args.max_index_bytes;
    let config = load_config(policy_args)?;
    let compat = compat_setting(policy_args, &config)?;
    let host = ocipick_host::platform(Path::new("/"));
    let (facts, node_platform) = match node {
        Some(path) => load_node(path)?,
        None if !config.rules.is_empty() || !config.hooks.is_empty() || compat.is_some() => {
            (ocipick_host::Facts::detect(Path::new("/")), None)
        }
        None => (ocipick_host::Facts::default(), None),
    };
    let chosen = platform
        .or(node_platform.as_deref())
        .or(config.platform.as_deref());
    let target = match chosen {
        Some(sel) => ocipick::platform::spelling::parse(sel, &host)
            .map_err(|e| Failure::Invalid(format!("--platform {e}")))?,
        None => host,
    };
    let max_index = max_index_bytes
        .or(config.max_index_bytes)
        .unwrap_or(DEFAULT_MAX_INDEX_BYTES);
    let policy = build_policy(&target, &config, policy_args, &facts);
    let max_manifest = policy_args
        .max_manifest_bytes
        .or(config.max_manifest_bytes)
        .unwrap_or(ocipick::DEFAULT_MAX_MANIFEST_BYTES);
    Ok(Setup {
        policy,
        max_index,
        facts,
        hooks: config.hooks,
        trust: config.trust,
        platform_only: Policy::new(&target).max_manifest_bytes(max_manifest),
        compat,
    })
}

/// Whether to select with NFD artifacts, and with which tags: `--compat
/// nfd` or the configuration's `[compat]` table; `--compat-tag` replaces
/// the table's `tags`.
pub(crate) fn compat_setting(
    args: &crate::args::PolicyArgs,
    config: &Config,
) -> Result<Option<ocipick::CompatConfig>, Failure> {
    let on = args.compat.is_some() || config.compat.is_some();
    if !on {
        if !args.compat_tags.is_empty() {
            return Err(Failure::Invalid(
                "--compat-tag needs --compat nfd (or [compat] in the configuration)".into(),
            ));
        }
        return Ok(None);
    }
    let tags = if args.compat_tags.is_empty() {
        config
            .compat
            .as_ref()
            .map(|c| c.tags.clone())
            .unwrap_or_default()
    } else {
        args.compat_tags.clone()
    };
    Ok(Some(ocipick::CompatConfig { tags }))
}

/// Runs the hooks on every candidate of `index` and returns the policy
/// with their adjustments. Warnings (hooks that failed and are ignored) go
/// to stderr; a failing hook whose policy is `fail` fails the run (exit 2).
pub(crate) fn apply_hooks(
    base: &Policy,
    hooks: &[ocipick::HookSpec],
    facts: &ocipick_host::Facts,
    index: &Index<'_>,
) -> Result<Policy, Failure> {
    let (policy, warnings) = ocipick_host::hooks::apply(base, hooks, facts, index)
        .map_err(|e| Failure::Invalid(e.to_string()))?;
    for w in warnings {
        crate::say::warn(&w);
    }
    Ok(policy)
}

/// The policy for one target: the config file's preferences and rules
/// (rules judged against `facts`), then `--prefer`, and the manifest size
/// limit (flag, else config, else 4 MiB). Shared by select/rank/resolve and
/// by check (once per node).
pub(crate) fn build_policy(
    target: &ocipick::Platform<'_>,
    config: &Config,
    args: &crate::args::PolicyArgs,
    facts: &ocipick_host::Facts,
) -> Policy {
    let max_manifest = args
        .max_manifest_bytes
        .or(config.max_manifest_bytes)
        .unwrap_or(ocipick::DEFAULT_MAX_MANIFEST_BYTES);
    Policy::new(target)
        .with_preferences(config.preferences.iter().cloned())
        .with_preferences(args.prefer.iter().cloned())
        .with_rules(config.rules.iter().cloned(), facts.flatten())
        .max_manifest_bytes(max_manifest)
}

/// `ocipick config check [FILE]`: every problem with its line.
pub fn config_check(file: Option<&Path>) -> Result<String, Failure> {
    let path = match file {
        Some(p) => p.to_owned(),
        None => match std::env::var_os("OCIPICK_CONFIG").filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => PathBuf::from(SYSTEM_CONFIG),
        },
    };
    let bytes = ocipick_registry::read_file(&path, 1 << 20, "")?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::Invalid(format!("{}: not UTF-8 text", path.display())))?;
    match Config::check(text) {
        Ok(c) => Ok(format!(
            "{}: ok ({} preferences, {} rules, {} hooks)\n",
            path.display(),
            c.preferences.len(),
            c.rules.len(),
            c.hooks.len()
        )),
        Err(problems) => Err(Failure::Invalid(
            problems
                .iter()
                .map(|p| format!("{}: {p}", path.display()))
                .collect::<Vec<_>>()
                .join("\nocipick: "),
        )),
    }
}

/// Builds the registry client from the transport flags.
pub(crate) fn client(args: &RegistryArgs, max_index: u64) -> Result<Client, Failure> {
    Client::new(client_options(args, max_index)?).map_err(|e| Failure::Invalid(e.to_string()))
}

/// The client options of the transport flags (reads the password from
/// standard input for `--password-stdin`).
pub(crate) fn client_options(
    args: &RegistryArgs,
    max_index: u64,
) -> Result<ClientOptions, Failure> {
    let mut opts = ClientOptions {
        ca_file: args.ca_file.clone(),
        plain_http: args.plain_http.iter().cloned().collect(),
        max_bytes: max_index,
        connect_timeout: std::time::Duration::from_secs_f64(args.timeout),
        read_timeout: std::time::Duration::from_secs_f64(args.timeout),
        retries: args.retries,
        ..ClientOptions::default()
    };
    if crate::say::verbose() {
        opts.trace = ocipick_registry::Trace::new(crate::say::trace);
    }
    if let Some(dir) = &args.cert_dir {
        if !dir.is_dir() {
            return Err(Failure::Invalid(format!(
                "--cert-dir {}: not a directory",
                dir.display()
            )));
        }
        opts.cert_dir = Some(dir.clone());
    }
    if let Some(file) = &args.authfile {
        // A file named on the command line must be there; the default
        // files are optional.
        if !file.is_file() {
            return Err(Failure::Invalid(format!(
                "--authfile {}: no such file",
                file.display()
            )));
        }
        opts.auth_files = vec![file.clone()];
    }
    if let Some(user) = &args.username {
        if !args.password_stdin {
            return Err(Failure::Invalid(
                "--username needs --password-stdin (passwords are never taken as arguments)".into(),
            ));
        }
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Failure::Invalid(format!("--password-stdin: {e}")))?;
        let secret = line.trim_end_matches(['\r', '\n']).to_owned();
        if secret.is_empty() {
            return Err(Failure::Invalid("--password-stdin: empty password".into()));
        }
        opts.credentials = Some(ocipick_registry::auth::Credentials::new(
            user.clone(),
            secret,
        ));
    } else if args.password_stdin {
        return Err(Failure::Invalid("--password-stdin needs --username".into()));
    }
    Ok(opts)
}

/// The document to select from, where it came from, and where nested
/// content can be fetched.
fn load(args: &SelectArgs, max_index: u64) -> Result<(String, Doc, Option<Store>), Failure> {
    load_source(&args.source, args.tag.as_deref(), &args.registry, max_index)
}

/// [`load`] for any command that takes a SOURCE.
pub(crate) fn load_source(
    source: &str,
    tag: Option<&str>,
    registry: &RegistryArgs,
    max_index: u64,
) -> Result<(String, Doc, Option<Store>), Failure> {
    let src = parse_source(source, tag)?;
    let client = match &src {
        Source::Stdin if registry.password_stdin => {
            return Err(Failure::Invalid(
                "standard input cannot hold both the index and the password".into(),
            ));
        }
        Source::Registry(_) => Some(client(registry, max_index)?),
        _ => None,
    };
    let opts = LoadOptions {
        max_index_bytes: max_index,
        map_files: true,
        hint: INDEX_HINT,
    };
    let loaded = src.load(&opts, client)?;
    Ok((loaded.origin, loaded.doc, loaded.store.map(Store)))
}

/// Runs select, rank or resolve and returns what to print on stdout.
///
/// `select` and `resolve` read the index in one pass that keeps only the
/// best entry ([`Policy::select_bytes`]); `rank` parses it whole.
pub fn run(args: &SelectArgs, mode: Mode) -> Result<String, Failure> {
    let Setup {
        policy: mut base,
        max_index,
        facts,
        mut hooks,
        trust,
        platform_only,
        mut compat,
    } = setup(args)?;
    let trust = crate::trust::policy(&args.trust, trust)?;
    let (mut origin, mut doc, store) = load(args, max_index)?;
    let trust = crate::trust::judge(trust.as_ref(), &origin, &doc, store.as_ref())?;
    if trust.as_ref().is_some_and(|t| t.annotations_ignored()) {
        base = platform_only;
        hooks = Vec::new();
        compat = None;
    }
    let features = compat.as_ref().map(|_| facts.nfd_features());
    let mut compat_report: Option<crate::discover::Report> = None;
    let mut compat_requests = 0;
    let mut hops = Vec::new();
    loop {
        let invalid = |err| SourceError::Index {
            path: origin.clone().into(),
            err,
        };
        // The whole index is parsed for rank, for single manifests, and when
        // hooks must see every candidate; otherwise select reads it in one
        // pass that keeps only the best entry.
        let whole: Option<Index<'_>> = match (&doc, mode) {
            (Doc::Bytes(_), Mode::Select { .. } | Mode::Resolve | Mode::Digest { .. })
                if hooks.is_empty() && compat.is_none() =>
            {
                None
            }
            (Doc::Bytes(b), _) => Some(Index::parse(b).map_err(invalid)?),
            (Doc::Single(d), _) => Some(Index::single((**d).clone())),
        };
        let mut policy = match &whole {
            Some(index) if !hooks.is_empty() => apply_hooks(&base, &hooks, &facts, index)?,
            _ => base.clone(),
        };
        if let (Some(c), Some(features), Some(index)) = (&compat, &features, &whole) {
            let index_digest = match &doc {
                Doc::Bytes(b) => Some(Digest::sha256_of(b)),
                Doc::Single(_) => None,
            };
            let (p, report) = crate::discover::apply(
                &policy,
                &c.tags,
                features,
                index,
                index_digest.as_ref(),
                store.as_ref(),
            )?;
            compat_requests += report.requests;
            policy = p;
            compat_report = Some(report);
        }
        // (entry count, media type) of the final index, for the output.
        let shape;
        let (index, chosen): (Option<Index<'_>>, Option<(Descriptor<'_>, Ranked)>) =
            match (whole, &doc) {
                (None, Doc::Bytes(b)) => {
                    let found = policy.select_bytes(b).map_err(invalid)?;
                    match found.chosen {
                        Some(c) => {
                            shape = (found.entries, found.media_type);
                            (None, Some(c))
                        }
                        None => {
                            // Rare: parse it whole to list what it offers.
                            let index = Index::parse(b).map_err(invalid)?;
                            return Err(Failure::NoMatch {
                                stdout: String::new(),
                                message: no_match_message(&origin, &policy, &index),
                            });
                        }
                    }
                }
                (None, Doc::Single(_)) => unreachable!("single manifests are always parsed whole"),
                (Some(index), _) if mode == Mode::Rank => {
                    shape = (index.manifests.len(), index.media_type.clone());
                    (Some(index), None)
                }
                (Some(index), _) => {
                    shape = (index.manifests.len(), index.media_type.clone());
                    let Some(p) = policy.select(&index).map(|s| s.position) else {
                        return Err(Failure::NoMatch {
                            stdout: String::new(),
                            message: no_match_message(&origin, &policy, &index),
                        });
                    };
                    let ranked = policy.explain(&index, p);
                    let d = index.manifests[p].clone();
                    (None, Some((d, ranked)))
                }
            };
        let ranking = index.as_ref().map(|i| policy.rank(i));
        // The chosen entry's position and descriptor, in either mode.
        let selected = match (&ranking, &chosen) {
            (Some(r), _) => r.selected,
            (_, Some((_, r))) => Some(r.position),
            _ => None,
        };
        let picked: Option<(usize, &Descriptor<'_>)> = match (selected, &index, &chosen) {
            (Some(p), Some(i), _) => Some((p, &i.manifests[p])),
            (Some(p), None, Some((d, _))) => Some((p, d)),
            _ => None,
        };
        // Descend into a chosen nested index when its content is at hand.
        if let (Some((position, d)), Some(store)) = (picked, &store) {
            if media_type::kind(&d.media_type) == Kind::Index && hops.len() < MAX_DEPTH {
                let bytes = store.fetch(d)?;
                hops.push(Hop {
                    position,
                    digest: d.digest.to_string(),
                });
                origin = store.origin(d);
                doc = Doc::Bytes(bytes.into());
                continue;
            }
        }
        let index_digest = match (&doc, args.output) {
            (Doc::Bytes(b), Output::Json) => Some(Digest::sha256_of(b)),
            _ => None,
        };
        // `select --raw`: the chosen manifest's own bytes, fetched before
        // the request figures are taken so that they count the fetch.
        let raw = match (mode, picked) {
            (Mode::Select { raw: true }, Some((_, d))) => Some(raw_manifest(store.as_ref(), d)?),
            _ => None,
        };
        let (reference, stats) = match &store {
            Some(Store(source::Store::Registry(c, r))) => (Some(r), Some(c.stats())),
            _ => (None, None),
        };
        let (entries, index_media_type) = shape;
        let answer = Answer {
            origin: &origin,
            index_digest,
            policy: &policy,
            hops: &hops,
            reference,
            stats,
            entries,
            index_media_type: index_media_type.as_deref(),
            index: index.as_ref(),
            ranking: ranking.unwrap_or_else(|| Ranking {
                entries: chosen.iter().map(|(_, r)| r.clone()).collect(),
                selected,
            }),
            chosen: chosen.as_ref().map(|(d, _)| d),
            raw: raw.as_deref(),
            trust: trust.as_ref(),
            compat: compat_report.as_ref(),
            compat_requests,
        };
        let text = match (mode, args.output) {
            (Mode::Select { raw: true }, Output::Text) => raw.clone().unwrap_or_default(),
            (Mode::Select { .. }, Output::Text) => output::select_text(&answer),
            (Mode::Select { .. }, Output::Json) => output::select_json(&answer),
            (Mode::Rank, Output::Text) => output::rank_text(&answer),
            (Mode::Rank, Output::Json) => output::rank_json(&answer),
            (Mode::Resolve | Mode::Digest { full_ref: true }, Output::Text) => {
                output::resolve_text(&answer)
            }
            (Mode::Digest { full_ref: false }, Output::Text) => output::digest_text(&answer),
            (Mode::Resolve | Mode::Digest { .. }, Output::Json) => output::resolve_json(&answer),
        };
        if selected.is_none() {
            let message = match &index {
                Some(i) => no_match_message(&origin, &policy, i),
                None => format!("no manifest for {} in {origin}", policy.target()),
            };
            return Err(Failure::NoMatch {
                stdout: if mode == Mode::Rank {
                    text
                } else {
                    String::new()
                },
                message,
            });
        }
        return Ok(text);
    }
}

pub(crate) use ocipick::fleet::no_match_message;

/// `ocipick lint`: the findings, and the exit status they call for (0
/// clean, 1 warnings with `--strict`, 2 errors).
pub fn lint(args: &crate::args::LintArgs) -> Result<(String, u8), Failure> {
    let max_index = args.max_index_bytes.unwrap_or(DEFAULT_MAX_INDEX_BYTES);
    let trust = crate::trust::policy(&args.trust, None)?;
    let (origin, doc, store) =
        load_source(&args.source, args.tag.as_deref(), &args.registry, max_index)?;
    let nfd_artifact = crate::lint_nfd::artifact_findings(&doc, store.as_ref())?;
    let mut findings = match &doc {
        _ if nfd_artifact.is_some() => nfd_artifact.unwrap_or_default(),
        Doc::Bytes(b) => ocipick::lint::lint(
            b,
            args.max_manifest_bytes
                .unwrap_or(ocipick::DEFAULT_MAX_MANIFEST_BYTES),
        ),
        Doc::Single(d) => vec![ocipick::lint::Finding {
            id: "OCI005",
            severity: ocipick::lint::Severity::Error,
            path: ".".into(),
            message: format!("{origin} is a single {} , not an index", d.media_type),
            hint: "lint an image index or manifest list",
        }],
    };
    findings.extend(crate::lint_nfd::listed_artifacts(&doc, store.as_ref())?);
    if let Some(f) = crate::trust::lint(trust.as_ref(), &doc, store.as_ref()) {
        findings.push(f);
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == ocipick::lint::Severity::Error)
        .count();
    let warnings = findings
        .iter()
        .filter(|f| f.severity == ocipick::lint::Severity::Warning)
        .count();
    let status = if errors > 0 {
        2
    } else if warnings > 0 && args.strict {
        1
    } else {
        0
    };
    let text = match args.output {
        crate::args::LintOutput::Text => output::lint_text(&origin, &findings),
        crate::args::LintOutput::Json => output::lint_json(&origin, &findings, errors, warnings),
        crate::args::LintOutput::Sarif => output::lint_sarif(&origin, &findings),
    };
    Ok((text, status))
}
