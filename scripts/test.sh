#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs what the tests need on a
# fresh Debian machine (the containerd oracle's Go toolchain and sources,
# through scripts/build-oracle.sh), then runs every test of the workspace,
# with the containerd differential test required rather than skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Free disk space after each stage, on standard error: a full disk shows up
# as a linker killed by SIGBUS, and this says which stage filled it.
disk() {
  echo "test.sh: after $1: $(df -h --output=avail . | tail -n 1 | tr -d ' ') free here, $(du -sh target 2>/dev/null | cut -f1) in target/" >&2
}
disk "nothing yet"

oracle=$(scripts/build-oracle.sh | tail -n 1)
export OCIPICK_ORACLE="$oracle"
export OCIPICK_REQUIRE_ORACLE=1

# Headless Chromium renders check's HTML report (tests/check_registry.rs).
if ! command -v chromium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi
export OCIPICK_REQUIRE_CHROMIUM=1

# Real clients of the mirror (tests/serve.rs): skopeo, and containerd with
# ctr, which CI (root) runs for real rather than skipping.
missing=()
command -v skopeo >/dev/null || missing+=(skopeo)
command -v containerd >/dev/null || missing+=(containerd)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
export OCIPICK_REQUIRE_CONTAINERD=1

# strace watches annotate's atomic write (tests/annotate_durable.rs): the
# order link, fsync(file), rename, fsync(dir), and injected fsync failures.
if ! command -v strace >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends strace
fi
export OCIPICK_REQUIRE_STRACE=1

# The openssl command line signs and verifies the cosign-style signatures of
# tests/signatures.rs, as an implementation independent of ocipick.
if ! command -v openssl >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl
fi

# The PCI ID database `ocipick host` names devices from (tested against the
# system's copy as well as a fixture).
if [ ! -f /usr/share/misc/pci.ids ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pci.ids
fi
export OCIPICK_REQUIRE_PCI_IDS=1

# The real-runtime matrix of the mirror (tests/runtime_matrix.rs):
# containerd, Podman and Docker (Debian's) pull through `ocipick serve`
# and run busybox containers; CI (root) runs them rather than skipping.
scripts/runtimes.sh install
export OCIPICK_REQUIRE_RUNTIMES=1

cargo test --workspace --all-targets
cargo test --workspace --doc
disk "the tests"

# The released binary (static on Linux with glibc) answers as the tested one.
scripts/check-release.sh
disk "the release build"

# A fresh clone, with no shared/ folder beside it, runs the README's first
# command and builds the oracle from its own source.
scripts/check-clean-clone.sh
disk "the clean clone"
