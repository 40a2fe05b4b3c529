//! Arbitrary bytes as an NFD image compatibility specification and a
//! node: the bytes before the first NUL are the YAML layer
//! (`ocipick::nfd::parse_spec`), the bytes after it the node's features
//! in `nfd export features` JSON (`Facts::from_nfd_json`; where that
//! fails, a fixed node with flags, attributes and instances).
//!
//! Asserted: no panic, no hang; a parsed spec's rules are evaluated
//! (`nfd::evaluate`) the same twice; an unknown expression always says
//! why; a set passes only if every rule does, and fails if one does; a
//! rule with a failing `matchFeatures` fails; `tags` keep exactly the sets
//! with those tags, in order; the report serializes to JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocipick::nfd::{self, Features, Outcome};

fn fixed_node() -> Features {
    let mut f = Features::default();
    f.flags.insert(
        "cpu.cpuid".into(),
        ["AVX2", "AVX512F", "SSE4"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    f.flags.insert(
        "kernel.loadedmodule".into(),
        ["vfio-pci".to_string()].into(),
    );
    f.attributes.insert(
        "kernel.version".into(),
        [("major", "6"), ("minor", "1"), ("full", "6.1.0-18-amd64")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    f.attributes.insert(
        "cpu.model".into(),
        [("vendor_id".to_string(), "Intel".to_string())].into(),
    );
    f.instances.insert(
        "pci.device".into(),
        vec![
            [("vendor", "10de"), ("class", "0300")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            [("vendor", "0eee"), ("class", "0200")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ],
    );
    f
}

fuzz_target!(|data: &[u8]| {
    let (spec_bytes, node_bytes) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let node = node_bytes
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| ocipick_host::Facts::from_nfd_json(&v).ok())
        .map(|(f, _)| f.nfd_features())
        .unwrap_or_else(fixed_node);
    let Ok(spec) = nfd::parse_spec(spec_bytes) else {
        return;
    };
    let report = nfd::evaluate(&spec, &node, &[]);
    assert_eq!(report, nfd::evaluate(&spec, &node, &[]));
    assert_eq!(report.len(), spec.compatibilities.len());
    for c in &report {
        let rules: Vec<Outcome> = c.rules.iter().map(|r| r.outcome).collect();
        if c.outcome == Outcome::Pass {
            assert!(rules.iter().all(|&o| o == Outcome::Pass));
        }
        if rules.contains(&Outcome::Fail) {
            assert_eq!(c.outcome, Outcome::Fail);
        }
        for r in &c.rules {
            let groups = r.match_features.iter().chain(&r.match_any);
            for g in groups {
                for e in &g.expressions {
                    if e.outcome == Outcome::Unknown {
                        assert!(e.problem.is_some(), "{e:?}");
                    }
                }
                if g.expressions.iter().any(|e| e.outcome == Outcome::Unknown)
                    && g.outcome == Outcome::Pass
                {
                    // A group passes with an unknown expression only where
                    // instances or flags-or-attributes carry it elsewhere:
                    // never with every expression unknown.
                    assert!(g.expressions.iter().any(|e| e.outcome == Outcome::Pass));
                }
            }
            if r.match_features
                .as_ref()
                .is_some_and(|m| m.outcome == Outcome::Fail)
            {
                assert_eq!(r.outcome, Outcome::Fail);
            }
        }
    }
    if let Some(tag) = spec.compatibilities.iter().find_map(|c| c.tag.clone()) {
        let kept = nfd::evaluate(&spec, &node, std::slice::from_ref(&tag));
        let want: Vec<usize> = spec
            .compatibilities
            .iter()
            .enumerate()
            .filter(|(_, c)| c.tag.as_ref() == Some(&tag))
            .map(|(i, _)| i)
            .collect();
        let got: Vec<usize> = kept.iter().map(|c| c.index).collect();
        assert_eq!(got, want);
    }
    serde_json::to_string(&report).unwrap();
});
