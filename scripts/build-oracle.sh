#!/usr/bin/env bash
# Build the containerd differential-test oracle (scripts/containerd-oracle/main.go)
# offline from Debian packages (golang-go + golang-github-containerd-containerd-dev).
#
# usage: scripts/build-oracle.sh [OUTPUT]      (default: target/containerd-oracle under the repo root)
#
# Idempotent: skips the build when OUTPUT is newer than main.go. Prints OUTPUT's absolute path last.
set -euo pipefail

repo_root="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
src_dir="$repo_root/scripts/containerd-oracle"
gopath=/usr/share/gocode
containerd_src="$gopath/src/github.com/containerd/containerd/platforms"

out="${1:-target/containerd-oracle}"
case "$out" in
  /*) ;;
  *) out="$repo_root/$out" ;;
esac

if [[ ! -f "$src_dir/main.go" ]]; then
  echo "build-oracle: $src_dir/main.go not found" >&2
  exit 1
fi

# Fast path: already built and up to date.
if [[ -x "$out" && "$out" -nt "$src_dir/main.go" ]]; then
  echo "$out"
  exit 0
fi

# Install toolchain / sources only when missing.
pkgs=()
command -v go >/dev/null 2>&1 || pkgs+=(golang-go)
[[ -d "$containerd_src" ]] || pkgs+=(golang-github-containerd-containerd-dev)
if ((${#pkgs[@]})); then
  echo "build-oracle: installing ${pkgs[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >&2
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
fi

# Build from a temporary copy (the source folder holds no Go package path of
# its own, and may be read-only). GOPATH mode against /usr/share/gocode;
# GOCACHE must be writable (HOME may be unset or read-only), so keep it under target/.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$src_dir/main.go" "$work/"
mkdir -p "$(dirname "$out")"
export GOCACHE="${GOCACHE:-$repo_root/target/go-build-cache}"
mkdir -p "$GOCACHE"
(
  cd "$work"
  GO111MODULE=off GOPATH="$gopath" GOPROXY=off GOFLAGS= GOTOOLCHAIN=local \
    go build -o "$work/containerd-oracle" .
)
mv -f "$work/containerd-oracle" "$out"
echo "$out"
