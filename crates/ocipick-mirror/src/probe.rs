//! `/healthz`, `/readyz`, and the graceful drain after SIGINT or SIGTERM.
//!
//! - `/healthz` answers `200 ok` whenever the process answers at all: it
//!   checks nothing else, so a liveness probe restarts only a mirror that
//!   stopped answering.
//! - `/readyz` answers `200 ready` while the mirror serves, `503 draining`
//!   once a drain began. It does **not** contact the upstreams: a registry
//!   outage must not take every node's mirror out of service at once (the
//!   runtimes already fall back to the upstream on their own, and the
//!   mirror answers upstream failures itself), so readiness does not flap
//!   with the upstreams.
//! - The drain: the mirror's listener is closed at once (new connections
//!   are refused, which sends a runtime to its next host without delay);
//!   each open connection finishes the request it is serving and is then
//!   closed; the mirror stops when none is left, or after
//!   [`Options::drain_timeout`](crate::Options::drain_timeout). The metrics
//!   listener, if any, keeps answering meanwhile (`/readyz` 503).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};

/// Whether the mirror is draining, and who waits for it to start.
pub(crate) struct Health {
    draining: watch::Sender<bool>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            draining: watch::channel(false).0,
        }
    }
}

impl Health {
    /// Marks the drain as started: `/readyz` answers 503 from now on, and
    /// every connection is told to finish.
    pub(crate) fn start_drain(&self) {
        self.draining.send_replace(true);
    }

    /// Whether a drain began.
    pub(crate) fn draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// A receiver that sees the drain start.
    pub(crate) fn subscribe(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }
}

/// The answer to a probe path (`/healthz`, `/readyz`): status and body;
/// `None` for any other path.
pub(crate) fn answer(health: &Health, path: &str) -> Option<(u16, &'static str)> {
    match path {
        "/healthz" => Some((200, "ok\n")),
        "/readyz" if health.draining() => Some((503, "draining\n")),
        "/readyz" => Some((200, "ready\n")),
        _ => None,
    }
}

/// Waits for the connections holding permits of `permits` (out of `total`)
/// to finish, up to `timeout`, after telling them to (`health`).
pub(crate) async fn drain(health: &Health, permits: Arc<Semaphore>, total: u32, timeout: Duration) {
    health.start_drain();
    let open = (total as usize).saturating_sub(permits.available_permits());
    if open == 0 {
        return;
    }
    eprintln!(
        "ocipick serve: draining: {open} connection(s) open, waiting up to {} s for them to finish",
        timeout.as_secs_f64()
    );
    tokio::select! {
        _ = permits.acquire_many(total) => eprintln!("ocipick serve: drained"),
        _ = tokio::time::sleep(timeout) => {
            let left = (total as usize).saturating_sub(permits.available_permits());
            eprintln!(
                "ocipick serve: drain timed out after {} s: {left} connection(s) dropped",
                timeout.as_secs_f64()
            );
        }
    }
}
