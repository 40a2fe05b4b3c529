# Shared by the bench scripts: a real registry (CNCF distribution, started by
# shared/peers/registry.sh) on a free loopback port, with its work folder,
# stopped and removed on exit.
#
# Source it after setting `name` (the script's name, for messages), then:
#   start_registry TAG      sets repo_root, peers_registry, work, port, log;
#                           REGISTRY_LOG_LEVEL=info (one log line a request)
#   on_exit CMD             runs CMD before the registry stops
#   PYTHONPATH=$bench_dir   makes bench/registry_push.py importable
# env: OCIPICK_SHARED (default <repo root>/../shared), KEEP_WORK=1

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$bench_dir/.." && pwd)
shared=${OCIPICK_SHARED:-$repo_root/../shared}
peers_registry=$shared/peers/registry.sh
if [[ ! -x $peers_registry ]]; then
  echo "$name: $peers_registry not found (set OCIPICK_SHARED)" >&2
  exit 2
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

exit_hooks=()
on_exit() { exit_hooks+=("$1"); }

stop_all() {
  local h
  for h in "${exit_hooks[@]}"; do eval "$h" || true; done
  if [[ -n ${work:-} ]]; then
    "$peers_registry" stop "$work" "$port" >/dev/null 2>&1 || true
    if [[ ${KEEP_WORK:-0} == 1 ]]; then
      echo "work folder kept: $work" >&2
    else
      rm -rf "$work"
    fi
  fi
}

start_registry() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/ocipick-bench-$1.XXXXXX")
  port=$(free_port)
  trap stop_all EXIT
  echo "== starting the registry on 127.0.0.1:$port" >&2
  REGISTRY_LOG_LEVEL=info "$peers_registry" start "$work" "$port" >&2
  log=$work/registry.log
}
