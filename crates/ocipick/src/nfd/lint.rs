//! Lint rules for NFD image compatibility artifacts: the artifact manifest
//! as NFD's client reads it (`pkg/client-nfd/compat/artifact-client`: the
//! referrers of the image filtered by artifact type, the newest by the
//! descriptor's `org.opencontainers.image.created` parsed as RFC 3339, the
//! manifest's first layer parsed as the specification) and the
//! specification as NFD's documentation defines it (`version`,
//! `compatibilities` with `rules`, `weight` — a Kubernetes node affinity
//! weight —, `tag`, `description`).
//!
//! Every finding has a stable ID, `NFD…`, and reuses
//! [`crate::lint::Finding`].
//!
//! ```
//! let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
//!   "config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,
//!     "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
//!   "layers":[]}"#;
//! let ids: Vec<&str> = ocipick::nfd::lint::lint(manifest, None).iter().map(|f| f.id).collect();
//! assert_eq!(ids, ["NFD001", "NFD003", "NFD005", "NFD007", "NFD011"]);
//! ```

use serde_json::Value;

use super::{eval_op, Expression, Spec, ARTIFACT_TYPE, CREATED, SPEC_MEDIA_TYPE};
use crate::lint::{Finding, Out, Severity};

/// Every rule: ID, severity, one-line description (for SARIF rule lists).
pub const RULES: &[(&str, Severity, &str)] = &[
    (
        "NFD001",
        Severity::Error,
        "artifactType is missing or not NFD's image compatibility type",
    ),
    (
        "NFD002",
        Severity::Warning,
        "the config is not the OCI empty descriptor",
    ),
    (
        "NFD003",
        Severity::Error,
        "the first layer is missing or not the specification media type",
    ),
    (
        "NFD004",
        Severity::Warning,
        "more than one layer (NFD reads only the first)",
    ),
    (
        "NFD005",
        Severity::Error,
        "no subject: the artifact is attached to no image",
    ),
    (
        "NFD006",
        Severity::Error,
        "the specification does not parse",
    ),
    (
        "NFD007",
        Severity::Warning,
        "no RFC 3339 org.opencontainers.image.created annotation",
    ),
    (
        "NFD008",
        Severity::Warning,
        "a weight outside Kubernetes' node affinity range 1-100",
    ),
    (
        "NFD009",
        Severity::Warning,
        "a compatibility set's tag is empty",
    ),
    (
        "NFD010",
        Severity::Error,
        "an expression NFD rejects (operator, values, pattern, number)",
    ),
    (
        "NFD011",
        Severity::Info,
        "the specification layer was not read",
    ),
    (
        "NFD012",
        Severity::Error,
        "the artifact is not an OCI image manifest",
    ),
    (
        "NFD013",
        Severity::Warning,
        "a compatibility set has no rules (it passes on every node)",
    ),
];

fn hint(id: &str) -> &'static str {
    match id {
        "NFD001" => "set \"artifactType\": \"application/vnd.nfd.image-compatibility.v1alpha1\" (NFD asks the referrers API for that type)",
        "NFD002" => "use the empty descriptor: mediaType application/vnd.oci.empty.v1+json, the 2-byte blob {}",
        "NFD003" => "make the specification the first layer, mediaType application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml",
        "NFD004" => "carry one specification per artifact; attach another artifact for another specification",
        "NFD005" => "attach the artifact to its image with subject (ocipick compat attach does)",
        "NFD006" => "fix the YAML at the line and column given; `ocipick compat validate-node FILE` reads it the same way",
        "NFD007" => "annotate org.opencontainers.image.created with an RFC 3339 time: NFD takes the newest artifact by it (NFD's own docs example misspells it oci.opencontainers…)",
        "NFD008" => "use a weight from 1 to 100, as preferredDuringSchedulingIgnoredDuringExecution takes",
        "NFD009" => "name the tag, or drop the field: `--tags` selects sets by a non-empty tag",
        "NFD010" => "fix the expression: NFD stops validating the node at it",
        "NFD011" => "lint the layout or the registry reference to check the specification too",
        "NFD012" => "an artifact is an image manifest, mediaType application/vnd.oci.image.manifest.v1+json",
        "NFD013" => "give the set its rules; a set without rules says nothing about the node",
        _ => "",
    }
}

/// Whether `doc` looks like an NFD artifact manifest: its `artifactType`
/// is NFD's, or a layer has the specification's media type.
pub fn is_nfd_artifact(doc: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(doc) else {
        return false;
    };
    v.get("artifactType").and_then(Value::as_str) == Some(ARTIFACT_TYPE)
        || v.get("layers").and_then(Value::as_array).is_some_and(|l| {
            l.iter()
                .any(|d| d.get("mediaType").and_then(Value::as_str) == Some(SPEC_MEDIA_TYPE))
        })
}

/// Lints an NFD artifact manifest and, when given, the bytes of its
/// first layer (the specification). Findings come errors first, then by
/// path.
pub fn lint(manifest: &[u8], spec: Option<&[u8]>) -> Vec<Finding> {
    let mut out = Out::new(RULES, hint);
    let v: Value = match serde_json::from_slice(manifest) {
        Ok(v) => v,
        Err(e) => {
            out.add("NFD012", ".".into(), format!("not JSON: {e}"));
            return out.found;
        }
    };
    let Some(top) = v.as_object() else {
        out.add("NFD012", ".".into(), "the document is not an object".into());
        return out.found;
    };
    match top.get("mediaType").and_then(Value::as_str) {
        Some(crate::media_type::OCI_MANIFEST) => {}
        Some(m) => out.add("NFD012", "mediaType".into(), format!("mediaType is {m}")),
        None => out.add("NFD012", "mediaType".into(), "mediaType is missing".into()),
    }
    match top.get("artifactType") {
        Some(Value::String(t)) if t == ARTIFACT_TYPE => {}
        Some(t) => out.add(
            "NFD001",
            "artifactType".into(),
            format!("artifactType is {t}"),
        ),
        None => out.add(
            "NFD001",
            "artifactType".into(),
            "artifactType is missing".into(),
        ),
    }
    let config_type = v.pointer("/config/mediaType").and_then(Value::as_str);
    let config_size = v.pointer("/config/size").and_then(Value::as_u64);
    if config_type != Some(super::artifact::EMPTY_MEDIA_TYPE) || config_size != Some(2) {
        out.add(
            "NFD002",
            "config".into(),
            format!("config is {}", top.get("config").unwrap_or(&Value::Null)),
        );
    }
    let layers = top.get("layers").and_then(Value::as_array);
    match layers.and_then(|l| l.first()) {
        None => out.add("NFD003", "layers".into(), "no layers".into()),
        Some(first) => {
            let t = first.get("mediaType").and_then(Value::as_str);
            if t != Some(SPEC_MEDIA_TYPE) {
                out.add(
                    "NFD003",
                    "layers[0].mediaType".into(),
                    format!(
                        "the first layer is a {}",
                        t.unwrap_or("layer without mediaType")
                    ),
                );
            }
        }
    }
    if let Some(l) = layers.filter(|l| l.len() > 1) {
        out.add("NFD004", "layers".into(), format!("{} layers", l.len()));
    }
    let subject_ok = top.get("subject").is_some_and(|s| {
        s.get("digest")
            .and_then(Value::as_str)
            .is_some_and(|d| crate::Digest::parse(d).is_ok())
            && s.get("mediaType").and_then(Value::as_str).is_some()
            && s.get("size").and_then(Value::as_u64).is_some()
    });
    if !subject_ok {
        let what = match top.get("subject") {
            None => "no subject".to_owned(),
            Some(s) => format!("subject is {s}"),
        };
        out.add("NFD005", "subject".into(), what);
    }
    let created_path = format!("annotations.{CREATED}");
    match top.get("annotations").and_then(|a| a.get(CREATED)) {
        Some(Value::String(c)) => {
            if let Err(e) = super::artifact::check_rfc3339(c) {
                out.add("NFD007", created_path, e);
            }
        }
        Some(other) => out.add("NFD007", created_path, format!("{CREATED} is {other}")),
        None => {
            let misspelt = top
                .get("annotations")
                .and_then(|a| a.get("oci.opencontainers.image.created"))
                .is_some();
            let extra = if misspelt {
                " (oci.opencontainers.image.created is there: misspelt)"
            } else {
                ""
            };
            out.add(
                "NFD007",
                created_path,
                format!("no {CREATED} annotation{extra}: NFD takes such an artifact as the oldest"),
            );
        }
    }
    match spec {
        None => out.add(
            "NFD011",
            "layers[0]".into(),
            "only the manifest was linted".into(),
        ),
        Some(bytes) => lint_spec_into(&mut out, bytes, "layers[0]"),
    }
    out.sorted()
}

/// Lints a specification alone (the layer's bytes): NFD006, NFD008,
/// NFD009, NFD010 and NFD013, their paths prefixed with `spec`.
pub fn lint_spec(bytes: &[u8]) -> Vec<Finding> {
    let mut out = Out::new(RULES, hint);
    lint_spec_into(&mut out, bytes, "spec");
    out.sorted()
}

fn lint_spec_into(out: &mut Out, bytes: &[u8], at: &str) {
    let spec: Spec = match super::parse_spec(bytes) {
        Ok(s) => s,
        Err(e) => {
            out.add("NFD006", at.to_owned(), e.0);
            return;
        }
    };
    for (i, c) in spec.compatibilities.iter().enumerate() {
        let p = format!("{at}: compatibilities[{i}]");
        if let Some(w) = c.weight {
            if !(1..=100).contains(&w) {
                out.add("NFD008", format!("{p}.weight"), format!("weight is {w}"));
            }
        }
        if c.tag.as_deref().is_some_and(|t| t.trim().is_empty()) {
            out.add("NFD009", format!("{p}.tag"), "the tag is empty".into());
        }
        if c.rules.is_empty() {
            out.add("NFD013", format!("{p}.rules"), "no rules".into());
        }
        for (j, r) in c.rules.iter().enumerate() {
            let rp = format!("{p}.rules[{j}]");
            let mut exprs: Vec<(String, &Expression)> = Vec::new();
            if let Some(m) = &r.match_features {
                collect(&mut exprs, m, format!("{rp}.matchFeatures"));
            }
            for (k, a) in r.match_any.iter().flatten().enumerate() {
                collect(
                    &mut exprs,
                    &a.match_features,
                    format!("{rp}.matchAny[{k}].matchFeatures"),
                );
            }
            for (path, e) in exprs {
                if let Err(why) = eval_op(e, false, None) {
                    out.add("NFD010", path, why);
                }
            }
        }
    }
}

/// The expressions of `terms`, with their paths under `path`.
fn collect<'s>(out: &mut Vec<(String, &'s Expression)>, terms: &'s [super::Term], path: String) {
    for (k, t) in terms.iter().enumerate() {
        let tp = format!("{path}[{k}]");
        for (name, e) in t.match_expressions.iter().flatten() {
            out.push((format!("{tp}.matchExpressions.{name}"), e));
        }
        if let Some(e) = &t.match_name {
            out.push((format!("{tp}.matchName"), e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    const SPEC: &[u8] = b"version: v1alpha1\ncompatibilities:\n- weight: 10\n  tag: gpu\n  rules:\n  - name: r\n    matchFeatures:\n    - feature: cpu.cpuid\n      matchExpressions:\n        AVX2: {op: Exists}\n";

    /// A clean artifact manifest (as `artifact::build` writes one).
    fn good() -> Value {
        let subject = crate::Descriptor::new(
            crate::media_type::OCI_MANIFEST,
            crate::Digest::sha256_of(b"image"),
            5,
        );
        let a = super::super::artifact::build(SPEC, &subject, "2025-01-01T00:00:00Z", &[]).unwrap();
        serde_json::from_slice(&a.manifest).unwrap()
    }

    fn ids(m: &Value, spec: Option<&[u8]>) -> Vec<&'static str> {
        lint(&serde_json::to_vec(m).unwrap(), spec)
            .iter()
            .map(|f| f.id)
            .collect()
    }

    fn spec_ids(spec: &str) -> Vec<&'static str> {
        lint_spec(spec.as_bytes()).iter().map(|f| f.id).collect()
    }

    #[test]
    fn a_built_artifact_is_clean() {
        assert_eq!(ids(&good(), Some(SPEC)), Vec::<&str>::new());
        assert!(is_nfd_artifact(&serde_json::to_vec(&good()).unwrap()));
        assert!(!is_nfd_artifact(br#"{"schemaVersion":2,"layers":[]}"#));
    }

    /// Each manifest rule, one change to a clean artifact at a time.
    #[test]
    fn manifest_rules() {
        type Change = fn(&mut Value);
        let cases: Vec<(&str, Change)> = vec![
            ("NFD001", |m| {
                m["artifactType"] = json!("application/vnd.example+json")
            }),
            ("NFD001", |m| {
                m.as_object_mut().unwrap().remove("artifactType");
            }),
            ("NFD002", |m| {
                m["config"]["mediaType"] = json!("application/vnd.oci.image.config.v1+json")
            }),
            ("NFD003", |m| {
                m["layers"][0]["mediaType"] = json!("application/yaml")
            }),
            ("NFD003", |m| m["layers"] = json!([])),
            ("NFD005", |m| {
                m.as_object_mut().unwrap().remove("subject");
            }),
            ("NFD005", |m| m["subject"] = json!({"digest": "sha256:x"})),
            ("NFD007", |m| m["annotations"] = json!({})),
            ("NFD007", |m| {
                m["annotations"] = json!({"org.opencontainers.image.created": "2025-01-01"})
            }),
            ("NFD012", |m| {
                m["mediaType"] = json!("application/vnd.oci.image.index.v1+json")
            }),
        ];
        for (id, change) in cases {
            let mut m = good();
            change(&mut m);
            assert_eq!(ids(&m, Some(SPEC)), [id], "{m}");
        }
        let mut m = good();
        let layer = m["layers"][0].clone();
        m["layers"] = json!([layer.clone(), layer]);
        assert_eq!(ids(&m, Some(SPEC)), ["NFD004"]);
        // NFD's docs example spells the key oci.opencontainers…: named.
        let mut m = good();
        m["annotations"] = json!({"oci.opencontainers.image.created": "2025-01-01T00:00:00Z"});
        let f = lint(&serde_json::to_vec(&m).unwrap(), Some(SPEC));
        assert!(f[0].message.contains("misspelt"), "{f:?}");
        assert_eq!(ids(&good(), None), ["NFD011"]);
        assert_eq!(lint(b"[1]", None)[0].id, "NFD012");
    }

    /// Each specification rule.
    #[test]
    fn spec_rules() {
        let spec = std::str::from_utf8(SPEC).unwrap();
        let e = lint(
            &serde_json::to_vec(&good()).unwrap(),
            Some(b"version: v1alpha1\ncompatibilities:\n- wieght: 1\n  rules: []\n"),
        );
        assert_eq!(e.iter().map(|f| f.id).collect::<Vec<_>>(), ["NFD006"]);
        assert!(e[0].message.contains("line 3 column"), "{e:?}");
        for (w, want) in [
            ("0", vec!["NFD008"]),
            ("101", vec!["NFD008"]),
            ("-5", vec!["NFD008"]),
            ("1", vec![]),
            ("100", vec![]),
        ] {
            assert_eq!(
                spec_ids(&spec.replace("weight: 10", &format!("weight: {w}"))),
                want,
                "{w}"
            );
        }
        assert_eq!(spec_ids(&spec.replace("tag: gpu", "tag: \"\"")), ["NFD009"]);
        assert_eq!(
            spec_ids(&spec.replace("tag: gpu", "tag: \" \"")),
            ["NFD009"]
        );
        assert_eq!(
            spec_ids(&spec.replace("{op: Exists}", "{op: Exist}")),
            ["NFD010"]
        );
        assert_eq!(
            spec_ids(&spec.replace("{op: Exists}", "{op: Gt, value: [a]}")),
            ["NFD010"]
        );
        assert_eq!(
            spec_ids(&spec.replace("{op: Exists}", "{op: InRegexp, value: [\"(\"]}")),
            ["NFD010"]
        );
        let f = lint_spec(spec.replace("{op: Exists}", "{op: In}").as_bytes());
        assert_eq!(
            f[0].path,
            "spec: compatibilities[0].rules[0].matchFeatures[0].matchExpressions.AVX2"
        );
        assert_eq!(
            spec_ids("version: v1alpha1\ncompatibilities:\n- rules: []\n"),
            ["NFD013"]
        );
    }

    #[test]
    fn every_rule_has_a_hint() {
        for (id, _, _) in RULES {
            assert!(!hint(id).is_empty(), "{id}");
        }
    }
}
