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
    /// Entries whose declared `size` exceeds this are not eligible
    /// ("runtimes MAY reject manifests that exceed size limits").
    pub max_manifest_bytes: u64,
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
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::PlatformMatches {
                platform,
                target,
                tier: 0,
            } => write!(f, "platform {platform} matches {target}"),
            Reason::PlatformMatches {
                platform,
                target,
                tier,
            } => write!(
                f,
                "platform {platform} runs on {target} ({tier} steps from exact)"
            ),
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
        any_platform: bool,
        mut why: Option<&mut Vec<Reason>>,
    ) -> Eval {
        let mut eligible = true;
        let mut rank = PlatformRank::default();
        let mut say = |r: Reason| {
            if let Some(w) = why.as_deref_mut() {
                w.push(r);
            }
        };
        if let Some(t) = d.annotations.get(REFERENCE_TYPE_ANNOTATION) {
            eligible = false;
            say(Reason::Reference(t.to_string()));
        }
        match media_type::kind(&d.media_type) {
            Kind::ImageManifest => {}
            Kind::LegacyManifest => say(Reason::LegacySchema1),
            Kind::Index => say(Reason::NestedIndex),
            Kind::Other => {
                eligible = false;
                say(Reason::NotRunnable(d.media_type.to_string()));
            }
        }
        if d.size > self.max_manifest_bytes {
            eligible = false;
            say(Reason::TooLarge {
                size: d.size,
                limit: self.max_manifest_bytes,
            });
        }
        match &d.platform {
            Some(p) if p.os == "unknown" || p.architecture == "unknown" => {
                eligible = false;
                say(Reason::UnknownPlatform);
            }
            Some(p) => match self.matcher.check(p) {
                Ok(r) => {
                    rank = r;
                    say(Reason::PlatformMatches {
                        platform: p.to_string(),
                        target: self.matcher.target().to_string(),
                        tier: r.tier,
                    });
                }
                Err(why) => {
                    eligible = false;
                    say(Reason::PlatformMismatch {
                        platform: p.to_string(),
                        target: self.matcher.target().to_string(),
                        why,
                    });
                }
            },
            None if any_platform => {
                eligible = false;
                say(Reason::NoPlatform);
            }
            None => say(Reason::NoPlatformAnywhere),
        }
        let mut score: i64 = 0;
        for p in &self.preferences {
            if p.is_satisfied_by(&d.annotations) {
                score = score.saturating_add(p.weight);
                say(Reason::Preferred(p.clone()));
            }
        }
        Eval {
            eligible,
            score,
            rank,
        }
    }

    /// Selects the best eligible entry: highest score, then closest
    /// platform, then earliest position. With no preferences (or on ties)
    /// this is the first entry in containerd's order, i.e. the image-spec's
    /// "first matching entry". Returns `None` when no entry is eligible.
    pub fn select<'i, 'a>(&self, index: &'i Index<'a>) -> Option<Selection<'i, 'a>> {
        let any_platform = index.manifests.iter().any(|d| d.platform.is_some());
        let mut best: Option<(usize, Eval)> = None;
        for (i, d) in index.manifests.iter().enumerate() {
            let e = self.evaluate(d, any_platform, None);
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
        let d = &index.manifests[position];
        let mut reasons = Vec::new();
        let e = self.evaluate(d, any_platform, Some(&mut reasons));
        Ranked {
            position,
            eligible: e.eligible,
            score: e.score,
            platform_rank: (e.eligible && d.platform.is_some()).then_some(e.rank),
            reasons,
        }
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
