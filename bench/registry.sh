#!/usr/bin/env bash
# ocipick against skopeo on a real registry (CNCF distribution, started by
# scripts/registry.sh on a free loopback port): requests per run, taken
# from the registry's own log, and median wall time of the whole process.
#
# usage: bench/registry.sh
# env:   N                runs per tool (default 30; hyperfine adds 3 warm-ups)
#        CARGO_TARGET_DIR honoured when locating the release binary
#        KEEP_WORK=1      keep the registry's work folder (log, data) afterwards
#
# Tools, for REF=127.0.0.1:PORT/demo:v1 (a 5-platform OCI index):
#   ocipick  target/release/ocipick select --no-config --plain-http 127.0.0.1:PORT -p linux/amd64 REF
#   skopeo   skopeo inspect --raw --tls-verify=false docker://REF
#   ocipick-auto  as ocipick without --plain-http: HTTPS first, then the
#            plain-HTTP fallback for loopback (informative; not the target)
# The target (bench/README.md): ocipick makes fewer requests than skopeo and
# has the lower median wall time.
set -euo pipefail

runs=${N:-30}
warmup=3
name=bench/registry.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need() { command -v "$1" >/dev/null; }
missing=()
need hyperfine || missing+=(hyperfine)
need skopeo || missing+=(skopeo)
if ((${#missing[@]})); then
  echo "bench/registry.sh: installing ${missing[*]}" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2 || true
fi

start_registry registry

echo "== cargo build --release -p ocipick-cli" >&2
(cd "$repo_root" && cargo build --release --quiet -p ocipick-cli)
bin=${CARGO_TARGET_DIR:-$repo_root/target}/release/ocipick
[[ -x $bin ]] || { echo "bench/registry.sh: $bin not built" >&2; exit 1; }

ref=127.0.0.1:$port/demo:v1
ocipick_cmd="$bin select --no-config --plain-http 127.0.0.1:$port -p linux/amd64 $ref"
ocipick_auto_cmd="$bin select --no-config -p linux/amd64 $ref"
skopeo_cmd="skopeo inspect --raw --tls-verify=false docker://$ref"
tools=(ocipick skopeo ocipick-auto)
declare -A cmds=([ocipick]=$ocipick_cmd [skopeo]=$skopeo_cmd [ocipick-auto]=$ocipick_auto_cmd)

completed() { grep -c 'response completed' "$log" || true; }
# The registry writes its log asynchronously: wait until the count settles.
settled() {
  local a b
  a=$(completed)
  while sleep 0.3; b=$(completed); [[ $a != "$b" ]]; do a=$b; done
  echo "$a"
}

# Sanity: both tools succeed and agree on what demo:v1 is.
for t in "${tools[@]}"; do
  if ! ${cmds[$t]} >"$work/$t.out" 2>"$work/$t.err"; then
    echo "bench/registry.sh: $t failed:" >&2
    cat "$work/$t.err" >&2
    exit 1
  fi
done

declare -A per_run median min max
for t in "${tools[@]}"; do
  # Requests of one run, alone.
  before=$(settled)
  ${cmds[$t]} >/dev/null 2>&1
  one=$(($(settled) - before))

  # Timed runs; the log also tells the requests of all of them together.
  before=$(settled)
  json=$work/$t.json
  if need hyperfine; then
    hyperfine --style none --warmup "$warmup" --runs "$runs" -N \
      --export-json "$json" "${cmds[$t]}" >/dev/null 2>&1 ||
      hyperfine --style none --warmup "$warmup" --runs "$runs" \
        --export-json "$json" "${cmds[$t]}" >/dev/null
    read -r med lo hi < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("%.2f %.2f %.2f" % (r["median"] * 1000, r["min"] * 1000, r["max"] * 1000))' "$json")
    total_runs=$((runs + warmup))
  else
    : >"$work/$t.ms"
    for _ in $(seq "$runs"); do
      s=$(date +%s%N)
      ${cmds[$t]} >/dev/null 2>&1
      e=$(date +%s%N)
      echo $(((e - s) / 1000)) >>"$work/$t.ms"
    done
    read -r med lo hi < <(sort -n "$work/$t.ms" | python3 -c '
import statistics, sys
v = [int(x) / 1000 for x in sys.stdin.read().split()]
print(f"{statistics.median(v):.2f} {min(v):.2f} {max(v):.2f}")')
    total_runs=$runs
  fi
  all=$(($(settled) - before))
  if ((all != one * total_runs)); then
    echo "bench/registry.sh: $t: $all requests over $total_runs runs, not $one each" >&2
  fi
  per_run[$t]=$one
  median[$t]=$med
  min[$t]=$lo
  max[$t]=$hi
done

echo
echo "registry benchmark: $ref, $runs runs each, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
printf '%-12s  %12s  %14s  %10s  %10s\n' tool requests/run "median wall ms" "min ms" "max ms"
for t in "${tools[@]}"; do
  printf '%-12s  %12s  %14s  %10s  %10s\n' "$t" "${per_run[$t]}" "${median[$t]}" "${min[$t]}" "${max[$t]}"
done

# The request log of one run each, for the record.
echo
for t in "${tools[@]}"; do
  before=$(settled)
  ${cmds[$t]} >/dev/null 2>&1
  settled >/dev/null
  echo "$t requests:"
  tail -n +"$((before + 1))" <(grep 'response completed' "$log") |
    sed -n 's/.*http\.request\.method=\([A-Z]*\).*http\.request\.uri="\{0,1\}\([^" ]*\)"\{0,1\} .*http\.response\.status=\([0-9]*\).*/  \1 \2 -> \3/p'
done

verdict=ok
awk -v a="${per_run[ocipick]}" -v b="${per_run[skopeo]}" 'BEGIN{exit !(a < b)}' || verdict=missed
awk -v a="${median[ocipick]}" -v b="${median[skopeo]}" 'BEGIN{exit !(a < b)}' || verdict=missed
echo
echo "target (fewer requests and lower median than skopeo): $verdict"
