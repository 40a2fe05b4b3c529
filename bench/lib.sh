# Shared by the bench scripts: a real registry (CNCF distribution, started by
# scripts/registry.sh, with the demo images of bench/demo.py) on a free
# loopback port, with its work folder, stopped and removed on exit.
#
# Source it after setting `name` (the script's name, for messages), then:
#   start_registry TAG      sets repo_root, registry_sh, work, port, log;
#                           REGISTRY_LOG_LEVEL=info (one log line a request)
#   on_exit CMD             runs CMD before the registry stops
#   PYTHONPATH=$bench_dir   makes bench/registry_push.py importable
# env: KEEP_WORK=1 keeps the work folder

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$bench_dir/.." && pwd)
registry_sh=$repo_root/scripts/registry.sh

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

exit_hooks=()
on_exit() { exit_hooks+=("$1"); }

stop_all() {
  local h
  for h in "${exit_hooks[@]}"; do eval "$h" || true; done
  if [[ -n ${work:-} ]]; then
    "$registry_sh" stop "$work" "$port" >/dev/null 2>&1 || true
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
  REGISTRY_LOG_LEVEL=info "$registry_sh" start "$work" "$port" >&2
  log=$work/registry.log
}
