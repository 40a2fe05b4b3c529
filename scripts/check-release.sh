#!/usr/bin/env bash
# Check the released binary (scripts/build-release.sh) against the ordinary
# debug build that the tests exercise: it must be what build-release.sh says
# (on Linux with glibc: static, no program interpreter, no shared library)
# and must answer exactly as the tested binary does — same standard output,
# same standard error, same exit status — on every corpus document (valid
# and invalid) for several platforms, with `select`, `rank` and `lint`, on
# `host`, and on a registry reference whose host name is resolved and
# refused (the static C library resolves `localhost` itself).
#
# usage: scripts/check-release.sh
# env:   CARGO_TARGET_DIR honoured
set -euo pipefail

repo_root="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
cd "$repo_root"

released="$(scripts/build-release.sh | tail -n 1)"
# The tested binary is the one the test suite ran (built with the test
# targets' features); building it alone would build a second copy of the
# dependencies with other features.
cargo test -q --workspace --all-targets --no-run
target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
case "$target_dir" in
  /*) ;;
  *) target_dir="$repo_root/$target_dir" ;;
esac
tested="$target_dir/debug/ocipick"

fail=0
host="$(rustc -vV | sed -n 's/^host: //p')"
if [[ "$host" == *-linux-gnu* ]]; then
  if readelf -l "$released" | grep -q INTERP; then
    echo "check-release: $released has a program interpreter (not static)" >&2
    fail=1
  fi
  if readelf -d "$released" | grep -q NEEDED; then
    echo "check-release: $released needs shared libraries:" >&2
    readelf -d "$released" | grep NEEDED >&2
    fail=1
  fi
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Runs ARGS with both binaries; any difference is a failure.
compare() {
  local rc_r=0 rc_t=0
  "$released" "$@" >"$scratch/r.out" 2>"$scratch/r.err" || rc_r=$?
  "$tested" "$@" >"$scratch/t.out" 2>"$scratch/t.err" || rc_t=$?
  if [[ $rc_r != "$rc_t" ]] || ! cmp -s "$scratch/r.out" "$scratch/t.out" ||
    ! cmp -s "$scratch/r.err" "$scratch/t.err"; then
    echo "check-release: differs on: ocipick $* (exit $rc_r, tested $rc_t)" >&2
    diff "$scratch/t.out" "$scratch/r.out" >&2 || true
    diff "$scratch/t.err" "$scratch/r.err" >&2 || true
    fail=1
  fi
  runs=$((runs + 1))
}

runs=0
for doc in testdata/corpus/*.json testdata/corpus/invalid/*.json testdata/examples/*.json; do
  for platform in linux/amd64 linux/arm64 linux/arm/v7 windows/amd64; do
    compare select --no-config --output json -p "$platform" "$doc"
    compare rank --no-config -p "$platform" --prefer com.example.gpu:10 "$doc"
  done
  compare lint "$doc"
done
compare host --output json
compare select --no-config localhost:9/demo:latest

if ((fail)); then
  echo "check-release: the released binary differs from the tested one" >&2
  exit 1
fi
echo "check-release: $released ($host) answers as the tested binary in $runs runs"
