//! Sigstore bundles as signatures, and signatures stored in OCI layouts.
//!
//! Bundles are written here from sigstore's protobuf-specs and cosign's
//! BUNDLE_SPEC.md and signed by the `openssl` command line (the DSSE
//! signature over the PAE bytes, a messageSignature over the index's
//! bytes), never by ocipick; openssl's own verdict is checked on each.
//! In the registry they are attached the way cosign attaches them to a
//! registry without the referrers API (the CNCF distribution registry
//! 2.8 has none): a bundle manifest whose subject is the index, listed in
//! the referrers tag-schema index `sha256-<hex>`. The demo index and its
//! GPU preference are support/signing.rs's: the GPU entry wins only when
//! the annotations are honoured.

mod common;
#[path = "support/referrers_api.rs"]
mod referrers_api;
#[path = "support/registry.rs"]
mod registry_support;
#[path = "support/signing.rs"]
mod signing;

use std::path::Path;

use common::{OCI_INDEX, OCI_MANIFEST};
use registry_support::{Access, Registry};
use serde_json::{json, Value};
use signing::{
    assert_honoured, assert_ignored, attach, b64, dsse_bundle, keyless_bundle, keypair,
    message_bundle, openssl_verifies, payload, push_demo, select, sign, statement, subject,
    BUNDLE_TYPE, EMPTY_TYPE, SIGN_PREDICATE,
};

#[test]
fn bundles_in_a_registry() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key_a, pub_a) = keypair(d, "a");
    let (key_b, pub_b) = keypair(d, "b");
    let host = reg.host();
    let trust_a = ["--trust-key", pub_a.to_str().unwrap()];

    // A DSSE bundle by A over cosign's statement for the index: honoured,
    // at the cost seen in the registry's own log.
    let signed = push_demo(&reg, "team/bundled", "v1", "s");
    let (bundle, pae, sig) = dsse_bundle(d, &key_a, &statement(&signed.index));
    assert!(openssl_verifies(d, &pub_a, &pae, &sig));
    let bundle_manifest = attach(
        &reg,
        "team/bundled",
        &subject(&reg, "team/bundled", "v1"),
        &bundle,
    );
    let src = format!("{host}/team/bundled:v1");
    let before = reg.log_mark();
    let v = assert_honoured(&select(&src, &trust_a), &signed, &pub_a);
    let seen: Vec<String> = reg.ocipick_since(before).iter().map(Access::line).collect();
    let hex = signed.index.strip_prefix("sha256:").unwrap();
    let expected_tail = [
        format!("GET /v2/team/bundled/manifests/sha256-{hex}.sig 404"),
        format!(
            "GET /v2/team/bundled/referrers/{}?artifactType=application%2Fvnd.dev.sigstore.bundle.v0.3%2Bjson 404",
            signed.index
        ),
        format!("GET /v2/team/bundled/manifests/sha256-{hex} 200"),
        format!("GET /v2/team/bundled/manifests/{bundle_manifest} 200"),
    ];
    for e in &expected_tail {
        assert!(seen.contains(e), "{e} not in {seen:?}");
    }
    assert!(
        seen.iter()
            .any(|s| s.starts_with("GET /v2/team/bundled/blobs/sha256:") && s.ends_with(" 200")),
        "{seen:?}"
    );
    assert_eq!(v["trust"]["requests"], json!(5), "{v:#} {seen:?}");
    assert_eq!(v["registry"]["signatureRequests"], json!(5));
    assert_eq!(
        seen.len() as u64,
        v["registry"]["requests"].as_u64().unwrap(),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 6, "the index GET and five signature requests");

    // A bundle whose statement names another index (a replay of an older
    // index's bundle): the signature is good, openssl agrees, its claim is
    // not.
    let replay = push_demo(&reg, "team/replay", "v1", "r");
    let older = push_demo(&reg, "team/replay", "old", "o");
    let (bundle, pae, sig) = dsse_bundle(d, &key_a, &statement(&older.index));
    assert!(openssl_verifies(d, &pub_a, &pae, &sig));
    attach(
        &reg,
        "team/replay",
        &subject(&reg, "team/replay", "v1"),
        &bundle,
    );
    assert_ignored(
        &select(&format!("{host}/team/replay:v1"), &trust_a),
        &replay,
        "not the index fetched",
    );

    // Signed by B, trusted A: openssl agrees it is not A's.
    let by_b = push_demo(&reg, "team/bundle-b", "v1", "b");
    let (bundle, pae, sig) = dsse_bundle(d, &key_b, &statement(&by_b.index));
    assert!(!openssl_verifies(d, &pub_a, &pae, &sig) && openssl_verifies(d, &pub_b, &pae, &sig));
    attach(
        &reg,
        "team/bundle-b",
        &subject(&reg, "team/bundle-b", "v1"),
        &bundle,
    );
    let src_b = format!("{host}/team/bundle-b:v1");
    assert_ignored(&select(&src_b, &trust_a), &by_b, "no trusted key");
    assert_honoured(
        &select(&src_b, &["--trust-key", pub_b.to_str().unwrap()]),
        &by_b,
        &pub_b,
    );

    // Keyless (a certificate, no key): never a pass, even though the
    // envelope's signature is by the trusted key.
    let keyless = push_demo(&reg, "team/keyless", "v1", "k");
    let b = keyless_bundle(d, &key_a, &statement(&keyless.index));
    attach(
        &reg,
        "team/keyless",
        &subject(&reg, "team/keyless", "v1"),
        &b,
    );
    let src_k = format!("{host}/team/keyless:v1");
    assert_ignored(&select(&src_k, &trust_a), &keyless, "keyless");
    select(
        &src_k,
        &[
            "--trust-key",
            pub_a.to_str().unwrap(),
            "--on-unsigned",
            "refuse",
        ],
    )
    .expect(3)
    .stderr_has("unverifiable with the configured keys");

    // A messageSignature over the index's own bytes: honoured.
    let msg = push_demo(&reg, "team/message", "v1", "m");
    let bytes = reg.get_manifest("team/message", "v1");
    let (b, sig) = message_bundle(d, &key_a, &bytes);
    assert!(openssl_verifies(d, &pub_a, &bytes, &sig));
    attach(
        &reg,
        "team/message",
        &subject(&reg, "team/message", "v1"),
        &b,
    );
    assert_honoured(
        &select(&format!("{host}/team/message:v1"), &trust_a),
        &msg,
        &pub_a,
    );

    // Malformed (an unknown field, as protojson refuses) and oversized
    // (a bundle layer over 128 KiB) bundles: the documented reasons, no
    // annotation honoured.
    let bad = push_demo(&reg, "team/bad-bundle", "v1", "x");
    let (b, _, _) = dsse_bundle(d, &key_a, &statement(&bad.index));
    let mut v: Value = serde_json::from_slice(&b).unwrap();
    v["unexpected"] = json!(true);
    attach(
        &reg,
        "team/bad-bundle",
        &subject(&reg, "team/bad-bundle", "v1"),
        &serde_json::to_vec(&v).unwrap(),
    );
    assert_ignored(
        &select(&format!("{host}/team/bad-bundle:v1"), &trust_a),
        &bad,
        "not a usable Sigstore bundle",
    );
    let big = push_demo(&reg, "team/big-bundle", "v1", "g");
    let (b, _, _) = dsse_bundle(d, &key_a, &statement(&big.index));
    let mut v: Value = serde_json::from_slice(&b).unwrap();
    v["verificationMaterial"]["tlogEntries"] = json!(["x".repeat(130 * 1024)]);
    attach(
        &reg,
        "team/big-bundle",
        &subject(&reg, "team/big-bundle", "v1"),
        &serde_json::to_vec(&v).unwrap(),
    );
    assert_ignored(
        &select(&format!("{host}/team/big-bundle:v1"), &trust_a),
        &big,
        "(limit 131072)",
    );
    let _ = SIGN_PREDICATE;
}

/// A registry with the referrers API (the loopback server of
/// support/referrers_api.rs, holding the real registry's bytes): the
/// bundle is found in one listing request, the listing's other artifact
/// (an SBOM) is filtered out here and never fetched.
#[test]
fn bundles_through_the_referrers_api() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key_a, pub_a) = keypair(d, "a");
    let (key_b, _) = keypair(d, "b");
    let trust_a = ["--trust-key", pub_a.to_str().unwrap()];
    let mut content = referrers_api::Content::default();
    let mut add = |repo: &str, demo: &signing::Demo, key: &Path| {
        let index = reg.get_manifest(repo, "v1");
        content.manifest(repo, "v1", OCI_INDEX, &index);
        content.manifest(repo, &demo.index, OCI_INDEX, &index);
        let (bundle, pae, sig) = dsse_bundle(d, key, &statement(&demo.index));
        assert_eq!(
            openssl_verifies(d, &pub_a, &pae, &sig),
            key == key_a.as_path()
        );
        let bd = common::sha256(&bundle);
        content.blob(repo, &bd, &bundle);
        let m = serde_json::to_vec(&signing::bundle_manifest(
            &subject(&reg, repo, "v1"),
            (&bd, bundle.len() as u64),
            (&common::sha256(b"{}"), 2),
        ))
        .unwrap();
        let md = common::sha256(&m);
        content.manifest(repo, &md, OCI_MANIFEST, &m);
        let sbom = common::sha256(b"an sbom manifest");
        let listing = json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": sbom, "size": 16, "artifactType": "application/spdx+json"},
                {"mediaType": OCI_MANIFEST, "digest": md, "size": m.len(), "artifactType": BUNDLE_TYPE},
            ],
        });
        content.referrers(repo, &demo.index, &serde_json::to_vec(&listing).unwrap());
        (md, bd, sbom)
    };
    let good = push_demo(&reg, "team/api", "v1", "a");
    let (md, bd, sbom) = add("team/api", &good, &key_a);
    let wrong = push_demo(&reg, "team/api-b", "v1", "b");
    add("team/api-b", &wrong, &key_b);
    // An unsigned index on the same server: the API lists no referrer.
    let none = push_demo(&reg, "team/api-none", "v1", "n");
    let bytes = reg.get_manifest("team/api-none", "v1");
    content.manifest("team/api-none", "v1", OCI_INDEX, &bytes);
    let empty = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []});
    content.referrers(
        "team/api-none",
        &none.index,
        &serde_json::to_vec(&empty).unwrap(),
    );
    let server = referrers_api::Server::start(content);
    let host = server.host();

    let v = assert_honoured(
        &select(&format!("{host}/team/api:v1"), &trust_a),
        &good,
        &pub_a,
    );
    let hex = good.index.strip_prefix("sha256:").unwrap();
    assert_eq!(
        server.log(),
        vec![
            "GET /v2/team/api/manifests/v1 200".to_owned(),
            format!("GET /v2/team/api/manifests/sha256-{hex}.sig 404"),
            format!(
                "GET /v2/team/api/referrers/{}?artifactType=application%2Fvnd.dev.sigstore.bundle.v0.3%2Bjson 200",
                good.index
            ),
            format!("GET /v2/team/api/manifests/{md} 200"),
            format!("GET /v2/team/api/blobs/{bd} 200"),
        ]
    );
    assert!(!server.log().iter().any(|l| l.contains(&sbom)));
    assert_eq!(v["trust"]["requests"], json!(4), "{v:#}");
    assert_eq!(v["registry"]["requests"], json!(5));

    assert_ignored(
        &select(&format!("{host}/team/api-b:v1"), &trust_a),
        &wrong,
        "no trusted key",
    );
    let r = select(&format!("{host}/team/api-none:v1"), &trust_a);
    assert_ignored(&r, &none, "no Sigstore bundle referrer");
    assert_eq!(
        r.json()["trust"]["requests"],
        json!(2),
        "unsigned with the API: the .sig 404 and the empty listing"
    );
}

/// Writes an OCI layout at `dir` holding `blobs` and `index.json` with
/// `entries`.
fn layout(dir: &Path, blobs: &[&[u8]], entries: &[Value]) {
    let b = dir.join("blobs/sha256");
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    for blob in blobs {
        let d = common::sha256(blob);
        std::fs::write(b.join(d.strip_prefix("sha256:").unwrap()), blob).unwrap();
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn desc(media_type: &str, bytes: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": common::sha256(bytes), "size": bytes.len()})
}

fn tagged(mut d: Value, tag: &str) -> Value {
    d["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    d
}

/// Signatures stored beside the index in an OCI layout: cosign's
/// `sha256-<hex>.sig` manifest tagged so in `index.json` (as `skopeo
/// copy` of the signature tag writes it), and a bundle referrer as an
/// `index.json` entry. Verified with no request at all.
#[test]
fn signatures_in_a_layout() {
    let reg = Registry::anonymous();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (key_a, pub_a) = keypair(d, "a");
    let (key_b, _pub_b) = keypair(d, "b");
    let trust_a = ["--trust-key", pub_a.to_str().unwrap()];
    let demo = push_demo(&reg, "team/local", "v1", "l");
    let index = reg.get_manifest("team/local", "v1");
    assert_eq!(common::sha256(&index), demo.index);
    let index_entry = tagged(desc(OCI_INDEX, &index), "v1");
    let hex = demo.index.strip_prefix("sha256:").unwrap().to_owned();

    // Unsigned layout: annotations ignored (before, a layout was not
    // verified at all and its annotations counted).
    let plain = d.join("unsigned");
    layout(&plain, &[&index], std::slice::from_ref(&index_entry));
    let src = format!("oci:{}:v1", plain.display());
    let r = select(&src, &trust_a);
    assert_ignored(&r, &demo, "no signature");
    assert_eq!(r.json()["trust"]["requests"], json!(0));

    // The simple-signing signature manifest, tagged sha256-<hex>.sig.
    let p = payload("registry.example/team/local", &demo.index);
    let sig = sign(d, &key_a, &p);
    assert!(openssl_verifies(d, &pub_a, &p, &sig));
    let sig_manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": desc("application/vnd.oci.image.config.v1+json", b"{}"),
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": common::sha256(&p), "size": p.len(),
            "annotations": {"dev.cosignproject.cosign/signature": b64(&sig)},
        }],
    }))
    .unwrap();
    let signed = d.join("signed");
    layout(
        &signed,
        &[&index, &p, b"{}", &sig_manifest],
        &[
            index_entry.clone(),
            tagged(
                desc(OCI_MANIFEST, &sig_manifest),
                &format!("sha256-{hex}.sig"),
            ),
        ],
    );
    let src = format!("oci:{}:v1", signed.display());
    let v = assert_honoured(&select(&src, &trust_a), &demo, &pub_a);
    assert_eq!(v["trust"]["requests"], json!(0));
    // A repository policy the signature's docker-reference is outside of:
    // not accepted for a layout either.
    assert_ignored(
        &select(
            &src,
            &[
                "--trust-key",
                pub_a.to_str().unwrap(),
                "--trust-repository",
                "other.example/*",
            ],
        ),
        &demo,
        "names repository",
    );

    // The same layout as an oci-archive (tar of the directory).
    let tar = d.join("signed.tar");
    let o = std::process::Command::new("tar")
        .args([
            "-cf",
            tar.to_str().unwrap(),
            "-C",
            signed.to_str().unwrap(),
            ".",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_honoured(
        &select(&format!("oci-archive:{}:v1", tar.display()), &trust_a),
        &demo,
        &pub_a,
    );

    // A bundle referrer as an untagged index.json entry.
    let bundled = |key: &Path, name: &str| {
        let (bundle, _, _) = dsse_bundle(d, key, &statement(&demo.index));
        let m = serde_json::to_vec(&signing::bundle_manifest(
            &desc(OCI_INDEX, &index),
            (&common::sha256(&bundle), bundle.len() as u64),
            (&common::sha256(b"{}"), 2),
        ))
        .unwrap();
        let dir = d.join(name);
        let mut entry = desc(OCI_MANIFEST, &m);
        entry["artifactType"] = json!(BUNDLE_TYPE);
        layout(
            &dir,
            &[&index, &bundle, b"{}", &m],
            &[index_entry.clone(), entry],
        );
        format!("oci:{}:v1", dir.display())
    };
    let v = assert_honoured(
        &select(&bundled(&key_a, "bundle-a"), &trust_a),
        &demo,
        &pub_a,
    );
    assert_eq!(v["trust"]["requests"], json!(0));
    assert_ignored(
        &select(&bundled(&key_b, "bundle-b"), &trust_a),
        &demo,
        "no trusted key",
    );
    let _ = EMPTY_TYPE;
}
