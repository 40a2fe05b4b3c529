//! Authoring NFD image compatibility artifacts: a specification read from
//! YAML (NFD's own format) or TOML (the same structure spelled in TOML),
//! validated as [`parse_spec`] validates a layer, and the OCI artifact
//! manifest that carries it, attached to an image through `subject`; and
//! the referrers tag schema index (`sha256-<hex>`) that lets clients find
//! it on registries without the referrers API.
//!
//! Pure: bytes in, bytes out. Writing them to a layout or a registry is
//! ocipick-registry's.
//!
//! ```
//! use ocipick::nfd::artifact::{self, Format};
//! use ocipick::{Descriptor, Digest};
//!
//! let toml = br#"
//! version = "v1alpha1"
//! [[compatibilities]]
//! description = "AVX-512 build"
//! weight = 10
//! [[compatibilities.rules]]
//! name = "cpu"
//! [[compatibilities.rules.matchFeatures]]
//! feature = "cpu.cpuid"
//! matchExpressions = { AVX512F = { op = "Exists" } }
//! "#;
//! let authored = artifact::author(toml, Format::Toml).unwrap();
//! assert_eq!(authored.spec.compatibilities[0].weight, Some(10));
//! let image = br#"{"schemaVersion":2}"#;
//! let subject = Descriptor::new(
//!     ocipick::media_type::OCI_MANIFEST,
//!     Digest::sha256_of(image),
//!     image.len() as u64,
//! );
//! let a = artifact::build(&authored.yaml, &subject, "2025-01-02T03:04:05Z", &[]).unwrap();
//! let m: serde_json::Value = serde_json::from_slice(&a.manifest).unwrap();
//! assert_eq!(m["artifactType"], ocipick::nfd::ARTIFACT_TYPE);
//! assert_eq!(m["subject"]["digest"], subject.digest.as_str());
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use super::{parse_spec, Spec, SpecError, ARTIFACT_TYPE, CREATED, MAX_SPEC_BYTES, SPEC_MEDIA_TYPE};
use crate::{Descriptor, Digest};

/// The OCI empty descriptor's media type (image-spec 1.1, manifest.md).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The OCI empty descriptor's content, `{}`.
pub const EMPTY_CONTENT: &[u8] = b"{}";
/// The largest source file (YAML or TOML) [`author`] reads.
pub const MAX_SOURCE_BYTES: usize = MAX_SPEC_BYTES;
/// The most entries a referrers tag schema index may hold for
/// [`add_to_referrers_index`] to add one more.
pub const MAX_REFERRERS: usize = 10_000;

/// How a specification source is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// NFD's own format: the bytes become the layer as they are.
    Yaml,
    /// The same structure in TOML: the layer is its YAML serialization.
    Toml,
}

impl Format {
    /// By a file name's extension: `.toml` is TOML, anything else YAML.
    pub fn of_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("toml") => Format::Toml,
            _ => Format::Yaml,
        }
    }
}

/// A specification ready to be the artifact's layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Authored {
    /// What it says.
    pub spec: Spec,
    /// The layer's bytes: a YAML source byte for byte (comments, key order
    /// and the `rules` shape the author chose are kept), a TOML source's
    /// YAML serialization.
    pub yaml: Vec<u8>,
}

/// Reads a specification source and checks it as a layer is checked
/// ([`parse_spec`]: size, `version`, number of expressions, unknown
/// fields); for TOML the YAML it becomes is read back and must say the
/// same. Errors name the line and column where the parser gives them.
pub fn author(bytes: &[u8], format: Format) -> Result<Authored, SpecError> {
    if bytes.len() > MAX_SOURCE_BYTES {
        return Err(SpecError(format!(
            "{} bytes, more than the {MAX_SOURCE_BYTES} read",
            bytes.len()
        )));
    }
    match format {
        Format::Yaml => Ok(Authored {
            spec: parse_spec(bytes)?,
            yaml: bytes.to_vec(),
        }),
        Format::Toml => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| SpecError(format!("TOML is UTF-8, and this is not: {e}")))?;
            let spec: Spec = toml::from_str(text).map_err(|e| SpecError(toml_error(&e, text)))?;
            let value = serde_json::to_value(&spec)
                .map_err(|e| SpecError(format!("writing the YAML layer: {e}")))?;
            let mut yaml = String::new();
            emit_map(
                &mut yaml,
                value.as_object().expect("a Spec is an object"),
                0,
            );
            let back = parse_spec(yaml.as_bytes())?;
            if back != spec {
                return Err(SpecError(
                    "the YAML written for this TOML does not read back the same".into(),
                ));
            }
            Ok(Authored {
                spec,
                yaml: yaml.into_bytes(),
            })
        }
    }
}

/// Block YAML whose every string is double-quoted, so that YAML 1.1
/// parsers (NFD's: sigs.k8s.io/yaml on go-yaml v2) and YAML 1.2 ones read
/// the same thing: a plain `y`, `on`, `no`, `1_000`, `1:20` or
/// `2001-01-01` is a boolean, number or time to YAML 1.1, a string to
/// YAML 1.2.
fn emit_map(out: &mut String, map: &serde_json::Map<String, serde_json::Value>, indent: usize) {
    for (i, (k, v)) in map.iter().enumerate() {
        // The first key of a sequence item follows its `- `.
        if i > 0 || out.is_empty() || out.ends_with('\n') {
            push_indent(out, indent);
        }
        out.push_str(&quote(k));
        out.push(':');
        emit_value(out, v, indent + 2);
    }
}

/// A value after `key:` (or `-`): a scalar or an empty collection on the
/// same line, a collection on the lines after.
fn emit_value(out: &mut String, v: &serde_json::Value, indent: usize) {
    use serde_json::Value;
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(out, m, indent);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            for item in a {
                push_indent(out, indent);
                out.push('-');
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        out.push(' ');
                        emit_map(out, m, indent + 2);
                    }
                    other => emit_value(out, other, indent + 2),
                }
            }
        }
        scalar => {
            out.push(' ');
            match scalar {
                Value::String(s) => out.push_str(&quote(s)),
                Value::Object(_) => out.push_str("{}"),
                Value::Array(_) => out.push_str("[]"),
                other => out.push_str(&other.to_string()),
            }
            out.push('\n');
        }
    }
}

fn push_indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A YAML double-quoted scalar: `"` and `\\` escaped, and every character
/// YAML does not allow raw (C0 and C1 controls, DEL, U+2028, U+2029,
/// U+FEFF, U+FFFE, U+FFFF) as an escape both YAML 1.1 and 1.2 read.
fn quote(s: &str) -> String {
    use std::fmt::Write;
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c if (c as u32) < 0x20
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// A TOML error as one line: the message and its line and column.
fn toml_error(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("TOML at line {line} column {column}: {msg}")
        }
        None => format!("TOML: {msg}"),
    }
}

/// The blobs and manifest of an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The config blob: the empty descriptor's `{}`.
    pub config: Vec<u8>,
    /// The layer blob: the specification in YAML.
    pub layer: Vec<u8>,
    /// The artifact manifest's bytes.
    pub manifest: Vec<u8>,
    /// Its digest.
    pub digest: Digest<'static>,
    /// Its annotations (`org.opencontainers.image.created` and the
    /// extra ones), for the referrers descriptor.
    pub annotations: BTreeMap<String, String>,
}

impl Artifact {
    /// The artifact manifest's descriptor as a referrers list has it:
    /// media type, digest, size, `artifactType` and the manifest's
    /// annotations.
    pub fn referrer_descriptor(&self) -> serde_json::Value {
        serde_json::json!({
            "mediaType": crate::media_type::OCI_MANIFEST,
            "digest": self.digest.as_str(),
            "size": self.manifest.len(),
            "artifactType": ARTIFACT_TYPE,
            "annotations": self.annotations,
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    artifact_type: &'a str,
    config: Desc<'a>,
    layers: [Desc<'a>; 1],
    subject: Desc<'a>,
    annotations: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Desc<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
}

/// Why an artifact cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("NFD artifact: {0}")]
pub struct ArtifactError(pub String);

/// The artifact manifest for the specification `yaml` (already checked,
/// e.g. by [`author`]), attached to `subject` (an image manifest or
/// index: its media type, digest and size are what `subject` keeps),
/// created at `created` (RFC 3339, see [`check_rfc3339`]), with `extra`
/// annotations besides. Deterministic: the same input gives the same bytes.
pub fn build(
    yaml: &[u8],
    subject: &Descriptor<'_>,
    created: &str,
    extra: &[(String, String)],
) -> Result<Artifact, ArtifactError> {
    use crate::media_type::{kind, Kind};
    if !matches!(kind(&subject.media_type), Kind::ImageManifest | Kind::Index) {
        return Err(ArtifactError(format!(
            "the subject {} is a {}, not an image manifest or index",
            subject.digest, subject.media_type
        )));
    }
    check_rfc3339(created).map_err(ArtifactError)?;
    let mut annotations = BTreeMap::new();
    for (k, v) in extra {
        if k.is_empty() {
            return Err(ArtifactError("an annotation with an empty key".into()));
        }
        annotations.insert(k.clone(), v.clone());
    }
    annotations.insert(CREATED.to_owned(), created.to_owned());
    let config_digest = Digest::sha256_of(EMPTY_CONTENT);
    let layer_digest = Digest::sha256_of(yaml);
    let m = Manifest {
        schema_version: 2,
        media_type: crate::media_type::OCI_MANIFEST,
        artifact_type: ARTIFACT_TYPE,
        config: Desc {
            media_type: EMPTY_MEDIA_TYPE,
            digest: config_digest.as_str(),
            size: EMPTY_CONTENT.len() as u64,
        },
        layers: [Desc {
            media_type: SPEC_MEDIA_TYPE,
            digest: layer_digest.as_str(),
            size: yaml.len() as u64,
        }],
        subject: Desc {
            media_type: &subject.media_type,
            digest: subject.digest.as_str(),
            size: subject.size,
        },
        annotations: &annotations,
    };
    let manifest = serde_json::to_vec(&m).map_err(|e| ArtifactError(e.to_string()))?;
    Ok(Artifact {
        config: EMPTY_CONTENT.to_vec(),
        layer: yaml.to_vec(),
        digest: Digest::sha256_of(&manifest),
        manifest,
        annotations,
    })
}

/// Checks an RFC 3339 date-time (`2025-01-02T03:04:05Z`,
/// `2025-01-02T03:04:05.5+01:00`): the form, and the ranges of its fields.
pub fn check_rfc3339(s: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{s:?} is not an RFC 3339 date-time ({why})"));
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20 {
        return bad("too short: YYYY-MM-DDTHH:MM:SSZ");
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return bad("YYYY-MM-DDTHH:MM:SS expected");
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return bad("YYYY-MM-DDTHH:MM:SS expected");
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return bad("no such month"),
    };
    if day == 0 || day > days || hour > 23 || min > 59 || sec > 60 {
        return bad("a field out of range");
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return bad("a fraction without digits");
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => Ok(()),
        [b'+' | b'-', _, _, b':', _, _] => match (digits(i + 1..i + 3), digits(i + 4..i + 6)) {
            (Some(h), Some(m)) if h <= 23 && m <= 59 => Ok(()),
            _ => bad("a bad offset"),
        },
        _ => bad("Z or an offset +HH:MM expected at the end"),
    }
}

/// `seconds` since the Unix epoch as an RFC 3339 UTC date-time,
/// `YYYY-MM-DDTHH:MM:SSZ` (the proleptic Gregorian calendar).
pub fn rfc3339_utc(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    // Howard Hinnant's days-to-civil algorithm, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The referrers tag schema index with `descriptor` (a referrer, as
/// [`Artifact::referrer_descriptor`] gives it) added: a new OCI image
/// index when `existing` is `None`, else `existing` with its entries,
/// fields and order kept and the descriptor appended. `None` when an
/// entry has its digest already: adding twice changes nothing.
pub fn add_to_referrers_index(
    existing: Option<&[u8]>,
    descriptor: &serde_json::Value,
) -> Result<Option<Vec<u8>>, ArtifactError> {
    let bad = |m: String| ArtifactError(format!("the referrers tag schema index: {m}"));
    let mut doc = match existing {
        None => serde_json::json!({
            "schemaVersion": 2,
            "mediaType": crate::media_type::OCI_INDEX,
            "manifests": [],
        }),
        Some(b) => serde_json::from_slice(b).map_err(|e| bad(format!("not JSON: {e}")))?,
    };
    let media = doc.get("mediaType");
    if media.is_some_and(|m| m.as_str() != Some(crate::media_type::OCI_INDEX)) {
        return Err(bad(format!(
            "its mediaType is {}, not {} (is the tag used for something else?)",
            media.unwrap_or(&serde_json::Value::Null),
            crate::media_type::OCI_INDEX
        )));
    }
    let manifests = doc
        .get_mut("manifests")
        .and_then(|m| m.as_array_mut())
        .ok_or_else(|| bad("it has no manifests list".into()))?;
    let digest = descriptor.get("digest");
    if manifests.iter().any(|d| d.get("digest") == digest) {
        return Ok(None);
    }
    if manifests.len() >= MAX_REFERRERS {
        return Err(bad(format!(
            "it lists {} referrers already, the most ocipick adds to",
            manifests.len()
        )));
    }
    manifests.push(descriptor.clone());
    serde_json::to_vec(&doc)
        .map(Some)
        .map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_735_787_045), "2025-01-02T03:04:05Z");
        for t in [0, 951_782_400, 4_102_444_799] {
            check_rfc3339(&rfc3339_utc(t)).unwrap();
        }
    }

    #[test]
    fn rfc3339_forms() {
        for ok in [
            "2025-01-02T03:04:05Z",
            "2025-01-02T03:04:05.123+01:00",
            "2024-02-29t23:59:60z",
        ] {
            check_rfc3339(ok).unwrap();
        }
        for bad in [
            "2025-01-02",
            "2025-01-02 03:04:05Z",
            "2025-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-01-02T03:04:05",
            "2025-01-02T03:04:05.Z",
            "2025-01-02T03:04:05+0100",
            "yesterday at noon, roughly",
        ] {
            assert!(check_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn toml_errors_have_a_line_and_column() {
        let e = author(
            b"version = \"v1alpha1\"\ncompatibilities = 3\n",
            Format::Toml,
        )
        .unwrap_err();
        assert!(e.0.contains("line 2 column"), "{e}");
        let e = author(
            b"version = \"v1alpha1\"\n[[compatibilities]]\nrules = []\nwieght = 3\n",
            Format::Toml,
        )
        .unwrap_err();
        assert!(e.0.contains("line 4") && e.0.contains("wieght"), "{e}");
    }

    /// Strings YAML 1.1 (NFD's parser) reads as booleans, numbers or
    /// times stay strings: every string of a TOML source is quoted.
    #[test]
    fn toml_strings_stay_strings_in_yaml_1_1() {
        let values = [
            "y",
            "on",
            "no",
            "1_000",
            "1:20",
            "2001-01-01",
            "~",
            "a\"b\\c",
            "\u{85}x",
            "é",
        ];
        let list: Vec<String> = values
            .iter()
            .map(|v| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        let src = format!(
            "version = \"v1alpha1\"\n[[compatibilities]]\ntag = \"\"\n[[compatibilities.rules]]\nname = \"r\"\n\
             [[compatibilities.rules.matchFeatures]]\nfeature = \"kernel.config\"\n\
             matchExpressions = {{ X86 = {{ op = \"In\", value = [{}] }} }}\n",
            list.join(", ")
        );
        let a = author(src.as_bytes(), Format::Toml).unwrap();
        let yaml = String::from_utf8(a.yaml.clone()).unwrap();
        for line in yaml
            .lines()
            .filter(|l| l.trim_start().starts_with("- \"") || l.contains(": "))
        {
            let value = line.trim_start().trim_start_matches("- ");
            let value = value.split_once(": ").map_or(value, |(_, v)| v);
            assert!(
                value.starts_with('"') || value.parse::<i64>().is_ok(),
                "{line:?} in\n{yaml}"
            );
        }
        let got = &a.spec.compatibilities[0].rules[0]
            .match_features
            .as_ref()
            .unwrap()[0]
            .match_expressions
            .as_ref()
            .unwrap()["X86"]
            .value;
        assert_eq!(got, &values);
        assert_eq!(parse_spec(&a.yaml).unwrap(), a.spec);
    }

    #[test]
    fn referrers_index_keeps_entries_and_adds_once() {
        let one = serde_json::json!({"digest": "sha256:1", "artifactType": "x"});
        let two = serde_json::json!({"digest": "sha256:2"});
        let a = add_to_referrers_index(None, &one).unwrap().unwrap();
        let b = add_to_referrers_index(Some(&a), &two).unwrap().unwrap();
        assert_eq!(add_to_referrers_index(Some(&b), &one).unwrap(), None);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["manifests"][0], one);
        assert_eq!(v["manifests"][1], two);
        assert!(
            add_to_referrers_index(Some(br#"{"mediaType":"x","manifests":[]}"#), &one).is_err()
        );
    }
}
