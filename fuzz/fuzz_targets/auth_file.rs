//! Arbitrary bytes as a credential file (`auth.json` or Docker's
//! `config.json`), looked up for a fixed registry and repository.
//!
//! Asserted: no panic, and an error message never quotes a string value
//! of the file (any of them may be a secret).
#![no_main]

use libfuzzer_sys::fuzz_target;

/// String values (`out`) and object keys (`keys`: these may be named).
fn strings(v: &serde_json::Value, out: &mut Vec<String>, keys: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out, keys)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
            keys.push(k.clone());
            strings(x, out, keys)
        }),
        _ => {}
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Err(message) = ocipick_registry::auth::choose_in(bytes, "127.0.0.1:5000", "team/app")
    else {
        return;
    };
    let (mut values, mut keys) = (Vec::new(), Vec::new());
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        strings(&v, &mut values, &mut keys);
    }
    let named = |s: &str| keys.iter().any(|k| k.contains(s)) || "auths".contains(s);
    for s in values.iter().filter(|s| s.len() >= 6 && !named(s)) {
        assert!(!message.contains(s.as_str()), "{message:?} quotes {s:?}");
    }
});
