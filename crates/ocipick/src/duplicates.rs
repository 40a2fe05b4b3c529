//! Duplicate keys in JSON objects.
//!
//! RFC 8259 (section 4) says only that the names within an object
//! *should* be unique, and parsers disagree on a document where they are
//! not: Go's `encoding/json` (containerd, Docker, Podman) keeps the last
//! value, other parsers the first, and ocipick's index parser refuses the
//! document. A registry or signer that reads one value while a runtime
//! reads another is a way to make two readers see two different indexes,
//! so [`lint`](crate::lint) reports every duplicate as an error.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A key that occurs more than once in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// Where the object is, in lint's path form (`.` for the top level,
    /// `manifests[0].platform`).
    pub path: String,
    /// The repeated key.
    pub key: String,
}

/// Every key repeated within one object of `bytes`, in document order (a
/// key repeated three times is reported twice). Returns `None` when the
/// bytes are not JSON; nesting is bounded by serde_json's recursion limit.
///
/// ```
/// let doc = br#"{"manifests":[{"platform":{"os":"linux","architecture":"arm64","architecture":"amd64"}}]}"#;
/// let found = ocipick::duplicates::find(doc).unwrap();
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].path, "manifests[0].platform");
/// assert_eq!(found[0].key, "architecture");
/// assert!(ocipick::duplicates::find(br#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#).unwrap().is_empty());
/// ```
pub fn find(bytes: &[u8]) -> Option<Vec<Duplicate>> {
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Walk {
        path: String::new(),
        found: &mut found,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(found)
}

/// Visits one JSON value at `path`, recording duplicates below it.
struct Walk<'a> {
    path: String,
    found: &'a mut Vec<Duplicate>,
}

impl Walk<'_> {
    fn shown(&self) -> String {
        if self.path.is_empty() {
            ".".into()
        } else {
            self.path.clone()
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !seen.insert(key.clone()) {
                self.found.push(Duplicate {
                    path: self.shown(),
                    key,
                });
            }
            map.next_value_seed(Walk {
                path,
                found: self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while seq
            .next_element_seed(Walk {
                path: format!("{}[{i}]", self.path),
                found: self.found,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}
