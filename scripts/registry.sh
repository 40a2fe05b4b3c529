#!/usr/bin/env bash
# A real OCI registry on loopback: the CNCF distribution registry (Debian
# package docker-registry, installed when missing), with the demo images of
# bench/demo.py pushed as 127.0.0.1:PORT/demo:v1 and demo:v2. For demos and
# the bench scripts (bench/lib.sh); the Rust tests start their own.
#
# usage: scripts/registry.sh start WORKDIR [PORT]   (default port 5000)
#        scripts/registry.sh stop WORKDIR [PORT]
# env:   REGISTRY_LOG_LEVEL  the registry's log level (default warn; info logs
#                            one "response completed" line per request)
#
# WORKDIR holds the registry's storage, config, log (registry.log), PID
# (registry.pid) and the demo digests (demo.txt). Distribution 2.8 answers
# 404 for an OCI index unless the Accept header names the OCI index type.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage="usage: scripts/registry.sh start|stop WORKDIR [PORT]"
cmd=${1:?$usage}
work=${2:?$usage}
port=${3:-5000}

up() { curl -s -o /dev/null "http://127.0.0.1:$port/v2/"; }

case $cmd in
start)
  if ! command -v docker-registry >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry
  fi
  if up; then
    echo "scripts/registry.sh: port $port is already in use" >&2
    exit 1
  fi
  mkdir -p "$work/storage"
  cat >"$work/config.yml" <<YML
version: 0.1
log:
  level: ${REGISTRY_LOG_LEVEL:-warn}
storage:
  filesystem:
    rootdirectory: $work/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YML
  docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
  echo $! >"$work/registry.pid"
  for _ in $(seq 100); do up && break; sleep 0.1; done
  if ! up; then
    echo "scripts/registry.sh: the registry did not start; its log:" >&2
    cat "$work/registry.log" >&2
    exit 1
  fi
  PYTHONPATH="$repo_root/bench" python3 "$repo_root/bench/demo.py" "$port" >"$work/demo.txt"
  echo "registry on 127.0.0.1:$port (pid $(cat "$work/registry.pid")); demo digests in $work/demo.txt"
  ;;
stop)
  if [[ -f $work/registry.pid ]]; then
    kill "$(cat "$work/registry.pid")" 2>/dev/null || true
    for _ in $(seq 100); do up || break; sleep 0.1; done
    rm -f "$work/registry.pid"
  fi
  ;;
*)
  echo "$usage" >&2
  exit 2
  ;;
esac
