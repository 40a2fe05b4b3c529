//! What a webhook client (the API server, or anyone reaching the port) can
//! send the admission webhook: arbitrary request bodies. `Review::parse`
//! never panics and refuses what is over the limit; a parsed review gets a
//! decision against a fixed inventory (every image given the same small
//! index, or an error, by the input's first byte) in which: the response
//! echoes the uid and re-parses as an AdmissionReview response; a refusal
//! has a message and code 403, an admission none; messages and warnings
//! carry no control characters and keep their length limits; every image
//! is judged once, in the review's order.
#![no_main]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use ocipick::fleet::Template;
use ocipick_host::admission::{self, ImageOutcome, Inventory, OnError, Review, ReviewError};
use ocipick_host::inventory;

fn inventory() -> &'static Inventory {
    static INV: OnceLock<Inventory> = OnceLock::new();
    INV.get_or_init(|| {
        let nodes = inventory::nodes_from_kubectl(&serde_json::json!({"items": [
            {"metadata": {"name": "arm-1", "labels": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64", "pool": "arm"}}},
            {"metadata": {"name": "amd-1", "labels": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "pool": "general"}}},
            {"metadata": {"name": "win-1", "labels": {"kubernetes.io/os": "windows", "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/windows-build": "10.0.20348"}}}]}))
        .unwrap();
        Inventory::new(nodes, &Template::new()).unwrap()
    })
}

fn index() -> Arc<ocipick::Index<'static>> {
    static IDX: OnceLock<Arc<ocipick::Index<'static>>> = OnceLock::new();
    IDX.get_or_init(|| {
        Arc::new(
            ocipick::Index::parse(
                br#"{"schemaVersion":2,"manifests":[
              {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
               "digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111",
               "platform":{"architecture":"amd64","os":"linux"}}]}"#,
            )
            .unwrap()
            .into_owned(),
        )
    })
    .clone()
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&mode, body)) = bytes.split_first() else {
        return;
    };
    let review = match Review::parse(body) {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(
                e == ReviewError::TooLarge,
                body.len() > admission::MAX_REVIEW_BYTES
            );
            assert!(matches!(e.http_status(), 400 | 413));
            return;
        }
    };
    assert!(!review.uid.is_empty() && review.uid.len() <= admission::MAX_UID_BYTES);
    let images = review.images();
    let mut fetched = BTreeMap::new();
    for (i, image) in images.iter().enumerate() {
        let got = if mode & 1 == 1 && i % 2 == 1 {
            Err(format!("{image}: HTTP 404\u{1b}[2J"))
        } else {
            Ok(index())
        };
        fetched.insert((*image).to_owned(), got);
    }
    let on_error = if mode & 2 == 2 {
        OnError::Deny
    } else {
        OnError::Allow
    };
    let d = admission::decide(&review, inventory(), &fetched, on_error);
    let judged: Vec<&str> = d.images.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(judged, images);
    if d.images
        .iter()
        .any(|(_, o)| matches!(o, ImageOutcome::NoFit(_)))
    {
        assert!(!d.allowed);
    }
    if on_error == OnError::Allow
        && d.images
            .iter()
            .all(|(_, o)| !matches!(o, ImageOutcome::NoFit(_)))
    {
        assert!(d.allowed);
    }
    assert_eq!(d.allowed, d.message.is_empty());
    assert!(d.message.chars().count() <= admission::MAX_MESSAGE_CHARS);
    assert!(!d.message.chars().any(char::is_control), "{:?}", d.message);
    for w in &d.warnings {
        assert!(w.chars().count() <= admission::MAX_WARNING_CHARS);
        assert!(!w.chars().any(char::is_control), "{w:?}");
    }
    let answer = review.response(&d);
    let text = serde_json::to_vec(&answer).unwrap();
    let back: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(back["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(back["kind"], "AdmissionReview");
    assert_eq!(back["response"]["uid"].as_str(), Some(review.uid.as_str()));
    assert_eq!(back["response"]["allowed"].as_bool(), Some(d.allowed));
    if !d.allowed {
        assert_eq!(back["response"]["status"]["code"], 403);
    }
});
