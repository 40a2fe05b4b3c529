//! The selection policy and the ranking of an index's entries.
//!
//! Each entry is evaluated exactly once into a sort key and (when asked)
//! its reasons; sorting then only compares keys.

use std::cmp::Ordering;
use std::fmt;

use crate::index::{Descriptor, Index};
use crate::media_type::{self, Kind};
use crate::platform::{Matcher, Mismatch, Platform, PlatformRank};
use crate::prefer::Preference;

/// The default for [`Policy::max_manifest_bytes`]: 4 MiB, the manifest size
/// limit registries commonly enforce.
pub const DEFAULT_MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// The annotation BuildKit puts on attestation and other non-image entries.
pub const REFERENCE_TYPE_ANNOTATION: &str = "vnd.docker.reference.type";

/// What to select for: a target platform, weighted annotation preferences
/// and limits.
///
/// ```
/// use ocipick::{Index, Platform, Policy, Preference};
/// let doc = br#"{"schemaVersion":2,"manifests":[
///   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,
///    "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
///    "platform":{"architecture":"amd64","os":"linux"}},
///   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7682,
///    "digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
///    "platform":{"architecture":"amd64","os":"linux"},
///    "annotations":{"com.example.gpu":"example-gpu-model"}}]}"#;
/// let index = Index::parse(doc).unwrap();
///
/// // Without preferences: the first matching entry, as the image-spec says.
/// let plain = Policy::new(&Platform::new("linux", "amd64", None));
/// assert_eq!(plain.select(&index).unwrap().position, 0);
///
/// // Preferring the GPU annotation picks the second entry.
/// let gpu = plain.clone().prefer(Preference::key_value("com.example.gpu", "example-gpu-model").weight(10));
/// let chosen = gpu.select(&index).unwrap();
/// assert_eq!((chosen.position, chosen.score), (1, 10));
/// ```
#[derive(Debug, Clone)]
pub struct Policy {
    matcher: Matcher,
    preferences: Vec<Preference>,
    adjustments: Vec<Adjustment>,
    rules: Vec<crate::rules::Rule>,
    facts: crate::rules::HostFacts,
    /// NFD compatibility verdicts, by entry position.
    compat: Vec<(usize, crate::compat::SetVerdict)>,
    /// Entries whose declared `size` exceeds this are not eligible
    /// ("runtimes MAY reject manifests that exceed size limits").
    pub max_manifest_bytes: u64,
}

/// A change to one entry's score or eligibility from outside the policy:
/// a selection hook's answer. It can lower or raise a score or veto an
/// entry; it can never make an ineligible entry eligible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// 0-based position of the entry in the index's `manifests`.
    pub position: usize,
    /// Added to the entry's score.
    pub delta: i64,
    /// Makes the entry ineligible.
    pub veto: bool,
    /// Who said so (a hook's name), for the reasons.
    pub source: String,
    /// Why, in the source's words, if it gave any.
    pub note: Option<String>,
}

/// Why an entry is, or is not, eligible, and what added to its score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The platform runs on the target, at this closeness.
    PlatformMatches {
        /// The entry's platform as written.
        platform: String,
        /// The target.
        target: String,
        /// Position in the target's compatibility list (0 = exact).
        tier: u32,
        /// How many of the target's `os.features` the entry does not list
        /// (it comes after entries of its tier that list more).
        missing_features: u32,
    },
    /// The platform does not run on the target.
    PlatformMismatch {
        /// The entry's platform as written.
        platform: String,
        /// The target.
        target: String,
        /// Why.
        why: Mismatch,
    },
    /// No platform, and other entries have one.
    NoPlatform,
    /// No platform, but no entry in the index has one (a layout `index.json`).
    NoPlatformAnywhere,
    /// An attestation or other reference entry.
    Reference(String),
    /// `unknown/unknown` or another platform with an `unknown` part.
    UnknownPlatform,
    /// The media type is not an image manifest or index.
    NotRunnable(String),
    /// A legacy Docker schema 1 manifest.
    LegacySchema1,
    /// A nested index: selection continues inside it.
    NestedIndex,
    /// The declared size is over the limit.
    TooLarge {
        /// The declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A preference the entry satisfies.
    Preferred(Preference),
    /// An adjustment from outside the policy (a hook).
    Adjusted(Adjustment),
    /// A rule's verdict, with the host facts it used.
    Rule(crate::rules::Verdict),
    /// An NFD compatibility set's verdict: its weight when it passes.
    Compat(crate::compat::SetVerdict),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::PlatformMatches {
                platform,
                target,
                tier,
                missing_features,
            } => {
                if *tier == 0 {
                    write!(f, "platform {platform} matches {target}")?;
                } else {
                    write!(
                        f,
                        "platform {platform} runs on {target} ({tier} step{} from exact)",
                        if *tier == 1 { "" } else { "s" }
                    )?;
                }
                match missing_features {
                    0 => Ok(()),
                    1 => f.write_str(", without 1 of the target's os.features"),
                    n => write!(f, ", without {n} of the target's os.features"),
                }
            }
            Reason::PlatformMismatch {
                platform,
                target,
                why,
            } => write!(f, "platform {platform} does not run on {target}: {why}"),
            Reason::NoPlatform => f.write_str(
                "no platform, while other entries have one: not eligible (it could be anything)",
            ),
            Reason::NoPlatformAnywhere => {
                f.write_str("no platform, but no entry of this index has one: eligible by position")
            }
            Reason::Reference(t) => write!(
                f,
                "reference entry ({REFERENCE_TYPE_ANNOTATION}={t}), not a runnable image"
            ),
            Reason::UnknownPlatform => f.write_str(
                "platform names 'unknown': not a runnable image (attestation, signature…)",
            ),
            Reason::NotRunnable(mt) => {
                write!(f, "media type {mt} is not an image manifest or index")
            }
            Reason::LegacySchema1 => f.write_str("legacy Docker schema 1 manifest"),
            Reason::NestedIndex => f.write_str("nested index: the image is chosen inside it"),
            Reason::TooLarge { size, limit } => {
                write!(
                    f,
                    "size {size} bytes exceeds the {limit}-byte manifest limit"
                )
            }
            Reason::Rule(v) => write!(f, "{v}"),
            Reason::Compat(v) => write!(f, "{v}"),
            Reason::Adjusted(a) => {
                if a.veto {
                    write!(f, "vetoed by {}", a.source)?;
                } else {
                    write!(f, "{} adjusted the score: {:+}", a.source, a.delta)?;
                }
                if let Some(n) = &a.note {
                    write!(f, " ({n})")?;
                }
                Ok(())
            }
            Reason::Preferred(p) => {
                let w = p.weight;
                match &p.value {
                    Some(v) => write!(f, "preference {}={v} matched: {w:+}", p.key),
                    None => write!(f, "preference {} matched: {w:+}", p.key),
                }
            }
        }
    }
}

/// The outcome of evaluating one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// 0-based position in the index's `manifests`.
    pub position: usize,
    /// Whether the entry can be selected.
    pub eligible: bool,
    /// Sum of the weights of satisfied preferences.
    pub score: i64,
    /// Closeness of the platform (for eligible entries with a platform).
    pub platform_rank: Option<PlatformRank>,
    /// Why, in order: eligibility first, then matched preferences.
    pub reasons: Vec<Reason>,
}

/// Every entry of an index, best first, with the selected one.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// Eligible entries best first, then ineligible entries in index order.
    pub entries: Vec<Ranked>,
    /// Position (in the index) of the selected entry.
    pub selected: Option<usize>,
}

/// The chosen entry.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'i, 'a> {
    /// 0-based position in the index's `manifests`.
    pub position: usize,
    /// The chosen descriptor.
    pub descriptor: &'i Descriptor<'a>,
    /// Its score.
    pub score: i64,
}

/// What [`Policy::select_bytes`] found.
#[derive(Debug, Clone)]
pub struct Streamed<'a> {
    /// How many entries the index has.
    pub entries: usize,
    /// The index's own `mediaType`, if it names one.
    pub media_type: Option<std::borrow::Cow<'a, str>>,
    /// The selected entry with its evaluation (and reasons), if any.
    pub chosen: Option<(Descriptor<'a>, Ranked)>,
}

/// Keeps the best entry while the descriptors are read.
struct Best<'p, 'a> {
    policy: &'p Policy,
    /// [`Policy::score_ceiling`].
    ceiling: i64,
    any_platform: bool,
    platformed: Option<(usize, Descriptor<'a>, i64, PlatformRank)>,
    bare: Option<(usize, Descriptor<'a>, i64)>,
}

impl<'a> crate::de::Sink<'a> for Best<'_, 'a> {
    fn accept(&mut self, position: usize, mut d: Descriptor<'a>) {
        self.accept_from(position, &mut d);
    }

    /// Evaluates the entry where it lies; moves it out only when it is the
    /// best so far.
    fn accept_from(&mut self, position: usize, d: &mut Descriptor<'a>) {
        let take = |d: &mut Descriptor<'a>| std::mem::replace(d, Descriptor::empty());
        if d.platform.is_some() {
            self.any_platform = true;
            // Settled: the best entry has the ceiling score and the closest
            // rank there is (the target itself, with every os.feature of the
            // target that can count). A later entry wins only by
            // being strictly better, so the remaining entries are read (the
            // document must still be valid) but not evaluated.
            let settled = self
                .platformed
                .as_ref()
                .is_some_and(|(_, _, s, r)| *s == self.ceiling && *r == PlatformRank::default());
            if settled {
                return;
            }
            let e = self.policy.evaluate(d, position, true, None);
            let better = e.eligible
                && match &self.platformed {
                    None => true,
                    Some((_, _, s, r)) => better_than(e.score, e.rank, *s, *r) == Ordering::Less,
                };
            if better {
                self.platformed = Some((position, take(d), e.score, e.rank));
            }
        } else if !self.any_platform {
            // Counts only if no entry turns out to have a platform.
            let e = self.policy.evaluate(d, position, false, None);
            if e.eligible && self.bare.as_ref().is_none_or(|(_, _, s)| e.score > *s) {
                self.bare = Some((position, take(d), e.score));
            }
        }
    }
}

/// The per-entry evaluation: eligibility, score and closeness.
struct Eval {
    eligible: bool,
    score: i64,
    rank: PlatformRank,
}

impl Policy {
    /// A policy for `target` with no preferences and the default limits.
    pub fn new(target: &Platform<'_>) -> Policy {
        Policy {
            matcher: Matcher::new(target),
            preferences: Vec::new(),
            adjustments: Vec::new(),
            rules: Vec::new(),
            facts: Default::default(),
            compat: Vec::new(),
            max_manifest_bytes: DEFAULT_MAX_MANIFEST_BYTES,
        }
    }

    /// Adds a preference.
    pub fn prefer(mut self, p: Preference) -> Policy {
        self.preferences.push(p);
        self
    }

    /// Adds preferences.
    pub fn with_preferences(mut self, ps: impl IntoIterator<Item = Preference>) -> Policy {
        self.preferences.extend(ps);
        self
    }

    /// Adds rules, judged against these host facts (see [`crate::rules`]).
    pub fn with_rules(
        mut self,
        rules: impl IntoIterator<Item = crate::rules::Rule>,
        facts: crate::rules::HostFacts,
    ) -> Policy {
        self.rules.extend(rules);
        self.facts = facts;
        self
    }

    /// The rules, in the order given.
    pub fn rules(&self) -> &[crate::rules::Rule] {
        &self.rules
    }

    /// Adds adjustments (hooks' answers) for entries of the index that will
    /// be selected from; positions refer to that index.
    pub fn with_adjustments(mut self, adj: impl IntoIterator<Item = Adjustment>) -> Policy {
        self.adjustments.extend(adj);
        self
    }

    /// Adds the NFD compatibility verdicts of the entry at `position`
    /// ([`crate::compat`]): each passing set adds its weight to the
    /// entry's score; failing and unknown sets add nothing and are only
    /// reported.
    pub fn with_compat(
        mut self,
        position: usize,
        sets: impl IntoIterator<Item = crate::compat::SetVerdict>,
    ) -> Policy {
        self.compat.extend(sets.into_iter().map(|v| (position, v)));
        self
    }

    /// The NFD compatibility verdicts of the entry at `position`.
    pub fn compat_of(
        &self,
        position: usize,
    ) -> impl Iterator<Item = &crate::compat::SetVerdict> + '_ {
        self.compat
            .iter()
            .filter(move |(p, _)| *p == position)
            .map(|(_, v)| v)
    }

    /// Whether any entry has NFD compatibility verdicts.
    pub fn has_compat(&self) -> bool {
        !self.compat.is_empty()
    }

    /// Sets the manifest size limit.
    pub fn max_manifest_bytes(mut self, limit: u64) -> Policy {
        self.max_manifest_bytes = limit;
        self
    }

    /// The normalized target platform.
    pub fn target(&self) -> &Platform<'static> {
        self.matcher.target()
    }

    /// The platform matcher (compatibility list of the target).
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// The preferences, in the order given.
    pub fn preferences(&self) -> &[Preference] {
        &self.preferences
    }

    /// Evaluates one entry. `any_platform`: whether some entry of the index
    /// has a platform. Reasons are pushed only when `why` is given.
    ///
    /// Eligibility rules, in order:
    /// 1. a `vnd.docker.reference.type` annotation marks a reference
    ///    (attestation) entry: never eligible;
    /// 2. the media type must be an image manifest or an index;
    /// 3. the declared size must be within [`Policy::max_manifest_bytes`];
    /// 4. a platform with an `unknown` OS or architecture is never eligible;
    ///    any other platform must run on the target ([`Matcher::check`]);
    /// 5. an entry without platform is eligible only when no entry of the
    ///    index has one.
    ///
    /// The score sums the weights of the satisfied preferences; it is
    /// computed for every entry so that explanations show it, but only
    /// eligible entries compete.
    fn evaluate(
        &self,
        d: &Descriptor<'_>,
        position: usize,
        any_platform: bool,
        mut why: Option<&mut Vec<Reason>>,
    ) -> Eval {
        // Reasons are built only when asked for: `select` over a large
        // index allocates nothing per entry.
        macro_rules! say {
            ($r:expr) => {
                if let Some(w) = why.as_deref_mut() {
                    w.push($r);
                }
            };
        }
        let mut eligible = true;
        let mut rank = PlatformRank::default();
        if let Some(t) = d.annotations.get(REFERENCE_TYPE_ANNOTATION) {
            eligible = false;
            say!(Reason::Reference(t.to_string()));
        }
        match media_type::kind(&d.media_type) {
            Kind::ImageManifest => {}
            Kind::LegacyManifest => say!(Reason::LegacySchema1),
            Kind::Index => say!(Reason::NestedIndex),
            Kind::Other => {
                eligible = false;
                say!(Reason::NotRunnable(d.media_type.to_string()));
            }
        }
        if d.size > self.max_manifest_bytes {
            eligible = false;
            say!(Reason::TooLarge {
                size: d.size,
                limit: self.max_manifest_bytes,
            });
        }
        match &d.platform {
            Some(p) if p.os == "unknown" || p.architecture == "unknown" => {
                eligible = false;
                say!(Reason::UnknownPlatform);
            }
            Some(p) => match self.matcher.rank(p) {
                Ok(r) => {
                    rank = r;
                    say!(Reason::PlatformMatches {
                        platform: p.to_string(),
                        target: self.matcher.target().to_string(),
                        tier: r.tier,
                        missing_features: r.missing_features,
                    });
                }
                Err(fail) => {
                    eligible = false;
                    say!(Reason::PlatformMismatch {
                        platform: p.to_string(),
                        target: self.matcher.target().to_string(),
                        why: self.matcher.explain(p, fail),
                    });
                }
            },
            None if any_platform => {
                eligible = false;
                say!(Reason::NoPlatform);
            }
            None => say!(Reason::NoPlatformAnywhere),
        }
        let mut score: i64 = 0;
        if !d.annotations.is_empty() {
            for p in &self.preferences {
                if p.is_satisfied_by(&d.annotations) {
                    score = score.saturating_add(p.weight);
                    say!(Reason::Preferred(p.clone()));
                }
            }
        }
        if !d.annotations.is_empty() {
            for (n, rule) in self.rules.iter().enumerate() {
                // The verdict, described, only for reasons.
                let held = match why.as_deref_mut() {
                    Some(w) => {
                        let Some(v) = rule.judge(n + 1, &d.annotations, &self.facts) else {
                            continue;
                        };
                        let held = v.held;
                        w.push(Reason::Rule(v));
                        held
                    }
                    None => match rule.holds(&d.annotations, &self.facts) {
                        Some(held) => held,
                        None => continue,
                    },
                };
                match (rule.kind, held) {
                    (crate::rules::Kind::Prefer(w), true) => score = score.saturating_add(w),
                    (crate::rules::Kind::Require, false) | (crate::rules::Kind::Exclude, true) => {
                        eligible = false
                    }
                    _ => {}
                }
            }
        }
        for (_, v) in self.compat.iter().filter(|(p, _)| *p == position) {
            score = score.saturating_add(v.added);
            say!(Reason::Compat(v.clone()));
        }
        for a in self.adjustments.iter().filter(|a| a.position == position) {
            score = score.saturating_add(a.delta);
            if a.veto {
                eligible = false;
            }
            say!(Reason::Adjusted(a.clone()));
        }
        Eval {
            eligible,
            score,
            rank,
        }
    }

    /// The highest score an entry can have: the sum (saturating, as scores
    /// are summed) of every positive weight of the preferences, the rules
    /// and the adjustments. Negative weights only lower a score, and
    /// saturating addition never passes this sum, in any order.
    fn score_ceiling(&self) -> i64 {
        let rules = self.rules.iter().map(|r| match r.kind {
            crate::rules::Kind::Prefer(w) => w,
            crate::rules::Kind::Require | crate::rules::Kind::Exclude => 0,
        });
        self.preferences
            .iter()
            .map(|p| p.weight)
            .chain(rules)
            .chain(self.adjustments.iter().map(|a| a.delta))
            .chain(self.compat.iter().map(|(_, v)| v.added))
            .filter(|&w| w > 0)
            .fold(0i64, i64::saturating_add)
    }

    /// Selects the best eligible entry: highest score, then closest
    /// platform, then earliest position. With no preferences (or on ties)
    /// this is the first entry in containerd's order, i.e. the image-spec's
    /// "first matching entry". Returns `None` when no entry is eligible.
    pub fn select<'i, 'a>(&self, index: &'i Index<'a>) -> Option<Selection<'i, 'a>> {
        let any_platform = index.manifests.iter().any(|d| d.platform.is_some());
        let mut best: Option<(usize, Eval)> = None;
        for (i, d) in index.manifests.iter().enumerate() {
            let e = self.evaluate(d, i, any_platform, None);
            if !e.eligible {
                continue;
            }
            let better = match &best {
                None => true,
                Some((_, b)) => better_than(e.score, e.rank, b.score, b.rank) == Ordering::Less,
            };
            if better {
                best = Some((i, e));
            }
        }
        best.map(|(i, e)| Selection {
            position: i,
            descriptor: &index.manifests[i],
            score: e.score,
        })
    }

    /// Evaluates the entry at `position` alone, with its reasons (as it
    /// would appear in [`rank`](Policy::rank)). Panics if `position` is out
    /// of range.
    pub fn explain(&self, index: &Index<'_>, position: usize) -> Ranked {
        let any_platform = index.manifests.iter().any(|d| d.platform.is_some());
        self.ranked(index, any_platform, position)
    }

    fn ranked(&self, index: &Index<'_>, any_platform: bool, position: usize) -> Ranked {
        self.ranked_entry(&index.manifests[position], position, any_platform)
    }

    /// One entry, evaluated with its reasons.
    fn ranked_entry(&self, d: &Descriptor<'_>, position: usize, any_platform: bool) -> Ranked {
        let mut reasons = Vec::new();
        let e = self.evaluate(d, position, any_platform, Some(&mut reasons));
        Ranked {
            position,
            eligible: e.eligible,
            score: e.score,
            platform_rank: (e.eligible && d.platform.is_some()).then_some(e.rank),
            reasons,
        }
    }

    /// Parses and selects in one pass over the bytes of an index, keeping
    /// only the best entry so far instead of a vector of every descriptor.
    /// The document is validated exactly as [`Index::parse`] validates it,
    /// and the choice is the one [`select`](Policy::select) makes; the
    /// chosen entry comes with its reasons.
    ///
    /// Once the best entry so far cannot be beaten (it is on the target's
    /// own platform and has the highest score the preferences, rules and
    /// adjustments allow), the entries after it are still read and checked
    /// but no longer evaluated.
    ///
    /// ```
    /// use ocipick::{Platform, Policy};
    /// let doc = br#"{"schemaVersion":2,"manifests":[
    ///   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,
    ///    "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
    ///    "platform":{"architecture":"arm64","os":"linux"}}]}"#;
    /// let found = Policy::new(&Platform::new("linux", "arm64", None)).select_bytes(doc).unwrap();
    /// assert_eq!((found.entries, found.chosen.unwrap().1.position), (1, 0));
    /// ```
    pub fn select_bytes<'a>(&self, bytes: &'a [u8]) -> Result<Streamed<'a>, crate::IndexError> {
        let ceiling = self.score_ceiling();
        let fresh = || Best {
            policy: self,
            ceiling,
            any_platform: false,
            platformed: None,
            bare: None,
        };
        // The fast reader handles the common documents (checking their
        // UTF-8 as it goes); on anything else (or any doubt) the serde
        // reader decides, with its errors.
        let mut best = fresh();
        let top = match crate::fast::read_top(bytes, &mut best) {
            Ok(top) => top,
            Err(crate::fast::Fallback) => {
                best = fresh();
                let text = crate::index::utf8(bytes)?;
                crate::index::read_top_text(text, &mut best)?
            }
        };
        crate::index::check_top(&top)?;
        let any = best.any_platform;
        let chosen = if any {
            best.platformed.map(|(i, d, ..)| (i, d))
        } else {
            best.bare.map(|(i, d, _)| (i, d))
        };
        let chosen = chosen.map(|(position, d)| {
            let ranked = self.ranked_entry(&d, position, any);
            (d, ranked)
        });
        Ok(Streamed {
            entries: top.manifests.unwrap_or(0),
            media_type: top.media_type,
            chosen,
        })
    }

    /// Ranks every entry with its reasons. The first eligible entry is the
    /// one [`select`](Policy::select) returns.
    pub fn rank(&self, index: &Index<'_>) -> Ranking {
        let any_platform = index.manifests.iter().any(|d| d.platform.is_some());
        let mut entries: Vec<Ranked> = (0..index.manifests.len())
            .map(|i| self.ranked(index, any_platform, i))
            .collect();
        entries.sort_by(|a, b| match (a.eligible, b.eligible) {
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => a.position.cmp(&b.position),
            (true, true) => better_than(
                a.score,
                a.platform_rank.unwrap_or_default(),
                b.score,
                b.platform_rank.unwrap_or_default(),
            )
            .then(a.position.cmp(&b.position)),
        });
        let selected = entries.first().filter(|e| e.eligible).map(|e| e.position);
        Ranking { entries, selected }
    }
}

/// Orders two eligible entries: `Less` when the first is better (higher
/// score, then closer platform). Equal means "keep index order".
fn better_than(sa: i64, ra: PlatformRank, sb: i64, rb: PlatformRank) -> Ordering {
    sb.cmp(&sa).then(ra.cmp(&rb))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry: platform selector (or "" for none), annotations, size.
    type Entry<'a> = (&'a str, &'a [(&'a str, &'a str)], u64);

    /// Builds an index from entries.
    fn index(entries: &[Entry]) -> Vec<u8> {
        let host = Platform::new("linux", "amd64", None);
        let manifests: Vec<serde_json::Value> = entries
            .iter()
            .enumerate()
            .map(|(i, (plat, ann, size))| {
                let mut d = serde_json::json!({
                    "mediaType": crate::media_type::OCI_MANIFEST,
                    "digest": format!("sha256:{i:064x}"),
                    "size": size,
                });
                if !plat.is_empty() {
                    let p = crate::platform::selector::parse(plat, &host).unwrap();
                    d["platform"] = serde_json::to_value(p).unwrap();
                }
                let ann: serde_json::Map<String, serde_json::Value> = ann
                    .iter()
                    .map(|(k, v)| (k.to_string(), (*v).into()))
                    .collect();
                d["annotations"] = ann.into();
                d
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": manifests}))
            .unwrap()
    }

    fn pick(bytes: &[u8], target: &str, prefs: &[&str]) -> Option<(usize, i64)> {
        let idx = Index::parse(bytes).unwrap();
        let host = Platform::new("linux", "amd64", None);
        let t = crate::platform::selector::parse(target, &host).unwrap();
        let policy = Policy::new(&t)
            .with_preferences(prefs.iter().map(|p| p.parse::<Preference>().unwrap()));
        let sel = policy.select(&idx).map(|s| (s.position, s.score));
        // select and rank always agree.
        assert_eq!(sel.map(|s| s.0), policy.rank(&idx).selected);
        sel
    }

    const GPU: (&str, &str) = ("com.example.gpu", "a100");
    const FAST: (&str, &str) = ("org.example.fast", "yes");
    const DEBUG: (&str, &str) = ("org.example.debug", "1");

    /// Proposal A scoring, one row per rule.
    #[test]
    fn scoring_table() {
        let plain_then_gpu = index(&[("linux/amd64", &[], 1), ("linux/amd64", &[GPU], 1)]);
        let gpu_then_fast = index(&[
            ("linux/amd64", &[GPU], 1),
            ("linux/amd64", &[FAST, DEBUG], 1),
        ]);
        let debug_first = index(&[("linux/amd64", &[DEBUG], 1), ("linux/amd64", &[], 1)]);
        let arm_gpu = index(&[("linux/amd64", &[], 1), ("linux/arm64", &[GPU], 1)]);
        let v1_v2 = index(&[("linux/amd64", &[GPU], 1), ("linux/amd64/v2", &[], 1)]);
        type Row<'a> = (
            &'a str,
            &'a [u8],
            &'a str,
            &'a [&'a str],
            Option<(usize, i64)>,
        );
        let rows: &[Row] = &[
            (
                "no preference: first match",
                &plain_then_gpu,
                "linux/amd64",
                &[],
                Some((0, 0)),
            ),
            (
                "key preference",
                &plain_then_gpu,
                "linux/amd64",
                &["com.example.gpu"],
                Some((1, 1)),
            ),
            (
                "key=value preference",
                &plain_then_gpu,
                "linux/amd64",
                &["com.example.gpu=a100:10"],
                Some((1, 10)),
            ),
            (
                "wrong value is no match",
                &plain_then_gpu,
                "linux/amd64",
                &["com.example.gpu=h100:10"],
                Some((0, 0)),
            ),
            (
                "unsatisfiable preference changes nothing",
                &plain_then_gpu,
                "linux/amd64",
                &["org.nobody:50"],
                Some((0, 0)),
            ),
            (
                "weights sum: 2+2 beats 3",
                &gpu_then_fast,
                "linux/amd64",
                &[
                    "com.example.gpu:3",
                    "org.example.fast:2",
                    "org.example.debug:2",
                ],
                Some((1, 4)),
            ),
            (
                "weights sum: 2+1 ties 3, earlier wins",
                &gpu_then_fast,
                "linux/amd64",
                &[
                    "com.example.gpu:3",
                    "org.example.fast:2",
                    "org.example.debug:1",
                ],
                Some((0, 3)),
            ),
            (
                "equal scores keep the earlier entry",
                &gpu_then_fast,
                "linux/amd64",
                &["com.example.gpu", "org.example.fast"],
                Some((0, 1)),
            ),
            (
                "negative weight avoids",
                &debug_first,
                "linux/amd64",
                &["org.example.debug:-5"],
                Some((1, 0)),
            ),
            (
                "a preference never makes an entry eligible",
                &arm_gpu,
                "linux/amd64",
                &["com.example.gpu:100"],
                Some((0, 0)),
            ),
            (
                "closer platform wins without preferences",
                &v1_v2,
                "linux/amd64/v2",
                &[],
                Some((1, 0)),
            ),
            (
                "score beats closeness",
                &v1_v2,
                "linux/amd64/v2",
                &["com.example.gpu"],
                Some((0, 1)),
            ),
            (
                "nothing fits",
                &plain_then_gpu,
                "linux/s390x",
                &["com.example.gpu"],
                None,
            ),
        ];
        for (name, bytes, target, prefs, want) in rows {
            assert_eq!(pick(bytes, target, prefs), *want, "{name}");
        }
    }

    /// The one-pass selection agrees with parse-then-select on every
    /// document of the corpus, for a spread of targets and preferences.
    #[test]
    fn select_bytes_agrees_with_select() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/corpus");
        let host = Platform::new("linux", "amd64", None);
        let mut compared = 0;
        for f in std::fs::read_dir(dir).unwrap() {
            let path = f.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let idx = Index::parse(&bytes).unwrap();
            for target in [
                "linux/amd64",
                "linux/arm64",
                "linux/arm/v7",
                "windows/amd64",
                "linux/s390x",
            ] {
                let t = crate::platform::selector::parse(target, &host).unwrap();
                for prefs in [
                    &[][..],
                    &["org.opencontainers.image.ref.name:5"][..],
                    &["com.docker.official-images.bashbrew.arch=arm64v8:3"][..],
                ] {
                    let policy = Policy::new(&t)
                        .with_preferences(prefs.iter().map(|p| p.parse::<Preference>().unwrap()));
                    let a = policy.select(&idx);
                    let b = policy.select_bytes(&bytes).unwrap();
                    assert_eq!(b.entries, idx.manifests.len());
                    assert_eq!(
                        a.map(|s| (s.position, s.score)),
                        b.chosen.as_ref().map(|(_, r)| (r.position, r.score)),
                        "{} for {target} {prefs:?}",
                        path.display()
                    );
                    if let (Some(a), Some((d, r))) = (a, &b.chosen) {
                        assert_eq!(a.descriptor, d);
                        assert_eq!(&policy.explain(&idx, a.position), r);
                    }
                    compared += 1;
                }
            }
        }
        assert!(compared >= 40 * 15, "{compared}");
    }

    /// `select_bytes` stops evaluating once its best entry cannot be beaten
    /// (the highest score there can be, on the target's own platform). In
    /// each row an early entry would end the search if the ceiling or the
    /// rank were misjudged; the row says which entry must win, and
    /// `select` (which evaluates every entry) must agree.
    #[test]
    fn settling_table() {
        let big = DEFAULT_MAX_MANIFEST_BYTES + 1;
        /// What the row shows, the entries, the preferences, the winner.
        type Row<'a> = (&'a str, &'a [Entry<'a>], &'a [&'a str], Option<usize>);
        let rows: &[Row] = &[
            (
                "the target's platform first, no preference: the first is final",
                &[("linux/amd64", &[], 1), ("linux/amd64", &[GPU], 1)],
                &[],
                Some(0),
            ),
            (
                "the target's platform first without the preferred annotation: a later entry with it wins",
                &[("linux/amd64", &[], 1), ("linux/amd64", &[GPU], 1)],
                &["com.example.gpu=a100:10"],
                Some(1),
            ),
            (
                "the ceiling needs every positive preference: one of two is not enough",
                &[("linux/amd64", &[GPU], 1), ("linux/amd64", &[GPU, FAST], 1)],
                &["com.example.gpu:2", "org.example.fast:1"],
                Some(1),
            ),
            (
                "negative weights do not raise the ceiling: the first entry at 0 is final",
                &[("linux/amd64", &[], 1), ("linux/amd64", &[DEBUG], 1)],
                &["org.example.debug:-5"],
                Some(0),
            ),
            (
                "negative weights do not lower the ceiling: a later entry without the avoided annotation wins",
                &[("linux/amd64", &[GPU, DEBUG], 1), ("linux/amd64", &[GPU], 1)],
                &["com.example.gpu:3", "org.example.debug:-5"],
                Some(1),
            ),
            (
                "the ceiling score on a farther platform: a closer platform later wins",
                &[("linux/386", &[GPU], 1), ("linux/amd64", &[GPU], 1)],
                &["com.example.gpu:3"],
                Some(1),
            ),
            (
                "an ineligible entry on the target's platform settles nothing",
                &[("linux/amd64", &[], big), ("linux/amd64", &[], 1)],
                &[],
                Some(1),
            ),
            (
                "two preferences on one annotation: the ceiling is their sum",
                &[
                    ("linux/amd64", &[("com.example.gpu", "h100")], 1),
                    ("linux/amd64", &[GPU], 1),
                ],
                &["com.example.gpu:2", "com.example.gpu=a100:3"],
                Some(1),
            ),
        ];
        let host = Platform::new("linux", "amd64", None);
        for (what, entries, prefs, want) in rows {
            let bytes = index(entries);
            let policy = Policy::new(&host)
                .with_preferences(prefs.iter().map(|p| p.parse::<Preference>().unwrap()));
            let streamed = policy.select_bytes(&bytes).unwrap();
            let got = streamed.chosen.as_ref().map(|(_, r)| r.position);
            assert_eq!(got, *want, "select_bytes: {what}");
            let idx = Index::parse(&bytes).unwrap();
            assert_eq!(
                policy.select(&idx).map(|s| s.position),
                *want,
                "select: {what}"
            );
        }
        // The closest rank includes the os.features count: on a target with
        // features, a first entry on its platform that lacks them settles
        // nothing, and a later one with more of them wins (containerd's
        // Less); on a Windows target win32k is not counted, so an entry
        // without it can settle.
        for (target, entries, want, what) in [
            (
                "linux(+gpu)/amd64",
                &[
                    ("linux/amd64", &[][..], 1),
                    ("linux(+gpu)/amd64", &[][..], 1),
                ][..],
                Some(1),
                "more matching features later",
            ),
            (
                "linux(+gpu+rdma)/amd64",
                &[
                    ("linux(+gpu)/amd64", &[][..], 1),
                    ("linux(+rdma+gpu)/amd64", &[][..], 1),
                    ("linux(+gpu+rdma)/amd64", &[][..], 1),
                ][..],
                Some(1),
                "all features: the first of them is final",
            ),
            (
                "windows(10.0.20348.1+win32k)/amd64",
                &[
                    ("windows(10.0.20348.1)/amd64", &[][..], 1),
                    ("windows(10.0.20348.1+win32k)/amd64", &[][..], 1),
                ][..],
                Some(0),
                "win32k is not counted",
            ),
        ] {
            let bytes = index(entries);
            let t = crate::platform::selector::parse(target, &host).unwrap();
            let policy = Policy::new(&t);
            let streamed = policy.select_bytes(&bytes).unwrap();
            assert_eq!(
                streamed.chosen.map(|(_, r)| r.position),
                want,
                "select_bytes: {what}"
            );
            let idx = Index::parse(&bytes).unwrap();
            assert_eq!(
                policy.select(&idx).map(|s| s.position),
                want,
                "select: {what}"
            );
        }
        // A hook's positive adjustment is part of the ceiling too: it lifts
        // the later of two entries on the target's platform.
        let bytes = index(&[("linux/amd64", &[], 1), ("linux/amd64", &[], 1)]);
        let policy = Policy::new(&host).with_adjustments([Adjustment {
            position: 1,
            delta: 4,
            veto: false,
            source: "hook".into(),
            note: None,
        }]);
        let streamed = policy.select_bytes(&bytes).unwrap();
        assert_eq!(streamed.chosen.map(|(_, r)| r.position), Some(1));
    }

    /// The reasons say when an entry lacks some of the target's
    /// os.features, which is why it comes after others of its tier.
    #[test]
    fn reasons_name_missing_features() {
        let bytes = index(&[
            ("linux(+gpu)/amd64", &[], 1),
            ("linux/amd64", &[], 1),
            ("linux/386", &[], 1),
        ]);
        let idx = Index::parse(&bytes).unwrap();
        let host = Platform::new("linux", "amd64", None);
        let t = crate::platform::selector::parse("linux(+gpu+rdma)/amd64", &host).unwrap();
        let text = |i: usize| Policy::new(&t).explain(&idx, i).reasons[0].to_string();
        assert_eq!(
            text(0),
            "platform linux(+gpu)/amd64 matches linux(+gpu+rdma)/amd64, without 1 of the target's os.features"
        );
        assert_eq!(
            text(1),
            "platform linux/amd64 matches linux(+gpu+rdma)/amd64, without 2 of the target's os.features"
        );
        assert_eq!(
            text(2),
            "platform linux/386 runs on linux(+gpu+rdma)/amd64 (1 step from exact), without 2 of the target's os.features"
        );
        let plain = Policy::new(&host).explain(&idx, 1).reasons[0].to_string();
        assert_eq!(plain, "platform linux/amd64 matches linux/amd64");
    }

    #[test]
    fn size_limit_makes_entries_ineligible() {
        let bytes = index(&[("linux/amd64", &[], 100), ("linux/amd64", &[GPU], 5000)]);
        let idx = Index::parse(&bytes).unwrap();
        let policy = Policy::new(&Platform::new("linux", "amd64", None))
            .prefer(Preference::key("com.example.gpu").weight(10));
        assert_eq!(policy.select(&idx).unwrap().position, 1);
        let limited = policy.max_manifest_bytes(4999);
        assert_eq!(limited.select(&idx).unwrap().position, 0);
        let r = limited.rank(&idx);
        let big = r.entries.iter().find(|e| e.position == 1).unwrap();
        assert!(!big.eligible);
        assert!(big.reasons.contains(&Reason::TooLarge {
            size: 5000,
            limit: 4999
        }));
        // At the limit is fine.
        assert_eq!(
            limited
                .max_manifest_bytes(5000)
                .select(&idx)
                .unwrap()
                .position,
            1
        );
    }

    #[test]
    fn adjustments_lower_raise_and_veto_but_never_widen() {
        let bytes = index(&[
            ("linux/amd64", &[], 1),
            ("linux/amd64", &[GPU], 1),
            ("linux/arm64", &[], 1),
        ]);
        let idx = Index::parse(&bytes).unwrap();
        let adj = |position, delta, veto| Adjustment {
            position,
            delta,
            veto,
            source: "hook".into(),
            note: None,
        };
        let base = Policy::new(&Platform::new("linux", "amd64", None));
        assert_eq!(base.select(&idx).unwrap().position, 0);
        let raised = base.clone().with_adjustments([adj(1, 5, false)]);
        assert_eq!(
            raised.select(&idx).map(|s| (s.position, s.score)),
            Some((1, 5))
        );
        let vetoed = base.clone().with_adjustments([adj(0, 0, true)]);
        assert_eq!(vetoed.select(&idx).unwrap().position, 1);
        let r = vetoed.rank(&idx);
        assert!(r.entries.iter().any(|e| e.position == 0 && !e.eligible));
        // A hook cannot make the arm64 entry eligible on an amd64 target.
        let widened =
            base.clone()
                .with_adjustments([adj(2, 1000, false), adj(0, 0, true), adj(1, 0, true)]);
        assert!(widened.select(&idx).is_none());
        assert_eq!(
            widened
                .select_bytes(&bytes)
                .unwrap()
                .chosen
                .map(|(_, r)| r.position),
            None
        );
    }

    /// Must-have, nice-to-have and exclusion through rules, with reasons
    /// that name the rule and the facts it used.
    #[test]
    fn rule_kinds() {
        use crate::rules::{HostFacts, Kind, Op, Operand, Rule};
        const V3: (&str, &str) = ("org.example.cpu.features", "avx2,fma");
        const V4: (&str, &str) = ("org.example.cpu.features", "avx512f");
        let bytes = index(&[
            ("linux/amd64", &[], 1),
            ("linux/amd64", &[V3], 1),
            ("linux/amd64", &[V4], 1),
        ]);
        let idx = Index::parse(&bytes).unwrap();
        let mut facts = HostFacts::new();
        facts.insert(
            "cpu.cpuid".into(),
            ["AVX2", "FMA"].iter().map(|s| s.to_string()).collect(),
        );
        let rule = |kind| Rule {
            annotation: "org.example.cpu.features".into(),
            op: Op::Subset,
            operand: Operand::Fact("cpu.cpuid".into()),
            kind,
            when: vec![],
            line: Some(3),
        };
        let target = Platform::new("linux", "amd64", None);
        let pick = |kind| {
            let p = Policy::new(&target).with_rules([rule(kind)], facts.clone());
            let r = p.rank(&idx);
            // The one-pass selection agrees (a rule's weight is part of the
            // score it must not stop short of).
            let streamed = p.select_bytes(&bytes).unwrap();
            assert_eq!(streamed.chosen.map(|(_, e)| e.position), r.selected);
            let eligible: Vec<usize> = r
                .entries
                .iter()
                .filter(|e| e.eligible)
                .map(|e| e.position)
                .collect();
            (r.selected, eligible, r)
        };
        // Nice-to-have: the v3 build wins on this host; v4 stays eligible.
        let (sel, eligible, r) = pick(Kind::Prefer(5));
        assert_eq!((sel, eligible), (Some(1), vec![1, 0, 2]));
        let why = r.entries[0]
            .reasons
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            why.contains("rule #1 (line 3)")
                && why.contains("cpu.cpuid has them all")
                && why.contains("+5"),
            "{why}"
        );
        // Must-have: the v4 build is ineligible here; entries without the
        // annotation are unaffected, so the generic one still leads.
        let (sel, eligible, _) = pick(Kind::Require);
        assert_eq!((sel, eligible), (Some(0), vec![0, 1]));
        // Exclusion: entries whose rule holds are ineligible.
        let (sel, eligible, _) = pick(Kind::Exclude);
        assert_eq!((sel, eligible), (Some(0), vec![0, 2]));
        // Rules never widen eligibility: on arm64 nothing fits.
        let p = Policy::new(&Platform::new("linux", "arm64", None))
            .with_rules([rule(Kind::Prefer(100))], facts.clone());
        assert!(p.select(&idx).is_none());
    }

    #[test]
    fn platformless_entries() {
        // Beside platformed entries: never eligible, even when preferred.
        let mixed = index(&[("", &[GPU], 1), ("linux/amd64", &[], 1)]);
        assert_eq!(
            pick(&mixed, "linux/amd64", &["com.example.gpu:9"]),
            Some((1, 0))
        );
        assert_eq!(pick(&mixed, "linux/arm64", &[]), None);
        // When no entry has a platform: eligible, by score then position.
        let bare = index(&[("", &[], 1), ("", &[GPU], 1)]);
        assert_eq!(pick(&bare, "linux/arm64", &[]), Some((0, 0)));
        assert_eq!(
            pick(&bare, "linux/arm64", &["com.example.gpu"]),
            Some((1, 1))
        );
        let idx = Index::parse(&bare).unwrap();
        let r = Policy::new(&Platform::new("linux", "arm64", None)).rank(&idx);
        assert!(r.entries[0].reasons.contains(&Reason::NoPlatformAnywhere));
    }

    #[test]
    fn rank_orders_eligible_then_the_rest() {
        let bytes = index(&[
            ("linux/arm64", &[], 1),
            ("linux/386", &[], 1),
            ("linux/amd64", &[], 1),
            ("linux/amd64/v2", &[GPU], 1),
            ("windows/amd64", &[], 1),
        ]);
        let idx = Index::parse(&bytes).unwrap();
        let t = crate::platform::selector::parse(
            "linux/amd64/v2",
            &Platform::new("linux", "amd64", None),
        )
        .unwrap();
        let r = Policy::new(&t).rank(&idx);
        let order: Vec<(usize, bool)> =
            r.entries.iter().map(|e| (e.position, e.eligible)).collect();
        assert_eq!(
            order,
            [(3, true), (2, true), (1, true), (0, false), (4, false)]
        );
        assert_eq!(r.selected, Some(3));
    }

    #[test]
    fn attestations_and_non_images_are_never_eligible() {
        let doc = br#"{"schemaVersion":2,"manifests":[
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000001",
           "platform":{"os":"linux","architecture":"amd64"},"annotations":{"vnd.docker.reference.type":"attestation-manifest"}},
          {"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000002",
           "platform":{"os":"linux","architecture":"amd64"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000003",
           "platform":{"os":"unknown","architecture":"unknown"}}]}"#;
        let idx = Index::parse(doc).unwrap();
        for target in ["linux/amd64", "unknown/unknown"] {
            let t =
                crate::platform::selector::parse(target, &Platform::new("linux", "amd64", None))
                    .unwrap();
            let r = Policy::new(&t).rank(&idx);
            assert_eq!(r.selected, None, "{target}");
            assert!(r.entries.iter().all(|e| !e.eligible));
        }
    }
}
