#!/usr/bin/env bash
# Captures the files ocipick's host detection reads (/proc, /sys/bus/pci,
# /etc/os-release, the NVIDIA driver version) from a real machine into a
# fixture tree, for detection tests against real data.
#
# usage: scripts/capture-host-fixture.sh OUTDIR
set -euo pipefail
out=${1:?usage: capture-host-fixture.sh OUTDIR}
mkdir -p "$out/proc/sys/kernel" "$out/proc/driver/nvidia" "$out/etc" "$out/sys/bus/pci/devices"
copy() { [[ -r "$1" ]] && cat "$1" > "$out$1" 2>/dev/null || true; }
copy /proc/cpuinfo
copy /proc/meminfo
copy /proc/version
copy /proc/sys/kernel/osrelease
copy /proc/driver/nvidia/version
copy /etc/os-release
for d in /sys/bus/pci/devices/*; do
  n=$(basename "$d")
  mkdir -p "$out/sys/bus/pci/devices/$n"
  for f in vendor device class subsystem_vendor subsystem_device revision numa_node; do
    [[ -r "$d/$f" ]] && cat "$d/$f" > "$out/sys/bus/pci/devices/$n/$f" 2>/dev/null || true
  done
done
uname -m > "$out/uname-m"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv > "$out/nvidia-smi.csv" 2>&1 || true
echo "captured $(find "$out" -type f | wc -l) files into $out"
