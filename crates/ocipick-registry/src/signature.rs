//! Key-based verification of cosign signatures stored under the
//! `sha256-<hex>.sig` tag scheme.
//!
//! Cosign stores the signatures of the manifest `sha256:<hex>` of a
//! repository as an image manifest of the same repository tagged
//! `sha256-<hex>.sig`. Each of its layers is a *simple-signing payload*
//! (media type [`SIMPLE_SIGNING_MEDIA_TYPE`]), a small JSON document
//! naming the signed manifest:
//!
//! ```json
//! {"critical":{"identity":{"docker-reference":"registry.example.com/team/app"},
//!              "image":{"docker-manifest-digest":"sha256:…"},
//!              "type":"cosign container image signature"},
//!  "optional":null}
//! ```
//!
//! and the layer's [`SIGNATURE_ANNOTATION`] holds the base64 of an ASN.1
//! DER ECDSA P-256 / SHA-256 signature over the payload's bytes.
//!
//! An index counts as signed when one layer's signature verifies with one
//! of the trusted keys **and** its payload names exactly the index digest
//! that was fetched **and** the repository it was fetched from. Anything
//! else (no tag, a refusal, an oversized or malformed document, a
//! signature by another key, a payload for another digest or repository)
//! is [`Verdict::NotSigned`] with the reason: verification never fails
//! open and never makes the run fail by itself; the caller's policy
//! decides what an unsigned index means.
//!
//! When the tag scheme gives no valid signature, Sigstore bundles attached
//! as referrers are tried ([`crate::bundle`], [`verify_with`]); the same
//! code reads signatures stored in a local layout or archive
//! ([`LocalLookup`]).
//!
//! A registry lookup may run under a deadline for all its reads
//! ([`verify_within`]): a slow or silent signature endpoint then costs
//! the caller at most that long, and the index counts as unsigned.
//!
//! Every read is bounded while it happens ([`MAX_SIGNATURE_MANIFEST_BYTES`],
//! [`MAX_PAYLOAD_BYTES`], [`MAX_SIGNATURE_LAYERS`]), and payload blobs are
//! checked against their digests before they are used.
//!
//! ```
//! use ocipick::Digest;
//! use ocipick_registry::signature::{check_payload, signature_tag};
//! use ocipick_registry::Reference;
//!
//! let d = Digest::sha256_of(b"{}");
//! assert_eq!(signature_tag(&d).unwrap(), format!("sha256-{}.sig", d.encoded()));
//! let r: Reference = "registry.example.com/team/app:v1".parse()?;
//! let payload = format!(
//!     r#"{{"critical":{{"identity":{{"docker-reference":"registry.example.com/team/app"}},
//!         "image":{{"docker-manifest-digest":"{d}"}},"type":"cosign container image signature"}},
//!         "optional":null}}"#);
//! assert!(check_payload(payload.as_bytes(), &d, &r).is_ok());
//! let other: Reference = "registry.example.com/team/other:v1".parse()?;
//! assert!(check_payload(payload.as_bytes(), &d, &other).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use ocipick::{Descriptor, Digest};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;

use crate::client::{Client, ForwardMethod};
use crate::reference::Reference;

/// The layer media type of a simple-signing payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 DER signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The `critical.type` of a cosign payload.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";
/// The largest signature manifest read (its body is cut off there).
pub const MAX_SIGNATURE_MANIFEST_BYTES: u64 = 64 * 1024;
/// The largest simple-signing payload read.
pub const MAX_PAYLOAD_BYTES: u64 = 16 * 1024;
/// The most signature layers considered (each may cost a blob request).
pub const MAX_SIGNATURE_LAYERS: usize = 8;
/// The longest base64 signature annotation accepted (a DER P-256
/// signature is at most 72 bytes).
const MAX_SIGNATURE_B64: usize = 256;

/// A trusted public key: ECDSA P-256, as `cosign generate-key-pair`
/// writes it (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo).
#[derive(Debug, Clone)]
pub struct TrustKey {
    name: String,
    key: VerifyingKey,
}

impl TrustKey {
    /// Reads a PEM public key; `name` (usually the file's path) is how
    /// verdicts name it.
    pub fn from_pem(name: impl Into<String>, pem: &str) -> Result<TrustKey, String> {
        let name = name.into();
        let key = VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| {
            format!("{name}: not a PEM ECDSA P-256 public key (SubjectPublicKeyInfo): {e}")
        })?;
        Ok(TrustKey { name, key })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `signature` (ASN.1 DER) is this key's ECDSA P-256 / SHA-256
    /// signature over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_der(signature).is_ok_and(|s| self.key.verify(message, &s).is_ok())
    }
}

/// The tag cosign stores `digest`'s signatures under: `sha256-<hex>.sig`
/// (`None` for a digest that is not sha256, which cosign does not sign).
pub fn signature_tag(digest: &Digest<'_>) -> Option<String> {
    (digest.algorithm() == "sha256").then(|| format!("sha256-{}.sig", digest.encoded()))
}

/// One signature layer of a signature manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLayer {
    /// The payload blob's digest.
    pub digest: Digest<'static>,
    /// The payload blob's declared size.
    pub size: u64,
    /// The decoded signature (DER).
    pub signature: Vec<u8>,
}

/// Reads a signature manifest: its simple-signing layers that carry a
/// signature annotation (others are skipped), at most
/// [`MAX_SIGNATURE_LAYERS`]. An error when it is not a manifest at all,
/// or a layer is malformed.
pub fn parse_signature_manifest(bytes: &[u8]) -> Result<Vec<SignatureLayer>, String> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        layers: Vec<Layer>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Layer {
        media_type: String,
        digest: String,
        size: u64,
        #[serde(default)]
        annotations: std::collections::BTreeMap<String, String>,
    }
    let m: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| format!("the signature manifest is not an image manifest: {e}"))?;
    let mut out = Vec::new();
    for l in m.layers {
        if l.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
            continue;
        }
        let Some(b64) = l.annotations.get(SIGNATURE_ANNOTATION) else {
            continue;
        };
        if out.len() == MAX_SIGNATURE_LAYERS {
            break;
        }
        if b64.len() > MAX_SIGNATURE_B64 {
            return Err(format!("a signature annotation of {} bytes", b64.len()));
        }
        let signature = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("a signature annotation is not base64: {e}"))?;
        let digest = Digest::parse(l.digest.clone())
            .map_err(|e| format!("layer digest {:?}: {e}", l.digest))?;
        out.push(SignatureLayer {
            digest,
            size: l.size,
            signature,
        });
    }
    Ok(out)
}

/// Checks a simple-signing payload: its type is cosign's, it names
/// exactly `digest`, and its docker-reference is `reference`'s repository
/// (registry and repository compared after normalisation, so
/// `index.docker.io/library/x` is `docker.io/library/x`; a tag in it is
/// ignored, a digest in it is not accepted).
pub fn check_payload(
    payload: &[u8],
    digest: &Digest<'_>,
    reference: &Reference,
) -> Result<(), String> {
    check_payload_accepting(payload, digest, reference, &[])
}

/// [`check_payload`], also accepting a docker-reference that names
/// another repository when its normalised `REGISTRY/REPOSITORY` matches
/// one of `accept` (globs: `*` any run, `?` any one character): the
/// explicit policy for indexes served from a copy of the signed
/// repository (a mirror, a promotion). The digest must still be exactly
/// the fetched one.
///
/// ```
/// use ocipick::Digest;
/// use ocipick_registry::signature::check_payload_accepting;
/// let d = Digest::sha256_of(b"{}");
/// let payload = format!(r#"{{"critical":{{"identity":{{"docker-reference":"upstream.example/team/app"}},
///     "image":{{"docker-manifest-digest":"{d}"}},"type":"cosign container image signature"}}}}"#);
/// let mirror: ocipick_registry::Reference = "mirror.example/team/app:v1".parse()?;
/// assert!(check_payload_accepting(payload.as_bytes(), &d, &mirror, &[]).is_err());
/// let accept = ["upstream.example/team/*".to_owned()];
/// assert!(check_payload_accepting(payload.as_bytes(), &d, &mirror, &accept).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_payload_accepting(
    payload: &[u8],
    digest: &Digest<'_>,
    reference: &Reference,
    accept: &[String],
) -> Result<(), String> {
    check_payload_in(payload, digest, &Scope::Registry { reference, accept })
}

/// Which repositories a signature may name, for the index it is checked
/// against.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// An index fetched from `reference`'s repository: a signature must
    /// name that repository, or one matching `accept`
    /// ([`check_payload_accepting`]).
    Registry {
        /// Where the index was fetched.
        reference: &'a Reference,
        /// Other `REGISTRY/REPOSITORY` patterns accepted.
        accept: &'a [String],
    },
    /// An index read from a local layout or archive, which has no
    /// repository: a signature must name a repository matching one of
    /// `accept` (the policy's `repositories` and `accept-references`);
    /// with none given, any repository (the digest still binds).
    Local {
        /// `REGISTRY/REPOSITORY` patterns accepted; empty: any.
        accept: &'a [String],
    },
}

impl Scope<'_> {
    /// Whether a signature naming `docker_ref` (a repository, perhaps with
    /// a tag, never a digest) is acceptable here.
    pub fn check_repository(&self, docker_ref: &str) -> Result<(), String> {
        let theirs: Reference = docker_ref
            .parse()
            .map_err(|_| format!("the signature's repository {docker_ref:?} is not a reference"))?;
        let named = format!("{}/{}", theirs.registry, theirs.repository);
        let glob = |accept: &[String]| accept.iter().any(|p| ocipick::rules::glob(p, &named));
        let (ok, wanted) = match self {
            Scope::Registry { reference, accept } => (
                (theirs.registry == reference.registry
                    && theirs.repository == reference.repository)
                    || glob(accept),
                format!("{}/{}", reference.registry, reference.repository),
            ),
            Scope::Local { accept } => (accept.is_empty() || glob(accept), accept.join(", ")),
        };
        if theirs.digest.is_some() || !ok {
            return Err(format!(
                "the signature names repository {docker_ref}, not {wanted}"
            ));
        }
        Ok(())
    }
}

/// [`check_payload_accepting`] for any [`Scope`].
pub fn check_payload_in(
    payload: &[u8],
    digest: &Digest<'_>,
    scope: &Scope<'_>,
) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("the payload is not JSON: {e}"))?;
    let critical = v
        .get("critical")
        .ok_or("the payload has no \"critical\" section")?;
    let field = |a: &str, b: &str| {
        critical
            .get(a)
            .and_then(|x| x.get(b))
            .and_then(|x| x.as_str())
    };
    match critical.get("type").and_then(|t| t.as_str()) {
        Some(PAYLOAD_TYPE) => {}
        other => {
            return Err(format!(
                "the payload's type is {other:?}, not {PAYLOAD_TYPE:?}"
            ))
        }
    }
    let named = field("image", "docker-manifest-digest")
        .ok_or("the payload names no docker-manifest-digest")?;
    if named != digest.as_str() {
        return Err(format!(
            "the signature is for {named}, not the index fetched ({digest})"
        ));
    }
    let docker_ref =
        field("identity", "docker-reference").ok_or("the payload names no docker-reference")?;
    scope.check_repository(docker_ref)
}

/// Whether an index is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A signature by this key names the index and its repository.
    Signed {
        /// The key's name.
        key: String,
    },
    /// No valid signature, and why.
    NotSigned {
        /// The reason, for messages and the JSON output.
        reason: String,
    },
}

/// A verification's verdict and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Signed or not.
    pub verdict: Verdict,
    /// HTTP requests it sent (token requests and retries included); with
    /// a deadline that passed, those sent by then.
    pub requests: u32,
    /// Whether the reads were cut off by [`verify_within`]'s deadline (the
    /// verdict is then [`Verdict::NotSigned`]).
    pub deadline_passed: bool,
}

/// Reads at most `limit` bytes of a body; `None` when there is more. Past
/// `until`, the next read fails.
fn read_bounded(
    r: impl Read,
    limit: u64,
    until: Option<Instant>,
) -> Result<Option<Vec<u8>>, String> {
    let mut bytes = Vec::new();
    Until { inner: r, until }
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading: {e}"))?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// A reader that fails once a deadline has passed (each read is still
/// bounded by the client's own read timeout).
struct Until<R> {
    inner: R,
    until: Option<Instant>,
}

impl<R: Read> Read for Until<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.until.is_some_and(|u| Instant::now() >= u) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                DEADLINE_PASSED,
            ));
        }
        self.inner.read(buf)
    }
}

/// The words of a read cut off by the deadline.
const DEADLINE_PASSED: &str = "the signature deadline passed";

/// The most bundle referrers tried (each costs a manifest and a blob
/// request).
pub const MAX_BUNDLE_REFERRERS: usize = 4;

/// Where signatures are looked up: a registry repository
/// ([`RegistryLookup`]) or a local layout or archive
/// ([`LocalLookup`]). Every read is bounded; every blob is checked
/// against its digest and size.
pub trait Lookup {
    /// The manifest tagged `tag` (cosign's `sha256-<hex>.sig`), at most
    /// `limit` bytes; `None` when there is none.
    fn tagged(&self, tag: &str, limit: u64) -> Result<Option<Vec<u8>>, String>;
    /// The manifest `digest`, at most `limit` bytes, checked against it.
    fn manifest(&self, digest: &Digest<'_>, limit: u64) -> Result<Vec<u8>, String>;
    /// The blob `digest` of `size` bytes, checked against both.
    fn blob(&self, digest: &Digest<'_>, size: u64) -> Result<Vec<u8>, String>;
    /// The manifests whose subject is `subject` with `artifact_type`, as
    /// (digest, size), at most [`MAX_BUNDLE_REFERRERS`].
    fn referrers(
        &self,
        subject: &Digest<'_>,
        artifact_type: &str,
    ) -> Result<Vec<(Digest<'static>, u64)>, String>;
    /// Requests sent so far (0 for local reads).
    fn requests(&self) -> u32;
}

/// Checks `bytes` against a digest (and, when given, a size).
fn check_blob(bytes: Vec<u8>, digest: &Digest<'_>, size: Option<u64>) -> Result<Vec<u8>, String> {
    if let Some(size) = size {
        if bytes.len() as u64 != size {
            return Err(format!("{} bytes, its descriptor says {size}", bytes.len()));
        }
    }
    match digest.compute_like(&bytes) {
        Some(actual) if actual == *digest => Ok(bytes),
        Some(actual) => Err(format!("content hashes to {actual}")),
        None => Err(format!(
            "cannot verify digest algorithm {}",
            digest.algorithm()
        )),
    }
}

/// Signatures in a registry repository, read through a [`Client`].
///
/// Its requests are counted on their own ([`Lookup::requests`]), exactly
/// even while other threads use the same client (the mirror's); with a
/// deadline ([`RegistryLookup::until`]) no request starts after it and a
/// body being read stops there.
pub struct RegistryLookup<'a> {
    client: &'a Client,
    reference: &'a Reference,
    until: Option<Instant>,
    /// Requests sent, readable from another thread while they run.
    sent: Arc<AtomicU32>,
    /// Whether a read was refused at the deadline.
    cut_off: AtomicBool,
}

impl<'a> RegistryLookup<'a> {
    /// A lookup in `reference`'s repository through `client`, with no
    /// deadline but the client's own timeouts.
    pub fn new(client: &'a Client, reference: &'a Reference) -> Self {
        RegistryLookup {
            client,
            reference,
            until: None,
            sent: Arc::default(),
            cut_off: AtomicBool::new(false),
        }
    }

    /// The same lookup, starting no request and reading no body past
    /// `until`: what is left fails, naming the deadline.
    pub fn until(mut self, until: Instant) -> Self {
        self.until = Some(until);
        self
    }

    /// [`RegistryLookup::until`], its requests counted into `sent` (which
    /// another thread may read while they run).
    fn counting_into(mut self, sent: Arc<AtomicU32>, until: Instant) -> Self {
        self.sent = sent;
        self.until(until)
    }

    /// Whether a read was refused because the deadline had passed.
    pub fn deadline_passed(&self) -> bool {
        self.cut_off.load(Ordering::Relaxed)
    }

    /// Runs one read (`what`, for the message): refused past the
    /// deadline, its requests counted.
    fn send<T>(&self, what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
        if self.until.is_some_and(|u| Instant::now() >= u) {
            self.cut_off.store(true, Ordering::Relaxed);
            return Err(format!("{DEADLINE_PASSED} before {what}"));
        }
        let out = crate::client::counting_requests(&self.sent, f);
        if matches!(&out, Err(e) if e.contains(DEADLINE_PASSED)) {
            self.cut_off.store(true, Ordering::Relaxed);
        }
        out
    }

    fn get(
        &self,
        path: &str,
        accept: &[(&str, &str)],
        limit: u64,
    ) -> Result<Option<Vec<u8>>, String> {
        self.send(&format!("fetching {path}"), || {
            let mut resp = self
                .client
                .forward(self.reference, ForwardMethod::Get, path, accept)
                .map_err(|e| format!("fetching {path}: {e}"))?;
            match resp.status().as_u16() {
                200 => {}
                404 => return Ok(None),
                s => return Err(format!("fetching {path}: HTTP {s}")),
            }
            read_bounded(resp.body_mut().as_reader(), limit, self.until)
                .map_err(|e| format!("{path}: {e}"))?
                .map(Some)
                .ok_or_else(|| format!("{path}: larger than the {limit}-byte limit"))
        })
    }
}

const MANIFEST_ACCEPT: [(&str, &str); 2] = [
    ("Accept", ocipick::media_type::OCI_MANIFEST),
    ("Accept", ocipick::media_type::DOCKER_MANIFEST),
];

impl Lookup for RegistryLookup<'_> {
    fn tagged(&self, tag: &str, limit: u64) -> Result<Option<Vec<u8>>, String> {
        self.get(&format!("manifests/{tag}"), &MANIFEST_ACCEPT, limit)
    }

    fn manifest(&self, digest: &Digest<'_>, limit: u64) -> Result<Vec<u8>, String> {
        let bytes = self
            .get(&format!("manifests/{digest}"), &MANIFEST_ACCEPT, limit)?
            .ok_or_else(|| format!("manifest {digest}: not found"))?;
        check_blob(bytes, digest, None).map_err(|e| format!("manifest {digest}: {e}"))
    }

    fn blob(&self, digest: &Digest<'_>, size: u64) -> Result<Vec<u8>, String> {
        // Bounded by the declared size while reading; size and digest
        // checked. Past the deadline no request starts; one under way is
        // bounded by the client's read timeout.
        let d = Descriptor::new("", digest.clone(), size);
        self.send(&format!("fetching blob {digest}"), || {
            self.client
                .fetch_blob(self.reference, &d, size)
                .map_err(|e| e.to_string())
        })
    }

    fn referrers(
        &self,
        subject: &Digest<'_>,
        artifact_type: &str,
    ) -> Result<Vec<(Digest<'static>, u64)>, String> {
        // The referrers API; a registry without one answers 404, and the
        // referrers tag schema (`sha256-<hex>`, an index) stands in.
        self.send("listing referrers", || {
            crate::referrers::list(self.client, self.reference, subject, Some(artifact_type))
                .map(|found| first_referrers(found.descriptors))
                .map_err(|e| e.to_string())
        })
    }

    fn requests(&self) -> u32 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// The first [`MAX_BUNDLE_REFERRERS`] of a listing, as (digest, size).
fn first_referrers(listed: Vec<ocipick::Descriptor<'static>>) -> Vec<(Digest<'static>, u64)> {
    listed
        .into_iter()
        .take(MAX_BUNDLE_REFERRERS)
        .map(|d| (d.digest, d.size))
        .collect()
}

/// Signatures stored in a local OCI layout or archive beside the index:
/// the signature manifest as an `index.json` entry tagged
/// `sha256-<hex>.sig` (what `skopeo copy` or `oras copy` of the signature
/// tag into the layout writes) or marked `kind:
/// dev.cosignproject.cosign/sigs` (what `cosign save` writes), and bundle
/// referrers as `index.json` entries whose manifest has the index as its
/// subject, or listed by a `sha256-<hex>` tag-schema index tagged there
/// ([`crate::referrers::in_layout`]; in an archive, the entries alone, at
/// most 64 read). Reads are the layout's own (bounded, digest-checked);
/// no request is sent.
pub struct LocalLookup<'a> {
    /// The layout or archive (a registry store finds nothing here).
    pub store: &'a crate::source::Store,
}

/// The `kind` annotation `cosign save` marks its signature manifest with.
pub const COSIGN_SAVE_SIGS_KIND: &str = "dev.cosignproject.cosign/sigs";
/// The most `index.json` entries a local lookup reads for referrers.
const MAX_LOCAL_ENTRIES: usize = 64;

impl LocalLookup<'_> {
    fn entries(&self) -> Result<Vec<ocipick::Descriptor<'static>>, String> {
        #[derive(serde::Deserialize)]
        struct Top<'a> {
            #[serde(default, borrow)]
            manifests: Vec<ocipick::Descriptor<'a>>,
        }
        let bytes = match self.store {
            crate::source::Store::Layout(l) => l.index_json(),
            crate::source::Store::Archive(a) => a.index_json(),
            crate::source::Store::Registry(..) => return Ok(Vec::new()),
        }
        .map_err(|e| e.to_string())?;
        let top: Top<'_> =
            serde_json::from_slice(&bytes).map_err(|e| format!("index.json: {e}"))?;
        Ok(top.manifests.into_iter().map(|d| d.into_owned()).collect())
    }

    fn read(&self, d: &ocipick::Descriptor<'_>, limit: u64) -> Result<Vec<u8>, String> {
        if d.size > limit {
            return Err(format!("{}: larger than the {limit}-byte limit", d.digest));
        }
        self.store.fetch(d).map_err(|e| e.to_string())
    }
}

impl Lookup for LocalLookup<'_> {
    fn tagged(&self, tag: &str, limit: u64) -> Result<Option<Vec<u8>>, String> {
        let entries = self.entries()?;
        let by_name = entries
            .iter()
            .find(|d| d.annotations.get(crate::layout::REF_NAME).map(|v| &**v) == Some(tag));
        let by_kind = || {
            entries
                .iter()
                .find(|d| d.annotations.get("kind").map(|v| &**v) == Some(COSIGN_SAVE_SIGS_KIND))
        };
        match by_name.or_else(by_kind) {
            Some(d) => self.read(d, limit).map(Some),
            None => Ok(None),
        }
    }

    fn manifest(&self, digest: &Digest<'_>, limit: u64) -> Result<Vec<u8>, String> {
        let d = self
            .entries()?
            .into_iter()
            .find(|d| d.digest == *digest)
            .ok_or_else(|| format!("manifest {digest}: not in index.json"))?;
        self.read(&d, limit)
    }

    fn blob(&self, digest: &Digest<'_>, size: u64) -> Result<Vec<u8>, String> {
        let d = ocipick::Descriptor::new("application/octet-stream", digest.clone(), size);
        self.store.fetch(&d).map_err(|e| e.to_string())
    }

    fn referrers(
        &self,
        subject: &Digest<'_>,
        artifact_type: &str,
    ) -> Result<Vec<(Digest<'static>, u64)>, String> {
        if let crate::source::Store::Layout(l) = self.store {
            let found = crate::referrers::in_layout(l, subject, Some(artifact_type))
                .map_err(|e| e.to_string())?;
            return Ok(first_referrers(found.descriptors));
        }
        // An archive: the same rule as `referrers::in_layout` (an
        // `index.json` entry whose manifest has the subject), over the
        // archive's members.
        let mut out = Vec::new();
        for d in self.entries()?.into_iter().take(MAX_LOCAL_ENTRIES) {
            if out.len() == MAX_BUNDLE_REFERRERS {
                break;
            }
            let maybe = d.artifact_type.as_deref() == Some(artifact_type)
                || (d.artifact_type.is_none()
                    && d.media_type == ocipick::media_type::OCI_MANIFEST
                    && d.platform.is_none());
            if !maybe || d.size > MAX_SIGNATURE_MANIFEST_BYTES {
                continue;
            }
            let Ok(bytes) = self.read(&d, MAX_SIGNATURE_MANIFEST_BYTES) else {
                continue;
            };
            if crate::bundle::parse_bundle_manifest(&bytes, subject).is_ok() {
                out.push((d.digest.clone(), d.size));
            }
        }
        Ok(out)
    }

    fn requests(&self) -> u32 {
        0
    }
}

/// Verifies the index `digest` of `reference`'s repository against
/// `keys` (a payload may name a repository matching `accept` instead of
/// `reference`'s own: [`check_payload_accepting`]). [`verify_index`]
/// without the index's bytes; no deadline but the client's own timeouts.
pub fn verify(
    client: &Client,
    reference: &Reference,
    digest: &Digest<'_>,
    keys: &[TrustKey],
    accept: &[String],
) -> Outcome {
    verify_index(client, reference, digest, None, keys, accept)
}

/// Verifies a registry index: [`verify_with`] over a [`RegistryLookup`]
/// of `reference`'s repository, with no deadline but the client's own
/// timeouts ([`verify_within`] has one).
pub fn verify_index(
    client: &Client,
    reference: &Reference,
    digest: &Digest<'_>,
    index: Option<&[u8]>,
    keys: &[TrustKey],
    accept: &[String],
) -> Outcome {
    registry_outcome(
        &RegistryLookup::new(client, reference),
        digest,
        index,
        keys,
        accept,
    )
}

/// [`verify_with`] over `lookup`, noting whether its deadline cut it off.
fn registry_outcome(
    lookup: &RegistryLookup<'_>,
    digest: &Digest<'_>,
    index: Option<&[u8]>,
    keys: &[TrustKey],
    accept: &[String],
) -> Outcome {
    let scope = Scope::Registry {
        reference: lookup.reference,
        accept,
    };
    let mut out = verify_with(lookup, digest, index, keys, &scope);
    if lookup.deadline_passed() && matches!(out.verdict, Verdict::NotSigned { .. }) {
        out.deadline_passed = true;
    }
    out
}

/// [`verify_index`] under an overall `deadline` for all its reads (the
/// `.sig` manifest and payloads, the bundle referrers, manifests and
/// blobs, token requests and retries included), so that a slow or silent
/// signature endpoint cannot hold the caller longer. When it passes, the
/// answer is [`Verdict::NotSigned`] with [`Outcome::deadline_passed`]
/// set, at the deadline: the reads run on a thread of their own, which
/// starts no request after the deadline and ends at its next read (each
/// bounded by the client's read timeout). A zero `deadline` is none.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use ocipick_registry::signature::{verify_within, TrustKey, Verdict};
/// use ocipick_registry::{Client, ClientOptions, Reference};
///
/// let client = Arc::new(Client::new(ClientOptions::default())?);
/// let key = TrustKey::from_pem("cosign.pub", &std::fs::read_to_string("cosign.pub")?)?;
/// let r: Reference = "registry.example.com/team/app:v1".parse()?;
/// let index = ocipick::Digest::parse(format!("sha256:{}", "a".repeat(64)))?;
/// let out = verify_within(&client, &r, &index, None, &[key], &[], Duration::from_secs(5));
/// if out.deadline_passed {
///     eprintln!("signature reads took over 5 s: treated as unsigned");
/// }
/// assert!(matches!(out.verdict, Verdict::Signed { .. } | Verdict::NotSigned { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_within(
    client: &Arc<Client>,
    reference: &Reference,
    digest: &Digest<'_>,
    index: Option<&[u8]>,
    keys: &[TrustKey],
    accept: &[String],
    deadline: Duration,
) -> Outcome {
    if deadline.is_zero() {
        return verify_index(client, reference, digest, index, keys, accept);
    }
    let until = Instant::now() + deadline;
    let sent = Arc::new(AtomicU32::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let job = {
        let (client, reference, sent) = (client.clone(), reference.clone(), sent.clone());
        let digest = digest.clone().into_owned();
        let index = index.map(<[u8]>::to_vec);
        let (keys, accept) = (keys.to_vec(), accept.to_vec());
        move || {
            let lookup = RegistryLookup::new(&client, &reference).counting_into(sent, until);
            let _ = tx.send(registry_outcome(
                &lookup,
                &digest,
                index.as_deref(),
                &keys,
                &accept,
            ));
        }
    };
    let spawned = std::thread::Builder::new()
        .name("ocipick-signature".into())
        .spawn(job);
    let result = match spawned {
        Ok(_) => rx.recv_timeout(deadline).ok(),
        // No thread: the reads run here, still refused past the deadline.
        Err(_) => {
            let lookup = RegistryLookup::new(client, reference).counting_into(sent.clone(), until);
            Some(registry_outcome(&lookup, digest, index, keys, accept))
        }
    };
    match result {
        Some(out) if !out.deadline_passed => out,
        // Cut off, in time or not: one reason either way.
        _ => Outcome {
            verdict: Verdict::NotSigned {
                reason: format!(
                    "the signature reads did not finish within the {} s deadline",
                    deadline.as_secs_f64()
                ),
            },
            requests: sent.load(Ordering::Relaxed),
            deadline_passed: true,
        },
    }
}

/// Verifies the index `digest` (its bytes `index` when known) against
/// `keys`, looking in `lookup`:
///
/// 1. cosign's tag scheme: the `sha256-<hex>.sig` manifest (one request;
///    a 404 when there is none), then its simple-signing payloads, one
///    request each until one verifies (usually one);
/// 2. only when that gave no valid signature: Sigstore bundle referrers
///    ([`crate::bundle`]): the referrers API (one request; a registry
///    without one answers 404 and the `sha256-<hex>` tag-schema index is
///    read instead, one more), then per bundle referrer its manifest and
///    bundle blob (two requests) until one verifies.
///
/// Never an error: every failure is a [`Verdict::NotSigned`] naming both
/// schemes' reasons.
pub fn verify_with(
    lookup: &dyn Lookup,
    digest: &Digest<'_>,
    index: Option<&[u8]>,
    keys: &[TrustKey],
    scope: &Scope<'_>,
) -> Outcome {
    let before = lookup.requests();
    let verdict = match verify_tag(lookup, digest, keys, scope) {
        Ok(key) => Verdict::Signed { key },
        Err(tag_reason) => match verify_bundles(lookup, digest, index, keys, scope) {
            Ok(key) => Verdict::Signed { key },
            Err(bundle_reason) => Verdict::NotSigned {
                reason: format!("{tag_reason}; {bundle_reason}"),
            },
        },
    };
    Outcome {
        verdict,
        requests: lookup.requests().saturating_sub(before),
        deadline_passed: false,
    }
}

fn verify_tag(
    lookup: &dyn Lookup,
    digest: &Digest<'_>,
    keys: &[TrustKey],
    scope: &Scope<'_>,
) -> Result<String, String> {
    let tag = signature_tag(digest).ok_or_else(|| format!("{digest} is not a sha256 digest"))?;
    let manifest = lookup
        .tagged(&tag, MAX_SIGNATURE_MANIFEST_BYTES)
        .map_err(|e| format!("{tag}: {e}"))?
        .ok_or_else(|| format!("no signature (no {tag} tag)"))?;
    let layers = parse_signature_manifest(&manifest).map_err(|e| format!("{tag}: {e}"))?;
    if layers.is_empty() {
        return Err(format!("{tag}: no simple-signing layer with a signature"));
    }
    let mut last = String::new();
    for l in layers {
        if l.size > MAX_PAYLOAD_BYTES {
            last = format!(
                "{tag}: a payload of {} bytes (limit {MAX_PAYLOAD_BYTES})",
                l.size
            );
            continue;
        }
        let payload = match lookup.blob(&l.digest, l.size) {
            Ok(p) => p,
            Err(e) => {
                last = format!("{tag}: payload {}: {e}", l.digest);
                continue;
            }
        };
        let Some(key) = keys.iter().find(|k| k.verifies(&payload, &l.signature)) else {
            last = format!("{tag}: no trusted key made its signature");
            continue;
        };
        match check_payload_in(&payload, digest, scope) {
            Ok(()) => return Ok(key.name().to_owned()),
            Err(e) => last = format!("{tag}: {e}"),
        }
    }
    Err(last)
}

fn verify_bundles(
    lookup: &dyn Lookup,
    digest: &Digest<'_>,
    index: Option<&[u8]>,
    keys: &[TrustKey],
    scope: &Scope<'_>,
) -> Result<String, String> {
    use crate::bundle::{parse_bundle, parse_bundle_manifest, verify_bundle, BUNDLE_ARTIFACT_TYPE};
    let referrers = lookup
        .referrers(digest, BUNDLE_ARTIFACT_TYPE)
        .map_err(|e| format!("bundle referrers: {e}"))?;
    if referrers.is_empty() {
        return Err("no Sigstore bundle referrer".into());
    }
    let mut last = String::new();
    for (d, size) in referrers {
        if size > MAX_SIGNATURE_MANIFEST_BYTES {
            last = format!("bundle referrer {d}: a manifest of {size} bytes (limit {MAX_SIGNATURE_MANIFEST_BYTES})");
            continue;
        }
        let attempt = || -> Result<String, String> {
            let manifest = lookup.manifest(&d, MAX_SIGNATURE_MANIFEST_BYTES)?;
            let layer = parse_bundle_manifest(&manifest, digest)?;
            let bytes = lookup.blob(&layer.digest, layer.size)?;
            let bundle = parse_bundle(&bytes).map_err(|e| e.to_string())?;
            verify_bundle(&bundle, keys, digest, index, scope).map_err(|e| e.to_string())
        };
        match attempt() {
            Ok(key) => return Ok(key),
            Err(e) => last = format!("bundle referrer {d}: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_layers() {
        let sig = base64::engine::general_purpose::STANDARD.encode([0x30, 0x06, 1, 2, 3, 4, 5, 6]);
        let m = format!(
            r#"{{"schemaVersion":2,"layers":[
              {{"mediaType":"application/octet-stream","digest":"sha256:{z}","size":1}},
              {{"mediaType":"{SIMPLE_SIGNING_MEDIA_TYPE}","digest":"sha256:{z}","size":3}},
              {{"mediaType":"{SIMPLE_SIGNING_MEDIA_TYPE}","digest":"sha256:{z}","size":2,
                "annotations":{{"{SIGNATURE_ANNOTATION}":"{sig}"}}}}]}}"#,
            z = "0".repeat(64)
        );
        let layers = parse_signature_manifest(m.as_bytes()).unwrap();
        assert_eq!(
            layers.len(),
            1,
            "only annotated simple-signing layers count"
        );
        assert_eq!((layers[0].size, layers[0].signature.len()), (2, 8));
        assert!(parse_signature_manifest(b"{\"schemaVersion\":2}").is_err());
        let bad = m.replace(&sig, "!!!");
        assert!(parse_signature_manifest(bad.as_bytes()).is_err());
    }

    #[test]
    fn payload_rules() {
        let d = Digest::sha256_of(b"x");
        let r: Reference = "docker.io/library/busybox:1".parse().unwrap();
        let p = |rf: &str, dg: &str, ty: &str| {
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"{rf}"}},"image":{{"docker-manifest-digest":"{dg}"}},"type":"{ty}"}}}}"#
            )
        };
        let ok = |rf: &str, dg: &str, ty: &str| check_payload(p(rf, dg, ty).as_bytes(), &d, &r);
        assert!(ok("index.docker.io/library/busybox", d.as_str(), PAYLOAD_TYPE).is_ok());
        assert!(ok("busybox", d.as_str(), PAYLOAD_TYPE).is_ok());
        assert!(ok("library/busybox2", d.as_str(), PAYLOAD_TYPE).is_err());
        let other = Digest::sha256_of(b"y");
        assert!(ok("busybox", other.as_str(), PAYLOAD_TYPE).is_err());
        assert!(ok("busybox", d.as_str(), "atomic container signature").is_err());
        assert!(ok(&format!("busybox@{d}"), d.as_str(), PAYLOAD_TYPE).is_err());
        assert!(check_payload(b"[]", &d, &r).is_err());
    }

    /// A registry that accepts connections and never answers: the
    /// deadline, not the 30 s read timeout, ends the verification, and the
    /// one request sent by then is counted.
    #[test]
    fn deadline_cuts_off_a_silent_registry() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let held = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_secs(3));
            drop(conn);
        });
        let client = Arc::new(
            Client::new(crate::ClientOptions {
                plain_http: [host.clone()].into(),
                retries: 0,
                auth_files: vec![],
                ..Default::default()
            })
            .unwrap(),
        );
        let r: Reference = format!("{host}/team/app:v1").parse().unwrap();
        let d = Digest::sha256_of(b"index");
        let began = Instant::now();
        let out = verify_within(&client, &r, &d, None, &[], &[], Duration::from_millis(300));
        let took = began.elapsed();
        assert!(out.deadline_passed, "{out:?}");
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(1500),
            "{took:?}"
        );
        assert!(
            matches!(&out.verdict, Verdict::NotSigned { reason } if reason.contains("0.3 s deadline")),
            "{out:?}"
        );
        assert_eq!(out.requests, 1);
        held.join().unwrap();
    }

    /// A deadline already passed: no request at all, neither for the tag
    /// scheme nor for the bundles, and the verdict says so.
    #[test]
    fn nothing_is_sent_past_the_deadline() {
        let client = Client::new(crate::ClientOptions {
            plain_http: ["127.0.0.1:1".to_owned()].into(),
            retries: 0,
            auth_files: vec![],
            ..Default::default()
        })
        .unwrap();
        let r: Reference = "127.0.0.1:1/team/app:v1".parse().unwrap();
        let lookup = RegistryLookup::new(&client, &r).until(Instant::now());
        let out = registry_outcome(&lookup, &Digest::sha256_of(b"i"), None, &[], &[]);
        assert!(out.deadline_passed, "{out:?}");
        assert_eq!(out.requests, 0);
        assert_eq!(client.stats().requests, 0);
        assert!(
            matches!(&out.verdict, Verdict::NotSigned { reason }
                if reason.contains("before fetching manifests/sha256-")
                    && reason.contains("before listing referrers")),
            "{out:?}"
        );
    }

    #[test]
    fn keys_from_pem() {
        assert!(TrustKey::from_pem(
            "k",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
        )
        .is_err());
        assert!(TrustKey::from_pem("k", "not pem").is_err());
    }
}
