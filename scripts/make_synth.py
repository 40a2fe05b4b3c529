#!/usr/bin/env python3
"""Write synthetic OCI image indexes for benchmarks.

usage: scripts/make_synth.py OUTDIR [N ...]

Writes OUTDIR/index-N.json for each N (default: 100 1000 10000) and prints
each path with its size in bytes. The documents are deterministic, and
crates/ocipick/benches/select.rs builds the same ones in process:

- entry i has the platform POOL[i % 16] (linux/amd64 is one of the 16, and
  linux/amd64/v2 and /v3 are two more, so a linux/amd64 node matches one
  entry in 16 and a linux/amd64/v3 node three in 16);
- its digest is sha256 of the decimal text of i, its size 400 + (i*37) % 1000;
- every 7th entry (i % 7 == 0) carries com.example.gpu and a ref.name;
- the file is JSON indented by two spaces (the 10,000-entry index is
  3,062,753 bytes).
"""
import hashlib
import json
import os
import sys

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"

# (os, architecture, variant, os.version)
POOL = [
    ("linux", "amd64", None, None),
    ("linux", "arm64", "v8", None),
    ("linux", "arm", "v7", None),
    ("linux", "arm", "v6", None),
    ("linux", "arm", "v5", None),
    ("linux", "386", None, None),
    ("linux", "ppc64le", None, None),
    ("linux", "s390x", None, None),
    ("linux", "riscv64", None, None),
    ("linux", "mips64le", None, None),
    ("windows", "amd64", None, "10.0.17763.1234"),
    ("windows", "amd64", None, "10.0.20348.2031"),
    ("linux", "amd64", "v2", None),
    ("linux", "amd64", "v3", None),
    ("freebsd", "amd64", None, None),
    ("darwin", "arm64", None, None),
]


def entry(i):
    os_name, arch, variant, os_version = POOL[i % len(POOL)]
    platform = {"architecture": arch, "os": os_name}
    if variant is not None:
        platform["variant"] = variant
    if os_version is not None:
        platform["os.version"] = os_version
    descriptor = {
        "mediaType": MANIFEST,
        "digest": "sha256:" + hashlib.sha256(str(i).encode()).hexdigest(),
        "size": 400 + (i * 37) % 1000,
        "platform": platform,
    }
    if i % 7 == 0:
        descriptor["annotations"] = {
            "com.example.gpu": f"example-gpu-model-{i % 5}",
            "org.opencontainers.image.ref.name": f"entry-{i}",
        }
    return descriptor


def index(n):
    return {"schemaVersion": 2, "mediaType": INDEX, "manifests": [entry(i) for i in range(n)]}


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    outdir = argv[1]
    sizes = [int(a) for a in argv[2:]] or [100, 1000, 10000]
    os.makedirs(outdir, exist_ok=True)
    for n in sizes:
        path = os.path.join(outdir, f"index-{n}.json")
        with open(path, "w") as f:
            json.dump(index(n), f, indent=2)
        print(path, os.path.getsize(path))


if __name__ == "__main__":
    main(sys.argv)
