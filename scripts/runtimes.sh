#!/usr/bin/env bash
# The container runtimes of the real-runtime matrix
# (crates/ocipick-cli/tests/runtime_matrix.rs), from Debian 12's packages:
# containerd and ctr, Podman, Docker (Debian's docker.io: dockerd and
# /usr/bin/docker), runc, and a static busybox for the test images.
# Installs with apt-get only what is missing; needs root.
#
# usage: scripts/runtimes.sh install   install what is missing
#        scripts/runtimes.sh versions  print the installed packages' versions
#
# The tests start their own daemons with private state (nothing here is
# started or configured).
set -euo pipefail
usage="usage: scripts/runtimes.sh install|versions"
packages=(busybox-static containerd runc podman conmon docker.io)

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

case ${1:?$usage} in
install)
  missing=()
  for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "scripts/runtimes.sh: installing ${missing[*]}" >&2
    apt-get update -qq
    # busybox-static replaces busybox (the dynamically linked one).
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  for prog in containerd ctr runc podman conmon dockerd /usr/bin/docker /bin/busybox; do
    if ! command -v "$prog" >/dev/null; then
      echo "scripts/runtimes.sh: $prog is still missing" >&2
      exit 1
    fi
  done
  ;;
versions)
  for p in "${packages[@]}"; do
    printf '%s %s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo missing)"
  done
  ;;
*)
  echo "$usage" >&2
  exit 2
  ;;
esac
