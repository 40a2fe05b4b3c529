//! `ocipick annotate`: add, change or remove descriptor annotations of an
//! index and write the new index to a file, an OCI layout or a registry.
//!
//! Only the index changes: every descriptor keeps its digest, size, media
//! type, platform and other fields, in the same order; the child manifests
//! are neither read nor written. The index is edited as a
//! `serde_json::Value` (serde_json here is built without `preserve_order`,
//! so object keys come out in sorted order; that changes no meaning).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{ArgAction, Args};
use ocipick::{Digest, Index, Platform};
use ocipick_registry::{Client, Layout, LayoutTarget, Reference};
use serde_json::{json, Map, Value};

use crate::cli::{Output, RegistryArgs};
use crate::run::{Doc, Failure, Source, Store, DEFAULT_MAX_INDEX_BYTES};

const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Args)]
pub struct AnnotateArgs {
    /// The index: a JSON file, `-` for standard input, an OCI image layout
    /// as DIR, DIR:TAG, oci:DIR[:TAG] or ocidir://DIR[:TAG], a tar of one as
    /// oci-archive:FILE[:TAG] (read only: name a destination with --to), or
    /// a registry reference [docker://][REGISTRY/]REPO[:TAG|@DIGEST].
    pub source: String,

    /// Where to write the new index [default: SOURCE]: a file (written to a
    /// temporary file and renamed; a new file must end in .json or start
    /// with /, ./ or ../), an OCI layout DIR[:TAG] (the new index blob is
    /// added and the tag moved in index.json), or a registry reference (the
    /// new index is pushed by tag; its child manifests must already be in
    /// that repository).
    #[arg(long, value_name = "DEST")]
    pub to: Option<String>,

    /// Set an annotation on the entries SELECTOR picks: a 0-based POSITION,
    /// a PLATFORM (e.g. linux/amd64: every entry with exactly that
    /// normalized platform) or a DIGEST (sha256:…). Repeatable.
    #[arg(long, num_args = 2, value_names = ["SELECTOR", "KEY=VALUE"], action = ArgAction::Append)]
    pub set: Vec<String>,

    /// Remove an annotation from the entries SELECTOR picks. Repeatable.
    #[arg(long, num_args = 2, value_names = ["SELECTOR", "KEY"], action = ArgAction::Append)]
    pub unset: Vec<String>,

    /// A TOML or JSON file of changes: {SELECTOR: {KEY: VALUE}}, where a
    /// value of null (JSON) or false (JSON, TOML) removes the key. Applied
    /// before --set, then --unset.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,

    /// Print the new index (exact bytes) and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,

    /// Refuse index documents larger than this, while reading them.
    /// Accepts KiB/MiB suffixes. [default: 4MiB]
    #[arg(long, value_name = "BYTES", value_parser = crate::cli::parse_bytes)]
    pub max_index_bytes: Option<u64>,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Which entries an edit applies to.
#[derive(Debug, Clone)]
enum Selector {
    Position(usize),
    Digest(String),
    Platform(String),
}

/// One requested change: `value` None removes the key.
#[derive(Debug, Clone)]
struct Edit {
    selector_text: String,
    selector: Selector,
    key: String,
    value: Option<String>,
}

/// A mapping file's content: selectors with their keys and values (None
/// removes).
type Mapping = Vec<(String, Vec<(String, Option<String>)>)>;

/// One change made to one entry.
#[derive(Debug, Clone)]
struct Change {
    position: usize,
    digest: String,
    key: String,
    old: Option<String>,
    new: Option<String>,
}

/// Where the new index goes.
enum Dest {
    File(PathBuf),
    Layout(PathBuf, Option<String>),
    Registry(Reference),
}

fn invalid(m: impl Into<String>) -> Failure {
    Failure::Invalid(m.into())
}

fn parse_selector(s: &str) -> Result<Selector, Failure> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<usize>()
            .map(Selector::Position)
            .map_err(|_| invalid(format!("selector {s:?}: position too large")));
    }
    if s.contains(':') {
        return match Digest::parse(s.to_owned()) {
            Ok(d) => Ok(Selector::Digest(d.as_str().to_owned())),
            Err(e) => Err(invalid(format!("selector {s:?} is not a digest: {e}"))),
        };
    }
    let host = ocipick_host::platform(Path::new("/"));
    match ocipick::platform::selector::parse(s, &host) {
        Ok(p) => Ok(Selector::Platform(p.normalized().to_string())),
        Err(e) => Err(invalid(format!(
            "selector {s:?} is not a position, a digest or a platform: {e}"
        ))),
    }
}

fn check_key(key: &str) -> Result<(), Failure> {
    ocipick::Preference::key(key)
        .validate()
        .map_err(|e| invalid(format!("annotation key {key:?}: {e}")))
}

fn edit(selector: &str, key: &str, value: Option<String>) -> Result<Edit, Failure> {
    check_key(key)?;
    Ok(Edit {
        selector_text: selector.to_owned(),
        selector: parse_selector(selector)?,
        key: key.to_owned(),
        value,
    })
}

/// The edits of the mapping file, then `--set`, then `--unset`.
fn collect_edits(args: &AnnotateArgs) -> Result<Vec<Edit>, Failure> {
    let mut edits = Vec::new();
    if let Some(path) = &args.mapping {
        edits.extend(read_mapping(path)?);
    }
    for pair in args.set.chunks(2) {
        let [sel, kv] = pair else {
            return Err(invalid("--set needs SELECTOR KEY=VALUE"));
        };
        let Some((k, v)) = kv.split_once('=') else {
            return Err(invalid(format!("--set {sel} {kv}: expected KEY=VALUE")));
        };
        edits.push(edit(sel, k, Some(v.to_owned()))?);
    }
    for pair in args.unset.chunks(2) {
        let [sel, k] = pair else {
            return Err(invalid("--unset needs SELECTOR KEY"));
        };
        edits.push(edit(sel, k, None)?);
    }
    if edits.is_empty() {
        return Err(invalid(
            "nothing to change: give --set, --unset or --mapping",
        ));
    }
    Ok(edits)
}

/// Reads a mapping file: JSON when it starts with `{`, else TOML.
fn read_mapping(path: &Path) -> Result<Vec<Edit>, Failure> {
    let bytes = ocipick_registry::read_file(path, 1 << 20, "")?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| invalid(format!("{}: not UTF-8 text", path.display())))?;
    let at = |m: String| invalid(format!("{}: {m}", path.display()));
    let table: Mapping = if text.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(text).map_err(|e| at(format!("not JSON: {e}")))?;
        let Value::Object(top) = v else {
            return Err(at("expected an object of selectors".into()));
        };
        let mut out = Vec::new();
        for (sel, keys) in top {
            let Value::Object(keys) = keys else {
                return Err(at(format!("{sel:?}: expected an object of annotations")));
            };
            let mut kv = Vec::new();
            for (k, v) in keys {
                let v = match v {
                    Value::String(s) => Some(s),
                    Value::Null | Value::Bool(false) => None,
                    other => {
                        return Err(at(format!(
                            "{sel:?}.{k:?}: expected a string, null or false, not {other}"
                        )))
                    }
                };
                kv.push((k, v));
            }
            out.push((sel, kv));
        }
        out
    } else {
        parse_toml_mapping(text).map_err(at)?
    };
    let mut edits = Vec::new();
    for (sel, kv) in table {
        for (k, v) in kv {
            edits.push(edit(&sel, &k, v).map_err(|f| match f {
                Failure::Invalid(m) => at(m),
                other => other,
            })?);
        }
    }
    Ok(edits)
}

/// A TOML mapping: `[SELECTOR]` tables (quote selectors that are not bare
/// keys: `["linux/amd64"]`, `["sha256:…"]`) holding `"KEY" = "VALUE"` (or
/// `KEY = false` to remove it). Keys with dots must be quoted, as TOML reads
/// bare dotted keys as nested tables.
fn parse_toml_mapping(text: &str) -> Result<Mapping, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|sp| text[..sp.start.min(text.len())].matches('\n').count() + 1);
        let msg = e.message().trim().replace('\n', "; ");
        match line {
            Some(l) => format!("line {l}: {msg}"),
            None => msg,
        }
    })?;
    let mut out: Mapping = Vec::new();
    for (sel, keys) in table {
        let toml::Value::Table(keys) = keys else {
            return Err(format!(
                "{sel:?}: expected a [SELECTOR] table of annotations"
            ));
        };
        let mut kv = Vec::new();
        for (k, v) in keys {
            let v = match v {
                toml::Value::String(s) => Some(s),
                toml::Value::Boolean(false) => None,
                toml::Value::Table(_) => {
                    return Err(format!(
                        "{sel:?}.{k}: a dotted key must be quoted (\"{k}.…\" = …)"
                    ))
                }
                other => {
                    return Err(format!(
                        "{sel:?}.{k:?}: expected a string or false, not {other}"
                    ))
                }
            };
            kv.push((k, v));
        }
        out.push((sel, kv));
    }
    Ok(out)
}

/// The positions `sel` picks in `index`.
fn matches(sel: &Selector, index: &Index<'_>) -> Vec<usize> {
    index
        .manifests
        .iter()
        .enumerate()
        .filter(|(i, d)| match sel {
            Selector::Position(p) => p == i,
            Selector::Digest(want) => d.digest.as_str() == want,
            Selector::Platform(want) => d
                .platform
                .as_ref()
                .is_some_and(|p| p.normalized().to_string() == *want),
        })
        .map(|(i, _)| i)
        .collect()
}

fn describe_entries(index: &Index<'_>) -> String {
    let platforms: Vec<String> = index
        .manifests
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let p = d
                .platform
                .as_ref()
                .map_or("no platform".to_owned(), |p| p.normalized().to_string());
            format!("{i}: {p}")
        })
        .collect();
    format!(
        "{} entries ({})",
        index.manifests.len(),
        platforms.join(", ")
    )
}

/// Applies the edits to the index document; returns the changes made.
fn apply(
    doc: &mut Value,
    index: &Index<'_>,
    edits: &[Edit],
    origin: &str,
) -> Result<Vec<Change>, Failure> {
    let mut changes = Vec::new();
    let manifests = doc
        .get_mut("manifests")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| invalid(format!("{origin}: no manifests array")))?;
    for e in edits {
        let hits = matches(&e.selector, index);
        if hits.is_empty() {
            return Err(invalid(format!(
                "selector {:?} matches no entry of {origin}; it has {}",
                e.selector_text,
                describe_entries(index)
            )));
        }
        for p in hits {
            let entry = manifests[p]
                .as_object_mut()
                .ok_or_else(|| invalid(format!("{origin}: manifests[{p}] is not an object")))?;
            let digest = entry
                .get("digest")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let old = entry
                .get("annotations")
                .and_then(|a| a.get(&e.key))
                .and_then(Value::as_str)
                .map(str::to_owned);
            if old == e.value {
                continue;
            }
            match &e.value {
                Some(v) => {
                    let ann = entry
                        .entry("annotations")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if ann.is_null() {
                        *ann = Value::Object(Map::new());
                    }
                    let ann = ann.as_object_mut().ok_or_else(|| {
                        invalid(format!(
                            "{origin}: manifests[{p}].annotations is not an object"
                        ))
                    })?;
                    ann.insert(e.key.clone(), Value::String(v.clone()));
                }
                None => {
                    if let Some(Value::Object(ann)) = entry.get_mut("annotations") {
                        ann.remove(&e.key);
                        if ann.is_empty() {
                            entry.remove("annotations");
                        }
                    }
                }
            }
            changes.push(Change {
                position: p,
                digest,
                key: e.key.clone(),
                old,
                new: e.value.clone(),
            });
        }
    }
    Ok(changes)
}

/// Serializes like the source: pretty when it spanned lines, with its
/// trailing newline if it had one.
fn serialize(doc: &Value, like: &[u8]) -> Vec<u8> {
    let trimmed = like.trim_ascii_end();
    let mut out = if trimmed.contains(&b'\n') {
        serde_json::to_vec_pretty(doc)
    } else {
        serde_json::to_vec(doc)
    }
    .expect("a Value serializes");
    if like.ends_with(b"\n") {
        out.push(b'\n');
    }
    out
}

/// Every field but annotations, per descriptor, must be as it was.
fn same_but_annotations(old: &Index<'_>, new: &Index<'_>) -> bool {
    old.manifests.len() == new.manifests.len()
        && old.manifests.iter().zip(&new.manifests).all(|(a, b)| {
            let mut a = a.clone();
            a.annotations = b.annotations.clone();
            a == *b
        })
        && old.media_type == new.media_type
        && old.annotations == new.annotations
        && old.subject == new.subject
        && old.artifact_type == new.artifact_type
}

/// Archives are read, never rewritten.
fn archive_not_written(file: &Path) -> Failure {
    invalid(format!(
        "{}: annotate does not rewrite oci-archive files; name a file or a layout directory with --to, or use --dry-run",
        file.display()
    ))
}

fn looks_like_new_file(s: &str) -> bool {
    s.ends_with(".json") || s.starts_with('/') || s.starts_with("./") || s.starts_with("../")
}

fn parse_dest(s: &str) -> Result<Dest, Failure> {
    if s == "-" {
        return Err(invalid(
            "--to -: standard output is not a destination (use --dry-run)",
        ));
    }
    let prefixed = ["docker://", "oci:", "ocidir://", "oci-archive:"]
        .iter()
        .any(|p| s.starts_with(p));
    if !prefixed && !Path::new(s).exists() {
        let is_layout_tag = s
            .rsplit_once(':')
            .is_some_and(|(dir, _)| Path::new(dir).is_dir());
        if !is_layout_tag && looks_like_new_file(s) {
            return Ok(Dest::File(PathBuf::from(s)));
        }
    }
    match crate::run::parse_source(s, None)? {
        Source::Stdin => Err(invalid("standard input is not a destination")),
        Source::File(p) => Ok(Dest::File(p)),
        Source::Layout(d, t) => Ok(Dest::Layout(d, t)),
        Source::Archive(f, _) => Err(archive_not_written(&f)),
        Source::Registry(r) => Ok(Dest::Registry(r)),
    }
}

/// What was written, for the report.
#[allow(clippy::too_many_arguments)]
fn write_dest(
    dest: &Dest,
    bytes: &[u8],
    media_type: &str,
    new_digest: &Digest<'_>,
    children: &[String],
    store: Option<&Store>,
    args: &AnnotateArgs,
    max_index: u64,
    source_layout_top: Option<&Path>,
) -> Result<String, Failure> {
    match dest {
        Dest::File(p) => {
            Layout::write_atomically(p, bytes).map_err(|e| invalid(format!("writing {e}")))?;
            Ok(format!("wrote {}", p.display()))
        }
        Dest::Layout(dir, tag) => {
            let layout = Layout::open(dir, max_index)?;
            let missing: Vec<&String> = children
                .iter()
                .filter(|d| Digest::parse(d.as_str()).map_or(true, |d| !layout.has_blob(&d)))
                .collect();
            if !missing.is_empty() {
                return Err(invalid(format!(
                    "{}: the layout lacks {} of the index's child manifests: {}; copy them into blobs/ first",
                    dir.display(),
                    missing.len(),
                    join(&missing)
                )));
            }
            let top = layout.index_json()?;
            let top_index =
                Index::parse(&top).map_err(|err| ocipick_registry::SourceError::Index {
                    path: dir.join("index.json"),
                    err,
                })?;
            let target = match tag {
                Some(t) => Some(t.clone()),
                None => match layout.resolve(&top_index, None) {
                    Ok(LayoutTarget::TopIndex) => None,
                    Ok(LayoutTarget::Entry(d)) => match d.annotations.get(REF_NAME) {
                        Some(t) => Some(t.to_string()),
                        None => {
                            return Err(invalid(format!(
                                "{}: its only entry has no tag; name one: {}:TAG",
                                dir.display(),
                                dir.display()
                            )))
                        }
                    },
                    Err(e) => return Err(e.into()),
                },
            };
            match target {
                Some(t) => {
                    layout.write_blob(bytes)?;
                    layout.retag(&t, media_type, new_digest, bytes.len() as u64)?;
                    Ok(format!(
                        "wrote {}/blobs/{}/{} and tagged it {t:?} in {}/index.json",
                        dir.display(),
                        new_digest.algorithm(),
                        new_digest.encoded(),
                        dir.display()
                    ))
                }
                None => {
                    // index.json is itself the index: it is rewritten whole
                    // (only when it is what was annotated).
                    let same = source_layout_top
                        .is_some_and(|s| s.canonicalize().ok() == dir.canonicalize().ok());
                    if !same {
                        return Err(invalid(format!(
                            "{}: index.json is a multi-platform index of its own; name a tag to write to: {}:TAG",
                            dir.display(),
                            dir.display()
                        )));
                    }
                    layout.write_index_json(bytes)?;
                    Ok(format!("rewrote {}/index.json", dir.display()))
                }
            }
        }
        Dest::Registry(r) => {
            let Some(tag) = r.tag.clone() else {
                return Err(invalid(format!(
                    "{r}: a registry destination needs a tag to push to"
                )));
            };
            let owned;
            let client: &Client = match store {
                Some(Store::Registry(c, _)) => c.as_ref(),
                _ => {
                    owned = crate::run::client(&args.registry, max_index)?;
                    &owned
                }
            };
            let mut missing = Vec::new();
            for d in children {
                let digest = Digest::parse(d.as_str())
                    .map_err(|e| invalid(format!("child digest {d}: {e}")))?;
                if !client.has_manifest(r, &digest).map_err(Failure::from)? {
                    missing.push(d);
                }
            }
            if !missing.is_empty() {
                return Err(Failure::Registry(format!(
                    "{}/{}: the repository lacks {} of the index's child manifests ({}); \
                     copy them there first (nothing was pushed)",
                    r.registry,
                    r.repository,
                    missing.len(),
                    join(&missing)
                )));
            }
            let pushed = client
                .put_manifest(r, &tag, media_type, bytes)
                .map_err(Failure::from)?;
            if pushed != *new_digest {
                return Err(Failure::Registry(format!(
                    "{r}: pushed digest {pushed} differs from {new_digest}"
                )));
            }
            Ok(format!("pushed {}/{}:{tag}", r.registry, r.repository))
        }
    }
}

fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

fn show(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("{s:?}"),
        None => "(none)".into(),
    }
}

/// `ocipick annotate`: the report to print and the exit status.
pub fn run(args: &AnnotateArgs) -> Result<(String, u8), Failure> {
    let max_index = args.max_index_bytes.unwrap_or(DEFAULT_MAX_INDEX_BYTES);
    let edits = collect_edits(args)?;
    let source_kind = crate::run::parse_source(&args.source, None)?;
    if matches!(source_kind, Source::Stdin) && args.to.is_none() && !args.dry_run {
        return Err(invalid(
            "the index comes from standard input: name where to write it with --to",
        ));
    }
    let dest = match &args.to {
        Some(t) => Some(parse_dest(t)?),
        None => match &source_kind {
            Source::Stdin => None,
            Source::File(p) => Some(Dest::File(p.clone())),
            Source::Layout(d, t) => Some(Dest::Layout(d.clone(), t.clone())),
            Source::Archive(_, _) if args.dry_run => None,
            Source::Archive(f, _) => return Err(archive_not_written(f)),
            Source::Registry(r) => Some(Dest::Registry(r.clone())),
        },
    };
    if let Some(Dest::Registry(r)) = &dest {
        if r.tag.is_none() && !args.dry_run {
            return Err(invalid(format!(
                "{r} names a digest only; name a tag to push to with --to REPO:TAG"
            )));
        }
    }
    let (origin, doc, store) =
        crate::run::load_source(&args.source, None, &args.registry, max_index)?;
    let old = match doc {
        Doc::Bytes(b) => b,
        Doc::Single(d) => {
            return Err(invalid(format!(
                "{origin} is a single {}, not an index: there are no descriptors to annotate",
                d.media_type
            )))
        }
    };
    let old_index =
        Index::parse(&old).map_err(|err| invalid(format!("{origin}: invalid index: {err}")))?;
    let mut value: Value =
        serde_json::from_slice(&old).map_err(|e| invalid(format!("{origin}: not JSON: {e}")))?;
    let changes = apply(&mut value, &old_index, &edits, &origin)?;
    let new = serialize(&value, &old);
    let new_index = Index::parse(&new)
        .map_err(|err| invalid(format!("the annotated index would be invalid: {err}")))?;
    if !same_but_annotations(&old_index, &new_index) {
        return Err(invalid(
            "internal error: the edit changed more than annotations",
        ));
    }
    let old_digest = Digest::sha256_of(&old);
    let changed = !changes.is_empty();
    let new_digest = if changed {
        Digest::sha256_of(&new)
    } else {
        old_digest.clone()
    };
    let new_bytes: &[u8] = if changed { &new } else { &old };
    let media_type = value
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or(ocipick::media_type::OCI_INDEX)
        .to_owned();
    let mut children: Vec<String> = old_index
        .manifests
        .iter()
        .map(|d| d.digest.as_str().to_owned())
        .collect();
    children.sort();
    children.dedup();
    let dest_name = args.to.clone().unwrap_or_else(|| args.source.clone());
    let source_layout_top = match &source_kind {
        Source::Layout(d, None) if origin == format!("{}/index.json", d.display()) => {
            Some(d.as_path())
        }
        _ => None,
    };

    let mut warnings = Vec::new();
    let wrote = if !changed {
        warnings.push("no annotation changed: nothing was written".to_owned());
        None
    } else if args.dry_run {
        None
    } else {
        let dest = dest.as_ref().expect("checked above");
        Some(write_dest(
            dest,
            &new,
            &media_type,
            &new_digest,
            &children,
            store.as_ref(),
            args,
            max_index,
            source_layout_top,
        )?)
    };
    if changed {
        warnings.push(format!(
            "signatures and attestations made for the old index digest {old_digest} do not cover the new index {new_digest}; sign the new digest"
        ));
    }
    for w in &warnings {
        crate::say::warn(w);
    }

    let text = match args.output {
        Output::Json => {
            let mut report = json!({
                "source": origin,
                "destination": dest_name,
                "dryRun": args.dry_run,
                "oldDigest": old_digest.as_str(),
                "oldSize": old.len(),
                "newDigest": new_digest.as_str(),
                "newSize": new_bytes.len(),
                "mediaType": media_type,
                "changes": changes.iter().map(|c| json!({
                    "position": c.position,
                    "digest": c.digest,
                    "key": c.key,
                    "old": c.old,
                    "new": c.new,
                })).collect::<Vec<_>>(),
                "written": wrote.is_some(),
                "warnings": warnings,
            });
            if let Some(w) = &wrote {
                report["wrote"] = json!(w);
            }
            if args.dry_run {
                report["index"] = value.clone();
            }
            let mut s = serde_json::to_string_pretty(&report).expect("serializes");
            s.push('\n');
            s
        }
        Output::Text if args.dry_run => {
            crate::say::note(&format!("old index: {old_digest} ({} bytes)", old.len()));
            crate::say::note(&format!(
                "new index: {new_digest} ({} bytes); dry run: nothing written",
                new_bytes.len()
            ));
            String::from_utf8(new_bytes.to_vec()).expect("JSON is UTF-8")
        }
        Output::Text => {
            // Paths, references and platforms are untrusted (a file name
            // can hold an escape sequence): shown as `visible` shows them.
            // Values are quoted with `{:?}`, which escapes control
            // characters too.
            let vis = crate::output::visible;
            let mut s = format!("{} -> {}\n", vis(&origin), vis(&dest_name));
            let by_pos: BTreeMap<usize, Option<&Platform<'_>>> = old_index
                .manifests
                .iter()
                .enumerate()
                .map(|(i, d)| (i, d.platform.as_ref()))
                .collect();
            for c in &changes {
                let plat = by_pos
                    .get(&c.position)
                    .copied()
                    .flatten()
                    .map_or("no platform".to_owned(), |p| p.to_string());
                let what = match &c.new {
                    Some(v) => format!("set {} = {v:?} (was {})", c.key, show(&c.old)),
                    None => format!("unset {} (was {})", c.key, show(&c.old)),
                };
                s.push_str(&format!(
                    "  [{}] {} {}: {}\n",
                    c.position,
                    c.digest,
                    vis(&plat),
                    vis(&what)
                ));
            }
            s.push_str(&format!("old index: {old_digest} ({} bytes)\n", old.len()));
            s.push_str(&format!(
                "new index: {new_digest} ({} bytes)\n",
                new_bytes.len()
            ));
            if let Some(w) = &wrote {
                s.push_str(&vis(w));
                s.push('\n');
            }
            s
        }
    };
    Ok((text, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_mapping() {
        let m = parse_toml_mapping(
            "# c\n[\"linux/amd64\"]\n\"com.example.gpu\" = \"cuda\\u0021\" # x\nold = false\n[0]\n'a.b' = 'lit'\n",
        )
        .unwrap();
        assert_eq!(m.len(), 2);
        // Tables come in key order.
        assert_eq!(m[0].0, "0");
        assert_eq!(m[0].1[0], ("a.b".into(), Some("lit".into())));
        assert_eq!(m[1].0, "linux/amd64");
        assert_eq!(m[1].1[0], ("com.example.gpu".into(), Some("cuda!".into())));
        assert_eq!(m[1].1[1], ("old".into(), None));
        for bad in [
            "a = \"b\"",
            "[linux/amd64]\n",
            "[x]\ncom.example = \"y\"",
            "[x]\nk = 3",
            "[x]\nk = \"open",
            "[x]\n[x]\n",
        ] {
            assert!(parse_toml_mapping(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn selectors() {
        assert!(matches!(
            parse_selector("2").unwrap(),
            Selector::Position(2)
        ));
        assert!(matches!(
            parse_selector("linux/arm64").unwrap(),
            Selector::Platform(p) if p == "linux/arm64"
        ));
        assert!(matches!(
            parse_selector("linux/aarch64").unwrap(),
            Selector::Platform(p) if p == "linux/arm64"
        ));
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(matches!(parse_selector(&d).unwrap(), Selector::Digest(x) if x == d));
        assert!(parse_selector("sha256:zz").is_err());
        assert!(parse_selector("no/such/plat/form").is_err());
    }
}
