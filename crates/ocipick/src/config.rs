//! The TOML configuration file: installation-wide preferences and limits.
//!
//! ```toml
//! # /etc/ocipick/config.toml
//! platform = "linux/amd64/v3"        # optional; default: this host
//! max-index-bytes = 4194304           # optional
//! max-manifest-bytes = 4194304        # optional
//!
//! [[prefer]]
//! annotation = "com.example.gpu"
//! value = "example-gpu-model"         # optional: any value when left out
//! weight = 10                         # optional: 1 when left out
//!
//! [trust]                             # optional: see crate::trust
//! keys = ["/etc/ocipick/cosign.pub"]
//!
//! [compat]                            # optional: see crate::compat
//! artifacts = "nfd"                   # NFD image compatibility artifacts
//! tags = ["gpu"]                      # optional: only these sets (NFD's --tags)
//! ```
//!
//! Parsing is pure: it takes the text, so callers decide where it comes
//! from. Unknown keys are errors, so a misspelt key is never silently
//! ignored.

use serde::Deserialize;

use crate::prefer::Preference;

/// A parsed configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Target platform selector, if configured.
    pub platform: Option<String>,
    /// Index document size limit, if configured.
    pub max_index_bytes: Option<u64>,
    /// Manifest size limit, if configured.
    pub max_manifest_bytes: Option<u64>,
    /// Preferences, in file order.
    pub preferences: Vec<Preference>,
    /// Selection hooks, in file order.
    pub hooks: Vec<HookSpec>,
    /// Rules over annotations and host facts, in file order.
    pub rules: Vec<crate::rules::Rule>,
    /// The `[trust]` table: which indexes must be signed, by which keys.
    pub trust: Option<crate::trust::Trust>,
    /// The `[compat]` table: select with image compatibility artifacts.
    pub compat: Option<CompatConfig>,
}

/// The `[compat]` table: which compatibility artifacts selection reads
/// (`artifacts = "nfd"`, the only kind) and, as NFD's `--tags`, which of
/// their sets (`tags`; all when empty).
///
/// ```
/// let c = ocipick::Config::parse("[compat]\nartifacts = \"nfd\"\ntags = [\"gpu\"]\n").unwrap();
/// assert_eq!(c.compat.unwrap().tags, ["gpu"]);
/// assert!(ocipick::Config::parse("[compat]\nartifacts = \"sbom\"\n").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompatConfig {
    /// Only the sets with one of these tags; all when empty.
    pub tags: Vec<String>,
}

/// What a failing hook does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Warn on stderr and select as if the hook had not been configured.
    #[default]
    Ignore,
    /// Stop: the run fails.
    Fail,
}

/// A `[[hook]]`: an external program that adjusts or vetoes candidates.
///
/// ```toml
/// [[hook]]
/// name = "gpu-check"              # optional; default: the program's name
/// command = ["/usr/local/bin/gpu-check", "--strict"]
/// timeout-ms = 2000               # optional; default 5000
/// on-failure = "fail"             # or "ignore" (default): warn and go on
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSpec {
    /// The name used in reasons and warnings.
    pub name: String,
    /// Program and arguments (no shell).
    pub command: Vec<String>,
    /// How long the program may take, in milliseconds.
    pub timeout_ms: u64,
    /// What a failure does.
    pub on_failure: OnFailure,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    platform: Option<String>,
    max_index_bytes: Option<u64>,
    max_manifest_bytes: Option<u64>,
    #[serde(default)]
    prefer: Vec<RawPrefer>,
    #[serde(default)]
    hook: Vec<RawHook>,
    #[serde(default)]
    rule: Vec<RawRule>,
    trust: Option<RawTrust>,
    compat: Option<RawCompat>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCompat {
    artifacts: RawArtifacts,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawArtifacts {
    Nfd,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawTrust {
    keys: Vec<std::path::PathBuf>,
    #[serde(default)]
    repositories: Vec<String>,
    on_unsigned: Option<String>,
    #[serde(default)]
    accept_references: Vec<String>,
    signature_deadline: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRule {
    annotation: String,
    op: String,
    fact: Option<String>,
    value: Option<String>,
    kind: Option<String>,
    weight: Option<i64>,
    #[serde(default)]
    when: Vec<RawWhen>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    fact: String,
    equals: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawHook {
    name: Option<String>,
    command: Vec<String>,
    timeout_ms: Option<u64>,
    on_failure: Option<RawOnFailure>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawOnFailure {
    Ignore,
    Fail,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrefer {
    annotation: String,
    value: Option<String>,
    weight: Option<i64>,
}

/// A configuration problem, with its 1-based line when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ConfigError {
    /// 1-based line of the problem.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl Config {
    /// Parses a configuration from TOML text.
    ///
    /// ```
    /// let c = ocipick::Config::parse(r#"
    /// [[prefer]]
    /// annotation = "com.example.gpu"
    /// value = "example-gpu-model"
    /// weight = 10
    /// "#).unwrap();
    /// assert_eq!(c.preferences[0].to_string(), "com.example.gpu=example-gpu-model:10");
    /// assert!(ocipick::Config::parse("[[prefer]]\nanotation = \"x\"").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::check(text).map_err(|mut all| all.remove(0))
    }

    /// Parses a configuration, reporting every problem (each with its
    /// line), not only the first: what `ocipick config check` prints. A
    /// TOML syntax or type error is reported alone, since nothing after it
    /// can be read.
    pub fn check(text: &str) -> Result<Config, Vec<ConfigError>> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            vec![ConfigError {
                line: e.span().map(|s| line_of(text, s.start)),
                message: e.message().to_owned(),
            }]
        })?;
        let mut problems = Vec::new();
        let mut preferences = Vec::with_capacity(raw.prefer.len());
        for (n, p) in raw.prefer.into_iter().enumerate() {
            let pref = Preference {
                key: p.annotation,
                value: p.value,
                weight: p.weight.unwrap_or(1),
            };
            match pref.validate() {
                Ok(()) => preferences.push(pref),
                Err(m) => problems.push(ConfigError {
                    line: nth_header_line(text, "[[prefer]]", n),
                    message: format!("[[prefer]] #{}: {m}", n + 1),
                }),
            }
        }
        let mut hooks = Vec::with_capacity(raw.hook.len());
        for (n, h) in raw.hook.into_iter().enumerate() {
            let line = nth_header_line(text, "[[hook]]", n);
            let hook = (|| -> Result<HookSpec, ConfigError> {
                let Some(program) = h.command.first().filter(|p| !p.is_empty()) else {
                    return Err(ConfigError {
                        line,
                        message: format!("[[hook]] #{}: command is empty", n + 1),
                    });
                };
                let name = h
                    .name
                    .unwrap_or_else(|| program.rsplit('/').next().unwrap_or(program).to_owned());
                let timeout_ms = h.timeout_ms.unwrap_or(5000);
                if timeout_ms == 0 || timeout_ms > 600_000 {
                    return Err(ConfigError {
                        line,
                        message: format!("[[hook]] #{}: timeout-ms must be 1 to 600000", n + 1),
                    });
                }
                Ok(HookSpec {
                    name,
                    command: h.command,
                    timeout_ms,
                    on_failure: match h.on_failure {
                        Some(RawOnFailure::Fail) => OnFailure::Fail,
                        _ => OnFailure::Ignore,
                    },
                })
            })();
            match hook {
                Ok(h) => hooks.push(h),
                Err(e) => problems.push(e),
            }
        }
        let mut rules = Vec::with_capacity(raw.rule.len());
        for (n, r) in raw.rule.into_iter().enumerate() {
            let line = nth_header_line(text, "[[rule]]", n);
            let rule = (|| -> Result<crate::rules::Rule, ConfigError> {
                let err = |m: String| ConfigError {
                    line,
                    message: format!("[[rule]] #{}: {m}", n + 1),
                };
                use crate::rules::{Condition, Kind, Op, Operand, Rule};
                let op = Op::parse(&r.op).ok_or_else(|| {
                err(format!(
                    "unknown op {:?} (equals, one-of, glob, version-at-least, version-at-most, version-range, subset)",
                    r.op
                ))
            })?;
                let operand = match (r.fact, r.value) {
                    (Some(f), None) => Operand::Fact(f),
                    (None, Some(v)) => Operand::Value(v),
                    _ => return Err(err("give exactly one of fact or value".into())),
                };
                let kind = match (r.kind.as_deref().unwrap_or("prefer"), r.weight) {
                    ("prefer", w) => {
                        let w = w.unwrap_or(1);
                        if w.unsigned_abs() > crate::prefer::MAX_WEIGHT.unsigned_abs() {
                            return Err(err(format!("weight {w} is out of range")));
                        }
                        Kind::Prefer(w)
                    }
                    ("require", None) => Kind::Require,
                    ("exclude", None) => Kind::Exclude,
                    ("require" | "exclude", Some(_)) => {
                        return Err(err("weight applies to kind = \"prefer\" only".into()))
                    }
                    (k, _) => {
                        return Err(err(format!(
                            "unknown kind {k:?} (prefer, require, exclude)"
                        )))
                    }
                };
                if r.annotation.is_empty() {
                    return Err(err("annotation is empty".into()));
                }
                Ok(Rule {
                    annotation: r.annotation,
                    op,
                    operand,
                    kind,
                    when: r
                        .when
                        .into_iter()
                        .map(|w| Condition {
                            fact: w.fact,
                            equals: w.equals,
                        })
                        .collect(),
                    line,
                })
            })();
            match rule {
                Ok(r) => rules.push(r),
                Err(e) => problems.push(e),
            }
        }
        let trust = match raw.trust {
            None => None,
            Some(t) => {
                let line = text
                    .lines()
                    .position(|l| l.trim() == "[trust]")
                    .map(|i| i + 1);
                let err = |m: String| ConfigError {
                    line,
                    message: format!("[trust]: {m}"),
                };
                let on_unsigned = match t.on_unsigned.as_deref() {
                    None => Some(crate::trust::OnUnsigned::default()),
                    Some(s) => crate::trust::OnUnsigned::parse(s),
                };
                let deadline = t.signature_deadline.map(|v| {
                    (0.0..=3600.0)
                        .contains(&v)
                        .then(|| std::time::Duration::from_secs_f64(v))
                });
                match on_unsigned {
                    _ if t.keys.is_empty() => {
                        problems.push(err("keys is empty: name at least one public key".into()));
                        None
                    }
                    _ if t
                        .repositories
                        .iter()
                        .chain(&t.accept_references)
                        .any(|r| r.is_empty()) =>
                    {
                        problems.push(err("an empty repository pattern".into()));
                        None
                    }
                    _ if deadline == Some(None) => {
                        problems.push(err(format!(
                            "signature-deadline {} is not a number of seconds between 0 and 3600",
                            t.signature_deadline.unwrap_or_default()
                        )));
                        None
                    }
                    None => {
                        problems.push(err(format!(
                            "unknown on-unsigned {:?} (ignore-annotations, refuse)",
                            t.on_unsigned.unwrap_or_default()
                        )));
                        None
                    }
                    Some(on_unsigned) => Some(crate::trust::Trust {
                        keys: t.keys,
                        repositories: t.repositories,
                        on_unsigned,
                        accept_references: t.accept_references,
                        signature_deadline: deadline.flatten(),
                    }),
                }
            }
        };
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Err(problems);
        }
        Ok(Config {
            platform: raw.platform,
            max_index_bytes: raw.max_index_bytes,
            max_manifest_bytes: raw.max_manifest_bytes,
            preferences,
            hooks,
            rules,
            trust,
            compat: raw.compat.map(|c| {
                let RawArtifacts::Nfd = c.artifacts;
                CompatConfig { tags: c.tags }
            }),
        })
    }
}

/// The line of the `n`-th `header` (`[[prefer]]`, `[[hook]]`), for error
/// messages.
fn nth_header_line(text: &str, header: &str, n: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == header)
        .nth(n)
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_file() {
        let c = Config::parse(
            "platform = \"linux/arm64\"\nmax-index-bytes = 100\nmax-manifest-bytes = 50\n\
             [[prefer]]\nannotation = \"a\"\n[[prefer]]\nannotation = \"b\"\nvalue = \"x\"\nweight = -3\n",
        )
        .unwrap();
        assert_eq!(c.platform.as_deref(), Some("linux/arm64"));
        assert_eq!(
            (c.max_index_bytes, c.max_manifest_bytes),
            (Some(100), Some(50))
        );
        assert_eq!(
            c.preferences,
            vec![
                Preference::key("a"),
                Preference::key_value("b", "x").weight(-3)
            ]
        );
    }

    /// Rows: text → the line the error is reported on.
    #[test]
    fn errors_have_lines() {
        let rows = [
            ("[[prefer]]\nannotation = \"a\"\nwieght = 3\n", 3),
            ("\n\n[[prefer]]\nvalue = \"x\"\n", 3),
            ("[[prefer]]\nannotation = \"a\"\nweight = \"ten\"\n", 3),
            ("plat = 1\n", 1),
            (
                "[[prefer]]\nannotation = \"ok\"\n[[prefer]]\nannotation = \"\"\n",
                3,
            ),
            ("[[prefer]]\nannotation = \"a\"\nweight = 99999999999\n", 1),
            ("this is not toml", 1),
        ];
        for (text, line) in rows {
            let e = Config::parse(text).unwrap_err();
            assert_eq!(e.line, Some(line), "{text:?}: {e}");
        }
    }

    #[test]
    fn rules() {
        let c = Config::parse(
            "[[rule]]\nannotation = \"org.example.cpu.features\"\nop = \"subset\"\nfact = \"cpu.cpuid\"\nkind = \"require\"\n\n[[rule]]\nannotation = \"com.example.gpu\"\nop = \"equals\"\nvalue = \"a100\"\nweight = 10\n[[rule.when]]\nfact = \"pci.device.vendor\"\nequals = \"10de\"\n",
        )
        .unwrap();
        use crate::rules::{Kind, Op, Operand};
        assert_eq!(c.rules.len(), 2);
        assert_eq!(
            (c.rules[0].op, c.rules[0].kind, c.rules[0].line),
            (Op::Subset, Kind::Require, Some(1))
        );
        assert_eq!(c.rules[1].operand, Operand::Value("a100".into()));
        assert_eq!(
            (c.rules[1].kind, c.rules[1].line),
            (Kind::Prefer(10), Some(7))
        );
        assert_eq!(c.rules[1].when[0].equals.as_deref(), Some("10de"));
        for (text, line) in [
            ("\n[[rule]]\nannotation = \"a\"\nop = \"bigger\"\nfact = \"x\"\n", 2),
            ("[[rule]]\nannotation = \"a\"\nop = \"equals\"\n", 1),
            ("[[rule]]\nannotation = \"a\"\nop = \"equals\"\nfact = \"x\"\nvalue = \"y\"\n", 1),
            ("[[rule]]\nannotation = \"a\"\nop = \"equals\"\nfact = \"x\"\nkind = \"require\"\nweight = 3\n", 1),
            ("[[rule]]\nannotation = \"a\"\nop = \"equals\"\nfact = \"x\"\nkind = \"maybe\"\n", 1),
            ("[[rule]]\nannotation = \"a\"\nop = \"equals\"\nfact = \"x\"\nfacts = 1\n", 5),
        ] {
            assert_eq!(Config::parse(text).unwrap_err().line, Some(line), "{text:?}");
        }
    }

    #[test]
    fn hooks() {
        let c = Config::parse(
            "[[hook]]\ncommand = [\"/usr/bin/gpu-check\", \"-q\"]\n[[hook]]\nname = \"x\"\ncommand = [\"y\"]\ntimeout-ms = 10\non-failure = \"fail\"\n",
        )
        .unwrap();
        assert_eq!(c.hooks[0].name, "gpu-check");
        assert_eq!(
            (c.hooks[0].timeout_ms, c.hooks[0].on_failure),
            (5000, OnFailure::Ignore)
        );
        assert_eq!(
            (
                c.hooks[1].name.as_str(),
                c.hooks[1].timeout_ms,
                c.hooks[1].on_failure
            ),
            ("x", 10, OnFailure::Fail)
        );
        for (text, line) in [
            ("\n[[hook]]\ncommand = []\n", 2),
            ("[[hook]]\ncommand = [\"a\"]\ntimeout-ms = 0\n", 1),
            ("[[hook]]\ncommand = [\"a\"]\non-failure = \"explode\"\n", 3),
        ] {
            assert_eq!(
                Config::parse(text).unwrap_err().line,
                Some(line),
                "{text:?}"
            );
        }
    }

    #[test]
    fn check_reports_every_problem() {
        let text = "[[prefer]]\nannotation = \"\"\n[[rule]]\nannotation = \"a\"\nop = \"nope\"\nfact = \"x\"\n[[hook]]\ncommand = []\n";
        let problems = Config::check(text).unwrap_err();
        let lines: Vec<Option<usize>> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [Some(1), Some(3), Some(7)]);
        assert_eq!(Config::parse(text).unwrap_err(), problems[0]);
    }

    #[test]
    fn trust() {
        let c = Config::parse(
            "[trust]\nkeys = [\"/k.pub\", \"/j.pub\"]\nrepositories = [\"r.example/*\"]\non-unsigned = \"refuse\"\n",
        )
        .unwrap();
        let t = c.trust.unwrap();
        assert_eq!(t.keys.len(), 2);
        assert_eq!(t.on_unsigned, crate::trust::OnUnsigned::Refuse);
        assert!(t.applies_to("r.example", "a/b") && !t.applies_to("s.example", "a"));
        let a =
            Config::parse("[trust]\nkeys = [\"/k.pub\"]\naccept-references = [\"u.example/*\"]\n")
                .unwrap()
                .trust
                .unwrap();
        assert_eq!(a.accept_references, ["u.example/*"]);
        let d = Config::parse("[trust]\nkeys = [\"/k.pub\"]\n")
            .unwrap()
            .trust
            .unwrap();
        assert_eq!(d.on_unsigned, crate::trust::OnUnsigned::IgnoreAnnotations);
        assert!(d.repositories.is_empty());
        assert_eq!(d.signature_deadline, None);
        assert_eq!(d.deadline(), crate::trust::DEFAULT_SIGNATURE_DEADLINE);
        for (v, want) in [("2.5", 2500), ("0", 0), ("7", 7000)] {
            let t = Config::parse(&format!(
                "[trust]\nkeys = [\"/k\"]\nsignature-deadline = {v}\n"
            ))
            .unwrap()
            .trust
            .unwrap();
            assert_eq!(t.deadline(), std::time::Duration::from_millis(want), "{v}");
        }
        for (text, line) in [
            ("\n[trust]\nkeys = []\n", 2),
            ("[trust]\nkeys = [\"/k\"]\non-unsigned = \"allow\"\n", 1),
            ("[trust]\nkeys = [\"/k\"]\nrepositories = [\"\"]\n", 1),
            ("[trust]\nkeys = [\"/k\"]\nkey = \"/j\"\n", 3),
            ("[trust]\nkeys = [\"/k\"]\nsignature-deadline = -1\n", 1),
            ("[trust]\nkeys = [\"/k\"]\nsignature-deadline = 4000\n", 1),
        ] {
            assert_eq!(
                Config::parse(text).unwrap_err().line,
                Some(line),
                "{text:?}"
            );
        }
    }

    #[test]
    fn empty_is_default() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }
}
