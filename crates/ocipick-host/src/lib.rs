//! What this machine is, for ocipick: its OS, architecture and CPU variant.
//!
//! - The OS and architecture are the compile target's, spelled as Go
//!   (and so OCI) spells them: `x86_64` is `amd64`, `aarch64` is `arm64`.
//! - On x86-64 the variant is the microarchitecture level (`v1`…`v4`) of the
//!   x86-64 psABI, from the CPU's feature flags ([`x86_64_level`]).
//! - On 32-bit ARM the variant comes from `/proc/cpuinfo`, as containerd
//!   reads it ([`arm_variant`]); on arm64 it is the baseline `v8`.
//!
//! PCI devices are named from the system's PCI ID database when one is
//! installed ([`PciIds`]); facts keep the numeric IDs.
//!
//! Other nodes, as a cluster describes them: [`inventory`] reads facts
//! files, `kubectl get nodes -o json` (node-feature-discovery labels as
//! facts) and `kubectl get pods -A -o json`.
//!
//! Detection reads files only through the `root` given, so tests can point
//! it at fixture trees. For a root other than `/` (a fixture, another
//! node's captured files) the architecture is that tree's, not this
//! program's ([`platform`]).
//!
//! [`hooks`] runs the configured selection hooks (programs that adjust or
//! veto candidates) with this host's facts: what `ocipick select` and the
//! node-local mirror both call before selecting.
//!
//! [`admission`] is the engine of a Kubernetes validating admission webhook
//! (AdmissionReview v1 in, a verdict with reasons out): it judges a pod's
//! images against the [`inventory`] nodes its `nodeSelector` admits, with
//! [`ocipick::fleet`]; the HTTPS server around it is the example
//! `crates/ocipick-mirror/examples/admission_webhook.rs` (docs/webhook.md).
//!
//! ```
//! use std::path::Path;
//!
//! // This machine's platform, as an index entry would name it.
//! let here = ocipick_host::platform(Path::new("/"));
//! assert_eq!(here.os, ocipick_host::os());
//! assert_eq!(here.architecture, ocipick_host::arch());
//!
//! // Its facts (CPU flags, PCI devices, kernel…), as configuration rules
//! // see them: each fact's name with its values.
//! let facts = ocipick_host::Facts::detect(Path::new("/"));
//! for (name, values) in facts.flatten().iter().take(3) {
//!     println!("{name} = {values:?}");
//! }
//! ```

use std::path::Path;

pub mod admission;
mod facts;
pub mod hooks;
pub mod inventory;
mod pci;

pub use facts::Facts;
pub use pci::{PciIds, MAX_PCI_IDS_BYTES, MAX_PCI_IDS_LINE, PCI_IDS_PATHS};

use ocipick::Platform;

/// The OCI (Go) name of the architecture this program was compiled for.
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        "mips64" => "mips64",
        "mips" if cfg!(target_endian = "little") => "mipsle",
        "mips" => "mips",
        "sparc64" => "sparc64",
        "wasm32" => "wasm",
        other => other,
    }
}

/// The OCI (Go) name of the OS this program was compiled for.
pub fn os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// The x86-64 psABI feature sets, one per level above the baseline, with
/// flag names as Linux's `/proc/cpuinfo` spells them.
pub const X86_64_LEVELS: [(&str, &[&str]); 3] = [
    (
        "v2",
        &[
            "cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3",
        ],
    ),
    (
        "v3",
        &[
            // The psABI names OSXSAVE; Linux never lists that software flag
            // in /proc/cpuinfo and shows `xsave` when the OS enabled it.
            "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave",
        ],
    ),
    (
        "v4",
        &["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"],
    ),
];

/// The x86-64 microarchitecture level (1–4) that a set of CPU flags
/// reaches: each level needs all of its own flags and those of every level
/// below it. `has` answers whether a flag (cpuinfo spelling) is present.
///
/// ```
/// let flags = ["cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"];
/// assert_eq!(ocipick_host::x86_64_level(|f| flags.contains(&f)), 2);
/// assert_eq!(ocipick_host::x86_64_level(|_| false), 1);
/// ```
pub fn x86_64_level(has: impl Fn(&str) -> bool) -> u8 {
    let mut level = 1;
    for (_, flags) in X86_64_LEVELS {
        if flags.iter().all(|f| has(f)) {
            level += 1;
        } else {
            break;
        }
    }
    level
}

/// The x86-64 level of the CPU running this program, from CPUID (with the
/// OS's support for AVX state, as the standard library checks it).
#[cfg(target_arch = "x86_64")]
pub fn this_x86_64_level() -> u8 {
    use std::arch::is_x86_feature_detected as has;
    // LAHF/SAHF in 64-bit mode: CPUID 0x8000_0001, ECX bit 0; LZCNT ("abm"): bit 5.
    // CPUID is always available on x86-64 (safe since Rust 1.87).
    let ext = std::arch::x86_64::__cpuid(0x8000_0000);
    let ecx81 = if ext.eax >= 0x8000_0001 {
        std::arch::x86_64::__cpuid(0x8000_0001).ecx
    } else {
        0
    };
    x86_64_level(|f| match f {
        "cx16" => has!("cmpxchg16b"),
        "lahf_lm" => ecx81 & 1 != 0,
        "popcnt" => has!("popcnt"),
        "pni" => has!("sse3"),
        "sse4_1" => has!("sse4.1"),
        "sse4_2" => has!("sse4.2"),
        "ssse3" => has!("ssse3"),
        "avx" => has!("avx"),
        "avx2" => has!("avx2"),
        "bmi1" => has!("bmi1"),
        "bmi2" => has!("bmi2"),
        "f16c" => has!("f16c"),
        "fma" => has!("fma"),
        "abm" => has!("lzcnt"),
        "movbe" => has!("movbe"),
        "xsave" => has!("xsave") && has!("avx"),
        "avx512f" => has!("avx512f"),
        "avx512bw" => has!("avx512bw"),
        "avx512cd" => has!("avx512cd"),
        "avx512dq" => has!("avx512dq"),
        "avx512vl" => has!("avx512vl"),
        _ => false,
    })
}

/// The ARM variant (`v5`…`v8`) described by the text of `/proc/cpuinfo`, as
/// containerd reads it: the `CPU architecture` field; `AArch64` or `8` is
/// `v8`; `7` (or `7M`) is `v7`, except that a CPU whose model name (or, on
/// old kernels, `Processor` line) says ARMv6 (early Raspberry Pi kernels
/// report 7) is `v6`; `6` is `v6`; `5`, `5T`, `5TE`
/// and `5TEJ` are `v5`. `None` when the field is missing or unknown.
///
/// ```
/// let pi_zero = "model name\t: ARMv6-compatible processor rev 7 (v6l)\nCPU architecture: 7\n";
/// assert_eq!(ocipick_host::arm_variant(pi_zero).as_deref(), Some("v6"));
/// assert_eq!(ocipick_host::arm_variant("CPU architecture: 8\n").as_deref(), Some("v8"));
/// ```
pub fn arm_variant(cpuinfo: &str) -> Option<String> {
    let field = |name: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_owned())
        })
    };
    let arch = field("CPU architecture")?;
    let v = match arch.as_str() {
        "AArch64" | "aarch64" | "8" => "v8",
        "7" | "7M" => {
            // Old kernels name the CPU in `Processor`, not `model name`
            // (matched case-sensitively: `processor : 0` is the CPU number).
            let processor = cpuinfo.lines().find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.trim() == "Processor")
                    .map(|(_, v)| v.trim().to_owned())
            });
            let model = field("model name")
                .or(processor)
                .unwrap_or_default()
                .to_ascii_lowercase();
            if model.contains("armv6") {
                "v6"
            } else {
                "v7"
            }
        }
        "6" | "6TEJ" => "v6",
        "5" | "5T" | "5TE" | "5TEJ" => "v5",
        _ => return None,
    };
    Some(v.to_owned())
}

/// The OCI (Go) name of the architecture a Linux kernel reports as its
/// machine (`uname -m`): `x86_64` is `amd64`, `i386`…`i686` are `386`,
/// `aarch64` (or `arm64`, as some systems spell it) is `arm64`, any
/// `armv…` is `arm`, and so on. `None` for a name it does not know.
///
/// ```
/// assert_eq!(ocipick_host::machine_arch("aarch64"), Some("arm64"));
/// assert_eq!(ocipick_host::machine_arch("armv7l"), Some("arm"));
/// assert_eq!(ocipick_host::machine_arch("vax"), None);
/// ```
pub fn machine_arch(machine: &str) -> Option<&'static str> {
    Some(match machine.trim() {
        "x86_64" | "amd64" => "amd64",
        "i386" | "i486" | "i586" | "i686" => "386",
        "aarch64" | "arm64" | "aarch64_be" => "arm64",
        m if m.starts_with("armv") => "arm",
        "ppc64le" => "ppc64le",
        "ppc64" => "ppc64",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        "mips64" => "mips64",
        "mips" => "mips",
        _ => return None,
    })
}

/// The OCI (Go) name of the architecture a `/proc/cpuinfo` text describes,
/// by the fields each kernel prints:
/// - x86 kernels list `flags`; with `lm` (long mode) among them the CPU
///   runs 64-bit code, `amd64`, otherwise `386`;
/// - ARM kernels print `CPU architecture`; an arm64 kernel lists AArch64
///   hardware capabilities in `Features` (`fp`, `asimd`), a 32-bit kernel
///   (or a 32-bit process on an arm64 kernel) 32-bit ones (`half`,
///   `thumb`, `vfp`, `neon`), so `arm64` or `arm`;
/// - s390x kernels name the vendor `IBM/S390`; RISC-V kernels give the
///   `isa` as `rv64…`.
///
/// `None` where the text does not say (POWER's `cpuinfo`, for one, does
/// not tell the byte order).
///
/// ```
/// let pi4 = "processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU architecture: 8\n";
/// assert_eq!(ocipick_host::cpuinfo_arch(pi4), Some("arm64"));
/// ```
pub fn cpuinfo_arch(cpuinfo: &str) -> Option<&'static str> {
    let fields = facts::cpuinfo_fields(cpuinfo);
    let field = |name: &str| fields.get(name).map(String::as_str);
    let words = |name: &str| field(name).unwrap_or_default().split_whitespace();
    if field("flags").is_some() {
        return Some(if words("flags").any(|f| f == "lm") {
            "amd64"
        } else {
            "386"
        });
    }
    if field("CPU architecture").is_some() {
        let aarch64 = words("Features").any(|f| f == "fp" || f == "asimd");
        return Some(if aarch64 { "arm64" } else { "arm" });
    }
    if field("vendor_id") == Some("IBM/S390") {
        return Some("s390x");
    }
    if field("isa").is_some_and(|isa| isa.starts_with("rv64")) {
        return Some("riscv64");
    }
    None
}

/// The platform of the machine under `root`: `Path::new("/")` for this
/// one, whose architecture is this program's ([`arch`]) and, on x86-64,
/// whose level comes from CPUID; any other root for the machine whose
/// files are there, whose architecture is the tree's own (its `uname-m`
/// file, else its `/proc/cpuinfo`; this program's only when neither
/// tells) and whose variant comes from its `/proc/cpuinfo`.
///
/// ```
/// let p = ocipick_host::platform(std::path::Path::new("/"));
/// assert_eq!(p.architecture, ocipick_host::arch());
/// ```
pub fn platform(root: &Path) -> Platform<'static> {
    let this = root == Path::new("/");
    // Read once, and only where needed.
    let cpuinfo = std::cell::OnceCell::new();
    let cpuinfo = || {
        cpuinfo
            .get_or_init(|| std::fs::read_to_string(root.join("proc/cpuinfo")).ok())
            .as_deref()
    };
    let arch = if this {
        arch()
    } else {
        std::fs::read_to_string(root.join("uname-m"))
            .ok()
            .and_then(|m| machine_arch(&m))
            .or_else(|| cpuinfo().and_then(cpuinfo_arch))
            .unwrap_or_else(arch)
    };
    let variant = match arch {
        "amd64" => {
            // This CPU through CPUID; another root (a fixture, a node's
            // files) through the flags of its /proc/cpuinfo.
            #[cfg(target_arch = "x86_64")]
            let level = this.then(this_x86_64_level);
            #[cfg(not(target_arch = "x86_64"))]
            let level = None;
            let level = level
                .or_else(|| cpuinfo().and_then(facts::cpuinfo_x86_64_level))
                .unwrap_or(1);
            (level > 1).then(|| format!("v{level}"))
        }
        "arm" => cpuinfo().and_then(arm_variant),
        _ => None,
    };
    let mut p = Platform::new(os(), arch, None);
    p.variant = variant.map(Into::into);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `uname -m` names, as Linux kernels print them, to OCI names.
    #[test]
    fn machine_arch_table() {
        for (machine, want) in [
            ("x86_64", Some("amd64")),
            ("x86_64\n", Some("amd64")), // as `uname -m > file` writes it
            ("i686", Some("386")),
            ("i386", Some("386")),
            ("aarch64", Some("arm64")),
            ("arm64", Some("arm64")), // macOS and some BSDs
            ("armv7l", Some("arm")),
            ("armv6l", Some("arm")),
            ("armv5tel", Some("arm")),
            ("armv8l", Some("arm")), // a 32-bit personality on a 64-bit CPU
            ("ppc64le", Some("ppc64le")),
            ("s390x", Some("s390x")),
            ("riscv64", Some("riscv64")),
            ("loongarch64", Some("loong64")),
            ("", None),
            ("sparc", None),
        ] {
            assert_eq!(machine_arch(machine), want, "{machine:?}");
        }
    }

    /// `/proc/cpuinfo` texts (the telling lines of real ones) to OCI names.
    #[test]
    fn cpuinfo_arch_table() {
        for (what, text, want) in [
            (
                "x86-64: flags with long mode",
                "vendor_id\t: GenuineIntel\nflags\t\t: fpu vme lm sse2 avx2\n",
                Some("amd64"),
            ),
            (
                "32-bit x86: flags without long mode",
                "vendor_id\t: GenuineIntel\nflags\t\t: fpu vme pae sse2\n",
                Some("386"),
            ),
            (
                "arm64 kernel: AArch64 hardware capabilities",
                "Features\t: fp asimd evtstrm crc32 cpuid\nCPU architecture: 8\n",
                Some("arm64"),
            ),
            (
                "32-bit ARMv7 kernel: 32-bit capabilities",
                "model name\t: ARMv7 Processor rev 0 (v7l)\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpd32 \nCPU architecture: 7\n",
                Some("arm"),
            ),
            (
                "a 32-bit process on an arm64 kernel: 32-bit capabilities, architecture 8",
                "Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt lpae evtstrm crc32\nCPU architecture: 8\n",
                Some("arm"),
            ),
            (
                "s390x",
                "vendor_id       : IBM/S390\n# processors    : 2\n",
                Some("s390x"),
            ),
            (
                "RISC-V 64",
                "processor\t: 0\nhart\t\t: 0\nisa\t\t: rv64imafdc\n",
                Some("riscv64"),
            ),
            (
                "POWER: the byte order is not said",
                "processor\t: 0\ncpu\t\t: POWER9 (raw), altivec supported\n",
                None,
            ),
            ("empty", "", None),
        ] {
            assert_eq!(cpuinfo_arch(text), want, "{what}");
        }
    }

    /// A tree that says nothing of its architecture is taken to be this
    /// program's.
    #[test]
    fn a_silent_tree_is_this_programs_architecture() {
        let dir = std::env::temp_dir().join(format!("ocipick-host-silent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = platform(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(p.architecture, arch());
        assert_eq!(p.os, os());
    }

    #[test]
    fn level_table() {
        let v2: Vec<&str> = X86_64_LEVELS[0].1.to_vec();
        let v3: Vec<&str> = v2.iter().chain(X86_64_LEVELS[1].1).copied().collect();
        let v4: Vec<&str> = v3.iter().chain(X86_64_LEVELS[2].1).copied().collect();
        let mut v3_no_movbe = v3.clone();
        v3_no_movbe.retain(|f| *f != "movbe");
        // AVX-512 without the v2 set does not make a v4 CPU.
        let odd: Vec<&str> = X86_64_LEVELS[2].1.to_vec();
        let rows: [(&[&str], u8); 6] = [
            (&[], 1),
            (&v2, 2),
            (&v3, 3),
            (&v4, 4),
            (&v3_no_movbe, 2),
            (&odd, 1),
        ];
        for (flags, want) in rows {
            assert_eq!(x86_64_level(|f| flags.contains(&f)), want, "{flags:?}");
        }
    }

    #[test]
    fn arm_table() {
        let rows = [
            ("CPU architecture: 7\n", Some("v7")),
            (
                "Processor\t: AArch64 Processor rev 4 (aarch64)\nCPU architecture: AArch64\n",
                Some("v8"),
            ),
            ("CPU architecture: 8\n", Some("v8")),
            ("CPU architecture: 6\n", Some("v6")),
            ("CPU architecture: 5TEJ\n", Some("v5")),
            (
                "model name : ARMv6-compatible processor rev 7 (v6l)\nCPU architecture: 7\n",
                Some("v6"),
            ),
            ("processor : 0\n", None),
            ("CPU architecture: 9\n", None),
            ("CPU architecture: 7M\n", Some("v7")),
            // An old kernel: the model is in `Processor`, after the CPU blocks.
            ("Processor\t: ARMv6-compatible processor rev 7 (v6l)\nprocessor\t: 0\nBogoMIPS\t: 697.95\n\nFeatures\t: swp half thumb fastmult vfp edsp java tls\nCPU architecture: 7\n", Some("v6")),
        ];
        for (text, want) in rows {
            assert_eq!(arm_variant(text).as_deref(), want, "{text:?}");
        }
    }

    /// The flags of /proc/cpuinfo on a real machine (an H200 GPU server, a
    /// Xeon under a hypervisor, captured with scripts/capture-host-fixture.sh).
    fn fixture_flags(name: &str) -> Vec<String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/hosts")
            .join(name)
            .join("proc/cpuinfo");
        let text = std::fs::read_to_string(path).unwrap();
        let line = text.lines().find(|l| l.starts_with("flags")).unwrap();
        line.split_once(':')
            .unwrap()
            .1
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn level_of_a_real_avx512_server() {
        let flags = fixture_flags("h200-xeon-nvidia");
        assert!(
            !flags.iter().any(|f| f == "osxsave"),
            "Linux never lists osxsave"
        );
        assert_eq!(x86_64_level(|f| flags.iter().any(|g| g == f)), 4);
        let cpuinfo = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../testdata/hosts/h200-xeon-nvidia/proc/cpuinfo"),
        )
        .unwrap();
        assert_eq!(arm_variant(&cpuinfo), None);
    }

    /// On the real machine: the architecture is the compile target's, and
    /// on x86-64 the level is at least 1.
    #[test]
    fn real_machine_invariants() {
        let p = platform(Path::new("/"));
        assert_eq!(p.architecture, arch());
        assert_eq!(p.os, os());
        #[cfg(target_arch = "x86_64")]
        {
            let level = this_x86_64_level();
            assert!((1..=4).contains(&level));
            // SSE2 is part of the baseline, so every x86-64 CPU has it.
            assert!(std::arch::is_x86_feature_detected!("sse2"));
        }
    }
}
