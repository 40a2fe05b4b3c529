//! node-feature-discovery's image compatibility artifacts: the
//! specification (`version`, `compatibilities`, each with NFD `rules`, a
//! `weight`, a `tag` and a `description`) and the evaluation of its rules
//! against a node's features, with the same answers as NFD's
//! `nfd compat validate-node` for the same features.
//!
//! Pure logic: the artifact's YAML layer comes in as bytes, the features as
//! a [`Features`] value (ocipick-host builds one from this machine or from
//! an `nfd export features` file).
//!
//! Semantics, as NFD's `nodefeaturerule` package has them:
//! - a rule passes when all its `matchFeatures` terms pass and, if it has
//!   `matchAny`, at least one element of it passes (a rule with neither
//!   passes);
//! - a term names a feature (`cpu.cpuid`, case-insensitive); a feature the
//!   node does not have fails the term, whatever the expressions;
//! - `matchExpressions` over flags and attributes: every expression must
//!   hold on the flags or on the attributes (`DoesNotExist` on both); over
//!   instances: one instance must satisfy every expression;
//! - `matchName`: some element name (flag, attribute, or instance
//!   attribute) satisfies it;
//! - operators: `In`, `NotIn`, `InRegexp`, `Exists`, `DoesNotExist`, `Gt`,
//!   `Ge`, `Lt`, `Le`, `GtLt`, `GeLe`, `IsTrue`, `IsFalse` and `Any`; a
//!   missing element fails every operator but `DoesNotExist` and `Any`;
//!   the numeric ones take base-10 integers (or, with `type: version`,
//!   dotted versions);
//! - a passing rule's `labels` and `vars` become attributes of the feature
//!   `rule.matched`, which later rules (of any compatibility) may match.
//!
//! Where NFD stops with an error (a malformed expression, a number that
//! is not one), and where ocipick cannot follow (`varsTemplate`,
//! `labelsTemplate`: Go templates), the expression is [`Outcome::Unknown`]
//! with the reason, never a silent pass: an unknown term makes its rule
//! unknown unless another term already fails it.
//!
//! ```
//! use ocipick::nfd::{Features, Outcome};
//! let spec = ocipick::nfd::parse_spec(br#"
//! version: v1alpha1
//! compatibilities:
//! - description: AVX-512 build
//!   weight: 10
//!   rules:
//!   - name: cpu
//!     matchFeatures:
//!     - feature: cpu.cpuid
//!       matchExpressions:
//!         AVX512F: {op: Exists}
//! "#).unwrap();
//! let mut node = Features::default();
//! node.flags.entry("cpu.cpuid".into()).or_default().insert("AVX2".into());
//! let report = ocipick::nfd::evaluate(&spec, &node, &[]);
//! assert_eq!(report[0].outcome, Outcome::Fail);
//! node.flags.get_mut("cpu.cpuid").unwrap().insert("AVX512F".into());
//! assert_eq!(ocipick::nfd::evaluate(&spec, &node, &[])[0].outcome, Outcome::Pass);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub mod artifact;
pub mod lint;

/// The artifact type of an NFD image compatibility manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.nfd.image-compatibility.v1alpha1";
/// The media type of its one layer, the specification in YAML.
pub const SPEC_MEDIA_TYPE: &str = "application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml";
/// The only `version` NFD defines.
pub const SPEC_VERSION: &str = "v1alpha1";
/// The annotation NFD orders several artifacts by (newest wins).
pub const CREATED: &str = "org.opencontainers.image.created";
/// The largest specification [`parse_spec`] reads.
pub const MAX_SPEC_BYTES: usize = 1 << 20;
/// The most expressions (over all rules) a specification may hold.
pub const MAX_EXPRESSIONS: usize = 10_000;
/// The largest compiled `InRegexp` pattern, in bytes of the regex
/// engine's program.
const MAX_REGEX_BYTES: usize = 1 << 20;

/// The feature that passing rules' `labels` and `vars` go to.
pub const RULE_MATCHED: &str = "rule.matched";

/// A node's features, in NFD's three kinds (as `nfd export features`
/// prints them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Features {
    /// Flag features: feature → names.
    pub flags: BTreeMap<String, BTreeSet<String>>,
    /// Attribute features: feature → name → value.
    pub attributes: BTreeMap<String, BTreeMap<String, String>>,
    /// Instance features: feature → instances, each an attribute map.
    pub instances: BTreeMap<String, Vec<BTreeMap<String, String>>>,
}

/// A parsed image compatibility specification.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `v1alpha1`.
    pub version: String,
    /// The compatibility sets.
    pub compatibilities: Vec<Compatibility>,
}

/// One compatibility set.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Compatibility {
    /// The rules, all of which must pass.
    #[serde(deserialize_with = "rules_either")]
    pub rules: Vec<Rule>,
    /// Node-affinity weight (NFD leaves its use to consumers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// Groups sets; `--tags` (NFD) / `--compat-tag` select by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// What the set means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `rules` is a list of rules (NFD v0.20: NodeFeatureGroup rule items) or,
/// as NFD v0.17 documented it, a NodeFeatureRule spec object whose `rules`
/// is that list.
fn rules_either<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Rule>, D::Error> {
    use serde::de::{Error, MapAccess, SeqAccess, Visitor};
    struct Rules;
    impl<'de> Visitor<'de> for Rules {
        type Value = Vec<Rule>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(
                "a list of rules (name, vars, matchFeatures, matchAny), \
                 or an object with such a `rules` list",
            )
        }
        // Streamed, not buffered: errors keep their line and column.
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Rule>, A::Error> {
            let mut out = Vec::new();
            while let Some(r) = seq.next_element()? {
                out.push(r);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Rule>, A::Error> {
            let mut rules = None;
            while let Some(k) = map.next_key::<String>()? {
                if k != "rules" {
                    return Err(A::Error::unknown_field(&k, &["rules"]));
                }
                if rules.is_some() {
                    return Err(A::Error::duplicate_field("rules"));
                }
                rules = Some(map.next_value::<Vec<Rule>>()?);
            }
            rules.ok_or_else(|| A::Error::missing_field("rules"))
        }
    }
    d.deserialize_any(Rules)
}

/// One NFD rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// Variables set when it passes (visible as `rule.matched`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
    /// A Go template of variables: not expanded by ocipick (reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vars_template: Option<String>,
    /// Labels (NodeFeatureRule rules): also visible as `rule.matched`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// A Go template of labels: not expanded by ocipick (reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_template: Option<String>,
    /// NodeFeatureRule outputs with no bearing on matching, accepted and
    /// ignored as NFD's validator ignores them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Value>,
    /// As `annotations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taints: Option<serde_json::Value>,
    /// As `annotations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_resources: Option<serde_json::Value>,
    /// Terms that must all pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_features: Option<Vec<Term>>,
    /// Alternatives of which one must pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_any: Option<Vec<MatchAnyElem>>,
}

/// One element of `matchAny`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MatchAnyElem {
    /// Terms that must all pass.
    pub match_features: Vec<Term>,
}

/// A term: requirements on one feature.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Term {
    /// `domain.feature`, e.g. `cpu.cpuid`.
    pub feature: String,
    /// Element name → expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_expressions: Option<BTreeMap<String, Expression>>,
    /// An expression on the element names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_name: Option<Expression>,
}

/// `{op: …, value: […], type: …}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expression {
    /// The operator, as written (checked when evaluated, as NFD does).
    pub op: String,
    /// Its operands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value: Vec<String>,
    /// `version` for version comparisons.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
}

/// Why a specification could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("NFD image compatibility specification: {0}")]
pub struct SpecError(pub String);

/// Reads a specification (the YAML layer), checking its size, `version`
/// and the number of expressions.
pub fn parse_spec(bytes: &[u8]) -> Result<Spec, SpecError> {
    if bytes.len() > MAX_SPEC_BYTES {
        return Err(SpecError(format!(
            "{} bytes, more than the {MAX_SPEC_BYTES} read",
            bytes.len()
        )));
    }
    let spec: Spec = yaml_serde::from_slice(bytes).map_err(|e| SpecError(e.to_string()))?;
    if spec.version != SPEC_VERSION {
        return Err(SpecError(format!(
            "version {:?}: only {SPEC_VERSION} is defined",
            spec.version
        )));
    }
    let mut n = 0usize;
    for c in &spec.compatibilities {
        for r in &c.rules {
            let terms = r
                .match_features
                .iter()
                .flatten()
                .chain(r.match_any.iter().flatten().flat_map(|a| &a.match_features));
            for t in terms {
                n += t.match_expressions.as_ref().map_or(0, BTreeMap::len)
                    + usize::from(t.match_name.is_some());
            }
        }
    }
    if n > MAX_EXPRESSIONS {
        return Err(SpecError(format!(
            "{n} expressions, more than the {MAX_EXPRESSIONS} evaluated"
        )));
    }
    Ok(spec)
}

/// The answer for an expression, term, rule or set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Satisfied.
    Pass,
    /// Not satisfied.
    Fail,
    /// Not evaluated: see the `problem`.
    Unknown,
}

impl Outcome {
    fn of(b: bool) -> Outcome {
        if b {
            Outcome::Pass
        } else {
            Outcome::Fail
        }
    }
    /// Kleene AND: fail wins, then unknown.
    pub fn and(self, o: Outcome) -> Outcome {
        use Outcome::*;
        match (self, o) {
            (Fail, _) | (_, Fail) => Fail,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Pass,
        }
    }
    /// Kleene OR: pass wins, then unknown.
    pub fn or(self, o: Outcome) -> Outcome {
        use Outcome::*;
        match (self, o) {
            (Pass, _) | (_, Pass) => Pass,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Fail,
        }
    }
    /// `pass`, `fail` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        }
    }
}

/// One expression's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpressionReport {
    /// The term's feature.
    pub feature: String,
    /// The element the expression is on; `None` for `matchName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The operator.
    pub op: String,
    /// Its operands.
    pub value: Vec<String>,
    /// The answer.
    pub outcome: Outcome,
    /// Why it is unknown (or why it failed, where that is not obvious).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl ExpressionReport {
    /// The expression in words, without its answer: `cpu.cpuid AVX512F
    /// Exists`, `kernel.version major Gt [5]`, `pci.device matchName In
    /// [10de]`.
    pub fn words(&self) -> String {
        let mut s = match &self.name {
            Some(n) => format!("{} {n} {}", self.feature, self.op),
            None => format!("{} matchName {}", self.feature, self.op),
        };
        if !self.value.is_empty() {
            s.push_str(&format!(" [{}]", self.value.join(", ")));
        }
        s
    }
}

/// A group of terms (`matchFeatures`, or one `matchAny` element).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermsReport {
    /// All its terms together.
    pub outcome: Outcome,
    /// Every expression, in order.
    pub expressions: Vec<ExpressionReport>,
}

/// One rule's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleReport {
    /// The rule's name.
    pub name: String,
    /// The answer.
    pub outcome: Outcome,
    /// Its `matchFeatures`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_features: Option<TermsReport>,
    /// Its `matchAny` elements.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_any: Vec<TermsReport>,
    /// What ocipick could not follow in it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One compatibility set's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompatibilityReport {
    /// Its position in the specification (from 0).
    pub index: usize,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Its weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// All its rules together.
    pub outcome: Outcome,
    /// Each rule.
    pub rules: Vec<RuleReport>,
}

/// Evaluates every compatibility set (those whose `tag` is in `tags`, when
/// `tags` is not empty, as NFD's `--tags`), in order, against `features`.
///
/// As NFD does, the `labels` and `vars` of each passing rule are added to
/// the attributes of `rule.matched` for the rules after it, across sets.
pub fn evaluate(spec: &Spec, features: &Features, tags: &[String]) -> Vec<CompatibilityReport> {
    let mut ev = Evaluator {
        features,
        matched: features
            .attributes
            .get(RULE_MATCHED)
            .cloned()
            .unwrap_or_default(),
        templated: false,
        seen_rule: features.attributes.contains_key(RULE_MATCHED),
    };
    let mut out = Vec::new();
    for (index, c) in spec.compatibilities.iter().enumerate() {
        if !tags.is_empty() && !c.tag.as_ref().is_some_and(|t| tags.contains(t)) {
            continue;
        }
        let rules: Vec<RuleReport> = c.rules.iter().map(|r| ev.rule(r)).collect();
        let outcome = rules
            .iter()
            .fold(Outcome::Pass, |acc, r| acc.and(r.outcome));
        out.push(CompatibilityReport {
            index,
            description: c.description.clone(),
            tag: c.tag.clone(),
            weight: c.weight,
            outcome,
            rules,
        });
    }
    out
}

struct Evaluator<'a> {
    features: &'a Features,
    /// `rule.matched` as it stands.
    matched: BTreeMap<String, String>,
    /// A passing rule had a template ocipick did not expand, or a rule
    /// with `labels` or `vars` was unknown: `rule.matched` may lack what
    /// NFD would have put there.
    templated: bool,
    /// `rule.matched` exists: NFD adds it after the first rule it
    /// evaluates (empty if that rule failed), so before that a term on it
    /// fails as on any missing feature.
    seen_rule: bool,
}

impl Evaluator<'_> {
    fn rule(&mut self, r: &Rule) -> RuleReport {
        let mut notes = Vec::new();
        let match_features = r.match_features.as_ref().map(|t| self.terms(t));
        let match_any: Vec<TermsReport> = r
            .match_any
            .iter()
            .flatten()
            .map(|a| self.terms(&a.match_features))
            .collect();
        let mut outcome = match_features.as_ref().map_or(Outcome::Pass, |m| m.outcome);
        if !match_any.is_empty() {
            let any = match_any
                .iter()
                .fold(Outcome::Fail, |acc, t| acc.or(t.outcome));
            outcome = outcome.and(any);
        }
        for (field, t) in [
            ("varsTemplate", &r.vars_template),
            ("labelsTemplate", &r.labels_template),
        ] {
            if t.as_ref().is_some_and(|t| !t.trim().is_empty()) {
                notes.push(format!(
                    "{field} is a Go template, not expanded by ocipick: rules after this one \
                     that match rule.matched may be unknown"
                ));
                if outcome == Outcome::Pass {
                    self.templated = true;
                }
            }
        }
        if outcome == Outcome::Pass {
            for (k, v) in r.labels.iter().chain(&r.vars) {
                self.matched.insert(k.clone(), v.clone());
            }
        }
        if outcome == Outcome::Unknown && (!r.labels.is_empty() || !r.vars.is_empty()) {
            self.templated = true;
        }
        self.seen_rule = true;
        RuleReport {
            name: r.name.clone(),
            outcome,
            match_features,
            match_any,
            notes,
        }
    }

    fn terms(&self, terms: &[Term]) -> TermsReport {
        let mut outcome = Outcome::Pass;
        let mut expressions = Vec::new();
        for t in terms {
            outcome = outcome.and(self.term(t, &mut expressions));
        }
        TermsReport {
            outcome,
            expressions,
        }
    }

    fn term(&self, t: &Term, out: &mut Vec<ExpressionReport>) -> Outcome {
        let feature = t.feature.to_lowercase();
        let flags = self.features.flags.get(&feature);
        let rule_matched = feature == RULE_MATCHED;
        let attrs = if rule_matched {
            self.seen_rule.then_some(&self.matched)
        } else {
            self.features.attributes.get(&feature)
        };
        let instances = self.features.instances.get(&feature);
        let report = |name: Option<&String>, e: &Expression, outcome, problem| ExpressionReport {
            feature: t.feature.clone(),
            name: name.cloned(),
            op: e.op.clone(),
            value: e.value.clone(),
            outcome,
            problem,
        };
        // Where rule.matched may lack entries NFD would have, a failure
        // there is not known to be one.
        let unsure = |o: Outcome, problem: Option<String>| {
            if rule_matched && self.templated && o == Outcome::Fail {
                (
                    Outcome::Unknown,
                    Some("an earlier rule's template was not expanded".to_owned()),
                )
            } else {
                (o, problem)
            }
        };
        if flags.is_none() && attrs.is_none() && instances.is_none() {
            let problem = Some(format!("the node has no feature {feature}"));
            for (name, e) in t.match_expressions.iter().flatten() {
                out.push(report(Some(name), e, Outcome::Fail, problem.clone()));
            }
            if let Some(e) = &t.match_name {
                out.push(report(None, e, Outcome::Fail, problem));
            }
            return Outcome::Fail;
        }
        let mut outcome = Outcome::Pass;
        if let Some(exprs) = &t.match_expressions {
            // Flags and attributes together.
            let mut kv = Outcome::of(flags.is_some() || attrs.is_some());
            // Per instance: every expression.
            let list = instances.map_or(&[][..], Vec::as_slice);
            let mut per_instance = vec![Outcome::Pass; list.len()];
            for (name, e) in exprs {
                let mut problem = None;
                let mut note = |r: Result<bool, String>| match r {
                    Ok(b) => Outcome::of(b),
                    Err(p) => {
                        problem.get_or_insert(p);
                        Outcome::Unknown
                    }
                };
                let on_flags = flags.map(|f| note(eval_op(e, f.contains(name), None)));
                let on_attrs = attrs.map(|a| {
                    note(eval_op(
                        e,
                        a.contains_key(name),
                        a.get(name).map(String::as_str),
                    ))
                });
                let both = [on_flags, on_attrs].into_iter().flatten();
                let this_kv = if e.op == "DoesNotExist" {
                    both.fold(Outcome::Pass, Outcome::and)
                } else {
                    both.fold(Outcome::Fail, Outcome::or)
                };
                if flags.is_some() || attrs.is_some() {
                    kv = kv.and(this_kv);
                }
                let mut any_instance = Outcome::Fail;
                for (i, inst) in list.iter().enumerate() {
                    let o = note(eval_op(
                        e,
                        inst.contains_key(name),
                        inst.get(name).map(String::as_str),
                    ));
                    per_instance[i] = per_instance[i].and(o);
                    any_instance = any_instance.or(o);
                }
                let shown = if flags.is_some() || attrs.is_some() {
                    this_kv.or(any_instance)
                } else {
                    any_instance
                };
                let (shown, problem) = unsure(shown, problem);
                out.push(report(Some(name), e, shown, problem));
            }
            let inst = per_instance.into_iter().fold(Outcome::Fail, Outcome::or);
            let (o, _) = unsure(kv.or(inst), None);
            outcome = o;
        }
        if let Some(e) = &t.match_name {
            let mut problem = None;
            let mut o = Outcome::Fail;
            let names = flags
                .into_iter()
                .flatten()
                .chain(attrs.into_iter().flat_map(BTreeMap::keys))
                .chain(instances.into_iter().flatten().flat_map(BTreeMap::keys));
            for n in names {
                match eval_op(e, true, Some(n)) {
                    Ok(b) => o = o.or(Outcome::of(b)),
                    Err(p) => {
                        problem.get_or_insert(p);
                        o = o.or(Outcome::Unknown);
                    }
                }
                if o == Outcome::Pass {
                    break;
                }
            }
            // An invalid expression is invalid on no elements too.
            if problem.is_none() {
                if let Err(p) = eval_op(e, false, None) {
                    problem = Some(p);
                    o = Outcome::Unknown;
                }
            }
            let (o, problem) = unsure(o, problem);
            out.push(report(None, e, o, problem));
            outcome = outcome.and(o);
        }
        outcome
    }
}

/// The operators NFD defines.
pub const OPERATORS: &[&str] = &[
    "In",
    "NotIn",
    "InRegexp",
    "Exists",
    "DoesNotExist",
    "Gt",
    "Ge",
    "Lt",
    "Le",
    "GtLt",
    "GeLe",
    "IsTrue",
    "IsFalse",
    "Any",
];

/// Evaluates one expression on one input, as NFD's
/// `evaluateMatchExpression`: `valid` says whether the element exists,
/// `value` is its value (`None` for a flag, whose only value is its
/// presence). `Err` where NFD reports an error (the expression is then
/// unknown to ocipick).
pub fn eval_op(e: &Expression, valid: bool, value: Option<&str>) -> Result<bool, String> {
    let op = e.op.as_str();
    let n = e.value.len();
    let none = |ok: bool| {
        if n == 0 {
            Ok(ok)
        } else {
            Err(format!("{op} takes no value (has {n})"))
        }
    };
    match op {
        "Any" => return none(true),
        "Exists" => return none(valid),
        "DoesNotExist" => return none(!valid),
        _ if !OPERATORS.contains(&op) => return Err(format!("unknown operator {op:?}")),
        _ => {}
    }
    if let Some(t) = &e.value_type {
        if t != "version" {
            return Err(format!("unknown value type {t:?}"));
        }
        if !matches!(op, "Gt" | "Ge" | "Lt" | "Le" | "GtLt" | "GeLe") {
            return Err(format!(
                "type {t:?} is for Gt, Ge, Lt, Le, GtLt and GeLe, not {op}"
            ));
        }
    }
    // Validate the expression first so that an invalid one is reported
    // whatever the input (NFD checks only when it meets a valid input;
    // reporting it always is the safe side of that).
    match op {
        "In" | "NotIn" | "InRegexp" if n == 0 => return Err(format!("{op} needs a value")),
        "Gt" | "Ge" | "Lt" | "Le" if n != 1 => {
            return Err(format!("{op} needs exactly one value (has {n})"))
        }
        "GtLt" | "GeLe" if n != 2 => {
            return Err(format!("{op} needs exactly two values (has {n})"))
        }
        "IsTrue" | "IsFalse" if n != 0 => return Err(format!("{op} takes no value (has {n})")),
        _ => {}
    }
    let regexes = if op == "InRegexp" {
        let mut v = Vec::with_capacity(n);
        for p in &e.value {
            v.push(
                regex::RegexBuilder::new(p)
                    .size_limit(MAX_REGEX_BYTES)
                    .build()
                    .map_err(|err| format!("InRegexp: invalid regular expression {p:?}: {err}"))?,
            );
        }
        v
    } else {
        Vec::new()
    };
    let version = e.value_type.is_some();
    let num = |s: &str| -> Result<Num, String> {
        if version {
            parse_version(s).map(Num::Version)
        } else {
            s.parse::<i64>()
                .map(Num::Int)
                .map_err(|_| format!("not a number: {s:?}"))
        }
    };
    let bounds: Vec<Num> = if matches!(op, "Gt" | "Ge" | "Lt" | "Le" | "GtLt" | "GeLe") {
        let b = e
            .value
            .iter()
            .map(|v| num(v))
            .collect::<Result<Vec<_>, _>>()?;
        if n == 2 && b[0] >= b[1] {
            return Err(format!(
                "{op}: the first value must be less than the second"
            ));
        }
        b
    } else {
        Vec::new()
    };
    let (true, Some(value)) = (valid, value) else {
        return Ok(false);
    };
    Ok(match op {
        "In" => e.value.iter().any(|v| v == value),
        "NotIn" => !e.value.iter().any(|v| v == value),
        "InRegexp" => regexes.iter().any(|r| r.is_match(value)),
        "IsTrue" => value == "true",
        "IsFalse" => value == "false",
        _ => {
            let x = num(value)?;
            match op {
                "Gt" => x > bounds[0],
                "Ge" => x >= bounds[0],
                "Lt" => x < bounds[0],
                "Le" => x <= bounds[0],
                "GtLt" => x > bounds[0] && x < bounds[1],
                _ => x >= bounds[0] && x <= bounds[1],
            }
        }
    })
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Num {
    Int(i64),
    Version(Vec<u64>),
}

/// `1`, `2.0`, `6.1.0`: dot-separated decimal numbers (an optional `v`
/// before). Missing trailing parts count as 0 (`2` = `2.0`).
fn parse_version(s: &str) -> Result<Vec<u64>, String> {
    let bad = || format!("not a version: {s:?}");
    let body = s.strip_prefix('v').unwrap_or(s);
    if body.is_empty() {
        return Err(bad());
    }
    let mut parts = body
        .split('.')
        .map(|p| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                Err(bad())
            } else {
                p.parse::<u64>().map_err(|_| bad())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    while parts.len() > 1 && parts.last() == Some(&0) {
        parts.pop();
    }
    Ok(parts)
}

/// Of several artifact manifests' `org.opencontainers.image.created`
/// values, the position of the newest, as NFD takes it (RFC 3339 times of
/// one offset compare as strings; an absent or empty value is oldest).
pub fn newest<'a>(created: impl IntoIterator<Item = Option<&'a str>>) -> Option<usize> {
    let mut best: Option<(usize, &str)> = None;
    for (i, c) in created.into_iter().enumerate() {
        let c = c.unwrap_or("");
        if best.is_none_or(|(_, b)| c >= b) {
            best = Some((i, c));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(op: &str, v: &[&str]) -> Expression {
        Expression {
            op: op.into(),
            value: v.iter().map(|s| (*s).to_owned()).collect(),
            value_type: None,
        }
    }

    #[test]
    fn kleene() {
        use Outcome::*;
        assert_eq!(Pass.and(Unknown), Unknown);
        assert_eq!(Fail.and(Unknown), Fail);
        assert_eq!(Fail.or(Unknown), Unknown);
        assert_eq!(Pass.or(Unknown), Pass);
    }

    #[test]
    fn versions_compare_by_parts() {
        assert!(parse_version("2.10").unwrap() > parse_version("2.9").unwrap());
        assert_eq!(parse_version("2").unwrap(), parse_version("2.0").unwrap());
        assert!(parse_version("2.x").is_err());
    }

    #[test]
    fn invalid_expressions_are_errors_even_on_missing_input() {
        assert!(eval_op(&e("Gt", &[]), false, None).is_err());
        assert!(eval_op(&e("Nope", &["1"]), true, Some("1")).is_err());
        assert!(eval_op(&e("InRegexp", &["("]), false, None).is_err());
    }

    #[test]
    fn alias_bombs_are_refused_quickly() {
        // Inside `annotations`, which takes any value: 10^12 elements once
        // expanded.
        let mut y = String::from(
            "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    annotations:\n      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
        );
        for i in 1..12 {
            let p = i - 1;
            y.push_str(&format!(
                "      a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let t = std::time::Instant::now();
        let e = parse_spec(y.as_bytes()).unwrap_err();
        assert!(e.0.contains("repetition limit"), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn newest_takes_the_latest_created() {
        assert_eq!(
            newest([
                Some("2024-01-01T00:00:00Z"),
                None,
                Some("2025-01-01T00:00:00Z")
            ]),
            Some(2)
        );
        assert_eq!(newest([None, None]), Some(1));
        assert_eq!(newest(std::iter::empty()), None);
    }
}
