//! Cosign-format signatures made by an independent implementation, the
//! `openssl` command line (ECDSA P-256 / SHA-256, DER), over
//! simple-signing payloads written per cosign's SIGNATURE_SPEC.md, pushed
//! to the real registry under cosign's `sha256-<hex>.sig` tag the way
//! cosign stores them; and the demo index the trust tests select from.
//! The test crate including this names the shared modules `common` and
//! `registry_support`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::common::{OCI_INDEX, OCI_MANIFEST};
use crate::registry_support::Registry;

pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIG_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

fn openssl(args: &[&str]) -> std::process::Output {
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

/// Pushes a cosign-style signature manifest for the manifest `signed` (its
/// tag `sha256-<hex>.sig`): one simple-signing layer holding `payload`,
/// its annotation the base64 of `sig`.
pub fn push_signature(reg: &Registry, repo: &str, signed: &str, payload: &[u8], sig: &[u8]) {
    use base64::Engine as _;
    let (cd, cs) = reg.push_blob(repo, b"{}");
    let (pd, ps) = reg.push_blob(repo, payload);
    let m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{
            "mediaType": SIMPLE_SIGNING, "digest": pd, "size": ps,
            "annotations": {SIG_ANNOTATION: base64::engine::general_purpose::STANDARD.encode(sig)},
        }],
    });
    let tag = format!("sha256-{}.sig", signed.strip_prefix("sha256:").unwrap());
    reg.push_manifest(repo, &tag, OCI_MANIFEST, &serde_json::to_vec(&m).unwrap());
}

/// Signs `digest` of `repo` with `key` (openssl; its verdict checked with
/// `public`) and pushes the signature.
pub fn sign_and_push(reg: &Registry, dir: &Path, keys: (&Path, &Path), repo: &str, digest: &str) {
    let p = payload(&format!("{}/{repo}", reg.host()), digest);
    let sig = sign(dir, keys.0, &p);
    assert!(openssl_verifies(dir, keys.1, &p, &sig));
    push_signature(reg, repo, digest, &p, &sig);
}

/// The demo index: [plain linux/amd64, linux/arm64, linux/amd64 with the
/// GPU annotation]. Preferring the GPU annotation, the GPU entry wins
/// only when annotations count; on platform alone the plain one (first
/// match).
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
