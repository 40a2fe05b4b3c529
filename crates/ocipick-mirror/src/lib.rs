//! A node-local pull-through registry mirror that makes unmodified
//! container runtimes honour ocipick's selection.
//!
//! containerd, CRI-O, Podman and Docker take the first index entry that
//! fits their platform. Pointed at this mirror (containerd's `hosts.toml`,
//! `registries.conf`, Docker's `registry-mirrors`), they get instead the
//! manifest that the node's policy selects: a manifest request **by tag**
//! whose upstream answer is an index is answered with the selected child
//! manifest, byte for byte as the upstream serves it (so its digest and
//! signatures stay valid), or, in [`Mode::Reorder`], with a new index whose
//! chosen entry comes first. Everything else — manifests by digest, blobs,
//! tag lists, referrers — passes through unchanged and streamed.
//!
//! The policy is not this crate's business: the caller supplies a
//! [`Decide`] implementation (the `ocipick serve` command builds one from
//! its flags, configuration, node facts and hooks).
//!
//! ```no_run
//! use std::sync::Arc;
//! use ocipick_mirror::{Decide, Decision, Mirror, Options};
//! use ocipick_registry::{Client, ClientOptions};
//!
//! /// Always the last entry (a real policy ranks them).
//! struct Last;
//! impl Decide for Last {
//!     fn decide(&self, index: &[u8]) -> Result<Decision, String> {
//!         let idx = ocipick::Index::parse(index).map_err(|e| e.to_string())?;
//!         let position = idx.manifests.len().checked_sub(1).ok_or("empty index")?;
//!         let d = &idx.manifests[position];
//!         Ok(Decision {
//!             position,
//!             digest: d.digest.to_string(),
//!             media_type: d.media_type.to_string(),
//!             score: 0,
//!             reasons: vec!["last entry".into()],
//!             first_fit: Some(0),
//!             // Taken in this order when upstream no longer has the chosen one.
//!             fallbacks: (0..position).rev().collect(),
//!         })
//!     }
//! }
//!
//! let client = Client::new(ClientOptions::default())?;
//! let mirror = Mirror::new(
//!     Options::new(vec!["registry.example:5000".into()]),
//!     Arc::new(client),
//!     Arc::new(Last),
//! );
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! mirror.run(listener, None)?; // serves until SIGINT or SIGTERM
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod cache;
mod liveness;
pub mod metrics;
mod mirror;
mod placement;
mod probe;
pub mod reorder;
pub mod route;
pub mod runtime;
mod server;
mod stale;
pub mod state;

use std::time::Duration;

pub use mirror::Mirror;
pub use state::StateOptions;

/// What a tag request whose upstream answer is an index is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The selected child manifest, byte for byte.
    #[default]
    Child,
    /// A new index with the selected entry moved to the front of the
    /// entries the runtime would consider (see [`Decision::first_fit`]).
    Reorder,
}

/// The mirror's settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Upstream registries (`host[:port]`, `docker.io`); the first one
    /// answers requests that name no other (see [`route::pick_upstream`]).
    pub upstreams: Vec<String>,
    /// How tag requests for indexes are answered.
    pub mode: Mode,
    /// How long an answer to a tag request (and a decision per index
    /// digest) is reused; zero caches nothing.
    pub ttl: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Bytes of manifests kept by digest (selected children, reordered
    /// indexes); the tag and decision caches each have the same budget.
    pub manifest_cache_bytes: usize,
    /// Log one line per request (method, path, status, length, time to
    /// the answer's headers).
    pub log_requests: bool,
    /// How long a client may take to send a request's headers, or stall
    /// while a streamed body waits for it to read.
    pub client_timeout: Duration,
    /// Bytes of an upstream body read ahead of a slow client, per
    /// streamed response.
    pub stream_buffer: usize,
    /// The platform the node's runtime matches index entries with
    /// ([`runtime::matching_platform`]). With it, [`Mode::Reorder`] places
    /// the chosen entry where that runtime's matcher takes it, answers the
    /// chosen child where no order can (counted in
    /// `ocipick_mirror_reorder_fallbacks_total`), and a chosen entry that
    /// declares another platform is logged and counted
    /// (`ocipick_mirror_platform_mismatch_total`), in both modes. Without
    /// it, reorder mode moves the entry to [`Decision::first_fit`].
    pub runtime_platform: Option<ocipick::Platform<'static>>,
    /// After SIGINT or SIGTERM, how long requests in progress may take to
    /// finish (new connections are refused, `/readyz` answers 503 on the
    /// metrics listener) before the mirror stops anyway.
    pub drain_timeout: Duration,
    /// How long past its TTL a tag's last good answer may still answer
    /// the tag while upstream fails (unreachable, timed out, `5xx`, `429`;
    /// never `401`/`403`/`404`, which are answers); zero never answers
    /// stale.
    pub stale_for: Duration,
    /// The longest a manifest request by tag waits for upstream before it
    /// is answered anyway: stale (see `stale_for`) or `504`. Zero waits as
    /// long as the client's timeouts let it.
    pub tag_deadline: Duration,
    /// Where reordered indexes are kept across restarts; `None` keeps them
    /// in memory only.
    pub state: Option<StateOptions>,
    /// Signature-aware selection: indexes of the repositories the policy
    /// names must carry a valid cosign signature before their annotations
    /// steer the answer. `None`: no signature is ever read.
    pub trust: Option<TrustOptions>,
}

/// The mirror's trust policy, with its keys read.
///
/// For each index fetched by tag from a repository the policy applies to
/// ([`ocipick::trust::Trust::applies_to`]), the mirror verifies the
/// signature of that index digest (`sha256-<hex>.sig`,
/// [`ocipick_registry::signature::verify_within`]) before it decides:
///
/// - signed: answered as without a policy;
/// - not signed, `ignore-annotations`: in [`Mode::Child`] the entry chosen
///   on platform alone ([`Decide::decide_platform_only`], the first-match
///   rule) is answered; in [`Mode::Reorder`] the index is passed through
///   as upstream serves it, so the runtime's own first match applies;
/// - not signed, `refuse`: the index is passed through as upstream serves
///   it, in both modes.
///
/// Verdicts are kept per registry, repository and index digest for the
/// TTL ([`Options::ttl`]); one cut off by [`TrustOptions::deadline`] is
/// not kept, so the next fetch tries again. Each verification's requests
/// are counted in `ocipick_mirror_signature_requests_total`, each judged
/// tag in `ocipick_mirror_trust_verdicts_total`.
///
/// ```
/// use std::time::Duration;
/// use ocipick::trust::{OnUnsigned, Trust};
/// use ocipick_mirror::{Options, TrustOptions};
///
/// let mut opts = Options::new(vec!["registry.example.com".into()]);
/// opts.trust = Some(TrustOptions {
///     policy: Trust {
///         keys: vec!["/etc/ocipick/cosign.pub".into()],
///         repositories: vec!["registry.example.com/team/*".into()],
///         on_unsigned: OnUnsigned::IgnoreAnnotations,
///         accept_references: vec![],
///         signature_deadline: None,
///     },
///     // Each key read with `TrustKey::from_pem`.
///     keys: vec![],
///     deadline: ocipick::trust::DEFAULT_SIGNATURE_DEADLINE,
/// });
/// let t = opts.trust.as_ref().unwrap();
/// assert!(t.policy.applies_to("registry.example.com", "team/app"));
/// // No signature request for a repository outside the policy.
/// assert!(!t.policy.applies_to("registry.example.com", "other/app"));
/// assert_eq!(t.deadline, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
pub struct TrustOptions {
    /// Which repositories, and the outcome without a valid signature.
    pub policy: ocipick::trust::Trust,
    /// The keys any one of which may sign.
    pub keys: Vec<ocipick_registry::signature::TrustKey>,
    /// The longest all signature reads of one index may take; past it
    /// the index counts as unsigned. Zero: no deadline.
    pub deadline: Duration,
}

impl Options {
    /// Defaults for `upstreams`: child mode, 30 s TTL, 512 connections,
    /// 64 MiB of cached manifests, 30 s client timeout, 256 KiB read-ahead,
    /// no runtime platform, 10 s drain, stale answers up to 5 minutes past
    /// the TTL, a 10 s tag deadline, no state directory, no trust policy.
    pub fn new(upstreams: Vec<String>) -> Self {
        Options {
            upstreams,
            mode: Mode::Child,
            ttl: Duration::from_secs(30),
            max_connections: 512,
            manifest_cache_bytes: 64 << 20,
            log_requests: false,
            client_timeout: Duration::from_secs(30),
            stream_buffer: 256 << 10,
            runtime_platform: None,
            drain_timeout: Duration::from_secs(10),
            stale_for: Duration::from_secs(300),
            tag_deadline: Duration::from_secs(10),
            state: None,
            trust: None,
        }
    }
}

/// The node's choice among the entries of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Position of the chosen entry in `manifests`.
    pub position: usize,
    /// Its digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its score (sum of satisfied preference weights).
    pub score: i64,
    /// Why it was chosen, for the log.
    pub reasons: Vec<String>,
    /// The position a runtime that takes the first entry fitting its
    /// platform would take; [`Mode::Reorder`] moves the chosen entry there.
    pub first_fit: Option<usize>,
    /// Positions of the other entries the node would take, best first:
    /// when upstream no longer has the chosen manifest, the mirror answers
    /// with the first of these it still has (and passes the index through
    /// when none is left). Empty when no other entry fits.
    pub fallbacks: Vec<usize>,
}

/// The node's selection policy. Called from blocking threads, once per
/// index digest and TTL.
pub trait Decide: Send + Sync + 'static {
    /// Chooses an entry of the index `index` (the raw bytes as upstream
    /// served them), or says why none can be chosen — the mirror then
    /// passes the index through unchanged.
    fn decide(&self, index: &[u8]) -> Result<Decision, String>;

    /// Chooses an entry of `index` on platform alone: the first-match
    /// rule, no annotation, preference, rule or hook consulted. Used in
    /// [`Mode::Child`] for an index without a valid signature under a
    /// [`TrustOptions`] policy with `ignore-annotations`. The default has
    /// no platform to match, so it declines, and such an index is passed
    /// through unchanged (the runtime's own first match).
    fn decide_platform_only(&self, index: &[u8]) -> Result<Decision, String> {
        let _ = index;
        Err("no platform-only selection configured".into())
    }
}
