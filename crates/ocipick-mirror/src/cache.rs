//! The mirror's caches: answers to tag requests for a TTL (one upstream
//! fetch per tag however many clients ask at once), decisions per index
//! digest for the TTL, and manifests by digest (content-addressed, so they
//! never go stale; bounded in bytes).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Locks a mutex; a panic while it was held leaves plain data behind.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A value with the time it was fetched.
#[derive(Debug, Clone)]
pub(crate) struct Timed<V> {
    pub(crate) at: Instant,
    pub(crate) value: V,
}

/// One key's value, held while it is fetched.
type Slot<V> = Arc<Mutex<Option<Timed<V>>>>;

/// Values valid for a TTL from the moment their fetch began, with one slot
/// per key: a caller holds the slot while it fetches, so concurrent callers
/// of the same key wait for that one fetch instead of starting their own.
/// Bounded in slots and in bytes (as `weigh` counts them): past either
/// bound, expired slots go first, then idle ones.
pub(crate) struct TtlSlots<K, V> {
    ttl: Duration,
    slots: Mutex<HashMap<K, Slot<V>>>,
    max_slots: usize,
    max_bytes: usize,
    bytes: AtomicUsize,
    weigh: fn(&V) -> usize,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlSlots<K, V> {
    pub(crate) fn new(
        ttl: Duration,
        max_slots: usize,
        max_bytes: usize,
        weigh: fn(&V) -> usize,
    ) -> Self {
        TtlSlots {
            ttl,
            slots: Mutex::new(HashMap::new()),
            max_slots,
            max_bytes,
            bytes: AtomicUsize::new(0),
            weigh,
        }
    }

    fn over(&self, slots: usize) -> bool {
        slots >= self.max_slots || self.bytes.load(Ordering::Relaxed) > self.max_bytes
    }

    /// Drops slots nobody holds: expired ones, then, while still over a
    /// bound, fresh ones too.
    fn trim(&self, slots: &mut HashMap<K, Slot<V>>) {
        for keep_fresh in [true, false] {
            let ttl = self.ttl;
            slots.retain(|_, s| {
                // Only this map holds it, so nobody can be fetching into it.
                if Arc::strong_count(s) > 1 {
                    return true;
                }
                let Ok(g) = s.try_lock() else {
                    return true;
                };
                let fresh = g.as_ref().is_some_and(|t| t.at.elapsed() < ttl);
                if keep_fresh && fresh {
                    return true;
                }
                if let Some(t) = g.as_ref() {
                    self.bytes
                        .fetch_sub((self.weigh)(&t.value), Ordering::Relaxed);
                }
                false
            });
            if !self.over(slots.len()) {
                return;
            }
        }
    }

    /// The value of `key` if it is younger than the TTL; otherwise
    /// `fetch()`'s, stored unless it failed. Returns whether it was a hit.
    /// A TTL of zero caches nothing (but still joins concurrent callers'
    /// fetches one after the other).
    pub(crate) fn get_or_fetch<E>(
        &self,
        key: &K,
        fetch: impl FnOnce() -> Result<V, E>,
    ) -> (Result<V, E>, bool) {
        let slot = {
            let mut slots = lock(&self.slots);
            if self.over(slots.len()) && !slots.contains_key(key) {
                self.trim(&mut slots);
            }
            slots.entry(key.clone()).or_default().clone()
        };
        let mut guard = lock(&slot);
        if let Some(t) = guard.as_ref() {
            if t.at.elapsed() < self.ttl {
                return (Ok(t.value.clone()), true);
            }
        }
        let began = Instant::now();
        let result = fetch();
        if let Ok(v) = &result {
            if !self.ttl.is_zero() {
                let old = guard.replace(Timed {
                    at: began,
                    value: v.clone(),
                });
                self.bytes.fetch_add((self.weigh)(v), Ordering::Relaxed);
                if let Some(o) = old {
                    self.bytes
                        .fetch_sub((self.weigh)(&o.value), Ordering::Relaxed);
                }
            }
        }
        (result, false)
    }

    /// Bytes held, as `weigh` counts them.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Manifests by digest, verified when stored, evicted oldest first past a
/// byte budget.
pub(crate) struct ManifestCache {
    inner: Mutex<ManifestInner>,
    budget: usize,
}

#[derive(Default)]
struct ManifestInner {
    map: HashMap<String, (Bytes, String)>,
    order: VecDeque<String>,
    bytes: usize,
}

impl ManifestCache {
    pub(crate) fn new(budget: usize) -> Self {
        ManifestCache {
            inner: Mutex::new(ManifestInner::default()),
            budget,
        }
    }

    /// The bytes and media type of `digest`, if cached.
    pub(crate) fn get(&self, digest: &str) -> Option<(Bytes, String)> {
        lock(&self.inner).map.get(digest).cloned()
    }

    /// Stores a manifest whose digest the caller verified.
    pub(crate) fn put(&self, digest: &str, bytes: Bytes, media_type: &str) {
        if bytes.len() > self.budget {
            return;
        }
        let mut g = lock(&self.inner);
        if g.map.contains_key(digest) {
            return;
        }
        g.bytes += bytes.len();
        g.map
            .insert(digest.to_owned(), (bytes, media_type.to_owned()));
        g.order.push_back(digest.to_owned());
        while g.bytes > self.budget {
            let Some(old) = g.order.pop_front() else {
                break;
            };
            if let Some((b, _)) = g.map.remove(&old) {
                g.bytes -= b.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_values_are_served_and_stale_ones_fetched_again() {
        let c: TtlSlots<&str, u32> = TtlSlots::new(Duration::from_millis(200), 8, 1 << 20, |_| 1);
        let fetches = AtomicUsize::new(0);
        let f = || -> Result<u32, ()> { Ok(fetches.fetch_add(1, Ordering::SeqCst) as u32) };
        assert_eq!(c.get_or_fetch(&"a", f), (Ok(0), false));
        assert_eq!(c.get_or_fetch(&"a", f), (Ok(0), true));
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(c.get_or_fetch(&"a", f), (Ok(1), false));
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn failures_are_not_cached() {
        let c: TtlSlots<&str, u32> = TtlSlots::new(Duration::from_secs(60), 8, 1 << 20, |_| 1);
        assert_eq!(
            c.get_or_fetch(&"a", || Err::<u32, &str>("down")),
            (Err("down"), false)
        );
        assert_eq!(c.get_or_fetch(&"a", || Ok::<u32, &str>(7)), (Ok(7), false));
        assert_eq!(c.get_or_fetch(&"a", || Ok::<u32, &str>(8)), (Ok(7), true));
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let c: TtlSlots<&str, u32> = TtlSlots::new(Duration::ZERO, 8, 1 << 20, |_| 1);
        assert_eq!(c.get_or_fetch(&"a", || Ok::<u32, ()>(1)), (Ok(1), false));
        assert_eq!(c.get_or_fetch(&"a", || Ok::<u32, ()>(2)), (Ok(2), false));
    }

    #[test]
    fn concurrent_callers_share_one_fetch() {
        let c: Arc<TtlSlots<&str, u32>> =
            Arc::new(TtlSlots::new(Duration::from_secs(60), 8, 1 << 20, |_| 1));
        let fetches = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let c = c.clone();
                let fetches = fetches.clone();
                std::thread::spawn(move || {
                    c.get_or_fetch(&"tag", || {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(100));
                        Ok::<u32, ()>(5)
                    })
                    .0
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), Ok(5));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn slots_stay_bounded() {
        let c: TtlSlots<u32, u32> = TtlSlots::new(Duration::from_secs(60), 4, 1 << 20, |_| 1);
        for k in 0..100 {
            let _ = c.get_or_fetch(&k, || Ok::<u32, ()>(k));
        }
        assert!(lock(&c.slots).len() <= 4);
    }

    #[test]
    fn bytes_stay_bounded_and_are_counted_exactly() {
        // Each value weighs its own number; the budget is 100.
        let c: TtlSlots<u32, usize> = TtlSlots::new(Duration::from_secs(60), 1000, 100, |v| *v);
        for k in 0..50 {
            let _ = c.get_or_fetch(&k, || Ok::<usize, ()>(30));
            assert!(c.held() <= 100 + 30, "{}", c.held());
        }
        let slots = lock(&c.slots);
        let sum: usize = slots
            .values()
            .map(|s| lock(s).as_ref().map_or(0, |t| t.value))
            .sum();
        assert_eq!(sum, c.held());
    }

    #[test]
    fn manifest_cache_evicts_oldest_past_its_budget() {
        let c = ManifestCache::new(10);
        c.put("a", Bytes::from_static(b"12345"), "t");
        c.put("b", Bytes::from_static(b"12345"), "t");
        assert!(c.get("a").is_some());
        c.put("c", Bytes::from_static(b"1"), "t");
        assert!(c.get("a").is_none());
        assert!(c.get("b").is_some() && c.get("c").is_some());
        c.put("huge", Bytes::from(vec![0u8; 11]), "t");
        assert!(c.get("huge").is_none());
    }
}
