//! Lint rules for image indexes: the OCI image-spec's requirements and
//! Proposal A's guidance for annotated indexes.
//!
//! Linting reads the document as plain JSON, so it reports every problem it
//! finds (with its JSON path) instead of stopping at the first, and sees
//! fields the selection model ignores (such as a misspelt `annotation`).
//!
//! Every finding has a stable ID: `OCI…` for the image-spec, `PA…` for
//! Proposal A's guidance.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::media_type::{self, Kind};
use crate::platform::selector::{KNOWN_ARCH, KNOWN_OS};
use crate::Digest;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Works, but against guidance; fails `lint --strict`.
    Warning,
    /// Breaks the spec: tools may refuse the index.
    Error,
}

impl Severity {
    /// `error`, `warning`, `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable ID, e.g. `OCI012`.
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// JSON path, e.g. `manifests[2].digest`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: &'static str,
}

/// Every rule: ID, severity, one-line description (for SARIF rule lists).
pub const RULES: &[(&str, Severity, &str)] = &[
    (
        "OCI001",
        Severity::Error,
        "the document is not a JSON object",
    ),
    (
        "OCI002",
        Severity::Error,
        "schemaVersion is missing or not 2",
    ),
    (
        "OCI003",
        Severity::Error,
        "manifests is missing or not an array",
    ),
    (
        "OCI004",
        Severity::Warning,
        "the index does not name its mediaType",
    ),
    (
        "OCI005",
        Severity::Error,
        "mediaType is not an image index or manifest list type",
    ),
    ("OCI006", Severity::Error, "subject is not a descriptor"),
    (
        "OCI007",
        Severity::Error,
        "the index also carries image-manifest fields (config, layers)",
    ),
    (
        "OCI008",
        Severity::Warning,
        "subject does not point at a manifest",
    ),
    ("OCI010", Severity::Error, "a descriptor is not an object"),
    (
        "OCI011",
        Severity::Error,
        "a descriptor's mediaType is missing or malformed",
    ),
    (
        "OCI012",
        Severity::Error,
        "a descriptor's digest is missing or malformed",
    ),
    (
        "OCI013",
        Severity::Warning,
        "a digest uses an unregistered algorithm",
    ),
    (
        "OCI014",
        Severity::Error,
        "a descriptor's size is missing or not a non-negative 64-bit integer",
    ),
    (
        "OCI015",
        Severity::Error,
        "a platform is malformed or lacks os or architecture",
    ),
    (
        "OCI016",
        Severity::Warning,
        "a platform names an unknown os or architecture",
    ),
    (
        "OCI017",
        Severity::Error,
        "annotations are not an object of strings",
    ),
    (
        "OCI018",
        Severity::Info,
        "an entry is not an image manifest or index",
    ),
    (
        "OCI019",
        Severity::Error,
        "an artifactType is not a media type",
    ),
    ("OCI020", Severity::Error, "a urls entry is not a URI"),
    (
        "OCI021",
        Severity::Warning,
        "a urls entry uses a scheme other than http or https",
    ),
    (
        "OCI022",
        Severity::Error,
        "a descriptor's data is not standard base 64",
    ),
    (
        "OCI023",
        Severity::Error,
        "a descriptor's data is not as long as its size says",
    ),
    (
        "OCI024",
        Severity::Error,
        "a descriptor's data does not hash to its digest",
    ),
    (
        "OCI025",
        Severity::Error,
        "an object has the same key twice (parsers disagree on which counts)",
    ),
    (
        "PA001",
        Severity::Warning,
        "the first entry for a platform is not the generic one",
    ),
    (
        "PA002",
        Severity::Warning,
        "entries that share a platform are not told apart by annotations",
    ),
    (
        "PA003",
        Severity::Warning,
        "an annotation key is not in reverse-DNS form",
    ),
    (
        "PA004",
        Severity::Warning,
        "an annotation key uses org.opencontainers without being defined there",
    ),
    (
        "PA005",
        Severity::Info,
        "a descriptor carries large or numerous annotations",
    ),
    (
        "PA006",
        Severity::Warning,
        "a descriptor has an `annotation` field (misspelt `annotations`)",
    ),
    (
        "PA007",
        Severity::Warning,
        "a descriptor's size is over the manifest size limit",
    ),
];

/// The annotation keys the image-spec defines (`annotations.md`).
pub const OCI_KEYS: &[&str] = &[
    "org.opencontainers.image.created",
    "org.opencontainers.image.authors",
    "org.opencontainers.image.url",
    "org.opencontainers.image.documentation",
    "org.opencontainers.image.source",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.vendor",
    "org.opencontainers.image.licenses",
    "org.opencontainers.image.ref.name",
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.base.digest",
    "org.opencontainers.image.base.name",
];

/// Keys that describe an image rather than tell entries apart; they do not
/// make an entry "non-generic".
fn informational(key: &str) -> bool {
    key.starts_with("org.opencontainers.")
        || key.starts_with("vnd.docker.")
        || key.starts_with("com.docker.official-images.")
}

/// A descriptor carrying more annotations than this is flagged (PA005).
pub const MANY_ANNOTATIONS: usize = 16;
/// An annotation value longer than this is flagged (PA005).
pub const LARGE_ANNOTATION: usize = 256;

fn hint(id: &str) -> &'static str {
    match id {
        "OCI001" => "an index is a JSON object with schemaVersion, mediaType and manifests",
        "OCI002" => "set \"schemaVersion\": 2",
        "OCI003" => "list the manifests in a \"manifests\" array (it may be empty)",
        "OCI004" => "add \"mediaType\": \"application/vnd.oci.image.index.v1+json\"",
        "OCI005" => "use application/vnd.oci.image.index.v1+json (or the Docker manifest list type)",
        "OCI006" => "subject is a descriptor object with mediaType, digest and size",
        "OCI007" => "an index has manifests only; config and layers belong in an image manifest",
        "OCI008" => "subject refers to the manifest (or index) this one is about, not to a config or blob",
        "OCI010" => "each manifests item is a descriptor object",
        "OCI011" => "use a registered media type such as application/vnd.oci.image.manifest.v1+json",
        "OCI012" => "use algorithm:encoded, e.g. sha256 followed by 64 lower-case hex digits",
        "OCI013" => "use sha256 (or sha512): other algorithms cannot be verified by most clients",
        "OCI014" => "size is the byte count of the referenced content, an integer from 0 to 2^63-1",
        "OCI015" => "platform needs string os and architecture (GOOS/GOARCH values)",
        "OCI016" => "use Go's GOOS/GOARCH names (e.g. 386, not intel386)",
        "OCI017" => "annotations map string keys to string values",
        "OCI018" => "runtimes skip such entries; attestations belong in unknown/unknown entries or referrers",
        "OCI019" => "use a type/subtype media type (RFC 6838 section 4.2), e.g. application/vnd.example.sbom.v1+json",
        "OCI020" => "write an absolute URI (RFC 3986): a scheme, ':', and percent-encoding for other characters, e.g. https://example.com/blob",
        "OCI021" => "the image-spec asks for http or https URLs; other schemes may not be fetchable",
        "OCI022" => "encode data as standard base 64 with '=' padding (RFC 4648 section 4), no line breaks",
        "OCI023" => "data must be the referenced content itself: set size to its decoded length, or fix or drop data",
        "OCI024" => "data must be the referenced content itself: set digest to its hash, or fix or drop data",
        "OCI025" => "keep one of the values: Go's encoding/json (containerd, Docker, Podman) takes the last, ocipick refuses the document",
        "PA001" => "list the generic build first for each platform, so runtimes without preferences run it",
        "PA002" => "give each entry of a platform a distinguishing annotation (e.g. com.example.gpu)",
        "PA003" => "prefix keys with a domain you control, reversed: com.example.gpu",
        "PA004" => "use your own namespace; org.opencontainers is reserved for keys the image-spec defines",
        "PA005" => "keep descriptor annotations to those needed to tell entries apart; move the rest into the manifest",
        "PA006" => "rename the field to \"annotations\": tools ignore \"annotation\"",
        "PA007" => "registries and runtimes may refuse manifests over 4 MiB",
        _ => "",
    }
}

/// Findings collected against a rule table: each takes its severity from
/// the table and its hint from `hint` (the image-spec rules here, the NFD
/// artifact rules in `nfd::lint`).
pub(crate) struct Out {
    rules: &'static [(&'static str, Severity, &'static str)],
    hint: fn(&str) -> &'static str,
    pub(crate) found: Vec<Finding>,
}

impl Out {
    pub(crate) fn new(
        rules: &'static [(&'static str, Severity, &'static str)],
        hint: fn(&str) -> &'static str,
    ) -> Out {
        Out {
            rules,
            hint,
            found: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, id: &'static str, path: String, message: String) {
        let severity = self
            .rules
            .iter()
            .find(|r| r.0 == id)
            .map_or(Severity::Warning, |r| r.1);
        self.found.push(Finding {
            id,
            severity,
            path,
            message,
            hint: (self.hint)(id),
        });
    }

    /// The findings, errors first, then by path.
    pub(crate) fn sorted(mut self) -> Vec<Finding> {
        self.found.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.path.cmp(&b.path))
        });
        self.found
    }
}

fn reverse_dns(key: &str) -> bool {
    // label(.label)+ where labels are lower-case letters, digits and '-',
    // and the key may go on after the domain with '.', '/', '_' or '-'.
    let mut parts = key.split('.');
    let first = parts.next().unwrap_or("");
    !first.is_empty()
        && first
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && key.contains('.')
        && !key.ends_with('.')
        && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Lints an index document.
///
/// ```
/// let doc = br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",
///   "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f","size":7143,
///   "platform":{"architecture":"amd64","os":"linux"},"annotation":{"com.example.gpu":"x"}}]}"#;
/// let ids: Vec<&str> = ocipick::lint::lint(doc, 4 << 20).iter().map(|f| f.id).collect();
/// assert_eq!(ids, ["PA006", "OCI004"]); // errors first, then by JSON path
/// ```
pub fn lint(bytes: &[u8], max_manifest_bytes: u64) -> Vec<Finding> {
    let mut out = Out::new(RULES, hint);
    let v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            out.add("OCI001", ".".into(), format!("not JSON: {e}"));
            return out.found;
        }
    };
    let Some(top) = v.as_object() else {
        out.add("OCI001", ".".into(), "the document is not an object".into());
        return out.found;
    };
    for dup in crate::duplicates::find(bytes).unwrap_or_default() {
        let path = match dup.path.as_str() {
            "." => dup.key.clone(),
            p => format!("{p}.{}", dup.key),
        };
        out.add(
            "OCI025",
            path,
            format!("key {:?} occurs more than once in one object", dup.key),
        );
    }
    match top.get("schemaVersion") {
        Some(Value::Number(n)) if n.as_u64() == Some(2) => {}
        Some(other) => out.add(
            "OCI002",
            "schemaVersion".into(),
            format!("schemaVersion is {other}"),
        ),
        None => out.add(
            "OCI002",
            "schemaVersion".into(),
            "schemaVersion is missing".into(),
        ),
    }
    match top.get("mediaType") {
        None => out.add(
            "OCI004",
            "mediaType".into(),
            "the index has no mediaType".into(),
        ),
        Some(Value::String(m)) if media_type::kind(m) == Kind::Index => {}
        Some(m) => out.add("OCI005", "mediaType".into(), format!("mediaType is {m}")),
    }
    if let Some(a) = top.get("artifactType") {
        artifact_type(&mut out, a, "artifactType".into());
    }
    if let Some(a) = top.get("annotations") {
        annotations(&mut out, a, "annotations");
    }
    if let Some(sub) = top.get("subject") {
        let ok = sub.as_object().is_some_and(|o| {
            o.get("mediaType")
                .and_then(Value::as_str)
                .is_some_and(media_type::is_valid)
                && o.get("digest")
                    .and_then(Value::as_str)
                    .is_some_and(|d| Digest::parse(d).is_ok())
                && o.get("size").and_then(Value::as_u64).is_some()
        });
        if let Some(o) = sub.as_object() {
            unused_fields(&mut out, o, "subject");
        }
        if !ok {
            out.add("OCI006", "subject".into(), format!("subject is {sub}"));
        } else if let Some(m) = sub.get("mediaType").and_then(Value::as_str) {
            if !matches!(media_type::kind(m), Kind::ImageManifest | Kind::Index) {
                out.add(
                    "OCI008",
                    "subject.mediaType".into(),
                    format!("subject is a {m}"),
                );
            }
        }
    }
    for field in ["config", "layers"] {
        if top.contains_key(field) {
            out.add(
                "OCI007",
                field.into(),
                format!("an index with {field} is ambiguous"),
            );
        }
    }
    let Some(manifests) = top.get("manifests").and_then(Value::as_array) else {
        let what = if top.get("manifests").is_some_and(Value::is_null) {
            "null"
        } else if top.contains_key("manifests") {
            "not an array"
        } else {
            "missing"
        };
        out.add("OCI003", "manifests".into(), format!("manifests is {what}"));
        return out.sorted();
    };
    // Platform groups, in document order: platform → positions.
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut anns: Vec<BTreeMap<String, String>> = Vec::new();
    for (i, d) in manifests.iter().enumerate() {
        let path = format!("manifests[{i}]");
        anns.push(BTreeMap::new());
        let Some(d) = d.as_object() else {
            out.add("OCI010", path, "the descriptor is not an object".into());
            continue;
        };
        match d.get("mediaType").and_then(Value::as_str) {
            Some(m) if media_type::is_valid(m) => {
                if !matches!(
                    media_type::kind(m),
                    Kind::ImageManifest | Kind::Index | Kind::LegacyManifest
                ) {
                    out.add(
                        "OCI018",
                        format!("{path}.mediaType"),
                        format!("{m} is not an image manifest or index"),
                    );
                }
            }
            Some(m) => out.add(
                "OCI011",
                format!("{path}.mediaType"),
                format!("{m:?} is not a media type"),
            ),
            None => out.add(
                "OCI011",
                format!("{path}.mediaType"),
                "mediaType is missing or not a string".into(),
            ),
        }
        match d.get("digest").and_then(Value::as_str) {
            Some(s) => match Digest::parse(s) {
                Ok(dg) if !matches!(dg.algorithm(), "sha256" | "sha512") => out.add(
                    "OCI013",
                    format!("{path}.digest"),
                    format!("algorithm {} is not registered", dg.algorithm()),
                ),
                Ok(_) => {}
                Err(e) => out.add("OCI012", format!("{path}.digest"), e.to_string()),
            },
            None => out.add(
                "OCI012",
                format!("{path}.digest"),
                "digest is missing or not a string".into(),
            ),
        }
        match d.get("size").and_then(Value::as_u64) {
            Some(n) if n <= i64::MAX as u64 => {
                if n > max_manifest_bytes {
                    out.add(
                        "PA007",
                        format!("{path}.size"),
                        format!("{n} bytes, over the {max_manifest_bytes}-byte limit"),
                    );
                }
            }
            _ => out.add(
                "OCI014",
                format!("{path}.size"),
                format!(
                    "size is {}",
                    d.get("size").map_or("missing".into(), |s| s.to_string())
                ),
            ),
        }
        if d.contains_key("annotation") {
            out.add(
                "PA006",
                format!("{path}.annotation"),
                "`annotation` is not a descriptor field; tools ignore it".into(),
            );
        }
        if let Some(a) = d.get("annotations") {
            if let Some(m) = annotations(&mut out, a, &format!("{path}.annotations")) {
                anns[i] = m;
            }
        }
        unused_fields(&mut out, d, &path);
        match d.get("platform") {
            None | Some(Value::Null) => {}
            Some(Value::Object(p)) => {
                let os = p.get("os").and_then(Value::as_str);
                let arch = p.get("architecture").and_then(Value::as_str);
                let (Some(os), Some(arch)) = (os, arch) else {
                    out.add(
                        "OCI015",
                        format!("{path}.platform"),
                        "platform needs string os and architecture".into(),
                    );
                    continue;
                };
                let (nos, (narch, nvar)) = (
                    crate::platform::normalize::normalize_os(os),
                    crate::platform::normalize::normalize_arch(
                        arch,
                        p.get("variant").and_then(Value::as_str).unwrap_or(""),
                    ),
                );
                if os != "unknown" && !KNOWN_OS.contains(&&*nos) {
                    out.add(
                        "OCI016",
                        format!("{path}.platform.os"),
                        format!("os {os:?} is not a GOOS value"),
                    );
                }
                if arch != "unknown" && !KNOWN_ARCH.contains(&&*narch) {
                    out.add(
                        "OCI016",
                        format!("{path}.platform.architecture"),
                        format!("architecture {arch:?} is not a GOARCH value"),
                    );
                }
                if os != "unknown" {
                    let key = if nvar.is_empty() {
                        format!("{nos}/{narch}")
                    } else {
                        format!("{nos}/{narch}/{nvar}")
                    };
                    let osv = p.get("os.version").and_then(Value::as_str).unwrap_or("");
                    groups
                        .entry(format!(
                            "{key}{}",
                            if osv.is_empty() {
                                String::new()
                            } else {
                                format!(" ({osv})")
                            }
                        ))
                        .or_default()
                        .push(i);
                }
            }
            Some(_) => out.add(
                "OCI015",
                format!("{path}.platform"),
                "platform is not an object".into(),
            ),
        }
    }
    for (platform, positions) in &groups {
        if positions.len() < 2 {
            continue;
        }
        // Keys whose values differ within the group tell its entries apart.
        let distinguishing: Vec<&String> = {
            let mut keys: Vec<&String> = positions
                .iter()
                .flat_map(|&p| anns[p].keys())
                .filter(|k| !informational(k))
                .collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| {
                    positions
                        .iter()
                        .map(|&p| anns[p].get(*k))
                        .collect::<std::collections::BTreeSet<_>>()
                        .len()
                        > 1
                })
                .collect()
        };
        let first = positions[0];
        let carried: Vec<&str> = distinguishing
            .iter()
            .filter(|k| anns[first].contains_key(k.as_str()))
            .map(|k| k.as_str())
            .collect();
        if !carried.is_empty() {
            out.add(
                "PA001",
                format!("manifests[{first}]"),
                format!("the first {platform} entry carries {}, so runtimes without preferences get a specialised build", carried.join(", ")),
            );
        }
        for (a, &p) in positions.iter().enumerate() {
            for &q in &positions[a + 1..] {
                let key = |x: usize| -> BTreeMap<&String, &String> {
                    anns[x].iter().filter(|(k, _)| !informational(k)).collect()
                };
                if key(p) == key(q) {
                    out.add(
                        "PA002",
                        format!("manifests[{q}]"),
                        format!("entries {p} and {q} are both {platform} with the same annotations: only the first can ever be chosen"),
                    );
                }
            }
        }
    }
    out.sorted()
}

/// Errors first, then by JSON path.
/// What a JSON value is, for messages (the value itself may be large).
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `artifactType`: a media type, as the schema's `mediaType` pattern and
/// RFC 6838 §4.2 have it (OCI019).
fn artifact_type(out: &mut Out, a: &Value, path: String) {
    match a.as_str() {
        Some(m) if media_type::is_valid(m) => {}
        Some(m) => out.add(
            "OCI019",
            path,
            format!("{m:?} is not a media type (type/subtype)"),
        ),
        None => out.add(
            "OCI019",
            path,
            format!("artifactType is {}, not a string", json_kind(a)),
        ),
    }
}

/// The descriptor fields selection does not read, checked as the schema
/// and the spec's prose ask: `artifactType`, `urls`, `data`. `select`
/// tolerates what these find (`docs/decisions.md`).
fn unused_fields(out: &mut Out, d: &serde_json::Map<String, Value>, path: &str) {
    if let Some(a) = d.get("artifactType") {
        artifact_type(out, a, format!("{path}.artifactType"));
    }
    match d.get("urls") {
        None => {}
        Some(Value::Array(items)) => {
            for (j, item) in items.iter().enumerate() {
                let at = format!("{path}.urls[{j}]");
                let Some(u) = item.as_str() else {
                    out.add(
                        "OCI020",
                        at,
                        format!("the entry is {}, not a string", json_kind(item)),
                    );
                    continue;
                };
                match crate::uri::check(u) {
                    Err(e) => out.add("OCI020", at, format!("{u:?} is not a URI: {e}")),
                    Ok(()) => {
                        let scheme = &u[..u.find(':').unwrap_or(0)];
                        if !scheme.eq_ignore_ascii_case("http")
                            && !scheme.eq_ignore_ascii_case("https")
                        {
                            out.add("OCI021", at, format!("{u:?} uses the {scheme} scheme"));
                        }
                    }
                }
            }
        }
        Some(other) => out.add(
            "OCI020",
            format!("{path}.urls"),
            format!("urls is {}, not an array of strings", json_kind(other)),
        ),
    }
    let Some(v) = d.get("data") else {
        return;
    };
    let at = format!("{path}.data");
    let Some(text) = v.as_str() else {
        out.add(
            "OCI022",
            at,
            format!("data is {}, not a string", json_kind(v)),
        );
        return;
    };
    let bytes = match crate::base64::decode(text) {
        Ok(b) => b,
        Err(e) => {
            out.add("OCI022", at, format!("data is not standard base 64: {e}"));
            return;
        }
    };
    // Compared only with a valid size and digest (others have their
    // findings); a digest ocipick cannot compute is left unverified (its
    // algorithm has OCI013).
    if let Some(size) = d.get("size").and_then(Value::as_u64) {
        if bytes.len() as u64 != size {
            out.add(
                "OCI023",
                at.clone(),
                format!("data decodes to {} bytes; size is {size}", bytes.len()),
            );
        }
    }
    let digest = d
        .get("digest")
        .and_then(Value::as_str)
        .and_then(|s| Digest::parse(s).ok());
    if let Some(want) = digest {
        if let Some(got) = want.compute_like(&bytes) {
            if got != want {
                out.add(
                    "OCI024",
                    at,
                    format!("data hashes to {got}; digest is {want}"),
                );
            }
        }
    }
}

/// Checks an annotations object; returns it as a map when it is one.
fn annotations(out: &mut Out, a: &Value, path: &str) -> Option<BTreeMap<String, String>> {
    let Some(obj) = a.as_object() else {
        out.add(
            "OCI017",
            path.to_owned(),
            "annotations are not an object".into(),
        );
        return None;
    };
    let mut m = BTreeMap::new();
    for (k, v) in obj {
        let Some(v) = v.as_str() else {
            out.add(
                "OCI017",
                format!("{path}.{k}"),
                format!("the value of {k} is not a string"),
            );
            continue;
        };
        if !reverse_dns(k) {
            out.add(
                "PA003",
                format!("{path}.{k}"),
                format!("{k:?} is not a reverse-DNS key"),
            );
        } else if k.starts_with("org.opencontainers.") && !OCI_KEYS.contains(&k.as_str()) {
            out.add(
                "PA004",
                format!("{path}.{k}"),
                format!("{k} is not defined by the image-spec"),
            );
        }
        if v.len() > LARGE_ANNOTATION {
            out.add(
                "PA005",
                format!("{path}.{k}"),
                format!("the value is {} bytes", v.len()),
            );
        }
        m.insert(k.clone(), v.to_owned());
    }
    if obj.len() > MANY_ANNOTATIONS {
        out.add(
            "PA005",
            path.to_owned(),
            format!("{} annotations on one descriptor", obj.len()),
        );
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f";

    fn ids(doc: &str) -> Vec<&'static str> {
        let mut v: Vec<&str> = lint(doc.as_bytes(), 4 << 20).iter().map(|f| f.id).collect();
        v.sort();
        v
    }

    fn entry(plat: &str, ann: &str) -> String {
        format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{D}","size":100,"platform":{plat}{ann}}}"#
        )
    }

    fn index(entries: &[String]) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
            entries.join(",")
        )
    }

    const AMD64: &str = r#"{"os":"linux","architecture":"amd64"}"#;

    #[test]
    fn duplicate_keys_are_errors() {
        // The document ocipick's own parser refuses, and Go takes the last
        // value of: lint must not call it clean.
        let plat = r#"{"os":"linux","architecture":"arm64","architecture":"amd64"}"#;
        let doc = index(&[entry(plat, "")]);
        assert!(crate::Index::parse(doc.as_bytes()).is_err());
        let found = lint(doc.as_bytes(), 4 << 20);
        let dup: Vec<_> = found.iter().filter(|f| f.id == "OCI025").collect();
        assert_eq!(dup.len(), 1, "{found:?}");
        assert_eq!(dup[0].path, "manifests[0].platform.architecture");
        assert_eq!(dup[0].severity, Severity::Error);
        // Top level and annotations too; the same key in two objects is fine.
        let doc = index(&[entry(AMD64, r#","annotations":{"a.b":"1","a.b":"2"}"#)]);
        let doc = doc.replacen("{", r#"{"schemaVersion":2,"#, 1);
        let paths: Vec<_> = lint(doc.as_bytes(), 4 << 20)
            .into_iter()
            .filter(|f| f.id == "OCI025")
            .map(|f| f.path)
            .collect();
        assert_eq!(paths, ["manifests[0].annotations.a.b", "schemaVersion"]);
        assert!(!ids(&index(&[entry(AMD64, ""), entry(AMD64, "")])).contains(&"OCI025"));
    }
    /// The SHA-256 of `a` and of nothing.
    const A: &str = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// An entry with its own digest, size and the fields in `fields`.
    fn data_entry(fields: &str) -> String {
        format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json",{fields},"platform":{AMD64}}}"#
        )
    }

    /// Rows: document → the IDs found.
    #[test]
    fn rule_table() {
        let gpu = r#","annotations":{"com.example.gpu":"a100"}"#;
        let rows: Vec<(&str, String, Vec<&str>)> = vec![
            ("clean", index(&[entry(AMD64, ""), entry(AMD64, gpu)]), vec![]),
            ("not json", "{".into(), vec!["OCI001"]),
            ("array", "[]".into(), vec!["OCI001"]),
            ("schema 1, no mediaType, manifests null", r#"{"schemaVersion":1,"manifests":null}"#.into(), vec!["OCI002", "OCI003", "OCI004"]),
            ("manifest type", r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}"#.into(), vec!["OCI005"]),
            ("subject is a string", index(&[]).replace("\"manifests\"", "\"subject\":\"nope\",\"manifests\""), vec!["OCI006"]),
            ("config and layers", index(&[]).replace("\"manifests\"", "\"config\":{},\"layers\":[],\"manifests\""), vec!["OCI007", "OCI007"]),
            ("bad descriptor fields", index(&[r#"{"mediaType":"invalid","digest":"sha256:e6","size":"7"}"#.into()]), vec!["OCI011", "OCI012", "OCI014"]),
            ("not an object", index(&["3".into()]), vec!["OCI010"]),
            ("unregistered algorithm", index(&[entry(AMD64, "").replace(D, "blake3:abcd")]), vec!["OCI013"]),
            ("platform without arch", index(&[entry(r#"{"os":"linux"}"#, "")]), vec!["OCI015"]),
            ("intel386", index(&[entry(r#"{"os":"linux","architecture":"intel386"}"#, "")]), vec!["OCI016"]),
            ("annotation value not a string", index(&[entry(AMD64, r#","annotations":{"com.example.n":1}"#)]), vec!["OCI017"]),
            ("layer in an index", index(&[entry(AMD64, "").replace("manifest.v1+json", "layer.v1.tar+gzip")]), vec!["OCI018"]),
            ("specialised build first", index(&[entry(AMD64, gpu), entry(AMD64, "")]), vec!["PA001"]),
            ("twins", index(&[entry(AMD64, ""), entry(AMD64, "")]), vec!["PA002"]),
            ("twins that differ only informationally", index(&[entry(AMD64, ""), entry(AMD64, r#","annotations":{"org.opencontainers.image.version":"2"}"#)]), vec!["PA002"]),
            ("not reverse-DNS", index(&[entry(AMD64, r#","annotations":{"gpu":"a100"}"#)]), vec!["PA003"]),
            ("invented OCI key", index(&[entry(AMD64, r#","annotations":{"org.opencontainers.image.gpu":"a100"}"#)]), vec!["PA004"]),
            ("large value", index(&[entry(AMD64, &format!(r#","annotations":{{"com.example.blob":"{}"}}"#, "x".repeat(300)))]), vec!["PA005"]),
            ("misspelt annotation", index(&[entry(AMD64, r#","annotation":{"com.example.gpu":"a100"}"#)]), vec!["PA006"]),
            ("oversized manifest", index(&[entry(AMD64, "").replace("\"size\":100", "\"size\":5000000")]), vec!["PA007"]),
            ("artifactType, urls, data all well-formed", index(&[data_entry(&format!(r#""urls":["https://example.com/a","HTTP://[::1]:80/b?c#d"],"artifactType":"application/vnd.example+json","data":"YQ==","digest":"{A}","size":1"#))]), vec![]),
            ("artifactType not a media type", index(&[entry(AMD64, r#","artifactType":"foo/.bar""#)]), vec!["OCI019"]),
            ("artifactType not a string", index(&[entry(AMD64, r#","artifactType":null"#)]), vec!["OCI019"]),
            ("index artifactType not a media type", index(&[]).replace("\"manifests\"", "\"artifactType\":\"sbom\",\"manifests\""), vec!["OCI019"]),
            ("url not a URI", index(&[entry(AMD64, r#","urls":["https://example.com/ok","value"]"#)]), vec!["OCI020"]),
            ("url not a string", index(&[entry(AMD64, r#","urls":[7]"#)]), vec!["OCI020"]),
            ("urls not an array", index(&[entry(AMD64, r#","urls":"https://example.com/""#)]), vec!["OCI020"]),
            ("url with another scheme", index(&[entry(AMD64, r#","urls":["ftp://example.com/blob"]"#)]), vec!["OCI021"]),
            ("data without padding", index(&[data_entry(&format!(r#""data":"YQ","digest":"{A}","size":1"#))]), vec!["OCI022"]),
            ("data not a string", index(&[data_entry(&format!(r#""data":[97],"digest":"{A}","size":1"#))]), vec!["OCI022"]),
            ("data longer than size", index(&[data_entry(&format!(r#""data":"YQ==","digest":"{A}","size":2"#))]), vec!["OCI023"]),
            ("data that hashes elsewhere", index(&[data_entry(&format!(r#""data":"YQ==","digest":"{D}","size":1"#))]), vec!["OCI024"]),
            ("data, size and digest all wrong", index(&[data_entry(&format!(r#""data":"YQ==","digest":"{D}","size":7"#))]), vec!["OCI023", "OCI024"]),
            ("empty data", index(&[data_entry(&format!(r#""data":"","digest":"{EMPTY}","size":0"#))]), vec![]),
            ("data with an unregistered algorithm", index(&[data_entry(r#""data":"YQ==","digest":"sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564","size":1"#)]), vec!["OCI013"]),
            ("subject's fields", index(&[]).replace("\"manifests\"", &format!(r#""subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{D}","size":1,"urls":["x y"],"artifactType":"a","data":"YQ="}},"manifests""#)), vec!["OCI019", "OCI020", "OCI022"]),
        ];
        for (name, doc, want) in rows {
            assert_eq!(ids(&doc), want, "{name}");
        }
    }

    #[test]
    fn many_annotations_and_paths() {
        let many: Vec<String> = (0..20)
            .map(|i| format!(r#""com.example.k{i}":"v""#))
            .collect();
        let doc = index(&[entry(
            AMD64,
            &format!(r#","annotations":{{{}}}"#, many.join(",")),
        )]);
        let f = lint(doc.as_bytes(), 4 << 20);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].id, f[0].path.as_str()),
            ("PA005", "manifests[0].annotations")
        );
        assert!(!f[0].hint.is_empty());
    }

    /// The proposal's own example: a generic entry first, then the GPU
    /// build, whose annotations are spelt `annotation`.
    #[test]
    fn the_proposal_example() {
        let doc = index(&[
            entry(AMD64, ""),
            entry(
                AMD64,
                r#","annotation":{"com.example.gpu":"example-gpu-model"}"#,
            ),
        ]);
        assert_eq!(ids(&doc), ["PA002", "PA006"]);
    }

    /// The new checks name the field, and the entry within `urls`.
    #[test]
    fn unused_field_paths() {
        let doc = index(&[
            entry(r#"{"os":"linux","architecture":"arm64"}"#, ""),
            data_entry(&format!(
                r#""urls":["https://example.com/","https://example.com/%zz"],"artifactType":"x","data":"YWI=","digest":"{A}","size":1"#
            )),
        ])
        .replace(
            "\"manifests\"",
            &format!(
                r#""subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{A}","size":1,"data":"Yg=="}},"manifests""#
            ),
        );
        let got: Vec<(&str, String)> = lint(doc.as_bytes(), 4 << 20)
            .into_iter()
            .map(|f| (f.id, f.path))
            .collect();
        let want = [
            ("OCI019", "manifests[1].artifactType"),
            ("OCI023", "manifests[1].data"),
            ("OCI024", "manifests[1].data"),
            ("OCI020", "manifests[1].urls[1]"),
            ("OCI024", "subject.data"),
        ];
        let want: Vec<(&str, String)> = want.iter().map(|(i, p)| (*i, p.to_string())).collect();
        assert_eq!(got, want);
    }

    /// Found by the `lint` fuzz target: a document without `manifests`
    /// (here an image manifest) came back unsorted.
    #[test]
    fn findings_are_sorted_when_manifests_is_missing() {
        let doc = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
        let got: Vec<(&str, String)> = lint(doc.as_bytes(), 4 << 20)
            .into_iter()
            .map(|f| (f.id, f.path))
            .collect();
        let want = [
            ("OCI007", "config"),
            ("OCI007", "layers"),
            ("OCI003", "manifests"),
            ("OCI005", "mediaType"),
        ];
        let want: Vec<(&str, String)> = want.iter().map(|(i, p)| (*i, p.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn every_rule_has_a_hint() {
        for (id, _, _) in RULES {
            assert!(!hint(id).is_empty(), "{id}");
        }
    }
}
