//! Content digests (`algorithm:encoded`), as defined by the OCI image-spec
//! (`descriptor.md`, "Digests").

use std::borrow::Cow;
use std::fmt;

use sha2::{Digest as _, Sha256, Sha512};

/// A syntactically valid content digest such as
/// `sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b`.
///
/// The grammar is the image-spec's:
/// `algorithm ":" encoded`, where `algorithm` is
/// `[a-z0-9]+([+._-][a-z0-9]+)*` and `encoded` is `[a-zA-Z0-9=_-]+`.
/// For the registered algorithms the encoded part is checked further:
/// `sha256` needs exactly 64 and `sha512` exactly 128 lower-case hex digits.
/// Digests with other (unregistered) algorithms that follow the grammar are
/// accepted, as the spec asks, but cannot be [verified](Digest::verify).
///
/// ```
/// use ocipick::Digest;
/// let d = Digest::parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").unwrap();
/// assert_eq!(d.algorithm(), "sha256");
/// assert!(d.verify(b""));
/// assert!(Digest::parse("sha256:e6").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest<'a>(Cow<'a, str>);

/// Why a string is not a valid digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// No `:` separates algorithm and encoded part.
    #[error("digest {0:?} has no ':' between algorithm and encoded part")]
    NoSeparator(String),
    /// The algorithm part breaks the grammar.
    #[error("digest {0:?} has an invalid algorithm")]
    BadAlgorithm(String),
    /// The encoded part breaks the grammar or the algorithm's own format.
    #[error("digest {0:?} has an invalid encoded part for its algorithm (sha256 needs 64 and sha512 128 lower-case hex digits)")]
    BadEncoded(String),
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_algorithm(a: &[u8]) -> bool {
    // [a-z0-9]+([+._-][a-z0-9]+)*
    if a.is_empty() || !is_alnum_lower(a[0]) || !is_alnum_lower(a[a.len() - 1]) {
        return false;
    }
    let mut prev_sep = false;
    for &b in a {
        if is_alnum_lower(b) {
            prev_sep = false;
        } else if matches!(b, b'+' | b'.' | b'_' | b'-') {
            if prev_sep {
                return false;
            }
            prev_sep = true;
        } else {
            return false;
        }
    }
    true
}

/// `[a-zA-Z0-9=_-]+`: the grammar's encoded part.
fn valid_encoded(e: &[u8]) -> bool {
    !e.is_empty()
        && e.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

/// Whether `s` follows the image-spec's digest grammar alone, `algorithm
/// ":" encoded`, without the further rules of the registered algorithms
/// that [`Digest::parse`] applies (so `sha256:abc` follows it). For
/// routing: a registry path component that is grammatically a digest is a
/// digest reference, whether or not it would parse or verify.
///
/// ```
/// use ocipick::digest::follows_grammar;
/// assert!(follows_grammar("sha256:abc"));
/// assert!(follows_grammar("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"));
/// assert!(!follows_grammar("sha256:"));
/// assert!(!follows_grammar("latest"));
/// ```
pub fn follows_grammar(s: &str) -> bool {
    s.split_once(':')
        .is_some_and(|(a, e)| valid_algorithm(a.as_bytes()) && valid_encoded(e.as_bytes()))
}

/// Lower-case hex digits, as a lookup table: checking a whole digest is
/// then a branch-free fold over its bytes.
static LOWER_HEX: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = matches!(i as u8, b'0'..=b'9' | b'a'..=b'f');
        i += 1;
    }
    t
};

fn lower_hex(e: &[u8], len: usize) -> bool {
    if e.len() != len {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let mut chunks = e.chunks_exact(16);
        let ok = chunks
            .by_ref()
            .fold(true, |ok, c| ok & sse2::lower_hex16(c));
        ok && lower_hex_bytes(chunks.remainder())
    }
    #[cfg(not(target_arch = "x86_64"))]
    lower_hex_bytes(e)
}

/// Whether every byte is a lower-case hex digit, a byte at a time.
fn lower_hex_bytes(e: &[u8]) -> bool {
    e.iter().fold(true, |ok, &b| ok & LOWER_HEX[b as usize])
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::*;

    /// Whether the 16 bytes of `c` are all lower-case hex digits.
    #[inline(always)]
    pub(super) fn lower_hex16(c: &[u8]) -> bool {
        assert!(c.len() >= 16);
        // SAFETY: the assertion keeps the unaligned 16-byte load in bounds;
        // the rest is SSE2 register arithmetic, baseline on x86_64.
        unsafe {
            let x = _mm_loadu_si128(c.as_ptr().cast::<__m128i>());
            // `b - lo <= span` (wrapping, unsigned) for each range:
            // min(d, span) == d exactly when d <= span.
            let in_range = |lo: u8, span: u8| {
                let d = _mm_sub_epi8(x, _mm_set1_epi8(lo as i8));
                _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(span as i8)), d)
            };
            let ok = _mm_or_si128(in_range(b'0', 9), in_range(b'a', 5));
            _mm_movemask_epi8(ok) == 0xffff
        }
    }
}

impl<'a> Digest<'a> {
    /// Checks `s` against the digest grammar and returns it as a digest.
    pub fn parse(s: impl Into<Cow<'a, str>>) -> Result<Self, DigestError> {
        let s = s.into();
        // The common case first: one prefix test and one hex scan.
        if let Some(enc) = s.strip_prefix("sha256:") {
            return if lower_hex(enc.as_bytes(), 64) {
                Ok(Digest(s))
            } else {
                Err(DigestError::BadEncoded(s.into_owned()))
            };
        }
        let Some(colon) = s.find(':') else {
            return Err(DigestError::NoSeparator(s.into_owned()));
        };
        let (alg, enc) = (s[..colon].as_bytes(), s[colon + 1..].as_bytes());
        let enc_ok = match alg {
            b"sha256" => lower_hex(enc, 64),
            b"sha512" => lower_hex(enc, 128),
            _ => {
                if !valid_algorithm(alg) {
                    return Err(DigestError::BadAlgorithm(s.into_owned()));
                }
                valid_encoded(enc)
            }
        };
        if enc_ok {
            Ok(Digest(s))
        } else {
            Err(DigestError::BadEncoded(s.into_owned()))
        }
    }

    /// An empty value to be overwritten by a parsed digest (the fast
    /// reader fills descriptors in place); never handed out as such.
    pub(crate) const fn placeholder() -> Digest<'static> {
        Digest(Cow::Borrowed(""))
    }

    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest<'static> {
        Digest(Cow::Owned(format!("sha256:{:x}", Sha256::digest(bytes))))
    }

    /// The digest of `bytes` computed with this digest's algorithm, when the
    /// algorithm is one ocipick can compute (`sha256`, `sha512`).
    pub fn compute_like(&self, bytes: &[u8]) -> Option<Digest<'static>> {
        let hex = match self.algorithm() {
            "sha256" => format!("{:x}", Sha256::digest(bytes)),
            "sha512" => format!("{:x}", Sha512::digest(bytes)),
            _ => return None,
        };
        Some(Digest(Cow::Owned(format!("{}:{hex}", self.algorithm()))))
    }

    /// Whether `bytes` hash to this digest. Always `false` for algorithms
    /// ocipick cannot compute: an unverifiable blob is never taken as verified.
    pub fn verify(&self, bytes: &[u8]) -> bool {
        self.compute_like(bytes).is_some_and(|d| d == *self)
    }

    /// The algorithm, e.g. `sha256`.
    pub fn algorithm(&self) -> &str {
        &self.0[..self.0.find(':').unwrap_or(0)]
    }

    /// The encoded part (hex for the registered algorithms).
    pub fn encoded(&self) -> &str {
        &self.0[self.0.find(':').map_or(0, |i| i + 1)..]
    }

    /// The whole digest string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Detaches the digest from the document it was read from.
    pub fn into_owned(self) -> Digest<'static> {
        Digest(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Display for Digest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.0)
    }
}

impl std::str::FromStr for Digest<'static> {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s.to_owned())
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Digest<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = crate::de::cow(d)?;
        Digest::parse(s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Digest<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn grammar_table() {
        let long = "a".repeat(128);
        // The string; whether it parses; whether it follows the grammar
        // alone (the registered algorithms' rules aside).
        let rows: &[(String, bool, bool)] = &[
            (format!("sha256:{E}"), true, true),
            (format!("sha256:{}", E.to_uppercase()), false, true), // registered: lower-case only
            (format!("sha256:{}", &E[..63]), false, true),
            ("sha256:e6".into(), false, true),
            (format!("sha512:{long}"), true, true),
            (format!("sha512:{E}"), false, true),
            (
                "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8".into(),
                true,
                true,
            ),
            (
                "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564".into(),
                true,
                true,
            ),
            ("Sha256:abc".into(), false, false),
            ("sha256".into(), false, false),
            (":abc".into(), false, false),
            ("x:".into(), false, false),
            ("a..b:abc".into(), false, false),
            ("-a:abc".into(), false, false),
            ("blake3:abc!".into(), false, false),
            ("sha256:a:b".into(), false, false),
        ];
        for (s, ok, grammatical) in rows {
            assert_eq!(Digest::parse(s.as_str()).is_ok(), *ok, "{s}");
            assert_eq!(follows_grammar(s), *grammatical, "{s}");
        }
    }

    /// The vector check agrees with the byte loop on every byte value at
    /// every position.
    #[test]
    fn lower_hex_every_byte() {
        let base: Vec<u8> = E.bytes().collect();
        assert!(lower_hex(&base, 64));
        for at in 0..64 {
            for b in 0..=255u8 {
                let mut e = base.clone();
                e[at] = b;
                assert_eq!(lower_hex(&e, 64), lower_hex_bytes(&e), "{at} {b}");
                assert_eq!(lower_hex(&e, 64), LOWER_HEX[b as usize]);
            }
        }
        let long: Vec<u8> = E.repeat(2).bytes().collect();
        assert!(lower_hex(&long, 128));
        assert!(!lower_hex(&long[..127], 128));
    }

    #[test]
    fn verify_and_parts() {
        let d = Digest::parse(format!("sha256:{E}")).unwrap();
        assert!(d.verify(b""));
        assert!(!d.verify(b"x"));
        assert_eq!(d.encoded(), E);
        assert_eq!(Digest::sha256_of(b""), d);
        let odd = Digest::parse("foo:abc").unwrap();
        assert!(!odd.verify(b""), "unknown algorithms never verify");
    }
}
