//! `ocipick check`: which manifest every image would give every node.
//!
//! The CLI part: flags, reading the inventories and images (with their
//! size limits), a bounded pool of `--jobs` loaders, and the four
//! renderers, which write as the images come in. Parsing of inventories
//! and pods is `ocipick_host::inventory`; grouping nodes into classes and
//! judging an image for a class is `ocipick::fleet`. See `docs/check.md`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use ocipick::fleet::{self, Cell, Class, Counts, Fleet, Template, Verdict};
use ocipick::{Digest, Index};
use ocipick_host::inventory::{self, Node, Pod};
use serde_json::{json, Value};

use crate::args::RegistryArgs;
use crate::output::visible;
use crate::run::{Doc, Failure};

/// `ocipick check` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckOutput {
    /// Node classes, then one block per image, for people.
    Text,
    /// JSON grouped by node class (`--per-pair`: one result per image × node).
    Json,
    /// One row per image × class (`--per-pair`: per image × node), with a header.
    Csv,
    /// One self-contained HTML page to share.
    Html,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Images to check: any SOURCE select accepts (a JSON file, an OCI
    /// layout DIR[:TAG], a registry reference).
    #[arg(value_name = "SOURCE")]
    pub sources: Vec<String>,

    /// A file of images, one SOURCE a line; blank lines and lines starting
    /// with # are skipped. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub images: Vec<PathBuf>,

    /// The JSON of `kubectl get pods -A -o json`: every init, app and
    /// ephemeral container image, deduplicated, with the pods that use it;
    /// and a section of what each container runs and would get.
    /// Repeatable.
    #[arg(long, value_name = "FILE")]
    pub pods: Vec<PathBuf>,

    /// A node facts file (`ocipick host --output json`, or `nfd export
    /// features` JSON), or a directory of *.json ones; the node is named
    /// after the file stem. Repeatable.
    #[arg(long, value_name = "FILE|DIR")]
    pub node: Vec<PathBuf>,

    /// The JSON of `kubectl get nodes -o json`: nodes named by
    /// metadata.name, platform from kubernetes.io/os and kubernetes.io/arch,
    /// facts from node-feature-discovery labels. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub nodes: Vec<PathBuf>,

    /// Rules in the configuration file are judged against each node's
    /// facts; hooks are not run by check.
    #[command(flatten)]
    pub policy: crate::args::PolicyArgs,

    /// Refuse index documents larger than this. [default: 4MiB]
    #[arg(long, value_name = "BYTES", value_parser = crate::args::parse_bytes)]
    pub max_index_bytes: Option<u64>,

    /// How many images to load at once.
    #[arg(short, long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = CheckOutput::Text)]
    pub output: CheckOutput,

    /// JSON and CSV: one record per image × node (the form before node
    /// classes), instead of one per image × class.
    #[arg(long)]
    pub per_pair: bool,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

// ---------------------------------------------------------------------------
// Inputs.

/// One image to check, with the pods (`namespace/name`) that use it.
#[derive(Debug, Clone)]
struct ImageSpec {
    source: String,
    pods: BTreeSet<String>,
}

fn add_image(
    images: &mut Vec<ImageSpec>,
    seen: &mut HashMap<String, usize>,
    source: &str,
) -> usize {
    if let Some(&i) = seen.get(source) {
        return i;
    }
    images.push(ImageSpec {
        source: source.to_owned(),
        pods: BTreeSet::new(),
    });
    seen.insert(source.to_owned(), images.len() - 1);
    images.len() - 1
}

fn read_json(path: &Path) -> Result<Value, Failure> {
    let bytes = ocipick_registry::read_file(path, 256 << 20, "")?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Failure::Invalid(format!("{}: not JSON: {e}", path.display())))
}

fn invalid(path: &Path) -> impl Fn(inventory::InventoryError) -> Failure + '_ {
    move |e| Failure::Invalid(format!("{}: {e}", path.display()))
}

/// Every pod of every `--pods` file.
fn collect_pods(args: &CheckArgs) -> Result<Vec<Pod>, Failure> {
    let mut pods = Vec::new();
    for path in &args.pods {
        let v = read_json(path)?;
        pods.extend(inventory::pods_from_kubectl(&v).map_err(invalid(path))?);
    }
    Ok(pods)
}

/// Every image of the command line, `--images` and the pods, in order of
/// first appearance, deduplicated by their exact spelling.
fn collect_images(args: &CheckArgs, pods: &[Pod]) -> Result<Vec<ImageSpec>, Failure> {
    let mut images = Vec::new();
    let mut seen = HashMap::new();
    for s in &args.sources {
        add_image(&mut images, &mut seen, s);
    }
    for path in &args.images {
        let bytes = ocipick_registry::read_file(path, 64 << 20, "")?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Failure::Invalid(format!("{}: not UTF-8 text", path.display())))?;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            add_image(&mut images, &mut seen, line);
        }
    }
    for pod in pods {
        for c in &pod.containers {
            let i = add_image(&mut images, &mut seen, &c.image);
            images[i].pods.insert(pod.key());
        }
    }
    Ok(images)
}

fn node_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p)
                .map_err(|e| Failure::Invalid(format!("{}: {e}", p.display())))?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "json") && f.is_file())
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(Failure::Invalid(format!(
                    "{}: no *.json facts files in this directory",
                    p.display()
                )));
            }
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Every node of the facts files and kubectl documents.
fn collect_nodes(args: &CheckArgs) -> Result<Vec<Node>, Failure> {
    let mut nodes = Vec::new();
    for path in node_files(&args.node)? {
        let (facts, platform) = crate::run::load_node(&path)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        nodes.push(inventory::node_from_facts(&name, facts, platform).map_err(invalid(&path))?);
    }
    for path in &args.nodes {
        let bytes = ocipick_registry::read_file(path, 256 << 20, "")?;
        nodes.extend(inventory::parse_nodes(&bytes).map_err(invalid(path))?);
    }
    inventory::check_unique_names(&nodes).map_err(|e| Failure::Invalid(e.0))?;
    Ok(nodes)
}

// ---------------------------------------------------------------------------
// Judging.

/// How an image reference is pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pinned {
    /// `name@DIGEST` of an index: only the runtime's first match applies.
    Index,
    /// `name@DIGEST` of one manifest: there is no choice to make.
    Manifest,
}

impl Pinned {
    fn word(self) -> &'static str {
        match self {
            Pinned::Index => "index",
            Pinned::Manifest => "manifest",
        }
    }
}

/// Everything known about one image: one cell per class.
struct ImageResult {
    origin: Option<String>,
    index_digest: Option<String>,
    /// Exit status the image's failure calls for (3 registry, 2 invalid)
    /// and the message.
    error: Option<(u8, String)>,
    pinned: Option<Pinned>,
    cells: Vec<Cell>,
    /// For an image pinned to an index: the runtime's first match per class.
    first_match: Option<Vec<Cell>>,
    /// With `--compat nfd`: what discovery found and the requests it took
    /// (looked up once for the image, whatever the number of classes).
    compat: Option<crate::discover::Report>,
}

fn failure_text(f: Failure) -> (u8, String) {
    match f {
        Failure::Registry(m) => (3, m),
        Failure::Invalid(m) => (2, m),
        Failure::NoMatch { message, .. } => (1, message),
    }
}

/// An error from a nested index: its exit status and message.
struct NestedError(u8, String);

impl std::fmt::Display for NestedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

/// Nested indexes by digest, fetched and parsed once per image (or why
/// they could not be), whatever the number of classes that descend into them.
type NestedCache = HashMap<String, Result<Rc<fleet::Nested>, (u8, String)>>;

/// Loads one image once and judges it for every class; with `compat`
/// (`--compat nfd`), looks its artifacts up once and scores them for each
/// class's features.
fn check_image(
    source: &str,
    registry: &RegistryArgs,
    max_index: u64,
    classes: &[Class],
    compat: Option<&ocipick::CompatConfig>,
) -> ImageResult {
    let failed =
        |origin: Option<String>, digest: Option<String>, (code, m): (u8, String)| ImageResult {
            origin,
            index_digest: digest,
            cells: classes.iter().map(|_| Cell::error(&m)).collect(),
            error: Some((code, m)),
            pinned: None,
            first_match: None,
            compat: None,
        };
    let (origin, doc, store) = match crate::run::load_source(source, None, registry, max_index) {
        Ok(x) => x,
        Err(f) => return failed(None, None, failure_text(f)),
    };
    let pinned_ref = inventory::pinned_digest(source).is_some();
    let (index, index_digest, pinned) = match &doc {
        Doc::Bytes(b) => {
            let digest = Digest::sha256_of(b).to_string();
            match Index::parse(b) {
                Ok(i) => (i, Some(digest), pinned_ref.then_some(Pinned::Index)),
                Err(e) => {
                    return failed(
                        Some(origin.clone()),
                        Some(digest),
                        (2, format!("{origin}: {e}")),
                    )
                }
            }
        }
        Doc::Single(d) => (
            Index::single((**d).clone()),
            None,
            pinned_ref.then_some(Pinned::Manifest),
        ),
    };
    // The artifacts of the index and of every image-manifest entry some
    // class could choose: one discovery for all classes.
    let artifacts = match compat {
        None => None,
        Some(c) => {
            let digest = index_digest.as_deref().and_then(|d| Digest::parse(d).ok());
            let wanted = |i: usize| {
                classes
                    .iter()
                    .any(|k| k.policy().explain(&index, i).eligible)
            };
            match crate::discover::discover(
                &c.tags,
                &index,
                digest.as_ref(),
                store.as_ref(),
                wanted,
            ) {
                Ok(found) => Some(found),
                Err(f) => return failed(Some(origin), index_digest, failure_text(f)),
            }
        }
    };
    let policies: Vec<Cow<'_, ocipick::Policy>> = classes
        .iter()
        .map(|c| match (&artifacts, compat) {
            (Some((found, _)), Some(cfg)) => Cow::Owned(c.compat_policy(found, &index, &cfg.tags)),
            // No --compat: no artifacts were looked up.
            _ => Cow::Borrowed(c.policy()),
        })
        .collect();
    let mut cache = NestedCache::new();
    let mut worst: Option<u8> = None;
    let mut descend = |d: &ocipick::Descriptor<'_>, depth: usize| {
        let store = store.as_ref()?;
        if depth >= crate::run::MAX_DEPTH {
            return None;
        }
        let key = d.digest.to_string();
        let got = cache
            .entry(key)
            .or_insert_with(|| {
                let nested_origin = store.origin(d);
                let bytes = store.fetch(d).map_err(failure_text)?;
                Index::parse(&bytes)
                    .map(|i| Rc::new((Arc::new(i.into_owned()), nested_origin.clone())))
                    .map_err(|e| (2, format!("{nested_origin}: {e}")))
            })
            .clone();
        Some(match got {
            Ok(n) => Ok((*n).clone()),
            Err((code, m)) => Err(NestedError(code, m)),
        })
    };
    let mut judge_all = |first: bool| -> Vec<Cell> {
        classes
            .iter()
            .zip(&policies)
            .map(|(c, policy)| {
                let (cell, e) = if first {
                    fleet::judge(c.first_match_policy(), &index, &origin, &mut descend)
                } else {
                    fleet::judge_with_facts(policy, &c.facts, &index, &origin, &mut descend)
                };
                if let Some(NestedError(code, _)) = e {
                    worst = Some(worst.map_or(code, |w| w.max(code)));
                }
                cell
            })
            .collect()
    };
    let cells = judge_all(false);
    let first_match = (pinned == Some(Pinned::Index)).then(|| judge_all(true));
    ImageResult {
        origin: Some(origin),
        index_digest,
        error: worst.map(|c| (c, "a nested index could not be read".to_owned())),
        pinned,
        cells,
        first_match,
        compat: artifacts.map(|(_, report)| report),
    }
}

/// `ocipick check`: writes the report to stdout as the images are judged,
/// and returns the exit status it calls for: 3 when an image could not be
/// fetched from its registry, else 2 when an image could not be read or is
/// invalid, else 1 when some pair has no fit, else 0. Usage errors and
/// unreadable node or pod files fail the run ([`Failure::Invalid`], exit 2)
/// before anything is loaded or written.
pub fn run(args: &CheckArgs) -> Result<(String, u8), Failure> {
    let pods = collect_pods(args)?;
    let images = collect_images(args, &pods)?;
    if images.is_empty() {
        return Err(Failure::Invalid(
            "no images to check: give SOURCE arguments, --images FILE or --pods FILE".into(),
        ));
    }
    let mut nodes = collect_nodes(args)?;
    if nodes.is_empty() {
        return Err(Failure::Invalid(
            "no nodes to check for: give --node FILE|DIR or --nodes FILE".into(),
        ));
    }
    if args.registry.password_stdin {
        let registries = images
            .iter()
            .filter(|i| {
                matches!(
                    crate::run::parse_source(&i.source, None),
                    Ok(crate::run::Source::Registry(_))
                )
            })
            .count();
        if registries > 1 {
            return Err(Failure::Invalid(
                "--password-stdin gives one password for one registry image; for several, use a credential file (--authfile, auth.json or the Docker config)".into(),
            ));
        }
    }
    let config = crate::run::load_config(&args.policy)?;
    if config.trust.is_some() {
        crate::say::warn(
            "check does not verify signatures yet: the [trust] table is not applied, and annotations count as if every index were signed",
        );
    }
    if !config.hooks.is_empty() {
        crate::say::warn(&format!(
            "check does not run selection hooks ({} configured); their adjustments are not in this report",
            config.hooks.len()
        ));
    }
    let compat = crate::run::compat_setting(&args.policy, &config)?;
    let max_index = args
        .max_index_bytes
        .or(config.max_index_bytes)
        .unwrap_or(crate::run::DEFAULT_MAX_INDEX_BYTES);
    // The policy select would build on each node (run::build_policy): the
    // configuration's preferences, then --prefer; its rules; the limit.
    let mut template = Template::from_config(&config);
    template
        .preferences
        .extend(args.policy.prefer.iter().cloned());
    if let Some(m) = args.policy.max_manifest_bytes {
        template.max_manifest_bytes = m;
    }
    let host = ocipick_host::platform(Path::new("/"));
    let mut targets = Vec::with_capacity(nodes.len());
    for n in &nodes {
        targets.push(
            ocipick::platform::spelling::parse(&n.platform, &host)
                .map_err(|e| Failure::Invalid(format!("node {:?}: platform {e}", n.name)))?,
        );
    }
    // Node by node: its facts flattened for the classes (with --compat
    // also its NFD features, which only nodes with the same features
    // share a class by), then its labels and facts dropped (the classes
    // hold what the choice needs; the report needs only names, platforms
    // and sources).
    let fleet = Fleet::with_features(
        &template,
        targets.into_iter().zip(nodes.iter_mut()).map(|(t, n)| {
            let flat = n.facts.flatten();
            let features = compat.as_ref().map(|_| n.facts.nfd_features());
            n.labels = BTreeMap::new();
            n.facts = ocipick_host::Facts::default();
            (t, flat, features)
        }),
    );

    let ctx = Ctx {
        images: &images,
        nodes: &nodes,
        fleet: &fleet,
        pods: &pods,
        per_pair: args.per_pair,
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut r: Box<dyn Render> = match args.output {
        CheckOutput::Text => Box::new(TextOut),
        CheckOutput::Json => Box::new(JsonOut { first: true }),
        CheckOutput::Csv => Box::new(CsvOut),
        CheckOutput::Html => Box::new(HtmlOut::new(&ctx)),
    };
    let mut tally = Tally::new(&ctx);
    let written = stream(
        &ctx,
        &mut *r,
        &mut tally,
        &mut out,
        args,
        max_index,
        compat.as_ref(),
    );
    match written.and_then(|_| out.flush()) {
        Ok(()) => {}
        // `ocipick check … | head`: not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(Failure::Invalid(format!("writing the report: {e}"))),
    }
    Ok((String::new(), tally.status()))
}

/// Loads and judges every image, `jobs` at a time, and hands each result
/// to the renderer in image order as soon as it and those before it are
/// in; shows progress on a terminal.
fn stream(
    ctx: &Ctx<'_>,
    r: &mut dyn Render,
    tally: &mut Tally,
    out: &mut dyn Write,
    args: &CheckArgs,
    max_index: u64,
    compat: Option<&ocipick::CompatConfig>,
) -> std::io::Result<()> {
    let images = ctx.images;
    let classes = ctx.fleet.classes();
    r.begin(ctx, out)?;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let progress = std::io::stderr().is_terminal() && images.len() > 1;
    let workers = (args.jobs as usize).clamp(1, images.len());
    let (tx, rx) = std::sync::mpsc::channel::<(usize, ImageResult)>();
    let mut result = Ok(());
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            let registry = &args.registry;
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= images.len() || stop.load(Ordering::Relaxed) {
                    break;
                }
                let res = check_image(&images[i].source, registry, max_index, classes, compat);
                if tx.send((i, res)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        // Results that came before their turn.
        let mut pending: BTreeMap<usize, ImageResult> = BTreeMap::new();
        let mut turn = 0;
        for (i, res) in rx {
            pending.insert(i, res);
            while let Some(res) = pending.remove(&turn) {
                tally.add(ctx, turn, &res);
                if result.is_ok() {
                    // Each image reaches the reader as soon as it is
                    // judged (and those before it are).
                    result = r.image(ctx, turn, &res, out).and_then(|_| out.flush());
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                turn += 1;
                if progress {
                    eprint!("\rocipick check: {turn}/{} images", images.len());
                }
            }
        }
    });
    if progress {
        eprint!("\r\x1b[K");
    }
    result?;
    r.end(ctx, tally, out)
}

// ---------------------------------------------------------------------------
// What the renderers share.

struct Ctx<'a> {
    images: &'a [ImageSpec],
    nodes: &'a [Node],
    fleet: &'a Fleet,
    pods: &'a [Pod],
    per_pair: bool,
}

/// A class's name in reports: `c1`, `c2`, … in order of first node.
fn class_name(c: usize) -> String {
    format!("c{}", c + 1)
}

/// The class's node names, as many as `max` (all with `usize::MAX`), and
/// how many more there are.
fn class_nodes<'a>(ctx: &Ctx<'a>, c: usize, max: usize) -> (Vec<&'a str>, usize) {
    let ns = &ctx.fleet.classes()[c].nodes;
    let shown = ns
        .iter()
        .take(max)
        .map(|&n| ctx.nodes[n].name.as_str())
        .collect();
    (shown, ns.len().saturating_sub(max))
}

/// What one cell of a pinned image, or of the pods section, needs later.
#[derive(Clone)]
struct Kept {
    verdict: Verdict,
    build: String,
    digest: Option<String>,
}

impl Kept {
    fn of(c: &Cell) -> Kept {
        Kept {
            verdict: c.verdict,
            build: c.build(),
            digest: c.digest.clone(),
        }
    }
}

/// Counts and what the summaries and the pods section need, gathered as
/// the images stream by (never the cells of every image).
struct Tally {
    worst: Option<u8>,
    total: Counts,
    per_image: Vec<Counts>,
    per_class: Vec<Counts>,
    /// Per class: the images that do not fit it.
    misses: Vec<Vec<usize>>,
    /// For the images pods use: per class the cell that applies (the
    /// first match for images pinned to an index), the index digest, and
    /// whether pinned to an index.
    for_pods: HashMap<usize, (Vec<Kept>, Option<String>, bool)>,
    /// Per image: origin, index digest, pinned, error (JSON per-pair
    /// lists them after the results).
    heads: Vec<Option<Head>>,
}

/// An image's origin, index digest, pin, error and compat report (JSON).
type Head = (
    Option<String>,
    Option<String>,
    Option<Pinned>,
    Option<String>,
    Option<Value>,
);

impl Tally {
    fn new(ctx: &Ctx<'_>) -> Tally {
        let k = ctx.fleet.classes().len();
        Tally {
            worst: None,
            total: Counts::default(),
            per_image: vec![Counts::default(); ctx.images.len()],
            per_class: vec![Counts::default(); k],
            misses: vec![Vec::new(); k],
            for_pods: HashMap::new(),
            heads: (0..ctx.images.len()).map(|_| None).collect(),
        }
    }

    fn add(&mut self, ctx: &Ctx<'_>, i: usize, r: &ImageResult) {
        if let Some((code, _)) = &r.error {
            self.worst = Some(self.worst.map_or(*code, |w| w.max(*code)));
        }
        for (c, cell) in r.cells.iter().enumerate() {
            let n = ctx.fleet.classes()[c].nodes.len();
            self.total.add(cell.verdict, n);
            self.per_image[i].add(cell.verdict, n);
            self.per_class[c].add(cell.verdict, 1);
            if cell.verdict == Verdict::NoFit {
                self.misses[c].push(i);
            }
        }
        if !ctx.images[i].pods.is_empty() {
            let cells = r.first_match.as_ref().unwrap_or(&r.cells);
            self.for_pods.insert(
                i,
                (
                    cells.iter().map(Kept::of).collect(),
                    r.index_digest.clone(),
                    r.pinned == Some(Pinned::Index),
                ),
            );
        }
        if ctx.per_pair {
            self.heads[i] = Some((
                r.origin.clone(),
                r.index_digest.clone(),
                r.pinned,
                r.error.as_ref().map(|e| e.1.clone()),
                r.compat.as_ref().map(crate::discover::Report::json),
            ));
        }
    }

    fn status(&self) -> u8 {
        match self.worst {
            Some(3) => 3,
            Some(_) => 2,
            None if self.total.no_fit > 0 => 1,
            None => 0,
        }
    }
}

fn counts_json(c: &Counts) -> Value {
    json!({"fit": c.fit, "no_fit": c.no_fit, "error": c.error})
}

/// One container of the pods section: what it runs and would get.
struct PodRow<'a> {
    pod: &'a Pod,
    container: &'a inventory::Container,
    class: Option<usize>,
    /// The cell that applies on its node, when the node is known.
    gets: Option<&'a Kept>,
    pinned_index: bool,
    /// The digest its `imageID` names.
    runs: Option<&'a str>,
    /// `same build`, `same index`, `differs` or `unknown`.
    compare: &'static str,
}

/// The digest in an `imageID` (`docker.io/library/x@sha256:…`,
/// `sha256:…`, `docker-pullable://x@sha256:…`).
fn image_id_digest(id: &str) -> Option<&str> {
    let d = id.rsplit_once('@').map_or(id, |(_, d)| d);
    // Only the registered algorithms: `x:1` fits the general grammar.
    let registered = d.starts_with("sha256:") || d.starts_with("sha512:");
    Digest::parse(d).ok().filter(|_| registered).map(|_| d)
}

fn pod_rows<'a>(ctx: &Ctx<'a>, tally: &'a Tally) -> Vec<PodRow<'a>> {
    let by_name: HashMap<&str, usize> = ctx
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let by_image: HashMap<&str, usize> = ctx
        .images
        .iter()
        .enumerate()
        .map(|(i, s)| (s.source.as_str(), i))
        .collect();
    let mut rows = Vec::new();
    for pod in ctx.pods {
        let class = pod
            .node_name
            .as_deref()
            .and_then(|n| by_name.get(n))
            .map(|&n| ctx.fleet.class_of(n));
        for c in &pod.containers {
            let kept = by_image
                .get(c.image.as_str())
                .and_then(|i| tally.for_pods.get(i));
            let gets = class.zip(kept).map(|(k, (cells, _, _))| &cells[k]);
            let runs = c.image_id.as_deref().and_then(image_id_digest);
            let compare = match (runs, gets) {
                (Some(r), Some(g)) if g.digest.as_deref() == Some(r) => "same build",
                (Some(r), Some(_)) if kept.and_then(|k| k.1.as_deref()) == Some(r) => "same index",
                (Some(_), Some(_)) => "differs",
                _ => "unknown",
            };
            rows.push(PodRow {
                pod,
                container: c,
                class,
                gets,
                pinned_index: kept.is_some_and(|k| k.2),
                runs,
                compare,
            });
        }
    }
    rows
}

/// A renderer: a head written before any image is in, one part per image
/// in order, and a tail with the summaries.
trait Render {
    fn begin(&mut self, ctx: &Ctx<'_>, out: &mut dyn Write) -> std::io::Result<()>;
    fn image(
        &mut self,
        ctx: &Ctx<'_>,
        i: usize,
        r: &ImageResult,
        out: &mut dyn Write,
    ) -> std::io::Result<()>;
    fn end(&mut self, ctx: &Ctx<'_>, t: &Tally, out: &mut dyn Write) -> std::io::Result<()>;
}

// ---------------------------------------------------------------------------
// Text.

/// Node names listed per class in text and HTML headers; JSON and CSV
/// list every one.
const SHOWN_NODES: usize = 8;

struct TextOut;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn names_line(v: &[&str], more: usize) -> String {
    let mut s = v.iter().map(|n| visible(n)).collect::<Vec<_>>().join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}

/// [`names_line`] unescaped, for the renderers that escape as they write
/// (HTML).
fn names_raw(v: &[&str], more: usize) -> String {
    let mut s = v.join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}

/// A cell in text: `#2 amd64/v3 cuda=12.4  sha256:…`, `NO FIT: why`.
fn text_cell(c: &Cell) -> String {
    match c.verdict {
        Verdict::Fit => format!(
            "{}  {}",
            visible(&c.build()),
            c.digest.as_deref().unwrap_or("")
        ),
        _ => {
            let mut why: Vec<String> = c.hops.iter().map(|h| format!("nested index {h}")).collect();
            why.extend(c.reasons.iter().cloned());
            format!("{}: {}", c.build(), visible(&why.join("; ")))
        }
    }
}

impl Render for TextOut {
    /// Image, node, platform and pod names, annotation values and error
    /// messages come from documents, labels and pod specs: they are printed
    /// through [`visible`], so a control character is shown escaped
    /// (`\u{1b}`, `\n`) and never reaches the terminal or forges a line.
    fn begin(&mut self, ctx: &Ctx<'_>, out: &mut dyn Write) -> std::io::Result<()> {
        let classes = ctx.fleet.classes();
        writeln!(
            out,
            "{} in {}:",
            plural(ctx.nodes.len(), "node", "nodes"),
            plural(classes.len(), "class", "classes")
        )?;
        for (k, c) in classes.iter().enumerate() {
            let (shown, more) = class_nodes(ctx, k, SHOWN_NODES);
            write!(
                out,
                "  {} {}: {}",
                class_name(k),
                visible(&c.platform.to_string()),
                names_line(&shown, more)
            )?;
            let facts = fleet::facts_words(&c.facts);
            if !facts.is_empty() {
                write!(out, " [{}]", visible(&facts.join(" ")))?;
            }
            writeln!(out)?;
        }
        Ok(())
    }

    fn image(
        &mut self,
        ctx: &Ctx<'_>,
        i: usize,
        r: &ImageResult,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        let img = &ctx.images[i];
        write!(out, "\n{}", visible(&img.source))?;
        if !img.pods.is_empty() {
            let pods: Vec<&str> = img.pods.iter().map(String::as_str).collect();
            write!(
                out,
                " (used by {}: {})",
                plural(pods.len(), "pod", "pods"),
                names_line(&pods, 0)
            )?;
        }
        match r.pinned {
            Some(Pinned::Index) => write!(
                out,
                " [pinned to an index digest: the runtime's first match applies, no mirror can change it]"
            )?,
            Some(Pinned::Manifest) => write!(out, " [pinned to a manifest digest]")?,
            None => {}
        }
        writeln!(out)?;
        if let Some((_, m)) = r
            .error
            .as_ref()
            .filter(|_| r.cells.iter().all(|c| c.verdict == Verdict::Error))
        {
            return writeln!(out, "  ERROR: {}", visible(m));
        }
        if let Some(c) = &r.compat {
            writeln!(
                out,
                "  {} ({})",
                visible(&c.summary()),
                plural(c.requests as usize, "request", "requests")
            )?;
        }
        for (k, c) in r.cells.iter().enumerate() {
            write!(out, "  {}  {}", class_name(k), text_cell(c))?;
            if let Some(first) = r.first_match.as_ref().map(|f| &f[k]) {
                write!(out, "; pinned, the runtime picks {}", text_cell(first))?;
            }
            writeln!(out)?;
        }
        Ok(())
    }

    fn end(&mut self, ctx: &Ctx<'_>, t: &Tally, out: &mut dyn Write) -> std::io::Result<()> {
        let rows = pod_rows(ctx, t);
        if !rows.is_empty() {
            writeln!(out, "\npods:")?;
            for p in &rows {
                write!(
                    out,
                    "  {} {} ({}) {}",
                    visible(&p.pod.key()),
                    visible(&p.container.name),
                    p.container.kind.as_str(),
                    visible(&p.container.image)
                )?;
                match (p.pod.node_name.as_deref(), p.class) {
                    (None, _) => write!(out, " not scheduled")?,
                    (Some(n), None) => write!(out, " on {} (not in the inventory)", visible(n))?,
                    (Some(n), Some(k)) => write!(out, " on {} ({})", visible(n), class_name(k))?,
                }
                if let Some(g) = p.gets {
                    write!(out, ": gets {}", visible(&g.build))?;
                    if let Some(d) = &g.digest {
                        write!(out, " {d}")?;
                    }
                    if p.pinned_index {
                        write!(out, " (pinned to an index: first match)")?;
                    }
                }
                match p.runs {
                    Some(r) => write!(out, "; runs {r} ({})", p.compare)?,
                    None => write!(out, "; runs: not reported")?,
                }
                writeln!(out)?;
            }
        }
        writeln!(out, "\nclasses:")?;
        for (k, c) in ctx.fleet.classes().iter().enumerate() {
            let n = &t.per_class[k];
            write!(
                out,
                "  {} ({}, {}): {} of {} images fit",
                class_name(k),
                visible(&c.platform.to_string()),
                plural(c.nodes.len(), "node", "nodes"),
                n.fit,
                ctx.images.len()
            )?;
            if !t.misses[k].is_empty() {
                let miss: Vec<&str> = t.misses[k]
                    .iter()
                    .take(SHOWN_NODES)
                    .map(|&i| ctx.images[i].source.as_str())
                    .collect();
                write!(
                    out,
                    "; no fit for {}",
                    names_line(&miss, t.misses[k].len().saturating_sub(SHOWN_NODES))
                )?;
            }
            if n.error > 0 {
                write!(out, "; {}", plural(n.error, "error", "errors"))?;
            }
            writeln!(out)?;
        }
        let s = &t.total;
        writeln!(
            out,
            "{} pairs ({} × {}): {} fit, {} no fit, {} errors",
            s.pairs(),
            plural(ctx.images.len(), "image", "images"),
            plural(ctx.nodes.len(), "node", "nodes"),
            s.fit,
            s.no_fit,
            s.error
        )
    }
}

// ---------------------------------------------------------------------------
// JSON.

struct JsonOut {
    first: bool,
}

fn cell_json(k: usize, c: &Cell) -> Value {
    json!({
        "class": class_name(k),
        "result": c.verdict.word(),
        "build": (c.verdict == Verdict::Fit).then(|| c.build()),
        "digest": c.digest,
        "platform": c.platform,
        "position": c.position,
        "score": c.score,
        "decided_by": c.decided_by,
        "nested": c.hops.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "reasons": c.reasons,
    })
}

fn write_json(out: &mut dyn Write, v: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, v).map_err(std::io::Error::from)
}

impl Render for JsonOut {
    fn begin(&mut self, ctx: &Ctx<'_>, out: &mut dyn Write) -> std::io::Result<()> {
        let nodes: Vec<Value> = ctx
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                json!({"name": n.name, "platform": n.platform, "from": n.from.as_str(),
                       "class": class_name(ctx.fleet.class_of(i))})
            })
            .collect();
        out.write_all(b"{\n\"nodes\": ")?;
        write_json(out, &nodes)?;
        if !ctx.per_pair {
            let classes: Vec<Value> = ctx
                .fleet
                .classes()
                .iter()
                .enumerate()
                .map(|(k, c)| {
                    json!({"class": class_name(k), "platform": c.platform.to_string(),
                           "facts": c.facts, "nodes": class_nodes(ctx, k, usize::MAX).0})
                })
                .collect();
            out.write_all(b",\n\"classes\": ")?;
            write_json(out, &classes)?;
            out.write_all(b",\n\"images\": [")?;
        } else {
            out.write_all(b",\n\"results\": [")?;
        }
        Ok(())
    }

    fn image(
        &mut self,
        ctx: &Ctx<'_>,
        i: usize,
        r: &ImageResult,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        let img = &ctx.images[i];
        if !ctx.per_pair {
            let mut cells: Vec<Value> = r
                .cells
                .iter()
                .enumerate()
                .map(|(k, c)| cell_json(k, c))
                .collect();
            if let Some(first) = &r.first_match {
                for (v, (k, f)) in cells.iter_mut().zip(first.iter().enumerate()) {
                    v["first_match"] = cell_json(k, f);
                }
            }
            let v = json!({
                "image": img.source,
                "pods": img.pods,
                "origin": r.origin,
                "index_digest": r.index_digest,
                "pinned": r.pinned.map(Pinned::word),
                "error": r.error.as_ref().map(|e| &e.1),
                "compat": r.compat.as_ref().map(crate::discover::Report::json),
                "cells": cells,
            });
            // Each element ends its line, so that a reader gets it whole
            // as soon as it is written; the comma opens the next one.
            out.write_all(if self.first { b"\n" } else { b"," })?;
            self.first = false;
            write_json(out, &v)?;
            return out.write_all(b"\n");
        }
        // One row per node, written from the class's cell.
        let firsts: Vec<Option<Value>> = (0..r.cells.len())
            .map(|k| r.first_match.as_ref().map(|f| cell_json(k, &f[k])))
            .collect();
        for (n, node) in ctx.nodes.iter().enumerate() {
            let k = ctx.fleet.class_of(n);
            let c = &r.cells[k];
            let mut v = json!({
                "image": img.source,
                "node": node.name,
                "class": class_name(k),
                "result": c.verdict.word(),
                "build": (c.verdict == Verdict::Fit).then(|| c.build()),
                "digest": c.digest,
                "platform": c.platform,
                "position": c.position,
                "score": c.score,
                "nested": c.hops.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "reasons": c.reasons,
            });
            if let Some(f) = &firsts[k] {
                v["first_match"] = f.clone();
            }
            out.write_all(if self.first { b"\n" } else { b"," })?;
            self.first = false;
            write_json(out, &v)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn end(&mut self, ctx: &Ctx<'_>, t: &Tally, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(if self.first { b"\n]" } else { b"]" })?;
        if ctx.per_pair {
            let images: Vec<Value> = ctx
                .images
                .iter()
                .zip(&t.heads)
                .map(|(i, h)| {
                    let (origin, digest, pinned, error, compat) =
                        h.clone().unwrap_or((None, None, None, None, None));
                    json!({"image": i.source, "pods": i.pods, "origin": origin,
                           "index_digest": digest, "pinned": pinned.map(Pinned::word), "error": error,
                           "compat": compat})
                })
                .collect();
            out.write_all(b",\n\"images\": ")?;
            write_json(out, &images)?;
        }
        let pods: Vec<Value> = pod_rows(ctx, t)
            .iter()
            .map(|p| {
                json!({
                    "pod": p.pod.key(),
                    "container": p.container.name,
                    "kind": p.container.kind.as_str(),
                    "image": p.container.image,
                    "node": p.pod.node_name,
                    "class": p.class.map(class_name),
                    "pinned_index": p.pinned_index,
                    "gets": p.gets.map(|g| json!({"result": g.verdict.word(),
                        "build": (g.verdict == Verdict::Fit).then(|| g.build.clone()), "digest": g.digest})),
                    "image_id": p.container.image_id,
                    "runs": p.runs,
                    "compare": p.compare,
                })
            })
            .collect();
        out.write_all(b",\n\"pods\": ")?;
        write_json(out, &pods)?;
        let per_image: serde_json::Map<String, Value> = ctx
            .images
            .iter()
            .zip(&t.per_image)
            .map(|(i, c)| (i.source.clone(), counts_json(c)))
            .collect();
        let per_class: serde_json::Map<String, Value> = t
            .per_class
            .iter()
            .enumerate()
            .map(|(k, c)| (class_name(k), counts_json(c)))
            .collect();
        let mut summary = json!({
            "images": ctx.images.len(),
            "nodes": ctx.nodes.len(),
            "classes": ctx.fleet.classes().len(),
            "pairs": t.total.pairs(),
            "fit": t.total.fit,
            "no_fit": t.total.no_fit,
            "error": t.total.error,
            "per_image": per_image,
            "per_class": per_class,
            "exit_status": t.status(),
        });
        if ctx.per_pair {
            // Per node: its class's counts over the images.
            let per_node: serde_json::Map<String, Value> = ctx
                .nodes
                .iter()
                .enumerate()
                .map(|(n, node)| {
                    (
                        node.name.clone(),
                        counts_json(&t.per_class[ctx.fleet.class_of(n)]),
                    )
                })
                .collect();
            summary["per_node"] = Value::Object(per_node);
        }
        out.write_all(b",\n\"summary\": ")?;
        write_json(out, &summary)?;
        out.write_all(b"\n}\n")
    }
}

// ---------------------------------------------------------------------------
// CSV.

struct CsvOut;

fn csv_row(out: &mut dyn Write, fields: &[String]) -> std::io::Result<()> {
    let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.write_all(row.join(",").as_bytes())?;
    out.write_all(b"\n")
}

fn reasons_field(c: &Cell) -> String {
    let mut reasons: Vec<String> = c.hops.iter().map(|h| format!("nested index {h}")).collect();
    reasons.extend(c.reasons.iter().cloned());
    reasons.join("; ")
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The build in words, with the runtime's first match beside it for an
/// image pinned to an index.
fn build_field(c: &Cell, first: Option<&Cell>) -> String {
    let mut b = c.build();
    if let Some(f) = first {
        b.push_str(&format!(
            "; pinned, the runtime picks {} {}",
            f.build(),
            f.digest.as_deref().unwrap_or("")
        ));
    }
    b
}

impl Render for CsvOut {
    fn begin(&mut self, ctx: &Ctx<'_>, out: &mut dyn Write) -> std::io::Result<()> {
        if ctx.per_pair {
            out.write_all(
                b"image,pods,node,node_platform,result,digest,platform,position,score,reasons,build\n",
            )
        } else {
            out.write_all(
                b"image,pods,class,class_platform,nodes,result,build,digest,platform,position,score,reasons\n",
            )
        }
    }

    fn image(
        &mut self,
        ctx: &Ctx<'_>,
        i: usize,
        r: &ImageResult,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        let img = &ctx.images[i];
        let pods = img.pods.iter().cloned().collect::<Vec<_>>().join(" ");
        let classes = ctx.fleet.classes();
        if ctx.per_pair {
            for (n, node) in ctx.nodes.iter().enumerate() {
                let k = ctx.fleet.class_of(n);
                let c = &r.cells[k];
                csv_row(
                    out,
                    &[
                        img.source.clone(),
                        pods.clone(),
                        node.name.clone(),
                        classes[k].platform.to_string(),
                        c.verdict.word().to_owned(),
                        opt(c.digest.as_ref()),
                        opt(c.platform.as_ref()),
                        opt(c.position),
                        opt(c.score),
                        reasons_field(c),
                        build_field(c, r.first_match.as_ref().map(|f| &f[k])),
                    ],
                )?;
            }
            return Ok(());
        }
        for (k, c) in r.cells.iter().enumerate() {
            csv_row(
                out,
                &[
                    img.source.clone(),
                    pods.clone(),
                    class_name(k),
                    classes[k].platform.to_string(),
                    class_nodes(ctx, k, usize::MAX).0.join(" "),
                    c.verdict.word().to_owned(),
                    build_field(c, r.first_match.as_ref().map(|f| &f[k])),
                    opt(c.digest.as_ref()),
                    opt(c.platform.as_ref()),
                    opt(c.position),
                    opt(c.score),
                    reasons_field(c),
                ],
            )?;
        }
        Ok(())
    }

    /// With pods: a blank line, then a second table, one row a container.
    fn end(&mut self, ctx: &Ctx<'_>, t: &Tally, out: &mut dyn Write) -> std::io::Result<()> {
        let rows = pod_rows(ctx, t);
        if rows.is_empty() {
            return Ok(());
        }
        out.write_all(
            b"\npod,container,kind,image,node,class,pinned_index,gets,digest,image_id,compare\n",
        )?;
        for p in rows {
            csv_row(
                out,
                &[
                    p.pod.key(),
                    p.container.name.clone(),
                    p.container.kind.as_str().to_owned(),
                    p.container.image.clone(),
                    opt(p.pod.node_name.as_ref()),
                    opt(p.class.map(class_name)),
                    p.pinned_index.to_string(),
                    opt(p.gets.map(|g| g.build.clone())),
                    opt(p.gets.and_then(|g| g.digest.as_ref())),
                    opt(p.container.image_id.as_ref()),
                    p.compare.to_owned(),
                ],
            )?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// HTML.

struct HtmlOut {
    /// Class columns grouped by platform, in order of first appearance.
    groups: Vec<(String, Vec<usize>)>,
}

impl HtmlOut {
    fn new(ctx: &Ctx<'_>) -> HtmlOut {
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (k, c) in ctx.fleet.classes().iter().enumerate() {
            let p = c.platform.to_string();
            match groups.iter_mut().find(|(g, _)| *g == p) {
                Some((_, v)) => v.push(k),
                None => groups.push((p, vec![k])),
            }
        }
        HtmlOut { groups }
    }

    fn order(&self) -> impl Iterator<Item = usize> + '_ {
        self.groups.iter().flat_map(|(_, v)| v.iter().copied())
    }
}

/// A cell's hover text: the pair, the digest and entry, the reasons.
fn cell_title(ctx: &Ctx<'_>, img: &str, k: usize, c: &Cell) -> Vec<String> {
    let class = &ctx.fleet.classes()[k];
    let (shown, more) = class_nodes(ctx, k, SHOWN_NODES);
    let mut why = vec![format!(
        "{img} on {} ({}; {}: {})",
        class_name(k),
        class.platform,
        plural(class.nodes.len(), "node", "nodes"),
        names_raw(&shown, more)
    )];
    if let Some(d) = &c.digest {
        why.push(format!(
            "{d} (entry #{}, score {}{})",
            c.position.unwrap_or(0),
            c.score.unwrap_or(0),
            c.platform
                .as_ref()
                .map(|p| format!(", {p}"))
                .unwrap_or_default()
        ));
    }
    why.extend(c.hops.iter().map(|x| format!("nested index {x}")));
    why.extend(c.reasons.iter().cloned());
    why
}

impl Render for HtmlOut {
    fn begin(&mut self, ctx: &Ctx<'_>, out: &mut dyn Write) -> std::io::Result<()> {
        let mut h = String::new();
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>ocipick check</title>\n<style>\n");
        h.push_str(CSS);
        h.push_str("</style>\n</head>\n<body>\n<h1>ocipick check</h1>\n");
        h.push_str(&format!(
            "<p class=\"summary\">{} images &times; {} nodes in {} classes (nodes with the same platform and facts). Hover over a cell for the digest and the reasons of its choice; the totals are at the end.</p>\n",
            ctx.images.len(),
            ctx.nodes.len(),
            ctx.fleet.classes().len()
        ));
        h.push_str("<table class=\"matrix\">\n<thead>\n<tr><th rowspan=\"2\" class=\"corner\">image \\ class</th>");
        for (p, v) in &self.groups {
            h.push_str(&format!(
                "<th colspan=\"{}\" class=\"group\">{}</th>",
                v.len(),
                esc(p)
            ));
        }
        h.push_str("</tr>\n<tr>");
        for k in self.order() {
            let c = &ctx.fleet.classes()[k];
            let (shown, more) = class_nodes(ctx, k, usize::MAX);
            let mut title = format!(
                "{} ({}): {}: {}",
                class_name(k),
                c.platform,
                plural(c.nodes.len(), "node", "nodes"),
                names_raw(&shown, more)
            );
            let facts = fleet::facts_words(&c.facts);
            if !facts.is_empty() {
                title.push_str(&format!("\nfacts: {}", facts.join(" ")));
            }
            h.push_str(&format!(
                "<th class=\"node\" title=\"{}\">{} <small>{}</small></th>",
                esc(&title),
                class_name(k),
                esc(&plural(c.nodes.len(), "node", "nodes"))
            ));
        }
        h.push_str("</tr>\n</thead>\n<tbody>\n");
        out.write_all(h.as_bytes())
    }

    fn image(
        &mut self,
        ctx: &Ctx<'_>,
        i: usize,
        r: &ImageResult,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        let img = &ctx.images[i];
        let mut title = img.source.clone();
        if let Some(d) = &r.index_digest {
            title.push_str(&format!("\nindex {d}"));
        }
        if r.pinned == Some(Pinned::Index) {
            title.push_str("\npinned to an index digest: the runtime's first match applies, no mirror can change it");
        }
        if !img.pods.is_empty() {
            title.push_str("\npods: ");
            title.push_str(&img.pods.iter().cloned().collect::<Vec<_>>().join(", "));
        }
        if let Some((_, e)) = &r.error {
            title.push_str(&format!("\n{e}"));
        }
        if let Some(c) = &r.compat {
            title.push_str(&format!(
                "\n{} ({})",
                c.summary(),
                plural(c.requests as usize, "request", "requests")
            ));
        }
        let mut h = format!(
            "<tr><th class=\"image\" title=\"{}\">{}</th>",
            esc(&title),
            esc(&img.source)
        );
        for k in self.order() {
            let cell = &r.cells[k];
            let class = match cell.verdict {
                Verdict::Fit => "fit",
                Verdict::NoFit => "nofit",
                Verdict::Error => "error",
            };
            let mut why = cell_title(ctx, &img.source, k, cell);
            let mut text = cell.build();
            if let Some(f) = r.first_match.as_ref().map(|f| &f[k]) {
                why.push(format!(
                    "pinned to an index digest: the runtime picks {} {}",
                    f.build(),
                    f.digest.as_deref().unwrap_or("")
                ));
                text.push_str(&format!(" (pinned: {})", f.build()));
            }
            h.push_str(&format!(
                "<td class=\"{class}\" title=\"{}\">{}</td>",
                esc(&why.join("\n")),
                esc(&text)
            ));
        }
        h.push_str("</tr>\n");
        out.write_all(h.as_bytes())
    }

    fn end(&mut self, ctx: &Ctx<'_>, t: &Tally, out: &mut dyn Write) -> std::io::Result<()> {
        let mut h = String::new();
        h.push_str("</tbody>\n</table>\n");
        h.push_str("<p class=\"legend\"><span class=\"fit\">#2 amd64/v3 cuda=12.4</span> the entry the class gets (position, platform, what decided it) &middot; <span class=\"nofit\">NO FIT</span> no entry runs there &middot; <span class=\"error\">ERROR</span> the index could not be read</p>\n");
        h.push_str(&format!(
            "<p class=\"summary\">{} pairs: <span class=\"fit\">{} fit</span>, <span class=\"nofit\">{} no fit</span>, <span class=\"error\">{} errors</span>.</p>\n",
            t.total.pairs(),
            t.total.fit,
            t.total.no_fit,
            t.total.error
        ));
        h.push_str("<h2>Classes</h2>\n<table class=\"list\">\n<tr><th>class</th><th>platform</th><th>facts</th><th>nodes</th><th>fit</th><th>no fit</th><th>errors</th></tr>\n");
        for k in self.order() {
            let c = &ctx.fleet.classes()[k];
            let n = &t.per_class[k];
            let names = class_nodes(ctx, k, usize::MAX).0.join(", ");
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                class_name(k),
                esc(&c.platform.to_string()),
                esc(&fleet::facts_words(&c.facts).join(" ")),
                esc(&names),
                n.fit,
                n.no_fit,
                n.error
            ));
        }
        h.push_str("</table>\n<h2>Images</h2>\n<table class=\"list\">\n<tr><th>image</th><th>fit</th><th>no fit</th><th>errors</th><th>pods</th></tr>\n");
        for (img, c) in ctx.images.iter().zip(&t.per_image) {
            let pods: Vec<&str> = img.pods.iter().map(String::as_str).collect();
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&img.source),
                c.fit,
                c.no_fit,
                c.error,
                esc(&pods.join(", "))
            ));
        }
        h.push_str("</table>\n");
        let rows = pod_rows(ctx, t);
        if !rows.is_empty() {
            h.push_str("<h2>Pods</h2>\n<table class=\"list\">\n<tr><th>pod</th><th>container</th><th>image</th><th>node</th><th>gets</th><th>runs today</th></tr>\n");
            for p in rows {
                let node = match (&p.pod.node_name, p.class) {
                    (None, _) => "not scheduled".to_owned(),
                    (Some(n), None) => format!("{n} (not in the inventory)"),
                    (Some(n), Some(k)) => format!("{n} ({})", class_name(k)),
                };
                let gets = p.gets.map_or(String::new(), |g| {
                    let mut s = g.build.clone();
                    if p.pinned_index {
                        s.push_str(" (pinned to an index: first match)");
                    }
                    s
                });
                let gets_title = p
                    .gets
                    .and_then(|g| g.digest.as_ref())
                    .map(|d| format!(" title=\"{}\"", esc(d)))
                    .unwrap_or_default();
                let runs = match p.runs {
                    Some(r) => format!("{r} ({})", p.compare),
                    None => "not reported".to_owned(),
                };
                h.push_str(&format!(
                    "<tr><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td></tr>\n",
                    esc(&p.pod.key()),
                    esc(&p.container.name),
                    p.container.kind.as_str(),
                    esc(&p.container.image),
                    esc(&node),
                    gets_title,
                    esc(&gets),
                    esc(&runs)
                ));
            }
            h.push_str("</table>\n");
        }
        h.push_str("<p class=\"foot\">Made by ocipick check. Selection hooks are not run by check.</p>\n</body>\n</html>\n");
        out.write_all(h.as_bytes())
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left}
.matrix td{font-family:ui-monospace,monospace;text-align:center;cursor:help}
.matrix th.group{background:#e8e8f4;text-align:center}
.matrix th.node{background:#f4f4f4}
.matrix th.image{font-family:ui-monospace,monospace;font-weight:normal;background:#fafafa}
.fit{background:#c8f0c8;color:#0a4a0a}
.nofit{background:#f6c4c4;color:#6a0a0a;font-weight:bold}
.error{background:#f8e0a0;color:#5a4000;font-weight:bold}
.legend span,.summary span{padding:0 .3em}
.foot{color:#777;font-size:.9em}
";

/// HTML-escapes text for element content and quoted attribute values;
/// newlines become `&#10;` so titles keep their lines.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("&#10;"),
            c if c.is_control() => out.push_str(&format!("&#{};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote, a
/// line break, another control character or surrounding spaces, quotes
/// doubled.
///
/// Names and reasons come from documents, labels and pod specs, and a
/// spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or tab
/// or carriage return) as a formula (`=HYPERLINK(…)`, `=cmd|…`): such a
/// cell is prefixed with `'` (OWASP's CSV-injection advice), which a
/// spreadsheet shows as text. A plain integer (`-3`, a negative score) is
/// no formula and is left as it is.
pub(crate) fn csv_field(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_integer(s);
    let s: Cow<'_, str> = if formula {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    };
    if s.contains(|c: char| c == ',' || c == '"' || c.is_control())
        || s.starts_with(' ')
        || s.ends_with(' ')
    {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// `-?[0-9]+`.
fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>\n"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;&#10;"
        );
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-1+2"), "'-1+2");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\tx"), "\"'\tx\"");
        assert_eq!(csv_field("\r=1"), "\"'\r=1\"");
        assert_eq!(csv_field("-12"), "-12", "a negative score is a number");
        assert_eq!(csv_field("-"), "'-");
        assert_eq!(csv_field("a=1"), "a=1", "only the first character counts");
        assert_eq!(csv_field("\u{1b}[31m"), "\"\u{1b}[31m\"");
    }

    #[test]
    fn image_id_digests() {
        let d = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert_eq!(
            image_id_digest(&format!("docker.io/library/x@{d}")),
            Some(d)
        );
        assert_eq!(
            image_id_digest(&format!("docker-pullable://x@{d}")),
            Some(d)
        );
        assert_eq!(image_id_digest(d), Some(d));
        assert_eq!(image_id_digest("x:1"), None);
    }
}
