//! Signature-aware selection, wired: the trust policy from flags and the
//! configuration file, its keys read, and the verdict on the index a run
//! fetched (`ocipick_registry::signature` does the verifying).

use ocipick::trust::{OnUnsigned, Trust};
use ocipick::Digest;
use ocipick_registry::signature::{self, TrustKey, Verdict};
use ocipick_registry::source;
use serde_json::{json, Value};

use crate::args::TrustArgs;
use crate::run::{Doc, Failure, Store};

/// The largest public key file read.
const MAX_KEY_BYTES: u64 = 64 * 1024;

/// A trust policy with its keys read.
pub(crate) struct Loaded {
    policy: Trust,
    keys: Vec<TrustKey>,
}

impl Loaded {
    /// The policy and its keys, for the mirror (`serve`).
    pub(crate) fn into_mirror(self) -> ocipick_mirror::TrustOptions {
        ocipick_mirror::TrustOptions {
            deadline: self.policy.deadline(),
            policy: self.policy,
            keys: self.keys,
        }
    }
}

/// The policy in force: the config file's `[trust]`, each flag replacing
/// its part; `None` when no key is configured either way. Every key file
/// is read and parsed now, so a bad key fails the run (exit 2) before any
/// request.
pub(crate) fn policy(args: &TrustArgs, config: Option<Trust>) -> Result<Option<Loaded>, Failure> {
    let mut t = match (config, args.trust_key.is_empty()) {
        (Some(t), _) => t,
        (None, false) => Trust {
            keys: Vec::new(),
            repositories: Vec::new(),
            on_unsigned: OnUnsigned::default(),
            accept_references: Vec::new(),
            signature_deadline: None,
        },
        (None, true) => {
            if !args.trust_repository.is_empty()
                || args.on_unsigned.is_some()
                || !args.trust_accept_reference.is_empty()
                || args.signature_deadline.is_some()
            {
                return Err(Failure::Invalid(
                    "--trust-repository, --trust-accept-reference, --on-unsigned and --signature-deadline need a key (--trust-key or [trust] keys)"
                        .into(),
                ));
            }
            return Ok(None);
        }
    };
    if !args.trust_key.is_empty() {
        t.keys = args.trust_key.clone();
    }
    if !args.trust_repository.is_empty() {
        t.repositories = args.trust_repository.clone();
    }
    if !args.trust_accept_reference.is_empty() {
        t.accept_references = args.trust_accept_reference.clone();
    }
    if let Some(s) = args.signature_deadline {
        t.signature_deadline = Some(std::time::Duration::from_secs_f64(s));
    }
    if let Some(o) = args.on_unsigned.as_deref() {
        t.on_unsigned =
            OnUnsigned::parse(o).ok_or_else(|| Failure::Invalid(format!("--on-unsigned {o:?}")))?;
    }
    let mut keys = Vec::with_capacity(t.keys.len());
    for path in &t.keys {
        let bytes = ocipick_registry::read_file(path, MAX_KEY_BYTES, "")?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Failure::Invalid(format!("{}: not UTF-8 text", path.display())))?;
        keys.push(TrustKey::from_pem(path.display().to_string(), text).map_err(Failure::Invalid)?);
    }
    Ok(Some(Loaded { policy: t, keys }))
}

/// The verdict on one fetched index, for the output.
pub(crate) struct Report {
    /// What the policy says without a valid signature.
    pub on_unsigned: OnUnsigned,
    /// The digest verified.
    pub digest: String,
    /// Signed, or why not.
    pub verdict: Verdict,
    /// Signature requests made (manifest and payload GETs, tokens).
    pub requests: u32,
    /// Whether the signature reads were cut off by the deadline.
    pub deadline_passed: bool,
}

impl Report {
    /// Whether selection had to ignore annotations.
    pub fn annotations_ignored(&self) -> bool {
        matches!(self.verdict, Verdict::NotSigned { .. })
    }

    /// One line for text output.
    pub fn summary(&self) -> String {
        match &self.verdict {
            Verdict::Signed { key } => format!("signed by {key}; annotations honoured"),
            Verdict::NotSigned { reason } => format!(
                "not signed ({reason}); annotations ignored: selected on platform alone (first match)"
            ),
        }
    }

    /// The reason added to every entry when annotations were ignored.
    pub fn entry_reason(&self) -> Option<&'static str> {
        self.annotations_ignored().then_some(
            "annotations ignored: the index has no valid signature (trust policy); platform alone decides, first match",
        )
    }

    /// The `trust` object of the JSON output.
    pub fn json(&self) -> Value {
        let (signed, key, reason) = match &self.verdict {
            Verdict::Signed { key } => (true, Some(key.as_str()), None),
            Verdict::NotSigned { reason } => (false, None, Some(reason.as_str())),
        };
        json!({
            "digest": self.digest,
            "signed": signed,
            "key": key,
            "reason": reason,
            "onUnsigned": self.on_unsigned.as_str(),
            "annotationsIgnored": self.annotations_ignored(),
            "requests": self.requests,
            "deadlinePassed": self.deadline_passed,
        })
    }
}

/// Verifies the index a run read when the policy applies to it: registry
/// sources whose repository the policy names, and every OCI layout or
/// archive (signatures stored beside the index in it). A file or standard
/// input holds nothing but the index, so it is not verified (warned). No
/// request when the policy does not apply. `refuse` without a valid
/// signature is exit 3.
pub(crate) fn judge(
    trust: Option<&Loaded>,
    origin: &str,
    doc: &Doc,
    store: Option<&Store>,
) -> Result<Option<Report>, Failure> {
    if trust.is_some() && store.is_none() {
        crate::say::warn(&format!(
            "the trust policy applies to registry indexes and OCI layouts or archives only: {origin} is a bare index, not verified, and its annotations count"
        ));
    }
    let report = verdict(trust, doc, store);
    if let Some(Report {
        verdict: Verdict::NotSigned { reason },
        on_unsigned: OnUnsigned::Refuse,
        digest,
        ..
    }) = &report
    {
        return Err(Failure::Registry(format!(
            "{origin}: {digest} has no valid signature ({reason}); refused (on-unsigned = refuse)"
        )));
    }
    Ok(report)
}

/// The verdict on a read index when the policy applies to it (what
/// [`judge`] decides on; `lint` reports it). No request otherwise.
pub(crate) fn verdict(trust: Option<&Loaded>, doc: &Doc, store: Option<&Store>) -> Option<Report> {
    let (Some(t), Some(Store(store))) = (trust, store) else {
        return None;
    };
    let (digest, bytes): (Digest<'static>, Option<&[u8]>) = match doc {
        Doc::Bytes(b) => (Digest::sha256_of(b), Some(b)),
        Doc::Single(d) => (d.digest.clone(), None),
    };
    let out = match store {
        source::Store::Registry(client, r) => {
            if !t.policy.applies_to(&r.registry, &r.repository) {
                return None;
            }
            let deadline = t.policy.deadline();
            let out = signature::verify_within(
                client,
                r,
                &digest,
                bytes,
                &t.keys,
                &t.policy.accept_references,
                deadline,
            );
            if out.deadline_passed {
                crate::say::warn(&format!(
                    "{}/{}: the signature reads for {digest} passed the {} s deadline (--signature-deadline) after {} requests: the index counts as unsigned",
                    r.registry,
                    r.repository,
                    deadline.as_secs_f64(),
                    out.requests
                ));
            }
            out
        }
        local => {
            // A layout has no repository: a signature must name one the
            // policy covers (its repositories and accept-references), any
            // when it names none.
            let accept: Vec<String> = t
                .policy
                .repositories
                .iter()
                .chain(&t.policy.accept_references)
                .cloned()
                .collect();
            signature::verify_with(
                &signature::LocalLookup { store: local },
                &digest,
                bytes,
                &t.keys,
                &signature::Scope::Local { accept: &accept },
            )
        }
    };
    Some(Report {
        on_unsigned: t.policy.on_unsigned,
        digest: digest.to_string(),
        verdict: out.verdict,
        requests: out.requests,
        deadline_passed: out.deadline_passed,
    })
}

/// `lint --trust-key`: SIG001 (a warning) when a registry index the policy
/// applies to has annotations on its entries but no valid signature, so
/// that a trust policy would select it on platform alone.
pub(crate) fn lint(
    trust: Option<&Loaded>,
    doc: &Doc,
    store: Option<&Store>,
) -> Option<ocipick::lint::Finding> {
    let Doc::Bytes(b) = doc else {
        return None;
    };
    let index = ocipick::Index::parse(b).ok()?;
    let annotated = index
        .manifests
        .iter()
        .filter(|d| !d.annotations.is_empty())
        .count();
    if annotated == 0 {
        return None;
    }
    let report = verdict(trust, doc, store)?;
    let Verdict::NotSigned { reason } = &report.verdict else {
        return None;
    };
    Some(ocipick::lint::Finding {
        id: "SIG001",
        severity: ocipick::lint::Severity::Warning,
        path: ".manifests".into(),
        message: format!(
            "{annotated} entries carry annotations but the index {} has no valid signature ({reason}): under this trust policy they are ignored",
            report.digest
        ),
        hint: "sign the index digest with a trusted key (cosign sign --key … REPO@DIGEST)",
    })
}
