#!/usr/bin/env bash
# `ocipick serve` under load: CLIENTS concurrent clients pull TAGS tags
# through the mirror from a real registry (CNCF distribution, started by
# scripts/registry.sh on a free loopback port). Bounded: every client
# does PULLS pulls (round-robin over the tags), no open-ended duration.
# A pull is a manifest GET by tag (checked: the answer must be the amd64
# child, which is the SECOND entry of each index) plus, with BLOB=1, a GET
# of the config blob it names.
#
# Reports requests/s, p50/p99 latency (pull_load's JSON), the upstream
# manifest fetches counted twice — the mirror's
# ocipick_mirror_upstream_requests_total{kind="manifest"} and the
# registry's own log (GET …/manifests/<tag> and …/manifests/sha256:…) — and
# the mirror's peak RSS (VmHWM).
#
# Expected fetches: one index GET per tag per TTL window, plus one child
# GET per distinct selected child (children are cached by digest). The
# TAGS indexes share CHILDREN distinct amd64 children.
#
# usage: bench/serve-load.sh
# env:   TAGS             tags (default 50)
#        CHILDREN         distinct amd64 children (default 10)
#        CLIENTS          concurrent clients (default 32)
#        PULLS            pulls per client (default 200)
#        TTL              --cache-ttl of the mirror (default 30)
#        PACE_MS          pause of each client between pulls (default 0)
#        BLOB             1: also GET the config blob per pull (default 1)
#        BLOB_DIRECT=1    GET the blobs straight from the registry, not through
#                         the mirror (to tell the mirror's share of their latency)
#        CARGO_TARGET_DIR honoured when locating the release binaries
#        KEEP_WORK=1      keep the work folder (logs, data) afterwards
#        PULL_LOAD=0      skip the pull_load part
#        COMPARE=0        skip the comparison with wrk (below)
#        WRK_SECONDS      length of each wrk run (default 8)
#        WRK_CONNECTIONS  wrk connections (default 32)
#        WRK_THREADS      wrk threads (default 2)
#
# Then, with one client (wrk, Debian's package), the same tag GETs against
# the registry directly and against a fresh mirror whose answers are cached
# (TTL 600 s, every tag fetched once before): requests/s, p50, p99 of each,
# and the mirror's peak RSS; before that, the first (uncached) pull of
# CHILDREN tags directly and through the cold mirror.
# e.g.   TTL=1 PULLS=100 PACE_MS=50 bench/serve-load.sh   # several TTL windows
set -euo pipefail

n_tags=${TAGS:-50}
n_children=${CHILDREN:-10}
clients=${CLIENTS:-32}
pulls=${PULLS:-200}
ttl=${TTL:-30}
pace=${PACE_MS:-0}
blob=${BLOB:-1}
pull_load=${PULL_LOAD:-1}
compare=${COMPARE:-1}
wrk_seconds=${WRK_SECONDS:-8}
wrk_connections=${WRK_CONNECTIONS:-32}
wrk_threads=${WRK_THREADS:-2}
name=bench/serve-load.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mirror_pid=
on_exit 'if [[ -n $mirror_pid ]]; then kill "$mirror_pid" 2>/dev/null; wait "$mirror_pid" 2>/dev/null; fi'
start_registry serve
repo=bench/app

echo "== pushing $n_tags two-entry indexes (arm64 first, amd64 second) over $n_children amd64 children" >&2
PYTHONPATH=$bench_dir python3 - "$port" "$n_tags" "$n_children" "$work" "$repo" <<'PY'
import json, sys, urllib.request

port, n_tags, n_children, work, repo = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
from registry_push import Pusher, sha

push = Pusher(port, repo)
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def image(arch, n):
    cfg = json.dumps({"architecture": arch, "os": "linux", "config": {"Labels": {"n": str(n)}},
                      "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    c = push.blob(cfg)
    l = push.blob(f"layer {arch} {n}".encode())
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **c},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **l}]}).encode()
    d = push.manifest(sha(m), m, OCI_MANIFEST)
    return {"mediaType": OCI_MANIFEST, "digest": d, "size": len(m),
            "platform": {"os": "linux", "architecture": arch}}

pairs = [(image("arm64", k), image("amd64", k)) for k in range(n_children)]
expect = {}
for i in range(n_tags):
    arm, amd = pairs[i % n_children]
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [arm, amd],
           "annotations": {"org.example.bench.tag": str(i)}}
    push.manifest(f"t{i}", json.dumps(doc).encode(), OCI_INDEX)
    expect[f"t{i}"] = amd["digest"]
with open(f"{work}/expect.json", "w") as f:
    json.dump(expect, f)
PY

echo "== cargo build --release -p ocipick-cli, example pull_load" >&2
(cd "$repo_root" && cargo build --release --quiet -p ocipick-cli &&
  cargo build --release --quiet -p ocipick-mirror --example pull_load)
target=${CARGO_TARGET_DIR:-$repo_root/target}/release
bin=$target/ocipick
load=$target/examples/pull_load
[[ -x $bin && -x $load ]] || { echo "bench/serve-load.sh: $bin or $load not built" >&2; exit 1; }

# Registry log: manifest GETs by tag and by digest.
manifest_gets() {
  grep 'response completed' "$log" | grep 'http.request.method=GET' |
    grep -oE 'http.request.uri="?[^" ]*/manifests/[^" ]*' | sed 's/.*manifests\///' || true
}
# Registry log: manifest HEADs (the mirror's child checks).
manifest_heads() {
  grep 'response completed' "$log" | grep 'http.request.method=HEAD' | grep -c '/manifests/' || true
}
settled_count() {
  local a b
  a=$(manifest_gets | wc -l)
  while sleep 0.3; b=$(manifest_gets | wc -l); [[ $a != "$b" ]]; do a=$b; done
  echo "$a"
}

status=0
if [[ $pull_load == 1 ]]; then
before=$(settled_count)
manifest_gets >"$work/gets-before.txt"
"$bin" serve --no-config --listen 127.0.0.1:0 --upstream "127.0.0.1:$port" \
  --plain-http "127.0.0.1:$port" -p linux/amd64 --cache-ttl "$ttl" 2>"$work/mirror.log" &
mirror_pid=$!
mirror_addr=
for _ in $(seq 100); do
  mirror_addr=$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$work/mirror.log" | head -1)
  [[ -n $mirror_addr ]] && break
  sleep 0.1
done
[[ -n $mirror_addr ]] || { echo "bench/serve-load.sh: the mirror did not start:" >&2; cat "$work/mirror.log" >&2; exit 1; }
mirror=http://$mirror_addr

blob_arg=()
[[ $blob == 1 ]] && blob_arg=(--blob)
[[ $blob == 1 && ${BLOB_DIRECT:-0} == 1 ]] && blob_arg+=(--blob-from "http://127.0.0.1:$port")
echo "== pull_load: $clients clients × $pulls pulls over $n_tags tags (TTL $ttl s, pace $pace ms, blob $blob)" >&2
set +e
"$load" --mirror "$mirror" --repo "$repo" --expect "$work/expect.json" \
  --clients "$clients" --pulls "$pulls" --pace-ms "$pace" "${blob_arg[@]}" >"$work/load.json"
status=$?
set -e
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$mirror_pid/status")
metrics=$(curl -sf "$mirror/metrics")
after=$(settled_count)
manifest_gets | tail -n +"$((before + 1))" >"$work/gets.txt"
# The registry's own time for the blob GETs of this run (its side of the latency).
grep 'response completed' "$log" | grep 'http.request.method=GET' | grep '/blobs/' |
  grep -oE 'http.response.duration=[0-9.]+(ns|µs|us|ms|s)' | sed 's/.*=//' >"$work/blob-durations.txt" || true

metric() { grep -F "$1" <<<"$metrics" | awk '{print $2}' | head -1; }
python3 - "$work/load.json" "$work/gets.txt" "$hwm" "$n_tags" "$n_children" "$ttl" \
  "$(metric 'ocipick_mirror_upstream_requests_total{kind="manifest"}')" \
  "$(metric 'ocipick_mirror_upstream_requests_total{kind="blob"}')" \
  "$(metric 'ocipick_mirror_cache_lookups_total{cache="tag",result="hit"}')" \
  "$(metric 'ocipick_mirror_cache_lookups_total{cache="tag",result="miss"}')" \
  "$(metric 'ocipick_mirror_selections_total{outcome="selected"}')" \
  "$(metric 'ocipick_mirror_selections_total{outcome="fallback"}')" "$work/blob-durations.txt" \
  "$(manifest_heads)" <<'PY'
import json, math, re, sys
load = json.load(open(sys.argv[1]))
gets = [l.strip() for l in open(sys.argv[2]) if l.strip()]
hwm, n_tags, n_children, ttl = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
m_manifest, m_blob, hit, miss, selected, fallback = [float(x or 0) for x in sys.argv[7:13]]
heads = int(sys.argv[14])
by_tag = [g for g in gets if ":" not in g]
by_digest = [g for g in gets if ":" in g]
windows = max(1, math.ceil(load["seconds"] / ttl)) if ttl > 0 else None
print(f"load:      {load['clients']} clients x {load['pullsPerClient']} pulls, {load['tags']} tags, "
      f"blob={load['blob']}, pace={load['paceMs']} ms, TTL={ttl:g} s")
print(f"time:      {load['seconds']:.2f} s for {load['pulls']} pulls / {load['requests']} requests")
print(f"rate:      {load['requestsPerSecond']:.0f} requests/s, {load['pullsPerSecond']:.0f} pulls/s")
print(f"latency:   request p50 {load['requestMs']['p50']:.2f} ms, p99 {load['requestMs']['p99']:.2f} ms, "
      f"max {load['requestMs']['max']:.2f} ms; pull p50 {load['pullMs']['p50']:.2f} ms, p99 {load['pullMs']['p99']:.2f} ms")
if load["blob"]:
    print(f"blobs:     from {load['blobFrom']}: p50 {load['blobMs']['p50']:.2f} ms, p99 {load['blobMs']['p99']:.2f} ms")
print(f"answers:   wrong manifest {load['wrongManifest']}, errors {load['errors']}"
      + (f" (first: {load['firstError']})" if load['firstError'] else ""))
print(f"mirror:    upstream manifest requests {m_manifest:.0f} (metrics), upstream blob requests {m_blob:.0f}; "
      f"tag cache {hit:.0f} hits / {miss:.0f} misses; selected {selected:.0f}, fallback {fallback:.0f}")
print(f"registry:  manifest GETs {len(gets)} = {len(by_tag)} by tag ({len(set(by_tag))} distinct) "
      f"+ {len(by_digest)} by digest ({len(set(by_digest))} distinct); manifest HEADs {heads} (child checks)")
if windows:
    print(f"expected:  ~{n_tags} x {windows} TTL window(s) = {n_tags * windows} index GETs "
          f"(upper bound; ceil(run/TTL)) + {n_children} child GETs + up to {n_children} x {windows} child HEADs "
          f"(a held child is checked upstream once per TTL window)")
unit = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1000.0}
durs = sorted(float(m.group(1)) * unit[m.group(2)]
              for m in (re.match(r"([0-9.]+)(ns|µs|us|ms|s)$", l.strip()) for l in open(sys.argv[13]))
              if m)
if durs:
    q = lambda p: durs[min(len(durs) - 1, round((len(durs) - 1) * p))]
    print(f"upstream:  registry's own blob GET time p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms ({len(durs)} GETs)")
print(f"memory:    mirror peak RSS (VmHWM) {hwm / 1024:.1f} MiB")
PY
kill "$mirror_pid" 2>/dev/null; wait "$mirror_pid" 2>/dev/null || true
mirror_pid=
fi

[[ $compare == 1 ]] || exit "$status"

# ---------------------------------------------------------------------------
# The mirror against the registry, one client (wrk), the same tags.
command -v wrk >/dev/null || { echo "$name: wrk is missing (apt-get install wrk)" >&2; exit 1; }
accept="application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"
cat >"$work/tags.lua" <<LUA
-- GET /v2/$repo/manifests/tN, round-robin over the $n_tags tags.
local n, i = $n_tags, 0
wrk.headers["Accept"] = "$accept"
request = function()
  i = (i + 1) % n
  return wrk.format("GET", "/v2/$repo/manifests/t" .. i)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"us":%d,"p50":%d,"p99":%d,"max":%d,"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
LUA
# A fresh mirror, its TTL longer than the run: its tag answers come from its cache.
"$bin" serve --no-config --listen 127.0.0.1:0 --upstream "127.0.0.1:$port" \
  --plain-http "127.0.0.1:$port" -p linux/amd64 --cache-ttl 600 2>"$work/mirror2.log" &
mirror_pid=$!
mirror_addr=
for _ in $(seq 100); do
  mirror_addr=$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$work/mirror2.log" | head -1)
  [[ -n $mirror_addr ]] && break
  sleep 0.1
done
[[ -n $mirror_addr ]] || { echo "$name: the mirror did not start:" >&2; cat "$work/mirror2.log" >&2; exit 1; }

# First pulls, nothing cached: the first CHILDREN tags (each a distinct
# child), a pull being the tag's manifest GET and then the chosen child's
# GET by digest, on one new connection: directly (the runtime picks the
# amd64 entry of the index) and through the cold mirror (it answers the
# child; the GET by digest comes from its cache), alternating.
echo "== first pulls: $n_children uncached tags, directly and through a cold mirror" >&2
PYTHONPATH=$bench_dir python3 - "$port" "${mirror_addr##*:}" "$repo" "$n_children" "$work/expect.json" "$accept" >"$work/first.json" <<'PY'
import http.client, json, sys, time
port, mport, repo, n, expect, accept = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), json.load(open(sys.argv[5])), sys.argv[6]
def pull(p, tag, mirror):
    c = http.client.HTTPConnection("127.0.0.1", p, timeout=30)
    t0 = time.perf_counter()
    c.request("GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": accept})
    r = c.getresponse(); body = r.read()
    assert r.status == 200, (tag, r.status, body[:200])
    if mirror:
        child = r.getheader("Docker-Content-Digest")
    else:
        idx = json.loads(body)
        child = next(m["digest"] for m in idx["manifests"] if m["platform"]["architecture"] == "amd64")
    c.request("GET", f"/v2/{repo}/manifests/{child}", headers={"Accept": accept})
    r = c.getresponse(); r.read()
    assert r.status == 200, (child, r.status)
    took = (time.perf_counter() - t0) * 1000
    c.close()
    assert child == expect[tag], (tag, child, expect[tag])
    return took
direct, mirror = [], []
for k in range(n):
    direct.append(pull(port, f"t{k}", False))
    mirror.append(pull(mport, f"t{k}", True))
json.dump({"direct": direct, "mirror": mirror}, sys.stdout)
PY
# Every tag once through the mirror: from here on its answers are cached.
for ((k = 0; k < n_tags; k++)); do
  curl -sf -o /dev/null -H "Accept: $accept" "http://$mirror_addr/v2/$repo/manifests/t$k"
done
wrk_run() {
  wrk -t "$wrk_threads" -c "$wrk_connections" -d "${wrk_seconds}s" -s "$work/tags.lua" "$1" | grep '^{"requests"'
}
echo "== wrk: $wrk_threads threads, $wrk_connections connections, $wrk_seconds s each: the registry, then the mirror" >&2
wrk_run "http://127.0.0.1:$port" >"$work/wrk-registry.json"
wrk_run "http://$mirror_addr" >"$work/wrk-mirror.json"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$mirror_pid/status")
upstream=$(curl -sf "http://$mirror_addr/metrics" | grep -F 'ocipick_mirror_upstream_requests_total{kind="manifest"}' | awk '{print $2}')
python3 - "$work/wrk-registry.json" "$work/wrk-mirror.json" "$work/first.json" "$hwm" "${upstream:-0}" \
  "$wrk_threads" "$wrk_connections" "$wrk_seconds" "$n_tags" <<'PY'
import json, statistics, sys
reg, mir, first = (json.load(open(p)) for p in sys.argv[1:4])
hwm, upstream = int(sys.argv[4]), float(sys.argv[5])
threads, conns, secs, tags = sys.argv[6:10]
rps = lambda w: w["requests"] / (w["us"] / 1e6)
print(f"compare:   wrk {threads} threads x {conns} connections, {secs} s each, GET of {tags} tags round-robin")
for label, w in (("registry", reg), ("mirror", mir)):
    print(f"{label + ':':10} {rps(w):8.0f} requests/s, p50 {w['p50'] / 1000:.2f} ms, p99 {w['p99'] / 1000:.2f} ms, "
          f"max {w['max'] / 1000:.1f} ms, {w['requests']} requests, errors {w['errors']}, non-2xx {w['non2xx']}")
print(f"ratio:     the mirror answers {rps(mir) / rps(reg):.1f}x the registry's requests/s")
print(f"mirror:    peak RSS (VmHWM) {hwm / 1024:.1f} MiB; upstream manifest requests {upstream:.0f} in all")
d, m = first["direct"], first["mirror"]
print(f"first pull: {len(d)} uncached tags (tag GET + child GET by digest): direct median {statistics.median(d):.1f} ms "
      f"(max {max(d):.1f}), through the cold mirror median {statistics.median(m):.1f} ms (max {max(m):.1f})")
PY
exit "$status"
