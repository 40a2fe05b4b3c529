//! NFD image compatibility artifacts for the integration tests: the media
//! types node-feature-discovery defines, the testdata/nfd files, and the
//! artifact manifest as NFD (and `ocipick compat attach`) writes it.

#![allow(dead_code)]

use serde_json::{json, Value};

/// The artifact type of an NFD image compatibility artifact.
pub const ARTIFACT_TYPE: &str = "application/vnd.nfd.image-compatibility.v1alpha1";
/// The media type of its one YAML layer.
pub const SPEC_TYPE: &str = "application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml";
/// The empty descriptor's media type (its config).
pub const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The annotation the newest artifact is chosen by.
pub const CREATED: &str = "org.opencontainers.image.created";

/// The path of `testdata/nfd/REL`.
pub fn testdata(rel: &str) -> String {
    format!("{}/../../testdata/nfd/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// The artifact manifest for the YAML layer `layer` (digest, size) with
/// the empty config `config` (digest, size), attached to `subject` (a
/// descriptor), created at `created`.
pub fn manifest(layer: (&str, u64), config: (&str, u64), subject: &Value, created: &str) -> Value {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_TYPE, "digest": config.0, "size": config.1},
        "layers": [{"mediaType": SPEC_TYPE, "digest": layer.0, "size": layer.1}],
        "subject": {"mediaType": subject["mediaType"], "digest": subject["digest"], "size": subject["size"]},
        "annotations": {"org.opencontainers.image.created": created},
    })
}

/// `descriptor` (of an artifact manifest) as a referrers listing gives
/// it: with its artifact type and created annotation.
pub fn referrer(mut descriptor: Value, created: &str) -> Value {
    descriptor["artifactType"] = json!(ARTIFACT_TYPE);
    descriptor["annotations"] = json!({"org.opencontainers.image.created": created});
    descriptor
}
