//! Signatures made independently of ocipick, for the trust tests: P-256
//! keys and ECDSA / SHA-256 DER signatures by the `openssl` command line,
//! over documents written here from their specifications:
//!
//! - cosign's simple-signing payload (cosign's SIGNATURE_SPEC.md);
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

use crate::common::{self, run_cmd, Run, OCI_INDEX};
use crate::registry_support::{Registry, GPU_KEY};

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
