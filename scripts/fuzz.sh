#!/usr/bin/env bash
# Runs one cargo-fuzz target for a while, seeding its corpus from testdata/.
#
#   scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags…]
#
# Targets: index_select lint platform_selector config prefer layout
# layout_archive mirror_request registry_response pci_ids reference
# index_edit mirror_state inventory admission_review signature sigstore_bundle
# nfd_compat nfd_author auth_file
# (see fuzz/fuzz_targets/). Only a stable toolchain is
# needed: RUSTC_BOOTSTRAP=1 lets it accept the nightly flags cargo-fuzz
# passes. Set FUZZ_SANITIZER=none to build without AddressSanitizer.
# Crashes land in fuzz/artifacts/TARGET/; copy them to
# testdata/fuzz-regressions/TARGET/ and they become regression tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags]}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags]}
shift 2
sanitizer=${FUZZ_SANITIZER:-address}

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
corpus=fuzz/corpus/$target
mkdir -p "$corpus"
python3 scripts/fuzz-seeds.py "$target" "$corpus"
# Earlier crash inputs are seeds too.
if [ -d "testdata/fuzz-regressions/$target" ]; then
  cp -n testdata/fuzz-regressions/"$target"/* "$corpus"/ 2>/dev/null || true
fi

cd fuzz
RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer "$sanitizer" "$target" "corpus/$target" -- \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
  -print_final_stats=1 "$@"
