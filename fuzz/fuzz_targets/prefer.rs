//! Arbitrary strings as `--prefer` values. When one parses, it is valid,
//! and (when its value does not end in `:digits`) formatting it and parsing
//! that again gives the same key, value and weight.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocipick::Preference;

fn ends_in_colon_digits(s: &str) -> bool {
    match s.rfind(':') {
        Some(i) => {
            let w = &s[i + 1..];
            let d = w.strip_prefix(['-', '+']).unwrap_or(w);
            !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}


fuzz_target!(|bytes: &[u8]| {
    let Ok(s) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(p) = s.parse::<Preference>() else {
        return;
    };
    assert!(p.validate().is_ok());
    assert!(!p.key.is_empty());
    if p.value.as_deref().is_some_and(ends_in_colon_digits) {
        return;
    }
    let text = p.to_string();
    let again: Preference = text
        .parse()
        .unwrap_or_else(|e| panic!("{s:?} -> {text:?} does not parse again: {e}"));
    assert_eq!(p, again, "{s:?} -> {text:?}");
});
