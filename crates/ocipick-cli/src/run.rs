//! The select/rank job: load the configuration, the target and the index,
//! select (descending into nested indexes where their blobs are at hand),
//! and render the answer. Nothing is printed until everything succeeded.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ocipick::media_type::{self, Kind};
use ocipick::{Config, Descriptor, Digest, Index, Platform, Policy, Ranked, Ranking};
use ocipick_registry::{
    ArchiveLayout, Client, ClientOptions, Layout, LayoutTarget, Reference, SourceError, Stats,
};

use crate::cli::{Output, RegistryArgs, SelectArgs};
use crate::output;

/// 4 MiB: the manifest size limit registries commonly enforce.
pub const DEFAULT_MAX_INDEX_BYTES: u64 = 4 * 1024 * 1024;
/// Where the installation-wide configuration lives.
pub const SYSTEM_CONFIG: &str = "/etc/ocipick/config.toml";
/// How many nested indexes selection descends through at most.
pub const MAX_DEPTH: usize = 8;
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

/// Where the index comes from.
#[derive(Debug)]
pub(crate) enum Source {
    Stdin,
    File(PathBuf),
    Layout(PathBuf, Option<String>),
    /// `oci-archive:FILE[:TAG]`: a tar of an OCI image layout.
    Archive(PathBuf, Option<String>),
    Registry(Reference),
}

/// Where nested content can be fetched from.
pub(crate) enum Store {
    Layout(Layout),
    Archive(ArchiveLayout),
    Registry(Box<Client>, Reference),
}

impl Store {
    pub(crate) fn fetch(&self, d: &Descriptor<'_>) -> Result<Vec<u8>, Failure> {
        match self {
            Store::Layout(l) => Ok(l.blob(d)?),
            Store::Archive(a) => Ok(a.blob(d)?),
            Store::Registry(client, r) => {
                let f = client
                    .fetch_manifest(r, d.digest.as_str())
                    .map_err(Failure::from)?;
                if f.bytes.len() as u64 != d.size {
                    return Err(Failure::Registry(format!(
                        "{}/{}: manifest {} is {} bytes, its descriptor says {}",
                        r.registry,
                        r.repository,
                        d.digest,
                        f.bytes.len(),
                        d.size
                    )));
                }
                Ok(f.bytes)
            }
        }
    }

    pub(crate) fn origin(&self, d: &Descriptor<'_>) -> String {
        match self {
            Store::Layout(l) => format!(
                "{}/blobs/{}/{}",
                l.root().display(),
                d.digest.algorithm(),
                d.digest.encoded()
            ),
            Store::Archive(a) => a
                .member_path(&ArchiveLayout::blob_member(d))
                .display()
                .to_string(),
            Store::Registry(_, r) => r.pinned(&d.digest),
        }
    }
}

/// One step down into a nested index.
#[derive(Debug, Clone)]
pub struct Hop {
    /// Position of the nested index in its parent.
    pub position: usize,
    /// Its digest.
    pub digest: String,
}

/// The document at the current level.
pub(crate) enum Doc {
    Bytes(Bytes),
    /// A layout tag that points straight at one image manifest.
    Single(Box<Descriptor<'static>>),
}

/// Everything the renderers need.
pub struct Answer<'x, 'a> {
    /// Where the final index came from.
    pub origin: &'x str,
    /// Digest of the final index's bytes as read (JSON output only).
    pub index_digest: Option<Digest<'static>>,
    /// The final index, when it was parsed whole (`rank`).
    pub index: Option<&'x Index<'a>>,
    /// The chosen descriptor, when only it was kept (`select`, `resolve`).
    pub chosen: Option<&'x Descriptor<'a>>,
    /// How many entries the final index has.
    pub entries: usize,
    /// The final index's own media type, if it names one.
    pub index_media_type: Option<&'x str>,
    /// The policy.
    pub policy: &'x Policy,
    /// Nested indexes descended through.
    pub hops: &'x [Hop],
    /// The ranking of the final index.
    pub ranking: Ranking,
    /// The registry reference, for registry sources.
    pub reference: Option<&'x Reference>,
    /// Registry requests made, for registry sources.
    pub stats: Option<Stats>,
    /// The chosen manifest's own bytes (`select --raw`).
    pub raw: Option<&'x str>,
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

pub(crate) fn parse_source(s: &str, tag_flag: Option<&str>) -> Result<Source, Failure> {
    if s == "-" {
        return Ok(Source::Stdin);
    }
    let tag_of = |tag: Option<&str>| -> Result<Option<String>, Failure> {
        if tag.is_some() && tag_flag.is_some() && tag != tag_flag {
            return Err(Failure::Invalid(format!(
                "{s}: the source names tag {:?} and --tag names {:?}",
                tag.unwrap_or_default(),
                tag_flag.unwrap_or_default()
            )));
        }
        Ok(tag.or(tag_flag).map(str::to_owned))
    };
    let layout = |dir: &str, tag: Option<&str>| -> Result<Source, Failure> {
        Ok(Source::Layout(PathBuf::from(dir), tag_of(tag)?))
    };
    if let Some(rest) = s.strip_prefix("docker://") {
        return rest
            .parse::<Reference>()
            .map(Source::Registry)
            .map_err(|e| Failure::Invalid(e.to_string()));
    }
    // `oci:DIR[:TAG]` (skopeo's, containers/image's) and `ocidir://DIR[:TAG]`
    // (regctl's): a tag only where DIR itself is not a directory.
    if let Some(rest) = s
        .strip_prefix("oci:")
        .or_else(|| s.strip_prefix("ocidir://"))
    {
        if Path::new(rest).is_dir() {
            return layout(rest, None);
        }
        return match rest.rsplit_once(':') {
            Some((dir, tag)) => layout(dir, Some(tag)),
            None => layout(rest, None),
        };
    }
    // `oci-archive:FILE[:TAG]` (skopeo's): a tag only where FILE itself
    // does not exist.
    if let Some(rest) = s.strip_prefix("oci-archive:") {
        let (file, tag) = match rest.rsplit_once(':') {
            Some((file, tag)) if !Path::new(rest).exists() && Path::new(file).exists() => {
                (file, Some(tag))
            }
            _ => (rest, None),
        };
        if file.is_empty() {
            return Err(Failure::Invalid(format!("{s}: no archive named")));
        }
        return Ok(Source::Archive(PathBuf::from(file), tag_of(tag)?));
    }
    let path = Path::new(s);
    if path.is_dir() {
        return layout(s, None);
    }
    if path.exists() {
        if tag_flag.is_some() {
            return Err(Failure::Invalid(format!(
                "{s}: --tag applies to OCI layout directories only"
            )));
        }
        return Ok(Source::File(path.to_owned()));
    }
    if let Some((dir, tag)) = s.rsplit_once(':') {
        if Path::new(dir).is_dir() {
            return layout(dir, Some(tag));
        }
    }
    match s.parse::<Reference>() {
        Ok(r) if tag_flag.is_none() => Ok(Source::Registry(r)),
        Ok(_) => Err(Failure::Invalid(format!(
            "{s}: --tag applies to OCI layout directories only"
        ))),
        Err(e) => Err(Failure::Invalid(format!(
            "{s}: no such file or directory, and {}",
            e.problem
                .strip_prefix("")
                .map(|p| format!("not an image reference ({p})"))
                .unwrap_or_default()
        ))),
    }
}

/// Loads the configuration file, if any: `--config`, else `$OCIPICK_CONFIG`,
/// else the system file when it exists; none with `--no-config`.
pub(crate) fn load_config(args: &crate::cli::PolicyArgs) -> Result<Config, Failure> {
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
    target_args: &crate::cli::TargetArgs,
    policy_args: &crate::cli::PolicyArgs,
) -> Result<Setup, Failure> {
    let platform = target_args.platform.as_deref();
    let node = target_args.node.as_deref();
    let max_index_bytes = target_args.max_index_bytes;
    let config = load_config(policy_args)?;
    let host = ocipick_host::platform(Path::new("/"));
    let (facts, node_platform) = match node {
        Some(path) => load_node(path)?,
        None if !config.rules.is_empty() || !config.hooks.is_empty() => {
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
    Ok(Setup {
        policy,
        max_index,
        facts,
        hooks: config.hooks,
    })
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
    let ranking = base.rank(index);
    let mut by_position: Vec<Option<&Ranked>> = vec![None; index.manifests.len()];
    for e in &ranking.entries {
        by_position[e.position] = Some(e);
    }
    let candidates: Vec<crate::hooks::Candidate> = index
        .manifests
        .iter()
        .enumerate()
        .map(|(i, d)| crate::hooks::Candidate {
            position: i,
            digest: d.digest.to_string(),
            media_type: d.media_type.to_string(),
            size: d.size,
            platform: d
                .platform
                .as_ref()
                .and_then(|p| serde_json::to_value(p).ok()),
            annotations: d
                .annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            eligible: by_position[i].is_some_and(|e| e.eligible),
            score: by_position[i].map_or(0, |e| e.score),
        })
        .collect();
    let input = crate::hooks::HookInput {
        target: base.target().to_string(),
        facts,
        index_media_type: index.media_type.as_deref(),
        candidates: &candidates,
    };
    let (adjustments, warnings) =
        crate::hooks::run_hooks(hooks, &input).map_err(|e| Failure::Invalid(e.to_string()))?;
    for w in warnings {
        crate::say::warn(&w);
    }
    Ok(base.clone().with_adjustments(adjustments))
}

/// The policy for one target: the config file's preferences and rules
/// (rules judged against `facts`), then `--prefer`, and the manifest size
/// limit (flag, else config, else 4 MiB). Shared by select/rank/resolve and
/// by check (once per node).
pub(crate) fn build_policy(
    target: &ocipick::Platform<'_>,
    config: &Config,
    args: &crate::cli::PolicyArgs,
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
    Ok(match parse_source(source, tag)? {
        Source::Stdin => {
            if registry.password_stdin {
                return Err(Failure::Invalid(
                    "standard input cannot hold both the index and the password".into(),
                ));
            }
            (
                "<stdin>".to_owned(),
                Doc::Bytes(ocipick_registry::read_stdin(max_index, INDEX_HINT)?.into()),
                None,
            )
        }
        Source::File(p) => {
            // Large regular files are mapped, not copied (see `Bytes`);
            // anything else, and every error, goes through `read_file`.
            let bytes = match Mapped::open(&p, max_index) {
                Some(m) => Bytes::Mapped(m),
                None => ocipick_registry::read_file(&p, max_index, INDEX_HINT)?.into(),
            };
            (p.display().to_string(), Doc::Bytes(bytes), None)
        }
        Source::Layout(dir, tag) => {
            let layout = Layout::open(&dir, max_index)?;
            let top = layout.index_json()?;
            let top_origin = format!("{}/index.json", dir.display());
            let target = parse_top(&top, &top_origin, |i| layout.resolve(i, tag.as_deref()))?;
            from_layout(top, top_origin, target, Store::Layout(layout))?
        }
        Source::Archive(file, tag) => {
            let archive = ArchiveLayout::open(&file, max_index)?;
            let top = archive.index_json()?;
            let top_origin = archive.member_path("index.json").display().to_string();
            let target = parse_top(&top, &top_origin, |i| archive.resolve(i, tag.as_deref()))?;
            from_layout(top, top_origin, target, Store::Archive(archive))?
        }
        Source::Registry(r) => {
            let client = client(registry, max_index)?;
            let f = client
                .fetch_manifest(&r, &r.manifest_ref())
                .map_err(Failure::from)?;
            let origin = r.to_string();
            let doc = match media_type::kind(&f.media_type) {
                Kind::Index => Doc::Bytes(f.bytes.into()),
                // A single image manifest: the only candidate.
                _ => Doc::Single(Box::new(Descriptor {
                    media_type: f.media_type.into(),
                    digest: f.digest,
                    size: f.bytes.len() as u64,
                    urls: Vec::new(),
                    annotations: Default::default(),
                    data: None,
                    artifact_type: None,
                    platform: None,
                })),
            };
            (origin, doc, Some(Store::Registry(Box::new(client), r)))
        }
    })
}

/// Parses a layout's `index.json` (from `origin`) and resolves the tag in it.
fn parse_top(
    top: &[u8],
    origin: &str,
    resolve: impl FnOnce(&Index<'_>) -> Result<LayoutTarget, SourceError>,
) -> Result<LayoutTarget, Failure> {
    let index = Index::parse(top).map_err(|err| SourceError::Index {
        path: origin.into(),
        err,
    })?;
    Ok(resolve(&index)?)
}

/// What a layout (directory or archive) gives to select from: `index.json`
/// itself, the nested index its tag names, or the one image manifest it
/// names.
fn from_layout(
    top: Vec<u8>,
    top_origin: String,
    target: LayoutTarget,
    store: Store,
) -> Result<(String, Doc, Option<Store>), Failure> {
    Ok(match target {
        LayoutTarget::TopIndex => (top_origin, Doc::Bytes(top.into()), Some(store)),
        LayoutTarget::Entry(d) if media_type::kind(&d.media_type) == Kind::Index => {
            let bytes = store.fetch(&d)?;
            (store.origin(&d), Doc::Bytes(bytes.into()), Some(store))
        }
        LayoutTarget::Entry(d) => (top_origin, Doc::Single(d), Some(store)),
    })
}

/// Runs select, rank or resolve and returns what to print on stdout.
///
/// `select` and `resolve` read the index in one pass that keeps only the
/// best entry ([`Policy::select_bytes`]); `rank` parses it whole.
pub fn run(args: &SelectArgs, mode: Mode) -> Result<String, Failure> {
    let Setup {
        policy: base,
        max_index,
        facts,
        hooks,
    } = setup(args)?;
    let (mut origin, mut doc, store) = load(args, max_index)?;
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
                if hooks.is_empty() =>
            {
                None
            }
            (Doc::Bytes(b), _) => Some(Index::parse(b).map_err(invalid)?),
            (Doc::Single(d), _) => Some(Index::single((**d).clone())),
        };
        let policy = match &whole {
            Some(index) if !hooks.is_empty() => apply_hooks(&base, &hooks, &facts, index)?,
            _ => base.clone(),
        };
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
            Some(Store::Registry(c, r)) => (Some(r), Some(c.stats())),
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

/// "no manifest for linux/s390x in FILE; it offers linux/amd64, …".
pub(crate) fn no_match_message(origin: &str, policy: &Policy, index: &Index<'_>) -> String {
    let offered: BTreeSet<String> = index
        .manifests
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .filter(|p| p.os != "unknown")
        .map(Platform::to_string)
        .collect();
    let platformless = index
        .manifests
        .iter()
        .filter(|d| d.platform.is_none())
        .count();
    let mut msg = format!("no manifest for {} in {origin}", policy.target());
    if offered.is_empty() {
        msg.push_str("; it offers no runnable platform");
    } else {
        msg.push_str("; it offers ");
        msg.push_str(&offered.into_iter().collect::<Vec<_>>().join(", "));
    }
    if platformless > 0 {
        msg.push_str(&format!(" (and {platformless} entries without platform)"));
    }
    msg
}

/// `ocipick lint`: the findings, and the exit status they call for (0
/// clean, 1 warnings with `--strict`, 2 errors).
pub fn lint(args: &crate::cli::LintArgs) -> Result<(String, u8), Failure> {
    let max_index = args.max_index_bytes.unwrap_or(DEFAULT_MAX_INDEX_BYTES);
    let (origin, doc, _) =
        load_source(&args.source, args.tag.as_deref(), &args.registry, max_index)?;
    let findings = match &doc {
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
        crate::cli::LintOutput::Text => output::lint_text(&origin, &findings),
        crate::cli::LintOutput::Json => output::lint_json(&origin, &findings, errors, warnings),
        crate::cli::LintOutput::Sarif => output::lint_sarif(&origin, &findings),
    };
    Ok((text, status))
}

/// An index document's bytes: read into memory, or mapped from a file.
///
/// Mapping spares the copy of a large index and the page faults of a fresh
/// buffer as large as the file: for a 3 MB index that is most of the
/// process's time besides parsing. A file truncated by another process
/// while it is read raises SIGBUS, which ends this one with status 2 and a
/// message ([`exit_cleanly_on_sigbus`]).
pub(crate) enum Bytes {
    Owned(Vec<u8>),
    Mapped(Mapped),
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Bytes {
        Bytes::Owned(v)
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m.bytes(),
        }
    }
}

/// A read-only private mapping of a whole regular file.
pub(crate) struct Mapped {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

impl Mapped {
    /// Files below this size are read: mapping them gains nothing.
    const MIN: u64 = 64 << 10;

    /// Maps `path` when it is a regular file of at least [`Mapped::MIN`]
    /// and at most `limit` bytes; `None` otherwise or on any failure (the
    /// caller then reads the file, with that path's errors).
    fn open(path: &Path, limit: u64) -> Option<Mapped> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        // Non-blocking: opening a FIFO must not wait for a writer (it is
        // then refused by the reader the caller falls back to).
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() < Self::MIN || meta.len() > limit {
            return None;
        }
        let len = usize::try_from(meta.len()).ok()?;
        // SAFETY: a fresh read-only private mapping of `len` (> 0) bytes
        // of an open file; the kernel chooses the address. The mapping
        // outlives the descriptor, which may be closed after this call.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        exit_cleanly_on_sigbus();
        Some(Mapped {
            ptr: std::ptr::NonNull::new(ptr.cast::<u8>())?,
            len,
        })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `drop` unmaps them;
        // the mapping is private and read-only, so nothing in this process
        // writes to it.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

/// A file that shrinks while it is mapped and read raises SIGBUS on the
/// first page past its new end. This command maps nothing else, so the
/// handler ends the process with the usual status of invalid input (2)
/// and a one-line message, instead of a crash.
fn exit_cleanly_on_sigbus() {
    extern "C" fn on_sigbus(_: libc::c_int) {
        const MSG: &[u8] = b"ocipick: the index file changed while it was being read\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(2);
        }
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction with an empty mask and a plain
        // handler that only calls async-signal-safe functions.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
        }
    });
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`, once; no
        // borrow of `bytes()` outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How the layout spellings split into path and tag: a trailing `:TAG`
    /// is a tag only where the whole is not an existing path.
    #[test]
    fn layout_spellings_split_path_and_tag() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let colon_dir = dir.path().join("a:b");
        std::fs::create_dir(&colon_dir).unwrap();
        let tar = dir.path().join("x.tar");
        std::fs::write(&tar, b"").unwrap();
        let colon_tar = dir.path().join("y.tar:v2");
        std::fs::write(&colon_tar, b"").unwrap();
        let t = tar.display().to_string();
        let layout =
            |p: &str, tag: Option<&str>| format!("Layout({p:?}, {:?})", tag.map(str::to_owned));
        let archive =
            |p: &str, tag: Option<&str>| format!("Archive({p:?}, {:?})", tag.map(str::to_owned));
        for (source, flag, want) in [
            (format!("ocidir://{d}"), None, layout(&d, None)),
            (format!("ocidir://{d}:v1"), None, layout(&d, Some("v1"))),
            (format!("ocidir://{d}"), Some("v1"), layout(&d, Some("v1"))),
            (
                format!("ocidir://{d}/a:b"),
                None,
                layout(&format!("{d}/a:b"), None),
            ),
            (
                format!("oci:{d}/a:b:v1"),
                None,
                layout(&format!("{d}/a:b"), Some("v1")),
            ),
            (format!("oci-archive:{t}"), None, archive(&t, None)),
            (format!("oci-archive:{t}:v1"), None, archive(&t, Some("v1"))),
            (
                format!("oci-archive:{t}"),
                Some("v1"),
                archive(&t, Some("v1")),
            ),
            (
                format!("oci-archive:{d}/y.tar:v2"),
                None,
                archive(&format!("{d}/y.tar:v2"), None),
            ),
            // Neither exists: the whole is the file, and opening it says so.
            (
                format!("oci-archive:{d}/none.tar:v1"),
                None,
                archive(&format!("{d}/none.tar:v1"), None),
            ),
        ] {
            let got = parse_source(&source, flag).unwrap();
            assert_eq!(format!("{got:?}"), want, "{source} {flag:?}");
        }
        assert!(parse_source(&format!("oci-archive:{t}:v1"), Some("v2")).is_err());
        assert!(parse_source("oci-archive:", None).is_err());
    }

    /// Large regular files are mapped with their exact bytes; small files,
    /// files over the limit, folders and missing files are left to
    /// `read_file` (and its errors).
    #[test]
    fn maps_only_large_regular_files_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.json");
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&big, &content).unwrap();
        let m = Mapped::open(&big, 1 << 20).expect("a 200 kB file is mapped");
        let bytes = Bytes::Mapped(m);
        assert_eq!(&*bytes, &content[..]);
        drop(bytes);

        assert!(Mapped::open(&big, 199_999).is_none(), "over the limit");
        assert!(Mapped::open(&big, 200_000).is_some(), "at the limit");
        let small = dir.path().join("small.json");
        std::fs::write(&small, b"{}").unwrap();
        assert!(Mapped::open(&small, 1 << 20).is_none());
        assert!(Mapped::open(dir.path(), 1 << 20).is_none());
        assert!(Mapped::open(&dir.path().join("missing"), 1 << 20).is_none());
        assert_eq!(&*Bytes::from(b"{}".to_vec()), b"{}");
    }

    /// A mapped file truncated while it is read ends the process with
    /// status 2 and a message, not a crash (run in a child process: the
    /// handler exits).
    #[test]
    fn a_mapped_file_that_shrinks_is_a_clean_error() {
        if let Some(path) = std::env::var_os("OCIPICK_SIGBUS_CHILD") {
            let m = Mapped::open(Path::new(&path), 1 << 20).expect("mapped");
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_len(0))
                .expect("truncated");
            let sum: u64 = m.bytes().iter().map(|&b| u64::from(b)).sum();
            println!("read {sum} without a fault");
            std::process::exit(0);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        std::fs::write(&path, vec![b' '; 200_000]).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "run::tests::a_mapped_file_that_shrinks_is_a_clean_error",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("OCIPICK_SIGBUS_CHILD", &path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("the index file changed while it was being read"),
            "{stderr}"
        );
    }
}
