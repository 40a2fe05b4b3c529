//! What goes to standard error besides errors: warnings and notes (which
//! `--quiet` silences) and `--verbose`'s request lines. Set once, from the
//! global flags, before a command runs.

use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);

/// Records the global `--verbose` and `--quiet` flags.
pub fn set(verbose: bool, quiet: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `--verbose` (`--debug`) was given.
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Prints `ocipick: warning: MESSAGE` on stderr, unless `--quiet`.
pub fn warn(message: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("ocipick: warning: {message}");
    }
}

/// Prints `ocipick: MESSAGE` on stderr (a note beside the result), unless
/// `--quiet`.
pub fn note(message: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("ocipick: {message}");
    }
}

/// Prints a `--verbose` line on stderr.
pub fn trace(message: &str) {
    if verbose() {
        eprintln!("ocipick: {message}");
    }
}
