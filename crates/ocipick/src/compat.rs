//! Selection with node-feature-discovery image compatibility artifacts:
//! each compatibility set of an entry's artifact, evaluated against the
//! target's features ([`crate::nfd::evaluate`]), becomes a [`SetVerdict`]
//! that [`Policy::with_compat`](crate::Policy::with_compat) scores.
//!
//! As Kubernetes' *preferred* node affinity treats its weighted terms
//! (docs/decisions.md): a set that passes adds its `weight` to the entry's
//! score, like a preference; a set that fails or is `unknown` adds nothing
//! — the entry is unpreferred, never made ineligible — and is named in the
//! ranking's reasons. With no artifact anywhere, or equal scores, the
//! first matching entry wins as always.
//!
//! Which artifact speaks for an entry: the newest attached to the entry's
//! own manifest; else the newest attached to the index itself, whose sets
//! then apply to every entry ([`Scope::Index`]). An index-level artifact
//! alone adds the same weight to every entry it passes for, so it never
//! reorders them; it is there to be reported.
//!
//! ```
//! use ocipick::compat::{verdicts, Scope};
//! use ocipick::nfd::{self, Features};
//! use ocipick::{Index, Platform, Policy};
//!
//! let spec = nfd::parse_spec(br#"
//! version: v1alpha1
//! compatibilities:
//! - description: CUDA 12 driver
//!   weight: 50
//!   rules:
//!   - name: driver
//!     matchFeatures:
//!     - feature: nvidia.driver
//!       matchExpressions:
//!         major: {op: Ge, value: ["525"]}
//! "#).unwrap();
//! let mut node = Features::default();
//! node.attributes.entry("nvidia.driver".into()).or_default().insert("major".into(), "550".into());
//! let sets = verdicts(&nfd::evaluate(&spec, &node, &[]), "sha256:…", None, Scope::Entry);
//!
//! let doc = br#"{"schemaVersion":2,"manifests":[
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,
//!    "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
//!    "platform":{"architecture":"amd64","os":"linux"}},
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7682,
//!    "digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
//!    "platform":{"architecture":"amd64","os":"linux"}}]}"#;
//! let index = Index::parse(doc).unwrap();
//! let policy = Policy::new(&Platform::new("linux", "amd64", None)).with_compat(1, sets);
//! let chosen = policy.select(&index).unwrap();
//! assert_eq!((chosen.position, chosen.score), (1, 50));
//! ```

use std::fmt;

use serde::Serialize;

use crate::nfd::{CompatibilityReport, Features, Outcome, Spec, TermsReport};

/// Whose artifact a verdict comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Attached to the entry's own manifest.
    Entry,
    /// Attached to the index, for every entry without its own.
    Index,
}

/// One rule's answer, with the expressions that did not pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleVerdict {
    /// The rule's name.
    pub name: String,
    /// Its answer.
    pub outcome: Outcome,
    /// Its expressions that failed or are unknown, in words
    /// (`nvidia.driver major Ge [525]: fail`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_passed: Vec<String>,
}

/// One compatibility set's verdict for one index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetVerdict {
    /// The artifact manifest's digest.
    pub artifact: String,
    /// Its `org.opencontainers.image.created`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Whose artifact it is.
    pub scope: Scope,
    /// The set's position in the specification (from 0).
    pub set: usize,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Its weight (0 when the set gives none).
    pub weight: i64,
    /// The answer for the target.
    pub outcome: Outcome,
    /// What it adds to the score: the weight when it passes, else 0.
    pub added: i64,
    /// Each rule.
    pub rules: Vec<RuleVerdict>,
}

fn not_passed(t: &TermsReport, out: &mut Vec<String>) {
    for e in t.expressions.iter().filter(|e| e.outcome != Outcome::Pass) {
        let mut s = format!("{}: {}", e.words(), e.outcome.as_str());
        if let Some(p) = &e.problem {
            s.push_str(&format!(" ({p})"));
        }
        out.push(s);
    }
}

/// The verdicts of one artifact's evaluated sets ([`crate::nfd::evaluate`]'s
/// reports), for an entry.
pub fn verdicts(
    reports: &[CompatibilityReport],
    artifact: &str,
    created: Option<&str>,
    scope: Scope,
) -> Vec<SetVerdict> {
    reports
        .iter()
        .map(|c| {
            let weight = c.weight.unwrap_or(0);
            SetVerdict {
                artifact: artifact.to_owned(),
                created: created.map(str::to_owned),
                scope,
                set: c.index,
                description: c.description.clone(),
                tag: c.tag.clone(),
                weight,
                outcome: c.outcome,
                added: if c.outcome == Outcome::Pass {
                    weight
                } else {
                    0
                },
                rules: c
                    .rules
                    .iter()
                    .map(|r| {
                        let mut np = Vec::new();
                        if r.outcome != Outcome::Pass {
                            if let Some(m) = &r.match_features {
                                not_passed(m, &mut np);
                            }
                            for m in r.match_any.iter() {
                                not_passed(m, &mut np);
                            }
                            np.extend(r.notes.iter().cloned());
                        }
                        RuleVerdict {
                            name: r.name.clone(),
                            outcome: r.outcome,
                            not_passed: np,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The longest a list of not-passed expressions runs in a reason line.
const SHOWN: usize = 3;

impl fmt::Display for SetVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nfd compatibility {}", self.set + 1)?;
        if let Some(d) = &self.description {
            write!(f, " {d:?}")?;
        }
        let mut extra = Vec::new();
        if let Some(t) = &self.tag {
            extra.push(format!("tag {t}"));
        }
        extra.push(format!("weight {}", self.weight));
        if self.scope == Scope::Index {
            extra.push("from the index's artifact".to_owned());
        }
        write!(f, " ({})", extra.join(", "))?;
        match self.outcome {
            Outcome::Pass => write!(f, ": pass, {:+}", self.added)?,
            Outcome::Fail => f.write_str(": fail, unpreferred (adds nothing)")?,
            Outcome::Unknown => f.write_str(": unknown, adds nothing")?,
        }
        let rules: Vec<String> = self
            .rules
            .iter()
            .map(|r| {
                let mut s = format!("rule {:?} {}", r.name, r.outcome.as_str());
                if !r.not_passed.is_empty() {
                    let mut shown: Vec<&str> = r
                        .not_passed
                        .iter()
                        .take(SHOWN)
                        .map(String::as_str)
                        .collect();
                    let more = r.not_passed.len().saturating_sub(SHOWN);
                    let tail = format!("{more} more");
                    if more > 0 {
                        shown.push(&tail);
                    }
                    s.push_str(&format!(": {}", shown.join("; ")));
                }
                s
            })
            .collect();
        if !rules.is_empty() {
            write!(f, " [{}]", rules.join(", "))?;
        }
        Ok(())
    }
}

/// An artifact found for one subject (the index or an entry), its
/// specification parsed once, whatever the number of targets it is then
/// evaluated for.
#[derive(Debug, Clone, PartialEq)]
pub struct Attached {
    /// The artifact manifest's digest.
    pub artifact: String,
    /// Its `org.opencontainers.image.created`.
    pub created: Option<String>,
    /// Its specification; `None` when it could not be used (the artifact
    /// then still speaks for its entry, with no verdicts).
    pub spec: Option<Spec>,
}

/// The artifacts found for one index: the index's own, and for each entry
/// looked up, its own (if any). Discovery (I/O) fills it once; then
/// [`Artifacts::policy`] scores it for any number of targets, each with
/// its own features.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Artifacts {
    /// The artifact attached to the index itself.
    pub index: Option<Attached>,
    /// Each entry looked up, by position, with its own artifact.
    pub entries: Vec<(usize, Option<Attached>)>,
}

impl Artifacts {
    /// `base` with the verdicts of these artifacts for a target with
    /// `features`, the sets limited to `tags` (all when empty): for each
    /// entry looked up that is eligible under `base`, its own artifact's
    /// sets (none when that one is unusable), else the index's
    /// ([`Scope::Index`]).
    ///
    /// ```
    /// use ocipick::compat::{Artifacts, Attached};
    /// use ocipick::nfd::{self, Features};
    /// use ocipick::{Index, Platform, Policy};
    ///
    /// let spec = nfd::parse_spec(br#"
    /// version: v1alpha1
    /// compatibilities:
    /// - weight: 50
    ///   rules:
    ///   - name: avx512
    ///     matchFeatures:
    ///     - feature: cpu.cpuid
    ///       matchExpressions:
    ///         AVX512F: {op: Exists}
    /// "#).unwrap();
    /// let index = Index::parse(br#"{"schemaVersion":2,"manifests":[
    ///   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,
    ///    "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
    ///    "platform":{"architecture":"amd64","os":"linux"}},
    ///   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7682,
    ///    "digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
    ///    "platform":{"architecture":"amd64","os":"linux"}}]}"#).unwrap();
    /// let found = Artifacts {
    ///     index: None,
    ///     entries: vec![(0, None), (1, Some(Attached {
    ///         artifact: "sha256:…".into(), created: None, spec: Some(spec),
    ///     }))],
    /// };
    /// let base = Policy::new(&Platform::new("linux", "amd64", None));
    /// let mut avx512 = Features::default();
    /// avx512.flags.entry("cpu.cpuid".into()).or_default().insert("AVX512F".into());
    /// let p = found.policy(&base, &index, &avx512, &[]);
    /// assert_eq!(p.select(&index).unwrap().position, 1);
    /// let p = found.policy(&base, &index, &Features::default(), &[]);
    /// assert_eq!(p.select(&index).unwrap().position, 0);
    /// ```
    pub fn policy(
        &self,
        base: &crate::Policy,
        index: &crate::Index<'_>,
        features: &Features,
        tags: &[String],
    ) -> crate::Policy {
        let sets = |a: &Attached, scope: Scope| -> Option<Vec<SetVerdict>> {
            let spec = a.spec.as_ref()?;
            let reports = crate::nfd::evaluate(spec, features, tags);
            Some(verdicts(&reports, &a.artifact, a.created.as_deref(), scope))
        };
        let mut index_sets: Option<Option<Vec<SetVerdict>>> = None;
        let mut policy = base.clone();
        for (p, own) in &self.entries {
            if *p >= index.manifests.len() || !base.explain(index, *p).eligible {
                continue;
            }
            let got = match own {
                Some(a) => sets(a, Scope::Entry),
                None => index_sets
                    .get_or_insert_with(|| self.index.as_ref().and_then(|a| sets(a, Scope::Index)))
                    .clone(),
            };
            if let Some(v) = got {
                policy = policy.with_compat(*p, v);
            }
        }
        policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nfd;

    #[test]
    fn pass_adds_weight_fail_and_unknown_add_nothing() {
        let spec = nfd::parse_spec(
            br#"
version: v1alpha1
compatibilities:
- weight: 7
  tag: a
  rules:
  - name: has
    matchFeatures:
    - feature: cpu.cpuid
      matchExpressions:
        AVX2: {op: Exists}
- weight: 5
  rules:
  - name: lacks
    matchFeatures:
    - feature: cpu.cpuid
      matchExpressions:
        AVX512F: {op: Exists}
- weight: 3
  rules:
  - name: bad
    matchFeatures:
    - feature: cpu.cpuid
      matchExpressions:
        AVX2: {op: Gt, value: ["x"]}
"#,
        )
        .unwrap();
        let mut node = Features::default();
        node.flags
            .entry("cpu.cpuid".into())
            .or_default()
            .insert("AVX2".into());
        let v = verdicts(
            &nfd::evaluate(&spec, &node, &[]),
            "sha256:a",
            None,
            Scope::Entry,
        );
        let added: Vec<i64> = v.iter().map(|s| s.added).collect();
        assert_eq!(added, [7, 0, 0]);
        assert_eq!(v[2].outcome, Outcome::Unknown);
        assert!(v[1].to_string().contains("fail, unpreferred"), "{}", v[1]);
        assert!(
            v[1].to_string().contains("cpu.cpuid AVX512F Exists: fail"),
            "{}",
            v[1]
        );
        assert!(v[0]
            .to_string()
            .starts_with("nfd compatibility 1 (tag a, weight 7): pass, +7"));
    }
}
