//! Host facts, named after node-feature-discovery's features so that people
//! who know NFD feel at home, read from a root directory (`/` for the real
//! machine, a fixture tree in tests) without root and without programs.
//!
//! Three kinds, as NFD has them:
//! - flags: a set of names per feature (`cpu.cpuid`: `AVX2`, `AVX512F`, …);
//! - attributes: name → value per feature (`kernel.version`: `major` → `6`);
//! - instances: a list of attribute maps per feature (`pci.device`: one per
//!   device, with `vendor`, `device`, `class`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What a machine is, as facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Flag features: feature → set of names.
    pub flags: BTreeMap<String, BTreeSet<String>>,
    /// Attribute features: feature → name → value.
    pub attributes: BTreeMap<String, BTreeMap<String, String>>,
    /// Instance features: feature → list of attribute maps.
    pub instances: BTreeMap<String, Vec<BTreeMap<String, String>>>,
}

fn read(root: &Path, rel: &str) -> Option<String> {
    // Bounded: these are small pseudo-files; a fixture cannot make us read
    // more than 4 MiB of one.
    use std::io::Read;
    let f = std::fs::File::open(root.join(rel)).ok()?;
    let mut s = String::new();
    f.take(4 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}

/// The x86-64 level from the `flags` of `/proc/cpuinfo` fields; `None`
/// for a CPU that lists no `flags` (not x86).
fn x86_64_level_of(cpu: &BTreeMap<String, String>) -> Option<u8> {
    let flags: BTreeSet<String> = cpu
        .get("flags")?
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    Some(crate::x86_64_level(|flag| flags.contains(flag)))
}

/// The x86-64 level of the CPU a `/proc/cpuinfo` text describes.
pub(crate) fn cpuinfo_x86_64_level(text: &str) -> Option<u8> {
    x86_64_level_of(&cpuinfo_fields(text))
}

/// The fields of `/proc/cpuinfo`, the first occurrence of each winning
/// (the first processor's). Not only the first block: old 32-bit ARM
/// kernels list `Features` and `CPU implementer` after all the per-CPU
/// blocks.
pub(crate) fn cpuinfo_fields(text: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (k, v) in text.lines().filter_map(|l| l.split_once(':')) {
        m.entry(k.trim().to_owned())
            .or_insert_with(|| v.trim().to_owned());
    }
    m
}

/// `6.1.0-18-amd64` → major 6, minor 1, revision 0, full.
fn kernel_version(release: &str) -> BTreeMap<String, String> {
    let full = release.trim().to_owned();
    let mut m = BTreeMap::new();
    let numeric: Vec<&str> = full
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()
        .unwrap_or("")
        .split('.')
        .collect();
    for (name, part) in ["major", "minor", "revision"].iter().zip(&numeric) {
        if !part.is_empty() {
            m.insert((*name).to_owned(), (*part).to_owned());
        }
    }
    m.insert("full".to_owned(), full);
    m
}

/// `ID` and `VERSION_ID` (with `VERSION_ID.major`/`.minor`) of os-release.
fn os_release(text: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').to_owned();
        if k == "ID" || k == "VERSION_ID" {
            m.insert(k.to_owned(), v);
        }
    }
    if let Some(v) = m.get("VERSION_ID").cloned() {
        let mut parts = v.split('.');
        if let Some(major) = parts.next() {
            m.insert("VERSION_ID.major".to_owned(), major.to_owned());
        }
        if let Some(minor) = parts.next() {
            m.insert("VERSION_ID.minor".to_owned(), minor.to_owned());
        }
    }
    m
}

/// NFD's vendor names for the CPUID vendor strings.
fn cpu_vendor(id: &str) -> &str {
    match id {
        "GenuineIntel" => "Intel",
        "AuthenticAMD" => "AMD",
        "CentaurHauls" => "VIA",
        "HygonGenuine" => "Hygon",
        other => other,
    }
}

impl Facts {
    /// Detects the facts of the machine whose files are under `root`.
    ///
    /// - `cpu.cpuid` flags: `/proc/cpuinfo` `flags` (x86) or `Features`
    ///   (ARM), upper-cased;
    /// - `cpu.model`: `vendor_id` (NFD's short names), `family`, `id`;
    ///   `cpu.x86_64`: `level` (1–4, x86-64 psABI, from the flags);
    /// - `kernel.version`: `full`, `major`, `minor`, `revision`;
    /// - `system.osrelease`: `ID`, `VERSION_ID` (and its major, minor);
    /// - `memory.total`: `bytes`, from `/proc/meminfo`;
    /// - `kernel.loadedmodule` flags: the modules of `/proc/modules`;
    /// - `pci.device` instances: `vendor`, `device`, `class` (and
    ///   subsystem ids), hex without `0x`, as NFD writes them;
    /// - `nvidia.driver`: `version`, `major`, `minor`, from
    ///   `/proc/driver/nvidia/version` when it exists.
    pub fn detect(root: &Path) -> Facts {
        let mut f = Facts::default();
        if let Some(text) = read(root, "proc/cpuinfo") {
            let cpu = cpuinfo_fields(&text);
            let flags: BTreeSet<String> = cpu
                .get("flags")
                .or_else(|| cpu.get("Features"))
                .map(|v| {
                    v.split_whitespace()
                        .map(|s| s.to_ascii_uppercase())
                        .collect()
                })
                .unwrap_or_default();
            if let Some(level) = x86_64_level_of(&cpu) {
                f.attr("cpu.x86_64", "level", &level.to_string());
            }
            if !flags.is_empty() {
                f.flags.insert("cpu.cpuid".into(), flags);
            }
            if let Some(v) = cpu.get("vendor_id").or_else(|| cpu.get("CPU implementer")) {
                f.attr("cpu.model", "vendor_id", cpu_vendor(v));
            }
            if let Some(v) = cpu
                .get("cpu family")
                .or_else(|| cpu.get("CPU architecture"))
            {
                f.attr("cpu.model", "family", v);
            }
            if let Some(v) = cpu.get("model").or_else(|| cpu.get("CPU part")) {
                f.attr("cpu.model", "id", v);
            }
        }
        if let Some(r) = read(root, "proc/sys/kernel/osrelease") {
            f.attributes
                .insert("kernel.version".into(), kernel_version(&r));
        }
        if let Some(t) = read(root, "etc/os-release") {
            f.attributes
                .insert("system.osrelease".into(), os_release(&t));
        }
        if let Some(m) = read(root, "proc/meminfo") {
            let kib = m
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            if let Some(kib) = kib {
                f.attr("memory.total", "bytes", &(kib * 1024).to_string());
            }
        }
        if let Some(m) = read(root, "proc/modules") {
            // "vfio_pci 16384 0 - Live 0x0000000000000000": the first word.
            // NFD's kernel.loadedmodule flags, as the kernel names them.
            let mods: BTreeSet<String> = m
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_owned)
                .collect();
            f.flags.insert("kernel.loadedmodule".into(), mods);
        }
        if let Some(v) = read(root, "proc/driver/nvidia/version") {
            // "NVRM version: NVIDIA UNIX … Kernel Module for x86_64  580.159.04  Release Build …"
            let version = v
                .lines()
                .next()
                .unwrap_or("")
                .split_whitespace()
                .find(|w| w.contains('.') && w.split('.').all(|p| p.parse::<u32>().is_ok()));
            if let Some(version) = version {
                f.attr("nvidia.driver", "version", version);
                let mut parts = version.split('.');
                if let Some(major) = parts.next() {
                    f.attr("nvidia.driver", "major", major);
                }
                if let Some(minor) = parts.next() {
                    f.attr("nvidia.driver", "minor", minor);
                }
            }
        }
        if let Ok(dir) = std::fs::read_dir(root.join("sys/bus/pci/devices")) {
            let mut devices = Vec::new();
            let mut names: Vec<_> = dir.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
            names.sort();
            for name in names {
                let rel = format!("sys/bus/pci/devices/{}", name.to_string_lossy());
                let mut dev = BTreeMap::new();
                for attr in [
                    "vendor",
                    "device",
                    "class",
                    "subsystem_vendor",
                    "subsystem_device",
                ] {
                    if let Some(v) = read(root, &format!("{rel}/{attr}")) {
                        let v = v.trim().trim_start_matches("0x");
                        // NFD reports the class as base class + subclass.
                        let v = if attr == "class" && v.len() == 6 {
                            &v[..4]
                        } else {
                            v
                        };
                        dev.insert(attr.to_owned(), v.to_owned());
                    }
                }
                if !dev.is_empty() {
                    devices.push(dev);
                }
            }
            f.instances.insert("pci.device".into(), devices);
        }
        f
    }

    /// The facts as rules see them ([`ocipick::rules::HostFacts`]): a flag
    /// feature by its name (`cpu.cpuid` → its flags), an attribute as
    /// `feature.name` (`kernel.version.full`), an instance attribute as
    /// `feature.name` over all instances (`pci.device.vendor` → every
    /// vendor).
    pub fn flatten(&self) -> ocipick::rules::HostFacts {
        let mut out = ocipick::rules::HostFacts::new();
        for (k, set) in &self.flags {
            out.insert(k.clone(), set.clone());
        }
        for (k, m) in &self.attributes {
            for (name, v) in m {
                out.entry(format!("{k}.{name}"))
                    .or_default()
                    .insert(v.clone());
            }
        }
        for (k, list) in &self.instances {
            for a in list {
                for (name, v) in a {
                    out.entry(format!("{k}.{name}"))
                        .or_default()
                        .insert(v.clone());
                }
            }
        }
        out
    }

    /// The facts as NFD's rule evaluator sees them, for
    /// [`ocipick::nfd::evaluate`]: the same three kinds, the same names;
    /// `cpu.cpuid` gains NFD's spellings of the /proc/cpuinfo flags whose
    /// names differ there (`FMA3` for `FMA`, `SSE4` for `SSE4_1`, `SSE3`
    /// for `PNI`, …).
    pub fn nfd_features(&self) -> ocipick::nfd::Features {
        let mut flags = self.flags.clone();
        if let Some(cpuid) = flags.get_mut("cpu.cpuid") {
            let extra: Vec<String> = cpuid
                .iter()
                .flat_map(|f| crate::inventory::spellings(&f.to_ascii_lowercase()))
                .collect();
            cpuid.extend(extra);
        }
        ocipick::nfd::Features {
            flags,
            attributes: self.attributes.clone(),
            instances: self.instances.clone(),
        }
    }

    /// The facts in node-feature-discovery's layout (what `nfd export
    /// features` prints): flags as `{"elements": {NAME: {}}}`, attributes as
    /// `{"elements": {k: v}}`, instances as `{"elements": [{"attributes":
    /// {…}}]}`. [`Facts::from_nfd_json`] reads it back.
    pub fn to_nfd_json(&self) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        let flags: Map<String, Value> = self
            .flags
            .iter()
            .map(|(k, set)| {
                let elements: Map<String, Value> =
                    set.iter().map(|n| (n.clone(), json!({}))).collect();
                (k.clone(), json!({ "elements": elements }))
            })
            .collect();
        let attributes: Map<String, Value> = self
            .attributes
            .iter()
            .map(|(k, m)| (k.clone(), json!({ "elements": m })))
            .collect();
        let instances: Map<String, Value> = self
            .instances
            .iter()
            .map(|(k, list)| {
                let elements: Vec<Value> =
                    list.iter().map(|a| json!({ "attributes": a })).collect();
                (k.clone(), json!({ "elements": elements }))
            })
            .collect();
        json!({ "flags": flags, "attributes": attributes, "instances": instances })
    }

    /// Reads facts in node-feature-discovery's layout: what `nfd export
    /// features` prints, and what `ocipick host --output json` prints (which
    /// adds `platform`). Returns the facts and the platform, if named.
    pub fn from_nfd_json(v: &serde_json::Value) -> Result<(Facts, Option<String>), String> {
        let obj = v.as_object().ok_or("a node facts file is a JSON object")?;
        // `nfd export features` may wrap the features in "features".
        let root = obj
            .get("features")
            .and_then(|f| f.as_object())
            .unwrap_or(obj);
        let mut f = Facts::default();
        let section = |name: &str| root.get(name).and_then(|s| s.as_object());
        if let Some(flags) = section("flags") {
            for (k, v) in flags {
                let elems = v
                    .get("elements")
                    .and_then(|e| e.as_object())
                    .ok_or_else(|| format!("flags.{k}.elements is not an object"))?;
                f.flags.insert(k.clone(), elems.keys().cloned().collect());
            }
        }
        if let Some(attrs) = section("attributes") {
            for (k, v) in attrs {
                let elems = v
                    .get("elements")
                    .and_then(|e| e.as_object())
                    .ok_or_else(|| format!("attributes.{k}.elements is not an object"))?;
                let m = elems
                    .iter()
                    .map(|(n, x)| {
                        (
                            n.clone(),
                            x.as_str().map_or_else(|| x.to_string(), str::to_owned),
                        )
                    })
                    .collect();
                f.attributes.insert(k.clone(), m);
            }
        }
        if let Some(inst) = section("instances") {
            for (k, v) in inst {
                let elems = v
                    .get("elements")
                    .and_then(|e| e.as_array())
                    .ok_or_else(|| format!("instances.{k}.elements is not an array"))?;
                let list = elems
                    .iter()
                    .map(|e| {
                        e.get("attributes")
                            .and_then(|a| a.as_object())
                            .map(|a| {
                                a.iter()
                                    .map(|(n, x)| {
                                        (
                                            n.clone(),
                                            x.as_str().map_or_else(|| x.to_string(), str::to_owned),
                                        )
                                    })
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect();
                f.instances.insert(k.clone(), list);
            }
        }
        let platform = obj
            .get("platform")
            .and_then(|p| p.as_str())
            .map(str::to_owned);
        Ok((f, platform))
    }

    /// Sets attribute `name` of `feature` to `value`.
    pub fn attr(&mut self, feature: &str, name: &str, value: &str) {
        self.attributes
            .entry(feature.to_owned())
            .or_default()
            .insert(name.to_owned(), value.to_owned());
    }

    /// Whether some PCI device has this vendor id (e.g. `10de` for NVIDIA).
    pub fn has_pci_vendor(&self, vendor: &str) -> bool {
        self.instances.get("pci.device").is_some_and(|d| {
            d.iter()
                .any(|a| a.get("vendor").is_some_and(|v| v == vendor))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Facts {
        Facts::detect(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../testdata/hosts")
                .join(name),
        )
    }

    /// A real x86-64 server with an NVIDIA H200 (captured by
    /// scripts/capture-host-fixture.sh).
    #[test]
    fn h200_server() {
        let f = fixture("h200-xeon-nvidia");
        let cpu = &f.flags["cpu.cpuid"];
        for flag in ["AVX2", "AVX512F", "FMA", "MOVBE"] {
            assert!(cpu.contains(flag), "{flag}");
        }
        assert_eq!(f.attributes["cpu.x86_64"]["level"], "4");
        assert_eq!(f.attributes["cpu.model"]["vendor_id"], "Intel");
        assert_eq!(f.attributes["cpu.model"]["family"], "6");
        assert_eq!(f.attributes["cpu.model"]["id"], "207");
        let k = &f.attributes["kernel.version"];
        assert_eq!(
            (
                k["major"].as_str(),
                k["minor"].as_str(),
                k["revision"].as_str()
            ),
            ("6", "18", "44")
        );
        assert_eq!(k["full"], "6.18.44-fc-v657-gpu");
        let os = &f.attributes["system.osrelease"];
        assert_eq!(
            (
                os["ID"].as_str(),
                os["VERSION_ID"].as_str(),
                os["VERSION_ID.major"].as_str()
            ),
            ("ubuntu", "24.04", "24")
        );
        assert_eq!(
            f.attributes["memory.total"]["bytes"],
            (131_981_020u64 * 1024).to_string()
        );
        let nv = &f.attributes["nvidia.driver"];
        assert_eq!(
            (nv["version"].as_str(), nv["major"].as_str()),
            ("580.159.04", "580")
        );
        assert!(f.has_pci_vendor("10de"));
        let gpu = f.instances["pci.device"]
            .iter()
            .find(|d| d["vendor"] == "10de")
            .unwrap();
        assert_eq!(
            (gpu["device"].as_str(), gpu["class"].as_str()),
            ("2335", "0302")
        );
        assert_eq!(f.instances["pci.device"].len(), 7);
    }

    #[test]
    fn flatten_and_nfd_json() {
        let f = fixture("h200-xeon-nvidia");
        let flat = f.flatten();
        assert!(flat["cpu.cpuid"].contains("AVX512F"));
        assert!(flat["pci.device.vendor"].contains("10de"));
        assert!(flat["pci.device.vendor"].contains("1af4"));
        assert_eq!(flat["nvidia.driver.major"].iter().next().unwrap(), "580");
        // NFD's own layout, as `nfd export features` prints it.
        let nfd = serde_json::json!({
            "flags": {"cpu.cpuid": {"elements": {"AVX2": {}, "FMA3": {}}}},
            "attributes": {"kernel.version": {"elements": {"major": "6", "full": "6.8.0"}}},
            "instances": {"pci.device": {"elements": [{"attributes": {"vendor": "10de", "class": "0302"}}]}}
        });
        let (g, platform) = Facts::from_nfd_json(&nfd).unwrap();
        // And what to_nfd_json writes reads back the same.
        assert_eq!(Facts::from_nfd_json(&f.to_nfd_json()).unwrap().0, f);
        assert_eq!(platform, None);
        let flat = g.flatten();
        assert!(flat["cpu.cpuid"].contains("FMA3"));
        assert!(flat["kernel.version.full"].contains("6.8.0"));
        assert!(flat["pci.device.class"].contains("0302"));
        assert!(Facts::from_nfd_json(&serde_json::json!([1])).is_err());
        assert!(
            Facts::from_nfd_json(&serde_json::json!({"flags": {"x": {"elements": 3}}})).is_err()
        );
    }

    #[test]
    fn empty_root_has_no_facts() {
        let dir = std::env::temp_dir().join("ocipick-host-empty-root-test");
        let _ = std::fs::create_dir_all(&dir);
        assert_eq!(Facts::detect(&dir), Facts::default());
    }

    /// Old 32-bit ARM kernels print the per-CPU blocks first and the CPU's
    /// features after them.
    #[test]
    fn loaded_modules_are_nfd_flags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::write(
            dir.path().join("proc/modules"),
            "vfio_pci 16384 0 - Live 0x0000000000000000\nnvidia 54001664 1 nvidia_uvm, Live 0x0\n",
        )
        .unwrap();
        let f = Facts::detect(dir.path());
        let mods = &f.flags["kernel.loadedmodule"];
        assert!(mods.contains("vfio_pci") && mods.contains("nvidia"));
        assert_eq!(mods.len(), 2);
        assert_eq!(
            f.nfd_features().flags["kernel.loadedmodule"],
            f.flags["kernel.loadedmodule"]
        );
    }

    #[test]
    fn nfd_features_spell_cpuid_flags_as_nfd() {
        let f = fixture("h200-xeon-nvidia");
        assert!(f.flags["cpu.cpuid"].contains("FMA"));
        let cpuid = &f.nfd_features().flags["cpu.cpuid"];
        for name in ["FMA", "FMA3", "SSE4", "SSE42", "SSE3", "AVX2"] {
            assert!(cpuid.contains(name), "{name}");
        }
    }

    #[test]
    fn old_arm_kernel_layout() {
        let f = cpuinfo_fields("Processor\t: ARMv7 Processor rev 0 (v7l)\nprocessor\t: 0\nBogoMIPS\t: 1.0\n\nprocessor\t: 1\nBogoMIPS\t: 1.0\n\nFeatures\t: swp half thumb neon\nCPU implementer\t: 0x41\nCPU architecture: 7\n");
        assert_eq!(f["Features"], "swp half thumb neon");
        assert_eq!(f["CPU implementer"], "0x41");
        assert_eq!(f["processor"], "0", "the first occurrence wins");
    }

    #[test]
    fn version_parsing() {
        let k = kernel_version("6.1.0-18-amd64\n");
        assert_eq!(
            (
                k["major"].as_str(),
                k["minor"].as_str(),
                k["revision"].as_str()
            ),
            ("6", "1", "0")
        );
        let k = kernel_version("5.15");
        assert!(!k.contains_key("revision"));
        let os = os_release("ID=debian\nVERSION_ID=\"12\"\nNAME=x\n");
        assert_eq!(
            (os["ID"].as_str(), os["VERSION_ID.major"].as_str()),
            ("debian", "12")
        );
        assert!(!os.contains_key("VERSION_ID.minor"));
    }

    /// On the real machine, what can be known: the kernel version parses.
    #[test]
    fn real_machine() {
        let f = Facts::detect(Path::new("/"));
        #[cfg(target_os = "linux")]
        assert!(f.attributes["kernel.version"]["major"]
            .parse::<u32>()
            .is_ok());
        #[cfg(target_arch = "x86_64")]
        assert!(f.attributes["cpu.x86_64"]["level"].parse::<u8>().unwrap() >= 1);
    }
}
