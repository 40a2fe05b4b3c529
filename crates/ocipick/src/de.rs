//! Zero-copy deserialization helpers: strings borrow from the input whenever
//! JSON escapes do not force a copy, and annotation maps refuse duplicate keys.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

struct CowVisitor;

impl<'de> Visitor<'de> for CowVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A string that borrows from the input when it can.
pub(crate) struct CowStr<'a>(pub(crate) Cow<'a, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CowVisitor).map(CowStr)
    }
}

pub(crate) fn cow<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    d.deserialize_str(CowVisitor)
}

pub(crate) fn vec_cow<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of strings")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(CowStr(s)) = seq.next_element()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V)
}

/// An annotation map (`string -> string`). Duplicate keys are an error: JSON
/// parsers disagree on which duplicate wins, so a document with duplicates
/// could select differently in different tools.
pub(crate) fn annotations<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<Cow<'de, str>, Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BTreeMap<Cow<'de, str>, Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of string values")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(CowStr(k)) = map.next_key()? {
                let CowStr(v) = map.next_value()?;
                if out.contains_key(&k) {
                    return Err(de::Error::custom(format_args!(
                        "duplicate annotation key {k:?}"
                    )));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

/// Strings of an array, borrowing where possible.
struct CowVec<'a>(Vec<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for CowVec<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        vec_cow(d).map(CowVec)
    }
}

/// An annotation map, refusing duplicate keys.
struct Ann<'a>(BTreeMap<Cow<'a, str>, Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for Ann<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        annotations(d).map(Ann)
    }
}

/// A descriptor `mediaType`: RFC 6838 `type/subtype`. Checked while the
/// value is read, so errors carry its path.
struct MediaType<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for MediaType<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = cow(d)?;
        if crate::media_type::is_valid(&m) {
            Ok(MediaType(m))
        } else {
            Err(de::Error::custom(format_args!(
                "mediaType {m:?} is not a valid media type (type/subtype)"
            )))
        }
    }
}

/// A descriptor `size`: a non-negative int64.
struct Size(u64);

impl<'de> de::Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = <u64 as de::Deserialize>::deserialize(d)?;
        if n > i64::MAX as u64 {
            return Err(de::Error::custom(format_args!(
                "size {n} exceeds the int64 range the image-spec allows"
            )));
        }
        Ok(Size(n))
    }
}

/// Stores a field's value, refusing a second occurrence of the field.
fn once<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, v: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(v);
    Ok(())
}

/// Reads an object's keys without allocating: the known ones by number
/// (from a `match`, which compiles to a length switch and one compare),
/// anything else as `None` (its value is then skipped).
struct KeyIn(fn(&str) -> Option<u8>);

impl<'de> de::DeserializeSeed<'de> for KeyIn {
    type Value = Option<u8>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<u8>, D::Error> {
        struct V(fn(&str) -> Option<u8>);
        impl<'de> Visitor<'de> for V {
            type Value = Option<u8>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<u8>, E> {
                Ok((self.0)(v))
            }
        }
        d.deserialize_identifier(V(self.0))
    }
}

fn descriptor_field(k: &str) -> Option<u8> {
    Some(match k {
        "mediaType" => 0,
        "digest" => 1,
        "size" => 2,
        "urls" => 3,
        "annotations" => 4,
        "data" => 5,
        "artifactType" => 6,
        "platform" => 7,
        _ => return None,
    })
}

fn platform_field(k: &str) -> Option<u8> {
    Some(match k {
        "architecture" => 0,
        "os" => 1,
        "os.version" => 2,
        "os.features" => 3,
        "variant" => 4,
        "features" => 5,
        _ => return None,
    })
}

/// Hand-written rather than derived: one pass over the keys, no
/// intermediate values, and objects only (derived impls also accept arrays).
impl<'de: 'a, 'a> de::Deserialize<'de> for crate::index::Descriptor<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = crate::index::Descriptor<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a descriptor object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut media_type, mut digest, mut size) = (None, None, None);
                let (mut urls, mut annotations, mut data) = (None, None, None);
                let (mut artifact_type, mut platform) = (None, None);
                while let Some(key) = map.next_key_seed(KeyIn(descriptor_field))? {
                    match key {
                        Some(0) => once(
                            &mut media_type,
                            "mediaType",
                            map.next_value::<MediaType>()?.0,
                        )?,
                        Some(1) => once(&mut digest, "digest", map.next_value()?)?,
                        Some(2) => once(&mut size, "size", map.next_value::<Size>()?.0)?,
                        Some(3) => once(&mut urls, "urls", map.next_value::<CowVec>()?.0)?,
                        Some(4) => {
                            once(&mut annotations, "annotations", map.next_value::<Ann>()?.0)?
                        }
                        Some(5) => once(
                            &mut data,
                            "data",
                            map.next_value::<Option<CowStr>>()?.map(|c| c.0),
                        )?,
                        Some(6) => once(
                            &mut artifact_type,
                            "artifactType",
                            map.next_value::<Option<CowStr>>()?.map(|c| c.0),
                        )?,
                        Some(7) => once(&mut platform, "platform", map.next_value()?)?,
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(crate::index::Descriptor {
                    media_type: media_type.ok_or_else(|| de::Error::missing_field("mediaType"))?,
                    digest: digest.ok_or_else(|| de::Error::missing_field("digest"))?,
                    size: size.ok_or_else(|| de::Error::missing_field("size"))?,
                    urls: urls.unwrap_or_default(),
                    annotations: annotations.unwrap_or_default(),
                    data: data.flatten(),
                    artifact_type: artifact_type.flatten(),
                    platform: platform.flatten(),
                })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Hand-written for the same reasons as the descriptor's.
impl<'de: 'a, 'a> de::Deserialize<'de> for crate::platform::Platform<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = crate::platform::Platform<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a platform object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut arch, mut os, mut os_version) = (None, None, None);
                let (mut os_features, mut variant, mut features) = (None, None, None);
                while let Some(key) = map.next_key_seed(KeyIn(platform_field))? {
                    match key {
                        Some(0) => once(&mut arch, "architecture", map.next_value::<CowStr>()?.0)?,
                        Some(1) => once(&mut os, "os", map.next_value::<CowStr>()?.0)?,
                        Some(2) => once(
                            &mut os_version,
                            "os.version",
                            map.next_value::<Option<CowStr>>()?.map(|c| c.0),
                        )?,
                        Some(3) => once(
                            &mut os_features,
                            "os.features",
                            map.next_value::<CowVec>()?.0,
                        )?,
                        Some(4) => once(
                            &mut variant,
                            "variant",
                            map.next_value::<Option<CowStr>>()?.map(|c| c.0),
                        )?,
                        Some(5) => once(&mut features, "features", map.next_value::<CowVec>()?.0)?,
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(crate::platform::Platform {
                    architecture: arch.ok_or_else(|| de::Error::missing_field("architecture"))?,
                    os: os.ok_or_else(|| de::Error::missing_field("os"))?,
                    os_version: os_version.flatten(),
                    os_features: os_features.unwrap_or_default(),
                    variant: variant.flatten(),
                    features: features.unwrap_or_default(),
                })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Where the descriptors of `manifests` go as they are read: into a
/// vector ([`crate::Index::parse`]), or straight into a selection
/// ([`crate::Policy::select_bytes`]), which keeps only the best so far.
pub(crate) trait Sink<'a> {
    /// Takes the descriptor at `position`.
    fn accept(&mut self, position: usize, d: crate::index::Descriptor<'a>);

    /// Takes the descriptor at `position` from `slot`, which the reader
    /// fills again for the next one: a sink that keeps few descriptors
    /// moves out only those (the default moves out every one).
    fn accept_from(&mut self, position: usize, slot: &mut crate::index::Descriptor<'a>) {
        let d = std::mem::replace(slot, crate::index::Descriptor::empty());
        self.accept(position, d);
    }
}

impl<'a> Sink<'a> for Vec<crate::index::Descriptor<'a>> {
    fn accept(&mut self, _: usize, d: crate::index::Descriptor<'a>) {
        self.push(d);
    }
}

/// The top-level fields of an index document; `manifests` went to a sink.
pub(crate) struct Top<'a> {
    pub schema_version: Option<u32>,
    pub media_type: Option<Cow<'a, str>>,
    pub artifact_type: Option<Cow<'a, str>>,
    /// `Some(n)`: an array of `n` descriptors; `Some(None)`... see `manifests_null`.
    pub manifests: Option<usize>,
    pub manifests_null: bool,
    pub subject: Option<crate::index::Descriptor<'a>>,
    pub annotations: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    pub config: bool,
    pub layers: bool,
}

impl Top<'_> {
    /// No field seen yet.
    pub(crate) fn empty() -> Self {
        Top {
            schema_version: None,
            media_type: None,
            artifact_type: None,
            manifests: None,
            manifests_null: false,
            subject: None,
            annotations: BTreeMap::new(),
            config: false,
            layers: false,
        }
    }
}

/// The index (0–7) of a top-level field this crate reads, in the order of
/// [`Top`]'s fields; `None` for any other name. Shared by both readers.
pub(crate) fn top_field(k: &str) -> Option<u8> {
    Some(match k {
        "schemaVersion" => 0,
        "mediaType" => 1,
        "artifactType" => 2,
        "manifests" => 3,
        "subject" => 4,
        "annotations" => 5,
        "config" => 6,
        "layers" => 7,
        _ => return None,
    })
}

/// Reads an index document, handing each descriptor to the sink.
pub(crate) struct TopSeed<'s, S>(pub(crate) &'s mut S);

impl<'de, S: Sink<'de>> de::DeserializeSeed<'de> for TopSeed<'_, S> {
    type Value = Top<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Top<'de>, D::Error> {
        struct V<'s, S>(&'s mut S);
        impl<'de, S: Sink<'de>> Visitor<'de> for V<'_, S> {
            type Value = Top<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
                let mut top = Top::empty();
                let mut seen = [false; 8];
                while let Some(key) = map.next_key_seed(KeyIn(top_field))? {
                    let Some(k) = key else {
                        map.next_value::<de::IgnoredAny>()?;
                        continue;
                    };
                    if std::mem::replace(&mut seen[k as usize], true) {
                        const NAMES: [&str; 8] = [
                            "schemaVersion",
                            "mediaType",
                            "artifactType",
                            "manifests",
                            "subject",
                            "annotations",
                            "config",
                            "layers",
                        ];
                        return Err(de::Error::duplicate_field(NAMES[k as usize]));
                    }
                    match k {
                        0 => top.schema_version = map.next_value()?,
                        1 => top.media_type = map.next_value::<Option<CowStr>>()?.map(|c| c.0),
                        2 => top.artifact_type = map.next_value::<Option<CowStr>>()?.map(|c| c.0),
                        3 => {
                            top.manifests = map.next_value_seed(ManifestsSeed(&mut *self.0))?;
                            top.manifests_null = top.manifests.is_none();
                        }
                        4 => top.subject = map.next_value()?,
                        5 => top.annotations = map.next_value::<Ann>()?.0,
                        6 => top.config = map.next_value::<Option<de::IgnoredAny>>()?.is_some(),
                        _ => top.layers = map.next_value::<Option<de::IgnoredAny>>()?.is_some(),
                    }
                }
                Ok(top)
            }
        }
        d.deserialize_map(V(self.0))
    }
}

/// The `manifests` array (or `null`), each descriptor handed to the sink.
struct ManifestsSeed<'s, S>(&'s mut S);

impl<'de, S: Sink<'de>> de::DeserializeSeed<'de> for ManifestsSeed<'_, S> {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        struct V<'s, S>(&'s mut S);
        impl<'de, S: Sink<'de>> Visitor<'de> for V<'_, S> {
            type Value = Option<usize>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of descriptors")
            }
            fn visit_none<E: de::Error>(self) -> Result<Option<usize>, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Option<usize>, E> {
                Ok(None)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Option<usize>, D2::Error> {
                d.deserialize_seq(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<usize>, A::Error> {
                let mut n = 0;
                while let Some(d) = seq.next_element()? {
                    self.0.accept(n, d);
                    n += 1;
                }
                Ok(Some(n))
            }
        }
        d.deserialize_option(V(self.0))
    }
}
