//! Host detection on real ARM machines: fixture trees whose files were
//! copied verbatim from public captures (see each fixture's SOURCE.md).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ocipick_host::{arm_variant, Facts};

fn root(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/hosts")
        .join(name)
}

fn cpuinfo(name: &str) -> String {
    std::fs::read_to_string(root(name).join("proc/cpuinfo")).unwrap()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// A Raspberry Pi 4 (Cortex-A72) on an arm64 kernel, with 64-bit Raspberry Pi OS.
#[test]
fn rpi4_arm64() {
    let name = "rpi4-arm64";
    assert_eq!(arm_variant(&cpuinfo(name)).as_deref(), Some("v8"));

    let f = Facts::detect(&root(name));
    assert_eq!(
        f.flags["cpu.cpuid"],
        set(&["FP", "ASIMD", "EVTSTRM", "CRC32", "CPUID"])
    );
    let m = &f.attributes["cpu.model"];
    assert_eq!(m["vendor_id"], "0x41");
    assert_eq!(m["family"], "8");
    assert_eq!(m["id"], "0xd08");
    // Not an x86 machine: no psABI level.
    assert!(!f.attributes.contains_key("cpu.x86_64"));

    let os = &f.attributes["system.osrelease"];
    assert_eq!(os["ID"], "debian");
    assert_eq!(os["VERSION_ID"], "11");
    assert_eq!(os["VERSION_ID.major"], "11");
    assert!(!os.contains_key("VERSION_ID.minor"));

    // The fixture has no osrelease, meminfo or PCI tree.
    assert!(!f.attributes.contains_key("kernel.version"));
    assert!(!f.attributes.contains_key("memory.total"));
    assert!(!f.instances.contains_key("pci.device"));
}

/// A Xilinx Zynq-7000 board (2× Cortex-A9) on a 32-bit ARMv7 kernel.
#[test]
fn zynq7000_armv7() {
    let name = "zynq7000-armv7";
    assert_eq!(arm_variant(&cpuinfo(name)).as_deref(), Some("v7"));

    let f = Facts::detect(&root(name));
    // The Features line ends in a space; that must not make an empty flag.
    assert_eq!(
        f.flags["cpu.cpuid"],
        set(&["HALF", "THUMB", "FASTMULT", "VFP", "EDSP", "NEON", "VFPV3", "TLS", "VFPD32",])
    );
    let m = &f.attributes["cpu.model"];
    assert_eq!(m["vendor_id"], "0x41");
    assert_eq!(m["family"], "7");
    assert_eq!(m["id"], "0xc09");
    assert!(!f.attributes.contains_key("cpu.x86_64"));

    let k = &f.attributes["kernel.version"];
    assert_eq!(
        (
            k["major"].as_str(),
            k["minor"].as_str(),
            k["revision"].as_str()
        ),
        ("4", "4", "0")
    );
    assert_eq!(k["full"], "4.4.0-xilinx-00015-g51dd611");

    assert_eq!(
        f.attributes["memory.total"]["bytes"],
        (252_308u64 * 1024).to_string()
    );

    // Buildroot-style firmware: no os-release in the capture.
    assert!(!f.attributes.contains_key("system.osrelease"));
}
