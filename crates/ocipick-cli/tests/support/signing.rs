//! Signatures made independently of ocipick, for the trust tests: P-256
//! keys and ECDSA / SHA-256 DER signatures by the `openssl` command line,
//! over documents written here from their specifications:
//!
//! - cosign's simple-signing payload (cosign's SIGNATURE_SPEC.md), and
//!   the signature manifest cosign stores it in under the
//!   `sha256-<hex>.sig` tag;
//! - a Sigstore bundle (sigstore protobuf-specs `Bundle`, JSON encoding)
//!   holding a DSSE envelope (DSSE protocol: the signature is over
//!   `PAE(payloadType, payload)` = `"DSSEv1" SP LEN(type) SP type SP
//!   LEN(body) SP body`) whose payload is the in-toto statement cosign 3
//!   writes for `cosign sign` (predicate `https://sigstore.dev/cosign/sign/v1`,
//!   one subject naming the digest), or a `messageSignature`;
//! - the bundle referrer manifest of cosign's BUNDLE_SPEC.md
//!   (`artifactType` = layer media type = the bundle's, `subject` = the
//!   signed index).
//!
//! `openssl_verifies` gives openssl's own verdict on each signature.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::{self, run_cmd, Run, OCI_INDEX, OCI_MANIFEST};
use crate::registry_support::{Registry, GPU_KEY};

/// The layer media type of a simple-signing payload.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 DER signature.
pub const SIG_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The bundle referrer's artifactType and layer media type.
pub const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The in-toto DSSE payload type.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
/// Cosign's image-signature predicate.
pub const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// The OCI empty descriptor's media type and content.
pub const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";

pub fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs")
}

/// A P-256 key pair made by openssl: (private key, public key PEM file).
pub fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    let o = openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        key.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    let o = openssl(&[
        "ec",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    (key, public)
}

/// Cosign's simple-signing payload for `digest` of `docker_reference`.
pub fn payload(docker_reference: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .unwrap()
}

/// openssl's DER ECDSA signature over `data`.
pub fn sign(dir: &Path, key: &Path, data: &[u8]) -> Vec<u8> {
    let input = dir.join("to-sign");
    let out = dir.join("sig.der");
    std::fs::write(&input, data).unwrap();
    let o = openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        key.to_str().unwrap(),
        "-out",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    std::fs::read(out).unwrap()
}

/// openssl's own verdict on `sig` over `data` with the public key `public`.
pub fn openssl_verifies(dir: &Path, public: &Path, data: &[u8], sig: &[u8]) -> bool {
    let input = dir.join("to-verify");
    let s = dir.join("sig-to-verify.der");
    std::fs::write(&input, data).unwrap();
    std::fs::write(&s, sig).unwrap();
    openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        public.to_str().unwrap(),
        "-signature",
        s.to_str().unwrap(),
        input.to_str().unwrap(),
    ])
    .status
    .success()
}

/// Pushes a cosign-style signature manifest for the manifest `signed`
/// (its tag `sha256-<hex>.sig`): one simple-signing layer holding
/// `payload`, its annotation the base64 of `sig`. `extra` is merged into
/// the manifest's annotations (to make it large).
pub fn push_signature(
    reg: &Registry,
    repo: &str,
    signed: &str,
    payload: &[u8],
    sig: &[u8],
    extra: Option<&str>,
) {
    let (cd, cs) = reg.push_blob(repo, b"{}");
    let (pd, ps) = reg.push_blob(repo, payload);
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{
            "mediaType": SIMPLE_SIGNING, "digest": pd, "size": ps,
            "annotations": {SIG_ANNOTATION: b64(sig)},
        }],
    });
    if let Some(x) = extra {
        m["annotations"] = json!({"padding": x});
    }
    let tag = format!("sha256-{}.sig", signed.strip_prefix("sha256:").unwrap());
    reg.push_manifest(repo, &tag, OCI_MANIFEST, &serde_json::to_vec(&m).unwrap());
}

/// Signs the manifest `digest` of `repo` as cosign does (a payload naming
/// the registry's repository, openssl's signature with `keys.0`, its
/// verdict checked with `keys.1`) and pushes the signature.
pub fn sign_and_push(reg: &Registry, dir: &Path, keys: (&Path, &Path), repo: &str, digest: &str) {
    let p = payload(&format!("{}/{repo}", reg.host()), digest);
    let sig = sign(dir, keys.0, &p);
    assert!(openssl_verifies(dir, keys.1, &p, &sig));
    push_signature(reg, repo, digest, &p, &sig, None);
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The in-toto statement `cosign sign` (new bundle format) signs for
/// `digest` (`sha256:<hex>`): one subject, no name.
pub fn statement(digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": hex}}],
        "predicateType": SIGN_PREDICATE,
        "predicate": {},
    }))
    .unwrap()
}

/// DSSE's pre-authentication encoding, written from the DSSE protocol.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

/// A key-based bundle holding a DSSE envelope of `statement`, signed
/// with `key` by openssl; also returns the PAE bytes and the signature
/// (for openssl's verdict).
pub fn dsse_bundle(dir: &Path, key: &Path, statement: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let pae = pae(IN_TOTO, statement);
    let sig = sign(dir, key, &pae);
    let bundle = json!({
        "mediaType": BUNDLE_TYPE,
        "verificationMaterial": {"publicKey": {"hint": "test-key"}},
        "dsseEnvelope": {
            "payload": b64(statement),
            "payloadType": IN_TOTO,
            "signatures": [{"sig": b64(&sig), "keyid": ""}],
        },
    });
    (serde_json::to_vec(&bundle).unwrap(), pae, sig)
}

/// A key-based `messageSignature` bundle over `message` (the index's
/// bytes), its messageDigest their SHA-256.
pub fn message_bundle(dir: &Path, key: &Path, message: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let sig = sign(dir, key, message);
    let digest = common::sha256(message);
    let raw: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&digest[7 + 2 * i..9 + 2 * i], 16).unwrap())
        .collect();
    let bundle = json!({
        "mediaType": BUNDLE_TYPE,
        "verificationMaterial": {"publicKey": {}},
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(&raw)},
            "signature": b64(&sig),
        },
    });
    (serde_json::to_vec(&bundle).unwrap(), sig)
}

/// A keyless bundle: a certificate as its only verification material
/// (the bytes need not be a real certificate: it is never looked at), the
/// DSSE envelope signed by `key` all the same.
pub fn keyless_bundle(dir: &Path, key: &Path, statement: &[u8]) -> Vec<u8> {
    let (b, _, _) = dsse_bundle(dir, key, statement);
    let mut v: Value = serde_json::from_slice(&b).unwrap();
    v["verificationMaterial"] = json!({
        "certificate": {"rawBytes": b64(b"not a real certificate")},
        "tlogEntries": [],
    });
    serde_json::to_vec(&v).unwrap()
}

/// The bundle referrer manifest of `subject` (a descriptor of the
/// index) whose layer is the bundle blob (`digest`, `size`), config the
/// empty descriptor (`empty` = its digest and size).
pub fn bundle_manifest(subject: &Value, layer: (&str, u64), empty: (&str, u64)) -> Value {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": BUNDLE_TYPE,
        "config": {"mediaType": EMPTY_TYPE, "digest": empty.0, "size": empty.1},
        "layers": [{"mediaType": BUNDLE_TYPE, "digest": layer.0, "size": layer.1}],
        "subject": subject,
        "annotations": {
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": SIGN_PREDICATE,
        },
    })
}

/// The index descriptor of `repo:tag` (the bundle manifest's subject).
pub fn subject(reg: &Registry, repo: &str, tag: &str) -> Value {
    let bytes = reg.get_manifest(repo, tag);
    json!({"mediaType": OCI_INDEX, "digest": common::sha256(&bytes), "size": bytes.len()})
}

/// Attaches `bundle` to `subject` as cosign does on a registry without
/// the referrers API: the bundle blob, the empty config, the bundle
/// manifest by digest, and the tag-schema index `sha256-<hex>` listing
/// it. Returns the bundle manifest's digest.
pub fn attach(reg: &Registry, repo: &str, subject: &Value, bundle: &[u8]) -> String {
    let empty = reg.push_blob(repo, b"{}");
    let (bd, bs) = reg.push_blob(repo, bundle);
    let m = bundle_manifest(subject, (&bd, bs), (&empty.0, empty.1));
    let d = reg.push_by_digest(repo, OCI_MANIFEST, &m);
    let listing = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": d["digest"], "size": d["size"],
                       "artifactType": BUNDLE_TYPE}],
    });
    let hex = subject["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap();
    reg.push_manifest(
        repo,
        &format!("sha256-{hex}"),
        OCI_INDEX,
        &serde_json::to_vec(&listing).unwrap(),
    );
    d["digest"].as_str().unwrap().to_owned()
}

/// The demo index: [plain linux/amd64, linux/arm64, linux/amd64 with the
/// GPU annotation]; preferring the GPU annotation picks `gpu` only when
/// the annotations are honoured, `plain` (first match) otherwise.
pub struct Demo {
    pub plain: String,
    pub gpu: String,
    pub index: String,
}

pub fn push_demo(reg: &Registry, repo: &str, tag: &str, label: &str) -> Demo {
    let plain = reg.push_image(
        repo,
        &format!("plain-{label}"),
        Some("linux/amd64"),
        &[],
        false,
    );
    let arm = reg.push_image(
        repo,
        &format!("arm-{label}"),
        Some("linux/arm64"),
        &[],
        false,
    );
    let gpu = reg.push_gpu_image(repo, &format!("gpu-{label}"), false);
    let index = reg.push_index(repo, tag, OCI_INDEX, &[plain.clone(), arm, gpu.clone()]);
    let d = |v: &Value| v["digest"].as_str().unwrap().to_owned();
    Demo {
        plain: d(&plain),
        gpu: d(&gpu),
        index,
    }
}

/// `ocipick select` for linux/amd64 preferring the GPU annotation, with
/// `trust` flags, JSON output, over plain HTTP from the first request (so
/// that the request figures equal the registry's access log).
pub fn select(src: &str, trust: &[&str]) -> Run {
    let host = src.split('/').next().unwrap();
    let mut args = vec![
        "select",
        "--no-config",
        "-p",
        "linux/amd64",
        "--prefer",
        GPU_KEY,
        "-o",
        "json",
    ];
    if !src.starts_with('/') && !src.starts_with("oci") {
        args.extend(["--plain-http", host]);
    }
    args.extend_from_slice(trust);
    args.push(src);
    let mut c = common::cmd(&args);
    c.env("DOCKER_CONFIG", "/nonexistent/ocipick-signature-tests");
    run_cmd(c)
}

/// Asserts the annotations were ignored: first match wins, and the JSON
/// says so with `reason_has` in the reason.
#[track_caller]
pub fn assert_ignored(r: &Run, demo: &Demo, reason_has: &str) {
    let v = r.expect(0).json();
    assert_eq!(
        v["digest"],
        json!(demo.plain),
        "annotations must not count: {r:#?}"
    );
    assert_eq!(v["trust"]["signed"], json!(false));
    assert_eq!(v["trust"]["annotationsIgnored"], json!(true));
    assert_eq!(v["trust"]["digest"], json!(demo.index));
    let reason = v["trust"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(reason_has),
        "{reason:?} lacks {reason_has:?}"
    );
    assert!(
        v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str().unwrap().contains("annotations ignored")),
        "{v:#}"
    );
}

/// Asserts the signature was honoured: the GPU entry wins.
#[track_caller]
pub fn assert_honoured(r: &Run, demo: &Demo, key: &Path) -> Value {
    let v = r.expect(0).json();
    assert_eq!(v["digest"], json!(demo.gpu), "{r:#?}");
    assert_eq!(v["trust"]["signed"], json!(true));
    assert_eq!(v["trust"]["key"], json!(key.display().to_string()));
    assert_eq!(v["trust"]["annotationsIgnored"], json!(false));
    v
}
