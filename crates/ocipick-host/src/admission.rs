//! A Kubernetes validating admission webhook's engine: read an
//! `AdmissionReview` (`admission.k8s.io/v1`) for a Pod, judge every image of
//! the Pod for the nodes it may be scheduled on, and write the answer.
//!
//! This module does no I/O. The server around it (the example
//! `crates/ocipick-mirror/examples/admission_webhook.rs`, see
//! `docs/webhook.md`) reads the request body with [`MAX_REVIEW_BYTES`] as
//! its limit, calls [`Review::parse`], fetches each of
//! [`Review::images`]' index (one manifest GET each), then calls
//! [`decide`] and sends [`Review::response`].
//!
//! What is checked: for each container image (init, app and ephemeral
//! containers), the nodes of the [`Inventory`] that match the Pod's
//! `spec.nodeSelector` (and its `spec.nodeName` when it is already bound)
//! are grouped into node classes ([`ocipick::fleet`]: same platform and
//! facts), and each class is judged once with the policy `ocipick check`
//! uses. An image that fits no class of those nodes refuses the Pod
//! (`allowed: false`, HTTP code 403 in `status`, a message naming the image,
//! the nodes tried and why no entry fits). An image whose index could not
//! be fetched, or a Pod no inventory node matches, is handled as
//! [`OnError`] says: allowed with a warning (fail open) or refused (fail
//! closed).
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use ocipick::fleet::Template;
//! use ocipick_host::admission::{self, Inventory, OnError, Review};
//! use ocipick_host::inventory;
//!
//! let nodes = inventory::nodes_from_kubectl(&serde_json::json!({"items": [
//!   {"metadata": {"name": "arm-1", "labels": {
//!      "kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64", "pool": "arm"}}}]}))?;
//! let inventory = Inventory::new(nodes, &Template::new())?;
//!
//! let review = Review::parse(br#"{
//!   "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
//!   "request": {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
//!     "kind": {"group": "", "version": "v1", "kind": "Pod"},
//!     "resource": {"group": "", "version": "v1", "resource": "pods"},
//!     "namespace": "web", "operation": "CREATE",
//!     "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shop"},
//!       "spec": {"nodeSelector": {"pool": "arm"},
//!                "containers": [{"name": "app", "image": "registry.example/shop:1"}]}}}}"#)?;
//! assert_eq!(review.images(), ["registry.example/shop:1"]);
//!
//! // What the registry served for the image: an amd64-only index.
//! let index = ocipick::Index::parse(br#"{"schemaVersion":2,"manifests":[
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,
//!    "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
//!    "platform":{"architecture":"amd64","os":"linux"}}]}"#)?.into_owned();
//! let mut fetched = BTreeMap::new();
//! fetched.insert("registry.example/shop:1".to_owned(), Ok(Arc::new(index)));
//!
//! let decision = admission::decide(&review, &inventory, &fetched, OnError::Allow);
//! assert!(!decision.allowed);
//! let answer = review.response(&decision);
//! assert_eq!(answer["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
//! assert_eq!(answer["response"]["status"]["code"], 403);
//! let message = answer["response"]["status"]["message"].as_str().unwrap();
//! assert!(message.contains("registry.example/shop:1"), "{message}");
//! assert!(message.contains("arm-1 (linux/arm64)"), "{message}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use ocipick::fleet::{self, Fleet, Template, Verdict};
use ocipick::{Index, Platform};
use serde_json::{json, Value};

use crate::inventory::{self, InventoryError, Node, Pod};

/// The largest request body read. The API server refuses requests over
/// 3 MiB and stores objects of at most 1.5 MiB, so a review (the object,
/// and for an update the old object too) stays under this; the server
/// stops reading here and answers 413.
pub const MAX_REVIEW_BYTES: usize = 4 << 20;

/// The longest `request.uid` accepted (Kubernetes sends a UUID, 36 bytes).
pub const MAX_UID_BYTES: usize = 256;

/// The most containers a Pod may have for the webhook to judge it.
pub const MAX_CONTAINERS: usize = 1000;

/// `admission.k8s.io/v1`, the only version read and written.
pub const API_VERSION: &str = "admission.k8s.io/v1";

/// Kubernetes shows at most 256 characters of each warning.
pub const MAX_WARNING_CHARS: usize = 256;

/// The longest `status.message` written (longer ones are cut with `…`).
pub const MAX_MESSAGE_CHARS: usize = 16 * 1024;

/// Node names listed per node class in a message before `and N more`.
const NAMES_PER_CLASS: usize = 5;

/// Why a request body is not a review this webhook can answer; the server
/// answers it with [`ReviewError::http_status`] and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewError {
    /// The body is larger than [`MAX_REVIEW_BYTES`].
    TooLarge,
    /// The body is not JSON.
    NotJson(String),
    /// The JSON is not an `admission.k8s.io/v1` `AdmissionReview` request.
    Invalid(String),
}

impl ReviewError {
    /// 413 for [`ReviewError::TooLarge`], else 400.
    pub fn http_status(&self) -> u16 {
        match self {
            ReviewError::TooLarge => 413,
            _ => 400,
        }
    }
}

impl fmt::Display for ReviewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReviewError::TooLarge => write!(
                f,
                "the request body is larger than the {MAX_REVIEW_BYTES}-byte limit"
            ),
            ReviewError::NotJson(e) => write!(f, "the request body is not JSON: {e}"),
            ReviewError::Invalid(e) => write!(f, "not an admission.k8s.io/v1 AdmissionReview: {e}"),
        }
    }
}

impl std::error::Error for ReviewError {}

fn invalid(m: impl Into<String>) -> ReviewError {
    ReviewError::Invalid(m.into())
}

/// What a review asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A Pod being created or updated (ephemeral containers included).
    Pod(Pod),
    /// Something this webhook does not judge: another kind of object, a
    /// subresource other than `ephemeralcontainers`, or an operation
    /// without an object (`DELETE`, `CONNECT`). Answered `allowed`.
    Other(String),
}

/// An `AdmissionReview` request, as far as this webhook reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// `request.uid`, echoed in the response.
    pub uid: String,
    /// `request.operation`: `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: String,
    /// `request.namespace` (empty when absent).
    pub namespace: String,
    /// `request.dryRun`.
    pub dry_run: bool,
    /// The Pod, or why there is none to judge.
    pub subject: Subject,
    /// Whether the Pod has required node affinity, which this webhook does
    /// not evaluate (it reads `nodeSelector` only): a warning says so.
    pub node_affinity: bool,
}

fn string_field<'v>(v: &'v Value, key: &str, at: &str) -> Result<Option<&'v str>, ReviewError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("{at}{key} is not a string"))),
    }
}

impl Review {
    /// Parses a request body. Refused (never a panic): a body over
    /// [`MAX_REVIEW_BYTES`], anything but JSON, another `apiVersion` or
    /// `kind`, no `request` object, a `uid` that is not a non-empty string
    /// of at most [`MAX_UID_BYTES`] bytes, an `operation` other than the
    /// four Kubernetes sends, and, for a Pod, an `object` that is not a Pod
    /// or whose containers have no image (or more than
    /// [`MAX_CONTAINERS`] of them).
    pub fn parse(body: &[u8]) -> Result<Review, ReviewError> {
        if body.len() > MAX_REVIEW_BYTES {
            return Err(ReviewError::TooLarge);
        }
        let v: Value =
            serde_json::from_slice(body).map_err(|e| ReviewError::NotJson(e.to_string()))?;
        Review::from_value(&v)
    }

    /// [`Review::parse`] from parsed JSON.
    pub fn from_value(v: &Value) -> Result<Review, ReviewError> {
        if !v.is_object() {
            return Err(invalid("the body is not a JSON object"));
        }
        match string_field(v, "apiVersion", "")? {
            Some(API_VERSION) => {}
            Some(other) => {
                return Err(invalid(format!(
                    "apiVersion is {other:?}; this webhook speaks {API_VERSION} only (admissionReviewVersions: [\"v1\"])"
                )))
            }
            None => return Err(invalid("no apiVersion")),
        }
        match string_field(v, "kind", "")? {
            Some("AdmissionReview") => {}
            Some(other) => return Err(invalid(format!("kind is {other:?}, not AdmissionReview"))),
            None => return Err(invalid("no kind")),
        }
        let request = match v.get("request") {
            Some(r @ Value::Object(_)) => r,
            Some(_) => return Err(invalid("request is not an object")),
            None => return Err(invalid("no request (a review sent to a webhook has one)")),
        };
        let uid =
            string_field(request, "uid", "request.")?.ok_or_else(|| invalid("no request.uid"))?;
        if uid.is_empty() || uid.len() > MAX_UID_BYTES {
            return Err(invalid(format!(
                "request.uid must be 1 to {MAX_UID_BYTES} bytes long"
            )));
        }
        let operation = string_field(request, "operation", "request.")?
            .ok_or_else(|| invalid("no request.operation"))?;
        if !["CREATE", "UPDATE", "DELETE", "CONNECT"].contains(&operation) {
            return Err(invalid(format!(
                "request.operation {operation:?} is not CREATE, UPDATE, DELETE or CONNECT"
            )));
        }
        let namespace = string_field(request, "namespace", "request.")?.unwrap_or("");
        let name = string_field(request, "name", "request.")?.unwrap_or("");
        let dry_run = match request.get("dryRun") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid("request.dryRun is not a boolean")),
        };
        let kind = match request.get("kind") {
            Some(k @ Value::Object(_)) => k,
            Some(_) => return Err(invalid("request.kind is not an object")),
            None => return Err(invalid("no request.kind")),
        };
        let group = string_field(kind, "group", "request.kind.")?.unwrap_or("");
        let version = string_field(kind, "version", "request.kind.")?.unwrap_or("");
        let kind_name = string_field(kind, "kind", "request.kind.")?
            .ok_or_else(|| invalid("no request.kind.kind"))?;
        let sub = string_field(request, "subResource", "request.")?.unwrap_or("");
        let base = Review {
            uid: uid.to_owned(),
            operation: operation.to_owned(),
            namespace: namespace.to_owned(),
            dry_run,
            subject: Subject::Other(String::new()),
            node_affinity: false,
        };
        let other = |why: String| {
            Ok(Review {
                subject: Subject::Other(why),
                ..base.clone()
            })
        };
        if (group, version, kind_name) != ("", "v1", "Pod") {
            return other(format!(
                "{kind_name} ({}) is not a Pod",
                if group.is_empty() {
                    version.to_owned()
                } else {
                    format!("{group}/{version}")
                }
            ));
        }
        if !sub.is_empty() && sub != "ephemeralcontainers" {
            return other(format!("subresource {sub:?} does not change images"));
        }
        if operation != "CREATE" && operation != "UPDATE" {
            return other(format!("{operation} does not run images"));
        }
        let object = match request.get("object") {
            Some(o @ Value::Object(m)) => {
                if m.contains_key("items") {
                    return Err(invalid("request.object is a list, not a Pod"));
                }
                match string_field(o, "kind", "request.object.")? {
                    None | Some("Pod") => {}
                    Some(k) => {
                        return Err(invalid(format!("request.object is a {k:?}, not a Pod")))
                    }
                }
                o
            }
            Some(_) => return Err(invalid("request.object is not an object")),
            None => return Err(invalid(format!("no request.object for {operation}"))),
        };
        // The pods parser wants a kind and a name: a Pod created with
        // generateName may not have its name yet.
        let mut pod = object.clone();
        pod["kind"] = json!("Pod");
        let meta = match pod.get_mut("metadata") {
            None | Some(Value::Null) => {
                pod["metadata"] = json!({});
                &mut pod["metadata"]
            }
            Some(m @ Value::Object(_)) => m,
            Some(_) => return Err(invalid("request.object.metadata is not an object")),
        };
        if !meta.get("name").is_some_and(Value::is_string) {
            meta["name"] = json!(name);
        }
        if !meta.get("namespace").is_some_and(Value::is_string) {
            meta["namespace"] = json!(namespace);
        }
        if let Some(spec) = pod.get("spec") {
            if !spec.is_object() {
                return Err(invalid("request.object.spec is not an object"));
            }
            if let Some(sel) = spec.get("nodeSelector") {
                let ok = sel.is_null()
                    || sel
                        .as_object()
                        .is_some_and(|m| m.values().all(Value::is_string));
                if !ok {
                    return Err(invalid(
                        "request.object.spec.nodeSelector is not a map of strings",
                    ));
                }
            }
            if let Some(n) = spec.get("nodeName") {
                if !n.is_string() && !n.is_null() {
                    return Err(invalid("request.object.spec.nodeName is not a string"));
                }
            }
        }
        let node_affinity = pod
            .pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution")
            .is_some_and(|v| !v.is_null());
        let mut pods = inventory::pods_from_kubectl(&pod).map_err(|InventoryError(e)| {
            invalid(format!(
                "request.object: {}",
                e.replacen("items[0].", "", 1)
            ))
        })?;
        let pod = pods
            .pop()
            .ok_or_else(|| invalid("request.object holds no Pod"))?;
        if pod.containers.len() > MAX_CONTAINERS {
            return Err(invalid(format!(
                "request.object has {} containers; at most {MAX_CONTAINERS} are judged",
                pod.containers.len()
            )));
        }
        if let Some(c) = pod.containers.iter().find(|c| c.image.is_empty()) {
            return Err(invalid(format!(
                "request.object: {} container {:?} has an empty image",
                c.kind.as_str(),
                c.name
            )));
        }
        Ok(Review {
            subject: Subject::Pod(pod),
            node_affinity,
            ..base
        })
    }

    /// The distinct images to fetch, in the Pod's order (init, app, then
    /// ephemeral containers); none when the subject is not a Pod.
    pub fn images(&self) -> Vec<&str> {
        let Subject::Pod(pod) = &self.subject else {
            return Vec::new();
        };
        let mut seen = BTreeSet::new();
        pod.containers
            .iter()
            .map(|c| c.image.as_str())
            .filter(|i| seen.insert(*i))
            .collect()
    }

    /// The `AdmissionReview` to send back: `response.uid` is this review's
    /// `uid` (the API server requires it), `allowed`, and when refused a
    /// `status` with code 403 and the message; `warnings` when there are
    /// some.
    pub fn response(&self, d: &Decision) -> Value {
        response(&self.uid, d)
    }
}

/// The `AdmissionReview` answering request `uid` with decision `d`.
pub fn response(uid: &str, d: &Decision) -> Value {
    let mut r = json!({ "uid": uid, "allowed": d.allowed });
    if !d.allowed {
        r["status"] = json!({
            "code": 403,
            "reason": "Forbidden",
            "message": d.message,
        });
    }
    if !d.warnings.is_empty() {
        r["warnings"] = json!(d.warnings);
    }
    json!({ "apiVersion": API_VERSION, "kind": "AdmissionReview", "response": r })
}

/// The nodes the webhook judges for, grouped into classes once.
#[derive(Debug, Clone)]
pub struct Inventory {
    nodes: Vec<Node>,
    platforms: Vec<String>,
    fleet: Fleet,
}

impl Inventory {
    /// Parses every node's platform and groups the nodes into classes with
    /// `template` (the configuration's preferences and rules, judged
    /// against each node's facts). Refused: an unparsable platform, two
    /// nodes of one name.
    pub fn new(nodes: Vec<Node>, template: &Template) -> Result<Inventory, InventoryError> {
        inventory::check_unique_names(&nodes)?;
        // The host only fills in what a selector leaves out; inventory
        // platforms name OS and architecture.
        let host = Platform::new("linux", "amd64", None);
        let mut targets = Vec::with_capacity(nodes.len());
        for n in &nodes {
            let p = ocipick::platform::spelling::parse(&n.platform, &host)
                .map_err(|e| InventoryError(format!("node {:?}: platform {e}", n.name)))?;
            targets.push(p);
        }
        let flat: Vec<ocipick::rules::HostFacts> =
            nodes.iter().map(|n| n.facts.flatten()).collect();
        let platforms = targets.iter().map(ToString::to_string).collect();
        let fleet = Fleet::new(template, targets.into_iter().zip(flat.iter()));
        Ok(Inventory {
            nodes,
            platforms,
            fleet,
        })
    }

    /// The nodes, in the order given.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node classes.
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// The nodes `pod` may be scheduled on: those whose labels match its
    /// `nodeSelector`, and only its `nodeName` when it is bound.
    pub fn candidates(&self, pod: &Pod) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| {
                let node = &self.nodes[n];
                node.matches_selector(&pod.node_selector)
                    && pod.node_name.as_ref().is_none_or(|b| *b == node.name)
            })
            .collect()
    }
}

/// What to do when an image cannot be judged (its index could not be
/// fetched or parsed, or no inventory node matches the Pod).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Fail open: allow, with a warning naming the image and the error.
    Allow,
    /// Fail closed: refuse, saying why.
    Deny,
}

/// What the caller got for one image: its parsed index (a single manifest
/// as an index of one, [`Index::single`]), or why not.
pub type Fetched = Result<Arc<Index<'static>>, String>;

/// How one image fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageOutcome {
    /// Some candidate node gets a build: how many of the candidates do.
    Fits {
        /// Candidate nodes with a fit.
        fit: usize,
        /// Candidate nodes.
        of: usize,
    },
    /// No candidate node gets a build: the explanation.
    NoFit(String),
    /// Not judged: why.
    Unknown(String),
}

/// The webhook's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the Pod is admitted.
    pub allowed: bool,
    /// Why it is refused (empty when allowed).
    pub message: String,
    /// Warnings for the user (at most [`MAX_WARNING_CHARS`] each).
    pub warnings: Vec<String>,
    /// Each image, in [`Review::images`] order, and how it fared.
    pub images: Vec<(String, ImageOutcome)>,
}

/// Control characters escaped (`\u{1b}`), so names and annotation values
/// cannot forge lines or terminal escapes where kubectl prints them.
fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

fn cut(s: String, n: usize) -> String {
    if s.chars().count() <= n {
        s
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// `nodes matching nodeSelector {pool=arm}`, or `nodes (no nodeSelector)`.
fn scope_words(sel: &BTreeMap<String, String>) -> String {
    if sel.is_empty() {
        return "nodes (no nodeSelector)".to_owned();
    }
    let pairs: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("nodes matching nodeSelector {{{}}}", pairs.join(", "))
}

fn names(inv: &Inventory, nodes: &[usize]) -> String {
    let mut s: Vec<String> = nodes
        .iter()
        .take(NAMES_PER_CLASS)
        .map(|&n| inv.nodes[n].name.clone())
        .collect();
    if nodes.len() > NAMES_PER_CLASS {
        s.push(format!("and {} more", nodes.len() - NAMES_PER_CLASS));
    }
    s.join(", ")
}

/// Judges every image of the review's Pod for the inventory nodes it may
/// land on, with `fetched[image]` as each image's index (a missing image
/// counts as not fetched). An image pinned by digest (`name@sha256:…`) is
/// judged with the platform's first match only, since the runtime takes
/// that entry and nothing can reorder content addressed by digest. A
/// nested index chosen for a node counts as its fit (it is not fetched:
/// one manifest GET per image).
pub fn decide(
    review: &Review,
    inv: &Inventory,
    fetched: &BTreeMap<String, Fetched>,
    on_error: OnError,
) -> Decision {
    let mut d = Decision {
        allowed: true,
        message: String::new(),
        warnings: Vec::new(),
        images: Vec::new(),
    };
    let pod = match &review.subject {
        Subject::Pod(p) => p,
        Subject::Other(_) => return d,
    };
    if review.node_affinity {
        d.warnings.push(
            "ocipick: spec.affinity.nodeAffinity is not evaluated; images were judged for the nodes matching nodeSelector".to_owned(),
        );
    }
    let candidates = inv.candidates(pod);
    let sel = visible(&scope_words(&pod.node_selector));
    let bound = pod
        .node_name
        .as_deref()
        .map(|n| format!(" and nodeName {}", visible(n)))
        .unwrap_or_default();
    let mut refusals: Vec<String> = Vec::new();
    let unknown = |d: &mut Decision, refusals: &mut Vec<String>, image: &str, why: String| {
        match on_error {
            OnError::Allow => d
                .warnings
                .push(format!("ocipick: image {image} not checked: {why}")),
            OnError::Deny => refusals.push(format!("image {image} could not be checked: {why}")),
        }
        d.images
            .push((image.to_owned(), ImageOutcome::Unknown(why)));
    };
    for image in review.images() {
        let shown = visible(image);
        if candidates.is_empty() {
            let why = format!(
                "none of the inventory's {} nodes is among the {sel}{bound}",
                inv.nodes.len()
            );
            unknown(&mut d, &mut refusals, &shown, why);
            continue;
        }
        let index = match fetched.get(image) {
            Some(Ok(i)) => i,
            Some(Err(e)) => {
                unknown(&mut d, &mut refusals, &shown, visible(e));
                continue;
            }
            None => {
                unknown(&mut d, &mut refusals, &shown, "not fetched".to_owned());
                continue;
            }
        };
        let pinned = inventory::pinned_digest(image).is_some();
        // Candidates by class, in class order.
        let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &n in &candidates {
            by_class.entry(inv.fleet.class_of(n)).or_default().push(n);
        }
        let mut no_nesting =
            |_: &ocipick::Descriptor<'_>, _: usize| None::<Result<fleet::Nested, String>>;
        let mut fit = 0;
        let mut misses: Vec<(Vec<usize>, String)> = Vec::new();
        for (c, nodes) in by_class {
            let class = &inv.fleet.classes()[c];
            let (cell, _) = if pinned {
                fleet::judge(class.first_match_policy(), index, image, &mut no_nesting)
            } else {
                fleet::judge_class(class, index, image, &mut no_nesting)
            };
            match cell.verdict {
                Verdict::Fit => fit += nodes.len(),
                _ => {
                    let why = cell.reasons.join("; ");
                    misses.push((nodes, why));
                }
            }
        }
        let explain = |misses: &[(Vec<usize>, String)]| -> String {
            misses
                .iter()
                .map(|(nodes, why)| {
                    format!(
                        "{} ({}): {}",
                        visible(&names(inv, nodes)),
                        inv.platforms[nodes[0]],
                        visible(why)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let pin_note = if pinned {
            " (pinned by digest: the runtime's first match is judged)"
        } else {
            ""
        };
        if fit == 0 {
            let msg = format!(
                "image {shown}{pin_note}: no entry fits any of the {} {sel}{bound}: {}",
                candidates.len(),
                explain(&misses)
            );
            refusals.push(msg.clone());
            d.images.push((image.to_owned(), ImageOutcome::NoFit(msg)));
        } else {
            if !misses.is_empty() {
                d.warnings.push(format!(
                    "ocipick: image {shown} fits {fit} of the {} {sel}{bound}; not {}",
                    candidates.len(),
                    explain(&misses)
                ));
            }
            d.images.push((
                image.to_owned(),
                ImageOutcome::Fits {
                    fit,
                    of: candidates.len(),
                },
            ));
        }
    }
    for w in &mut d.warnings {
        *w = cut(std::mem::take(w), MAX_WARNING_CHARS);
    }
    if !refusals.is_empty() {
        d.allowed = false;
        let who = if pod.name.is_empty() {
            "the pod".to_owned()
        } else {
            format!("pod {}", visible(&pod.key()))
        };
        d.message = cut(
            format!("ocipick refused {who}: {}", refusals.join(" | ")),
            MAX_MESSAGE_CHARS,
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(object: Value) -> Value {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
               "request": {"uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                           "resource": {"group": "", "version": "v1", "resource": "pods"},
                           "namespace": "ns", "operation": "CREATE", "object": object}})
    }

    fn parse(v: &Value) -> Result<Review, ReviewError> {
        Review::parse(&serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn refuses_what_is_not_a_v1_review() {
        let pod = json!({"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "x"}]}});
        let ok = review(pod.clone());
        assert!(parse(&ok).is_ok());
        let cases: Vec<(Value, &str)> = vec![
            (json!([]), "not a JSON object"),
            (
                json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}),
                "v1 only",
            ),
            (
                json!({"apiVersion": API_VERSION, "kind": "Pod"}),
                "not AdmissionReview",
            ),
            (
                json!({"apiVersion": API_VERSION, "kind": "AdmissionReview"}),
                "no request",
            ),
            (
                json!({"apiVersion": API_VERSION, "kind": "AdmissionReview", "request": {}}),
                "no request.uid",
            ),
        ];
        for (v, want) in cases {
            let e = parse(&v).unwrap_err();
            assert!(e.to_string().contains(want), "{e} lacks {want}");
            assert_eq!(e.http_status(), 400);
        }
        let mut v = ok.clone();
        v["request"]["uid"] = json!("x".repeat(MAX_UID_BYTES + 1));
        assert!(parse(&v).unwrap_err().to_string().contains("uid must be"));
        v["request"]["uid"] = json!(7);
        assert!(parse(&v)
            .unwrap_err()
            .to_string()
            .contains("uid is not a string"));
        let mut v = ok.clone();
        v["request"]["operation"] = json!("PATCH");
        assert!(parse(&v).unwrap_err().to_string().contains("operation"));
        let mut v = ok.clone();
        v["request"]["object"]["spec"]["containers"][0] = json!({"name": "a"});
        assert!(
            parse(&v).unwrap_err().to_string().contains("has no image"),
            "{:?}",
            parse(&v)
        );
        let mut v = ok.clone();
        v["request"]["object"]["spec"]["nodeSelector"] = json!({"a": 1});
        assert!(parse(&v).unwrap_err().to_string().contains("nodeSelector"));
        let mut v = ok;
        v["request"]["object"] = json!({"kind": "Secret"});
        assert!(parse(&v).unwrap_err().to_string().contains("not a Pod"));
        assert_eq!(Review::parse(b"{").unwrap_err().http_status(), 400);
        let big = vec![b' '; MAX_REVIEW_BYTES + 1];
        assert_eq!(Review::parse(&big).unwrap_err(), ReviewError::TooLarge);
        assert_eq!(ReviewError::TooLarge.http_status(), 413);
    }

    #[test]
    fn other_kinds_and_operations_are_not_judged() {
        let mut v = review(json!({"kind": "Pod"}));
        v["request"]["operation"] = json!("DELETE");
        v["request"].as_object_mut().unwrap().remove("object");
        let r = parse(&v).unwrap();
        assert!(matches!(r.subject, Subject::Other(_)));
        assert!(r.images().is_empty());
        let mut v = review(json!({"kind": "Deployment"}));
        v["request"]["kind"] = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
        let r = parse(&v).unwrap();
        assert_eq!(
            r.subject,
            Subject::Other("Deployment (apps/v1) is not a Pod".into())
        );
        let mut v = review(json!({"kind": "Pod"}));
        v["request"]["subResource"] = json!("status");
        assert!(matches!(parse(&v).unwrap().subject, Subject::Other(_)));
    }

    #[test]
    fn images_in_pod_order_once_each() {
        let v = review(json!({"kind": "Pod", "metadata": {"generateName": "web-"},
            "spec": {"initContainers": [{"name": "i", "image": "b:1"}],
                     "containers": [{"name": "a", "image": "a:1"}, {"name": "c", "image": "b:1"}],
                     "ephemeralContainers": [{"name": "e", "image": "dbg:1"}],
                     "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}}}));
        let r = parse(&v).unwrap();
        assert_eq!(r.images(), ["b:1", "a:1", "dbg:1"]);
        assert!(r.node_affinity);
        let Subject::Pod(p) = &r.subject else {
            panic!()
        };
        assert_eq!(p.key(), "ns/");
    }

    #[test]
    fn response_echoes_the_uid_and_escapes_nothing_it_needs() {
        let d = Decision {
            allowed: false,
            message: "no".into(),
            warnings: vec!["w".into()],
            images: vec![],
        };
        let r = response("abc", &d);
        assert_eq!(r["apiVersion"], API_VERSION);
        assert_eq!(r["kind"], "AdmissionReview");
        assert_eq!(r["response"]["uid"], "abc");
        assert_eq!(r["response"]["allowed"], false);
        assert_eq!(r["response"]["status"]["code"], 403);
        assert_eq!(r["response"]["warnings"][0], "w");
        let ok = response(
            "abc",
            &Decision {
                allowed: true,
                message: String::new(),
                warnings: vec![],
                images: vec![],
            },
        );
        assert!(ok["response"].get("status").is_none());
        assert!(ok["response"].get("warnings").is_none());
        assert_eq!(visible("a\u{1b}[31m\nb"), "a\\u{1b}[31m\\u{a}b");
        assert_eq!(cut("abcdef".into(), 4), "abc…");
    }

    const AMD: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const ARM: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    /// An index entry: platform, digest, annotations.
    type Entry<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

    fn index(entries: &[Entry]) -> Fetched {
        let manifests: Vec<Value> = entries
            .iter()
            .map(|(arch, digest, ann)| {
                let a: serde_json::Map<String, Value> = ann
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), json!(v)))
                    .collect();
                json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
                       "digest": digest, "platform": {"os": "linux", "architecture": arch},
                       "annotations": a})
            })
            .collect();
        let bytes =
            serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": manifests})).unwrap();
        Ok(Arc::new(Index::parse(&bytes).unwrap().into_owned()))
    }

    fn fleet_inventory(template: &Template) -> Inventory {
        let nodes = inventory::nodes_from_kubectl(&json!({"items": [
            {"metadata": {"name": "amd-1", "labels": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "pool": "mixed"}}},
            {"metadata": {"name": "arm-1", "labels": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64", "pool": "mixed"}}},
            {"metadata": {"name": "arm-2", "labels": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64", "pool": "arm"}}},
            {"metadata": {"name": "gpu-1", "labels": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "pool": "gpu",
                "feature.node.kubernetes.io/pci-0300_10de.present": "true"}}}]}))
        .unwrap();
        Inventory::new(nodes, template).unwrap()
    }

    fn pod_review(selector: Value, images: &[&str]) -> Review {
        let containers: Vec<Value> = images
            .iter()
            .enumerate()
            .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
            .collect();
        parse(&review(json!({"kind": "Pod", "metadata": {"name": "p"},
            "spec": {"nodeSelector": selector, "containers": containers}})))
        .unwrap()
    }

    #[test]
    fn refuses_an_image_without_a_fit_on_the_selected_nodes_and_says_why() {
        let inv = fleet_inventory(&Template::new());
        let mut fetched = BTreeMap::new();
        fetched.insert("amd:1".to_owned(), index(&[("amd64", AMD, &[])]));
        fetched.insert(
            "both:1".to_owned(),
            index(&[("amd64", AMD, &[]), ("arm64", ARM, &[])]),
        );
        // arm pool: amd:1 has no arm64 build.
        let r = pod_review(json!({"pool": "arm"}), &["both:1", "amd:1"]);
        let d = decide(&r, &inv, &fetched, OnError::Allow);
        assert!(!d.allowed);
        assert!(d.message.starts_with("ocipick refused pod ns/p: image amd:1: no entry fits any of the 1 nodes matching nodeSelector {pool=arm}: arm-2 (linux/arm64): no manifest for linux/arm64 in amd:1; it offers linux/amd64"), "{}", d.message);
        assert!(!d.message.contains("both:1"), "{}", d.message);
        assert_eq!(d.images[0].1, ImageOutcome::Fits { fit: 1, of: 1 });
        // Mixed pool: amd:1 runs on amd-1 only, allowed with a warning.
        let r = pod_review(json!({"pool": "mixed"}), &["amd:1"]);
        let d = decide(&r, &inv, &fetched, OnError::Deny);
        assert!(d.allowed, "{}", d.message);
        assert_eq!(d.images[0].1, ImageOutcome::Fits { fit: 1, of: 2 });
        assert_eq!(d.warnings.len(), 1);
        assert!(
            d.warnings[0].contains(
                "fits 1 of the 2 nodes matching nodeSelector {pool=mixed}; not arm-1 (linux/arm64)"
            ),
            "{:?}",
            d.warnings
        );
        // No selector: every node is a candidate.
        let r = pod_review(Value::Null, &["amd:1"]);
        let d = decide(&r, &inv, &fetched, OnError::Deny);
        assert_eq!(d.images[0].1, ImageOutcome::Fits { fit: 2, of: 4 });
        assert!(
            d.warnings[0].contains("(no nodeSelector); not arm-1, arm-2 (linux/arm64)"),
            "{:?}",
            d.warnings
        );
    }

    #[test]
    fn fetch_failures_and_unmatched_selectors_follow_on_error() {
        let inv = fleet_inventory(&Template::new());
        let mut fetched = BTreeMap::new();
        fetched.insert(
            "gone:1".to_owned(),
            Err("registry.example/gone: manifest 1: HTTP 404".to_owned()),
        );
        let r = pod_review(json!({"pool": "arm"}), &["gone:1"]);
        let open = decide(&r, &inv, &fetched, OnError::Allow);
        assert!(open.allowed);
        assert_eq!(
            open.warnings,
            ["ocipick: image gone:1 not checked: registry.example/gone: manifest 1: HTTP 404"]
        );
        let closed = decide(&r, &inv, &fetched, OnError::Deny);
        assert!(!closed.allowed);
        assert!(
            closed
                .message
                .contains("image gone:1 could not be checked: registry.example/gone"),
            "{}",
            closed.message
        );
        let r = pod_review(json!({"pool": "nowhere"}), &["gone:1"]);
        let d = decide(&r, &inv, &fetched, OnError::Allow);
        assert!(d.allowed);
        assert!(
            d.warnings[0]
                .contains("none of the inventory's 4 nodes is among the nodes matching nodeSelector {pool=nowhere}"),
            "{:?}",
            d.warnings
        );
        let d = decide(&r, &inv, &BTreeMap::new(), OnError::Deny);
        assert!(!d.allowed);
    }

    #[test]
    fn rules_judge_each_class_with_its_facts() {
        // A GPU-only image whose build requires an NVIDIA device.
        let config = ocipick::Config::parse(
            "[[rule]]\nannotation = \"com.example.gpu.vendor\"\nop = \"equals\"\nfact = \"pci.device.vendor\"\nkind = \"require\"\n",
        )
        .unwrap();
        let inv = fleet_inventory(&Template::from_config(&config));
        let mut fetched = BTreeMap::new();
        fetched.insert(
            "cuda:1".to_owned(),
            index(&[("amd64", AMD, &[("com.example.gpu.vendor", "10de")])]),
        );
        let d = decide(
            &pod_review(json!({"pool": "gpu"}), &["cuda:1"]),
            &inv,
            &fetched,
            OnError::Deny,
        );
        assert!(d.allowed, "{}", d.message);
        let d = decide(
            &pod_review(json!({"pool": "mixed"}), &["cuda:1"]),
            &inv,
            &fetched,
            OnError::Allow,
        );
        assert!(!d.allowed);
        assert!(d.message.contains("amd-1 (linux/amd64): no manifest for linux/amd64 in cuda:1; it offers linux/amd64; #0: "), "{}", d.message);
        assert!(
            d.message
                .contains("arm-1 (linux/arm64): no manifest for linux/arm64"),
            "{}",
            d.message
        );
    }

    #[test]
    fn pinned_images_are_judged_by_first_match() {
        let template =
            Template::new().prefer(ocipick::Preference::key("org.example.fast").weight(10));
        let inv = fleet_inventory(&template);
        let pinned = format!("app@{AMD}");
        let mut fetched = BTreeMap::new();
        fetched.insert(
            pinned.clone(),
            index(&[
                ("amd64", AMD, &[]),
                ("amd64", ARM, &[("org.example.fast", "1")]),
            ]),
        );
        let r = pod_review(json!({"pool": "gpu"}), &[&pinned]);
        let d = decide(&r, &inv, &fetched, OnError::Deny);
        assert!(d.allowed);
        assert_eq!(d.images[0].1, ImageOutcome::Fits { fit: 1, of: 1 });
        let r = pod_review(json!({"pool": "arm"}), &[&pinned]);
        let d = decide(&r, &inv, &fetched, OnError::Deny);
        assert!(
            d.message
                .contains("(pinned by digest: the runtime's first match is judged)"),
            "{}",
            d.message
        );
    }

    #[test]
    fn names_with_control_characters_are_escaped() {
        let nodes = inventory::nodes_from_kubectl(&json!({"items": [
            {"metadata": {"name": "evil\u{1b}[2J", "labels": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}}}]}))
        .unwrap();
        let inv = Inventory::new(nodes, &Template::new()).unwrap();
        let mut fetched = BTreeMap::new();
        fetched.insert("x\u{7}:1".to_owned(), index(&[("amd64", AMD, &[])]));
        let r = pod_review(Value::Null, &["x\u{7}:1"]);
        let d = decide(&r, &inv, &fetched, OnError::Allow);
        assert!(!d.allowed);
        assert!(!d.message.chars().any(char::is_control), "{:?}", d.message);
        assert!(d.message.contains("evil\\u{1b}[2J"), "{}", d.message);
    }
}
