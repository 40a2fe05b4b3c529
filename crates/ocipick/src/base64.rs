//! Base 64 as RFC 4648 §4 defines it: the standard alphabet (`A`–`Z`,
//! `a`–`z`, `0`–`9`, `+`, `/`) with `=` padding, which is what the
//! image-spec asks of a descriptor's `data`.
//!
//! Strict, as §3.3 and §3.5 allow a decoder to be: the length is a
//! multiple of four, `=` appears only as the last one or two characters,
//! no character outside the alphabet (no line breaks, no white space) is
//! skipped, and the bits that padding leaves over are zero, so every byte
//! string has exactly one encoding that decodes.

use std::fmt;

/// Why a string is not standard, padded base 64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64Error {
    /// The length is not a multiple of 4 (padding missing or cut).
    Length(usize),
    /// A character outside the alphabet, at this byte offset.
    Character(usize),
    /// `=` where it may not be: not at the end, or three of them.
    Padding(usize),
    /// The bits left over before the padding are not zero (non-canonical).
    TrailingBits,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base64Error::Length(n) => write!(
                f,
                "its length, {n}, is not a multiple of 4 (padding missing?)"
            ),
            Base64Error::Character(at) => {
                write!(f, "byte {at} is not in the standard base 64 alphabet")
            }
            Base64Error::Padding(at) => write!(f, "'=' at byte {at} is not final padding"),
            Base64Error::TrailingBits => {
                f.write_str("the bits before the padding are not zero (non-canonical)")
            }
        }
    }
}

impl std::error::Error for Base64Error {}

/// The 6-bit value of an alphabet character.
fn sextet(b: u8) -> Option<u32> {
    Some(u32::from(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Decodes standard, padded base 64 (RFC 4648 §4), strictly.
///
/// ```
/// use ocipick::base64::{decode, Base64Error};
/// assert_eq!(decode("YmM=").unwrap(), b"bc");
/// assert_eq!(decode("").unwrap(), b"");
/// assert_eq!(decode("YmM"), Err(Base64Error::Length(3)));
/// assert_eq!(decode("YmN="), Err(Base64Error::TrailingBits));
/// ```
pub fn decode(s: &str) -> Result<Vec<u8>, Base64Error> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return Err(Base64Error::Length(b.len()));
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (q, quad) in b.chunks_exact(4).enumerate() {
        let at = q * 4;
        let last = at + 4 == b.len();
        // Padding: only in the last quad, only as its last one or two.
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 0 && !last {
            let first = quad.iter().position(|&c| c == b'=').unwrap_or(0);
            return Err(Base64Error::Padding(at + first));
        }
        if pad > 2 {
            return Err(Base64Error::Padding(at + 4 - pad));
        }
        let mut n: u32 = 0;
        for (i, &c) in quad[..4 - pad].iter().enumerate() {
            let v = match sextet(c) {
                Some(v) => v,
                None if c == b'=' => return Err(Base64Error::Padding(at + i)),
                None => return Err(Base64Error::Character(at + i)),
            };
            n |= v << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        match pad {
            0 => out.extend_from_slice(&bytes),
            1 => {
                if n & 0xff != 0 {
                    return Err(Base64Error::TrailingBits);
                }
                out.extend_from_slice(&bytes[..2]);
            }
            _ => {
                if n & 0xffff != 0 {
                    return Err(Base64Error::TrailingBits);
                }
                out.push(bytes[0]);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10's test vectors, and what a strict decoder refuses.
    #[test]
    fn vectors_and_refusals() {
        for (enc, dec) in [
            ("", &b""[..]),
            ("Zg==", b"f"),
            ("Zm8=", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg==", b"foob"),
            ("Zm9vYmE=", b"fooba"),
            ("Zm9vYmFy", b"foobar"),
            ("+/+/", &[0xfb, 0xff, 0xbf]),
        ] {
            assert_eq!(decode(enc).as_deref(), Ok(dec), "{enc}");
        }
        for (enc, err) in [
            ("Zg", Base64Error::Length(2)),
            ("Zg=", Base64Error::Length(3)),
            ("Zm9vY", Base64Error::Length(5)),
            ("Zm9v\nYmFy", Base64Error::Length(9)),
            ("Zm9v YmF", Base64Error::Character(4)),
            ("Zm9-", Base64Error::Character(3)), // URL-safe alphabet
            ("Zm9_", Base64Error::Character(3)),
            ("Zg==Zm9v", Base64Error::Padding(2)),
            ("Z===", Base64Error::Padding(1)),
            ("====", Base64Error::Padding(0)),
            ("Zg=v", Base64Error::Padding(2)),
            ("Zh==", Base64Error::TrailingBits),
            ("Zm9=", Base64Error::TrailingBits),
            ("Zm8=\u{e9}", Base64Error::Length(6)),
            ("Zm\u{e9}", Base64Error::Character(2)),
        ] {
            assert_eq!(decode(enc), Err(err), "{enc:?}");
        }
    }

    /// Every byte string of up to three bytes (and a sample of longer ones)
    /// decodes from its encoding, computed here independently.
    #[test]
    fn round_trip() {
        fn encode(b: &[u8]) -> String {
            const A: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut s = String::new();
            for c in b.chunks(3) {
                let n = (u32::from(c[0]) << 16)
                    | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                    | u32::from(*c.get(2).unwrap_or(&0));
                for i in 0..4 {
                    if i <= c.len() {
                        s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                    } else {
                        s.push('=');
                    }
                }
            }
            s
        }
        for a in 0..=255u8 {
            for len in 1..=3 {
                let bytes: Vec<u8> = (0..len).map(|i| a.wrapping_mul(i + 7)).collect();
                assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
            }
        }
        let long: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        for n in 0..long.len() {
            assert_eq!(decode(&encode(&long[..n])).unwrap(), &long[..n]);
        }
    }
}
