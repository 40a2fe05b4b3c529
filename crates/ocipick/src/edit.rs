//! Annotation edits on an index's raw bytes.
//!
//! [`apply`] sets and removes descriptor annotations of an image index and
//! returns the new index's bytes. Only the `annotations` objects of the
//! descriptors that change are rewritten: every other byte of the document
//! (other descriptors, other fields, whitespace, key order, escapes, the
//! index's own annotations) is kept as it was, and inside a rewritten
//! `annotations` object every member that is not edited keeps its bytes and
//! place. [`Edited::splices`] says exactly which byte ranges were replaced.
//!
//! The document is first validated with [`Index::parse`]; a small scanner
//! then locates each descriptor's object and its `annotations` member (see
//! docs/decisions.md, "Index edits on raw bytes"). The result is parsed
//! again and compared with the original before it is returned: every field
//! but the annotations of each descriptor must be as it was, and the
//! annotations exactly what the edits ask for.
//!
//! ```
//! use ocipick::edit::{apply, Edit};
//! use ocipick::{Index, Platform};
//!
//! let old = br#"{"schemaVersion":2,"manifests":[
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,
//!    "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
//!    "platform":{"os":"linux","architecture":"amd64"}},
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7682,
//!    "digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
//!    "platform":{"os":"linux","architecture":"amd64","variant":"v3"},
//!    "annotations":{"z.first":"1","com.example.gpu":"old"}}]}"#;
//! let host = Platform::new("linux", "amd64", None);
//! let edits = [
//!     Edit::new("linux/amd64/v3", "com.example.gpu", Some("cuda-12.4".into()), &host)?,
//!     Edit::new("0", "com.example.level", Some("baseline".into()), &host)?,
//! ];
//! let edited = apply(old, &edits)?;
//! assert_eq!(edited.changes.len(), 2);
//! let text = String::from_utf8(edited.bytes.clone())?;
//! // The untouched member keeps its place and bytes; key order is kept.
//! assert!(text.contains(r#""annotations":{"z.first":"1","com.example.gpu":"cuda-12.4"}"#));
//! assert!(text.contains(r#""platform":{"os":"linux","architecture":"amd64"},"annotations":{"com.example.level":"baseline"}}"#));
//! let index = Index::parse(&edited.bytes)?;
//! assert_eq!(index.manifests[1].annotations["com.example.gpu"], "cuda-12.4");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::ops::Range;

use crate::{Digest, Index, IndexError, Platform};

/// Which entries of an index an edit applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The entry at this 0-based position.
    Position(usize),
    /// Every entry with this digest.
    Digest(String),
    /// Every entry whose normalized platform is this one (as written by
    /// [`Platform`]'s `Display`, e.g. `linux/arm64`).
    Platform(String),
}

impl Selector {
    /// Reads a selector: digits are a position, text with a `:` a digest,
    /// anything else a platform selector (completed from `host` as
    /// [`crate::platform::selector::parse`] does, then normalized).
    pub fn parse(s: &str, host: &Platform<'_>) -> Result<Selector, EditError> {
        let invalid = |m: String| EditError::Invalid(m);
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
        match crate::platform::selector::parse(s, host) {
            Ok(p) => Ok(Selector::Platform(p.normalized().to_string())),
            Err(e) => Err(invalid(format!(
                "selector {s:?} is not a position, a digest or a platform: {e}"
            ))),
        }
    }

    /// The positions this selector picks in `index`, in index order.
    pub fn matches(&self, index: &Index<'_>) -> Vec<usize> {
        index
            .manifests
            .iter()
            .enumerate()
            .filter(|(i, d)| match self {
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
}

/// One requested change: set `key` to `value` on the entries `selector`
/// picks, or remove it where `value` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The selector as the user wrote it, for messages.
    pub selector_text: String,
    /// Which entries.
    pub selector: Selector,
    /// The annotation key (checked by [`crate::Preference::validate`]'s
    /// rules for keys).
    pub key: String,
    /// The new value; `None` removes the key.
    pub value: Option<String>,
}

impl Edit {
    /// An edit from a selector's text (see [`Selector::parse`]), a key and
    /// a value (`None` removes the key).
    pub fn new(
        selector: &str,
        key: &str,
        value: Option<String>,
        host: &Platform<'_>,
    ) -> Result<Edit, EditError> {
        crate::Preference::key(key)
            .validate()
            .map_err(|e| EditError::Invalid(format!("annotation key {key:?}: {e}")))?;
        Ok(Edit {
            selector_text: selector.to_owned(),
            selector: Selector::parse(selector, host)?,
            key: key.to_owned(),
            value,
        })
    }
}

/// One change made to one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The entry's position.
    pub position: usize,
    /// The entry's digest.
    pub digest: String,
    /// The annotation key.
    pub key: String,
    /// Its value before (`None`: absent).
    pub old: Option<String>,
    /// Its value after (`None`: removed).
    pub new: Option<String>,
}

/// One replaced byte range: `old` in the original document became `new`
/// in the edited one. Splices are in document order and do not overlap;
/// the bytes between them are the original's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    /// The range replaced, in the original bytes.
    pub old: Range<usize>,
    /// What replaced it, in the new bytes.
    pub new: Range<usize>,
}

/// The result of [`apply`].
#[derive(Debug, Clone)]
pub struct Edited {
    /// The new index document (the original bytes when nothing changed).
    pub bytes: Vec<u8>,
    /// The changes made, in the order of the edits, then of positions.
    /// Edits that set a value an entry already has change nothing and are
    /// not listed.
    pub changes: Vec<Change>,
    /// The byte ranges replaced, at most one per changed entry.
    pub splices: Vec<Splice>,
}

/// Why edits could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    /// A malformed selector, key or mapping.
    #[error("{0}")]
    Invalid(String),
    /// The document is not a valid index.
    #[error("invalid index: {0}")]
    Index(#[from] IndexError),
    /// A selector picks no entry.
    #[error("selector {selector:?} matches no entry; it has {entries}")]
    NoMatch {
        /// The selector as written.
        selector: String,
        /// The entries the index has, for the message (`2 entries (0:
        /// linux/amd64, 1: linux/arm64)`).
        entries: String,
    },
    /// The edited document failed the final check (a bug; nothing should
    /// be written).
    #[error("internal error: {0}")]
    Internal(String),
}

/// A short list of the entries of `index`: `3 entries (0: linux/amd64, 1:
/// no platform, …)`.
pub fn describe_entries(index: &Index<'_>) -> String {
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

/// A mapping file's content: selectors with their keys and values (`None`
/// removes the key), in the order [`parse_mapping`] read them.
pub type Mapping = Vec<(String, Vec<(String, Option<String>)>)>;

/// Reads a mapping of changes: `{SELECTOR: {KEY: VALUE}}` as JSON (when the
/// text starts with `{`; a value of `null` or `false` removes the key) or as
/// TOML (`[SELECTOR]` tables holding `"KEY" = "VALUE"` or `KEY = false`;
/// quote selectors and dotted keys). Selectors and keys come out sorted.
///
/// ```
/// let m = ocipick::edit::parse_mapping("[\"linux/amd64\"]\n\"a.b\" = \"x\"\nold = false\n").unwrap();
/// assert_eq!(m, vec![("linux/amd64".to_owned(), vec![("a.b".to_owned(), Some("x".to_owned())), ("old".to_owned(), None)])]);
/// ```
pub fn parse_mapping(text: &str) -> Result<Mapping, String> {
    if text.trim_start().starts_with('{') {
        parse_json_mapping(text)
    } else {
        parse_toml_mapping(text)
    }
}

fn parse_json_mapping(text: &str) -> Result<Mapping, String> {
    use serde_json::Value;
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(top) = v else {
        return Err("expected an object of selectors".into());
    };
    let mut out = Vec::new();
    for (sel, keys) in top {
        let Value::Object(keys) = keys else {
            return Err(format!("{sel:?}: expected an object of annotations"));
        };
        let mut kv = Vec::new();
        for (k, v) in keys {
            let v = match v {
                Value::String(s) => Some(s),
                Value::Null | Value::Bool(false) => None,
                other => {
                    return Err(format!(
                        "{sel:?}.{k:?}: expected a string, null or false, not {other}"
                    ))
                }
            };
            kv.push((k, v));
        }
        out.push((sel, kv));
    }
    Ok(out)
}

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

/// One member of an annotation object after the edits.
struct Member {
    key: String,
    value: String,
    /// Its index among the original object's members, if it was there.
    orig: Option<usize>,
    /// Whether its value differs from the original's.
    changed: bool,
}

/// Applies `edits` in order to the index document `bytes`.
///
/// Each edit must pick at least one entry ([`EditError::NoMatch`]). An
/// `annotations` object left empty by removals is removed with its member;
/// one that did not exist (or was `null`) is created, after the
/// descriptor's last field, in the document's style (compact, or indented
/// like its neighbours).
pub fn apply(bytes: &[u8], edits: &[Edit]) -> Result<Edited, EditError> {
    let index = Index::parse(bytes)?;
    let internal = |m: &str| EditError::Internal(m.to_owned());
    let descs =
        scan_descriptors(bytes).ok_or_else(|| internal("the index could not be scanned"))?;
    if descs.len() != index.manifests.len() {
        return Err(internal("the scanner found a different number of entries"));
    }
    // The annotation members of each touched entry, in order.
    let mut state: BTreeMap<usize, Vec<Member>> = BTreeMap::new();
    let mut changed = std::collections::BTreeSet::new();
    let mut changes = Vec::new();
    for e in edits {
        let hits = e.selector.matches(&index);
        if hits.is_empty() {
            return Err(EditError::NoMatch {
                selector: e.selector_text.clone(),
                entries: describe_entries(&index),
            });
        }
        for p in hits {
            let members = match state.entry(p) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    let orig = original_members(bytes, &descs[p])
                        .ok_or_else(|| internal("an annotations object could not be scanned"))?;
                    v.insert(orig)
                }
            };
            let at = members.iter().position(|m| m.key == e.key);
            let old = at.map(|i| members[i].value.clone());
            if old == e.value {
                continue;
            }
            match (&e.value, at) {
                (Some(v), Some(i)) => {
                    members[i].value = v.clone();
                    members[i].changed = true;
                }
                (Some(v), None) => members.push(Member {
                    key: e.key.clone(),
                    value: v.clone(),
                    orig: None,
                    changed: true,
                }),
                (None, Some(i)) => {
                    members.remove(i);
                }
                (None, None) => {}
            }
            changed.insert(p);
            changes.push(Change {
                position: p,
                digest: index.manifests[p].digest.as_str().to_owned(),
                key: e.key.clone(),
                old,
                new: e.value.clone(),
            });
        }
    }
    if changes.is_empty() {
        return Ok(Edited {
            bytes: bytes.to_vec(),
            changes,
            splices: Vec::new(),
        });
    }

    // One replacement per changed entry, against the original bytes.
    let mut planned: Vec<(Range<usize>, Vec<u8>)> = Vec::new();
    // The first non-empty annotations object, whose style new objects take
    // (siblings are indented alike).
    let sibling = descs.iter().find_map(|d| {
        annotation_object(bytes, d)
            .flatten()
            .filter(|o| !o.members.is_empty())
    });
    for &p in &changed {
        if let Some(s) = plan(bytes, &descs[p], sibling.as_ref(), &state[&p]) {
            planned.push(s);
        }
    }
    planned.sort_by_key(|(r, _)| r.start);
    let mut out = Vec::with_capacity(bytes.len() + 256);
    let mut splices = Vec::with_capacity(planned.len());
    let mut at = 0;
    for (range, text) in planned {
        if range.start < at || range.end > bytes.len() || range.start > range.end {
            return Err(internal("overlapping replacements"));
        }
        out.extend_from_slice(&bytes[at..range.start]);
        let start = out.len();
        out.extend_from_slice(&text);
        splices.push(Splice {
            old: range.clone(),
            new: start..out.len(),
        });
        at = range.end;
    }
    out.extend_from_slice(&bytes[at..]);

    // The final check: only the annotations of changed entries differ, and
    // they are what the edits ask for.
    let new = Index::parse(&out)
        .map_err(|e| EditError::Internal(format!("the edited index does not parse: {e}")))?;
    let same_top = new.manifests.len() == index.manifests.len()
        && new.media_type == index.media_type
        && new.annotations == index.annotations
        && new.subject == index.subject
        && new.artifact_type == index.artifact_type;
    if !same_top {
        return Err(internal("the edit changed more than annotations"));
    }
    for (p, (a, b)) in index.manifests.iter().zip(&new.manifests).enumerate() {
        let mut a = a.clone();
        if let Some(members) = state.get(&p) {
            a.annotations = members
                .iter()
                .map(|m| (m.key.clone().into(), m.value.clone().into()))
                .collect();
        }
        if a != *b {
            return Err(internal("the edit changed more than annotations"));
        }
    }
    Ok(Edited {
        bytes: out,
        changes,
        splices,
    })
}

/// Where one member of an object is: its key (with quotes) and its value.
#[derive(Debug, Clone)]
struct Span {
    key: Range<usize>,
    value: Range<usize>,
}

/// An object: its braces and members.
#[derive(Debug, Clone)]
struct Obj {
    open: usize,
    close: usize,
    members: Vec<Span>,
}

/// A descriptor object and which of its members is `annotations`.
#[derive(Debug, Clone)]
struct Desc {
    obj: Obj,
    annotations: Option<usize>,
}

/// The key of `span`, decoded.
fn key_of(bytes: &[u8], span: &Span) -> Option<String> {
    serde_json::from_slice(bytes.get(span.key.clone())?).ok()
}

/// Locates every descriptor of `manifests` in a document that
/// [`Index::parse`] accepted. `None` where the document is not shaped as
/// expected (which the caller reports as an internal error).
fn scan_descriptors(bytes: &[u8]) -> Option<Vec<Desc>> {
    let mut s = Scanner { b: bytes, i: 0 };
    s.ws();
    let top = s.object()?;
    let mut manifests = None;
    for m in &top.members {
        if key_of(bytes, m)?.as_str() == "manifests" {
            manifests = Some(m.value.clone());
        }
    }
    let Some(range) = manifests else {
        return Some(Vec::new());
    };
    let mut s = Scanner {
        b: bytes,
        i: range.start,
    };
    if s.peek()? == b'n' {
        return Some(Vec::new()); // null
    }
    let elements = s.array()?;
    let mut out = Vec::with_capacity(elements.len());
    for e in elements {
        let mut s = Scanner {
            b: bytes,
            i: e.start,
        };
        let obj = s.object()?;
        let mut annotations = None;
        for (j, m) in obj.members.iter().enumerate() {
            if key_of(bytes, m)?.as_str() == "annotations" {
                annotations = Some(j);
            }
        }
        out.push(Desc { obj, annotations });
    }
    Some(out)
}

/// The members of a descriptor's `annotations` object, decoded (none when
/// it is absent or `null`).
fn original_members(bytes: &[u8], d: &Desc) -> Option<Vec<Member>> {
    let Some(obj) = annotation_object(bytes, d)? else {
        return Some(Vec::new());
    };
    obj.members
        .iter()
        .enumerate()
        .map(|(j, m)| {
            Some(Member {
                key: key_of(bytes, m)?,
                value: serde_json::from_slice(bytes.get(m.value.clone())?).ok()?,
                orig: Some(j),
                changed: false,
            })
        })
        .collect()
}

/// The descriptor's `annotations` object: `Some(None)` when absent or null.
fn annotation_object(bytes: &[u8], d: &Desc) -> Option<Option<Obj>> {
    let Some(j) = d.annotations else {
        return Some(None);
    };
    let v = d.obj.members.get(j)?.value.clone();
    let mut s = Scanner {
        b: bytes,
        i: v.start,
    };
    match s.peek()? {
        b'{' => Some(Some(s.object()?)),
        b'n' => Some(None),
        _ => None,
    }
}

/// The replacement for one changed descriptor: a range of the original and
/// its new bytes; `None` when nothing is to be replaced.
fn plan(
    bytes: &[u8],
    d: &Desc,
    sibling: Option<&Obj>,
    members: &[Member],
) -> Option<(Range<usize>, Vec<u8>)> {
    let orig = annotation_object(bytes, d)?;
    let dm = &d.obj.members;
    let unchanged = members
        .iter()
        .enumerate()
        .all(|(i, m)| m.orig == Some(i) && !m.changed)
        && orig.as_ref().map_or(0, |o| o.members.len()) == members.len();
    if unchanged && (d.annotations.is_none() || !members.is_empty()) {
        return None;
    }
    let slice = |r: Range<usize>| bytes.get(r).unwrap_or_default();
    // The descriptor's own separator between members, and what follows it.
    let sep_full: Vec<u8> = match dm.len() {
        0 => return None,
        1 => [b",", slice(d.obj.open + 1..dm[0].key.start)].concat(),
        _ => slice(dm[0].value.end..dm[1].key.start).to_vec(),
    };
    if members.is_empty() {
        // Remove the annotations member with one separator.
        let j = d.annotations?;
        let range = if j > 0 {
            dm[j - 1].value.end..dm[j].value.end
        } else if dm.len() > 1 {
            dm[0].key.start..dm[1].key.start
        } else {
            d.obj.open + 1..d.obj.close
        };
        return Some((range, Vec::new()));
    }
    let text = render(bytes, d, orig.as_ref(), sibling, members, &sep_full);
    match d.annotations {
        Some(j) => Some((dm[j].value.clone(), text)),
        None => {
            let last = dm.last()?;
            let colon = slice(dm[0].key.end..dm[0].value.start);
            let mut ins = sep_full.clone();
            ins.extend_from_slice(b"\"annotations\"");
            ins.extend_from_slice(colon);
            ins.extend_from_slice(&text);
            Some((last.value.end..last.value.end, ins))
        }
    }
}

/// The new `annotations` object: kept members verbatim, changed values
/// replaced, new members in the object's (or else the descriptor's) style.
fn render(
    bytes: &[u8],
    d: &Desc,
    orig: Option<&Obj>,
    sibling: Option<&Obj>,
    members: &[Member],
    d_sep: &[u8],
) -> Vec<u8> {
    let slice = |r: Range<usize>| bytes.get(r).unwrap_or_default();
    let dm = &d.obj.members;
    // The style comes from the object itself, else from another entry's
    // annotations, else from the descriptor.
    let style = orig.filter(|o| !o.members.is_empty()).or(sibling);
    let (open_ws, close_ws, sep, colon): (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) = match style {
        Some(o) if !o.members.is_empty() => {
            let m = &o.members;
            let open_ws = slice(o.open + 1..m[0].key.start).to_vec();
            let close_ws = slice(m[m.len() - 1].value.end..o.close).to_vec();
            let sep = if m.len() > 1 {
                slice(m[0].value.end..m[1].key.start).to_vec()
            } else {
                [b",".as_slice(), &open_ws].concat()
            };
            (
                open_ws,
                close_ws,
                sep,
                slice(m[0].key.end..m[0].value.start).to_vec(),
            )
        }
        _ => {
            let colon = slice(dm[0].key.end..dm[0].value.start).to_vec();
            // The whitespace after the descriptor's separator's comma.
            let after = d_sep
                .iter()
                .position(|&c| c == b',')
                .map_or(d_sep, |i| &d_sep[i + 1..]);
            let close = slice(dm[dm.len() - 1].value.end..d.obj.close);
            match after.iter().rposition(|&c| c == b'\n') {
                Some(nl) => {
                    let inner = &after[nl + 1..];
                    let outer = close
                        .iter()
                        .rposition(|&c| c == b'\n')
                        .map_or(&[][..], |n| &close[n + 1..]);
                    let unit: &[u8] = if inner.len() > outer.len() && inner.starts_with(outer) {
                        &inner[outer.len()..]
                    } else {
                        b"  "
                    };
                    let open_ws = [b"\n".as_slice(), inner, unit].concat();
                    let close_ws = [b"\n".as_slice(), inner].concat();
                    let sep = [b",".as_slice(), &open_ws].concat();
                    (open_ws, close_ws, sep, colon)
                }
                None => (
                    Vec::new(),
                    Vec::new(),
                    [b",".as_slice(), after].concat(),
                    colon,
                ),
            }
        }
    };
    let mut out = vec![b'{'];
    out.extend_from_slice(&open_ws);
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(&sep);
        }
        let span = m.orig.and_then(|j| orig.and_then(|o| o.members.get(j)));
        match span {
            Some(s) if !m.changed => out.extend_from_slice(slice(s.key.start..s.value.end)),
            Some(s) => {
                out.extend_from_slice(slice(s.key.start..s.value.start));
                out.extend_from_slice(json_string(&m.value).as_bytes());
            }
            None => {
                out.extend_from_slice(json_string(&m.key).as_bytes());
                out.extend_from_slice(&colon);
                out.extend_from_slice(json_string(&m.value).as_bytes());
            }
        }
    }
    out.extend_from_slice(&close_ws);
    out.push(b'}');
    out
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Finds the spans of objects, arrays and their members in JSON that
/// serde_json has already accepted. Every method returns `None` on anything
/// unexpected instead of panicking; nested values are skipped iteratively.
struct Scanner<'b> {
    b: &'b [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn string(&mut self) -> Option<Range<usize>> {
        let start = self.i;
        self.eat(b'"')?;
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(start..self.i);
                }
                b'\\' => self.i += 2,
                _ => self.i += 1,
            }
        }
    }

    /// Skips one value of any kind.
    fn value(&mut self) -> Option<Range<usize>> {
        let start = self.i;
        match self.peek()? {
            b'"' => return self.string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.checked_sub(1)?;
                            if depth == 0 {
                                self.i += 1;
                                return Some(start..self.i);
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.i += 1;
                }
            }
        }
        (self.i > start).then_some(start..self.i)
    }

    fn object(&mut self) -> Option<Obj> {
        let open = self.i;
        self.eat(b'{')?;
        let mut members = Vec::new();
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(Obj {
                open,
                close: self.i - 1,
                members,
            });
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            let value = self.value()?;
            members.push(Span { key, value });
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(Obj {
                        open,
                        close: self.i - 1,
                        members,
                    });
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self) -> Option<Vec<Range<usize>>> {
        self.eat(b'[')?;
        let mut out = Vec::new();
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(out);
        }
        loop {
            self.ws();
            out.push(self.value()?);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(out);
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f";
    const B: &str = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";

    fn host() -> Platform<'static> {
        Platform::new("linux", "amd64", None)
    }

    fn set(sel: &str, k: &str, v: &str) -> Edit {
        Edit::new(sel, k, Some(v.into()), &host()).unwrap()
    }

    fn unset(sel: &str, k: &str) -> Edit {
        Edit::new(sel, k, None, &host()).unwrap()
    }

    /// A pretty index in an order serde_json would not write (`size`
    /// before `digest`, `z` before `a`), with an escape in a key.
    fn pretty() -> String {
        format!(
            r#"{{
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {{
            "size": 1,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "{A}",
            "platform": {{ "os": "linux", "architecture": "amd64" }}
        }},
        {{
            "size": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "{B}",
            "annotations": {{
                "z.last": "keep\u0021",
                "a.first": "x"
            }},
            "platform": {{ "os": "linux", "architecture": "arm64" }}
        }}
    ],
    "annotations": {{ "top": "t" }}
}}
"#
        )
    }

    /// Every byte outside the splices is the original's, and the splices
    /// rebuild the new document.
    fn assert_only_splices_differ(old: &[u8], e: &Edited) {
        let mut rebuilt = Vec::new();
        let mut at = 0;
        for s in &e.splices {
            rebuilt.extend_from_slice(&old[at..s.old.start]);
            rebuilt.extend_from_slice(&e.bytes[s.new.clone()]);
            at = s.old.end;
        }
        rebuilt.extend_from_slice(&old[at..]);
        assert_eq!(rebuilt, e.bytes);
    }

    #[test]
    fn set_in_an_existing_object_keeps_every_other_byte() {
        let old = pretty();
        let e = apply(old.as_bytes(), &[set("1", "a.first", "y")]).unwrap();
        let want = old.replace(r#""a.first": "x""#, r#""a.first": "y""#);
        assert_eq!(String::from_utf8(e.bytes.clone()).unwrap(), want);
        assert_eq!(e.splices.len(), 1);
        assert_only_splices_differ(old.as_bytes(), &e);
        assert_eq!(
            e.changes,
            vec![Change {
                position: 1,
                digest: B.into(),
                key: "a.first".into(),
                old: Some("x".into()),
                new: Some("y".into()),
            }]
        );
    }

    #[test]
    fn new_keys_are_appended_in_the_objects_style() {
        let old = pretty();
        let e = apply(old.as_bytes(), &[set("1", "m.new", "v\n")]).unwrap();
        let want = old.replace(
            "\"a.first\": \"x\"\n",
            "\"a.first\": \"x\",\n                \"m.new\": \"v\\n\"\n",
        );
        assert_eq!(String::from_utf8(e.bytes.clone()).unwrap(), want);
        assert_only_splices_differ(old.as_bytes(), &e);
    }

    #[test]
    fn a_new_object_is_indented_like_its_neighbours() {
        let old = pretty();
        let e = apply(old.as_bytes(), &[set("linux/amd64", "k", "v")]).unwrap();
        let want = old.replace(
            "\"architecture\": \"amd64\" }\n",
            "\"architecture\": \"amd64\" },\n            \"annotations\": {\n                \"k\": \"v\"\n            }\n",
        );
        assert_eq!(String::from_utf8(e.bytes.clone()).unwrap(), want);
        assert_only_splices_differ(old.as_bytes(), &e);
        // Compact documents stay compact.
        let compact = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"{A}"}}]}}"#
        );
        let e = apply(compact.as_bytes(), &[set("0", "k", "v")]).unwrap();
        assert_eq!(
            String::from_utf8(e.bytes).unwrap(),
            compact.replace(
                &format!(r#""{A}"}}"#),
                &format!(r#""{A}","annotations":{{"k":"v"}}}}"#)
            )
        );
    }

    #[test]
    fn removing_the_last_key_removes_the_member_and_an_empty_object_is_filled() {
        let old = pretty();
        let e = apply(
            old.as_bytes(),
            &[unset("1", "z.last"), unset("1", "a.first")],
        )
        .unwrap();
        let text = String::from_utf8(e.bytes.clone()).unwrap();
        assert!(
            !text.contains("a.first") && !text.contains("z.last"),
            "{text}"
        );
        assert!(
            text.contains(&format!("\"digest\": \"{B}\",\n            \"platform\"")),
            "{text}"
        );
        assert_eq!(e.changes.len(), 2);
        assert_only_splices_differ(old.as_bytes(), &e);
        // Removing one keeps the other's bytes (escape included).
        let e = apply(old.as_bytes(), &[unset("1", "a.first")]).unwrap();
        let text = String::from_utf8(e.bytes.clone()).unwrap();
        assert!(
            text.contains("{\n                \"z.last\": \"keep\\u0021\"\n            }"),
            "{text}"
        );

        // An empty object is filled in the descriptor's style.
        let empty = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"annotations":{{}}, "mediaType":"application/vnd.oci.image.manifest.v1+json", "size":1,"digest":"{A}"}}]}}"#
        );
        let e = apply(empty.as_bytes(), &[set("0", "k", "v")]).unwrap();
        assert_eq!(
            String::from_utf8(e.bytes).unwrap(),
            empty.replace("{}", r#"{"k":"v"}"#)
        );
        // Unsetting what is not there changes nothing.
        let e = apply(empty.as_bytes(), &[unset("0", "k")]).unwrap();
        assert!(e.changes.is_empty());
        assert_eq!(e.bytes, empty.as_bytes());
    }

    #[test]
    fn selectors_pick_by_position_platform_and_digest() {
        let old = pretty();
        assert!(matches!(
            apply(old.as_bytes(), &[set("7", "k", "v")]),
            Err(EditError::NoMatch { .. })
        ));
        let e = apply(
            old.as_bytes(),
            &[set(B, "k", "v"), set("linux/aarch64", "k", "v")],
        )
        .unwrap();
        assert_eq!(e.changes.len(), 1, "the second sets what the first set");
        assert_eq!(
            Selector::parse("2", &host()).unwrap(),
            Selector::Position(2)
        );
        assert_eq!(
            Selector::parse("linux/aarch64", &host()).unwrap(),
            Selector::Platform("linux/arm64".into())
        );
        assert!(Selector::parse("sha256:zz", &host()).is_err());
        assert!(Selector::parse("no/such/plat/form", &host()).is_err());
        assert!(Edit::new("0", "", None, &host()).is_err());
    }

    #[test]
    fn invalid_documents_are_refused() {
        assert!(matches!(
            apply(b"{", &[set("0", "k", "v")]),
            Err(EditError::Index(_))
        ));
    }

    #[test]
    fn toml_mapping() {
        let m = parse_mapping(
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
            assert!(parse_mapping(bad).is_err(), "{bad}");
        }
        let j = parse_mapping(r#"{"0": {"a": "b", "c": null, "d": false}}"#).unwrap();
        assert_eq!(
            j[0].1,
            vec![
                ("a".into(), Some("b".into())),
                ("c".into(), None),
                ("d".into(), None)
            ]
        );
        assert!(parse_mapping(r#"{"0": {"a": 1}}"#).is_err());
    }
}
