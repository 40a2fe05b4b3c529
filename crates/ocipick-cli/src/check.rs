//! `ocipick check`: which manifest every image would give every node.
//!
//! Images come from SOURCE arguments, `--images FILE` and `--pods FILE`
//! (`kubectl get pods -A -o json`); nodes from `--node FILE|DIR` (facts
//! files) and `--nodes FILE` (`kubectl get nodes -o json`, whose
//! node-feature-discovery labels become facts). Each index is loaded once,
//! by a bounded pool of `--jobs` workers, and judged for every node with
//! the policy `select` would use on that node (hooks excepted). See
//! `docs/check.md`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::{Args, ValueEnum};
use ocipick::media_type::{self, Kind};
use ocipick::{Config, Digest, Index, Platform, Policy, Reason};
use ocipick_host::Facts;
use serde_json::{json, Value};

use crate::args::RegistryArgs;
use crate::output::visible;
use crate::run::{Doc, Failure, Store};

/// `ocipick check` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckOutput {
    /// A matrix table and summaries, for people.
    Text,
    /// One JSON object, for scripts.
    Json,
    /// One row per image × node pair, with a header.
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

    /// The JSON of `kubectl get pods -A -o json`: every container and
    /// init-container image, deduplicated, with the pods that use it.
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

    #[command(flatten)]
    pub registry: RegistryArgs,
}

// ---------------------------------------------------------------------------
// Inputs.

/// One image to check, with the pods (`namespace/name`) that use it.
#[derive(Debug, Clone)]
pub(crate) struct ImageSpec {
    source: String,
    pods: BTreeSet<String>,
}

/// One node to check for.
pub(crate) struct Node {
    name: String,
    /// The platform selector, e.g. `linux/amd64/v3`.
    platform: String,
    /// `facts file` or `kubectl`.
    from: &'static str,
    facts: Facts,
    policy: Policy,
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

/// `items` of a kubectl list, or the one object itself.
fn items<'v>(v: &'v Value, path: &Path, kind: &str) -> Result<Vec<&'v Value>, Failure> {
    match v.get("items") {
        Some(Value::Array(a)) => Ok(a.iter().collect()),
        Some(_) => Err(Failure::Invalid(format!(
            "{}: items is not an array",
            path.display()
        ))),
        None if v.get("kind").and_then(Value::as_str) == Some(kind) => Ok(vec![v]),
        None => Err(Failure::Invalid(format!(
            "{}: not the JSON of `kubectl get {}s -o json` (no items)",
            path.display(),
            kind.to_ascii_lowercase()
        ))),
    }
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Every image of the command line, `--images` and `--pods`, in order of
/// first appearance, deduplicated by their exact spelling.
fn collect_images(args: &CheckArgs) -> Result<Vec<ImageSpec>, Failure> {
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
    for path in &args.pods {
        let v = read_json(path)?;
        for (n, pod) in items(&v, path, "Pod")?.into_iter().enumerate() {
            let name = str_at(pod, &["metadata", "name"]).ok_or_else(|| {
                Failure::Invalid(format!(
                    "{}: items[{n}] has no metadata.name",
                    path.display()
                ))
            })?;
            let ns = str_at(pod, &["metadata", "namespace"]).unwrap_or("default");
            for list in ["initContainers", "containers"] {
                let Some(cs) = pod.get("spec").and_then(|s| s.get(list)) else {
                    continue;
                };
                let cs = cs.as_array().ok_or_else(|| {
                    Failure::Invalid(format!(
                        "{}: items[{n}].spec.{list} is not an array",
                        path.display()
                    ))
                })?;
                for (k, c) in cs.iter().enumerate() {
                    let image = c.get("image").and_then(Value::as_str).ok_or_else(|| {
                        Failure::Invalid(format!(
                            "{}: items[{n}].spec.{list}[{k}] has no image",
                            path.display()
                        ))
                    })?;
                    let i = add_image(&mut images, &mut seen, image.trim());
                    images[i].pods.insert(format!("{ns}/{name}"));
                }
            }
        }
    }
    Ok(images)
}

/// NFD's label prefix.
const NFD: &str = "feature.node.kubernetes.io/";

/// Flag features: their labels say `NAME=true`.
const FLAG_FEATURES: &[&str] = &["cpu.cpuid", "kernel.loadedmodule", "kernel.enabledmodule"];

/// Node labels as facts (see docs/check.md for the mapping):
/// - every label as `kubernetes.label.KEY`;
/// - `feature.node.kubernetes.io/FEATURE-SUB.NAME=VALUE` as the attribute
///   `FEATURE.SUB` `NAME` (`kernel-version.full` → `kernel.version.full`;
///   `system-os_release` → `system.osrelease` as in NFD's features);
///   `cpu-cpuid.X=true` as the flag `cpu.cpuid` `X`; a label without a
///   dot, `FEATURE-NAME`, as the attribute `FEATURE` `NAME`;
/// - `pci-CLASS_VENDOR[_DEVICE].present=true` (and `pci-VENDOR`) as a
///   `pci.device` instance, `usb-…` likewise as `usb.device`;
/// - NVIDIA gpu-feature-discovery's `nvidia.com/cuda.driver.major|minor|rev`
///   (or `cuda.driver-version.*`) as `nvidia.driver` `version`, `major`, `minor`.
pub(crate) fn facts_from_labels(labels: &BTreeMap<String, String>) -> Facts {
    let mut f = Facts::default();
    let mut driver: [Option<&str>; 3] = [None; 3];
    for (k, v) in labels {
        f.attr("kubernetes.label", k, v);
        match k.as_str() {
            "nvidia.com/cuda.driver.major" | "nvidia.com/cuda.driver-version.major" => {
                driver[0] = Some(v)
            }
            "nvidia.com/cuda.driver.minor" | "nvidia.com/cuda.driver-version.minor" => {
                driver[1] = Some(v)
            }
            "nvidia.com/cuda.driver.rev" | "nvidia.com/cuda.driver-version.revision" => {
                driver[2] = Some(v)
            }
            _ => {}
        }
        let Some(rest) = k.strip_prefix(NFD) else {
            continue;
        };
        // Devices: pci-0300_10de.present=true, usb-ff_1234_5678.present=true.
        for (prefix, feature) in [("pci-", "pci.device"), ("usb-", "usb.device")] {
            let Some(ids) = rest
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(".present"))
            else {
                continue;
            };
            if v != "true" {
                continue;
            }
            let parts: Vec<&str> = ids.split('_').collect();
            let names: &[&str] = match parts.len() {
                1 => &["vendor"],
                2 => &["class", "vendor"],
                3 => &["class", "vendor", "device"],
                4 => &["class", "vendor", "device", "subsystem_vendor"],
                _ => &[
                    "class",
                    "vendor",
                    "device",
                    "subsystem_vendor",
                    "subsystem_device",
                ],
            };
            let dev: BTreeMap<String, String> = names
                .iter()
                .zip(&parts)
                .map(|(n, p)| ((*n).to_owned(), (*p).to_owned()))
                .collect();
            f.instances.entry(feature.to_owned()).or_default().push(dev);
        }
        let (feature, name) = match rest.split_once('.') {
            Some((feat, name)) => (feat.replacen('-', ".", 1), name.to_owned()),
            None => match rest.split_once('-') {
                Some((feat, name)) => (feat.to_owned(), name.to_owned()),
                None => ("nfd".to_owned(), rest.to_owned()),
            },
        };
        let feature = match feature.as_str() {
            "system.os_release" => "system.osrelease".to_owned(),
            _ => feature,
        };
        if FLAG_FEATURES.contains(&feature.as_str()) {
            if v == "true" {
                f.flags.entry(feature).or_default().insert(name);
            }
        } else {
            f.attr(&feature, &name, v);
        }
    }
    // Rules are written against `ocipick host` facts, which spell CPU flags
    // as /proc/cpuinfo does: add those spellings of NFD's names, and the
    // flags NFD hides by default that the flags it shows imply.
    if let Some(flags) = f.flags.get_mut("cpu.cpuid") {
        let mut add = Vec::new();
        for (_, level) in ocipick_host::X86_64_LEVELS {
            for flag in level.iter() {
                let implied = NFD_HIDDEN
                    .iter()
                    .any(|(h, by)| h == flag && flags.contains(*by));
                if implied || spellings(flag).iter().any(|s| flags.contains(s)) {
                    add.push(flag.to_ascii_uppercase());
                }
            }
        }
        flags.extend(add);
    }
    if let (Some(major), Some(minor)) = (driver[0], driver[1]) {
        let version = match driver[2] {
            Some(rev) => format!("{major}.{minor}.{rev}"),
            None => format!("{major}.{minor}"),
        };
        f.attr("nvidia.driver", "version", &version);
        f.attr("nvidia.driver", "major", major);
        f.attr("nvidia.driver", "minor", minor);
    }
    f
}

/// The flags NFD does not label by default (its attributeBlacklist), in
/// /proc/cpuinfo spelling, with the flag whose presence implies them.
const NFD_HIDDEN: &[(&str, &str)] = &[
    ("cx16", "AVX"),
    ("popcnt", "AVX"),
    ("pni", "AVX"),
    ("sse4_1", "AVX"),
    ("sse4_2", "AVX"),
    ("ssse3", "AVX"),
    ("bmi1", "AVX2"),
    ("bmi2", "AVX2"),
    ("f16c", "AVX2"),
    ("abm", "AVX2"),
];

/// Other spellings of the /proc/cpuinfo flags the x86-64 levels need
/// (NFD's, from the cpuid library it uses).
fn spellings(flag: &str) -> Vec<String> {
    let mut v = vec![flag.to_ascii_uppercase()];
    let extra: &[&str] = match flag {
        "cx16" => &["CMPXCHG16B"],
        "lahf_lm" => &["LAHF"],
        "pni" => &["SSE3"],
        "sse4_1" => &["SSE4", "SSE4.1"],
        "sse4_2" => &["SSE42", "SSE4.2"],
        "fma" => &["FMA3"],
        "abm" => &["LZCNT"],
        "xsave" => &["OSXSAVE"],
        _ => &[],
    };
    v.extend(extra.iter().map(|s| (*s).to_owned()));
    v
}

/// The x86-64 level of a node: `cpu.x86_64` `level` when the facts say it,
/// else from the `cpu.cpuid` flags; `None` without either. For label-made
/// facts, a flag NFD hides by default counts as present when the flag
/// implying it is there.
pub(crate) fn x86_level(facts: &Facts, from_labels: bool) -> Option<u8> {
    if let Some(l) = facts
        .attributes
        .get("cpu.x86_64")
        .and_then(|a| a.get("level"))
        .and_then(|l| l.trim().trim_start_matches('v').parse::<u8>().ok())
        .filter(|l| (1..=4).contains(l))
    {
        return Some(l);
    }
    let flags = facts.flags.get("cpu.cpuid").filter(|f| !f.is_empty())?;
    Some(ocipick_host::x86_64_level(|flag| {
        spellings(flag).iter().any(|s| flags.contains(s))
            || (from_labels
                && NFD_HIDDEN
                    .iter()
                    .any(|(f, by)| *f == flag && flags.contains(*by)))
    }))
}

fn amd64(level: Option<u8>) -> String {
    match level {
        Some(l) if l >= 2 => format!("linux/amd64/v{l}"),
        _ => "linux/amd64".to_owned(),
    }
}

/// A facts file's platform when it names none.
fn infer_platform(facts: &Facts) -> Option<String> {
    let flags = facts.flags.get("cpu.cpuid");
    let has = |f: &str| flags.is_some_and(|s| s.contains(f));
    if facts.attributes.contains_key("cpu.x86_64") || has("SSE2") || has("LM") || has("AVX") {
        return Some(amd64(x86_level(facts, false)));
    }
    if has("ASIMD") {
        return Some("linux/arm64".to_owned());
    }
    None
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

/// Name, platform selector, where from, and facts of every node.
fn collect_nodes(args: &CheckArgs) -> Result<Vec<(String, String, &'static str, Facts)>, Failure> {
    let mut nodes = Vec::new();
    for path in node_files(&args.node)? {
        let (facts, platform) = crate::run::load_node(&path)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let platform = platform.or_else(|| infer_platform(&facts)).ok_or_else(|| {
            Failure::Invalid(format!(
                "{}: names no platform and its facts do not tell one; add \"platform\": \"linux/amd64\" (or the like) to it",
                path.display()
            ))
        })?;
        nodes.push((name, platform, "facts file", facts));
    }
    for path in &args.nodes {
        let v = read_json(path)?;
        for (n, node) in items(&v, path, "Node")?.into_iter().enumerate() {
            let name = str_at(node, &["metadata", "name"]).ok_or_else(|| {
                Failure::Invalid(format!(
                    "{}: items[{n}] has no metadata.name",
                    path.display()
                ))
            })?;
            let labels: BTreeMap<String, String> = node
                .get("metadata")
                .and_then(|m| m.get("labels"))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let label = |keys: &[&str]| keys.iter().find_map(|k| labels.get(*k).cloned());
            let os = label(&["kubernetes.io/os", "beta.kubernetes.io/os"]).or_else(|| {
                str_at(node, &["status", "nodeInfo", "operatingSystem"]).map(str::to_owned)
            });
            let arch = label(&["kubernetes.io/arch", "beta.kubernetes.io/arch"]).or_else(|| {
                str_at(node, &["status", "nodeInfo", "architecture"]).map(str::to_owned)
            });
            let (Some(os), Some(arch)) = (os, arch) else {
                return Err(Failure::Invalid(format!(
                    "{}: node {name:?} has no kubernetes.io/os and kubernetes.io/arch labels",
                    path.display()
                )));
            };
            let facts = facts_from_labels(&labels);
            let platform = match (os.as_str(), arch.as_str()) {
                ("linux", "amd64") => amd64(x86_level(&facts, true)),
                ("windows", arch) => match labels.get("node.kubernetes.io/windows-build") {
                    Some(build) => format!("windows({build})/{arch}"),
                    None => format!("windows/{arch}"),
                },
                (os, arch) => format!("{os}/{arch}"),
            };
            nodes.push((name.to_owned(), platform, "kubectl", facts));
        }
    }
    let mut seen = BTreeSet::new();
    for (name, ..) in &nodes {
        if !seen.insert(name.as_str()) {
            return Err(Failure::Invalid(format!(
                "two nodes are named {name:?}; node names must be unique"
            )));
        }
    }
    Ok(nodes)
}

/// The configuration, read as select reads it.
fn config(args: &CheckArgs) -> Result<Config, Failure> {
    crate::run::load_config(&args.policy)
}

// ---------------------------------------------------------------------------
// Judging.

/// What one node gets from one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Fit,
    NoFit,
    Error,
}

impl Verdict {
    fn word(&self) -> &'static str {
        match self {
            Verdict::Fit => "fit",
            Verdict::NoFit => "no fit",
            Verdict::Error => "error",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Cell {
    verdict: Verdict,
    digest: Option<String>,
    /// The chosen entry's platform, as written.
    platform: Option<String>,
    position: Option<usize>,
    score: Option<i64>,
    /// Nested indexes descended through: `#POSITION DIGEST`.
    hops: Vec<String>,
    reasons: Vec<String>,
}

/// Everything known about one image.
pub(crate) struct ImageResult {
    origin: Option<String>,
    index_digest: Option<String>,
    /// Exit status the image's failure calls for (3 registry, 2 invalid)
    /// and the message.
    error: Option<(u8, String)>,
    cells: Vec<Cell>,
}

fn failure_text(f: Failure) -> (u8, String) {
    match f {
        Failure::Registry(m) => (3, m),
        Failure::Invalid(m) => (2, m),
        Failure::NoMatch { message, .. } => (1, message),
    }
}

fn error_cell(message: &str) -> Cell {
    Cell {
        verdict: Verdict::Error,
        digest: None,
        platform: None,
        position: None,
        score: None,
        hops: Vec::new(),
        reasons: vec![message.to_owned()],
    }
}

/// Nested indexes by digest, fetched and parsed once per image (or why
/// they could not be), whatever the number of nodes that descend into them.
type NestedCache = HashMap<String, Result<Rc<Index<'static>>, (u8, String)>>;

/// The cell for one node: select's choice, descending into nested indexes
/// where their content is at hand (fetched once per image).
fn judge(
    index: &Index<'_>,
    origin: &str,
    policy: &Policy,
    store: Option<&Store>,
    cache: &mut NestedCache,
    depth: usize,
) -> (Cell, Option<u8>) {
    let Some(sel) = policy.select(index) else {
        let mut reasons = vec![crate::run::no_match_message(origin, policy, index)];
        // Entries whose platform fits but that something else ruled out.
        for r in policy.rank(index).entries {
            let platform_ok = r
                .reasons
                .iter()
                .any(|x| matches!(x, Reason::PlatformMatches { .. }));
            if platform_ok && !r.eligible {
                let why: Vec<String> = r
                    .reasons
                    .iter()
                    .filter(|x| !matches!(x, Reason::PlatformMatches { .. }))
                    .map(ToString::to_string)
                    .collect();
                reasons.push(format!("#{}: {}", r.position, why.join("; ")));
            }
        }
        return (
            Cell {
                verdict: Verdict::NoFit,
                digest: None,
                platform: None,
                position: None,
                score: None,
                hops: Vec::new(),
                reasons,
            },
            None,
        );
    };
    let d = sel.descriptor;
    if let Some(store) = store {
        if media_type::kind(&d.media_type) == Kind::Index && depth < crate::run::MAX_DEPTH {
            let key = d.digest.to_string();
            let nested_origin = store.origin(d);
            let got = cache
                .entry(key.clone())
                .or_insert_with(|| {
                    let bytes = store.fetch(d).map_err(failure_text)?;
                    Index::parse(&bytes)
                        .map(|i| Rc::new(i.into_owned()))
                        .map_err(|e| (2, format!("{nested_origin}: {e}")))
                })
                .clone();
            let hop = format!("#{} {key}", sel.position);
            let nested = match got {
                Ok(i) => i,
                Err((code, m)) => {
                    let mut c = error_cell(&m);
                    c.hops.push(hop);
                    return (c, Some(code));
                }
            };
            let (mut cell, code) = judge(
                &nested,
                &nested_origin,
                policy,
                Some(store),
                cache,
                depth + 1,
            );
            cell.hops.insert(0, hop);
            return (cell, code);
        }
    }
    let ranked = policy.explain(index, sel.position);
    (
        Cell {
            verdict: Verdict::Fit,
            digest: Some(d.digest.to_string()),
            platform: d.platform.as_ref().map(Platform::to_string),
            position: Some(sel.position),
            score: Some(sel.score),
            hops: Vec::new(),
            reasons: ranked.reasons.iter().map(ToString::to_string).collect(),
        },
        None,
    )
}

/// Loads one image once and judges it for every node.
fn check_image(
    source: &str,
    registry: &RegistryArgs,
    max_index: u64,
    nodes: &[Node],
) -> ImageResult {
    let failed =
        |origin: Option<String>, digest: Option<String>, (code, m): (u8, String)| ImageResult {
            origin,
            index_digest: digest,
            cells: nodes.iter().map(|_| error_cell(&m)).collect(),
            error: Some((code, m)),
        };
    let (origin, doc, store) = match crate::run::load_source(source, None, registry, max_index) {
        Ok(x) => x,
        Err(f) => return failed(None, None, failure_text(f)),
    };
    let (index, index_digest) = match &doc {
        Doc::Bytes(b) => {
            let digest = Digest::sha256_of(b).to_string();
            match Index::parse(b) {
                Ok(i) => (i, Some(digest)),
                Err(e) => {
                    return failed(
                        Some(origin.clone()),
                        Some(digest),
                        (2, format!("{origin}: {e}")),
                    )
                }
            }
        }
        Doc::Single(d) => (Index::single((**d).clone()), None),
    };
    let mut cache = NestedCache::new();
    let mut worst: Option<u8> = None;
    let cells = nodes
        .iter()
        .map(|n| {
            let (cell, code) = judge(&index, &origin, &n.policy, store.as_ref(), &mut cache, 0);
            if let Some(c) = code {
                worst = Some(worst.map_or(c, |w| w.max(c)));
            }
            cell
        })
        .collect();
    ImageResult {
        origin: Some(origin),
        index_digest,
        error: worst.map(|c| (c, "a nested index could not be read".to_owned())),
        cells,
    }
}

/// `ocipick check`: the report, and the exit status it calls for: 3 when
/// an image could not be fetched from its registry, else 2 when an image
/// could not be read or is invalid, else 1 when some pair has no fit,
/// else 0. Usage errors and unreadable node or pod files fail the run
/// ([`Failure::Invalid`], exit 2) before anything is loaded.
pub fn run(args: &CheckArgs) -> Result<(String, u8), Failure> {
    let images = collect_images(args)?;
    if images.is_empty() {
        return Err(Failure::Invalid(
            "no images to check: give SOURCE arguments, --images FILE or --pods FILE".into(),
        ));
    }
    let node_list = collect_nodes(args)?;
    if node_list.is_empty() {
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
    let config = config(args)?;
    if !config.hooks.is_empty() {
        crate::say::warn(&format!(
            "check does not run selection hooks ({} configured); their adjustments are not in this report",
            config.hooks.len()
        ));
    }
    let max_index = args
        .max_index_bytes
        .or(config.max_index_bytes)
        .unwrap_or(crate::run::DEFAULT_MAX_INDEX_BYTES);
    let host = ocipick_host::platform(Path::new("/"));
    let mut nodes = Vec::with_capacity(node_list.len());
    for (name, platform, from, facts) in node_list {
        let target = ocipick::platform::spelling::parse(&platform, &host)
            .map_err(|e| Failure::Invalid(format!("node {name:?}: platform {e}")))?;
        let policy = crate::run::build_policy(&target, &config, &args.policy, &facts);
        nodes.push(Node {
            name,
            platform: target.to_string(),
            from,
            facts,
            policy,
        });
    }

    let results = load_all(
        &images,
        &nodes,
        &args.registry,
        max_index,
        args.jobs as usize,
    );
    let report = Report {
        images: &images,
        nodes: &nodes,
        results: &results,
    };
    let status = report.status();
    let text = match args.output {
        CheckOutput::Text => report.text(),
        CheckOutput::Json => report.json(),
        CheckOutput::Csv => report.csv(),
        CheckOutput::Html => report.html(),
    };
    Ok((text, status))
}

/// Loads and judges every image, `jobs` at a time; shows progress on a
/// terminal.
fn load_all(
    images: &[ImageSpec],
    nodes: &[Node],
    registry: &RegistryArgs,
    max_index: u64,
    jobs: usize,
) -> Vec<ImageResult> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<ImageResult>>> =
        Mutex::new((0..images.len()).map(|_| None).collect());
    let progress = std::io::stderr().is_terminal() && images.len() > 1;
    let workers = jobs.clamp(1, images.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= images.len() {
                    break;
                }
                let r = check_image(&images[i].source, registry, max_index, nodes);
                slots.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if progress {
                    eprint!("\rocipick check: {d}/{} images", images.len());
                }
            });
        }
    });
    if progress {
        eprint!("\r\x1b[K");
    }
    slots
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every image was checked"))
        .collect()
}

// ---------------------------------------------------------------------------
// Output.

struct Report<'r> {
    images: &'r [ImageSpec],
    nodes: &'r [Node],
    results: &'r [ImageResult],
}

/// The first 12 hex digits of a digest, as `docker images` shows them.
fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

fn cell_word(c: &Cell) -> String {
    match c.verdict {
        Verdict::Fit => short(c.digest.as_deref().unwrap_or("")),
        Verdict::NoFit => "NO FIT".into(),
        Verdict::Error => "ERROR".into(),
    }
}

#[derive(Default, Clone, Copy)]
struct Counts {
    fit: usize,
    no_fit: usize,
    error: usize,
}

impl Counts {
    fn add(&mut self, c: &Cell) {
        match c.verdict {
            Verdict::Fit => self.fit += 1,
            Verdict::NoFit => self.no_fit += 1,
            Verdict::Error => self.error += 1,
        }
    }
    fn json(&self) -> Value {
        json!({"fit": self.fit, "no_fit": self.no_fit, "error": self.error})
    }
}

#[derive(serde::Serialize)]
struct JsonReport<'r, 'a> {
    images: Vec<Value>,
    nodes: Vec<Value>,
    results: Rows<'r, 'a>,
    summary: Value,
}

/// Every image × node pair, serialized lazily from the report.
struct Rows<'r, 'a>(&'r Report<'a>);

#[derive(serde::Serialize)]
struct Row<'c> {
    image: &'c str,
    node: &'c str,
    result: &'static str,
    digest: &'c Option<String>,
    platform: &'c Option<String>,
    position: Option<usize>,
    score: Option<i64>,
    nested: &'c [String],
    reasons: &'c [String],
}

impl serde::Serialize for Rows<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        ser.collect_seq(r.images.iter().zip(r.results).flat_map(|(i, res)| {
            r.nodes.iter().zip(&res.cells).map(move |(n, c)| Row {
                image: &i.source,
                node: &n.name,
                result: c.verdict.word(),
                digest: &c.digest,
                platform: &c.platform,
                position: c.position,
                score: c.score,
                nested: &c.hops,
                reasons: &c.reasons,
            })
        }))
    }
}

impl Report<'_> {
    fn status(&self) -> u8 {
        let worst = self
            .results
            .iter()
            .filter_map(|r| r.error.as_ref().map(|e| e.0))
            .max();
        match worst {
            Some(3) => 3,
            Some(_) => 2,
            None if self.total().no_fit > 0 => 1,
            None => 0,
        }
    }

    fn per_image(&self, i: usize) -> Counts {
        let mut c = Counts::default();
        self.results[i].cells.iter().for_each(|x| c.add(x));
        c
    }

    fn per_node(&self, n: usize) -> Counts {
        let mut c = Counts::default();
        self.results.iter().for_each(|r| c.add(&r.cells[n]));
        c
    }

    fn total(&self) -> Counts {
        let mut c = Counts::default();
        self.results
            .iter()
            .flat_map(|r| &r.cells)
            .for_each(|x| c.add(x));
        c
    }

    /// Nodes where image `i` does not fit (or failed).
    fn misses_of_image(&self, i: usize) -> Vec<&str> {
        self.results[i]
            .cells
            .iter()
            .zip(self.nodes)
            .filter(|(c, _)| c.verdict == Verdict::NoFit)
            .map(|(_, n)| n.name.as_str())
            .collect()
    }

    fn misses_of_node(&self, n: usize) -> Vec<&str> {
        self.results
            .iter()
            .zip(self.images)
            .filter(|(r, _)| r.cells[n].verdict == Verdict::NoFit)
            .map(|(_, i)| i.source.as_str())
            .collect()
    }

    /// The matrix and summaries. Image, node, platform and pod names and
    /// error messages come from documents, labels and pod specs: they are
    /// printed through [`visible`], so a control character is shown escaped
    /// (`\u{1b}`, `\n`) and never reaches the terminal or forges a line.
    fn text(&self) -> String {
        let images: Vec<Cow<'_, str>> = self.images.iter().map(|i| visible(&i.source)).collect();
        let names: Vec<Cow<'_, str>> = self.nodes.iter().map(|n| visible(&n.name)).collect();
        let platforms: Vec<Cow<'_, str>> =
            self.nodes.iter().map(|n| visible(&n.platform)).collect();
        let w0 = images
            .iter()
            .map(|i| i.chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        let widths: Vec<usize> = names
            .iter()
            .zip(&platforms)
            .map(|(n, p)| n.chars().count().max(p.chars().count()).max(12))
            .collect();
        let mut out = String::new();
        let pad = |out: &mut String, s: &str, w: usize| {
            out.push_str(s);
            for _ in s.chars().count()..w {
                out.push(' ');
            }
        };
        pad(&mut out, "IMAGE", w0);
        for (n, w) in names.iter().zip(&widths) {
            out.push_str("  ");
            pad(&mut out, n, *w);
        }
        trim_end(&mut out);
        out.push('\n');
        pad(&mut out, "", w0);
        for (p, w) in platforms.iter().zip(&widths) {
            out.push_str("  ");
            pad(&mut out, p, *w);
        }
        trim_end(&mut out);
        out.push('\n');
        for (img, r) in images.iter().zip(self.results) {
            pad(&mut out, img, w0);
            for (c, w) in r.cells.iter().zip(&widths) {
                out.push_str("  ");
                pad(&mut out, &cell_word(c), *w);
            }
            trim_end(&mut out);
            out.push('\n');
        }
        let list =
            |v: Vec<&str>| -> String { v.into_iter().map(visible).collect::<Vec<_>>().join(", ") };
        out.push_str("\nimages:\n");
        for (i, img) in self.images.iter().enumerate() {
            let c = self.per_image(i);
            let r = &self.results[i];
            out.push_str(&format!("  {}: ", images[i]));
            if let Some((_, m)) = r.error.as_ref().filter(|_| c.fit + c.no_fit == 0) {
                out.push_str(&format!("ERROR: {}", visible(m)));
            } else {
                out.push_str(&format!("fits {} of {} nodes", c.fit, self.nodes.len()));
                let miss = self.misses_of_image(i);
                if !miss.is_empty() {
                    out.push_str(&format!("; no fit on {}", list(miss)));
                }
                if c.error > 0 {
                    out.push_str(&format!("; {} errors", c.error));
                }
            }
            if !img.pods.is_empty() {
                let pods: Vec<&str> = img.pods.iter().map(String::as_str).collect();
                out.push_str(&format!(
                    " (used by {} pod{}: {})",
                    pods.len(),
                    if pods.len() == 1 { "" } else { "s" },
                    list(pods)
                ));
            }
            out.push('\n');
        }
        out.push_str("nodes:\n");
        for n in 0..self.nodes.len() {
            let c = self.per_node(n);
            out.push_str(&format!(
                "  {} ({}): {} of {} images fit",
                names[n],
                platforms[n],
                c.fit,
                self.images.len()
            ));
            let miss = self.misses_of_node(n);
            if !miss.is_empty() {
                out.push_str(&format!("; no fit for {}", list(miss)));
            }
            if c.error > 0 {
                out.push_str(&format!("; {} errors", c.error));
            }
            out.push('\n');
        }
        let t = self.total();
        out.push_str(&format!(
            "{} pairs: {} fit, {} no fit, {} errors\n",
            t.fit + t.no_fit + t.error,
            t.fit,
            t.no_fit,
            t.error
        ));
        out
    }

    fn json(&self) -> String {
        let images: Vec<Value> = self
            .images
            .iter()
            .zip(self.results)
            .map(|(i, r)| {
                json!({
                    "image": i.source,
                    "pods": i.pods,
                    "origin": r.origin,
                    "index_digest": r.index_digest,
                    "error": r.error.as_ref().map(|e| &e.1),
                })
            })
            .collect();
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|n| json!({"name": n.name, "platform": n.platform, "from": n.from}))
            .collect();
        let per_image: serde_json::Map<String, Value> = self
            .images
            .iter()
            .enumerate()
            .map(|(i, img)| (img.source.clone(), self.per_image(i).json()))
            .collect();
        let per_node: serde_json::Map<String, Value> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(n, node)| (node.name.clone(), self.per_node(n).json()))
            .collect();
        let t = self.total();
        let summary = json!({
                "images": self.images.len(),
                "nodes": self.nodes.len(),
                "pairs": t.fit + t.no_fit + t.error,
                "fit": t.fit,
                "no_fit": t.no_fit,
                "error": t.error,
                "per_image": per_image,
                "per_node": per_node,
                "exit_status": self.status(),
        });
        // The pairs (images × nodes: 200,000 for a large fleet) are written
        // straight from the report, not built as a JSON tree first.
        let top = JsonReport {
            images,
            nodes,
            results: Rows(self),
            summary,
        };
        let mut out = Vec::new();
        serde_json::to_writer_pretty(&mut out, &top).expect("JSON serializes");
        out.push(b'\n');
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    fn csv(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "image,pods,node,node_platform,result,digest,platform,position,score,reasons\n",
        );
        for (i, r) in self.images.iter().zip(self.results) {
            let pods: Vec<&str> = i.pods.iter().map(String::as_str).collect();
            for (n, c) in self.nodes.iter().zip(&r.cells) {
                let mut reasons = c
                    .hops
                    .iter()
                    .map(|h| format!("nested index {h}"))
                    .collect::<Vec<_>>();
                reasons.extend(c.reasons.iter().cloned());
                let fields = [
                    i.source.clone(),
                    pods.join(" "),
                    n.name.clone(),
                    n.platform.clone(),
                    c.verdict.word().to_owned(),
                    c.digest.clone().unwrap_or_default(),
                    c.platform.clone().unwrap_or_default(),
                    c.position.map(|p| p.to_string()).unwrap_or_default(),
                    c.score.map(|p| p.to_string()).unwrap_or_default(),
                    reasons.join("; "),
                ];
                let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                out.push_str(&row.join(","));
                out.push('\n');
            }
        }
        out
    }

    fn html(&self) -> String {
        // Columns grouped by platform, in order of first appearance.
        let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
        for (n, node) in self.nodes.iter().enumerate() {
            match groups.iter_mut().find(|(p, _)| *p == node.platform) {
                Some((_, v)) => v.push(n),
                None => groups.push((&node.platform, vec![n])),
            }
        }
        let order: Vec<usize> = groups.iter().flat_map(|(_, v)| v.iter().copied()).collect();
        let t = self.total();
        let mut h = String::new();
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>ocipick check</title>\n<style>\n");
        h.push_str(CSS);
        h.push_str("</style>\n</head>\n<body>\n<h1>ocipick check</h1>\n");
        h.push_str(&format!(
            "<p class=\"summary\">{} images &times; {} nodes: <span class=\"fit\">{} fit</span>, <span class=\"nofit\">{} no fit</span>, <span class=\"error\">{} errors</span>. Hover over a cell for the reasons of its choice.</p>\n",
            self.images.len(),
            self.nodes.len(),
            t.fit,
            t.no_fit,
            t.error
        ));
        h.push_str("<table class=\"matrix\">\n<thead>\n<tr><th rowspan=\"2\" class=\"corner\">image \\ node</th>");
        for (p, v) in &groups {
            h.push_str(&format!(
                "<th colspan=\"{}\" class=\"group\">{}</th>",
                v.len(),
                esc(p)
            ));
        }
        h.push_str("</tr>\n<tr>");
        for &n in &order {
            let node = &self.nodes[n];
            let c = self.per_node(n);
            let title = format!(
                "{} ({}, from {}): {} fit, {} no fit, {} errors; {} facts",
                node.name,
                node.platform,
                node.from,
                c.fit,
                c.no_fit,
                c.error,
                node.facts.flatten().len()
            );
            h.push_str(&format!(
                "<th class=\"node\" title=\"{}\">{}</th>",
                esc(&title),
                esc(&node.name)
            ));
        }
        h.push_str("</tr>\n</thead>\n<tbody>\n");
        for (i, (img, r)) in self.images.iter().zip(self.results).enumerate() {
            let c = self.per_image(i);
            let mut title = format!(
                "{}\nfits {} of {} nodes",
                img.source,
                c.fit,
                self.nodes.len()
            );
            if let Some(d) = &r.index_digest {
                title.push_str(&format!("\nindex {d}"));
            }
            if !img.pods.is_empty() {
                title.push_str("\npods: ");
                title.push_str(&img.pods.iter().cloned().collect::<Vec<_>>().join(", "));
            }
            h.push_str(&format!(
                "<tr><th class=\"image\" title=\"{}\">{}</th>",
                esc(&title),
                esc(&img.source)
            ));
            for &n in &order {
                let cell = &r.cells[n];
                let class = match cell.verdict {
                    Verdict::Fit => "fit",
                    Verdict::NoFit => "nofit",
                    Verdict::Error => "error",
                };
                let mut why = vec![format!(
                    "{} on {} ({})",
                    img.source, self.nodes[n].name, self.nodes[n].platform
                )];
                if let Some(d) = &cell.digest {
                    why.push(format!(
                        "{d} (entry #{}, score {}{})",
                        cell.position.unwrap_or(0),
                        cell.score.unwrap_or(0),
                        cell.platform
                            .as_ref()
                            .map(|p| format!(", {p}"))
                            .unwrap_or_default()
                    ));
                }
                why.extend(cell.hops.iter().map(|x| format!("nested index {x}")));
                why.extend(cell.reasons.iter().cloned());
                h.push_str(&format!(
                    "<td class=\"{class}\" title=\"{}\">{}</td>",
                    esc(&why.join("\n")),
                    esc(&cell_word(cell))
                ));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n</table>\n");
        h.push_str("<p class=\"legend\"><span class=\"fit\">digest</span> the manifest the node gets &middot; <span class=\"nofit\">NO FIT</span> no entry runs there &middot; <span class=\"error\">ERROR</span> the index could not be read</p>\n");
        h.push_str("<h2>Images</h2>\n<table class=\"list\">\n<tr><th>image</th><th>fit</th><th>no fit</th><th>errors</th><th>pods</th><th>notes</th></tr>\n");
        for (i, (img, r)) in self.images.iter().zip(self.results).enumerate() {
            let c = self.per_image(i);
            let pods: Vec<&str> = img.pods.iter().map(String::as_str).collect();
            let note = r.error.as_ref().map(|e| e.1.as_str()).unwrap_or("");
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&img.source),
                c.fit,
                c.no_fit,
                c.error,
                esc(&pods.join(", ")),
                esc(note)
            ));
        }
        h.push_str("</table>\n<h2>Nodes</h2>\n<table class=\"list\">\n<tr><th>node</th><th>platform</th><th>from</th><th>fit</th><th>no fit</th><th>errors</th></tr>\n");
        for &n in &order {
            let node = &self.nodes[n];
            let c = self.per_node(n);
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&node.name),
                esc(&node.platform),
                node.from,
                c.fit,
                c.no_fit,
                c.error
            ));
        }
        h.push_str("</table>\n<p class=\"foot\">Made by ocipick check. Selection hooks are not run by check.</p>\n</body>\n</html>\n");
        h
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

fn trim_end(s: &mut String) {
    while s.ends_with(' ') {
        s.pop();
    }
}

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

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn nfd_labels_become_facts() {
        let f = facts_from_labels(&labels(&[
            ("feature.node.kubernetes.io/cpu-cpuid.AVX2", "true"),
            ("feature.node.kubernetes.io/cpu-cpuid.AVX", "true"),
            ("feature.node.kubernetes.io/kernel-version.full", "6.1.0"),
            ("feature.node.kubernetes.io/system-os_release.ID", "ubuntu"),
            (
                "feature.node.kubernetes.io/system-os_release.VERSION_ID.major",
                "22",
            ),
            ("feature.node.kubernetes.io/pci-0300_10de.present", "true"),
            (
                "feature.node.kubernetes.io/cpu-hardware_multithreading",
                "true",
            ),
            ("nvidia.com/cuda.driver.major", "550"),
            ("nvidia.com/cuda.driver.minor", "90"),
            ("nvidia.com/cuda.driver.rev", "07"),
            ("kubernetes.io/hostname", "n1"),
        ]));
        let flat = f.flatten();
        let one = |k: &str| flat.get(k).and_then(|s| s.iter().next()).cloned();
        assert!(flat["cpu.cpuid"].contains("AVX2"));
        assert_eq!(one("kernel.version.full").as_deref(), Some("6.1.0"));
        assert_eq!(one("system.osrelease.ID").as_deref(), Some("ubuntu"));
        assert_eq!(
            one("system.osrelease.VERSION_ID.major").as_deref(),
            Some("22")
        );
        assert_eq!(one("pci.device.vendor").as_deref(), Some("10de"));
        assert_eq!(one("pci.device.class").as_deref(), Some("0300"));
        assert_eq!(one("cpu.hardware_multithreading").as_deref(), Some("true"));
        assert_eq!(one("nvidia.driver.version").as_deref(), Some("550.90.07"));
        assert_eq!(
            one("kubernetes.label.kubernetes.io/hostname").as_deref(),
            Some("n1")
        );
        assert!(f.has_pci_vendor("10de"));
    }

    #[test]
    fn levels_from_labels() {
        let l = |flags: &[&str], from_labels| {
            let mut f = Facts::default();
            f.flags.insert(
                "cpu.cpuid".into(),
                flags.iter().map(|s| (*s).to_owned()).collect(),
            );
            x86_level(&f, from_labels)
        };
        // What NFD labels on an x86-64-v3 machine by default.
        let v3 = ["AVX", "AVX2", "FMA3", "MOVBE", "OSXSAVE", "LAHF"];
        assert_eq!(l(&v3, true), Some(3));
        assert_eq!(l(&v3, false), Some(1), "facts files list every flag");
        assert_eq!(l(&["LAHF", "AVX"], true), Some(2));
        assert_eq!(l(&[], true), None);
        assert_eq!(amd64(Some(1)), "linux/amd64");
        assert_eq!(amd64(Some(3)), "linux/amd64/v3");
    }
}
