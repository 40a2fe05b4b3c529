#!/usr/bin/env bash
# Build the `ocipick` binary as it is released: the release profile (fat
# LTO, one codegen unit, abort on panic) for this host's target triple and,
# where that triple is Linux with glibc, statically linked (a static PIE,
# `-C target-feature=+crt-static`). Why static: it starts about 1 ms faster
# (no dynamic loader, no shared libraries to map and relocate), which is a
# seventh of a whole `ocipick select` on a 3 MB index; see
# docs/decisions.md ("Released binaries are static") for the measurements
# and the one caveat (host names through NSS services other than `files`
# and `dns`).
#
# usage: scripts/build-release.sh
# env:   CARGO_TARGET_DIR  honoured
#
# The binary lands in TARGET_DIR/TRIPLE/release/ocipick, apart from the
# dynamically linked one of a plain `cargo build --release`
# (TARGET_DIR/release/ocipick). `--target` is given explicitly so that
# RUSTFLAGS apply to the binary only, not to build scripts and procedural
# macros (which cannot be static); those are shared with plain builds.
# Prints the binary's absolute path last.
set -euo pipefail

repo_root="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
cd "$repo_root"

host="$(rustc -vV | sed -n 's/^host: //p')"
if [[ -z "$host" ]]; then
  echo "build-release: cannot tell this host's target triple from 'rustc -vV'" >&2
  exit 1
fi

if [[ "$host" == *-linux-gnu* ]]; then
  export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static"
fi

cargo build --release --target "$host" -p ocipick-cli --bin ocipick >&2

target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
case "$target_dir" in
  /*) ;;
  *) target_dir="$repo_root/$target_dir" ;;
esac
echo "$target_dir/$host/release/ocipick"
