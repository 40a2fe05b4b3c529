//! Many nodes at once: which build every image gives every kind of node.
//!
//! A cluster has thousands of nodes but few kinds of node. A [`Fleet`]
//! groups nodes into [`Class`]es: nodes with the same platform and the same
//! values of the facts the policy's rules read get the same choice from
//! every index, so each image is judged once per class, not once per node.
//! The class's facts are only those the rules read (with no rules, a class
//! is a platform): whatever else differs between its nodes (host names,
//! zones) cannot change a choice.
//!
//! [`judge`] gives one image × class [`Cell`]: the chosen entry, named in
//! words ([`Cell::build`]: position, platform and the annotation or rule
//! that decided it, `#2 amd64/v3 cuda=12.4`), or why nothing fits. Nested
//! indexes are descended into through a callback, so this module does no
//! I/O: the caller fetches (and caches) them.
//!
//! ```
//! use ocipick::fleet::{self, Fleet, Template};
//! use ocipick::rules::HostFacts;
//! use ocipick::{Index, Platform, Preference};
//!
//! let index = Index::parse(br#"{"schemaVersion":2,"manifests":[
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,
//!    "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
//!    "platform":{"architecture":"amd64","os":"linux"}},
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7682,
//!    "digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
//!    "platform":{"architecture":"amd64","os":"linux","variant":"v3"},
//!    "annotations":{"org.example.cuda":"12.4"}}]}"#)?;
//!
//! let template = Template::new().prefer(Preference::key("org.example.cuda").weight(10));
//! let amd = Platform::new("linux", "amd64", None);
//! let v3 = Platform::new("linux", "amd64", Some("v3"));
//! let none = HostFacts::new();
//! // Three nodes, two kinds: the two plain amd64 nodes are one class.
//! let fleet = Fleet::new(&template, [(amd.clone(), &none), (v3, &none), (amd, &none)]);
//! assert_eq!(fleet.classes().len(), 2);
//! assert_eq!(fleet.classes()[0].nodes, [0, 2]);
//!
//! let mut no_nesting = |_: &ocipick::Descriptor<'_>, _: usize| None::<Result<fleet::Nested, String>>;
//! let (cell, _) = fleet::judge(fleet.classes()[1].policy(), &index, "app:1", &mut no_nesting);
//! assert_eq!(cell.build(), "#1 amd64/v3 cuda=12.4");
//! let (cell, _) = fleet::judge(fleet.classes()[0].policy(), &index, "app:1", &mut no_nesting);
//! assert_eq!(cell.build(), "#0 amd64 first match");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use crate::compat::Artifacts;
use crate::media_type::{self, Kind};
use crate::nfd::Features;
use crate::rules::{HostFacts, Operand, Rule};
use crate::{Config, Descriptor, Index, Platform, Policy, Preference, Reason};

/// What every node's policy is made of, before the node's own target and
/// facts: the preferences, the rules and the manifest size limit.
#[derive(Debug, Clone)]
pub struct Template {
    /// Preferences, in order.
    pub preferences: Vec<Preference>,
    /// Rules, judged against each node's facts.
    pub rules: Vec<Rule>,
    /// The manifest size limit.
    pub max_manifest_bytes: u64,
}

impl Default for Template {
    fn default() -> Self {
        Template::new()
    }
}

impl Template {
    /// No preferences, no rules, the default size limit.
    pub fn new() -> Template {
        Template {
            preferences: Vec::new(),
            rules: Vec::new(),
            max_manifest_bytes: crate::DEFAULT_MAX_MANIFEST_BYTES,
        }
    }

    /// A configuration's preferences, rules and size limit (its platform
    /// and hooks are not used: each node has its own platform, and hooks
    /// run on the node).
    pub fn from_config(config: &Config) -> Template {
        Template {
            preferences: config.preferences.clone(),
            rules: config.rules.clone(),
            max_manifest_bytes: config
                .max_manifest_bytes
                .unwrap_or(crate::DEFAULT_MAX_MANIFEST_BYTES),
        }
    }

    /// Adds a preference.
    pub fn prefer(mut self, p: Preference) -> Template {
        self.preferences.push(p);
        self
    }

    /// The policy for one node.
    pub fn policy(&self, target: &Platform<'_>, facts: &HostFacts) -> Policy {
        Policy::new(target)
            .with_preferences(self.preferences.iter().cloned())
            .with_rules(self.rules.iter().cloned(), facts.clone())
            .max_manifest_bytes(self.max_manifest_bytes)
    }

    /// The facts the rules read (their `when` conditions and host
    /// operands): the only facts that can make two nodes of one platform
    /// choose differently.
    pub fn facts_read(&self) -> BTreeSet<String> {
        let mut s = BTreeSet::new();
        for r in &self.rules {
            if let Operand::Fact(f) = &r.operand {
                s.insert(f.clone());
            }
            s.extend(r.when.iter().map(|c| c.fact.clone()));
        }
        s
    }
}

/// Nodes that every index treats alike.
#[derive(Debug, Clone)]
pub struct Class {
    /// The platform the class's nodes run (normalized).
    pub platform: Platform<'static>,
    /// The values of the facts the rules read, as the class's nodes have
    /// them (empty without rules).
    pub facts: HostFacts,
    /// The class's nodes: their positions in the list given to
    /// [`Fleet::new`], in order.
    pub nodes: Vec<usize>,
    /// The nodes' node-feature-discovery features, when the fleet was made
    /// with them ([`Fleet::with_features`]): what image compatibility
    /// artifacts are evaluated against ([`Class::compat_policy`]).
    pub features: Option<Features>,
    policy: Policy,
    first_match: Policy,
}

impl Class {
    /// The policy every node of the class selects with.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The runtime's own choice on these nodes: the platform's first match,
    /// without preferences or rules. It is what a workload pinned to an
    /// index digest (`image@sha256:…`) gets, since nothing can reorder
    /// content addressed by its digest.
    pub fn first_match_policy(&self) -> &Policy {
        &self.first_match
    }

    /// The class's policy with the verdicts of an image's compatibility
    /// artifacts for the class's features, the sets limited to `tags`:
    /// what `select --compat nfd` selects with on each of its nodes. A
    /// class without features gets its plain policy.
    pub fn compat_policy(
        &self,
        artifacts: &Artifacts,
        index: &Index<'_>,
        tags: &[String],
    ) -> Policy {
        match &self.features {
            Some(f) => artifacts.policy(&self.policy, index, f, tags),
            None => self.policy.clone(),
        }
    }
}

/// Nodes grouped into classes.
#[derive(Debug, Clone)]
pub struct Fleet {
    classes: Vec<Class>,
    class_of: Vec<usize>,
}

impl Fleet {
    /// Groups nodes, each given by its target platform and facts, into
    /// classes, in order of first appearance; builds each class's policy
    /// once. The facts may be owned or borrowed; only the values the
    /// rules read are kept (per class), so nodes can be given one at a
    /// time from an iterator that makes their facts as it goes.
    pub fn new<F: Borrow<HostFacts>>(
        template: &Template,
        nodes: impl IntoIterator<Item = (Platform<'static>, F)>,
    ) -> Fleet {
        Fleet::with_features(template, nodes.into_iter().map(|(p, f)| (p, f, None)))
    }

    /// [`Fleet::new`] for selection with image compatibility artifacts:
    /// each node also gives its NFD features (`None`: none kept), and only
    /// nodes with the same features share a class, so that each class can
    /// be judged with its own ([`Class::compat_policy`]).
    ///
    /// ```
    /// use ocipick::fleet::{Fleet, Template};
    /// use ocipick::nfd::Features;
    /// use ocipick::rules::HostFacts;
    /// use ocipick::Platform;
    ///
    /// let amd = Platform::new("linux", "amd64", None);
    /// let mut avx512 = Features::default();
    /// avx512.flags.entry("cpu.cpuid".into()).or_default().insert("AVX512F".into());
    /// let none = HostFacts::new();
    /// let fleet = Fleet::with_features(&Template::new(), [
    ///     (amd.clone(), &none, Some(avx512.clone())),
    ///     (amd.clone(), &none, Some(Features::default())),
    ///     (amd, &none, Some(avx512)),
    /// ]);
    /// assert_eq!(fleet.classes().len(), 2);
    /// assert_eq!(fleet.classes()[0].nodes, [0, 2]);
    /// ```
    pub fn with_features<F: Borrow<HostFacts>>(
        template: &Template,
        nodes: impl IntoIterator<Item = (Platform<'static>, F, Option<Features>)>,
    ) -> Fleet {
        let read = template.facts_read();
        type Key = (String, HostFacts, Option<Features>);
        let mut by_key: HashMap<Key, usize> = HashMap::new();
        let mut classes: Vec<Class> = Vec::new();
        let mut class_of = Vec::new();
        for (n, (target, facts, features)) in nodes.into_iter().enumerate() {
            let target = target.normalized();
            let projected: HostFacts = facts
                .borrow()
                .iter()
                .filter(|(k, _)| read.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let key = (target.to_string(), projected, features);
            let c = match by_key.get(&key) {
                Some(&c) => c,
                None => {
                    let policy = template.policy(&target, &key.1);
                    classes.push(Class {
                        first_match: Policy::new(&target),
                        platform: target,
                        facts: key.1.clone(),
                        nodes: Vec::new(),
                        features: key.2.clone(),
                        policy,
                    });
                    by_key.insert(key, classes.len() - 1);
                    classes.len() - 1
                }
            };
            classes[c].nodes.push(n);
            class_of.push(c);
        }
        Fleet { classes, class_of }
    }

    /// The classes, in order of their first node.
    pub fn classes(&self) -> &[Class] {
        &self.classes
    }

    /// The class of node `n` (its position in the list given to
    /// [`Fleet::new`]). Panics when out of range.
    pub fn class_of(&self, n: usize) -> usize {
        self.class_of[n]
    }

    /// How many nodes.
    pub fn nodes(&self) -> usize {
        self.class_of.len()
    }

    /// The classes some of the nodes fall in (by position, e.g. the nodes
    /// matching a pod's `nodeSelector`), each once, in class order: judge
    /// an image for these and every one of those nodes is answered.
    /// Panics when a position is out of range.
    pub fn classes_of(&self, nodes: impl IntoIterator<Item = usize>) -> Vec<usize> {
        let set: BTreeSet<usize> = nodes.into_iter().map(|n| self.class_of[n]).collect();
        set.into_iter().collect()
    }
}

/// What a class gets from an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// An entry is chosen.
    Fit,
    /// No entry is eligible.
    NoFit,
    /// The index (or a nested one) could not be read.
    Error,
}

impl Verdict {
    /// `fit`, `no fit` or `error`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Fit => "fit",
            Verdict::NoFit => "no fit",
            Verdict::Error => "error",
        }
    }
}

/// A nested index descended through: the entry that led into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The entry's position in the index above.
    pub position: usize,
    /// The nested index's digest.
    pub digest: String,
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}", self.position, self.digest)
    }
}

/// One image × class: the choice, in words and in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Fit, no fit or error.
    pub verdict: Verdict,
    /// The chosen manifest's digest.
    pub digest: Option<String>,
    /// The chosen entry's platform, as written.
    pub platform: Option<String>,
    /// Its position, in the index it was chosen from (the innermost).
    pub position: Option<usize>,
    /// Its score.
    pub score: Option<i64>,
    /// Nested indexes descended through, outermost first.
    pub hops: Vec<Hop>,
    /// What decided the choice: the satisfied preferences and rules that
    /// added to its score (`cuda=12.4`), or `first match` when none did.
    pub decided_by: Vec<String>,
    /// Every reason: the chosen entry's, or why nothing fits.
    pub reasons: Vec<String>,
}

/// Values longer than this are cut (with `…`) in [`Cell::decided_by`].
const WORD_VALUE_CHARS: usize = 32;

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// An annotation key without its namespace: the part after the last `/`
/// (`example.com/gpu` → `gpu`), else without the first two reverse-DNS
/// labels (`org.example.cuda.version` → `cuda.version`,
/// `com.example.gpu` → `gpu`).
fn short_key(key: &str) -> &str {
    if let Some((_, k)) = key.rsplit_once('/') {
        if !k.is_empty() {
            return k;
        }
    }
    let mut parts = key.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(rest)) if !rest.is_empty() => rest,
        _ => key,
    }
}

impl Cell {
    /// A cell for an image that could not be read.
    pub fn error(message: &str) -> Cell {
        Cell {
            verdict: Verdict::Error,
            digest: None,
            platform: None,
            position: None,
            score: None,
            hops: Vec::new(),
            decided_by: Vec::new(),
            reasons: vec![message.to_owned()],
        }
    }

    /// The build in words: `#2 amd64/v3 cuda=12.4` (position, platform
    /// without a `linux/` prefix, what decided it), with nested hops first
    /// (`#1 → #0 arm64 first match`); `NO FIT` or `ERROR` otherwise.
    /// Annotation values are as the index has them (cut at 32 characters):
    /// escape them for the medium they are shown in.
    pub fn build(&self) -> String {
        match self.verdict {
            Verdict::NoFit => return "NO FIT".into(),
            Verdict::Error => return "ERROR".into(),
            Verdict::Fit => {}
        }
        let mut s = String::new();
        for h in &self.hops {
            s.push_str(&format!("#{} → ", h.position));
        }
        s.push_str(&format!("#{}", self.position.unwrap_or(0)));
        let p = self.platform.as_deref().unwrap_or("no platform");
        s.push(' ');
        s.push_str(p.strip_prefix("linux/").unwrap_or(p));
        for d in &self.decided_by {
            s.push(' ');
            s.push_str(d);
        }
        s
    }
}

/// What [`judge`]'s callback answers for a nested index: its parsed
/// content and the name to use for it in messages.
pub type Nested = (Arc<Index<'static>>, String);

/// The callback [`judge`] descends into nested indexes with: given the
/// entry that names one and the depth so far, the nested index (or why it
/// could not be read), or `None` to stop there.
pub type Descend<'c, E> = dyn FnMut(&Descriptor<'_>, usize) -> Option<Result<Nested, E>> + 'c;

/// "no manifest for linux/s390x in ORIGIN; it offers linux/amd64, …".
pub fn no_match_message(origin: &str, policy: &Policy, index: &Index<'_>) -> String {
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

/// The satisfied preferences, `prefer` rules and NFD compatibility sets
/// (`nfd:DESCRIPTION`, else `nfd:N`) that added to the score of `d`, the
/// entry at `position`.
fn decided_by(
    policy: &Policy,
    facts: &HostFacts,
    d: &Descriptor<'_>,
    position: usize,
) -> Vec<String> {
    let word = |key: &str| -> String {
        match d.annotations.get(key) {
            Some(v) => format!("{}={}", short_key(key), cut(v, WORD_VALUE_CHARS)),
            None => short_key(key).to_owned(),
        }
    };
    let mut out: Vec<String> = Vec::new();
    for p in policy.preferences() {
        if p.weight > 0 && p.is_satisfied_by(&d.annotations) {
            out.push(word(&p.key));
        }
    }
    for r in policy.rules() {
        if matches!(r.kind, crate::rules::Kind::Prefer(w) if w > 0)
            && r.holds(&d.annotations, facts) == Some(true)
        {
            out.push(word(&r.annotation));
        }
    }
    for v in policy.compat_of(position).filter(|v| v.added > 0) {
        out.push(match &v.description {
            Some(d) => format!("nfd:{}", cut(d, WORD_VALUE_CHARS)),
            None => format!("nfd:{}", v.set + 1),
        });
    }
    let mut seen = BTreeSet::new();
    out.retain(|w| seen.insert(w.clone()));
    out
}

/// The cell for one policy (a class's) and one index: select's choice,
/// descending into a nested index when `nested` gives it (called with the
/// entry and the depth so far, 0 for the top index; `None` stops there and
/// the nested index's own digest is the answer). An error from `nested`
/// makes an error cell, and is returned beside it.
///
/// This form knows no facts, so [`Cell::decided_by`] names the
/// preferences that decided, not the rules: use [`judge_class`] (or
/// [`judge_with_facts`]) for those.
pub fn judge<E: fmt::Display>(
    policy: &Policy,
    index: &Index<'_>,
    origin: &str,
    nested: &mut Descend<'_, E>,
) -> (Cell, Option<E>) {
    judge_at(policy, &HostFacts::new(), index, origin, nested, 0)
}

/// [`judge`] for a class: its policy and facts, so that the rules that
/// decided a choice are named in the cell.
pub fn judge_class<E: fmt::Display>(
    class: &Class,
    index: &Index<'_>,
    origin: &str,
    nested: &mut Descend<'_, E>,
) -> (Cell, Option<E>) {
    judge_at(&class.policy, &class.facts, index, origin, nested, 0)
}

/// [`judge`] with the facts the policy's rules are judged against.
pub fn judge_with_facts<E: fmt::Display>(
    policy: &Policy,
    facts: &HostFacts,
    index: &Index<'_>,
    origin: &str,
    nested: &mut Descend<'_, E>,
) -> (Cell, Option<E>) {
    judge_at(policy, facts, index, origin, nested, 0)
}

fn judge_at<E: fmt::Display>(
    policy: &Policy,
    facts: &HostFacts,
    index: &Index<'_>,
    origin: &str,
    nested: &mut Descend<'_, E>,
    depth: usize,
) -> (Cell, Option<E>) {
    let Some(sel) = policy.select(index) else {
        let mut reasons = vec![no_match_message(origin, policy, index)];
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
                decided_by: Vec::new(),
                reasons,
            },
            None,
        );
    };
    let d = sel.descriptor;
    if media_type::kind(&d.media_type) == Kind::Index {
        if let Some(got) = nested(d, depth) {
            let hop = Hop {
                position: sel.position,
                digest: d.digest.to_string(),
            };
            return match got {
                Ok((inner, inner_origin)) => {
                    let (mut cell, e) =
                        judge_at(policy, facts, &inner, &inner_origin, nested, depth + 1);
                    cell.hops.insert(0, hop);
                    (cell, e)
                }
                Err(e) => {
                    let mut c = Cell::error(&e.to_string());
                    c.hops.push(hop);
                    (c, Some(e))
                }
            };
        }
    }
    let ranked = policy.explain(index, sel.position);
    let mut words = decided_by(policy, facts, d, sel.position);
    if words.is_empty() {
        words.push("first match".to_owned());
    }
    (
        Cell {
            verdict: Verdict::Fit,
            digest: Some(d.digest.to_string()),
            platform: d.platform.as_ref().map(Platform::to_string),
            position: Some(sel.position),
            score: Some(sel.score),
            hops: Vec::new(),
            decided_by: words,
            reasons: ranked.reasons.iter().map(ToString::to_string).collect(),
        },
        None,
    )
}

/// Counts of fit, no fit and error, over pairs (a class's cell counts
/// once per node of the class).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Pairs with a fit.
    pub fit: usize,
    /// Pairs with no fit.
    pub no_fit: usize,
    /// Pairs whose image could not be read.
    pub error: usize,
}

impl Counts {
    /// Adds `n` pairs of verdict `v`.
    pub fn add(&mut self, v: Verdict, n: usize) {
        match v {
            Verdict::Fit => self.fit += n,
            Verdict::NoFit => self.no_fit += n,
            Verdict::Error => self.error += n,
        }
    }

    /// Every pair counted.
    pub fn pairs(&self) -> usize {
        self.fit + self.no_fit + self.error
    }
}

/// The values of a class's facts, one `NAME=V1,V2` a fact, for display.
pub fn facts_words(facts: &HostFacts) -> Vec<String> {
    facts
        .iter()
        .map(|(k, v)| format!("{k}={}", v.iter().cloned().collect::<Vec<_>>().join(",")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Kind as RuleKind, Op};

    const INDEX: &[u8] = br#"{"schemaVersion":2,"manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
       "digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111",
       "platform":{"architecture":"amd64","os":"linux"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
       "digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222",
       "platform":{"architecture":"amd64","os":"linux"},
       "annotations":{"org.example.cuda":"12.4"}},
      {"mediaType":"application/vnd.oci.image.index.v1+json","size":1,
       "digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333",
       "platform":{"architecture":"arm64","os":"linux"}}]}"#;

    const NESTED: &[u8] = br#"{"schemaVersion":2,"manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
       "digest":"sha256:4444444444444444444444444444444444444444444444444444444444444444",
       "platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}"#;

    fn facts(pairs: &[(&str, &str)]) -> HostFacts {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), [(*v).to_owned()].into()))
            .collect()
    }

    /// A rule preferring the CUDA build where the driver is new enough.
    fn cuda_rule() -> Rule {
        Rule {
            annotation: "org.example.cuda".into(),
            op: Op::VersionAtLeast,
            operand: Operand::Fact("nvidia.driver.cuda".into()),
            kind: RuleKind::Prefer(50),
            when: vec![],
            line: None,
        }
    }

    fn no_nesting() -> impl FnMut(&Descriptor<'_>, usize) -> Option<Result<Nested, String>> {
        |_, _| None
    }

    #[test]
    fn identical_facts_make_one_class_with_both_nodes() {
        let t = Template {
            rules: vec![cuda_rule()],
            ..Template::new()
        };
        let amd = Platform::new("linux", "amd64", None);
        // The host names differ, but no rule reads them.
        let a = facts(&[("nvidia.driver.cuda", "12.8"), ("host", "a")]);
        let b = facts(&[("nvidia.driver.cuda", "12.8"), ("host", "b")]);
        let f = Fleet::new(&t, [(amd.clone(), &a), (amd, &b)]);
        assert_eq!(f.classes().len(), 1);
        assert_eq!(f.classes()[0].nodes, [0, 1]);
        assert_eq!(
            f.classes()[0].facts,
            facts(&[("nvidia.driver.cuda", "12.8")])
        );
        assert_eq!((f.class_of(0), f.class_of(1), f.nodes()), (0, 0, 2));
        assert_eq!(f.classes_of([1, 0]), [0]);
    }

    #[test]
    fn different_facts_make_two_classes() {
        let t = Template {
            rules: vec![cuda_rule()],
            ..Template::new()
        };
        let amd = Platform::new("linux", "amd64", None);
        let new = facts(&[("nvidia.driver.cuda", "12.8")]);
        let old = facts(&[("nvidia.driver.cuda", "11.0")]);
        let f = Fleet::new(&t, [(amd.clone(), &new), (amd.clone(), &old), (amd, &new)]);
        assert_eq!(f.classes().len(), 2);
        assert_eq!(f.classes()[0].nodes, [0, 2]);
        assert_eq!(f.classes()[1].nodes, [1]);
        assert_eq!(f.classes_of([2, 1]), [0, 1]);
        assert_eq!(f.classes_of([]), [] as [usize; 0]);
        // And they choose differently, each in words.
        let index = Index::parse(INDEX).unwrap();
        let mut n = no_nesting();
        let (c0, _) = judge_class(&f.classes()[0], &index, "app", &mut n);
        let (c1, _) = judge_class(&f.classes()[1], &index, "app", &mut n);
        assert_eq!(c0.build(), "#1 amd64 cuda=12.4");
        assert_eq!(c0.decided_by, ["cuda=12.4"]);
        assert_eq!(c1.build(), "#0 amd64 first match");
        assert_eq!(
            c1.digest.as_deref(),
            Some("sha256:1111111111111111111111111111111111111111111111111111111111111111")
        );
        // Different platforms are different classes, whatever the facts.
        let f = Fleet::new(
            &Template::new(),
            [
                (Platform::new("linux", "amd64", None), &new),
                (Platform::new("linux", "arm64", None), &new),
                (Platform::new("linux", "amd64", None), &old),
            ],
        );
        assert_eq!(f.classes().len(), 2, "without rules facts do not count");
        assert_eq!(f.classes()[0].nodes, [0, 2]);
        assert!(f.classes()[0].facts.is_empty());
    }

    #[test]
    fn first_match_ignores_preferences() {
        let t = Template::new().prefer(Preference::key("org.example.cuda").weight(10));
        let none = HostFacts::new();
        let f = Fleet::new(&t, [(Platform::new("linux", "amd64", None), &none)]);
        let index = Index::parse(INDEX).unwrap();
        let c = &f.classes()[0];
        let mut n = no_nesting();
        let (pref, _) = judge(c.policy(), &index, "app", &mut n);
        let (first, _) = judge(c.first_match_policy(), &index, "app", &mut n);
        assert_eq!(pref.build(), "#1 amd64 cuda=12.4");
        assert_eq!(first.build(), "#0 amd64 first match");
    }

    #[test]
    fn nested_indexes_through_the_callback() {
        let index = Index::parse(INDEX).unwrap();
        let arm = Policy::new(&Platform::new("linux", "arm64", None));
        // Not descended: the nested index's digest is the answer.
        let (c, e) = judge(&arm, &index, "app", &mut no_nesting());
        assert_eq!((c.build().as_str(), e), ("#2 arm64 first match", None));
        let mut calls = Vec::new();
        let mut descend = |d: &Descriptor<'_>, depth: usize| {
            calls.push((d.digest.to_string(), depth));
            Some(Ok::<_, String>((
                Arc::new(Index::parse(NESTED).unwrap().into_owned()),
                "app@inner".to_owned(),
            )))
        };
        let (c, e) = judge(&arm, &index, "app", &mut descend);
        assert!(e.is_none());
        assert_eq!(c.build(), "#2 → #0 arm64/v8 first match");
        assert_eq!(c.hops[0].position, 2);
        assert!(c.digest.unwrap().starts_with("sha256:4444"));
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].1, 0);
        let mut failing = |_: &Descriptor<'_>, _: usize| Some(Err("gone".to_owned()));
        let (c, e) = judge(&arm, &index, "app", &mut failing);
        assert_eq!((c.verdict, e.as_deref()), (Verdict::Error, Some("gone")));
        assert_eq!(c.build(), "ERROR");
        assert_eq!(c.hops.len(), 1);
    }

    #[test]
    fn no_fit_says_what_the_index_offers() {
        let index = Index::parse(INDEX).unwrap();
        let p = Policy::new(&Platform::new("linux", "s390x", None));
        let (c, _) = judge(&p, &index, "app", &mut no_nesting());
        assert_eq!(c.verdict, Verdict::NoFit);
        assert_eq!(c.build(), "NO FIT");
        assert_eq!(
            c.reasons[0],
            "no manifest for linux/s390x in app; it offers linux/amd64, linux/arm64"
        );
    }

    #[test]
    fn words_cut_long_values_and_short_keys() {
        assert_eq!(short_key("org.example.cuda"), "cuda");
        assert_eq!(short_key("org.example.cuda.version"), "cuda.version");
        assert_eq!(short_key("example.com/gpu"), "gpu");
        assert_eq!(short_key("plain"), "plain");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
        let mut counts = Counts::default();
        counts.add(Verdict::Fit, 3);
        counts.add(Verdict::Error, 1);
        assert_eq!((counts.fit, counts.error, counts.pairs()), (3, 1, 4));
        assert_eq!(facts_words(&facts(&[("a", "1")])), ["a=1".to_owned()]);
    }
}
