//! Before the mirror answers a tag with a chosen child (or moves it to the
//! front of a reordered index), it makes sure upstream still has it: a
//! child deleted upstream after it was cached would otherwise be handed
//! to a runtime that then cannot fetch it (or its blobs). A `HEAD` of the
//! child's manifest by digest, at most once per TTL per repository and
//! digest (the answer is cached for the TTL); a child fetched for the
//! answer needs none (the `GET` tells). A child that is gone (`404`) gives
//! way to the next entry of the policy's ranking
//! ([`Decision::fallbacks`]); with none left the index is passed through.
//! A `HEAD` that fails otherwise (unreachable, `5xx`) keeps the child: the
//! tag itself was just fetched, and the check is retried next time.

use std::time::Instant;

use ocipick::Digest;
use ocipick_registry::Reference;

use crate::mirror::{error_kind, State};
use crate::Decision;

/// Whether upstream still has a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    Present,
    Gone,
    /// The check failed: treated as present.
    Unknown,
}

impl State {
    /// The entries to answer with, best first: the chosen one, then
    /// [`Decision::fallbacks`] (position, digest, media type).
    pub(crate) fn candidates(
        &self,
        index: Option<&ocipick::Index<'_>>,
        d: &Decision,
    ) -> Vec<(usize, String, String)> {
        let mut out = vec![(d.position, d.digest.clone(), d.media_type.clone())];
        let Some(idx) = index else {
            return out;
        };
        for &p in &d.fallbacks {
            if let Some(e) = idx.manifests.get(p).filter(|_| p != d.position) {
                out.push((p, e.digest.to_string(), e.media_type.to_string()));
            }
        }
        out
    }

    /// Whether `r`'s repository still holds the manifest `digest`: a HEAD,
    /// at most once per TTL.
    pub(crate) fn present(&self, r: &Reference, digest: &str) -> Presence {
        let key = (r.registry.clone(), r.repository.clone(), digest.to_owned());
        let (result, hit) = self.checks.get_or_fetch(&key, || {
            let d = Digest::parse(digest.to_owned()).map_err(|_| ())?;
            let began = Instant::now();
            let answer = self.client.has_manifest(r, &d);
            self.metrics.upstream("manifest", began.elapsed());
            match answer {
                Ok(there) => {
                    self.metrics
                        .child_check(if there { "present" } else { "gone" });
                    Ok(there)
                }
                Err(e) => {
                    self.metrics.child_check("error");
                    self.metrics.error(error_kind(&e));
                    Err(())
                }
            }
        });
        self.metrics.cache("child_check", hit);
        match result {
            Ok(true) => Presence::Present,
            Ok(false) => Presence::Gone,
            Err(()) => Presence::Unknown,
        }
    }

    pub(crate) fn log_gone(&self, image: &str, index: &str, d: &Decision) {
        eprintln!(
            "ocipick serve: gone image={image:?} index={index} chosen={} position={} (upstream answers 404 for it; trying the next candidate)",
            d.digest, d.position
        );
    }
}
