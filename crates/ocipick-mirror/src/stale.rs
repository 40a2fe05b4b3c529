//! Serve-stale-on-error: the last good answer of each tag, kept so that a
//! tag can still be answered for a bounded time ([`crate::Options::stale_for`])
//! when its upstream fails — unreachable, timed out, `5xx` or `429`.
//!
//! Refusals that are answers (`401`, `403`, `404`: the tag is not there,
//! or not for this client) are passed on, never covered with an old
//! answer; nor are answers that break a rule (a digest that disagrees, a
//! body over the limit): those say something about what upstream serves,
//! not that it cannot serve.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ocipick_registry::RegistryError;

use crate::cache::lock;
use crate::mirror::{Failure, Served, State};

/// (upstream, repository, tag).
pub(crate) type TagKey = (usize, String, String);

/// Why upstream's answer counts as a failure worth a stale answer (the
/// `reason` label of `ocipick_mirror_stale_answers_total`), or `None`
/// when it is an answer to pass on.
pub(crate) fn reason(f: &Failure) -> Option<&'static str> {
    let status = |s: u16| match s {
        429 => Some("429"),
        500..=599 => Some("5xx"),
        _ => None,
    };
    match f {
        Failure::Refused(rf) => status(rf.status),
        Failure::Registry(e) => match e.as_ref() {
            RegistryError::Transport {
                timed_out: true, ..
            } => Some("timeout"),
            RegistryError::Transport { .. } => Some("unreachable"),
            RegistryError::Status { status: s, .. } => status(*s),
            RegistryError::Invalid { .. } | RegistryError::Auth(_) | RegistryError::Setup(_) => {
                None
            }
        },
    }
}

struct Entry {
    served: Served,
    at: Instant,
}

#[derive(Default)]
struct Inner {
    map: HashMap<TagKey, Entry>,
    /// Keys in the order they were last stored (oldest first; a key may
    /// appear more than once, only its last place counts).
    order: VecDeque<(TagKey, Instant)>,
    bytes: usize,
}

/// The last good answer per tag, bounded in entries and bytes (oldest
/// dropped first); and the last failure per tag, so that requests that
/// waited for a fetch that failed share its failure instead of each
/// trying upstream again, one after the other.
pub(crate) struct StaleStore {
    failures: Mutex<HashMap<TagKey, (Instant, Failure)>>,
    /// How long after a good answer it may still answer: the tag TTL plus
    /// `--stale-for`. Zero keeps nothing.
    window: Duration,
    max_entries: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

fn weight(s: &Served) -> usize {
    s.bytes.len() + s.digest.len() + s.media_type.len() + 128
}

impl StaleStore {
    pub(crate) fn new(
        ttl: Duration,
        stale_for: Duration,
        max_entries: usize,
        max_bytes: usize,
    ) -> Self {
        StaleStore {
            window: if stale_for.is_zero() {
                Duration::ZERO
            } else {
                ttl + stale_for
            },
            max_entries,
            max_bytes,
            inner: Mutex::new(Inner::default()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that a fetch of `key` failed with `f` (stale-worthy failures
    /// only: a refusal is an answer, which the next request asks again).
    pub(crate) fn failed(&self, key: &TagKey, f: &Failure) {
        if reason(f).is_none() {
            return;
        }
        let mut g = lock(&self.failures);
        if g.len() >= self.max_entries.max(1) && !g.contains_key(key) {
            g.clear();
        }
        g.insert(key.clone(), (Instant::now(), f.clone()));
    }

    /// The failure of a fetch of `key` that ended after `since`, if any.
    pub(crate) fn failed_since(&self, key: &TagKey, since: Instant) -> Option<Failure> {
        let g = lock(&self.failures);
        g.get(key)
            .filter(|(at, _)| *at > since)
            .map(|(_, f)| f.clone())
    }

    /// Forgets the failure of `key` (it was just fetched).
    pub(crate) fn succeeded(&self, key: &TagKey) {
        let mut g = lock(&self.failures);
        if !g.is_empty() {
            g.remove(key);
        }
    }

    /// Keeps `served` as the last good answer of `key`, fetched now.
    pub(crate) fn remember(&self, key: &TagKey, served: &Served) {
        if self.window.is_zero() || weight(served) > self.max_bytes {
            return;
        }
        let now = Instant::now();
        let mut g = lock(&self.inner);
        let inner = &mut *g;
        let new = Entry {
            served: served.clone(),
            at: now,
        };
        inner.bytes += weight(served);
        if let Some(old) = inner.map.insert(key.clone(), new) {
            inner.bytes -= weight(&old.served);
        }
        inner.order.push_back((key.clone(), now));
        while inner.map.len() > self.max_entries
            || inner.bytes > self.max_bytes
            || inner.order.len() > 2 * self.max_entries.max(1)
        {
            let Some((k, at)) = inner.order.pop_front() else {
                break;
            };
            // Only the key's last place removes it.
            if inner.map.get(&k).is_some_and(|e| e.at == at) {
                if let Some(e) = inner.map.remove(&k) {
                    inner.bytes -= weight(&e.served);
                }
            }
        }
    }

    /// The last good answer of `key` and its age, if it is still within
    /// the window.
    pub(crate) fn get(&self, key: &TagKey) -> Option<(Served, Duration)> {
        let g = lock(&self.inner);
        let e = g.map.get(key)?;
        let age = e.at.elapsed();
        (age < self.window).then(|| (e.served.clone(), age))
    }
}

impl State {
    /// The last good answer of `key` when `f` is a failure worth one and
    /// the answer is recent enough; logged and counted.
    pub(crate) fn stale_answer(&self, key: &TagKey, f: &Failure) -> Option<Served> {
        let why = match f {
            Failure::Refused(rf) => rf.error.to_string(),
            Failure::Registry(e) => e.to_string(),
        };
        self.stale_for_reason(key, reason(f)?, &why)
    }

    /// The last good answer of `key`, if recent enough, because upstream
    /// failed for `reason` (`why`); logged and counted.
    pub(crate) fn stale_for_reason(
        &self,
        key: &TagKey,
        reason: &'static str,
        why: &str,
    ) -> Option<Served> {
        let (served, age) = self.stale.get(key)?;
        self.metrics.stale(reason);
        eprintln!(
            "ocipick serve: stale image={:?} answer={} age_s={} reason={reason} error={why:?}",
            format!("{}/{}:{}", self.opts.upstreams[key.0], key.1, key.2),
            served.digest,
            age.as_secs()
        );
        Some(served)
    }
}

/// Waits for `job`, the answer to the tag `key`, at most
/// [`crate::Options::tag_deadline`]: past it the tag is answered with its
/// last good answer if it has a recent one, else `504` (the job goes on,
/// and its answer fills the caches for the next request).
pub(crate) async fn within_deadline(
    state: &Arc<State>,
    key: &TagKey,
    job: tokio::task::JoinHandle<Result<Served, Failure>>,
) -> Result<Result<Served, Failure>, tokio::task::JoinError> {
    let deadline = state.opts.tag_deadline;
    if deadline.is_zero() {
        return job.await;
    }
    match tokio::time::timeout(deadline, job).await {
        Ok(r) => r,
        Err(_) => {
            let why = format!(
                "no answer within {} s (--tag-deadline)",
                deadline.as_secs_f64()
            );
            state.metrics.error("transport");
            eprintln!(
                "ocipick serve: error image={:?} error={why:?}",
                format!("{}/{}:{}", state.opts.upstreams[key.0], key.1, key.2)
            );
            Ok(state.stale_for_reason(key, "timeout", &why).ok_or_else(|| {
                Failure::Registry(Box::new(RegistryError::Transport {
                    registry: state.opts.upstreams[key.0].clone(),
                    repository: key.1.clone(),
                    detail: format!("manifest {}: {why}", key.2),
                    timed_out: true,
                }))
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn served(n: usize) -> Served {
        Served {
            bytes: Bytes::from(vec![b'x'; n]),
            media_type: "t".into(),
            digest: format!("sha256:{n}"),
        }
    }

    fn key(t: &str) -> TagKey {
        (0, "r".into(), t.into())
    }

    #[test]
    fn answers_within_the_window_only() {
        let s = StaleStore::new(Duration::ZERO, Duration::from_millis(150), 8, 1 << 20);
        s.remember(&key("a"), &served(1));
        assert!(s.get(&key("a")).is_some());
        assert!(s.get(&key("b")).is_none());
        std::thread::sleep(Duration::from_millis(200));
        assert!(s.get(&key("a")).is_none());
    }

    #[test]
    fn zero_keeps_nothing() {
        let s = StaleStore::new(Duration::from_secs(30), Duration::ZERO, 8, 1 << 20);
        s.remember(&key("a"), &served(1));
        assert!(s.get(&key("a")).is_none());
    }

    #[test]
    fn stays_bounded_in_entries_and_bytes() {
        let s = StaleStore::new(Duration::ZERO, Duration::from_secs(60), 4, 1 << 20);
        for i in 0..100 {
            s.remember(&key(&i.to_string()), &served(1));
            s.remember(&key("hot"), &served(1));
        }
        let g = lock(&s.inner);
        assert!(g.map.len() <= 4 && g.order.len() <= 8, "{}", g.map.len());
        assert!(g.map.contains_key(&key("hot")));
        drop(g);
        let b = StaleStore::new(Duration::ZERO, Duration::from_secs(60), 100, 1000);
        for i in 0..100 {
            b.remember(&key(&i.to_string()), &served(300));
        }
        let g = lock(&b.inner);
        assert!(
            g.bytes <= 1000 && g.map.len() == 2,
            "{} {}",
            g.bytes,
            g.map.len()
        );
    }
}
