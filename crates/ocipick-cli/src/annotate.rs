//! `ocipick annotate`: add, change or remove descriptor annotations of an
//! index and write the new index to a file, an OCI layout or a registry.
//!
//! Only the index changes, and in it only the `annotations` objects of the
//! entries edited: every other byte (fields, key order, whitespace) is kept
//! ([`ocipick::edit`]); the child manifests are neither read nor written.
//! The destinations are [`ocipick_registry::dest`]'s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{ArgAction, Args};
use ocipick::edit::{Edit, EditError};
use ocipick::{Digest, Index, Platform};
use ocipick_registry::dest::{self, Dest, NewIndex};
use ocipick_registry::source;
use serde_json::{json, Value};

use crate::args::{Output, RegistryArgs};
use crate::run::{Doc, Failure, Source, Store, DEFAULT_MAX_INDEX_BYTES};

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
    #[arg(long, value_name = "BYTES", value_parser = crate::args::parse_bytes)]
    pub max_index_bytes: Option<u64>,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

fn invalid(m: impl Into<String>) -> Failure {
    Failure::Invalid(m.into())
}

fn edit(selector: &str, key: &str, value: Option<String>) -> Result<Edit, Failure> {
    let host = ocipick_host::platform(Path::new("/"));
    Edit::new(selector, key, value, &host).map_err(|e| invalid(e.to_string()))
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
    let table = ocipick::edit::parse_mapping(text).map_err(at)?;
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
        Some(t) => Some(Dest::parse(t)?),
        None => match &source_kind {
            Source::Stdin => None,
            Source::File(p) => Some(Dest::File(p.clone())),
            Source::Layout(d, t) => Some(Dest::Layout(d.clone(), t.clone())),
            Source::Archive(_, _) if args.dry_run => None,
            Source::Archive(f, _) => return Err(dest::archive_not_written(f).into()),
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
    let edited = ocipick::edit::apply(&old, &edits).map_err(|e| match e {
        EditError::NoMatch { selector, entries } => invalid(format!(
            "selector {selector:?} matches no entry of {origin}; it has {entries}"
        )),
        EditError::Index(err) => invalid(format!("{origin}: invalid index: {err}")),
        other => invalid(other.to_string()),
    })?;
    let changes = edited.changes;
    let new = edited.bytes;
    let old_digest = Digest::sha256_of(&old);
    let changed = !changes.is_empty();
    let new_digest = if changed {
        Digest::sha256_of(&new)
    } else {
        old_digest.clone()
    };
    let new_bytes: &[u8] = if changed { &new } else { &old };
    let media_type = old_index
        .media_type
        .as_deref()
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
        let owned;
        let client = match (dest, store.as_ref()) {
            (Dest::Registry(_), Some(Store(source::Store::Registry(c, _)))) => Some(c.as_ref()),
            (Dest::Registry(_), _) => {
                owned = crate::run::client(&args.registry, max_index)?;
                Some(&owned)
            }
            _ => None,
        };
        let index = NewIndex {
            bytes: &new,
            media_type: &media_type,
            digest: &new_digest,
            children: &children,
        };
        Some(dest.write(&index, client, max_index, source_layout_top)?)
    };
    if changed {
        // Ready to sign where the new index has a registry name (a trust
        // policy ignores its annotations until it is signed).
        let how = match &dest {
            Some(Dest::Registry(r)) => {
                format!(": cosign sign --key cosign.key {}", r.pinned(&new_digest))
            }
            _ => String::new(),
        };
        warnings.push(format!(
            "signatures and attestations made for the old index digest {old_digest} do not cover the new index {new_digest}; sign the new digest{how}"
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
                report["index"] = serde_json::from_slice::<Value>(new_bytes)
                    .map_err(|e| invalid(format!("internal error: {e}")))?;
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
