//! Rendering: aligned text for people (80 columns), JSON for scripts.

use std::fmt::Write as _;

use ocipick::{Descriptor, Ranked};
use serde_json::{json, Map, Value};

use ocipick::{Digest, Index, Policy, Ranking};
use ocipick_registry::{Reference, Stats};

/// One step down into a nested index.
#[derive(Debug, Clone)]
pub struct Hop {
    /// Position of the nested index in its parent.
    pub position: usize,
    /// Its digest.
    pub digest: String,
}

/// Everything the renderers need.
pub struct Answer<'x, 'a> {
    /// Where the final index came from.
    pub origin: &'x str,
    /// Digest of the final index's bytes as read (JSON output only).
    pub index_digest: Option<Digest<'static>>,
    /// The final index, when it was parsed whole (`rank`).
    pub index: Option<&'x Index<'a>>,
    /// The chosen descriptor, when only it was kept (`select`, `resolve`).
    pub chosen: Option<&'x Descriptor<'a>>,
    /// How many entries the final index has.
    pub entries: usize,
    /// The final index's own media type, if it names one.
    pub index_media_type: Option<&'x str>,
    /// The policy.
    pub policy: &'x Policy,
    /// Nested indexes descended through.
    pub hops: &'x [Hop],
    /// The ranking of the final index.
    pub ranking: Ranking,
    /// The registry reference, for registry sources.
    pub reference: Option<&'x Reference>,
    /// Registry requests made, for registry sources.
    pub stats: Option<Stats>,
    /// The chosen manifest's own bytes (`select --raw`).
    pub raw: Option<&'x str>,
    /// The signature verdict, when a trust policy applied.
    pub trust: Option<&'x crate::trust::Report>,
    /// What `--compat nfd` looked up (for the final index).
    pub compat: Option<&'x crate::discover::Report>,
    /// Registry requests `--compat nfd` sent, over every index descended.
    pub compat_requests: u32,
}

const WIDTH: usize = 80;

/// The descriptor at `position` of the final index.
fn entry<'x, 'a>(a: &Answer<'x, 'a>, position: usize) -> &'x Descriptor<'a> {
    match (a.index, a.chosen) {
        (Some(i), _) => &i.manifests[position],
        (None, Some(d)) => d,
        (None, None) => unreachable!("an answer has an index or a chosen entry"),
    }
}

fn platform_str(d: &Descriptor<'_>) -> String {
    d.platform
        .as_ref()
        .map_or_else(|| "(none)".to_owned(), |p| p.to_string())
}

fn short(digest: &str) -> &str {
    // "sha256:" + 12 hex digits, like `docker images` shows.
    let end = digest.find(':').map_or(0, |i| i + 1) + 12;
    &digest[..end.min(digest.len())]
}

/// Strings from the document are untrusted: control characters are shown
/// escaped, never raw (a newline in an annotation must not forge a line, an
/// escape sequence must not reach the terminal). Every text report prints
/// untrusted strings through this (`select`, `rank`, `lint`, `check`,
/// `annotate`).
pub(crate) fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            s.extend(c.escape_default())
        } else {
            s.push(c)
        }
    }
    std::borrow::Cow::Owned(s)
}

/// Word-wraps `text` to `WIDTH`, every line indented by `indent` spaces
/// (the first by `first` instead, so a label can stand before it).
fn wrap(out: &mut String, text: &str, first: &str, indent: usize) {
    let text = visible(text);
    let pad = " ".repeat(indent);
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split(' ') {
        if !empty && line.len() + 1 + word.len() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = pad.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// A `select` line: a 9-column label, so a full sha256 digest fits in 80.
fn label(out: &mut String, name: &str, value: &str) {
    label_w(out, name, value, 9);
}

fn label_w(out: &mut String, name: &str, value: &str, width: usize) {
    let width = width.max(name.len() + 1);
    wrap(out, value, &format!("{name:<width$}"), width);
}

/// `ocipick select` as text.
pub fn select_text(a: &Answer<'_, '_>) -> String {
    let mut out = String::new();
    let Some(e) = a.ranking.entries.first() else {
        return out;
    };
    let d = entry(a, e.position);
    label(&mut out, "digest", d.digest.as_str());
    label(&mut out, "platform", &platform_str(d));
    label(&mut out, "type", &d.media_type);
    label(&mut out, "size", &d.size.to_string());
    label(
        &mut out,
        "position",
        &format!("{} of {} in {}", e.position, a.entries, a.origin),
    );
    for h in a.hops {
        label(
            &mut out,
            "via",
            &format!("nested index #{} {}", h.position, h.digest),
        );
    }
    label(&mut out, "score", &e.score.to_string());
    for (k, v) in &d.annotations {
        label(&mut out, "annotation", &format!("{k}={v}"));
    }
    for r in &e.reasons {
        label(&mut out, "why", &r.to_string());
    }
    if let Some(t) = a.trust {
        label(&mut out, "trust", &t.summary());
    }
    out
}

/// `ocipick rank` as text.
pub fn rank_text(a: &Answer<'_, '_>) -> String {
    let mut out = String::new();
    let compatible: Vec<String> = a.policy.matcher().compatible().collect();
    let target = format!("{} (runs {})", a.policy.target(), compatible.join(", "));
    label_w(&mut out, "target", &target, 7);
    if !a.policy.preferences().is_empty() {
        let p: Vec<String> = a
            .policy
            .preferences()
            .iter()
            .map(|p| p.to_string())
            .collect();
        label_w(&mut out, "prefer", &p.join(", "), 7);
    }
    label_w(&mut out, "index", a.origin, 7);
    if let Some(t) = a.trust {
        label_w(&mut out, "trust", &t.summary(), 7);
    }
    if let Some(c) = a.compat {
        label_w(&mut out, "compat", &c.summary(), 7);
    }
    for h in a.hops {
        label_w(
            &mut out,
            "via",
            &format!("nested index #{} {}", h.position, h.digest),
            7,
        );
    }
    let pw = a
        .ranking
        .entries
        .iter()
        .map(|e| platform_str(entry(a, e.position)).len())
        .max()
        .unwrap_or(8)
        .clamp(8, 34);
    let _ = writeln!(
        out,
        "\n   {:>4} {:>6}  {:<pw$}  DIGEST",
        "POS", "SCORE", "PLATFORM"
    );
    for e in &a.ranking.entries {
        let d = entry(a, e.position);
        let mark = match (Some(e.position) == a.ranking.selected, e.eligible) {
            (true, _) => '*',
            (false, true) => ' ',
            (false, false) => 'x',
        };
        let score = if e.eligible {
            e.score.to_string()
        } else {
            "-".to_owned()
        };
        let plat = platform_str(d);
        let _ = writeln!(
            out,
            " {mark} {:>4} {score:>6}  {plat:<pw$}  {}",
            e.position,
            short(d.digest.as_str())
        );
        for r in &e.reasons {
            wrap(&mut out, &r.to_string(), "         - ", 11);
        }
        if let Some(why) = a.trust.and_then(|t| t.entry_reason()) {
            wrap(&mut out, why, "         - ", 11);
        }
    }
    match a.ranking.selected {
        Some(p) => {
            let _ = writeln!(out, "\nselected {}", entry(a, p).digest);
        }
        None => out.push_str("\nno entry is eligible\n"),
    }
    out
}

fn descriptor_json(d: &Descriptor<'_>, position: usize) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("position".into(), json!(position));
    m.insert("digest".into(), json!(d.digest.as_str()));
    m.insert("mediaType".into(), json!(d.media_type));
    m.insert("size".into(), json!(d.size));
    m.insert(
        "platform".into(),
        d.platform.as_ref().map_or(Value::Null, |p| {
            serde_json::to_value(p).unwrap_or(Value::Null)
        }),
    );
    m.insert("annotations".into(), json!(d.annotations));
    if let Some(t) = &d.artifact_type {
        m.insert("artifactType".into(), json!(t));
    }
    m
}

fn ranked_json(a: &Answer<'_, '_>, e: &Ranked) -> Map<String, Value> {
    let mut m = descriptor_json(entry(a, e.position), e.position);
    m.insert("eligible".into(), json!(e.eligible));
    m.insert("score".into(), json!(e.score));
    m.insert(
        "platformRank".into(),
        e.platform_rank.map_or(Value::Null, |r| json!(r.tier)),
    );
    let mut reasons: Vec<String> = e.reasons.iter().map(|r| r.to_string()).collect();
    if let Some(why) = a.trust.and_then(|t| t.entry_reason()) {
        reasons.push(why.to_owned());
    }
    m.insert("reasons".into(), json!(reasons));
    if a.compat.is_some() {
        let sets: Vec<&ocipick::compat::SetVerdict> = a.policy.compat_of(e.position).collect();
        m.insert("compat".into(), json!(sets));
    }
    m
}

fn context_json(a: &Answer<'_, '_>, m: &mut Map<String, Value>) {
    m.insert("target".into(), json!(a.policy.target().to_string()));
    let mut index = Map::new();
    index.insert("source".into(), json!(a.origin));
    if let Some(d) = &a.index_digest {
        index.insert("digest".into(), json!(d.as_str()));
    }
    index.insert("mediaType".into(), json!(a.index_media_type));
    index.insert("entries".into(), json!(a.entries));
    m.insert("index".into(), Value::Object(index));
    if let Some(st) = a.stats {
        m.insert(
            "registry".into(),
            json!({
                "requests": st.requests,
                "manifestRequests": st.manifests,
                "signatureRequests": a.trust.map_or(0, |t| t.requests),
                "compatRequests": a.compat_requests,
            }),
        );
    }
    if let Some(t) = a.trust {
        m.insert("trust".into(), t.json());
    }
    if let Some(c) = a.compat {
        m.insert("compat".into(), c.json());
    }
    let via: Vec<Value> = a
        .hops
        .iter()
        .map(|h| json!({"position": h.position, "digest": h.digest}))
        .collect();
    m.insert("via".into(), json!(via));
}

fn to_line(v: Value) -> String {
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// `ocipick select --output json`.
pub fn select_json(a: &Answer<'_, '_>) -> String {
    let Some(e) = a.ranking.entries.first() else {
        return String::new();
    };
    let mut m = ranked_json(a, e);
    context_json(a, &mut m);
    if let Some(text) = a.raw {
        let d = entry(a, e.position);
        m.insert(
            "manifest".into(),
            json!({"digest": d.digest.as_str(), "size": text.len(), "text": text}),
        );
    }
    to_line(Value::Object(m))
}

/// `ocipick rank --output json`.
pub fn rank_json(a: &Answer<'_, '_>) -> String {
    let mut m = Map::new();
    m.insert("selected".into(), json!(a.ranking.selected));
    context_json(a, &mut m);
    let compatible: Vec<String> = a.policy.matcher().compatible().collect();
    m.insert("compatible".into(), json!(compatible));
    let prefs: Vec<Value> = a
        .policy
        .preferences()
        .iter()
        .map(|p| json!({"annotation": p.key, "value": p.value, "weight": p.weight}))
        .collect();
    m.insert("preferences".into(), json!(prefs));
    let entries: Vec<Value> = a
        .ranking
        .entries
        .iter()
        .map(|e| Value::Object(ranked_json(a, e)))
        .collect();
    m.insert("entries".into(), json!(entries));
    to_line(Value::Object(m))
}

/// The chosen digest, pinned to the registry reference when there is one.
fn pinned(a: &Answer<'_, '_>) -> Option<String> {
    let e = a.ranking.entries.first()?;
    let d = &entry(a, e.position).digest;
    Some(match a.reference {
        Some(r) => r.pinned(d),
        None => d.to_string(),
    })
}

/// `ocipick resolve`: the pinned reference alone, for `$(…)`.
pub fn resolve_text(a: &Answer<'_, '_>) -> String {
    pinned(a).map(|p| p + "\n").unwrap_or_default()
}

/// `ocipick digest`: the chosen digest alone.
pub fn digest_text(a: &Answer<'_, '_>) -> String {
    match a.ranking.entries.first() {
        Some(e) => format!("{}\n", entry(a, e.position).digest),
        None => String::new(),
    }
}

/// `ocipick resolve --output json` and `ocipick digest --output json`.
pub fn resolve_json(a: &Answer<'_, '_>) -> String {
    let Some(e) = a.ranking.entries.first() else {
        return String::new();
    };
    let mut m = Map::new();
    m.insert("digest".into(), json!(entry(a, e.position).digest.as_str()));
    m.insert("reference".into(), json!(pinned(a)));
    if let Some(r) = a.reference {
        m.insert("source".into(), json!(r.to_string()));
    }
    m.insert("descriptor".into(), Value::Object(ranked_json(a, e)));
    context_json(a, &mut m);
    to_line(Value::Object(m))
}

/// `ocipick host`: the platform and the facts of the machine under `root`.
///
/// PCI devices are named from the PCI ID database under `root`, when there
/// is one: in text after the numeric IDs, in JSON as a `names` object
/// beside each `pci.device` element's `attributes` (which stay as they are).
pub fn host(root: &std::path::Path, output: crate::args::Output) -> String {
    let platform = ocipick_host::platform(root);
    let facts = ocipick_host::Facts::detect(root);
    let db = ocipick_host::PciIds::load(root);
    let names = |feature: &str, a: &std::collections::BTreeMap<String, String>| {
        db.as_ref()
            .filter(|_| feature == "pci.device")
            .map(|db| db.names(a))
            .unwrap_or_default()
    };
    if output == crate::args::Output::Json {
        let mut v = facts.to_nfd_json();
        v["platform"] = json!(platform.to_string());
        if let (Some(list), Some(elements)) = (
            facts.instances.get("pci.device"),
            v["instances"]["pci.device"]["elements"].as_array_mut(),
        ) {
            for (a, element) in list.iter().zip(elements) {
                let n = names("pci.device", a);
                if !n.is_empty() {
                    element["names"] = json!(n);
                }
            }
        }
        return to_line(v);
    }
    let mut out = String::new();
    label(&mut out, "platform", &platform.to_string());
    for (feature, m) in &facts.attributes {
        for (k, v) in m {
            label(&mut out, "fact", &format!("{feature}.{k}={v}"));
        }
    }
    for (feature, list) in &facts.instances {
        for a in list {
            let parts: Vec<String> = a.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let n = names(feature, a);
            let value = if n.is_empty() {
                format!("{feature} {}", parts.join(" "))
            } else {
                let id = |k: &str| a.get(k).map(String::as_str).unwrap_or("?");
                let said: Vec<&str> = ["vendor", "device"]
                    .iter()
                    .filter_map(|k| n.get(k).map(String::as_str))
                    .collect();
                format!(
                    "{feature} {}:{} {} ({})",
                    id("vendor"),
                    id("device"),
                    said.join(" "),
                    parts.join(" ")
                )
            };
            label(&mut out, "device", &value);
        }
    }
    for (feature, set) in &facts.flags {
        let names: Vec<&str> = set.iter().map(String::as_str).collect();
        label(
            &mut out,
            "flags",
            &format!("{feature}: {}", names.join(" ")),
        );
    }
    out
}

/// `ocipick lint` as text: one finding a line (wrapped), then a count.
pub fn lint_text(origin: &str, findings: &[ocipick::lint::Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        wrap(
            &mut out,
            &format!(
                "{} {} {}: {} (fix: {})",
                f.severity.as_str(),
                f.id,
                f.path,
                f.message,
                f.hint
            ),
            "",
            4,
        );
    }
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let _ = writeln!(
        out,
        "{}: {} errors, {} warnings, {} notes",
        visible(origin),
        count(ocipick::lint::Severity::Error),
        count(ocipick::lint::Severity::Warning),
        count(ocipick::lint::Severity::Info)
    );
    out
}

fn finding_json(f: &ocipick::lint::Finding) -> Value {
    json!({"id": f.id, "severity": f.severity.as_str(), "path": f.path, "message": f.message, "hint": f.hint})
}

/// `ocipick lint --output json`.
pub fn lint_json(
    origin: &str,
    findings: &[ocipick::lint::Finding],
    errors: usize,
    warnings: usize,
) -> String {
    let list: Vec<Value> = findings.iter().map(finding_json).collect();
    to_line(json!({"source": origin, "errors": errors, "warnings": warnings, "findings": list}))
}

/// `ocipick lint --output sarif`: SARIF 2.1.0, every rule listed, each
/// finding located by the source and its JSON path.
pub fn lint_sarif(origin: &str, findings: &[ocipick::lint::Finding]) -> String {
    let rules: Vec<Value> = ocipick::lint::RULES
        .iter()
        .chain(ocipick::nfd::lint::RULES)
        .map(|(id, sev, text)| {
            let level = match sev {
                ocipick::lint::Severity::Error => "error",
                ocipick::lint::Severity::Warning => "warning",
                ocipick::lint::Severity::Info => "note",
            };
            json!({"id": id, "shortDescription": {"text": text}, "defaultConfiguration": {"level": level}})
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let level = match f.severity {
                ocipick::lint::Severity::Error => "error",
                ocipick::lint::Severity::Warning => "warning",
                ocipick::lint::Severity::Info => "note",
            };
            json!({
                "ruleId": f.id,
                "level": level,
                "message": {"text": format!("{} Fix: {}", f.message, f.hint)},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": origin}},
                    "logicalLocations": [{"fullyQualifiedName": f.path, "kind": "object"}]
                }]
            })
        })
        .collect();
    to_line(json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "ocipick", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": results
        }]
    }))
}
