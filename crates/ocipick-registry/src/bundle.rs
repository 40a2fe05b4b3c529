//! Key-based verification of Sigstore bundles attached to an index as
//! OCI referrers (cosign's "new bundle format", the default of cosign 3).
//!
//! Cosign stores a bundle as an image manifest whose `artifactType` is
//! [`BUNDLE_ARTIFACT_TYPE`], whose `subject` is the signed index and whose
//! one layer (same media type) is the bundle's JSON. The registry lists it
//! through the referrers API (`GET /v2/NAME/referrers/DIGEST`) or, without
//! one, the referrers tag schema (`sha256-<hex>`). The bundle itself
//! (sigstore protobuf-specs `Bundle`, JSON encoding) carries:
//!
//! - `verificationMaterial`: a `publicKey` hint (key-based signing: the
//!   key is delivered out of band, here the trust policy's keys), or an
//!   `x509CertificateChain` / `certificate` (keyless: a Fulcio
//!   certificate), plus transparency-log entries and timestamps;
//! - the signed content, one of
//!   - `dsseEnvelope`: a DSSE envelope whose payload is an in-toto
//!     statement. `cosign sign --new-bundle-format` writes one with
//!     `predicateType` [`COSIGN_SIGN_PREDICATE`] and one subject whose
//!     digest is the signed manifest's (no name); the signature is over
//!     [`pae`]`(payloadType, payload)`;
//!   - `messageSignature`: a signature over a message the bundle does not
//!     carry; here the message must be the index's own bytes (what
//!     `cosign sign-blob --new-bundle-format` of the index file makes), and
//!     its `messageDigest` must be the fetched index digest.
//!
//! A bundle counts only when it is key-based and a trusted key verifies it
//! **and** it names exactly the fetched index digest. A certificate-only
//! (keyless) bundle is [`BundleError::Keyless`]: Fulcio chains and Rekor
//! inclusion are not verified here, so it is never a pass. Transparency
//! log entries and timestamps of a key-based bundle are read past, not
//! verified (the key alone decides).
//!
//! What a bundle binds: the digest. A DSSE statement's subject may carry a
//! `name`; when it does it must be the repository (the same rule as a
//! simple-signing docker-reference, [`crate::signature::Scope`]). Cosign
//! writes none, so such a bundle binds no repository: the same signed
//! bytes verify in any repository they are copied to.
//!
//! Parsing is strict (serde, unknown fields and duplicate fields refused,
//! as protojson does for these versions) and bounded: the bundle is read
//! at most [`MAX_BUNDLE_BYTES`], the statement at most
//! [`MAX_STATEMENT_BYTES`], at most [`MAX_DSSE_SIGNATURES`] signatures.
//!
//! ```
//! use ocipick_registry::bundle::{pae, parse_bundle, Content, Material};
//! assert_eq!(pae("t", b"hello"), b"DSSEv1 1 t 5 hello".to_vec());
//! let b = parse_bundle(br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",
//!   "verificationMaterial":{"publicKey":{"hint":"k1"}},
//!   "dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json",
//!                   "signatures":[{"sig":"MEUC","keyid":""}]}}"#)?;
//! assert!(matches!(b.material, Material::PublicKey { .. }));
//! let Content::Dsse { payload, .. } = &b.content else { unreachable!() };
//! assert_eq!(payload, b"{}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use ocipick::Digest;
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::signature::{Scope, TrustKey};

/// The `artifactType` (and layer media type) of a bundle referrer.
pub const BUNDLE_ARTIFACT_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The bundle media types read (`mediaType` inside the bundle): v0.3 and
/// the older spellings sigstore clients still accept.
pub const BUNDLE_MEDIA_TYPES: [&str; 3] = [
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
];
/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto statement types read.
pub const STATEMENT_TYPES: [&str; 2] = [
    "https://in-toto.io/Statement/v1",
    "https://in-toto.io/Statement/v0.1",
];
/// The predicate type of a cosign image signature (`cosign sign`).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// The largest bundle (layer blob) read.
pub const MAX_BUNDLE_BYTES: u64 = 128 * 1024;
/// The largest decoded DSSE payload (in-toto statement) accepted.
pub const MAX_STATEMENT_BYTES: usize = 32 * 1024;
/// The most DSSE signatures tried.
pub const MAX_DSSE_SIGNATURES: usize = 8;
/// The longest base64 signature accepted (a DER P-256 signature is at
/// most 72 bytes; room for other algorithms' sizes to be refused cleanly).
const MAX_SIGNATURE_B64: usize = 1024;

/// Why a bundle does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleError {
    /// Not a bundle this reader accepts (bad JSON, unknown field or
    /// version, a limit passed).
    Malformed(String),
    /// A certificate (keyless) bundle: unverifiable with the configured
    /// keys.
    Keyless,
    /// No trusted key made its signature.
    NoTrustedKey,
    /// Verified, but it signs something else (another digest, predicate
    /// or repository).
    Other(String),
}

impl std::fmt::Display for BundleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BundleError::Malformed(e) => write!(f, "not a usable Sigstore bundle: {e}"),
            BundleError::Keyless => f.write_str(
                "a keyless (certificate) bundle: unverifiable with the configured keys (Fulcio and Rekor are not checked)",
            ),
            BundleError::NoTrustedKey => f.write_str("no trusted key made its signature"),
            BundleError::Other(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for BundleError {}

/// How a bundle says it may be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// Key-based: a key delivered out of band; the hint is unauthenticated
    /// and only shown.
    PublicKey {
        /// The signer's hint, if any.
        hint: Option<String>,
    },
    /// Keyless: an X.509 certificate or chain (not verified here).
    Certificate,
}

/// What a bundle signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A signature over a message the bundle does not carry.
    Message {
        /// `messageDigest`: algorithm name and raw digest, if given.
        digest: Option<(String, Vec<u8>)>,
        /// The signature (DER for ECDSA).
        signature: Vec<u8>,
    },
    /// A DSSE envelope.
    Dsse {
        /// `payloadType`.
        payload_type: String,
        /// The decoded payload.
        payload: Vec<u8>,
        /// The decoded signatures, at most [`MAX_DSSE_SIGNATURES`].
        signatures: Vec<Vec<u8>>,
    },
}

/// A parsed bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Its `mediaType` (one of [`BUNDLE_MEDIA_TYPES`]).
    pub media_type: String,
    /// Its verification material.
    pub material: Material,
    /// Its signed content.
    pub content: Content,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    #[serde(alias = "verification_material")]
    verification_material: RawMaterial,
    #[serde(default, alias = "message_signature")]
    message_signature: Option<RawMessage>,
    #[serde(default, alias = "dsse_envelope")]
    dsse_envelope: Option<RawEnvelope>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMaterial {
    #[serde(default, alias = "public_key")]
    public_key: Option<RawKeyId>,
    #[serde(default, alias = "x509_certificate_chain")]
    x509_certificate_chain: Option<IgnoredAny>,
    #[serde(default)]
    certificate: Option<IgnoredAny>,
    #[serde(default, alias = "tlog_entries")]
    tlog_entries: Option<IgnoredAny>,
    #[serde(default, alias = "timestamp_verification_data")]
    timestamp_verification_data: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyId {
    #[serde(default)]
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMessage {
    #[serde(default, alias = "message_digest")]
    message_digest: Option<RawHash>,
    signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHash {
    #[serde(default)]
    algorithm: Option<String>,
    digest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope {
    payload: String,
    #[serde(rename = "payloadType", alias = "payload_type")]
    payload_type: String,
    signatures: Vec<RawSignature>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    sig: String,
    #[serde(default)]
    keyid: Option<String>,
}

/// Base64 as protojson writes and reads `bytes`: the standard or URL-safe
/// alphabet, padded or not.
fn b64(s: &str, max_decoded: usize, what: &str) -> Result<Vec<u8>, BundleError> {
    if s.len() > max_decoded.div_ceil(3) * 4 + 4 {
        return Err(BundleError::Malformed(format!(
            "{what}: {} base64 characters (limit {max_decoded} bytes decoded)",
            s.len()
        )));
    }
    let cfg = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let std = GeneralPurpose::new(&base64::alphabet::STANDARD, cfg);
    let url = GeneralPurpose::new(&base64::alphabet::URL_SAFE, cfg);
    let bytes = std
        .decode(s)
        .or_else(|_| url.decode(s))
        .map_err(|e| BundleError::Malformed(format!("{what} is not base64: {e}")))?;
    if bytes.len() > max_decoded {
        return Err(BundleError::Malformed(format!(
            "{what}: {} bytes (limit {max_decoded})",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Parses a bundle's JSON (at most [`MAX_BUNDLE_BYTES`]): exactly one
/// kind of verification material and one kind of content, a known media
/// type, every field of the expected type, no unknown or repeated field.
pub fn parse_bundle(bytes: &[u8]) -> Result<Bundle, BundleError> {
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(BundleError::Malformed(format!(
            "{} bytes (limit {MAX_BUNDLE_BYTES})",
            bytes.len()
        )));
    }
    let raw: RawBundle =
        serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed(e.to_string()))?;
    if !BUNDLE_MEDIA_TYPES.contains(&raw.media_type.as_str()) {
        return Err(BundleError::Malformed(format!(
            "media type {:?} is not a Sigstore bundle version read here",
            raw.media_type
        )));
    }
    let m = raw.verification_material;
    let _ = (m.tlog_entries, m.timestamp_verification_data);
    let material = match (
        m.public_key,
        m.x509_certificate_chain.is_some(),
        m.certificate.is_some(),
    ) {
        (Some(k), false, false) => Material::PublicKey {
            hint: k.hint.filter(|h| !h.is_empty()),
        },
        (None, true, false) | (None, false, true) => Material::Certificate,
        (None, false, false) => {
            return Err(BundleError::Malformed(
                "no verification material (publicKey, x509CertificateChain or certificate)".into(),
            ))
        }
        _ => {
            return Err(BundleError::Malformed(
                "more than one kind of verification material".into(),
            ))
        }
    };
    let content = match (raw.message_signature, raw.dsse_envelope) {
        (Some(m), None) => Content::Message {
            digest: match m.message_digest {
                Some(h) => Some((
                    h.algorithm.unwrap_or_default(),
                    b64(&h.digest, 64, "messageDigest.digest")?,
                )),
                None => None,
            },
            signature: b64(
                &m.signature,
                MAX_SIGNATURE_B64,
                "messageSignature.signature",
            )?,
        },
        (None, Some(e)) => {
            if e.signatures.is_empty() {
                return Err(BundleError::Malformed(
                    "the DSSE envelope has no signature".into(),
                ));
            }
            if e.signatures.len() > MAX_DSSE_SIGNATURES {
                return Err(BundleError::Malformed(format!(
                    "{} DSSE signatures (limit {MAX_DSSE_SIGNATURES})",
                    e.signatures.len()
                )));
            }
            let mut signatures = Vec::with_capacity(e.signatures.len());
            for s in &e.signatures {
                let _ = &s.keyid;
                signatures.push(b64(&s.sig, MAX_SIGNATURE_B64, "a DSSE signature")?);
            }
            Content::Dsse {
                payload: b64(&e.payload, MAX_STATEMENT_BYTES, "the DSSE payload")?,
                payload_type: e.payload_type,
                signatures,
            }
        }
        (None, None) => {
            return Err(BundleError::Malformed(
                "no content (messageSignature or dsseEnvelope)".into(),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(BundleError::Malformed(
                "both messageSignature and dsseEnvelope".into(),
            ))
        }
    };
    Ok(Bundle {
        media_type: raw.media_type,
        material,
        content,
    })
}

/// DSSE's pre-authentication encoding, the bytes a DSSE signature is
/// over: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in
/// ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Checks an in-toto statement: a known statement type, cosign's sign
/// predicate, and a subject whose digest names exactly `digest` (same
/// algorithm, same encoded value). A `name` on that subject must be a
/// repository `scope` accepts; without one the statement binds no
/// repository.
pub fn check_statement(
    payload: &[u8],
    digest: &Digest<'_>,
    scope: &Scope<'_>,
) -> Result<(), String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Statement {
        #[serde(rename = "_type")]
        ty: String,
        subject: Vec<Subject>,
        #[serde(rename = "predicateType")]
        predicate_type: String,
        #[serde(default)]
        predicate: Option<IgnoredAny>,
    }
    #[derive(Deserialize)]
    struct Subject {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        digest: BTreeMap<String, String>,
    }
    if payload.len() > MAX_STATEMENT_BYTES {
        return Err(format!(
            "a statement of {} bytes (limit {MAX_STATEMENT_BYTES})",
            payload.len()
        ));
    }
    let s: Statement = serde_json::from_slice(payload)
        .map_err(|e| format!("the DSSE payload is not an in-toto statement: {e}"))?;
    let _ = s.predicate;
    if !STATEMENT_TYPES.contains(&s.ty.as_str()) {
        return Err(format!("the statement's _type is {:?}", s.ty));
    }
    if s.predicate_type != COSIGN_SIGN_PREDICATE {
        return Err(format!(
            "the statement's predicateType is {:?}, not a cosign signature ({COSIGN_SIGN_PREDICATE})",
            s.predicate_type
        ));
    }
    let Some(subject) = s
        .subject
        .iter()
        .find(|x| x.digest.get(digest.algorithm()).map(String::as_str) == Some(digest.encoded()))
    else {
        let named: Vec<String> = s
            .subject
            .iter()
            .flat_map(|x| x.digest.iter().map(|(a, v)| format!("{a}:{v}")))
            .take(3)
            .collect();
        return Err(format!(
            "the statement is for {}, not the index fetched ({digest})",
            if named.is_empty() {
                "no digest".to_owned()
            } else {
                named.join(", ")
            }
        ));
    };
    match subject.name.as_deref() {
        None | Some("") => Ok(()),
        Some(name) => scope.check_repository(name),
    }
}

/// Verifies a parsed bundle for the index `digest` (whose bytes are
/// `index`, when known: a `messageSignature` is verified over them) with
/// `keys`; the name of the key that verified it.
///
/// ```
/// use ocipick_registry::bundle::{parse_bundle, verify_bundle, BundleError};
/// use ocipick_registry::signature::Scope;
/// let b = parse_bundle(br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",
///   "verificationMaterial":{"certificate":{"rawBytes":"MIIB"}},
///   "messageSignature":{"signature":"MEUC"}}"#)?;
/// let d = ocipick::Digest::sha256_of(b"{}");
/// let scope = Scope::Local { accept: &[] };
/// assert_eq!(verify_bundle(&b, &[], &d, Some(b"{}"), &scope), Err(BundleError::Keyless));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_bundle(
    bundle: &Bundle,
    keys: &[TrustKey],
    digest: &Digest<'_>,
    index: Option<&[u8]>,
    scope: &Scope<'_>,
) -> Result<String, BundleError> {
    if bundle.material == Material::Certificate {
        return Err(BundleError::Keyless);
    }
    match &bundle.content {
        Content::Message {
            digest: named,
            signature,
        } => {
            let Some(index) = index else {
                return Err(BundleError::Other(
                    "a messageSignature bundle needs the index bytes, which this source does not give"
                        .into(),
                ));
            };
            let key = keys
                .iter()
                .find(|k| k.verifies(index, signature))
                .ok_or(BundleError::NoTrustedKey)?;
            // The signature is over the bytes fetched, so it binds their
            // digest; a messageDigest naming another one is refused all
            // the same (the bundle contradicts itself).
            if let Some((alg, raw)) = named {
                let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                if alg != "SHA2_256" || digest.algorithm() != "sha256" || hex != digest.encoded() {
                    return Err(BundleError::Other(format!(
                        "the bundle's messageDigest is {alg} {hex}, not the index fetched ({digest})"
                    )));
                }
            }
            Ok(key.name().to_owned())
        }
        Content::Dsse {
            payload_type,
            payload,
            signatures,
        } => {
            if payload_type != IN_TOTO_PAYLOAD_TYPE {
                return Err(BundleError::Other(format!(
                    "the DSSE payload type is {payload_type:?}, not {IN_TOTO_PAYLOAD_TYPE:?}"
                )));
            }
            let message = pae(payload_type, payload);
            let key = keys
                .iter()
                .find(|k| signatures.iter().any(|s| k.verifies(&message, s)))
                .ok_or(BundleError::NoTrustedKey)?;
            check_statement(payload, digest, scope).map_err(BundleError::Other)?;
            Ok(key.name().to_owned())
        }
    }
}

/// The bundle layer a referrer manifest points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleLayer {
    /// The bundle blob's digest.
    pub digest: Digest<'static>,
    /// Its declared size.
    pub size: u64,
}

/// Reads a bundle referrer's manifest: `artifactType` is
/// [`BUNDLE_ARTIFACT_TYPE`], its `subject` is exactly `subject` (the
/// index fetched), and its first layer is a bundle of at most
/// [`MAX_BUNDLE_BYTES`].
pub fn parse_bundle_manifest(bytes: &[u8], subject: &Digest<'_>) -> Result<BundleLayer, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Manifest {
        #[serde(default)]
        artifact_type: Option<String>,
        layers: Vec<Layer>,
        #[serde(default)]
        subject: Option<Layer>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Layer {
        media_type: String,
        digest: String,
        size: u64,
    }
    let m: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| format!("the bundle manifest is not an image manifest: {e}"))?;
    if m.artifact_type.as_deref() != Some(BUNDLE_ARTIFACT_TYPE) {
        return Err(format!(
            "the referrer's artifactType is {:?}, not {BUNDLE_ARTIFACT_TYPE}",
            m.artifact_type
        ));
    }
    match &m.subject {
        Some(s) if s.digest == subject.as_str() => {}
        Some(s) => {
            return Err(format!(
                "the bundle manifest's subject is {}, not the index fetched ({subject})",
                s.digest
            ))
        }
        None => return Err("the bundle manifest has no subject".into()),
    }
    let l = m.layers.first().ok_or("the bundle manifest has no layer")?;
    if !BUNDLE_MEDIA_TYPES.contains(&l.media_type.as_str()) {
        return Err(format!(
            "the bundle layer's media type is {:?}",
            l.media_type
        ));
    }
    if l.size > MAX_BUNDLE_BYTES {
        return Err(format!(
            "a bundle of {} bytes (limit {MAX_BUNDLE_BYTES})",
            l.size
        ));
    }
    let digest =
        Digest::parse(l.digest.clone()).map_err(|e| format!("layer digest {:?}: {e}", l.digest))?;
    Ok(BundleLayer {
        digest,
        size: l.size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn bundle(material: &str, content: &str) -> String {
        format!(
            r#"{{"mediaType":"{BUNDLE_ARTIFACT_TYPE}","verificationMaterial":{material},{content}}}"#
        )
    }

    #[test]
    fn strict_shapes() {
        let key = r#"{"publicKey":{"hint":"h"},"tlogEntries":[{"logIndex":"1"}]}"#;
        let msg = r#""messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AAAA"},"signature":"MEUC"}"#;
        assert!(parse_bundle(bundle(key, msg).as_bytes()).is_ok());
        // Unknown field, duplicate field, two contents, no material,
        // unknown version: all malformed.
        let bad = [
            bundle(key, &format!("{msg},\"extra\":1")),
            bundle(key, &format!("{msg},{msg}")),
            bundle(
                key,
                &format!(
                    r#"{msg},"dsseEnvelope":{{"payload":"","payloadType":"x","signatures":[{{"sig":"AA"}}]}}"#
                ),
            ),
            bundle("{}", msg),
            bundle(key, msg).replace("v0.3", "v9.9"),
            bundle(r#"{"publicKey":{},"certificate":{"rawBytes":"AA"}}"#, msg),
            bundle(
                key,
                r#""dsseEnvelope":{"payload":"","payloadType":"x","signatures":[]}"#,
            ),
            bundle(key, r#""messageSignature":{"signature":"!!"}"#),
        ];
        for b in bad {
            assert!(
                matches!(parse_bundle(b.as_bytes()), Err(BundleError::Malformed(_))),
                "{b}"
            );
        }
        let big = format!(
            "{{\"mediaType\":\"{}\"}}",
            "x".repeat(MAX_BUNDLE_BYTES as usize)
        );
        assert!(matches!(
            parse_bundle(big.as_bytes()),
            Err(BundleError::Malformed(_))
        ));
        let cert = parse_bundle(
            bundle(
                r#"{"x509CertificateChain":{"certificates":[{"rawBytes":"AA"}]}}"#,
                msg,
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(cert.material, Material::Certificate);
        // URL-safe and unpadded base64 read as protojson does.
        let url = bundle(key, r#""messageSignature":{"signature":"-_8"}"#);
        let Content::Message { signature, .. } = parse_bundle(url.as_bytes()).unwrap().content
        else {
            panic!()
        };
        assert_eq!(signature, vec![0xfb, 0xff]);
    }

    #[test]
    fn statements() {
        let d = Digest::sha256_of(b"index");
        let r: crate::Reference = "registry.example.com/team/app:v1".parse().unwrap();
        let scope = Scope::Registry {
            reference: &r,
            accept: &[],
        };
        let st = |subject: &str, pred: &str| {
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{subject}],"predicateType":"{pred}","predicate":{{}}}}"#
            )
        };
        let ok = format!(r#"{{"digest":{{"sha256":"{}"}}}}"#, d.encoded());
        assert!(check_statement(st(&ok, COSIGN_SIGN_PREDICATE).as_bytes(), &d, &scope).is_ok());
        let other = format!(
            r#"{{"digest":{{"sha256":"{}"}}}}"#,
            Digest::sha256_of(b"x").encoded()
        );
        assert!(check_statement(st(&other, COSIGN_SIGN_PREDICATE).as_bytes(), &d, &scope).is_err());
        assert!(check_statement(
            st(&ok, "https://slsa.dev/provenance/v1").as_bytes(),
            &d,
            &scope
        )
        .is_err());
        let named = |n: &str| {
            format!(
                r#"{{"name":"{n}","digest":{{"sha256":"{}"}}}}"#,
                d.encoded()
            )
        };
        assert!(check_statement(
            st(
                &named("registry.example.com/team/app"),
                COSIGN_SIGN_PREDICATE
            )
            .as_bytes(),
            &d,
            &scope
        )
        .is_ok());
        assert!(check_statement(
            st(
                &named("registry.example.com/team/other"),
                COSIGN_SIGN_PREDICATE
            )
            .as_bytes(),
            &d,
            &scope
        )
        .is_err());
        assert!(check_statement(b"{\"_type\":1}", &d, &scope).is_err());
    }

    #[test]
    fn manifests() {
        let d = Digest::sha256_of(b"index");
        let z = "0".repeat(64);
        let m = |at: &str, subject: &str, size: u64| {
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"{at}",
                "config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:{z}","size":2}},
                "layers":[{{"mediaType":"{BUNDLE_ARTIFACT_TYPE}","digest":"sha256:{z}","size":{size}}}],
                "subject":{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{subject}","size":1}}}}"#
            )
        };
        let l =
            parse_bundle_manifest(m(BUNDLE_ARTIFACT_TYPE, d.as_str(), 10).as_bytes(), &d).unwrap();
        assert_eq!(l.size, 10);
        assert!(parse_bundle_manifest(m("application/x", d.as_str(), 10).as_bytes(), &d).is_err());
        let other = Digest::sha256_of(b"other");
        assert!(
            parse_bundle_manifest(m(BUNDLE_ARTIFACT_TYPE, other.as_str(), 10).as_bytes(), &d)
                .is_err()
        );
        assert!(parse_bundle_manifest(
            m(BUNDLE_ARTIFACT_TYPE, d.as_str(), MAX_BUNDLE_BYTES + 1).as_bytes(),
            &d
        )
        .is_err());
    }

    #[test]
    fn pae_vector() {
        // The DSSE protocol document's example: PAE("http://example.com/HelloWorld", "hello world").
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        let _ = STANDARD.encode(b"");
    }
}
