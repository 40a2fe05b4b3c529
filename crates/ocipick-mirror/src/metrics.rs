//! The mirror's counters, served at `/metrics` in the Prometheus text
//! format (version 0.0.4).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of `ocipick_mirror_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `manifest_tag`, `manifest_digest`, `blob`, `other`, `base`,
    /// `metrics`, `probe` (`/healthz`, `/readyz`), `unknown`.
    pub kind: &'static str,
    /// `GET`, `HEAD`, or `other`.
    pub method: &'static str,
    /// The status answered.
    pub code: u16,
}

/// Labels of `ocipick_mirror_selections_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `selected` (the node's manifest answered), `reordered` (a new
    /// index answered), `unchanged` (reorder mode, the choice already
    /// first), `fallback` (the upstream index passed through because
    /// selection failed), `not_index` (the tag names a single manifest),
    /// `untrusted` (the upstream index passed through because it has no
    /// valid signature: `refuse`, or reorder mode).
    pub outcome: &'static str,
}

/// Labels of `ocipick_mirror_cache_lookups_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `tag` (tag → answer, for the TTL), `decision` (index digest →
    /// choice, for the TTL), `manifest` (digest → bytes), `child_check`
    /// (repository and child digest → still upstream, for the TTL) or
    /// `verdict` (registry, repository and index digest → signed or not,
    /// for the TTL).
    pub cache: &'static str,
    /// `hit` or `miss`.
    pub result: &'static str,
}

/// Labels of the upstream metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    /// `manifest`, `blob` or `other`.
    pub kind: &'static str,
}

/// Labels of `ocipick_mirror_upstream_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// `transport` (unreachable, timed out), `status` (an HTTP error
    /// answer), `invalid` (a body that broke a rule or a limit), `auth`.
    pub kind: &'static str,
}

/// Labels of `ocipick_mirror_reorder_fallbacks_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReorderFallbackLabels {
    /// Why no order made the runtime take the chosen entry
    /// ([`crate::runtime::Unplaceable::label`]): `runtime_drops_variant`,
    /// `runtime_rejects_platform`, `runtime_prefers_closer`,
    /// `runtime_skips_entry`.
    pub reason: &'static str,
}

/// Labels of `ocipick_mirror_platform_mismatch_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MismatchLabels {
    /// What differs between the chosen entry's declared platform and the
    /// runtime's matching platform: `os`, `architecture` or `variant`.
    pub difference: &'static str,
    /// `child` or `reorder`: the mode that answered.
    pub mode: &'static str,
}

/// Labels of `ocipick_mirror_stale_answers_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StaleLabels {
    /// Why upstream could not answer: `unreachable`, `timeout` (its own
    /// timeouts, or the tag deadline), `5xx`, `429`.
    pub reason: &'static str,
}

/// Labels of `ocipick_mirror_child_checks_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    /// `present`, `gone` (a HEAD or GET answered 404), `error`.
    pub result: &'static str,
}

/// Labels of `ocipick_mirror_state_files_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// `loaded` (verified at start), `dropped` (failed verification at
    /// start, deleted), `written`, `write_failed`, `evicted`.
    pub event: &'static str,
}

/// Labels of `ocipick_mirror_trust_verdicts_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TrustLabels {
    /// `signed`, `unsigned` (no valid signature) or `deadline` (the
    /// signature reads passed the deadline: treated as unsigned).
    pub verdict: &'static str,
    /// What the tag was answered with: `honoured` (the node's choice),
    /// `first_match` (child mode, platform alone), `passed_through` (the
    /// upstream index unchanged: `refuse`, or reorder mode).
    pub action: &'static str,
}

type Hist = Family<UpstreamLabels, Histogram, fn() -> Histogram>;

/// Every metric of the mirror.
pub struct Metrics {
    registry: Registry,
    /// Requests answered.
    pub requests: Family<RequestLabels, Counter>,
    /// Tag requests answered from an index, by outcome.
    pub selections: Family<OutcomeLabels, Counter>,
    /// Cache lookups.
    pub cache: Family<CacheLabels, Counter>,
    /// Requests sent upstream.
    pub upstream_requests: Family<UpstreamLabels, Counter>,
    /// Time to the upstream's answer (headers; for manifests, the body).
    pub upstream_latency: Hist,
    /// Upstream failures.
    pub upstream_errors: Family<ErrorLabels, Counter>,
    /// Reorder-mode answers given as the chosen child instead, by reason.
    pub reorder_fallbacks: Family<ReorderFallbackLabels, Counter>,
    /// Chosen entries whose declared platform differs from the runtime's
    /// matching platform.
    pub platform_mismatch: Family<MismatchLabels, Counter>,
    /// Tags answered with their last good answer because upstream failed.
    pub stale_answers: Family<StaleLabels, Counter>,
    /// Checks that upstream still has a chosen child.
    pub child_checks: Family<CheckLabels, Counter>,
    /// Files of the state directory.
    pub state_files: Family<StateLabels, Counter>,
    /// Tag answers fetched from a repository under the trust policy, by
    /// verdict and action.
    pub trust_verdicts: Family<TrustLabels, Counter>,
    /// Requests sent to read signatures.
    pub signature_requests: Counter,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ocipick_mirror");
        let requests = Family::<RequestLabels, Counter>::default();
        let selections = Family::<OutcomeLabels, Counter>::default();
        let cache = Family::<CacheLabels, Counter>::default();
        let upstream_requests = Family::<UpstreamLabels, Counter>::default();
        let upstream_latency: Hist = Family::new_with_constructor(latency_histogram);
        let upstream_errors = Family::<ErrorLabels, Counter>::default();
        let stale_answers = Family::<StaleLabels, Counter>::default();
        let child_checks = Family::<CheckLabels, Counter>::default();
        let state_files = Family::<StateLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by resource kind, method and status",
            requests.clone(),
        );
        registry.register(
            "selections",
            "Tag answers fetched from upstream (cache misses), by outcome: selected, reordered, unchanged, fallback, not_index, untrusted",
            selections.clone(),
        );
        registry.register(
            "cache_lookups",
            "Cache lookups by cache and result",
            cache.clone(),
        );
        registry.register(
            "upstream_requests",
            "Requests sent to upstream registries (token requests and retries not counted)",
            upstream_requests.clone(),
        );
        registry.register(
            "upstream_latency_seconds",
            "Time until the upstream's answer",
            upstream_latency.clone(),
        );
        registry.register(
            "upstream_errors",
            "Upstream failures by kind",
            upstream_errors.clone(),
        );
        let reorder_fallbacks = Family::<ReorderFallbackLabels, Counter>::default();
        let platform_mismatch = Family::<MismatchLabels, Counter>::default();
        registry.register(
            "reorder_fallbacks",
            "Reorder-mode tag answers given as the chosen child (as in child mode) because no order of the index makes the runtime take it, by reason",
            reorder_fallbacks.clone(),
        );
        registry.register(
            "platform_mismatch",
            "Tag answers whose chosen entry declares a platform other than the runtime's matching platform, by difference and mode",
            platform_mismatch.clone(),
        );
        registry.register(
            "stale_answers",
            "Tag requests answered with the tag's last good answer because upstream failed (--stale-for), by reason",
            stale_answers.clone(),
        );
        registry.register(
            "child_checks",
            "Checks that upstream still has a chosen child (HEAD once per TTL; GETs answered 404 count as gone), by result",
            child_checks.clone(),
        );
        registry.register(
            "state_files",
            "Reordered indexes in the state directory (--state-dir), by event",
            state_files.clone(),
        );
        let trust_verdicts = Family::<TrustLabels, Counter>::default();
        let signature_requests = Counter::default();
        registry.register(
            "trust_verdicts",
            "Tag answers fetched from upstream for repositories under the trust policy, by the index's verdict (signed, unsigned, deadline) and the action taken (honoured, first_match, passed_through)",
            trust_verdicts.clone(),
        );
        registry.register(
            "signature_requests",
            "Requests sent to read signatures (sha256-<hex>.sig manifests, payload blobs, token requests, retries); none for verdicts found in the cache",
            signature_requests.clone(),
        );
        Metrics {
            trust_verdicts,
            signature_requests,
            registry,
            stale_answers,
            child_checks,
            state_files,
            requests,
            selections,
            cache,
            upstream_requests,
            upstream_latency,
            upstream_errors,
            reorder_fallbacks,
            platform_mismatch,
        }
    }
}

impl Metrics {
    /// Counts one upstream request of `kind` that took `took`.
    pub fn upstream(&self, kind: &'static str, took: Duration) {
        let l = UpstreamLabels { kind };
        self.upstream_requests.get_or_create(&l).inc();
        self.upstream_latency
            .get_or_create(&l)
            .observe(took.as_secs_f64());
    }

    /// Counts a cache lookup.
    pub fn cache(&self, cache: &'static str, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache
            .get_or_create(&CacheLabels { cache, result })
            .inc();
    }

    /// Counts an outcome of a tag request.
    pub fn outcome(&self, outcome: &'static str) {
        self.selections
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts an upstream failure.
    pub fn error(&self, kind: &'static str) {
        self.upstream_errors
            .get_or_create(&ErrorLabels { kind })
            .inc();
    }

    /// Counts a stale answer.
    pub fn stale(&self, reason: &'static str) {
        self.stale_answers
            .get_or_create(&StaleLabels { reason })
            .inc();
    }

    /// Counts a check of a chosen child.
    pub fn child_check(&self, result: &'static str) {
        self.child_checks
            .get_or_create(&CheckLabels { result })
            .inc();
    }

    /// Counts a tag answer under the trust policy.
    pub fn trust(&self, verdict: &'static str, action: &'static str) {
        self.trust_verdicts
            .get_or_create(&TrustLabels { verdict, action })
            .inc();
    }

    /// Counts an event of the state directory.
    pub fn state(&self, event: &'static str) {
        self.state_files.get_or_create(&StateLabels { event }).inc();
    }

    /// Counts the files loaded from the state directory at start.
    pub fn state_loaded(&self, n: usize) {
        self.state_files
            .get_or_create(&StateLabels { event: "loaded" })
            .inc_by(n as u64);
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// The `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
