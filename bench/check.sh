#!/usr/bin/env bash
# `ocipick check` at fleet scale: IMAGES images × NODES nodes from a real
# registry (CNCF distribution, started by scripts/registry.sh on a free
# loopback port). Reports wall time and peak RSS (/usr/bin/time -v) and the
# manifest GETs the registry logged (each index must be fetched exactly once:
# 200).
#
# usage: bench/check.sh
# env:   IMAGES            number of indexes (default 200)
#        NODES             number of nodes (default 1000)
#        JOBS              passed as --jobs when set
#        EXTRA             more arguments for check (e.g. --per-pair)
#        WALL_TARGET       seconds (default 2; 10 above 1,000 × 5,000)
#        RSS_TARGET        MiB (default 150)
#        CARGO_TARGET_DIR  honoured when locating the release binary
#        KEEP_WORK=1       keep the work folder (registry log, data, inputs)
#
# Targets (docs/check.md): at 1,000 images × 5,000 nodes at most 2 s wall
# and 150 MiB peak RSS; at 5,000 × 15,000 at most 10 s; exactly IMAGES
# manifest GETs.
set -euo pipefail

n_images=${IMAGES:-200}
n_nodes=${NODES:-1000}
name=bench/check.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ -x /usr/bin/time ]] || {
  echo "bench/check.sh: installing time" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; } >&2
}

start_registry check

echo "== pushing $n_images indexes, generating $n_nodes nodes" >&2
PYTHONPATH=$bench_dir python3 - "$port" "$n_images" "$n_nodes" "$work" <<'PY'
import json, random, sys, urllib.request

port, n_images, n_nodes, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
repo = "bench/app"
from registry_push import Pusher, sha

push = Pusher(port, repo)
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


# The few child manifests, pushed once.
children = {}
for name, os_, arch, variant in [
    ("amd64", "linux", "amd64", None),
    ("amd64-v3", "linux", "amd64", "v3"),
    ("arm64", "linux", "arm64", None),
    ("gpu", "linux", "amd64", None),
    ("ppc64le", "linux", "ppc64le", None),
]:
    cfg = json.dumps({"architecture": arch, "os": os_, "config": {"Labels": {"n": name}},
                      "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    c = push.blob(cfg)
    l = push.blob(f"layer {name}".encode())
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **c},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **l}]}).encode()
    d = push.manifest(sha(m), m, OCI_MANIFEST)
    plat = {"os": os_, "architecture": arch}
    if variant:
        plat["variant"] = variant
    desc = {"mediaType": OCI_MANIFEST, "digest": d, "size": len(m), "platform": plat}
    if name == "gpu":
        desc["annotations"] = {"com.example.gpu": "example-gpu-model"}
    children[name] = desc

# IMAGES distinct indexes of 2–4 entries under as many tags.
rng = random.Random(42)
shapes = [
    ["amd64", "arm64"],
    ["amd64", "arm64", "gpu"],
    ["amd64-v3", "amd64", "arm64", "gpu"],
    ["arm64", "ppc64le"],
    ["amd64", "gpu", "ppc64le"],
    ["amd64-v3", "amd64", "arm64"],
]
refs = []
for i in range(n_images):
    entries = [dict(children[n]) for n in shapes[i % len(shapes)]]
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries,
           "annotations": {"org.example.bench.image": str(i)}}
    push.manifest(f"i{i}", json.dumps(doc).encode(), OCI_INDEX)
    refs.append(f"127.0.0.1:{port}/{repo}:i{i}")
with open(f"{work}/images.txt", "w") as f:
    f.write("\n".join(refs) + "\n")

# NODES kubectl nodes: varied platforms and NFD labels.
x86_v3 = ["AVX", "AVX2", "FMA3", "MOVBE", "OSXSAVE", "LAHF", "BMI1", "BMI2"]
items = []
for i in range(n_nodes):
    kind = rng.choices(["amd64", "amd64-v3", "gpu", "arm64", "ppc64le"], [30, 35, 10, 20, 5])[0]
    arch = {"amd64-v3": "amd64", "gpu": "amd64"}.get(kind, kind)
    labels = {"kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
              "kubernetes.io/hostname": f"node-{i:04d}",
              "topology.kubernetes.io/zone": f"zone-{i % 3}",
              "feature.node.kubernetes.io/kernel-version.full": rng.choice(["6.1.0-18-amd64", "6.8.0", "5.15.0"]),
              "feature.node.kubernetes.io/system-os_release.ID": rng.choice(["debian", "ubuntu", "rhel"])}
    if kind in ("amd64-v3", "gpu"):
        for fl in x86_v3:
            labels[f"feature.node.kubernetes.io/cpu-cpuid.{fl}"] = "true"
    elif kind == "amd64":
        labels["feature.node.kubernetes.io/cpu-cpuid.LAHF"] = "true"
    elif kind == "arm64":
        labels["feature.node.kubernetes.io/cpu-cpuid.ASIMD"] = "true"
    if kind == "gpu":
        labels["feature.node.kubernetes.io/pci-0300_10de.present"] = "true"
        labels["nvidia.com/cuda.driver.major"] = "550"
        labels["nvidia.com/cuda.driver.minor"] = "90"
        labels["nvidia.com/cuda.driver.rev"] = "07"
    items.append({"apiVersion": "v1", "kind": "Node",
                  "metadata": {"name": f"node-{i:04d}", "labels": labels},
                  "status": {"nodeInfo": {"architecture": arch, "operatingSystem": "linux"}}})
with open(f"{work}/nodes.json", "w") as f:
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
PY

echo "== cargo build --release -p ocipick-cli" >&2
(cd "$repo_root" && cargo build --release --quiet -p ocipick-cli)
bin=${CARGO_TARGET_DIR:-$repo_root/target}/release/ocipick
[[ -x $bin ]] || { echo "bench/check.sh: $bin not built" >&2; exit 1; }

manifest_gets() { grep 'response completed' "$log" | grep 'http.request.method=GET' | grep -c '/manifests/' || true; }
settled() {
  local a b
  a=$(manifest_gets)
  while sleep 0.3; b=$(manifest_gets); [[ $a != "$b" ]]; do a=$b; done
  echo "$a"
}

jobs_arg=()
[[ -n ${JOBS:-} ]] && jobs_arg=(--jobs "$JOBS")
# shellcheck disable=SC2206
[[ -n ${EXTRA:-} ]] && jobs_arg+=($EXTRA)
if ((n_images * n_nodes > 1000 * 5000)); then
  wall_target=${WALL_TARGET:-10}
else
  wall_target=${WALL_TARGET:-2}
fi
rss_target=${RSS_TARGET:-150}
before=$(settled)
echo "== ocipick check: $n_images images × $n_nodes nodes" >&2
set +e
/usr/bin/time -v -o "$work/time.txt" \
  "$bin" check --no-config --plain-http "127.0.0.1:$port" --nodes "$work/nodes.json" \
  --images "$work/images.txt" -o json "${jobs_arg[@]}" >"$work/out.json" 2>"$work/err.txt"
status=$?
set -e
gets=$(($(settled) - before))
if ((status != 0 && status != 1)); then
  echo "bench/check.sh: ocipick check exited $status:" >&2
  cat "$work/err.txt" >&2
  exit 1
fi

wall=$(python3 -c '
import sys
for l in open(sys.argv[1]):
    if "Elapsed (wall clock)" in l:
        t = l.rsplit(": ", 1)[1].strip().split(":")
        s = 0.0
        for p in t:
            s = s * 60 + float(p)
        print(f"{s:.2f}")' "$work/time.txt")
rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
rss_mib=$(awk -v k="$rss_kb" 'BEGIN{printf "%.1f", k/1024}')
user=$(sed -n 's/.*User time (seconds): //p' "$work/time.txt")
sys_t=$(sed -n 's/.*System time (seconds): //p' "$work/time.txt")
read -r pairs fit nofit err classes < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(s["pairs"], s["fit"], s["no_fit"], s["error"], s.get("classes", "-"))' "$work/out.json")

echo
echo "check benchmark: $n_images images × $n_nodes nodes, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "exit status: $status; pairs $pairs: $fit fit, $nofit no fit, $err errors; node classes: $classes"
echo "wall: ${wall} s (user ${user} s, sys ${sys_t} s)"
echo "peak RSS: ${rss_mib} MiB"
echo "manifest GETs: $gets (want $n_images)"
echo "output: $(wc -c <"$work/out.json") bytes of JSON"

verdict=ok
awk -v w="$wall" -v t="$wall_target" 'BEGIN{exit !(w <= t)}' || verdict=missed
awk -v r="$rss_mib" -v t="$rss_target" 'BEGIN{exit !(r <= t)}' || verdict=missed
((gets == n_images)) || verdict=missed
((err == 0)) || verdict=missed
echo
echo "target (<= $wall_target s, <= $rss_target MiB, one GET per index): $verdict"
[[ $verdict == ok ]]
