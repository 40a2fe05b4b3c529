//! Sigstore bundles and their referrer manifests as a registry or a
//! layout could hold them: `ocipick_registry::bundle`'s bundle parser,
//! referrer-manifest parser, in-toto statement check and key-based
//! verification.
//!
//! Input: NUL-separated parts: a bundle, a bundle manifest, an in-toto
//! statement. Asserted: no panic; a parsed bundle has at most
//! `MAX_DSSE_SIGNATURES` signatures and a payload within
//! `MAX_STATEMENT_BYTES`; a parsed manifest's layer is within
//! `MAX_BUNDLE_BYTES`; a statement accepted for the fixed digest names
//! it in a subject; no bundle ever verifies with the fixed key (it signed
//! nothing), and a certificate bundle is always `Keyless`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocipick::Digest;
use ocipick_registry::bundle::{
    check_statement, parse_bundle, parse_bundle_manifest, verify_bundle, BundleError, Content,
    Material, MAX_BUNDLE_BYTES, MAX_DSSE_SIGNATURES, MAX_STATEMENT_BYTES,
};
use ocipick_registry::signature::{Scope, TrustKey};
use ocipick_registry::Reference;

/// A P-256 public key made once with openssl; its private key was
/// thrown away, so nothing the fuzzer writes verifies with it.
const KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOAOSe2oeI1h3WSq0ZSUwRAP05klP
57Yk+adadOj9dxKLMFc4D78xrkoqvAY6Hg4+vsHiVJtIKtct12c78uscsg==
-----END PUBLIC KEY-----";

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let bundle = parts.next().unwrap_or_default();
    let manifest = parts.next().unwrap_or_default();
    let statement = parts.next().unwrap_or_default();
    let digest = Digest::sha256_of(b"fuzz index");
    let reference: Reference = "registry.example.com/team/app:v1".parse().unwrap();
    let scope = Scope::Registry {
        reference: &reference,
        accept: &[],
    };
    let key = TrustKey::from_pem("fuzz", KEY).unwrap();
    if let Ok(b) = parse_bundle(bundle) {
        if let Content::Dsse {
            payload,
            signatures,
            ..
        } = &b.content
        {
            assert!(signatures.len() <= MAX_DSSE_SIGNATURES && !signatures.is_empty());
            assert!(payload.len() <= MAX_STATEMENT_BYTES);
        }
        let verdict = verify_bundle(&b, &[key], &digest, Some(b"fuzz index"), &scope);
        assert!(verdict.is_err(), "{verdict:?}");
        if b.material == Material::Certificate {
            assert_eq!(verdict, Err(BundleError::Keyless));
        }
    }
    if let Ok(l) = parse_bundle_manifest(manifest, &digest) {
        assert!(l.size <= MAX_BUNDLE_BYTES);
    }
    if check_statement(statement, &digest, &scope).is_ok() {
        let v: serde_json::Value = serde_json::from_slice(statement).unwrap();
        assert!(v["subject"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["digest"]["sha256"].as_str() == Some(digest.encoded())));
    }
});
