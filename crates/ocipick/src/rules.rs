//! Rules: compare a descriptor annotation with a host fact or a constant,
//! and prefer, require (must-have) or exclude entries accordingly.
//!
//! A rule applies to the entries that carry its annotation (and only when
//! its `when` conditions hold on the host). The host side is a fact (a set
//! of values: a flag feature such as `cpu.cpuid`, an attribute such as
//! `kernel.version.full`, or an instance attribute such as
//! `pci.device.vendor`) or a constant `value`, which stands in for a host
//! fact (what this installation has: `value = "12.8"` for "our nodes run
//! CUDA up to 12.8"). Operators compare the host side with the annotation
//! value `A`:
//!
//! | op | holds when |
//! |---|---|
//! | `equals` | a host value equals `A` |
//! | `one-of` | a host value is one of the comma-separated items of `A` |
//! | `glob` | a host value matches the pattern `A` (`*`, `?`) |
//! | `version-at-least` | a host version is at least `A` (`12.4` ≤ `12.4.1`) |
//! | `version-at-most` | a host version is at most `A` |
//! | `version-range` | a host version is within `A` = `LOW..HIGH` (either side may be empty) |
//! | `subset` | every comma-separated item of `A` is a host value (case-insensitive), e.g. CPU flags |
//!
//! Kinds: `prefer` adds its weight when the rule holds; `require` makes an
//! entry that carries the annotation ineligible when the rule does not hold
//! (a must-have); `exclude` makes it ineligible when the rule holds.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::index::Annotations;

/// Host facts, flattened: a name → its values.
///
/// `cpu.cpuid` → `{AVX2, AVX512F, …}`, `kernel.version.full` → `{6.1.0}`,
/// `pci.device.vendor` → `{10de, 8086}`.
pub type HostFacts = BTreeMap<String, BTreeSet<String>>;

/// How a rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A host value equals the annotation.
    Equals,
    /// A host value is one of the annotation's comma-separated items.
    OneOf,
    /// A host value matches the annotation's glob pattern.
    Glob,
    /// A host version is at least the annotation's.
    VersionAtLeast,
    /// A host version is at most the annotation's.
    VersionAtMost,
    /// A host version is within the annotation's `LOW..HIGH`.
    VersionRange,
    /// Every comma-separated item of the annotation is a host value.
    Subset,
}

impl Op {
    /// Parses the config spelling (`equals`, `one-of`, …).
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "equals" => Op::Equals,
            "one-of" => Op::OneOf,
            "glob" => Op::Glob,
            "version-at-least" | ">=" => Op::VersionAtLeast,
            "version-at-most" | "<=" => Op::VersionAtMost,
            "version-range" => Op::VersionRange,
            "subset" => Op::Subset,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Op::Equals => "equals",
            Op::OneOf => "one-of",
            Op::Glob => "glob",
            Op::VersionAtLeast => "version-at-least",
            Op::VersionAtMost => "version-at-most",
            Op::VersionRange => "version-range",
            Op::Subset => "subset",
        }
    }
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Add this weight when the rule holds (nice-to-have).
    Prefer(i64),
    /// Ineligible when the rule does not hold (must-have).
    Require,
    /// Ineligible when the rule holds.
    Exclude,
}

/// A condition on the host for a rule to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The fact.
    pub fact: String,
    /// The value it must have; `None`: the fact must merely exist.
    pub equals: Option<String>,
}

impl Condition {
    fn holds(&self, facts: &HostFacts) -> bool {
        match (facts.get(&self.fact), &self.equals) {
            (None, _) => false,
            (Some(v), None) => !v.is_empty(),
            (Some(v), Some(want)) => v.contains(want),
        }
    }
}

/// Where the host side of a comparison comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A host fact.
    Fact(String),
    /// A constant.
    Value(String),
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The annotation key it applies to.
    pub annotation: String,
    /// The comparison.
    pub op: Op,
    /// The host side.
    pub operand: Operand,
    /// What it does.
    pub kind: Kind,
    /// Conditions on the host; all must hold for the rule to apply.
    pub when: Vec<Condition>,
    /// Where it was defined (1-based config line), for reasons.
    pub line: Option<usize>,
}

/// A rule's verdict on one entry, for reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The rule, described.
    pub rule: String,
    /// Whether it held.
    pub held: bool,
    /// The host values it compared with (facts used).
    pub host: String,
    /// The entry's annotation value.
    pub annotation: String,
    /// What it did.
    pub kind: Kind,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match (self.kind, self.held) {
            (Kind::Prefer(w), true) => format!("holds: {w:+}"),
            (Kind::Prefer(_), false) => "does not hold: +0".into(),
            (Kind::Require, true) => "holds: requirement met".into(),
            (Kind::Require, false) => "fails: required, so not eligible".into(),
            (Kind::Exclude, true) => "holds: excluded, so not eligible".into(),
            (Kind::Exclude, false) => "does not hold: not excluded".into(),
        };
        write!(
            f,
            "{} ({:?} against {}) {outcome}",
            self.rule, self.annotation, self.host
        )
    }
}

/// A dotted version's numbers: `6.1.0-18-amd64` → `[6, 1, 0]`. Missing
/// parts compare as 0, so `12.4` equals `12.4.0`.
pub fn version(s: &str) -> Option<Vec<u64>> {
    let head = s.trim().trim_start_matches(['v', 'V']);
    let head = head
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()
        .unwrap_or("");
    let parts: Option<Vec<u64>> = head.split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty())
}

/// Compares two dotted versions numerically.
pub fn compare_versions(a: &[u64], b: &[u64]) -> Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Matches `text` against a pattern with `*` (any run) and `?` (any one
/// character).
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn items(a: &str) -> impl Iterator<Item = &str> {
    a.split(',').map(str::trim).filter(|s| !s.is_empty())
}

impl Rule {
    fn host_values<'f>(&'f self, facts: &'f HostFacts) -> Vec<&'f str> {
        match &self.operand {
            Operand::Fact(name) => facts
                .get(name)
                .map(|s| s.iter().map(String::as_str).collect())
                .unwrap_or_default(),
            Operand::Value(v) => vec![v.as_str()],
        }
    }

    /// Whether the comparison holds for annotation value `a`.
    fn compare(&self, host: &[&str], a: &str) -> bool {
        let versions = || host.iter().filter_map(|h| version(h));
        match self.op {
            Op::Equals => host.contains(&a),
            Op::OneOf => items(a).any(|i| host.contains(&i)),
            Op::Glob => host.iter().any(|h| glob(a, h)),
            Op::VersionAtLeast => version(a)
                .is_some_and(|want| versions().any(|h| compare_versions(&h, &want).is_ge())),
            Op::VersionAtMost => version(a)
                .is_some_and(|want| versions().any(|h| compare_versions(&h, &want).is_le())),
            Op::VersionRange => {
                let Some((lo, hi)) = a.split_once("..") else {
                    return false;
                };
                let (lo, hi) = (lo.trim(), hi.trim());
                let lo = if lo.is_empty() {
                    Some(None)
                } else {
                    version(lo).map(Some)
                };
                let hi = if hi.is_empty() {
                    Some(None)
                } else {
                    version(hi).map(Some)
                };
                let (Some(lo), Some(hi)) = (lo, hi) else {
                    return false;
                };
                versions().any(|h| {
                    lo.as_ref().is_none_or(|l| compare_versions(&h, l).is_ge())
                        && hi.as_ref().is_none_or(|u| compare_versions(&h, u).is_le())
                })
            }
            Op::Subset => {
                let lower: BTreeSet<String> = host.iter().map(|h| h.to_ascii_lowercase()).collect();
                let mut any = false;
                let all = items(a).all(|i| {
                    any = true;
                    lower.contains(&i.to_ascii_lowercase())
                });
                any && all
            }
        }
    }

    /// The rule in a few words: `rule #2 (line 14): org.example.cuda
    /// version-at-least nvidia.driver.cuda`.
    pub fn describe(&self, number: usize) -> String {
        let side = match &self.operand {
            Operand::Fact(f) => f.clone(),
            Operand::Value(v) => format!("{v:?}"),
        };
        let at = self
            .line
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        format!(
            "rule #{number}{at}: {} {} {side}",
            self.annotation,
            self.op.name()
        )
    }

    /// What [`judge`](Rule::judge) decides, without describing it: `None`
    /// when the rule does not apply to the entry (the annotation is absent,
    /// or a `when` condition fails), else whether the rule holds. Selection
    /// calls this for every entry; the reasons (`judge`) are built only for
    /// the entries that are explained.
    pub fn holds(&self, annotations: &Annotations<'_>, facts: &HostFacts) -> Option<bool> {
        self.apply(annotations, facts).map(|(_, _, held)| held)
    }

    /// The annotation value, the host values and the outcome, where the
    /// rule applies.
    fn apply<'s, 'v>(
        &'s self,
        annotations: &'v Annotations<'_>,
        facts: &'s HostFacts,
    ) -> Option<(&'v str, Vec<&'s str>, bool)> {
        let a = annotations.get(self.annotation.as_str())?;
        if !self.when.iter().all(|c| c.holds(facts)) {
            return None;
        }
        let host = self.host_values(facts);
        let held = self.compare(&host, a);
        Some((a, host, held))
    }

    /// This rule's verdict on an entry, or `None` when it does not apply
    /// (the entry lacks the annotation, or a `when` condition fails).
    pub fn judge(
        &self,
        number: usize,
        annotations: &Annotations<'_>,
        facts: &HostFacts,
    ) -> Option<Verdict> {
        let (a, host, held) = self.apply(annotations, facts)?;
        let name = match &self.operand {
            Operand::Fact(f) => f.as_str(),
            Operand::Value(_) => "value",
        };
        let shown = if self.op == Op::Subset && !host.is_empty() {
            // Name only what matters: the items the host lacks.
            let lower: BTreeSet<String> = host.iter().map(|h| h.to_ascii_lowercase()).collect();
            let missing: Vec<&str> = items(a)
                .filter(|i| !lower.contains(&i.to_ascii_lowercase()))
                .collect();
            if missing.is_empty() {
                format!("{name} has them all")
            } else {
                format!("{name} lacks {}", missing.join(", "))
            }
        } else if host.is_empty() {
            "no such host value".to_owned()
        } else {
            let mut h = host.join(", ");
            if h.len() > 120 {
                let cut = (0..=117)
                    .rev()
                    .find(|&i| h.is_char_boundary(i))
                    .unwrap_or(0);
                h.truncate(cut);
                h.push('…');
            }
            match &self.operand {
                Operand::Fact(f) => format!("{f}={h}"),
                Operand::Value(_) => h,
            }
        };
        Some(Verdict {
            rule: self.describe(number),
            held,
            host: shown,
            annotation: a.to_string(),
            kind: self.kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> HostFacts {
        let mut f = HostFacts::new();
        let mut put = |k: &str, vs: &[&str]| {
            f.insert(k.into(), vs.iter().map(|s| s.to_string()).collect());
        };
        put("cpu.cpuid", &["AVX2", "FMA", "AVX512F"]);
        put("kernel.version.full", &["6.1.0-18-amd64"]);
        put("nvidia.driver.version", &["550.54.15"]);
        put("pci.device.vendor", &["10de", "8086"]);
        put("system.osrelease.ID", &["debian"]);
        f
    }

    fn rule(annotation: &str, op: Op, operand: Operand, kind: Kind) -> Rule {
        Rule {
            annotation: annotation.into(),
            op,
            operand,
            kind,
            when: vec![],
            line: None,
        }
    }

    fn fact(s: &str) -> Operand {
        Operand::Fact(s.into())
    }

    /// Rows: op, host side, annotation value → holds?
    #[test]
    fn operator_table() {
        let rows: &[(Op, Operand, &str, bool)] = &[
            (Op::Equals, fact("system.osrelease.ID"), "debian", true),
            (Op::Equals, fact("system.osrelease.ID"), "ubuntu", false),
            (Op::Equals, fact("pci.device.vendor"), "10de", true),
            (Op::Equals, fact("missing.fact"), "x", false),
            (Op::Equals, Operand::Value("a100".into()), "a100", true),
            (
                Op::OneOf,
                fact("system.osrelease.ID"),
                "ubuntu, debian",
                true,
            ),
            (Op::OneOf, fact("system.osrelease.ID"), "ubuntu,rhel", false),
            (Op::Glob, fact("kernel.version.full"), "6.1.*", true),
            (Op::Glob, fact("kernel.version.full"), "6.?.0-*", true),
            (Op::Glob, fact("kernel.version.full"), "5.*", false),
            (Op::VersionAtLeast, fact("kernel.version.full"), "6.1", true),
            (
                Op::VersionAtLeast,
                fact("kernel.version.full"),
                "6.1.0",
                true,
            ),
            (
                Op::VersionAtLeast,
                fact("kernel.version.full"),
                "6.2",
                false,
            ),
            (
                Op::VersionAtLeast,
                fact("nvidia.driver.version"),
                "535",
                true,
            ),
            (
                Op::VersionAtLeast,
                fact("nvidia.driver.version"),
                "550.54.16",
                false,
            ),
            (
                Op::VersionAtLeast,
                fact("kernel.version.full"),
                "not-a-version",
                false,
            ),
            (Op::VersionAtMost, fact("kernel.version.full"), "6.1", true),
            (
                Op::VersionAtMost,
                fact("kernel.version.full"),
                "6.0.99",
                false,
            ),
            (
                Op::VersionRange,
                fact("kernel.version.full"),
                "5.15..6.6",
                true,
            ),
            (
                Op::VersionRange,
                fact("kernel.version.full"),
                "6.2..",
                false,
            ),
            (Op::VersionRange, fact("kernel.version.full"), "..6.1", true),
            (Op::VersionRange, fact("kernel.version.full"), "6.1", false),
            (
                Op::VersionRange,
                Operand::Value("12.4".into()),
                "12.0..12.6",
                true,
            ),
            (Op::Subset, fact("cpu.cpuid"), "avx2,fma", true),
            (Op::Subset, fact("cpu.cpuid"), "AVX2, AVX512F", true),
            (Op::Subset, fact("cpu.cpuid"), "avx2,amx_tile", false),
            (Op::Subset, fact("cpu.cpuid"), "", false),
        ];
        let f = facts();
        for (op, operand, a, want) in rows {
            let r = rule("k", *op, operand.clone(), Kind::Require);
            let ann: Annotations = [("k".into(), (*a).into())].into_iter().collect();
            // What selection uses and what the reasons say agree.
            assert_eq!(r.holds(&ann, &f), Some(*want), "{op:?} {operand:?} {a:?}");
            assert_eq!(r.judge(1, &ann, &f).map(|v| v.held), Some(*want));
        }
    }

    #[test]
    fn versions() {
        assert_eq!(version("6.1.0-18-amd64"), Some(vec![6, 1, 0]));
        assert_eq!(version("v12.4"), Some(vec![12, 4]));
        assert_eq!(version("abc"), None);
        assert_eq!(compare_versions(&[12, 4], &[12, 4, 0]), Ordering::Equal);
        assert_eq!(compare_versions(&[12, 10], &[12, 9]), Ordering::Greater);
        assert_eq!(compare_versions(&[6], &[6, 0, 1]), Ordering::Less);
    }

    #[test]
    fn globs() {
        for (p, t, want) in [
            ("*", "", true),
            ("a*c", "abbc", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*.0", "6.1.0", true),
            ("6.*.*", "6.1", false),
        ] {
            assert_eq!(glob(p, t), want, "{p} {t}");
        }
    }

    #[test]
    fn applies_only_to_carriers_and_when_conditions_hold() {
        let f = facts();
        let mut ann = Annotations::new();
        let mut r = rule(
            "org.example.cuda",
            Op::VersionAtLeast,
            fact("nvidia.driver.version"),
            Kind::Require,
        );
        assert!(r.judge(1, &ann, &f).is_none(), "no annotation: no verdict");
        assert_eq!(r.holds(&ann, &f), None);
        ann.insert("org.example.cuda".into(), "560".into());
        assert_eq!(r.holds(&ann, &f), Some(false));
        let v = r.judge(1, &ann, &f).unwrap();
        assert!(!v.held);
        assert!(
            v.to_string().contains("nvidia.driver.version=550.54.15"),
            "{v}"
        );
        r.when = vec![Condition {
            fact: "pci.device.vendor".into(),
            equals: Some("1002".into()),
        }];
        assert!(
            r.judge(1, &ann, &f).is_none(),
            "only on hosts with an AMD device"
        );
        assert_eq!(r.holds(&ann, &f), None);
        r.when[0].equals = Some("10de".into());
        assert!(r.judge(1, &ann, &f).is_some());
        assert_eq!(r.holds(&ann, &f), Some(false));
    }
}
