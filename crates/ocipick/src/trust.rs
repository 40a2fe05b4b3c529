//! Trust policy: which indexes must carry a valid signature before their
//! annotations may steer selection, by which keys, and what happens
//! without one.
//!
//! ```toml
//! [trust]
//! keys = ["/etc/ocipick/cosign.pub"]        # PEM public keys (cosign generate-key-pair); one or more
//! repositories = ["registry.example.com/*"] # optional; default ["*"]: every registry index
//! on-unsigned = "ignore-annotations"        # or "refuse"; default "ignore-annotations"
//! accept-references = ["upstream.example/team/*"] # optional: signatures naming these repositories count too
//! signature-deadline = 5                    # optional: seconds for all signature reads of one index; 0: none
//! ```
//!
//! This module only decides *whether* a policy applies to a repository
//! and what the outcome is; the keys are read and signatures verified by
//! `ocipick_registry::signature`.
//!
//! ```
//! use ocipick::trust::{OnUnsigned, Trust};
//! let t = Trust {
//!     keys: vec!["/etc/ocipick/cosign.pub".into()],
//!     repositories: vec!["registry.example.com/team/*".into()],
//!     on_unsigned: OnUnsigned::Refuse,
//!     accept_references: vec![],
//!     signature_deadline: None,
//! };
//! assert!(t.applies_to("registry.example.com", "team/app"));
//! assert!(!t.applies_to("docker.io", "library/busybox"));
//! ```

use std::path::PathBuf;
use std::time::Duration;

/// The deadline for the signature reads of one index (manifest, payloads,
/// token requests and retries) when neither the configuration nor a flag
/// names one.
pub const DEFAULT_SIGNATURE_DEADLINE: Duration = Duration::from_secs(5);

/// What a run does with an index that has no valid signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUnsigned {
    /// Select on platform alone (the first-match rule): preferences,
    /// rules and hooks are not applied, so no annotation steers the
    /// choice. Said in `rank`'s reasons and in the JSON output.
    #[default]
    IgnoreAnnotations,
    /// Fail the run (exit 3).
    Refuse,
}

impl OnUnsigned {
    /// Parses `ignore-annotations` or `refuse`.
    pub fn parse(s: &str) -> Option<OnUnsigned> {
        match s {
            "ignore-annotations" => Some(OnUnsigned::IgnoreAnnotations),
            "refuse" => Some(OnUnsigned::Refuse),
            _ => None,
        }
    }

    /// The spelling [`OnUnsigned::parse`] reads.
    pub fn as_str(self) -> &'static str {
        match self {
            OnUnsigned::IgnoreAnnotations => "ignore-annotations",
            OnUnsigned::Refuse => "refuse",
        }
    }
}

/// A trust policy (`[trust]` in the configuration file, or the
/// `--trust-key`, `--trust-repository` and `--on-unsigned` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    /// PEM files of the public keys any one of which may sign.
    pub keys: Vec<PathBuf>,
    /// `REGISTRY/REPOSITORY` patterns (`*` any run, `?` any one
    /// character) of the indexes that must be signed; empty means every
    /// registry index.
    pub repositories: Vec<String>,
    /// The outcome without a valid signature.
    pub on_unsigned: OnUnsigned,
    /// `REGISTRY/REPOSITORY` patterns a signature's docker-reference may
    /// name instead of the index's own repository (an index served from
    /// a mirror or promoted copy of the signed repository); empty: only
    /// its own.
    pub accept_references: Vec<String>,
    /// The longest all signature reads of one index may take (`None`:
    /// [`DEFAULT_SIGNATURE_DEADLINE`]; zero: no deadline). Past it the
    /// index counts as unsigned, and [`Trust::on_unsigned`] decides.
    pub signature_deadline: Option<Duration>,
}

impl Trust {
    /// The deadline in force for one index's signature reads.
    pub fn deadline(&self) -> Duration {
        self.signature_deadline
            .unwrap_or(DEFAULT_SIGNATURE_DEADLINE)
    }

    /// Whether indexes of `registry`/`repository` must be signed.
    pub fn applies_to(&self, registry: &str, repository: &str) -> bool {
        let name = format!("{registry}/{repository}");
        self.repositories.is_empty()
            || self
                .repositories
                .iter()
                .any(|p| crate::rules::glob(p, &name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope() {
        let mut t = Trust {
            keys: vec![],
            repositories: vec![],
            on_unsigned: OnUnsigned::default(),
            accept_references: vec![],
            signature_deadline: None,
        };
        assert_eq!(t.deadline(), DEFAULT_SIGNATURE_DEADLINE);
        assert!(t.applies_to("a.example", "x/y"), "empty scope: every index");
        t.repositories = vec!["a.example/x/*".into(), "b.example/one".into()];
        assert!(t.applies_to("a.example", "x/y"));
        assert!(t.applies_to("b.example", "one"));
        assert!(!t.applies_to("b.example", "one/two"));
        assert!(!t.applies_to("a.example", "z"));
        assert_eq!(OnUnsigned::default(), OnUnsigned::IgnoreAnnotations);
        for o in [OnUnsigned::IgnoreAnnotations, OnUnsigned::Refuse] {
            assert_eq!(OnUnsigned::parse(o.as_str()), Some(o));
        }
        assert_eq!(OnUnsigned::parse("allow"), None);
    }
}
