#!/usr/bin/env bash
# A fresh clone works on its own: clones this repository's committed HEAD
# into an empty temporary folder (no folder of common material beside it,
# as CI has), then there
#   - checks that nothing under scripts/, bench/, crates/, fuzz/ or .ci/
#     refers to that folder beside the checkout,
#   - runs the README's first command (the main job on the bundled example)
#     and checks that it succeeds and prints what the same command prints in
#     this checkout,
#   - builds the containerd oracle from the clone's own source and asks it
#     one question.
# The README's second command must be scripts/test.sh, the command that runs
# this one. Run by scripts/test.sh; about a minute (one debug build).
#
# usage: scripts/check-clean-clone.sh
set -euo pipefail
repo_root=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
name=check-clean-clone
fail() { echo "$name: $*" >&2; exit 1; }

# The README's two set-up commands: the first fenced sh block.
mapfile -t commands < <(awk '/^```sh$/ {inside = 1; next} inside && /^```/ {exit} inside' "$repo_root/README.md")
((${#commands[@]} == 2)) || fail "README.md's first sh block has ${#commands[@]} lines, not 2"
[[ ${commands[1]} == scripts/test.sh ]] || fail "README.md's second command is '${commands[1]}', not scripts/test.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ocipick-clean-clone.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
git clone --quiet --no-local "$repo_root" "$tmp/ocipick"
clone=$tmp/ocipick
# The folder's name, spelled in two pieces so that this file, which looks
# for it, does not itself match.
beside=sha
beside+=red
[[ ! -e $tmp/$beside ]] || fail "$tmp/$beside exists"

pattern="\\.\\./$beside|OCIPICK_${beside^^}|$beside/(peers|corpus|seed|hooks)"
if readers=$(grep -rlE "$pattern" \
  "$clone/scripts" "$clone/bench" "$clone/crates" "$clone/fuzz" "$clone/.ci" 2>/dev/null); then
  fail "these files still refer to the folder beside the checkout: ${readers//$clone\//}"
fi

echo "$name: running the README's first command in $clone" >&2
expected=$(cd "$repo_root" && bash -c "${commands[0]}")
got=$(cd "$clone" && CARGO_TARGET_DIR="$repo_root/target/clean-clone" bash -c "${commands[0]}") ||
  fail "the README's first command failed in the clean clone: ${commands[0]}"
[[ -n $got ]] || fail "the README's first command printed nothing"
if [[ $got != "$expected" ]]; then
  diff <(echo "$expected") <(echo "$got") >&2 || true
  fail "the clean clone's answer differs from this checkout's"
fi

echo "$name: building the containerd oracle from the clone" >&2
oracle=$(cd "$clone" && GOCACHE="$repo_root/target/go-build-cache" scripts/build-oracle.sh "$tmp/containerd-oracle" | tail -n 1)
answer=$("$oracle" "$clone/testdata/corpus/image-spec-example-index-ppc64le-amd64.json" linux/amd64)
[[ $answer == *'"has_platform":true'* ]] || fail "the clone's oracle answered: $answer"

echo "$name: ok (README's first command and the oracle work in a clone with nothing beside it)"
