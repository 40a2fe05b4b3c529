//! The image index (and Docker manifest list) model, read straight from the
//! bytes of the document.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::digest::Digest;
use crate::media_type;
use crate::platform::Platform;

/// Descriptor or index annotations: string keys to string values.
pub type Annotations<'a> = BTreeMap<Cow<'a, str>, Cow<'a, str>>;

/// One entry of an index's `manifests` (an OCI content descriptor).
///
/// Parsing checks what the image-spec requires of a descriptor: a valid
/// `mediaType`, a valid `digest`, a non-negative 64-bit `size`, and, when
/// present, a `platform` with `os` and `architecture`. The fields
/// selection does not read (`urls`, `data`, `artifactType`) are checked
/// for their JSON type only; [`crate::lint::lint`] checks their syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor<'a> {
    /// The media type of the referenced content.
    pub media_type: Cow<'a, str>,
    /// The digest of the referenced content.
    pub digest: Digest<'a>,
    /// The size in bytes of the referenced content.
    pub size: u64,
    /// URLs the content may be downloaded from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<Cow<'a, str>>,
    /// Arbitrary metadata; Proposal A preferences match these.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Annotations<'a>,
    /// Embedded content (base64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Cow<'a, str>>,
    /// The artifact type of the referenced manifest, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<Cow<'a, str>>,
    /// The platform the referenced image runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform<'a>>,
}

impl<'a> Descriptor<'a> {
    /// A descriptor of `media_type`, `digest` and `size` alone (no
    /// platform, annotations, URLs or data): what a tag that names a single
    /// manifest is known by, for [`Index::single`].
    ///
    /// ```
    /// let d = ocipick::Descriptor::new(
    ///     "application/vnd.oci.image.manifest.v1+json",
    ///     ocipick::Digest::parse("sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f").unwrap(),
    ///     7143,
    /// );
    /// assert!(d.platform.is_none() && d.annotations.is_empty());
    /// ```
    pub fn new(media_type: impl Into<Cow<'a, str>>, digest: Digest<'a>, size: u64) -> Self {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            data: None,
            artifact_type: None,
            platform: None,
        }
    }
}

impl Descriptor<'_> {
    /// A descriptor with every field empty, to be filled by a reader (or
    /// left behind where a reader's slot was moved out).
    pub(crate) fn empty() -> Self {
        Descriptor {
            media_type: Cow::Borrowed(""),
            digest: Digest::placeholder(),
            size: 0,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            data: None,
            artifact_type: None,
            platform: None,
        }
    }

    /// Detaches the descriptor from the document it was read from.
    pub fn into_owned(self) -> Descriptor<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        Descriptor {
            media_type: own(self.media_type),
            digest: self.digest.into_owned(),
            size: self.size,
            urls: self.urls.into_iter().map(own).collect(),
            annotations: self
                .annotations
                .into_iter()
                .map(|(k, v)| (own(k), own(v)))
                .collect(),
            data: self.data.map(own),
            artifact_type: self.artifact_type.map(own),
            platform: self.platform.map(Platform::into_owned),
        }
    }
}

/// An OCI image index or Docker manifest list.
///
/// ```
/// let doc = br#"{"schemaVersion":2,"manifests":[{"mediaType":"application\/vnd.oci.image.manifest.v1+json",
///   "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f","size":7143,
///   "platform":{"architecture":"amd64","os":"linux"}}]}"#;
/// let index = ocipick::Index::parse(doc).unwrap();
/// assert_eq!(index.manifests.len(), 1);
/// assert_eq!(index.manifests[0].media_type, ocipick::media_type::OCI_MANIFEST);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Index<'a> {
    /// Always 2.
    pub schema_version: u32,
    /// The document's media type, when it names one (a SHOULD in OCI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<Cow<'a, str>>,
    /// The index's artifact type, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<Cow<'a, str>>,
    /// The entries, in document order.
    pub manifests: Vec<Descriptor<'a>>,
    /// The manifest this index refers to (OCI 1.1 `subject`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor<'a>>,
    /// Index-level annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Annotations<'a>,
}

/// Why a document is not a usable image index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// Not JSON, or JSON whose fields have the wrong types or values.
    #[error("{message} (at {path}, line {line} column {column})")]
    Json {
        /// What is wrong.
        message: String,
        /// Where, as a JSON path such as `manifests[0].size`.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A single image manifest (or other document) where an index is needed.
    #[error("this is {0}, not an image index or manifest list")]
    NotAnIndex(String),
    /// `schemaVersion` missing or not 2.
    #[error("schemaVersion is {0}; an image index has schemaVersion 2")]
    SchemaVersion(String),
    /// `manifests` missing or null.
    #[error("manifests is {0}; an image index needs a manifests array")]
    NoManifests(&'static str),
    /// An index that also carries image-manifest fields.
    #[error("the document has both manifests and {0}: it is ambiguous between an index and an image manifest")]
    Ambiguous(&'static str),
}

impl<'a> Index<'a> {
    /// An index of one entry: how a single image manifest (a tag that names
    /// no index) is selected from, as the only candidate.
    pub fn single(descriptor: Descriptor<'a>) -> Index<'a> {
        Index {
            schema_version: 2,
            media_type: None,
            artifact_type: None,
            manifests: vec![descriptor],
            subject: None,
            annotations: Default::default(),
        }
    }

    /// Parses and validates an index from the raw bytes of the document.
    ///
    /// Accepted: OCI image indexes (with or without the top-level
    /// `mediaType`) and Docker manifest lists. Refused, with the reason: a
    /// document that is not JSON, has a field of the wrong type, a malformed
    /// `digest`, `mediaType` or `size` anywhere, a platform without `os` or
    /// `architecture`, duplicate annotation keys or duplicate fields,
    /// `manifests` missing or `null`, `schemaVersion` other than 2, an image
    /// manifest instead of an index, or both `manifests` and
    /// `config`/`layers`.
    pub fn parse(bytes: &'a [u8]) -> Result<Index<'a>, IndexError> {
        // A pretty-printed descriptor is about 300 bytes: reserving for that
        // many avoids most of the vector's regrowth (each copies every
        // descriptor and touches fresh memory).
        let mut manifests = Vec::with_capacity((bytes.len() / 300).min(1 << 20));
        let top = read_top(bytes, &mut manifests)?;
        finish(top, manifests)
    }

    /// Detaches the index from the document it was read from.
    pub fn into_owned(self) -> Index<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        Index {
            schema_version: self.schema_version,
            media_type: self.media_type.map(own),
            artifact_type: self.artifact_type.map(own),
            manifests: self
                .manifests
                .into_iter()
                .map(Descriptor::into_owned)
                .collect(),
            subject: self.subject.map(Descriptor::into_owned),
            annotations: self
                .annotations
                .into_iter()
                .map(|(k, v)| (own(k), own(v)))
                .collect(),
        }
    }
}

/// Checks the top level and assembles the index.
pub(crate) fn finish<'a>(
    top: crate::de::Top<'a>,
    manifests: Vec<Descriptor<'a>>,
) -> Result<Index<'a>, IndexError> {
    check_top(&top)?;
    Ok(Index {
        schema_version: 2,
        media_type: top.media_type,
        artifact_type: top.artifact_type,
        manifests,
        subject: top.subject,
        annotations: top.annotations,
    })
}

/// Reads the document, handing each descriptor of `manifests` to `sink`.
pub(crate) fn read_top<'a, S: crate::de::Sink<'a>>(
    bytes: &'a [u8],
    sink: &mut S,
) -> Result<crate::de::Top<'a>, IndexError> {
    read_top_text(utf8(bytes)?, sink)
}

/// The document as text. UTF-8 is checked once over the whole document
/// (fast for ASCII), so the parsers need not check every string again.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, IndexError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let before = &bytes[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = at
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1)
            + 1;
        IndexError::Json {
            message: format!("invalid UTF-8 at byte {at}"),
            path: ".".into(),
            line,
            column,
        }
    })
}

/// Reads one JSON object (and nothing after it but white space) with
/// serde_json, handing each descriptor of `manifests` to `sink`.
pub(crate) fn read_top_text<'a, S: crate::de::Sink<'a>>(
    text: &'a str,
    sink: &mut S,
) -> Result<crate::de::Top<'a>, IndexError> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    crate::de::TopSeed(sink)
        .deserialize(&mut de)
        .and_then(|top| de.end().map(|()| top))
        .map_err(|e| json_error(text, e))
}

/// The rules on the top level (see [`Index::parse`]).
pub(crate) fn check_top(top: &crate::de::Top<'_>) -> Result<(), IndexError> {
    let kind = top.media_type.as_deref().map(media_type::kind);
    if let Some(mt) = top.media_type.as_deref() {
        match media_type::kind(mt) {
            media_type::Kind::Index => {}
            media_type::Kind::ImageManifest | media_type::Kind::LegacyManifest => {
                return Err(IndexError::NotAnIndex(format!("an image manifest ({mt})")))
            }
            media_type::Kind::Other => {
                return Err(IndexError::NotAnIndex(format!("a document of type {mt:?}")))
            }
        }
    }
    let extra = match (top.config, top.layers) {
        (true, _) => Some("config"),
        (false, true) => Some("layers"),
        _ => None,
    };
    match (top.manifests, extra) {
        (Some(_), Some(field)) => return Err(IndexError::Ambiguous(field)),
        (Some(_), None) => {}
        (None, Some(_)) if kind.is_none() => {
            return Err(IndexError::NotAnIndex("an image manifest".into()))
        }
        (None, _) => {
            return Err(IndexError::NoManifests(if top.manifests_null {
                "null"
            } else {
                "missing"
            }))
        }
    }
    match top.schema_version {
        Some(2) => Ok(()),
        Some(v) => Err(IndexError::SchemaVersion(v.to_string())),
        None => Err(IndexError::SchemaVersion("missing".into())),
    }
}

/// Builds a located error. The fast parse keeps no path; on failure the
/// document is read once more, tracking the path, to say where.
fn json_error(text: &str, e: serde_json::Error) -> IndexError {
    use serde::de::DeserializeSeed;
    let mut track = serde_path_to_error::Track::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let mut sink: Vec<Descriptor<'_>> = Vec::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut de, &mut track);
    let path = match crate::de::TopSeed(&mut sink).deserialize(tracked) {
        Err(_) => track.path().to_string(),
        Ok(_) => ".".to_owned(),
    };
    let msg = e.to_string();
    // serde_json appends " at line L column C"; keep the message clean.
    let message = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    };
    IndexError::Json {
        message,
        path,
        line: e.line(),
        column: e.column(),
    }
}

impl fmt::Display for Descriptor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.platform {
            Some(p) => write!(f, "{} {}", self.digest, p),
            None => write!(f, "{} (no platform)", self.digest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f";

    fn doc(entry: &str) -> String {
        format!(r#"{{"schemaVersion":2,"manifests":[{entry}]}}"#)
    }

    fn entry(extra: &str) -> String {
        format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{D}","size":1{extra}}}"#
        )
    }

    /// Rows: document → Ok, or a fragment of the error message.
    #[test]
    fn validation_table() {
        let rows: Vec<(&str, String, Result<(), &str>)> = vec![
            ("minimal", doc(&entry("")), Ok(())),
            ("no entries", doc(""), Ok(())),
            ("not json", "{".into(), Err("EOF")),
            ("not an object", "[]".into(), Err("expected a JSON object")),
            ("array as descriptor", doc(&format!(r#"["application/vnd.oci.image.manifest.v1+json","{D}",1]"#)), Err("expected a descriptor object")),
            ("array as platform", doc(&entry(r#","platform":["amd64","linux"]"#)), Err("expected a platform object")),
            ("trailing garbage", format!("{} x", doc("")), Err("trailing")),
            ("schemaVersion 1", r#"{"schemaVersion":1,"manifests":[]}"#.into(), Err("schemaVersion is 1")),
            ("schemaVersion missing", r#"{"manifests":[]}"#.into(), Err("schemaVersion is missing")),
            ("manifests missing", r#"{"schemaVersion":2}"#.into(), Err("manifests is missing")),
            ("manifests null", r#"{"schemaVersion":2,"manifests":null}"#.into(), Err("manifests is null")),
            ("image manifest by type", r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#.into(), Err("image manifest")),
            ("image manifest by shape", r#"{"schemaVersion":2,"config":{},"layers":[]}"#.into(), Err("image manifest")),
            ("other document type", r#"{"schemaVersion":2,"mediaType":"text/plain","manifests":[]}"#.into(), Err("text/plain")),
            ("ambiguous", r#"{"schemaVersion":2,"manifests":[],"layers":[]}"#.into(), Err("ambiguous")),
            ("negative size", doc(&entry("").replace("\"size\":1", "\"size\":-1")), Err("size")),
            ("float size", doc(&entry("").replace("\"size\":1", "\"size\":1.5")), Err("size")),
            ("size beyond int64", doc(&entry("").replace("\"size\":1", "\"size\":9223372036854775808")), Err("int64")),
            ("huge size", doc(&entry("").replace("\"size\":1", "\"size\":1e400")), Err("size")),
            ("duplicate field", doc(&entry(",\"size\":2")), Err("duplicate field")),
            ("duplicate annotation", doc(&entry(r#","annotations":{"a":"1","a":"2"}"#)), Err("duplicate annotation key")),
            ("annotation not a string", doc(&entry(r#","annotations":{"a":1}"#)), Err("invalid type")),
            ("platform without os", doc(&entry(r#","platform":{"architecture":"amd64"}"#)), Err("missing field `os`")),
            ("unknown fields are ignored", doc(&entry(r#","x-extra":{"deep":[1,2]}"#)), Ok(())),
            ("bad digest algorithm", doc(&entry("").replace("sha256:", "SHA256:")), Err("digest")),
        ];
        for (name, text, want) in rows {
            let got = Index::parse(text.as_bytes())
                .map(|_| ())
                .map_err(|e| e.to_string());
            match (&got, want) {
                (Ok(()), Ok(())) => {}
                (Err(msg), Err(frag)) if msg.contains(frag) => {}
                _ => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn invalid_utf8_is_located() {
        let mut bytes = doc(&entry(r#","annotations":{"k":"XX"}"#)).into_bytes();
        let at = bytes.windows(2).position(|w| w == b"XX").unwrap();
        bytes[at] = 0xff;
        match Index::parse(&bytes) {
            Err(IndexError::Json {
                message,
                line,
                column,
                ..
            }) => {
                assert_eq!(message, format!("invalid UTF-8 at byte {at}"));
                assert_eq!((line, column), (1, at + 1));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_path() {
        let text = doc(&format!(
            "{},{}",
            entry(""),
            entry("").replace("\"size\":1", "\"size\":\"7\"")
        ));
        match Index::parse(text.as_bytes()) {
            Err(IndexError::Json { path, line, .. }) => {
                assert_eq!(path, "manifests[1].size");
                assert_eq!(line, 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let plain = doc(&entry(""));
        let idx = Index::parse(plain.as_bytes()).unwrap();
        assert!(matches!(idx.manifests[0].media_type, Cow::Borrowed(_)));
        let escaped = plain.replace("application/", "application\\/");
        let idx = Index::parse(escaped.as_bytes()).unwrap();
        assert!(matches!(idx.manifests[0].media_type, Cow::Owned(_)));
        assert_eq!(idx.manifests[0].media_type, media_type::OCI_MANIFEST);
    }

    /// Serializing and re-reading a descriptor keeps every field.
    #[test]
    fn descriptor_round_trip() {
        let text = doc(&entry(
            r#","urls":["https://example.com/x"],"data":"e30=","artifactType":"application/x.test",
               "annotations":{"org.example.unknown-key":"v","com.example.gpu":"a100"},
               "platform":{"architecture":"amd64","os":"windows","os.version":"10.0.20348.2031",
                           "os.features":["win32k"],"variant":"v3","features":["sse4"]}"#,
        ));
        let idx = Index::parse(text.as_bytes()).unwrap();
        let again = serde_json::to_vec(&idx).unwrap();
        let idx2 = Index::parse(&again).unwrap();
        assert_eq!(idx, idx2);
        let p = idx2.manifests[0].platform.as_ref().unwrap();
        assert_eq!(p.os_version.as_deref(), Some("10.0.20348.2031"));
        assert_eq!(p.os_features, ["win32k"]);
        assert_eq!(
            idx2.manifests[0].annotations["org.example.unknown-key"],
            "v"
        );
        assert_eq!(idx.clone().into_owned(), idx);
    }
}
