//! The mirror's answers judged by the runtime's own matcher
//! ([`crate::runtime`]): where reorder mode places the chosen entry (or
//! why it answers the child instead), and the warning when the chosen
//! entry declares a platform other than the runtime's.

use ocipick::Index;

use crate::metrics::{MismatchLabels, ReorderFallbackLabels};
use crate::mirror::{Served, State};
use crate::runtime::Placement;
use crate::{Decision, Mode};

/// Quotes a value for a log line (control characters escaped).
fn q(s: &str) -> String {
    format!("{s:?}")
}

impl State {
    /// Reorder mode's answer for the decision `d` on `index`, judged by the
    /// runtime's matcher: `Ok` with the index (unchanged, reordered, or
    /// passed through when it cannot be reordered); `Err` with `index` back
    /// when no order makes the runtime take the chosen entry: the caller
    /// then answers the chosen child, as child mode does (logged and
    /// counted here).
    pub(crate) fn place_for_runtime(
        &self,
        image: &str,
        index: Served,
        parsed: Option<&Index<'_>>,
        d: &Decision,
    ) -> Result<Served, Served> {
        let Some(runtime) = &self.runtime else {
            return Err(index);
        };
        match runtime.place(&index.bytes, d.position) {
            Ok(Placement::Unchanged) => Ok(self.unchanged(image, index, d)),
            Ok(Placement::Reordered { bytes, .. }) => Ok(self.reordered(image, index, d, bytes)),
            Ok(Placement::Impossible(why)) => {
                self.metrics
                    .reorder_fallbacks
                    .get_or_create(&ReorderFallbackLabels {
                        reason: why.label(),
                    })
                    .inc();
                eprintln!(
                    "ocipick serve: reorder-fallback image={} index={} chosen={} declared={} runtime={} reason={} (no order of the index makes the runtime take it: answered with the chosen child, as in child mode)",
                    q(image),
                    index.digest,
                    d.digest,
                    q(&declared(parsed, d.position)),
                    runtime.platform(),
                    why.label(),
                );
                Err(index)
            }
            Err(why) => Ok(self.fallback(image, index, &why)),
        }
    }

    /// Logs and counts a chosen entry whose declared platform differs from
    /// the runtime's matching platform: some runtimes then warn (Docker),
    /// or refuse to unpack the image (containerd 2.x compares the config's
    /// platform, variant included).
    pub(crate) fn warn_platform_mismatch(
        &self,
        image: &str,
        index: Option<&Index<'_>>,
        d: &Decision,
    ) {
        let (Some(runtime), Some(idx)) = (&self.runtime, index) else {
            return;
        };
        let Some(p) = idx
            .manifests
            .get(d.position)
            .and_then(|e| e.platform.as_ref())
        else {
            return;
        };
        let Some(difference) = runtime.difference(p) else {
            return;
        };
        let mode = match self.opts.mode {
            Mode::Child => "child",
            Mode::Reorder => "reorder",
        };
        self.metrics
            .platform_mismatch
            .get_or_create(&MismatchLabels {
                difference: difference.label(),
                mode,
            })
            .inc();
        eprintln!(
            "ocipick serve: warning: platform-mismatch image={} chosen={} declared={} runtime={} difference={} (the runtime may warn about it, or refuse to unpack it)",
            q(image),
            d.digest,
            q(&p.to_string()),
            runtime.platform(),
            difference.label(),
        );
    }
}

/// The platform entry `position` of `index` declares, for the log.
fn declared(index: Option<&Index<'_>>, position: usize) -> String {
    index
        .and_then(|i| {
            i.manifests.get(position).map(|e| {
                e.platform
                    .as_ref()
                    .map_or_else(|| "none".into(), ToString::to_string)
            })
        })
        .unwrap_or_default()
}
