//! Arbitrary text as the TOML configuration file. When it parses, every
//! preference is valid and the platform (if any) is only a string.
#![no_main]

use libfuzzer_sys::fuzz_target;


fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(c) = ocipick::Config::parse(text) {
        for p in &c.preferences {
            assert!(p.validate().is_ok(), "{p:?}");
            assert!(p.weight.unsigned_abs() <= ocipick::prefer::MAX_WEIGHT as u64);
        }
    }
});
