//! `ocipick lint` on NFD image compatibility artifacts: the findings of
//! `ocipick::nfd::lint` for an artifact manifest given as a file, named by
//! a layout tag or a registry reference (its first layer, the
//! specification, fetched and linted too), and for every NFD artifact a
//! linted layout's `index.json` lists.

use ocipick::lint::Finding;
use ocipick::nfd;
use ocipick::{Descriptor, Digest};
use ocipick_registry::source::{Doc, Store as LibStore};
use serde_json::Value;

use crate::run::{Failure, Store};

/// The first layer's descriptor of an artifact manifest, if it has one
/// with a digest and a size.
fn first_layer(manifest: &[u8]) -> Option<Descriptor<'static>> {
    let v: Value = serde_json::from_slice(manifest).ok()?;
    let l = v.get("layers")?.as_array()?.first()?;
    let media = l.get("mediaType")?.as_str().unwrap_or("").to_owned();
    let digest = Digest::parse(l.get("digest")?.as_str()?.to_owned()).ok()?;
    Some(Descriptor::new(media, digest, l.get("size")?.as_u64()?))
}

/// The specification's bytes, from where the manifest came from.
fn spec_of(store: &Store, manifest: &[u8]) -> Result<Option<Vec<u8>>, Failure> {
    let Some(layer) = first_layer(manifest) else {
        return Ok(None);
    };
    let limit = nfd::MAX_SPEC_BYTES as u64;
    if layer.size > limit {
        // parse_spec refuses it; NFD006 says so without reading it.
        return Ok(Some(vec![0; nfd::MAX_SPEC_BYTES + 1]));
    }
    Ok(Some(match &store.0 {
        LibStore::Registry(client, r) => client.fetch_blob(r, &layer, limit)?,
        _ => store.fetch(&layer)?,
    }))
}

/// The NFD findings for what `lint` loaded, or `None` when it is not an
/// NFD artifact (then the index rules apply).
pub fn artifact_findings(
    doc: &Doc,
    store: Option<&Store>,
) -> Result<Option<Vec<Finding>>, Failure> {
    match doc {
        Doc::Bytes(b) if nfd::lint::is_nfd_artifact(b) => Ok(Some(nfd::lint::lint(b, None))),
        Doc::Single(d) => {
            let Some(store) = store else { return Ok(None) };
            let manifest = store.fetch(d)?;
            if !nfd::lint::is_nfd_artifact(&manifest) {
                return Ok(None);
            }
            let spec = spec_of(store, &manifest)?;
            Ok(Some(nfd::lint::lint(&manifest, spec.as_deref())))
        }
        _ => Ok(None),
    }
}

/// For a layout's `index.json` (`doc`): the findings of each NFD artifact
/// it lists, their paths prefixed with the entry's.
pub fn listed_artifacts(doc: &Doc, store: Option<&Store>) -> Result<Vec<Finding>, Failure> {
    let (Doc::Bytes(b), Some(store)) = (doc, store) else {
        return Ok(Vec::new());
    };
    if !matches!(store.0, LibStore::Layout(_)) {
        return Ok(Vec::new());
    }
    let Ok(v) = serde_json::from_slice::<Value>(b) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, e) in v["manifests"].as_array().into_iter().flatten().enumerate() {
        if e.get("artifactType").and_then(Value::as_str) != Some(nfd::ARTIFACT_TYPE) {
            continue;
        }
        let (Some(media), Some(digest), Some(size)) = (
            e.get("mediaType").and_then(Value::as_str),
            e.get("digest")
                .and_then(Value::as_str)
                .and_then(|d| Digest::parse(d.to_owned()).ok()),
            e.get("size").and_then(Value::as_u64),
        ) else {
            continue; // the index rules report a malformed descriptor
        };
        let d = Descriptor::new(media.to_owned(), digest, size);
        let manifest = store.fetch(&d)?;
        let spec = spec_of(store, &manifest)?;
        for mut f in nfd::lint::lint(&manifest, spec.as_deref()) {
            f.path = format!("manifests[{i}] ({}): {}", d.digest, f.path);
            out.push(f);
        }
    }
    Ok(out)
}
