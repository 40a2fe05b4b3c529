//! What the mirror answers to a tag request, and the state behind it. All
//! of it runs on blocking threads: the registry client is synchronous.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ocipick::media_type::{self, Kind};
use ocipick::trust::OnUnsigned;
use ocipick::Digest;
use ocipick_registry::signature::{self, Verdict};
use ocipick_registry::{Client, ManifestAnswer, Reference, Refusal, RegistryError};

use crate::cache::{ManifestCache, TtlSlots};
use crate::liveness::Presence;
use crate::metrics::Metrics;
use crate::stale::StaleStore;
use crate::state::StateDir;
use crate::{reorder, Decide, Decision, Mode, Options};

/// How deep the mirror follows a chosen entry that is itself an index.
const MAX_DEPTH: usize = 4;

/// Which choice among an index's entries answers, as the trust policy
/// allows ([`State::judge`]; `None` there: none, the index as it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum How {
    /// No policy applies, or the index is signed: the node's policy
    /// ([`Decide::decide`]).
    Policy,
    /// Unsigned, `ignore-annotations`, child mode: platform alone
    /// ([`Decide::decide_platform_only`]).
    PlatformOnly,
}

/// A manifest to answer with.
#[derive(Debug, Clone)]
pub(crate) struct Served {
    pub(crate) bytes: Bytes,
    pub(crate) media_type: String,
    pub(crate) digest: String,
}

/// Why a request could not be answered from upstream.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The upstream answered with an error status: passed on.
    Refused(Box<Refusal>),
    /// The upstream could not be reached, or broke a rule.
    Registry(Box<RegistryError>),
}

/// The metric label of a registry error.
pub(crate) fn error_kind(e: &RegistryError) -> &'static str {
    match e {
        RegistryError::Transport { .. } => "transport",
        RegistryError::Status { .. } => "status",
        RegistryError::Invalid { .. } => "invalid",
        RegistryError::Auth(_) | RegistryError::Setup(_) => "auth",
    }
}

/// The mirror: its options, upstream client, policy, caches and metrics.
pub struct Mirror {
    pub(crate) state: Arc<State>,
}

pub(crate) struct State {
    pub(crate) opts: Options,
    pub(crate) client: Arc<Client>,
    decide: Arc<dyn Decide>,
    pub(crate) metrics: Metrics,
    /// (upstream, repository, tag) → answer.
    tags: TtlSlots<(usize, String, String), Served>,
    /// (index digest, how) → decision (or why there is none).
    decisions: TtlSlots<(String, How), Result<Decision, String>>,
    /// (registry, repository, index digest) → signed or not, under
    /// [`Options::trust`].
    verdicts: TtlSlots<(String, String, String), Verdict>,
    /// manifest digest → its fetch in progress: one at a time per digest
    /// (nothing kept; the manifest cache keeps the result).
    fetches: TtlSlots<String, Served>,
    pub(crate) manifests: ManifestCache,
    /// The runtime's matcher, from [`Options::runtime_platform`].
    pub(crate) runtime: Option<crate::runtime::Runtime>,
    /// Liveness, readiness and drain.
    pub(crate) health: crate::probe::Health,
    /// (upstream, repository, tag) → its last good answer, for
    /// [`Options::stale_for`].
    pub(crate) stale: StaleStore,
    /// (registry, repository, child digest) → whether upstream still has
    /// it, checked at most once per TTL.
    pub(crate) checks: TtlSlots<(String, String, String), bool>,
    /// Reordered indexes kept on disk, with [`Options::state`].
    pub(crate) disk: Option<StateDir>,
}

impl Mirror {
    /// A mirror of `opts.upstreams` that fetches with `client` and selects
    /// with `decide`.
    ///
    /// A state directory ([`Options::state`]) that cannot be opened is
    /// logged and left out; [`Mirror::open`] fails instead.
    pub fn new(opts: Options, client: Arc<Client>, decide: Arc<dyn Decide>) -> Mirror {
        let metrics = Metrics::default();
        let disk = match Mirror::open_state(&opts, &metrics) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("ocipick serve: state: {e}; reordered indexes are kept in memory only");
                None
            }
        };
        Mirror::build(opts, client, decide, metrics, disk)
    }

    fn open_state(opts: &Options, metrics: &Metrics) -> std::io::Result<Option<StateDir>> {
        match &opts.state {
            Some(s) => Ok(Some(StateDir::open(s.clone(), metrics).map_err(|e| {
                std::io::Error::new(e.kind(), format!("--state-dir {}: {e}", s.dir.display()))
            })?)),
            None => Ok(None),
        }
    }

    /// [`Mirror::new`], failing when the state directory
    /// ([`Options::state`]) cannot be created or read.
    pub fn open(
        opts: Options,
        client: Arc<Client>,
        decide: Arc<dyn Decide>,
    ) -> std::io::Result<Mirror> {
        let metrics = Metrics::default();
        let disk = Mirror::open_state(&opts, &metrics)?;
        Ok(Mirror::build(opts, client, decide, metrics, disk))
    }

    fn build(
        opts: Options,
        client: Arc<Client>,
        decide: Arc<dyn Decide>,
        metrics: Metrics,
        disk: Option<StateDir>,
    ) -> Mirror {
        let ttl = opts.ttl;
        let budget = opts.manifest_cache_bytes;
        let runtime = opts
            .runtime_platform
            .as_ref()
            .map(crate::runtime::Runtime::new);
        Mirror {
            state: Arc::new(State {
                stale: StaleStore::new(ttl, opts.stale_for, 4096, budget),
                checks: TtlSlots::new(ttl, 4096, budget, |_| 256),
                disk,
                opts,
                client,
                decide,
                metrics,
                tags: TtlSlots::new(ttl, 4096, budget, |s: &Served| s.bytes.len() + 256),
                decisions: TtlSlots::new(ttl, 4096, budget, decision_weight),
                verdicts: TtlSlots::new(ttl, 4096, budget, verdict_weight),
                fetches: TtlSlots::new(Duration::ZERO, 4096, budget, |s: &Served| s.bytes.len()),
                manifests: ManifestCache::new(budget),
                runtime,
                health: crate::probe::Health::default(),
            }),
        }
    }
}

/// About what a decision (or the reason there is none) holds in memory.
fn decision_weight(d: &Result<Decision, String>) -> usize {
    256 + match d {
        Ok(d) => d.reasons.iter().map(String::len).sum::<usize>() + d.digest.len(),
        Err(why) => why.len(),
    }
}

/// About what a verdict holds in memory.
fn verdict_weight(v: &Verdict) -> usize {
    256 + match v {
        Verdict::Signed { key } => key.len(),
        Verdict::NotSigned { reason } => reason.len(),
    }
}

/// Quotes a value for a log line (control characters escaped).
fn q(s: &str) -> String {
    format!("{s:?}")
}

impl State {
    fn reference(&self, upstream: usize, repo: &str, tag: Option<&str>) -> Reference {
        Reference {
            registry: self.opts.upstreams[upstream].clone(),
            repository: repo.to_owned(),
            tag: tag.map(str::to_owned),
            digest: None,
        }
    }

    /// The answer to a manifest request by tag: cached for the TTL, one
    /// upstream fetch for any number of concurrent requests.
    pub(crate) fn resolve_tag(
        &self,
        upstream: usize,
        repo: &str,
        tag: &str,
    ) -> Result<Served, Failure> {
        let key = (upstream, repo.to_owned(), tag.to_owned());
        let arrived = Instant::now();
        let (result, hit) = self.tags.get_or_fetch(&key, || {
            // A fetch of this tag that failed while this request waited for
            // it: its failure is this request's too (no second wait).
            if let Some(f) = self.stale.failed_since(&key, arrived) {
                return Err(f);
            }
            let r = self.fetch_tag(upstream, repo, tag);
            match &r {
                Ok(_) => self.stale.succeeded(&key),
                Err(f) => self.stale.failed(&key, f),
            }
            r
        });
        self.metrics.cache("tag", hit);
        let result = match result {
            Ok(s) => {
                if !hit {
                    self.stale.remember(&key, &s);
                }
                Ok(s)
            }
            Err(f) => self.stale_answer(&key, &f).ok_or(f),
        };
        if let (Mode::Reorder, Ok(s)) = (self.opts.mode, &result) {
            // The runtime follows the answer with a GET by its digest, which
            // only the mirror can answer for a reordered index: keep it by
            // digest as long as the tag hands it out, even after the
            // manifest cache evicted it.
            self.manifests
                .put(&s.digest, s.bytes.clone(), &s.media_type);
        }
        result
    }

    fn fetch_tag(&self, upstream: usize, repo: &str, tag: &str) -> Result<Served, Failure> {
        let r = self.reference(upstream, repo, Some(tag));
        let image = format!("{}/{}:{}", r.registry, r.repository, tag);
        let began = Instant::now();
        let answer = self.client.fetch_manifest_answer(&r, tag);
        self.metrics.upstream("manifest", began.elapsed());
        let fetched = match answer {
            Ok(ManifestAnswer::Manifest(f)) => f,
            Ok(ManifestAnswer::Refused(refusal)) => {
                self.metrics.error("status");
                return Err(Failure::Refused(Box::new(refusal)));
            }
            Err(e) => {
                self.metrics.error(error_kind(&e));
                eprintln!(
                    "ocipick serve: error image={} error={}",
                    q(&image),
                    q(&e.to_string())
                );
                return Err(Failure::Registry(Box::new(e)));
            }
        };
        let served = Served {
            bytes: Bytes::from(fetched.bytes),
            media_type: fetched.media_type,
            digest: fetched.digest.to_string(),
        };
        if media_type::kind(&served.media_type) != Kind::Index {
            self.metrics.outcome("not_index");
            return Ok(served);
        }
        let Some(how) = self.judge(&r, &image, &served) else {
            self.metrics.outcome("untrusted");
            return Ok(served);
        };
        Ok(self.select(&r, &image, served, 0, how))
    }

    /// What [`Options::trust`] lets the answer for the index `index` of
    /// `r`'s repository be: its signature verified (`.sig` tag, then
    /// Sigstore bundles; or its verdict taken from the cache), logged and
    /// counted; `None`: the index is answered as it is (unsigned, under
    /// `refuse` or in reorder mode). No request when no policy applies to
    /// the repository.
    fn judge(&self, r: &Reference, image: &str, index: &Served) -> Option<How> {
        let digest = index.digest.as_str();
        let Some(t) = &self.opts.trust else {
            return Some(How::Policy);
        };
        if !t.policy.applies_to(&r.registry, &r.repository) {
            return Some(How::Policy);
        }
        let key = (r.registry.clone(), r.repository.clone(), digest.to_owned());
        let (result, hit) = self.verdicts.get_or_fetch(&key, || {
            let d = match Digest::parse(digest.to_owned()) {
                Ok(d) => d,
                Err(e) => {
                    return Ok(Verdict::NotSigned {
                        reason: format!("index digest {digest}: {e}"),
                    })
                }
            };
            let out = signature::verify_within(
                &self.client,
                r,
                &d,
                Some(&index.bytes),
                &t.keys,
                &t.policy.accept_references,
                t.deadline,
            );
            self.metrics.signature_requests.inc_by(out.requests.into());
            // Cut off by the deadline: not kept, the next fetch tries again.
            if out.deadline_passed {
                Err(out.verdict)
            } else {
                Ok(out.verdict)
            }
        });
        self.metrics.cache("verdict", hit);
        let (verdict, label) = match &result {
            Ok(v @ Verdict::Signed { .. }) => (v, "signed"),
            Ok(v) => (v, "unsigned"),
            Err(v) => (v, "deadline"),
        };
        let (judged, action) = match (verdict, t.policy.on_unsigned, self.opts.mode) {
            (Verdict::Signed { .. }, _, _) => (Some(How::Policy), "honoured"),
            (_, OnUnsigned::IgnoreAnnotations, Mode::Child) => {
                (Some(How::PlatformOnly), "first_match")
            }
            _ => (None, "passed_through"),
        };
        self.metrics.trust(label, action);
        let detail = match verdict {
            Verdict::Signed { key } => format!("key={}", q(key)),
            Verdict::NotSigned { reason } => format!("reason={}", q(reason)),
        };
        eprintln!(
            "ocipick serve: trust image={} repository={} index={digest} verdict={label} {detail} action={action} cached={hit}",
            q(image),
            q(&format!("{}/{}", r.registry, r.repository)),
        );
        judged
    }

    /// Answers with the node's choice among the entries of `index` (on
    /// platform alone with [`How::PlatformOnly`]), or with `index` itself
    /// when there is none.
    fn select(
        &self,
        r: &Reference,
        image: &str,
        mut index: Served,
        depth: usize,
        how: How,
    ) -> Served {
        let key = (index.digest.clone(), how);
        let (decision, hit) = self.decisions.get_or_fetch(&key, || {
            Ok::<_, std::convert::Infallible>(match how {
                How::Policy => self.decide.decide(&index.bytes),
                How::PlatformOnly => self.decide.decide_platform_only(&index.bytes),
            })
        });
        self.metrics.cache("decision", hit);
        let d = match decision {
            Ok(Ok(d)) => d,
            Ok(Err(why)) => return self.fallback(image, index, &why),
            Err(never) => match never {},
        };
        // Read once for everything below that looks at the entries (the
        // fallback candidates, the runtime's placement and mismatch
        // warning), and only when one of them will; the bytes are shared,
        // not copied.
        let bytes = index.bytes.clone();
        let parsed = (self.runtime.is_some() || !d.fallbacks.is_empty())
            .then(|| ocipick::Index::parse(&bytes).ok())
            .flatten();
        let candidates = self.candidates(parsed.as_ref(), &d);
        let mut gone: Vec<String> = Vec::new();
        for (rank, (position, digest, media_type)) in candidates.into_iter().enumerate() {
            let d = if rank == 0 {
                d.clone()
            } else {
                let mut next = d.clone();
                next.reasons.push(format!(
                    "upstream no longer has {}: next in the ranking",
                    gone.join(", ")
                ));
                Decision {
                    position,
                    digest,
                    media_type,
                    ..next
                }
            };
            // Children whose bytes the mirror holds are checked upstream
            // (a HEAD, at most once per TTL); others are fetched, which
            // checks them too.
            let held = self.manifests.get(&d.digest).is_some();
            if (held || self.opts.mode == Mode::Reorder)
                && self.present(r, &d.digest) == Presence::Gone
            {
                self.log_gone(image, &index.digest, &d);
                gone.push(d.digest.clone());
                continue;
            }
            self.warn_platform_mismatch(image, parsed.as_ref(), &d);
            let mode = match self.opts.mode {
                // Judged by the runtime's own matcher; where no order makes
                // it take the chosen entry, the chosen child is answered
                // instead.
                Mode::Reorder if self.runtime.is_some() => {
                    match self.place_for_runtime(image, index, parsed.as_ref(), &d) {
                        Ok(answer) => return answer,
                        Err(back) => {
                            index = back;
                            Mode::Child
                        }
                    }
                }
                m => m,
            };
            return match mode {
                Mode::Child => {
                    let child = match self.manifest(r, &d.digest) {
                        Ok(c) => c,
                        Err(Failure::Refused(rf)) if rf.status == 404 => {
                            self.metrics.child_check("gone");
                            self.log_gone(image, &index.digest, &d);
                            gone.push(d.digest.clone());
                            continue;
                        }
                        Err(f) => {
                            let why = match f {
                                Failure::Refused(rf) => rf.error.to_string(),
                                Failure::Registry(e) => e.to_string(),
                            };
                            return self.fallback(
                                image,
                                index,
                                &format!("the chosen manifest could not be fetched: {why}"),
                            );
                        }
                    };
                    self.log_decision(image, &index.digest, &d, "selected");
                    if media_type::kind(&child.media_type) == Kind::Index && depth < MAX_DEPTH {
                        // A nested index is named by digest from the one
                        // judged above: chosen the same way.
                        return self.select(r, image, child, depth + 1, how);
                    }
                    self.metrics.outcome("selected");
                    child
                }
                Mode::Reorder => self.reorder(image, index, &d),
            };
        }
        self.fallback(
            image,
            index,
            &format!(
                "upstream no longer has the chosen manifest {} and no other entry fits",
                gone.join(", ")
            ),
        )
    }

    /// [`Mode::Reorder`]'s answer for the decision `d`, without a runtime
    /// platform: the chosen entry moves to [`Decision::first_fit`].
    fn reorder(&self, image: &str, index: Served, d: &Decision) -> Served {
        let Some(to) = d.first_fit.filter(|&to| to < d.position) else {
            // Already where a first-match runtime looks.
            return self.unchanged(image, index, d);
        };
        match reorder::move_entry(&index.bytes, d.position, to) {
            Ok(new) => self.reordered(image, index, d, new),
            Err(why) => self.fallback(image, index, &why),
        }
    }

    /// Answers with `index` as it is: the runtime already takes `d`.
    pub(crate) fn unchanged(&self, image: &str, index: Served, d: &Decision) -> Served {
        self.log_decision(image, &index.digest, d, "unchanged");
        self.metrics.outcome("unchanged");
        index
    }

    /// Answers with `new`, `index` reordered for `d`: kept among the
    /// manifests (and in the state directory) so that the runtime's GET by
    /// its digest finds it.
    pub(crate) fn reordered(
        &self,
        image: &str,
        index: Served,
        d: &Decision,
        new: Vec<u8>,
    ) -> Served {
        let digest = Digest::sha256_of(&new).to_string();
        let bytes = Bytes::from(new);
        self.manifests
            .put(&digest, bytes.clone(), &index.media_type);
        if let Some(disk) = &self.disk {
            disk.put(&digest, &bytes, &index.media_type, &self.metrics);
        }
        self.log_decision(image, &index.digest, d, "reordered");
        self.metrics.outcome("reordered");
        Served {
            bytes,
            media_type: index.media_type,
            digest,
        }
    }

    pub(crate) fn fallback(&self, image: &str, index: Served, why: &str) -> Served {
        self.metrics.outcome("fallback");
        eprintln!(
            "ocipick serve: fallback image={} index={} reason={} (the index is passed through unchanged)",
            q(image),
            index.digest,
            q(why)
        );
        index
    }

    pub(crate) fn log_decision(&self, image: &str, index: &str, d: &Decision, answer: &str) {
        eprintln!(
            "ocipick serve: {answer} image={} index={index} chosen={} position={} score={} reasons={}",
            q(image),
            d.digest,
            d.position,
            d.score,
            q(&d.reasons.join("; "))
        );
    }

    /// A manifest by digest: from the cache, else fetched (verified against
    /// the digest) and cached.
    fn manifest(&self, r: &Reference, digest: &str) -> Result<Served, Failure> {
        if let Some(s) = self.cached_manifest(digest) {
            return Ok(s);
        }
        // Tags whose indexes name the same child, asked for at the same
        // time, wait for one fetch of it.
        let key = digest.to_owned();
        self.fetches
            .get_or_fetch(&key, || match self.manifests.get(digest) {
                Some((bytes, media_type)) => Ok(Served {
                    bytes,
                    media_type,
                    digest: key.clone(),
                }),
                None => self.fetch_manifest(r, digest),
            })
            .0
    }

    /// A manifest by digest from upstream (verified against the digest),
    /// cached.
    fn fetch_manifest(&self, r: &Reference, digest: &str) -> Result<Served, Failure> {
        let began = Instant::now();
        let answer = self.client.fetch_manifest_answer(r, digest);
        self.metrics.upstream("manifest", began.elapsed());
        match answer {
            Ok(ManifestAnswer::Manifest(f)) => {
                let s = Served {
                    bytes: Bytes::from(f.bytes),
                    media_type: f.media_type,
                    digest: f.digest.to_string(),
                };
                self.manifests
                    .put(&s.digest, s.bytes.clone(), &s.media_type);
                Ok(s)
            }
            Ok(ManifestAnswer::Refused(rf)) => {
                self.metrics.error("status");
                Err(Failure::Refused(Box::new(rf)))
            }
            Err(e) => {
                self.metrics.error(error_kind(&e));
                Err(Failure::Registry(Box::new(e)))
            }
        }
    }

    /// A manifest by digest from the cache only.
    pub(crate) fn cached_manifest(&self, digest: &str) -> Option<Served> {
        let found = self
            .manifests
            .get(digest)
            .or_else(|| self.disk.as_ref()?.get(digest));
        self.metrics.cache("manifest", found.is_some());
        found.map(|(bytes, media_type)| Served {
            bytes,
            media_type,
            digest: digest.to_owned(),
        })
    }
}
