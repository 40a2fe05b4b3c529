#!/usr/bin/env bash
# Time ocipick's whole `select` process against the containerd oracle on the
# synthetic indexes of scripts/make_synth.py.
#
# usage: scripts/bench-vs-containerd.sh [N ...]     (default N: 100 1000 10000)
# env:   BENCH_DIR        where the synthetic indexes go (default: /tmp/ocipick-bench)
#        ORACLE_ITERS     in-process iterations for the oracle (default: 200)
#        HYPERFINE_ARGS   extra hyperfine arguments (default: --warmup 5 --min-runs 30)
#        CARGO_TARGET_DIR honoured when locating the release binary
#        BENCH_CPU        the CPU for the pinned run (default: 0; "none" skips it)
#
# For each N it reports, with hyperfine:
#   - `ocipick select --no-config -p linux/amd64 FILE` (whole process), with
#     the released binary (scripts/build-release.sh: static on Linux/glibc)
#     and with the dynamically linked one of `cargo build --release`,
#   - `containerd-oracle FILE linux/amd64` (whole process),
# then the oracle's own in-process parse+select time per operation
# (`containerd-oracle -iters 200 FILE linux/amd64`), and the ratios (by
# ocipick's mean, and by its median and minimum, which move less with the
# load of a shared machine).
# It then times ocipick's process again with hyperfine and its children
# pinned to one CPU (`taskset -c $BENCH_CPU`): on a virtual machine a new
# process otherwise often starts on a CPU that was idle (woken late, caches
# cold), which costs more than the work itself. Both ratios are printed,
# each against the same unpinned in-process time of the oracle (pinning
# the oracle, whose collector runs beside it, makes it slower).
# The target: ocipick's whole process >= 10x faster than containerd's
# in-process parse+select on the 10,000-entry index.
set -euo pipefail

repo_root="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
bench_dir="${BENCH_DIR:-/tmp/ocipick-bench}"
iters="${ORACLE_ITERS:-200}"
read -r -a hf_args <<<"${HYPERFINE_ARGS:---warmup 5 --min-runs 30}"
sizes=("$@")
((${#sizes[@]})) || sizes=(100 1000 10000)

if ! command -v hyperfine >/dev/null 2>&1; then
  echo "bench-vs-containerd: installing hyperfine" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >&2
  "${sudo_cmd[@]}" apt-get install -y -qq hyperfine >&2
fi

echo "== building ocipick: the released binary, and a plain cargo build (release, LTO)" >&2
ocipick="$("$repo_root/scripts/build-release.sh" | tail -n 1)"
(cd "$repo_root" && cargo build --release -p ocipick-cli --bin ocipick >&2)
target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
case "$target_dir" in
  /*) ;;
  *) target_dir="$repo_root/$target_dir" ;;
esac
ocipick_dyn="$target_dir/release/ocipick"

echo "== building the containerd oracle" >&2
oracle="$("$repo_root/scripts/build-oracle.sh" | tail -n 1)"

echo "== generating synthetic indexes in $bench_dir" >&2
python3 "$repo_root/scripts/make_synth.py" "$bench_dir" "${sizes[@]}" >&2

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "ocipick: $ocipick (released)"
echo "         $ocipick_dyn (cargo build --release)"
echo "oracle:  $oracle"

# The digest `ocipick select` (binary $1) chooses in index $2 for linux/amd64.
chosen_digest() {
  "$1" select --no-config -p linux/amd64 -o json "$2" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["digest"])'
}

summary=()
for n in "${sizes[@]}"; do
  file="$bench_dir/index-$n.json"
  bytes=$(stat -c %s "$file")
  echo
  echo "== index-$n.json ($bytes bytes)"
  # Both must agree on the answer before timing means anything.
  ours_digest="$(chosen_digest "$ocipick" "$file")"
  dyn_digest="$(chosen_digest "$ocipick_dyn" "$file")"
  oracle_digest="$("$oracle" "$file" linux/amd64 |
    python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["digest"])')"
  if [[ "$ours_digest" != "$oracle_digest" || "$dyn_digest" != "$oracle_digest" ]]; then
    echo "bench-vs-containerd: $file: ocipick chose $ours_digest (cargo build: $dyn_digest), containerd $oracle_digest" >&2
    exit 1
  fi

  json="$bench_dir/hyperfine-$n.json"
  hyperfine -N "${hf_args[@]}" --export-json "$json" \
    -n "ocipick select" "$ocipick select --no-config -p linux/amd64 $file" \
    -n "containerd oracle (process)" "$oracle $file linux/amd64" \
    -n "ocipick select (cargo build)" "$ocipick_dyn select --no-config -p linux/amd64 $file"

  pinned_json="$bench_dir/hyperfine-$n-pinned.json"
  rm -f "$pinned_json"
  cpu="${BENCH_CPU:-0}"
  if [[ "$cpu" != none ]] && command -v taskset >/dev/null 2>&1; then
    taskset -c "$cpu" hyperfine -N "${hf_args[@]}" --export-json "$pinned_json" \
      -n "ocipick select (pinned to CPU $cpu)" "$ocipick select --no-config -p linux/amd64 $file"
  fi

  # The oracle's second line: mean nanoseconds of decode, select and both.
  line="$("$oracle" -iters "$iters" "$file" linux/amd64 | sed -n 2p)"
  echo "oracle in-process: $line"
  read -r in_proc parse sel < <(python3 -c '
import json, sys
t = json.loads(sys.argv[1])
ms = lambda ns: "%.3fms" % (ns / 1e6)
print(t["total_ns"] * 1e-9, ms(t["parse_ns"]), ms(t["select_ns"]))' "$line")

  read -r ours theirs ours_med ours_min dyn dyn_med < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(r[0]["mean"], r[1]["mean"], r[0]["median"], r[0]["min"], r[2]["mean"], r[2]["median"])' "$json")
  # The mean is the headline; on a shared machine it moves with the load,
  # so the median and minimum of ocipick's runs are given too.
  row="$(python3 -c '
import sys
n, b, ours, theirs, inp, p, s, med, low = sys.argv[1:]
ours, theirs, inp, med, low = map(float, (ours, theirs, inp, med, low))
print(f"N={n:>6} bytes={b:>8}  ocipick process {ours*1e3:8.3f} ms "
      f"(median {med*1e3:.3f}, min {low*1e3:.3f}) | "
      f"oracle process {theirs*1e3:8.3f} ms ({theirs/ours:5.1f}x) | "
      f"oracle in-process parse+select {inp*1e3:8.3f} ms (parse {p}, select {s}) "
      f"-> ocipick process is {inp/ours:5.1f}x faster "
      f"(by median {inp/med:.1f}x, by min {inp/low:.1f}x)")' \
    "$n" "$bytes" "$ours" "$theirs" "$in_proc" "$parse" "$sel" "$ours_med" "$ours_min")"
  row+="$(python3 -c '
import sys
inp, mean, med = map(float, sys.argv[1:])
print(f"\n          cargo build --release: ocipick process {mean*1e3:8.3f} ms "
      f"(median {med*1e3:.3f}) -> {inp/mean:5.1f}x faster (by median {inp/med:.1f}x)")' \
    "$in_proc" "$dyn" "$dyn_med")"
  if [[ -f "$pinned_json" ]]; then
    row+="$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
inp = float(sys.argv[2])
mean, med, low = r["mean"], r["median"], r["min"]
print(f"\n          pinned to CPU {sys.argv[3]}: ocipick process {mean*1e3:8.3f} ms "
      f"(median {med*1e3:.3f}, min {low*1e3:.3f}) -> {inp/mean:5.1f}x faster "
      f"(by median {inp/med:.1f}x, by min {inp/low:.1f}x)")' \
      "$pinned_json" "$in_proc" "$cpu")"
  fi
  echo "$row"
  summary+=("$row")
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
