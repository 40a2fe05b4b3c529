//! Annotation preferences (Proposal A): "runtimes MAY be configured to
//! prefer manifests with specific annotations", optionally weighted.

use std::fmt;
use std::str::FromStr;

use crate::index::Annotations;

/// One weighted preference for an annotation.
///
/// It is satisfied by a descriptor that carries the annotation `key` (with
/// any value when `value` is `None`, else with exactly that value). A
/// descriptor's score is the sum of the weights of the preferences it
/// satisfies; negative weights express "avoid".
///
/// The command-line form is `KEY[=VALUE][:WEIGHT]`:
///
/// ```
/// use ocipick::Preference;
/// let p: Preference = "com.example.gpu=a100:10".parse().unwrap();
/// assert_eq!((p.key.as_str(), p.value.as_deref(), p.weight), ("com.example.gpu", Some("a100"), 10));
/// let p: Preference = "org.example.debug:-5".parse().unwrap();
/// assert_eq!((p.value, p.weight), (None, -5));
/// // A value that itself ends in ":digits" needs an explicit weight.
/// let p: Preference = "org.example.endpoint=host:8080:1".parse().unwrap();
/// assert_eq!((p.value.as_deref(), p.weight), (Some("host:8080"), 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Preference {
    /// The annotation key.
    pub key: String,
    /// The required value; `None` means any value.
    pub value: Option<String>,
    /// The weight added to the score of a descriptor that satisfies it.
    pub weight: i64,
}

/// Why a preference string is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "preference {input:?}: {problem} (expected KEY, KEY=VALUE, KEY:WEIGHT or KEY=VALUE:WEIGHT)"
)]
pub struct PreferenceError {
    /// The string given.
    pub input: String,
    /// What is wrong with it.
    pub problem: String,
}

/// The largest weight magnitude accepted, so that sums never overflow.
pub const MAX_WEIGHT: i64 = 1 << 31;

impl Preference {
    /// A preference for `key` (any value) with weight 1.
    pub fn key(key: impl Into<String>) -> Self {
        Preference {
            key: key.into(),
            value: None,
            weight: 1,
        }
    }

    /// A preference for `key` = `value` with weight 1.
    pub fn key_value(key: impl Into<String>, value: impl Into<String>) -> Self {
        Preference {
            key: key.into(),
            value: Some(value.into()),
            weight: 1,
        }
    }

    /// The same preference with another weight.
    pub fn weight(mut self, weight: i64) -> Self {
        self.weight = weight;
        self
    }

    /// Whether a descriptor with these annotations satisfies the preference.
    pub fn is_satisfied_by(&self, annotations: &Annotations<'_>) -> bool {
        match annotations.get(self.key.as_str()) {
            None => false,
            Some(v) => self.value.as_deref().is_none_or(|want| want == v),
        }
    }

    /// Checks key and weight; used by the parser and by config loading.
    pub fn validate(&self) -> Result<(), String> {
        if self.key.is_empty() {
            return Err("the annotation key is empty".into());
        }
        if self
            .key
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err("the annotation key contains white space or control characters".into());
        }
        if self.weight.unsigned_abs() > MAX_WEIGHT.unsigned_abs() {
            return Err(format!("weight {} is outside ±{MAX_WEIGHT}", self.weight));
        }
        Ok(())
    }
}

/// Splits a trailing `:[+-]digits` weight off `s`.
fn split_weight(s: &str) -> Option<(&str, &str)> {
    let i = s.rfind(':')?;
    let w = &s[i + 1..];
    let digits = w.strip_prefix(['-', '+']).unwrap_or(w);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| (&s[..i], w))
}

impl FromStr for Preference {
    type Err = PreferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |problem: String| PreferenceError {
            input: s.to_owned(),
            problem,
        };
        let (body, weight) = match split_weight(s) {
            Some((body, w)) => {
                let weight = w
                    .parse::<i64>()
                    .map_err(|_| err(format!("weight {w} is not a whole number in range")))?;
                (body, weight)
            }
            None => (s, 1),
        };
        let (key, value) = match body.split_once('=') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (body, None),
        };
        let pref = Preference {
            key: key.to_owned(),
            value,
            weight,
        };
        pref.validate().map_err(err)?;
        Ok(pref)
    }
}

impl fmt::Display for Preference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)?;
        if let Some(v) = &self.value {
            write!(f, "={v}")?;
        }
        write!(f, ":{}", self.weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows: input → (key, value, weight) or error.
    #[test]
    fn parse_table() {
        type Row<'a> = (&'a str, Option<(&'a str, Option<&'a str>, i64)>);
        let rows: &[Row] = &[
            ("com.example.gpu", Some(("com.example.gpu", None, 1))),
            (
                "com.example.gpu=a100",
                Some(("com.example.gpu", Some("a100"), 1)),
            ),
            (
                "com.example.gpu=a100:10",
                Some(("com.example.gpu", Some("a100"), 10)),
            ),
            (
                "org.example.debug:-5",
                Some(("org.example.debug", None, -5)),
            ),
            ("org.example.debug:+3", Some(("org.example.debug", None, 3))),
            ("k=:2", Some(("k", Some(""), 2))),
            ("k=", Some(("k", Some(""), 1))),
            ("k=a=b", Some(("k", Some("a=b"), 1))),
            ("k=host:8080", Some(("k", Some("host"), 8080))),
            ("k=host:8080:0", Some(("k", Some("host:8080"), 0))),
            ("k=v:x", Some(("k", Some("v:x"), 1))),
            ("k:0", Some(("k", None, 0))),
            ("", None),
            ("=v", None),
            (":5", None),
            ("k:99999999999999999999", None),
            ("k:4294967296", None),
            ("a key", None),
        ];
        for (input, want) in rows {
            let got = input
                .parse::<Preference>()
                .ok()
                .map(|p| (p.key, p.value, p.weight));
            let want = want.map(|(k, v, w)| (k.to_owned(), v.map(str::to_owned), w));
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn satisfaction() {
        let mut ann = Annotations::new();
        ann.insert("com.example.gpu".into(), "a100".into());
        assert!(Preference::key("com.example.gpu").is_satisfied_by(&ann));
        assert!(Preference::key_value("com.example.gpu", "a100").is_satisfied_by(&ann));
        assert!(!Preference::key_value("com.example.gpu", "h100").is_satisfied_by(&ann));
        assert!(!Preference::key("com.example.cpu").is_satisfied_by(&ann));
    }
}
