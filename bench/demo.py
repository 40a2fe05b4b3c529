#!/usr/bin/env python3
"""Push the demo images into a registry on 127.0.0.1 (plain HTTP).

usage: bench/demo.py PORT

Pushes five small runnable-looking images (one gzip layer holding
hello.txt, an OCI config naming the platform) to the repository `demo`, and
two OCI indexes over them:

  demo:v1  linux/amd64, linux/arm64/v8, linux/arm/v7,
           linux/amd64 with com.example.gpu=example-gpu-model (fourth),
           windows/amd64 os.version 10.0.17763.1234
  demo:v2  the same entries with the GPU build first

Prints one line per index and image: its name and digest. Deterministic:
the same bytes (and digests) on every run.
"""
import gzip
import io
import json
import sys
import tarfile

from registry_push import Pusher, sha

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
GPU = {"com.example.gpu": "example-gpu-model"}

# (name, platform, descriptor annotations)
IMAGES = [
    ("linux-amd64", {"architecture": "amd64", "os": "linux"}, None),
    ("linux-arm64", {"architecture": "arm64", "os": "linux", "variant": "v8"}, None),
    ("linux-arm-v7", {"architecture": "arm", "os": "linux", "variant": "v7"}, None),
    ("linux-amd64-gpu", {"architecture": "amd64", "os": "linux"}, GPU),
    ("windows-amd64", {"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1234"}, None),
]


def compact(doc):
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def layer(name):
    """A gzip tar holding hello.txt; (compressed bytes, uncompressed bytes)."""
    text = f"hello from {name}\n".encode()
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(text), 0, 0o644
        t.addfile(info, io.BytesIO(text))
    raw = tar.getvalue()
    return gzip.compress(raw, mtime=0), raw


def push_image(push, name, platform, annotations):
    """Pushes one image; returns its index descriptor."""
    gz, raw = layer(name)
    layer_desc = dict(push.blob(gz), mediaType=OCI_LAYER)
    config = dict(platform)
    config.update({
        "config": {"Labels": {"build": name}},
        "rootfs": {"type": "layers", "diff_ids": [sha(raw)]},
    })
    config_desc = dict(push.blob(compact(config)), mediaType=OCI_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_desc,
        "layers": [layer_desc],
        "annotations": {"org.opencontainers.image.title": name, **(annotations or {})},
    }
    body = compact(manifest)
    digest = push.manifest(sha(body), body, OCI_MANIFEST)
    desc = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body), "platform": platform}
    if annotations:
        desc["annotations"] = dict(annotations)
    return desc


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    push = Pusher(int(argv[1]), "demo")
    descs = [(name, push_image(push, name, p, a)) for name, p, a in IMAGES]
    gpu_first = [descs[3]] + descs[:3] + descs[4:]
    for tag, entries in (("v1", descs), ("v2", gpu_first)):
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [d for _, d in entries]}
        body = json.dumps(index, indent=2).encode()
        print(f"demo:{tag:<13} {push.manifest(tag, body, OCI_INDEX)}")
    for name, d in descs:
        print(f"{name:<18} {d['digest']}")


if __name__ == "__main__":
    main(sys.argv)
