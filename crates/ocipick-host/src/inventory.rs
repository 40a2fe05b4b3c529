//! Node inventories and workloads, as a fleet tool reads them: facts files
//! (`ocipick host --output json`, `nfd export features`), the JSON of
//! `kubectl get nodes -o json` (node-feature-discovery labels become
//! [`Facts`]) and of `kubectl get pods -A -o json` (every init, app and
//! ephemeral container, with the image it names and the `imageID` its
//! status reports).
//!
//! Parsing is pure: give it a parsed JSON value (or bytes), get nodes and
//! pods. Reading files, with their size limits, is the caller's.
//! Together with [`ocipick::fleet`] this is what a scheduler extender or
//! an admission webhook needs to answer "which build would each node that
//! this pod may land on get?":
//!
//! ```
//! use ocipick_host::inventory;
//!
//! let nodes = inventory::nodes_from_kubectl(&serde_json::json!({
//!   "kind": "List", "items": [
//!     {"kind": "Node", "metadata": {"name": "gpu-1", "labels": {
//!        "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
//!        "pool": "gpu",
//!        "feature.node.kubernetes.io/pci-0300_10de.present": "true"}}},
//!     {"kind": "Node", "metadata": {"name": "arm-1", "labels": {
//!        "kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}}}]}))?;
//! assert_eq!(nodes[0].platform, "linux/amd64");
//! assert!(nodes[0].facts.has_pci_vendor("10de"));
//!
//! let pods = inventory::pods_from_kubectl(&serde_json::json!({
//!   "kind": "Pod", "metadata": {"name": "train", "namespace": "ml"},
//!   "spec": {"nodeSelector": {"pool": "gpu"},
//!            "containers": [{"name": "t", "image": "registry.example/ml/train:1"}]}}))?;
//! // The nodes this pod may be scheduled on.
//! let fits: Vec<&str> = nodes
//!     .iter()
//!     .filter(|n| n.matches_selector(&pods[0].node_selector))
//!     .map(|n| n.name.as_str())
//!     .collect();
//! assert_eq!(fits, ["gpu-1"]);
//! assert_eq!(pods[0].containers[0].image, "registry.example/ml/train:1");
//! # Ok::<(), ocipick_host::inventory::InventoryError>(())
//! ```
//!
//! And with [`ocipick::fleet`], which build each of those nodes would get
//! (an admission webhook's question: refuse the pod when some class has
//! no fit):
//!
//! ```
//! use ocipick::fleet::{self, Fleet, Template, Verdict};
//! use ocipick_host::inventory;
//!
//! let nodes = inventory::nodes_from_kubectl(&serde_json::json!({"items": [
//!   {"metadata": {"name": "gpu-1", "labels": {"kubernetes.io/os": "linux",
//!     "kubernetes.io/arch": "amd64", "pool": "gpu"}}},
//!   {"metadata": {"name": "arm-1", "labels": {"kubernetes.io/os": "linux",
//!     "kubernetes.io/arch": "arm64", "pool": "gpu"}}},
//!   {"metadata": {"name": "web-1", "labels": {"kubernetes.io/os": "linux",
//!     "kubernetes.io/arch": "amd64", "pool": "web"}}}]}))?;
//! let host = ocipick::Platform::new("linux", "amd64", None);
//! let fleet = Fleet::new(
//!     &Template::new(),
//!     nodes.iter().map(|n| {
//!         let target = ocipick::platform::spelling::parse(&n.platform, &host).unwrap();
//!         (target, n.facts.flatten())
//!     }),
//! );
//! let selector = [("pool".to_owned(), "gpu".to_owned())].into();
//! let eligible = (0..nodes.len()).filter(|&i| nodes[i].matches_selector(&selector));
//! let classes = fleet.classes_of(eligible);
//! assert_eq!(classes.len(), 2, "amd64 and arm64");
//!
//! let index = ocipick::Index::parse(br#"{"schemaVersion":2,"manifests":[
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,
//!    "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
//!    "platform":{"architecture":"amd64","os":"linux"}}]}"#).unwrap();
//! let mut no_nesting = |_: &ocipick::Descriptor<'_>, _: usize| None::<Result<fleet::Nested, String>>;
//! let cells: Vec<fleet::Cell> = classes
//!     .iter()
//!     .map(|&c| fleet::judge_class(&fleet.classes()[c], &index, "train:1", &mut no_nesting).0)
//!     .collect();
//! assert_eq!(cells[0].build(), "#0 amd64 first match");
//! // No arm64 build: this pod could land on arm-1 and not run there.
//! assert_eq!(cells[1].verdict, Verdict::NoFit);
//! assert!(cells[1].reasons[0].starts_with("no manifest for linux/arm64"));
//! # Ok::<(), ocipick_host::inventory::InventoryError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::Facts;

/// Why an inventory or pods document was refused. The message names the
/// place (`items[3].spec.containers[0]`) and quotes names with control
/// characters escaped (Rust's `{:?}`), so it is safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryError(pub String);

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InventoryError {}

fn err(m: impl Into<String>) -> InventoryError {
    InventoryError(m.into())
}

/// Where a node's description came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSource {
    /// A facts file (`ocipick host --output json`, `nfd export features`).
    FactsFile,
    /// `kubectl get nodes -o json`.
    Kubectl,
}

impl NodeSource {
    /// `facts file` or `kubectl`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeSource::FactsFile => "facts file",
            NodeSource::Kubectl => "kubectl",
        }
    }
}

/// One node of an inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `metadata.name`, or a facts file's stem.
    pub name: String,
    /// The platform selector, e.g. `linux/amd64/v3` or
    /// `windows(10.0.20348)/amd64` (parse it with
    /// [`ocipick::platform::spelling::parse`]).
    pub platform: String,
    /// Where it was described.
    pub from: NodeSource,
    /// Its Kubernetes labels (none for a facts file).
    pub labels: BTreeMap<String, String>,
    /// Its facts, as rules name them.
    pub facts: Facts,
}

impl Node {
    /// Whether the node's labels hold every `key: value` of a pod's
    /// `spec.nodeSelector` (an empty selector matches every node).
    pub fn matches_selector(&self, selector: &BTreeMap<String, String>) -> bool {
        selector
            .iter()
            .all(|(k, v)| self.labels.get(k).is_some_and(|l| l == v))
    }
}

/// A node described by a facts file: the facts and the platform the file
/// names ([`Facts::from_nfd_json`]); without a platform, one inferred from
/// the facts ([`infer_platform`]), else an error.
///
/// ```
/// use ocipick_host::{inventory, Facts};
/// let mut facts = Facts::default();
/// facts.flags.insert("cpu.cpuid".into(), ["ASIMD".to_owned()].into());
/// let n = inventory::node_from_facts("pi", facts, None)?;
/// assert_eq!(n.platform, "linux/arm64");
/// # Ok::<(), ocipick_host::inventory::InventoryError>(())
/// ```
pub fn node_from_facts(
    name: &str,
    facts: Facts,
    platform: Option<String>,
) -> Result<Node, InventoryError> {
    let platform = platform.or_else(|| infer_platform(&facts)).ok_or_else(|| {
        err("names no platform and its facts do not tell one; add \"platform\": \"linux/amd64\" (or the like) to it")
    })?;
    Ok(Node {
        name: name.to_owned(),
        platform,
        from: NodeSource::FactsFile,
        labels: BTreeMap::new(),
        facts,
    })
}

/// `items` of a kubectl list, or the one object itself when it is of `kind`.
fn items<'v>(v: &'v Value, kind: &str) -> Result<Vec<&'v Value>, InventoryError> {
    match v.get("items") {
        Some(Value::Array(a)) => Ok(a.iter().collect()),
        Some(_) => Err(err("items is not an array")),
        None if v.get("kind").and_then(Value::as_str) == Some(kind) => Ok(vec![v]),
        None => Err(err(format!(
            "not the JSON of `kubectl get {}s -o json` (no items)",
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

/// A string map (`labels`, `nodeSelector`); non-string values are kept as
/// their JSON text.
fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
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
        .unwrap_or_default()
}

/// The nodes of `kubectl get nodes -o json` (a `List` with `items`, or one
/// `Node`). Name: `metadata.name`. Platform: `kubernetes.io/os` and
/// `kubernetes.io/arch` (or the `beta.` labels, or `status.nodeInfo`);
/// Windows nodes get `windows(BUILD)/ARCH` from
/// `node.kubernetes.io/windows-build`; `linux/amd64` gets the x86-64 level
/// the cpuid labels allow (`linux/amd64/v3`). Facts: [`facts_from_labels`].
pub fn nodes_from_kubectl(v: &Value) -> Result<Vec<Node>, InventoryError> {
    let mut nodes = Vec::new();
    for (n, node) in items(v, "Node")?.into_iter().enumerate() {
        let name = str_at(node, &["metadata", "name"])
            .ok_or_else(|| err(format!("items[{n}] has no metadata.name")))?;
        let labels = string_map(node.get("metadata").and_then(|m| m.get("labels")));
        nodes.push(make_node(
            name,
            labels,
            str_at(node, &["status", "nodeInfo", "operatingSystem"]),
            str_at(node, &["status", "nodeInfo", "architecture"]),
        )?);
    }
    Ok(nodes)
}

/// One kubectl node from its name, labels and `status.nodeInfo`.
fn make_node(
    name: &str,
    labels: BTreeMap<String, String>,
    info_os: Option<&str>,
    info_arch: Option<&str>,
) -> Result<Node, InventoryError> {
    let label = |keys: &[&str]| keys.iter().find_map(|k| labels.get(*k).cloned());
    let os = label(&["kubernetes.io/os", "beta.kubernetes.io/os"])
        .or_else(|| info_os.map(str::to_owned));
    let arch = label(&["kubernetes.io/arch", "beta.kubernetes.io/arch"])
        .or_else(|| info_arch.map(str::to_owned));
    let (Some(os), Some(arch)) = (os, arch) else {
        return Err(err(format!(
            "node {name:?} has no kubernetes.io/os and kubernetes.io/arch labels"
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
    Ok(Node {
        name: name.to_owned(),
        platform,
        from: NodeSource::Kubectl,
        labels,
        facts,
    })
}

/// The parts of a kubectl node document [`parse_nodes`] reads; the rest
/// is skipped without being kept.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct RawNode {
    kind: Option<String>,
    items: Option<Vec<RawNode>>,
    metadata: RawMeta,
    status: RawStatus,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct RawMeta {
    name: Option<String>,
    labels: BTreeMap<String, Value>,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct RawStatus {
    #[serde(rename = "nodeInfo")]
    node_info: RawInfo,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct RawInfo {
    #[serde(rename = "operatingSystem")]
    operating_system: Option<String>,
    architecture: Option<String>,
}

/// [`nodes_from_kubectl`] from the bytes of the document: the same nodes
/// and errors. It reads only the fields it needs into typed values rather
/// than building a `serde_json::Value` of the whole document (for 15,000
/// nodes that tree is most of a run's memory); a document these types do
/// not fit (a wrong type somewhere, a duplicate key) goes the `Value` way,
/// for the same answer and message.
pub fn parse_nodes(bytes: &[u8]) -> Result<Vec<Node>, InventoryError> {
    let Ok(raw) = serde_json::from_slice::<RawNode>(bytes) else {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| err(format!("not JSON: {e}")))?;
        return nodes_from_kubectl(&v);
    };
    let items = match raw.items {
        Some(items) => items,
        None if raw.kind.as_deref() == Some("Node") => vec![RawNode { items: None, ..raw }],
        None => {
            return Err(err(
                "not the JSON of `kubectl get nodes -o json` (no items)",
            ))
        }
    };
    let mut nodes = Vec::with_capacity(items.len());
    for (n, node) in items.into_iter().enumerate() {
        let name = node
            .metadata
            .name
            .ok_or_else(|| err(format!("items[{n}] has no metadata.name")))?;
        let labels = node
            .metadata
            .labels
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
        let info = node.status.node_info;
        nodes.push(make_node(
            &name,
            labels,
            info.operating_system.as_deref(),
            info.architecture.as_deref(),
        )?);
    }
    Ok(nodes)
}

/// An error when two nodes share a name (node names must be unique).
pub fn check_unique_names(nodes: &[Node]) -> Result<(), InventoryError> {
    let mut seen = BTreeSet::new();
    for n in nodes {
        if !seen.insert(n.name.as_str()) {
            return Err(err(format!(
                "two nodes are named {:?}; node names must be unique",
                n.name
            )));
        }
    }
    Ok(())
}

/// Which list of a pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContainerKind {
    /// `spec.initContainers`.
    Init,
    /// `spec.containers`.
    App,
    /// `spec.ephemeralContainers` (`kubectl debug`).
    Ephemeral,
}

impl ContainerKind {
    /// `init`, `app` or `ephemeral`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerKind::Init => "init",
            ContainerKind::App => "app",
            ContainerKind::Ephemeral => "ephemeral",
        }
    }
}

/// One container of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Its `name` (empty when the spec has none).
    pub name: String,
    /// Which list it is in.
    pub kind: ContainerKind,
    /// The image as the spec spells it (trimmed).
    pub image: String,
    /// What it runs today: `imageID` of its entry in
    /// `status.initContainerStatuses`, `status.containerStatuses` or
    /// `status.ephemeralContainerStatuses` (matched by name), when reported.
    pub image_id: Option<String>,
}

impl Container {
    /// Whether the image is pinned by digest (`name@sha256:…`): the
    /// runtime then fetches exactly that content, and when it is an index
    /// only the runtime's own first-match selection applies to it (no
    /// mirror or tag move can change it).
    pub fn pinned_digest(&self) -> Option<&str> {
        pinned_digest(&self.image)
    }
}

/// The digest an image reference is pinned to (`…@sha256:HEX`), if any.
///
/// ```
/// use ocipick_host::inventory::pinned_digest;
/// let d = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/// assert_eq!(pinned_digest(&format!("nginx:1.27@{d}")), Some(d));
/// assert_eq!(pinned_digest("nginx:1.27"), None);
/// ```
pub fn pinned_digest(image: &str) -> Option<&str> {
    let (_, d) = image.rsplit_once('@')?;
    let (alg, hex) = d.split_once(':')?;
    let ok = !alg.is_empty()
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
        && hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(d)
}

/// One pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// `metadata.namespace` (`default` when absent).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.nodeName`: where it is scheduled, if it is.
    pub node_name: Option<String>,
    /// `spec.nodeSelector`.
    pub node_selector: BTreeMap<String, String>,
    /// Init containers, then app containers, then ephemeral ones, each in
    /// spec order.
    pub containers: Vec<Container>,
}

impl Pod {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The pods of `kubectl get pods -A -o json` (a `List` with `items`, or one
/// `Pod`): every init, app and ephemeral container with its image, and the
/// `imageID` the pod's status reports for it.
pub fn pods_from_kubectl(v: &Value) -> Result<Vec<Pod>, InventoryError> {
    let mut pods = Vec::new();
    for (n, pod) in items(v, "Pod")?.into_iter().enumerate() {
        let name = str_at(pod, &["metadata", "name"])
            .ok_or_else(|| err(format!("items[{n}] has no metadata.name")))?;
        let namespace = str_at(pod, &["metadata", "namespace"]).unwrap_or("default");
        let spec = pod.get("spec");
        let status = pod.get("status");
        let mut containers = Vec::new();
        for (list, statuses, kind) in [
            (
                "initContainers",
                "initContainerStatuses",
                ContainerKind::Init,
            ),
            ("containers", "containerStatuses", ContainerKind::App),
            (
                "ephemeralContainers",
                "ephemeralContainerStatuses",
                ContainerKind::Ephemeral,
            ),
        ] {
            let Some(cs) = spec.and_then(|s| s.get(list)) else {
                continue;
            };
            let cs = cs
                .as_array()
                .ok_or_else(|| err(format!("items[{n}].spec.{list} is not an array")))?;
            let ids: BTreeMap<&str, &str> = status
                .and_then(|s| s.get(statuses))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| {
                            Some((
                                s.get("name")?.as_str()?,
                                s.get("imageID")?.as_str().filter(|i| !i.is_empty())?,
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            for (k, c) in cs.iter().enumerate() {
                let image = c
                    .get("image")
                    .and_then(Value::as_str)
                    .ok_or_else(|| err(format!("items[{n}].spec.{list}[{k}] has no image")))?;
                let cname = c.get("name").and_then(Value::as_str).unwrap_or("");
                containers.push(Container {
                    name: cname.to_owned(),
                    kind,
                    image: image.trim().to_owned(),
                    image_id: ids.get(cname).map(|s| (*s).to_owned()),
                });
            }
        }
        pods.push(Pod {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            node_name: spec
                .and_then(|s| s.get("nodeName"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            node_selector: string_map(spec.and_then(|s| s.get("nodeSelector"))),
            containers,
        });
    }
    Ok(pods)
}

/// [`pods_from_kubectl`] from the bytes of the document.
pub fn parse_pods(bytes: &[u8]) -> Result<Vec<Pod>, InventoryError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| err(format!("not JSON: {e}")))?;
    pods_from_kubectl(&v)
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
pub fn facts_from_labels(labels: &BTreeMap<String, String>) -> Facts {
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
        for (_, level) in crate::X86_64_LEVELS {
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
pub(crate) fn spellings(flag: &str) -> Vec<String> {
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
pub fn x86_level(facts: &Facts, from_labels: bool) -> Option<u8> {
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
    Some(crate::x86_64_level(|flag| {
        spellings(flag).iter().any(|s| flags.contains(s))
            || (from_labels
                && NFD_HIDDEN
                    .iter()
                    .any(|(f, by)| *f == flag && flags.contains(*by)))
    }))
}

/// `linux/amd64/vN` for a level of 2 or more, else `linux/amd64`.
pub fn amd64(level: Option<u8>) -> String {
    match level {
        Some(l) if l >= 2 => format!("linux/amd64/v{l}"),
        _ => "linux/amd64".to_owned(),
    }
}

/// A facts file's platform when it names none.
pub fn infer_platform(facts: &Facts) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn kubectl_nodes() {
        let v = serde_json::json!({"kind": "List", "items": [
            {"kind": "Node", "metadata": {"name": "w", "labels": {
                "kubernetes.io/os": "windows", "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/windows-build": "10.0.20348"}}},
            {"kind": "Node", "metadata": {"name": "a", "labels": {
                "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "feature.node.kubernetes.io/cpu-cpuid.AVX": "true",
                "feature.node.kubernetes.io/cpu-cpuid.AVX2": "true",
                "feature.node.kubernetes.io/cpu-cpuid.FMA3": "true",
                "feature.node.kubernetes.io/cpu-cpuid.MOVBE": "true",
                "feature.node.kubernetes.io/cpu-cpuid.OSXSAVE": "true",
                "feature.node.kubernetes.io/cpu-cpuid.LAHF": "true"}}},
            {"kind": "Node", "metadata": {"name": "s"},
             "status": {"nodeInfo": {"operatingSystem": "linux", "architecture": "s390x"}}}]});
        let nodes = nodes_from_kubectl(&v).unwrap();
        let got: Vec<(&str, &str)> = nodes
            .iter()
            .map(|n| (n.name.as_str(), n.platform.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("w", "windows(10.0.20348)/amd64"),
                ("a", "linux/amd64/v3"),
                ("s", "linux/s390x")
            ]
        );
        assert_eq!(nodes[0].labels["kubernetes.io/os"], "windows");
        assert!(nodes.iter().all(|n| n.from == NodeSource::Kubectl));
        // A lone Node is a list of one; anything else is refused.
        let one = serde_json::json!({"kind": "Node", "metadata": {"name": "x", "labels": {
            "kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}}});
        assert_eq!(nodes_from_kubectl(&one).unwrap()[0].platform, "linux/arm64");
        let e = nodes_from_kubectl(&serde_json::json!({"kind": "PodList"})).unwrap_err();
        assert!(e.0.contains("kubectl get nodes"), "{e}");
        let e = nodes_from_kubectl(&serde_json::json!({"items": [{"metadata": {}}]})).unwrap_err();
        assert_eq!(e.0, "items[0] has no metadata.name");
        let e =
            nodes_from_kubectl(&serde_json::json!({"items": [{"metadata": {"name": "x\u{1b}"}}]}))
                .unwrap_err();
        assert!(
            e.0.starts_with("node \"x\\u{1b}\" has no kubernetes.io/os"),
            "{e}"
        );
        let e = nodes_from_kubectl(&serde_json::json!({"items": {}})).unwrap_err();
        assert_eq!(e.0, "items is not an array");
        assert!(parse_nodes(b"{").unwrap_err().0.starts_with("not JSON"));
        let dup = [nodes[1].clone(), nodes[1].clone()];
        assert!(check_unique_names(&dup).unwrap_err().0.contains("\"a\""));
        assert!(check_unique_names(&nodes).is_ok());
    }

    /// `parse_nodes` (typed) and `nodes_from_kubectl` (a `Value`) give the
    /// same nodes and the same errors.
    #[test]
    fn typed_and_value_parsing_agree() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/check");
        let mut docs: Vec<Vec<u8>> = ["nodes.json", "hostile-nodes.json", "pods.json"]
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap())
            .collect();
        for extra in [
            r#"{"kind":"Node","metadata":{"name":"x","labels":{"kubernetes.io/os":"linux","kubernetes.io/arch":"arm64","n":3}}}"#,
            r#"{"items":[{"metadata":{"name":"x","labels":[]},"status":{"nodeInfo":{"operatingSystem":"linux","architecture":"s390x"}}}]}"#,
            r#"{"items":[{"metadata":{"name":7}}]}"#,
            r#"{"items":[{"metadata":{"name":"a","name":"b","labels":{"kubernetes.io/os":"linux","kubernetes.io/arch":"amd64"}}}]}"#,
            r#"{"items":{}}"#,
            r#"{"kind":"NodeList"}"#,
            r#"[1]"#,
        ] {
            docs.push(extra.as_bytes().to_vec());
        }
        for d in docs {
            let v: Value = serde_json::from_slice(&d).unwrap();
            assert_eq!(
                parse_nodes(&d),
                nodes_from_kubectl(&v),
                "{}",
                String::from_utf8_lossy(&d)
            );
        }
        let nodes = parse_nodes(&std::fs::read(dir.join("nodes.json")).unwrap()).unwrap();
        assert_eq!(nodes.len(), 3);
    }

    #[test]
    fn node_selectors() {
        let n = Node {
            name: "n".into(),
            platform: "linux/amd64".into(),
            from: NodeSource::Kubectl,
            labels: labels(&[("pool", "gpu"), ("zone", "a")]),
            facts: Facts::default(),
        };
        assert!(n.matches_selector(&labels(&[])));
        assert!(n.matches_selector(&labels(&[("pool", "gpu")])));
        assert!(n.matches_selector(&labels(&[("pool", "gpu"), ("zone", "a")])));
        assert!(!n.matches_selector(&labels(&[("pool", "cpu")])));
        assert!(!n.matches_selector(&labels(&[("disk", "ssd")])));
    }

    #[test]
    fn pods_with_every_kind_of_container_and_their_image_ids() {
        let d = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        let v = serde_json::json!({"kind": "List", "items": [
            {"kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
             "spec": {"nodeName": "n1", "nodeSelector": {"pool": "web"},
                      "initContainers": [{"name": "init", "image": " migrate:1 "}],
                      "containers": [{"name": "app", "image": format!("web@{d}")},
                                     {"name": "side", "image": "proxy:2"}],
                      "ephemeralContainers": [{"name": "debug", "image": "busybox"}]},
             "status": {"containerStatuses": [
                            {"name": "side", "imageID": "docker.io/library/proxy@sha256:22"},
                            {"name": "app", "imageID": ""}],
                        "initContainerStatuses": [{"name": "init", "imageID": "migrate@sha256:33"}],
                        "ephemeralContainerStatuses": [{"name": "debug", "imageID": "busybox@sha256:44"}]}},
            {"kind": "Pod", "metadata": {"name": "pending"},
             "spec": {"containers": [{"name": "c", "image": "x"}]}}]});
        let pods = pods_from_kubectl(&v).unwrap();
        assert_eq!(pods.len(), 2);
        let p = &pods[0];
        assert_eq!(p.key(), "shop/web");
        assert_eq!(p.node_name.as_deref(), Some("n1"));
        assert_eq!(p.node_selector, labels(&[("pool", "web")]));
        let got: Vec<(&str, ContainerKind, &str, Option<&str>)> = p
            .containers
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.kind,
                    c.image.as_str(),
                    c.image_id.as_deref(),
                )
            })
            .collect();
        let web = format!("web@{d}");
        assert_eq!(
            got,
            [
                (
                    "init",
                    ContainerKind::Init,
                    "migrate:1",
                    Some("migrate@sha256:33")
                ),
                ("app", ContainerKind::App, web.as_str(), None),
                (
                    "side",
                    ContainerKind::App,
                    "proxy:2",
                    Some("docker.io/library/proxy@sha256:22")
                ),
                (
                    "debug",
                    ContainerKind::Ephemeral,
                    "busybox",
                    Some("busybox@sha256:44")
                ),
            ]
        );
        assert_eq!(p.containers[1].pinned_digest(), Some(d));
        assert_eq!(p.containers[2].pinned_digest(), None);
        assert_eq!(pods[1].key(), "default/pending");
        assert_eq!(pods[1].node_name, None);
        let e = pods_from_kubectl(&serde_json::json!({"items": [{"metadata": {"name": "p"},
            "spec": {"ephemeralContainers": [{"name": "d"}]}}]}))
        .unwrap_err();
        assert_eq!(e.0, "items[0].spec.ephemeralContainers[0] has no image");
        let e = pods_from_kubectl(&serde_json::json!({"items": [{"metadata": {"name": "p"},
            "spec": {"containers": {}}}]}))
        .unwrap_err();
        assert_eq!(e.0, "items[0].spec.containers is not an array");
        assert!(parse_pods(b"[]")
            .unwrap_err()
            .0
            .contains("kubectl get pods"));
    }

    #[test]
    fn pinned_digests() {
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            pinned_digest(&format!("reg:5000/a/b@sha256:{hex}")),
            Some(format!("sha256:{hex}").as_str())
        );
        assert_eq!(pinned_digest("a@sha256:short"), None);
        assert_eq!(pinned_digest("user@host/x:1"), None);
        assert_eq!(pinned_digest(&format!("a@SHA256:{hex}")), None);
    }

    #[test]
    fn facts_file_nodes() {
        let e = node_from_facts("x", Facts::default(), None).unwrap_err();
        assert!(e.0.contains("names no platform"), "{e}");
        let n = node_from_facts("x", Facts::default(), Some("linux/riscv64".into())).unwrap();
        assert_eq!(
            (n.platform.as_str(), n.from),
            ("linux/riscv64", NodeSource::FactsFile)
        );
        let mut f = Facts::default();
        f.attr("cpu.x86_64", "level", "v3");
        assert_eq!(infer_platform(&f).as_deref(), Some("linux/amd64/v3"));
    }

    /// Inputs the `inventory` fuzz target stopped on
    /// (testdata/fuzz-regressions/inventory/, picked up automatically),
    /// replayed through the same parsers: no panic, and what the target
    /// asserts of kubectl nodes holds.
    #[test]
    fn fuzz_regressions() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/fuzz-regressions/inventory");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            let Some((&which, doc)) = bytes.split_first() else {
                continue;
            };
            n += 1;
            match which % 3 {
                0 => {
                    for node in parse_nodes(doc).unwrap_or_default() {
                        assert!(node.platform.contains('/'));
                        assert!(node.matches_selector(&node.labels));
                    }
                }
                1 => {
                    let _ = parse_pods(doc);
                }
                _ => {
                    if let Ok(v) = serde_json::from_slice::<Value>(doc) {
                        if let Ok((f, p)) = Facts::from_nfd_json(&v) {
                            let _ = node_from_facts("n", f, p);
                        }
                    }
                }
            }
        }
        assert!(n > 0);
    }
}
