//! The fast reader behind [`crate::Policy::select_bytes`].
//!
//! A hand-written reader for the common shape of index documents: strings
//! without escapes, plain non-negative integers, modest nesting. It finds
//! string ends and skips white space 16 bytes at a time (SSE2, baseline on
//! x86_64; a byte loop elsewhere), checks UTF-8 in the same pass (only the
//! strings that hold a non-ASCII byte go through `from_utf8`), matches
//! field names on their bytes and builds the same [`Top`] and descriptors
//! as the serde reader of [`crate::de`], handing them to the same [`Sink`]:
//! one descriptor filled in place for every element of `manifests`, which
//! the sink moves out only if it keeps it.
//!
//! It never reports an error itself. Anything it does not handle, or any
//! doubt about validity — invalid UTF-8, a backslash or control character
//! in a string, a number with a sign, fraction, exponent, leading zero or more than 18
//! digits, nesting deeper than [`MAX_DEPTH`], a duplicate field, a missing
//! or mistyped field, an invalid digest or media type, trailing bytes —
//! makes it give up with [`Fallback`]; the caller then reads the document
//! again with the serde reader, which accepts, refuses and reports exactly
//! as [`crate::Index::parse`] does. So the fast reader may only accept a
//! document that the serde reader accepts, and must then produce the same
//! values: every rule of `de.rs` is mirrored below, and the differential
//! tests (`tests/fast_path.rs`, the `index_select` fuzz target) check it.

use std::borrow::Cow;
use std::collections::btree_map::{BTreeMap, Entry};

use crate::de::{Sink, Top};
use crate::digest::Digest;
use crate::index::Descriptor;
use crate::platform::Platform;

/// The fast reader gave up; read the document with the serde reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fallback;

type R<T> = Result<T, Fallback>;

/// Deepest nesting (top-level object = 1) the fast reader follows; deeper
/// documents go to the serde reader, whose own limit is 128.
pub(crate) const MAX_DEPTH: usize = 32;

/// Reads an index document, handing each descriptor of `manifests` to
/// `sink`. On [`Fallback`] the sink may have received some descriptors:
/// the caller must discard it.
pub(crate) fn read_top<'a, S: Sink<'a>>(bytes: &'a [u8], sink: &mut S) -> R<Top<'a>> {
    let mut c = Cur { b: bytes, i: 0 };
    let mut top = Top::empty();
    c.ws();
    c.eat(b'{')?;
    c.ws();
    if c.peek() == b'}' {
        c.i += 1;
    } else {
        let mut seen = Seen::default();
        loop {
            let k = crate::de::top_field(c.key()?).map_or(8, usize::from);
            if k < 8 {
                seen.mark(k)?;
            }
            match k {
                0 => match c.peek() {
                    // Option<u32>: a null would be `None`; rare, left to serde.
                    b'0'..=b'9' => top.schema_version = Some(c.uint(9)? as u32),
                    _ => return Err(Fallback),
                },
                1 => top.media_type = c.opt_str()?,
                2 => top.artifact_type = c.opt_str()?,
                3 => match c.peek() {
                    b'n' => {
                        c.null()?;
                        top.manifests = None;
                        top.manifests_null = true;
                    }
                    b'[' => top.manifests = Some(c.manifests(sink)?),
                    _ => return Err(Fallback),
                },
                4 => {
                    top.subject = match c.peek() {
                        b'n' => {
                            c.null()?;
                            None
                        }
                        _ => {
                            let mut d = Descriptor::empty();
                            c.descriptor(2, &mut d)?;
                            Some(d)
                        }
                    }
                }
                5 => top.annotations = c.annotations()?,
                6 => top.config = c.present(1)?,
                7 => top.layers = c.present(1)?,
                _ => c.skip(1)?,
            }
            if c.next_member(b'}')? {
                break;
            }
        }
    }
    c.ws();
    if c.i != c.b.len() {
        return Err(Fallback); // trailing bytes
    }
    Ok(top)
}

/// The known fields of one object read so far, a bit each by their index
/// in that object's list of names.
#[derive(Default)]
struct Seen(u16);

impl Seen {
    /// Marks field `k` (below 16); a second time gives up, as serde
    /// refuses duplicate fields.
    #[inline(always)]
    fn mark(&mut self, k: usize) -> R<()> {
        let bit = 1u16 << k;
        if self.0 & bit != 0 {
            return Err(Fallback);
        }
        self.0 |= bit;
        Ok(())
    }

    /// Whether field `k` was read.
    #[inline(always)]
    fn has(&self, k: usize) -> bool {
        self.0 & (1u16 << k) != 0
    }
}

/// A position in the document.
///
/// The document is bytes, not yet known to be UTF-8: the reader checks it
/// on the way (see [`Cur::string`]), so that an accepted document needs no
/// separate validation pass.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    /// The current byte, or 0 at the end (a NUL byte is never valid
    /// outside strings, so it cannot be mistaken for anything accepted).
    #[inline(always)]
    fn peek(&self) -> u8 {
        self.b.get(self.i).copied().unwrap_or(0)
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> R<()> {
        if self.peek() == c {
            self.i += 1;
            Ok(())
        } else {
            Err(Fallback)
        }
    }

    /// Skips JSON white space (space, tab, line feed, carriage return).
    #[inline(always)]
    fn ws(&mut self) {
        let c = self.peek();
        if c > b' ' {
            return;
        }
        if c == b' ' && self.b.get(self.i + 1).is_some_and(|&n| n > b' ') {
            self.i += 1;
            return;
        }
        self.i = scan::ws_end(self.b, self.i);
    }

    /// After a member or element: `,` (then white space) or the closing
    /// `close`. Returns whether the container ended.
    #[inline(always)]
    fn next_member(&mut self, close: u8) -> R<bool> {
        self.ws();
        match self.peek() {
            b',' => {
                self.i += 1;
                self.ws();
                Ok(false)
            }
            c if c == close => {
                self.i += 1;
                Ok(true)
            }
            _ => Err(Fallback),
        }
    }

    /// A string without escapes or control characters, borrowed.
    ///
    /// This is where the document's UTF-8 is checked: outside strings the
    /// reader accepts only ASCII (structure, white space, literals and
    /// digits), and a string's bytes are checked here, so a document the
    /// reader accepts is valid UTF-8 as a whole (pieces that are valid
    /// UTF-8, joined by ASCII, are valid UTF-8). Invalid UTF-8 gives up;
    /// the serde reader then reports it with its position.
    #[inline(always)]
    fn string(&mut self) -> R<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let (end, wide) = scan::string_end(self.b, start).ok_or(Fallback)?;
        self.i = end + 1;
        let s = &self.b[start..end];
        if wide {
            std::str::from_utf8(s).map_err(|_| Fallback)
        } else {
            // SAFETY: `string_end` saw no byte of 0x80 or above in `s`
            // (`wide` is false), and ASCII bytes are valid UTF-8.
            Ok(unsafe { std::str::from_utf8_unchecked(s) })
        }
    }

    /// An object member's name and the `:` after it (and white space).
    #[inline(always)]
    fn key(&mut self) -> R<&'a str> {
        let k = self.string()?;
        self.ws();
        self.eat(b':')?;
        self.ws();
        Ok(k)
    }

    /// Whether the next bytes are `word` written as a plain JSON string:
    /// `"`, the bytes of `word`, `"`. (`word` has no `"`, `\\` or control
    /// character, so such a string is exactly `word`.)
    #[inline(always)]
    fn at_plain(&self, word: &str) -> bool {
        let n = word.len();
        match self.b.get(self.i..self.i + n + 2) {
            Some(s) => s[0] == b'"' && s[n + 1] == b'"' && &s[1..=n] == word.as_bytes(),
            None => false,
        }
    }

    /// An object member's name and the `:` after it (and white space), as
    /// its index in `names`, or `names.len()` for any other name. The
    /// names of `names` written plainly are recognized without a scan;
    /// anything else is read by [`key`](Cur::key) and compared.
    #[inline(always)]
    fn key_of(&mut self, names: &[&str]) -> R<usize> {
        for (k, name) in names.iter().enumerate() {
            if self.at_plain(name) {
                self.i += name.len() + 2;
                self.ws();
                self.eat(b':')?;
                self.ws();
                return Ok(k);
            }
        }
        let key = self.key()?;
        Ok(names.iter().position(|n| *n == key).unwrap_or(names.len()))
    }

    /// A descriptor's `mediaType`: the types selection knows, written
    /// plainly, without a scan (they are valid); any other string checked
    /// as the serde reader checks it.
    #[inline(always)]
    fn media_type(&mut self) -> R<&'a str> {
        use crate::media_type::{DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
        for known in [OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX] {
            if self.at_plain(known) {
                self.i += known.len() + 2;
                return Ok(known);
            }
        }
        let m = self.string()?;
        if crate::media_type::is_valid(m) {
            Ok(m)
        } else {
            Err(Fallback)
        }
    }

    fn null(&mut self) -> R<()> {
        self.literal(b"null")
    }

    fn literal(&mut self, word: &[u8]) -> R<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Fallback)
        }
    }

    /// `Option<string>`: `null` or a string.
    #[inline(always)]
    fn opt_str(&mut self) -> R<Option<Cow<'a, str>>> {
        match self.peek() {
            b'n' => self.null().map(|()| None),
            _ => self.string().map(|s| Some(Cow::Borrowed(s))),
        }
    }

    /// `Option<anything>` as a presence flag (`config`, `layers`).
    fn present(&mut self, depth: usize) -> R<bool> {
        match self.peek() {
            b'n' => self.null().map(|()| false),
            _ => self.skip(depth).map(|()| true),
        }
    }

    /// A non-negative integer of at most `max_digits` digits (at most 18,
    /// so it fits in a u64 and below `i64::MAX`), without leading zero,
    /// fraction or exponent.
    #[inline(always)]
    fn uint(&mut self, max_digits: usize) -> R<u64> {
        debug_assert!(max_digits <= 18);
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(&c @ b'0'..=b'9') = self.b.get(self.i) {
            if self.i - start == max_digits {
                return Err(Fallback);
            }
            n = n * 10 + u64::from(c - b'0');
            self.i += 1;
        }
        let len = self.i - start;
        if len == 0 || (len > 1 && self.b[start] == b'0') {
            return Err(Fallback);
        }
        match self.peek() {
            b'.' | b'e' | b'E' => Err(Fallback),
            _ => Ok(n),
        }
    }

    /// An array of strings (`urls`, `features`, `os.features`).
    fn str_array(&mut self) -> R<Vec<Cow<'a, str>>> {
        self.eat(b'[')?;
        self.ws();
        let mut out = Vec::new();
        if self.peek() == b']' {
            self.i += 1;
            return Ok(out);
        }
        loop {
            out.push(Cow::Borrowed(self.string()?));
            if self.next_member(b']')? {
                return Ok(out);
            }
        }
    }

    /// An annotation map; a duplicate key gives up (serde refuses it).
    fn annotations(&mut self) -> R<BTreeMap<Cow<'a, str>, Cow<'a, str>>> {
        self.eat(b'{')?;
        self.ws();
        let mut out = BTreeMap::new();
        if self.peek() == b'}' {
            self.i += 1;
            return Ok(out);
        }
        loop {
            let k = self.key()?;
            let v = self.string()?;
            match out.entry(Cow::Borrowed(k)) {
                Entry::Vacant(e) => {
                    e.insert(Cow::Borrowed(v));
                }
                Entry::Occupied(_) => return Err(Fallback),
            }
            if self.next_member(b'}')? {
                return Ok(out);
            }
        }
    }

    /// Skips any JSON value, checking it as far as the fast reader
    /// accepts values; `depth` is the nesting of the value's container.
    fn skip(&mut self, depth: usize) -> R<()> {
        match self.peek() {
            b'"' => self.string().map(drop),
            b'{' | b'[' => {
                if depth >= MAX_DEPTH {
                    return Err(Fallback);
                }
                let close = if self.peek() == b'{' { b'}' } else { b']' };
                self.i += 1;
                self.ws();
                if self.peek() == close {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    if close == b'}' {
                        self.key()?;
                    }
                    self.skip(depth + 1)?;
                    if self.next_member(close)? {
                        return Ok(());
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.null(),
            b'-' => {
                self.i += 1;
                self.uint(18).map(drop)
            }
            b'0'..=b'9' => self.uint(18).map(drop),
            _ => Err(Fallback),
        }
    }

    /// The `manifests` array: each descriptor to the sink. Returns the count.
    fn manifests<S: Sink<'a>>(&mut self, sink: &mut S) -> R<usize> {
        self.eat(b'[')?;
        self.ws();
        if self.peek() == b']' {
            self.i += 1;
            return Ok(0);
        }
        // One descriptor filled in place for every element: a descriptor
        // is a few hundred bytes, and the sink keeps few of them.
        let mut d = Descriptor::empty();
        let mut n = 0;
        loop {
            self.descriptor(3, &mut d)?;
            sink.accept_from(n, &mut d);
            n += 1;
            if self.next_member(b']')? {
                return Ok(n);
            }
        }
    }

    /// A descriptor object at nesting `depth`, with the rules of
    /// `Descriptor`'s `Deserialize` in `de.rs`, written into `d`, which may
    /// hold the previous element: fields are written in place, marked in a
    /// [`Seen`] to refuse duplicates and detect missing ones, and the
    /// optional fields this element lacks are emptied at the end (after
    /// [`Fallback`], `d` holds a mix and must be discarded).
    fn descriptor(&mut self, depth: usize, d: &mut Descriptor<'a>) -> R<()> {
        // Field indices, in the order fields usually come.
        const MEDIA_TYPE: usize = 0;
        const DIGEST: usize = 1;
        const SIZE: usize = 2;
        const PLATFORM: usize = 3;
        const ANNOTATIONS: usize = 4;
        const URLS: usize = 5;
        const ARTIFACT_TYPE: usize = 6;
        const DATA: usize = 7;
        const NAMES: [&str; 8] = {
            let mut n = [""; 8];
            n[MEDIA_TYPE] = "mediaType";
            n[DIGEST] = "digest";
            n[SIZE] = "size";
            n[PLATFORM] = "platform";
            n[ANNOTATIONS] = "annotations";
            n[URLS] = "urls";
            n[ARTIFACT_TYPE] = "artifactType";
            n[DATA] = "data";
            n
        };
        self.eat(b'{')?;
        self.ws();
        let mut seen = Seen::default();
        loop {
            let k = self.key_of(&NAMES)?;
            if k < NAMES.len() {
                seen.mark(k)?;
            }
            match k {
                MEDIA_TYPE => d.media_type = Cow::Borrowed(self.media_type()?),
                DIGEST => {
                    let s = self.string()?;
                    d.digest = Digest::parse(Cow::Borrowed(s)).map_err(|_| Fallback)?;
                }
                SIZE => d.size = self.uint(18)?,
                URLS => d.urls = self.str_array()?,
                ANNOTATIONS => d.annotations = self.annotations()?,
                DATA => d.data = self.opt_str()?,
                ARTIFACT_TYPE => d.artifact_type = self.opt_str()?,
                PLATFORM => {
                    if self.peek() == b'n' {
                        self.null()?;
                        d.platform = None;
                    } else {
                        // The previous element's platform, if any, is
                        // rewritten in place like the descriptor itself.
                        let p = d
                            .platform
                            .get_or_insert_with(|| Platform::new("", "", None));
                        self.platform(depth + 1, p)?;
                    }
                }
                _ => self.skip(depth)?,
            }
            if self.next_member(b'}')? {
                break;
            }
        }
        if !(seen.has(MEDIA_TYPE) && seen.has(DIGEST) && seen.has(SIZE)) {
            return Err(Fallback); // required fields missing
        }
        if !seen.has(URLS) {
            d.urls.clear();
        }
        if !seen.has(ANNOTATIONS) && !d.annotations.is_empty() {
            d.annotations.clear();
        }
        if !seen.has(DATA) {
            d.data = None;
        }
        if !seen.has(ARTIFACT_TYPE) {
            d.artifact_type = None;
        }
        if !seen.has(PLATFORM) {
            d.platform = None;
        }
        Ok(())
    }

    /// A platform object, with the rules of `Platform`'s `Deserialize`,
    /// written into `p`, which may hold the previous element's platform:
    /// as in [`descriptor`](Cur::descriptor), the optional fields this
    /// object lacks are emptied at the end.
    fn platform(&mut self, depth: usize, p: &mut Platform<'a>) -> R<()> {
        const ARCH: usize = 0;
        const OS: usize = 1;
        const VARIANT: usize = 2;
        const OS_VERSION: usize = 3;
        const OS_FEATURES: usize = 4;
        const FEATURES: usize = 5;
        const NAMES: [&str; 6] = {
            let mut n = [""; 6];
            n[ARCH] = "architecture";
            n[OS] = "os";
            n[VARIANT] = "variant";
            n[OS_VERSION] = "os.version";
            n[OS_FEATURES] = "os.features";
            n[FEATURES] = "features";
            n
        };
        self.eat(b'{')?;
        self.ws();
        let mut seen = Seen::default();
        loop {
            let k = self.key_of(&NAMES)?;
            if k < NAMES.len() {
                seen.mark(k)?;
            }
            match k {
                ARCH => p.architecture = Cow::Borrowed(self.string()?),
                OS => p.os = Cow::Borrowed(self.string()?),
                OS_VERSION => p.os_version = self.opt_str()?,
                OS_FEATURES => p.os_features = self.str_array()?,
                VARIANT => p.variant = self.opt_str()?,
                FEATURES => p.features = self.str_array()?,
                _ => self.skip(depth)?,
            }
            if self.next_member(b'}')? {
                break;
            }
        }
        if !(seen.has(ARCH) && seen.has(OS)) {
            return Err(Fallback); // required fields missing
        }
        if !seen.has(OS_VERSION) {
            p.os_version = None;
        }
        if !seen.has(OS_FEATURES) {
            p.os_features.clear();
        }
        if !seen.has(VARIANT) {
            p.variant = None;
        }
        if !seen.has(FEATURES) {
            p.features.clear();
        }
        Ok(())
    }
}

/// Byte scanning: 16 bytes at a time with SSE2 on x86_64, a byte loop
/// elsewhere (and for the last 15 bytes of the document).
pub(crate) mod scan {
    /// The index of the `"` that ends the string whose contents start at
    /// `i`, and whether a byte of 0x80 or above (non-ASCII) came before it;
    /// `None` if a backslash or control character (below 0x20) comes
    /// first, or the document ends.
    #[inline(always)]
    pub(crate) fn string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
        #[cfg(target_arch = "x86_64")]
        {
            let mut i = i;
            let mut wide = false;
            while let Some(chunk) = b.get(i..i + 16) {
                let (m, high) = sse2::string_special(chunk);
                if m != 0 {
                    let k = m.trailing_zeros();
                    let j = i + k as usize;
                    // Non-ASCII bytes before the special byte (k < 16).
                    wide |= high & ((1u32 << k) - 1) != 0;
                    return (b[j] == b'"').then_some((j, wide));
                }
                wide |= high != 0;
                i += 16;
            }
            string_end_bytes(b, i).map(|(j, w)| (j, w || wide))
        }
        #[cfg(not(target_arch = "x86_64"))]
        string_end_bytes(b, i)
    }

    /// [`string_end`] a byte at a time.
    pub(crate) fn string_end_bytes(b: &[u8], i: usize) -> Option<(usize, bool)> {
        let mut wide = false;
        for (j, &c) in b.iter().enumerate().skip(i) {
            match c {
                b'"' => return Some((j, wide)),
                b'\\' | 0..=0x1f => return None,
                0x80.. => wide = true,
                _ => {}
            }
        }
        None
    }

    /// The index of the first byte at or after `i` that is not JSON white
    /// space (or `b.len()`).
    #[inline]
    pub(crate) fn ws_end(b: &[u8], i: usize) -> usize {
        #[cfg(target_arch = "x86_64")]
        {
            let mut i = i;
            while let Some(chunk) = b.get(i..i + 16) {
                let m = sse2::not_ws(chunk);
                if m != 0 {
                    return i + m.trailing_zeros() as usize;
                }
                i += 16;
            }
            ws_end_bytes(b, i)
        }
        #[cfg(not(target_arch = "x86_64"))]
        ws_end_bytes(b, i)
    }

    /// [`ws_end`] a byte at a time.
    pub(crate) fn ws_end_bytes(b: &[u8], i: usize) -> usize {
        let mut i = i;
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(i) {
            i += 1;
        }
        i
    }

    #[cfg(target_arch = "x86_64")]
    mod sse2 {
        use std::arch::x86_64::*;

        /// Loads 16 bytes.
        #[inline(always)]
        fn load(chunk: &[u8]) -> __m128i {
            assert!(chunk.len() >= 16);
            // SAFETY: the assertion above makes the 16 bytes read in
            // bounds; `loadu` has no alignment requirement; SSE2 is part
            // of the x86_64 baseline, so the instruction always exists.
            unsafe { _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>()) }
        }

        /// Bit k of the first mask set where byte k of `chunk[..16]` is
        /// `"`, `\` or below 0x20; of the second, where it is 0x80 or above.
        #[inline(always)]
        pub(super) fn string_special(chunk: &[u8]) -> (u32, u32) {
            let x = load(chunk);
            // SAFETY: SSE2 register arithmetic only; SSE2 is baseline on x86_64.
            unsafe {
                let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
                let bslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
                // x <= 0x1f (unsigned) exactly when max(x, 0x1f) == 0x1f.
                let lim = _mm_set1_epi8(0x1f);
                let ctrl = _mm_cmpeq_epi8(_mm_max_epu8(x, lim), lim);
                let special = _mm_or_si128(_mm_or_si128(quote, bslash), ctrl);
                // The top bit of each byte is exactly "0x80 or above".
                (
                    _mm_movemask_epi8(special) as u32,
                    _mm_movemask_epi8(x) as u32,
                )
            }
        }

        /// Bit k set where byte k of `chunk[..16]` is not JSON white space.
        #[inline(always)]
        pub(super) fn not_ws(chunk: &[u8]) -> u32 {
            let x = load(chunk);
            // SAFETY: SSE2 register arithmetic only; SSE2 is baseline on x86_64.
            unsafe {
                let sp = _mm_cmpeq_epi8(x, _mm_set1_epi8(b' ' as i8));
                let nl = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\n' as i8));
                let tab = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\t' as i8));
                let cr = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\r' as i8));
                let ws = _mm_or_si128(_mm_or_si128(sp, nl), _mm_or_si128(tab, cr));
                !(_mm_movemask_epi8(ws) as u32) & 0xffff
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector scans agree with the byte loops at every offset.
    #[test]
    fn scans_agree_with_byte_loops() {
        let mut doc = Vec::new();
        for i in 0..600u32 {
            let c = match i % 23 {
                0 => b'"',
                5 => b'\\',
                7 => (i % 32) as u8,
                11 => 0xc3,
                12 => 0xa9,
                13 | 14 => b'\n',
                15 => b'\t',
                16 => b'\r',
                _ if i % 3 == 0 => b' ',
                _ => b'a' + (i % 26) as u8,
            };
            doc.push(c);
        }
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 100, 600] {
            let b = &doc[..len];
            for i in 0..=len {
                assert_eq!(
                    scan::string_end(b, i),
                    scan::string_end_bytes(b, i),
                    "{len} {i}"
                );
                assert_eq!(scan::ws_end(b, i), scan::ws_end_bytes(b, i), "{len} {i}");
            }
        }
        // Runs of white space longer than a vector, ended by each kind of byte.
        for run in 0..40 {
            for end in [b'a', b'"', 0x01, 0xff, b'{'] {
                let mut b = vec![b' '; run];
                b.push(end);
                b.extend_from_slice(&[b' '; 20]);
                assert_eq!(scan::ws_end(&b, 0), run);
                let mut s = vec![b'x'; run];
                s.push(end);
                s.extend_from_slice(b"\"                ");
                assert_eq!(scan::string_end(&s, 0), scan::string_end_bytes(&s, 0));
            }
        }
    }
}
