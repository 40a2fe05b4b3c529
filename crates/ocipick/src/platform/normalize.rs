//! containerd-compatible normalization of OS, architecture and variant.
//!
//! Normalization makes spellings that mean the same platform compare equal:
//! `x86_64` and `amd64`, `aarch64/v8` and `arm64`, `armhf` and `arm/v7`.
//! It allocates only when a value actually changes.

use std::borrow::Cow;

use super::Platform;

fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Normalizes an operating system name: lower-cased, and `macos` is
/// `darwin`.
///
/// Unlike containerd, an empty OS stays empty (containerd substitutes the
/// OS of the machine running it, which would make a pure function depend on
/// where it runs); an empty OS never matches a target.
///
/// ```
/// use ocipick::platform::normalize::normalize_os;
/// assert_eq!(normalize_os("Linux"), "linux");
/// assert_eq!(normalize_os("macOS"), "darwin");
/// ```
pub fn normalize_os(os: &str) -> Cow<'_, str> {
    let os = lower(os);
    if os == "macos" {
        Cow::Borrowed("darwin")
    } else {
        os
    }
}

/// The architecture names [`normalize_arch`] turns into another name, with
/// that name. Keep in step with `normalize_arch`'s arms (the
/// `aliases_agree_with_normalize_arch` test checks both ways).
const ARCH_ALIASES: [(&str, &str); 6] = [
    ("i386", "386"),
    ("x86_64", "amd64"),
    ("x86-64", "amd64"),
    ("aarch64", "arm64"),
    ("armhf", "arm"),
    ("armel", "arm"),
];

/// Every spelling (lower case) of an architecture that normalizes to the
/// name `normal`: the name itself and its aliases. An entry's architecture
/// normalizes to `normal` only if it equals one of these, ignoring ASCII
/// case, which lets a matcher reject other architectures without
/// normalizing them.
///
/// ```
/// use ocipick::platform::normalize::arch_spellings;
/// assert_eq!(arch_spellings("amd64").collect::<Vec<_>>(), ["amd64", "x86_64", "x86-64"]);
/// ```
pub fn arch_spellings(normal: &str) -> impl Iterator<Item = &str> {
    std::iter::once(normal).chain(
        ARCH_ALIASES
            .iter()
            .filter(move |(_, n)| *n == normal)
            .map(|(a, _)| *a),
    )
}

/// Normalizes an architecture and variant pair, as containerd does:
///
/// - both are lower-cased;
/// - `i386` is `386` (any variant is dropped);
/// - `x86_64`, `x86-64` and `amd64` are `amd64`, and variant `v1` (the
///   baseline) is the same as no variant;
/// - `aarch64` and `arm64` are `arm64`; variants `8`, `v8` and `v8.0` are
///   the baseline (no variant), `9`, `9.0` and `v9.0` are `v9`;
/// - `armhf` is `arm/v7` and `armel` is `arm/v6`;
/// - `arm` without a variant is `arm/v7`, and the bare numbers `5`, `6`,
///   `7`, `8` gain their `v`.
///
/// Other values are only lower-cased: unknown variants such as `armv7` stay
/// as they are and so match only themselves.
///
/// ```
/// use ocipick::platform::normalize::normalize_arch;
/// assert_eq!(normalize_arch("x86_64", "v1"), ("amd64".into(), "".into()));
/// assert_eq!(normalize_arch("aarch64", "v8"), ("arm64".into(), "".into()));
/// assert_eq!(normalize_arch("armhf", ""), ("arm".into(), "v7".into()));
/// ```
pub fn normalize_arch<'a>(arch: &'a str, variant: &'a str) -> (Cow<'a, str>, Cow<'a, str>) {
    let arch = lower(arch);
    let variant = lower(variant);
    match &*arch {
        "i386" => (Cow::Borrowed("386"), Cow::Borrowed("")),
        "x86_64" | "x86-64" | "amd64" => {
            let v = if variant == "v1" {
                Cow::Borrowed("")
            } else {
                variant
            };
            (Cow::Borrowed("amd64"), v)
        }
        "aarch64" | "arm64" => {
            let v = match &*variant {
                "8" | "v8" | "v8.0" => Cow::Borrowed(""),
                "9" | "9.0" | "v9.0" => Cow::Borrowed("v9"),
                _ => variant,
            };
            (Cow::Borrowed("arm64"), v)
        }
        "armhf" => (Cow::Borrowed("arm"), Cow::Borrowed("v7")),
        "armel" => (Cow::Borrowed("arm"), Cow::Borrowed("v6")),
        "arm" => {
            let v = match &*variant {
                "" | "7" => Cow::Borrowed("v7"),
                "5" => Cow::Borrowed("v5"),
                "6" => Cow::Borrowed("v6"),
                "8" => Cow::Borrowed("v8"),
                _ => variant,
            };
            (Cow::Borrowed("arm"), v)
        }
        _ => (arch, variant),
    }
}

/// The normalized form of a whole platform: OS and architecture/variant as
/// above; `os.version`, `os.features` and `features` are kept unchanged.
pub fn normalize(p: &Platform<'_>) -> Platform<'static> {
    let (arch, variant) = normalize_arch(&p.architecture, p.variant_str());
    Platform {
        architecture: Cow::Owned(arch.into_owned()),
        os: Cow::Owned(normalize_os(&p.os).into_owned()),
        os_version: p.os_version.as_ref().map(|v| Cow::Owned(v.to_string())),
        os_features: p
            .os_features
            .iter()
            .map(|v| Cow::Owned(v.to_string()))
            .collect(),
        variant: (!variant.is_empty()).then(|| Cow::Owned(variant.into_owned())),
        features: p
            .features
            .iter()
            .map(|v| Cow::Owned(v.to_string()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `arch_spellings` lists exactly the names that normalize to each
    /// name: every alias normalizes to its name (in any case), and every
    /// spelling below that normalizes to a name is one of its spellings.
    #[test]
    fn aliases_agree_with_normalize_arch() {
        for (alias, normal) in ARCH_ALIASES {
            for a in [alias.to_string(), alias.to_uppercase()] {
                assert_eq!(normalize_arch(&a, "").0, normal, "{a}");
            }
        }
        let names = [
            "386",
            "i386",
            "I386",
            "i486",
            "i686",
            "x86",
            "amd64",
            "AMD64",
            "x86_64",
            "X86_64",
            "x86-64",
            "x64",
            "amd64p32",
            "arm64",
            "ARM64",
            "aarch64",
            "AArch64",
            "arm64be",
            "aarch64_be",
            "arm",
            "ARM",
            "armhf",
            "armel",
            "armv7",
            "armv7l",
            "armv6l",
            "armbe",
            "ppc64le",
            "ppc64",
            "s390x",
            "riscv64",
            "mips64le",
            "mips",
            "loong64",
            "wasm",
            "unknown",
            "",
            "Amd64",
            "x86_64 ",
        ];
        for raw in names {
            for variant in ["", "v1", "v7", "v8", "8"] {
                let (n, _) = normalize_arch(raw, variant);
                assert!(
                    arch_spellings(&n).any(|s| s.eq_ignore_ascii_case(raw)),
                    "{raw}/{variant} normalizes to {n}, which arch_spellings does not list"
                );
            }
        }
    }

    /// Rows: (architecture, variant) as written → (architecture, variant) normalized.
    #[test]
    fn arch_table() {
        let rows = [
            (("x86_64", ""), ("amd64", "")),
            (("x86-64", ""), ("amd64", "")),
            (("AMD64", ""), ("amd64", "")),
            (("amd64", "v1"), ("amd64", "")),
            (("amd64", "v2"), ("amd64", "v2")),
            (("amd64", "V3"), ("amd64", "v3")),
            (("i386", ""), ("386", "")),
            (("386", ""), ("386", "")),
            (("aarch64", ""), ("arm64", "")),
            (("arm64", "8"), ("arm64", "")),
            (("arm64", "v8"), ("arm64", "")),
            (("arm64", "v8.0"), ("arm64", "")),
            (("arm64", "v8.2"), ("arm64", "v8.2")),
            (("arm64", "9"), ("arm64", "v9")),
            (("arm64", "9.0"), ("arm64", "v9")),
            (("arm64", "v9.0"), ("arm64", "v9")),
            (("arm64", "v9.3"), ("arm64", "v9.3")),
            (("armhf", ""), ("arm", "v7")),
            (("armel", ""), ("arm", "v6")),
            (("arm", ""), ("arm", "v7")),
            (("arm", "5"), ("arm", "v5")),
            (("arm", "6"), ("arm", "v6")),
            (("arm", "7"), ("arm", "v7")),
            (("arm", "8"), ("arm", "v8")),
            (("arm", "v6"), ("arm", "v6")),
            (("arm", "armv7"), ("arm", "armv7")),
            (("ppc64le", ""), ("ppc64le", "")),
            (("RISCV64", ""), ("riscv64", "")),
        ];
        for ((a, v), (wa, wv)) in rows {
            let (na, nv) = normalize_arch(a, v);
            assert_eq!((&*na, &*nv), (wa, wv), "normalize_arch({a:?}, {v:?})");
        }
    }

    #[test]
    fn os_table() {
        for (os, want) in [
            ("linux", "linux"),
            ("Linux", "linux"),
            ("WINDOWS", "windows"),
            ("macos", "darwin"),
            ("darwin", "darwin"),
            ("", ""),
        ] {
            assert_eq!(normalize_os(os), want, "{os:?}");
        }
    }
}
