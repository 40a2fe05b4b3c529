//! `--mode reorder`: a new index whose chosen entry comes first among the
//! entries a first-match runtime would consider.

use serde::Deserialize;
use serde_json::value::RawValue;

/// Moves entry `from` of the index `bytes` to position `to` (`to < from`),
/// shifting the entries in between down by one.
///
/// Every other byte stays as it was: the descriptors are moved as the raw
/// text they were, the separators and everything outside `manifests` keep
/// their places, so the new document differs from the old one only in the
/// order of its entries.
pub fn move_entry(bytes: &[u8], from: usize, to: usize) -> Result<Vec<u8>, String> {
    #[derive(Deserialize)]
    struct Top<'a> {
        #[serde(borrow)]
        manifests: Vec<&'a RawValue>,
    }
    // An index is a JSON object (serde would also read a struct from an array).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("the index is not a JSON object".into());
    }
    // from_slice would not check the UTF-8 of strings it skips.
    let text = std::str::from_utf8(bytes).map_err(|e| format!("the index is not UTF-8: {e}"))?;
    let top: Top<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let n = top.manifests.len();
    if from >= n || to > from {
        return Err(format!("cannot move entry {from} to {to} of {n}"));
    }
    let base = bytes.as_ptr() as usize;
    let spans: Vec<(usize, usize)> = top
        .manifests
        .iter()
        .map(|r| {
            let s = r.get();
            let start = s.as_ptr() as usize - base;
            (start, start + s.len())
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    let moved = order.remove(from);
    order.insert(to, moved);
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..spans[0].0]);
    for (k, &i) in order.iter().enumerate() {
        out.extend_from_slice(&bytes[spans[i].0..spans[i].1]);
        if k + 1 < n {
            out.extend_from_slice(&bytes[spans[k].1..spans[k + 1].0]);
        }
    }
    out.extend_from_slice(&bytes[spans[n - 1].1..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_only_the_entry() {
        let doc = br#"{"schemaVersion":2,
  "manifests": [ {"n":0},
    {"n":1} , {"n":2,"x":[1,2]}
  ],
  "annotations":{"a":"b"}}"#;
        let out = move_entry(doc, 2, 0).unwrap();
        let want = br#"{"schemaVersion":2,
  "manifests": [ {"n":2,"x":[1,2]},
    {"n":0} , {"n":1}
  ],
  "annotations":{"a":"b"}}"#;
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(want.to_vec()).unwrap()
        );
        let out = move_entry(doc, 2, 1).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let ns: Vec<i64> = v["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["n"].as_i64().unwrap())
            .collect();
        assert_eq!(ns, [0, 2, 1]);
    }

    #[test]
    fn refuses_bad_moves_and_documents() {
        let doc = br#"{"manifests":[{"n":0},{"n":1}]}"#;
        assert!(move_entry(doc, 0, 1).is_err());
        assert!(move_entry(doc, 5, 0).is_err());
        assert!(move_entry(b"{", 1, 0).is_err());
        assert!(move_entry(br#"[[{"n":0},{"n":1}]]"#, 1, 0).is_err());
        // Invalid UTF-8 in a field the move does not read (found by fuzzing).
        assert!(move_entry(b"{\"x\":\"\xff\",\"manifests\":[1,2]}", 1, 0).is_err());
        assert!(move_entry(br#"{"manifests":[]}"#, 0, 0).is_err());
        assert!(move_entry(br#"{"manifests":[1],"manifests":[2]}"#, 0, 0).is_err());
    }
}
