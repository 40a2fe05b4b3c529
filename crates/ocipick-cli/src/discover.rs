//! `--compat nfd` for commands that select: finds the NFD image
//! compatibility artifacts of an index and of its candidate entries
//! (`ocipick_registry::compat`), evaluates them against the target's
//! features (`ocipick::nfd`) and hands the verdicts to the policy
//! (`ocipick::compat`). Wiring only.

use ocipick::compat;
use ocipick::media_type::{self, Kind};
use ocipick::{Digest, Index, Policy};
use ocipick_registry::compat::Discovery;
use ocipick_registry::source;
use serde_json::{json, Value};

use crate::run::{Failure, Store};

/// What discovery found, for the output.
#[derive(Debug, Default)]
pub struct Report {
    /// The `--compat-tag` / `[compat] tags` in force.
    pub tags: Vec<String>,
    /// One line per subject looked up.
    pub subjects: Vec<Subject>,
    /// Registry requests discovery sent.
    pub requests: u32,
    /// Why nothing could be looked up (a file, an archive), if so.
    pub unavailable: Option<String>,
}

/// One subject looked up.
#[derive(Debug)]
pub struct Subject {
    /// `None`: the index itself; else the entry's position.
    pub position: Option<usize>,
    /// The subject's digest.
    pub digest: String,
    /// How the referrers were listed.
    pub via: Option<ocipick_registry::referrers::Via>,
    /// The artifact used: digest, created, how many there were.
    pub artifact: Option<(String, Option<String>, usize)>,
    /// Why its specification could not be used.
    pub problem: Option<String>,
}

impl Report {
    /// The `compat` object of the JSON output.
    pub fn json(&self) -> Value {
        let subjects: Vec<Value> = self
            .subjects
            .iter()
            .map(|s| {
                json!({
                    "subject": s.digest,
                    "position": s.position,
                    "scope": if s.position.is_some() { "entry" } else { "index" },
                    "via": s.via,
                    "artifact": s.artifact.as_ref().map(|(d, c, n)| json!({
                        "digest": d, "created": c, "candidates": n,
                    })),
                    "problem": s.problem,
                })
            })
            .collect();
        json!({
            "artifacts": "nfd",
            "tags": self.tags,
            "requests": self.requests,
            "unavailable": self.unavailable,
            "subjects": subjects,
        })
    }

    /// One line for `rank`'s header.
    pub fn summary(&self) -> String {
        if let Some(u) = &self.unavailable {
            return format!("nfd: {u}");
        }
        let parts: Vec<String> = self
            .subjects
            .iter()
            .map(|s| {
                let whose = match s.position {
                    None => "index".to_owned(),
                    Some(p) => format!("#{p}"),
                };
                match (&s.artifact, &s.problem) {
                    (_, Some(p)) => format!("{whose} unusable ({p})"),
                    (Some((d, c, n)), None) => {
                        let mut t = format!("{whose} {d}");
                        if let Some(c) = c {
                            t.push_str(&format!(" created {c}"));
                        }
                        if *n > 1 {
                            t.push_str(&format!(", newest of {n}"));
                        }
                        t
                    }
                    (None, None) => format!("{whose} none"),
                }
            })
            .collect();
        let mut s = format!("nfd: {}", parts.join("; "));
        if !self.tags.is_empty() {
            s.push_str(&format!(" (tags {})", self.tags.join(", ")));
        }
        s
    }
}

/// Looks `subject` up where the index came from.
fn lookup(store: &Store, subject: &Digest<'_>) -> Result<Option<Discovery>, Failure> {
    Ok(match &store.0 {
        source::Store::Registry(client, r) => {
            Some(ocipick_registry::compat::discover(client, r, subject)?)
        }
        source::Store::Layout(l) => Some(ocipick_registry::compat::discover_in_layout(
            l,
            Some(subject),
        )?),
        source::Store::Archive(_) => None,
    })
}

/// The policy with the NFD verdicts of `index`'s candidates: the entries
/// that are image manifests and eligible under `base` (others cannot be
/// chosen, so their artifacts are not looked up). `index_digest` is the
/// digest of the index's bytes (`None` for a single manifest, which has no
/// index to look up). Unusable specifications are warned about and
/// reported, and leave their entries without verdicts.
pub fn apply(
    base: &Policy,
    tags: &[String],
    features: &ocipick::nfd::Features,
    index: &Index<'_>,
    index_digest: Option<&Digest<'_>>,
    store: Option<&Store>,
) -> Result<(Policy, Report), Failure> {
    let (found, report) = discover(tags, index, index_digest, store, |i| {
        base.explain(index, i).eligible
    })?;
    Ok((found.policy(base, index, features, tags), report))
}

/// Looks up, once, the artifacts of `index` (by `index_digest`) and of its
/// image-manifest entries for which `wanted` holds, where the index came
/// from; parses each specification found. What is found can then be
/// scored for any number of targets ([`compat::Artifacts::policy`]).
pub fn discover(
    tags: &[String],
    index: &Index<'_>,
    index_digest: Option<&Digest<'_>>,
    store: Option<&Store>,
    wanted: impl Fn(usize) -> bool,
) -> Result<(compat::Artifacts, Report), Failure> {
    let mut report = Report {
        tags: tags.to_vec(),
        ..Report::default()
    };
    let mut found_all = compat::Artifacts::default();
    let Some(store) = store else {
        report.unavailable =
            Some("a file or standard input holds no artifacts: nothing looked up".into());
        crate::say::warn("--compat nfd: a file or standard input holds no artifacts");
        return Ok((found_all, report));
    };
    if matches!(store.0, source::Store::Archive(_)) {
        report.unavailable = Some("artifacts are not read from layout archives".into());
        crate::say::warn("--compat nfd: artifacts are not read from layout archives");
        return Ok((found_all, report));
    }
    let mut subjects: Vec<(Option<usize>, Digest<'static>)> = Vec::new();
    if let Some(d) = index_digest {
        subjects.push((None, d.clone().into_owned()));
    }
    for (i, d) in index.manifests.iter().enumerate() {
        if media_type::kind(&d.media_type) == Kind::ImageManifest && wanted(i) {
            subjects.push((Some(i), d.digest.clone().into_owned()));
        }
    }
    for (position, digest) in subjects {
        let Some(found) = lookup(store, &digest)? else {
            continue;
        };
        report.requests += found.requests;
        let mut line = Subject {
            position,
            digest: digest.to_string(),
            via: Some(found.via),
            artifact: found
                .found
                .as_ref()
                .map(|f| (f.artifact.to_string(), f.created.clone(), f.candidates)),
            problem: None,
        };
        let attached = found.found.as_ref().map(|f| compat::Attached {
            artifact: f.artifact.to_string(),
            created: f.created.clone(),
            spec: match ocipick::nfd::parse_spec(&f.spec) {
                Ok(spec) => Some(spec),
                Err(e) => {
                    crate::say::warn(&format!(
                        "--compat nfd: artifact {} of {digest}: {e}; not used",
                        f.artifact
                    ));
                    line.problem = Some(e.to_string());
                    None
                }
            },
        });
        match position {
            None => found_all.index = attached,
            Some(p) => found_all.entries.push((p, attached)),
        }
        report.subjects.push(line);
    }
    Ok((found_all, report))
}
