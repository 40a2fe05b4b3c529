//! Arbitrary bytes as node inventories and pods: the JSON of `kubectl get
//! nodes -o json` and `kubectl get pods -A -o json`
//! (`ocipick_host::inventory::parse_nodes` / `parse_pods`), and as a facts
//! file (`Facts::from_nfd_json`, then `inventory::node_from_facts`); the
//! first byte chooses which, the rest is the document.
//!
//! Asserted: no panic; every kubectl node has an `OS/ARCH` platform, and
//! every node matches a selector made of its own labels; a kubectl node's facts hold
//! every label as `kubernetes.label.KEY`; every container's image is
//! trimmed, and a pinned digest is a suffix of it; node classes
//! (`ocipick::fleet::Fleet`) cover every node exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocipick::fleet::{Fleet, Template};
use ocipick_host::inventory;

fn check_nodes(nodes: &[inventory::Node]) {
    for n in nodes {
        assert!(n.matches_selector(&n.labels));
        // A facts file's platform is taken as the file spells it (the
        // caller parses it, with a clear error); a kubectl node's is
        // always OS/ARCH.
        if n.from == inventory::NodeSource::Kubectl {
            assert!(n.platform.contains('/'), "{:?}", n.platform);
            let flat = n.facts.flatten();
            for (k, v) in &n.labels {
                let key = format!("kubernetes.label.{k}");
                assert!(flat.get(&key).is_some_and(|s| s.contains(v)), "{key}");
            }
        }
    }
    let _ = inventory::check_unique_names(nodes);
    // Classes: every node in exactly one, whatever its platform parses to.
    let host = ocipick::Platform::new("linux", "amd64", None);
    let facts: Vec<_> = nodes.iter().map(|n| n.facts.flatten()).collect();
    let targets: Vec<_> = nodes
        .iter()
        .filter_map(|n| ocipick::platform::spelling::parse(&n.platform, &host).ok())
        .collect();
    let fleet = Fleet::new(&Template::new(), targets.into_iter().zip(facts.iter()));
    let mut seen = vec![0u32; fleet.nodes()];
    for c in fleet.classes() {
        for &n in &c.nodes {
            seen[n] += 1;
            assert_eq!(fleet.class_of(n), c.nodes.first().map(|&f| fleet.class_of(f)).unwrap());
        }
    }
    assert!(seen.iter().all(|&s| s == 1));
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, doc)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(nodes) = inventory::parse_nodes(doc) {
                check_nodes(&nodes);
            }
        }
        1 => {
            if let Ok(pods) = inventory::parse_pods(doc) {
                for p in &pods {
                    assert!(p.key().contains('/'));
                    for c in &p.containers {
                        assert_eq!(c.image, c.image.trim());
                        if let Some(d) = c.pinned_digest() {
                            assert!(c.image.ends_with(d));
                            assert!(d.contains(':'));
                        }
                    }
                }
            }
        }
        _ => {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(doc) else {
                return;
            };
            if let Ok((facts, platform)) = ocipick_host::Facts::from_nfd_json(&v) {
                if let Ok(n) = inventory::node_from_facts("n", facts, platform) {
                    check_nodes(&[n]);
                }
            }
        }
    }
});
