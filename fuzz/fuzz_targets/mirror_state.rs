//! What the mirror reads back from its state directory (`--state-dir`) at
//! start: a file name and its bytes, checked by
//! `ocipick_mirror::state::check_file`. Never a panic; a file is accepted
//! only when its name is `sha256-HEX` of its bytes and the bytes are an
//! index, and it is then served with an index media type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocipick::media_type::{self, Kind};
use ocipick::Digest;
use ocipick_mirror::state::check_file;

fuzz_target!(|bytes: &[u8]| {
    // First byte odd: the rest is a file named by its own digest (so the
    // content checks are reached); even: the first line is the name.
    let Some((&flag, rest)) = bytes.split_first() else {
        return;
    };
    let (name, body) = if flag & 1 == 1 {
        (Digest::sha256_of(rest).to_string().replace(':', "-"), rest)
    } else {
        let (line, body) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        (String::from_utf8_lossy(line).into_owned(), body)
    };
    if let Ok((digest, media)) = check_file(&name, body) {
        assert_eq!(digest, Digest::sha256_of(body).to_string());
        assert_eq!(name, digest.replace(':', "-"));
        assert_eq!(media_type::kind(&media), Kind::Index, "{media}");
        let v: serde_json::Value = serde_json::from_slice(body).expect("accepted as JSON");
        assert!(v["manifests"].is_array());
    }
});
