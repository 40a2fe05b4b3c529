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

pub(crate) fn opt_cow<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    let v: Option<CowStr<'de>> = de::Deserialize::deserialize(d)?;
    Ok(v.map(|c| c.0))
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

/// Deserializes `T` from a JSON object only. Derived struct impls also
/// accept arrays (fields by position), which no OCI document uses; such
/// input is refused instead of being read in an unexpected way.
pub(crate) fn object<'de, D: Deserializer<'de>, T: de::Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: de::Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(V(std::marker::PhantomData))
}

/// A JSON object wrapper for use inside containers.
pub(crate) struct Obj<T>(pub(crate) T);

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        object(d).map(Obj)
    }
}

/// `Option<T>` where `T` must be an object.
pub(crate) fn opt_object<'de, D: Deserializer<'de>, T: de::Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    let v: Option<Obj<T>> = de::Deserialize::deserialize(d)?;
    Ok(v.map(|o| o.0))
}

/// `Option<Vec<T>>` where every `T` must be an object.
pub(crate) fn opt_vec_object<'de, D: Deserializer<'de>, T: de::Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    let v: Option<Vec<Obj<T>>> = de::Deserialize::deserialize(d)?;
    Ok(v.map(|v| v.into_iter().map(|o| o.0).collect()))
}
