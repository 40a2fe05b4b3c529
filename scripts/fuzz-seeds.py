#!/usr/bin/env python3
"""Writes seed inputs for a fuzz target (see scripts/fuzz.sh) from testdata/.

usage: fuzz-seeds.py TARGET CORPUS_DIR
"""
import glob
import hashlib
import json
import os
import sys

target, out = sys.argv[1], sys.argv[2]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
td = os.path.join(root, "testdata")


def docs():
    pats = ["corpus/*.json", "corpus/invalid/*.json", "examples/*", "cases/*"]
    for p in pats:
        for f in sorted(glob.glob(os.path.join(td, p))):
            if f.endswith(".md"):
                continue
            with open(f, "rb") as fh:
                yield os.path.basename(f), fh.read()


def write(name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(out, "seed-" + name), "wb") as fh:
        fh.write(data)


SELECTORS = [
    "linux", "linux/amd64", "linux/amd64/v3", "linux/arm64", "linux/arm64/v8",
    "linux/arm64/v9.2", "linux/arm/v6", "armhf", "aarch64", "x86_64",
    "windows(10.0.20348.2031)/amd64", "windows(10.0.17763.1040+win32k)/amd64",
    "linux(+gpu+x)/ppc64le", "windows", "Linux/AMD64", "darwin/arm64/v8.3",
    "linux/riscv64", "linux/386", "freebsd/i386", "arm64", "wasip1/wasm",
    # Peer spellings (ocipick::platform::spelling).
    "windows/amd64:10.0.20348.2031", "windows/amd64,osver=10.0.17763.1040",
    "linux/arm64/v8,osversion=6.1", "local", "local/arm64", "windows/amd64:",
    "linux/amd64,prefer=a=b", "windows(10.0.1)/amd64:10.0.1",
]

if target == "index_select":
    for name, data in docs():
        write(name, data)
elif target == "lint":
    for name, data in docs():
        write(name, data)
    # The fields lint checks beyond selection: artifactType, urls, data,
    # on an entry and on the subject, well-formed and not.
    a = "sha256:" + hashlib.sha256(b"a").hexdigest()
    for i, extra in enumerate([
        '"artifactType":"application/vnd.example+json","urls":["https://example.com/a","http://[::1]:5000/b?c#d"],"data":"YQ=="',
        '"artifactType":"foo/.bar","urls":["value","ftp://x/y","https://e.com/%zz","https://[v1.x]/"],"data":"YQ"',
        '"artifactType":null,"data":null',
        '"urls":["mailto:a@b","urn:x:y","https://us:pw@h:8/p;q?r#s"],"data":"YWI="',
        '"data":"Zh==","urls":["https://exa mple.com/"]',
    ]):
        entry = '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":1,%s,"platform":{"os":"linux","architecture":"amd64"}}' % (a, extra)
        write(f"fields-{i}", '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","artifactType":"x/y","manifests":[%s],"subject":%s}' % (entry, entry))
    for i, s in enumerate(["", "Zg==", "Zm9vYmFy", "Zm8=", "+/+/", "Zh==", "Zg=", "Zg==Zg=="]):
        write(f"b64-{i}", s)
elif target == "platform_selector":
    for i, s in enumerate(SELECTORS):
        write(f"{i}", s)
    for name, data in docs():
        try:
            for m in json.loads(data).get("manifests") or []:
                p = m.get("platform") or {}
                if p.get("os") and p.get("architecture"):
                    s = p["os"]
                    if p.get("os.version") or p.get("os.features"):
                        s += "(" + p.get("os.version", "") + "".join("+" + f for f in p.get("os.features", [])) + ")"
                    s += "/" + p["architecture"] + ("/" + p["variant"] if p.get("variant") else "")
                    write("p-" + hashlib.sha256(s.encode()).hexdigest()[:12], s)
        except Exception:
            pass
elif target == "reference":
    hexid = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
    f64 = "f" * 64
    for i, s in enumerate([
        "nginx", "nginx:1.25", "docker://nginx:1.25", "user/app", "docker.io/nginx",
        "index.docker.io/library/nginx", "registry-1.docker.io/nginx", "ghcr.io/org/app:v2",
        "localhost/app", "localhost:5000/a/b/c:t", "127.0.0.1:5000/demo", "[::1]:5000/demo:v1",
        "[2001:db8::1]/repo", "[fe80::1%eth0]:5000/repo", "LOCALDOMAIN/debian", "Foo/bar",
        "Uppercase:tag", "test.com:http/x", "-ab.com/x", "do..cker/x", "[fd00:1:2::3]75050/x",
        "127.0.0.1:99999/x", "127.0.0.1:65535/x", "docker.io/a.b/c", hexid, hexid + ":v1",
        "docker.io/" + hexid, "sha256:" + f64, "busybox:latest@sha256:" + f64,
        "xn--7o8h.com/myimage:xn--7o8h.com@sha512:" + f64 * 2, "nginx@sha384:" + "f" * 96,
        "validname@invaliddigest:" + f64, "example.com/" + "a" * 255 + ":tag",
        "domain/" + "a" * 256 + ":tag", "a/" * 127 + "a:tag", "my_app/x-y__z.w", "a//b",
    ]):
        write(f"{i}", s)
elif target == "prefer":
    for i, s in enumerate([
        "com.example.gpu", "com.example.gpu=a100", "com.example.gpu=a100:10",
        "org.example.debug:-5", "org.example.endpoint=host:8080:1", "k=v=w:+3",
        "k:2147483648", "k:-2147483648", "k=", "a:b", "k=v:x", "=v", "k\u00e9=\u00fc:1",
    ]):
        write(f"{i}", s)
elif target == "config":
    write("full", """platform = "linux/amd64/v3"
max-index-bytes = 4194304
max-manifest-bytes = 4194304

[[prefer]]
annotation = "com.example.gpu"
value = "example-gpu-model"
weight = 10

[[prefer]]
annotation = "org.example.debug"
weight = -5
""")
    write("empty", "")
    write("one", '[[prefer]]\nannotation = "a"\n')
    write("typo", '[[prefer]]\nanotation = "a"\n')
    write("inline", 'prefer = [{annotation = "x", value = "y", weight = 2147483648}]\n')
elif target == "layout":
    marker = b'{"imageLayoutVersion":"1.0.0"}'
    for i, (name, data) in enumerate(docs()):
        blob = data
        desc = {"mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": "sha256:" + hashlib.sha256(blob).hexdigest(),
                "size": len(blob),
                "annotations": {"org.opencontainers.image.ref.name": "latest"}}
        index = json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()
        for kind in (0, 1, 3) if i < 4 else (0,):
            write(f"{kind}-{name}", bytes([kind, 0]) + marker + b"\0" + index + b"\0" + blob + b"\0latest")
        # index.json itself as the multi-platform index.
        write(f"top-{name}", bytes([0, 0]) + marker + b"\0" + data + b"\0" + b"" + b"\0")
elif target == "layout_archive":
    import io
    import tarfile
    marker = b'{"imageLayoutVersion":"1.0.0"}'

    def archive(files, prefix="", fmt=tarfile.USTAR_FORMAT, dirs=False):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
            if dirs:
                for d in ("blobs", "blobs/sha256"):
                    info = tarfile.TarInfo(prefix + d)
                    info.type = tarfile.DIRTYPE
                    t.addfile(info)
            for name, data in files:
                info = tarfile.TarInfo(prefix + name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    for i, (name, data) in enumerate(docs()):
        dg = hashlib.sha256(data).hexdigest()
        desc = {"mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": "sha256:" + dg, "size": len(data),
                "annotations": {"org.opencontainers.image.ref.name": "latest"}}
        index = json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()
        files = [("oci-layout", marker), ("index.json", index), ("blobs/sha256/" + dg, data)]
        # As skopeo writes it; as `tar -C DIR .` does; PAX and GNU headers.
        write(f"tag-{name}", bytes([0]) + archive(files))
        if i < 6:
            write(f"dot-{name}", bytes([0]) + archive(files, "./", dirs=True))
            write(f"pax-{name}", bytes([0]) + archive(files, fmt=tarfile.PAX_FORMAT))
            write(f"gnu-{name}", bytes([3]) + archive(files, fmt=tarfile.GNU_FORMAT))
        # index.json itself as the multi-platform index.
        write(f"top-{name}", bytes([0]) + archive([("oci-layout", marker), ("index.json", data)]))
elif target == "inventory":
    # First byte: 0 nodes, 1 pods, 2 a facts file; then the document.
    for f in sorted(glob.glob(os.path.join(td, "check", "*.json"))):
        with open(f, "rb") as fh:
            data = fh.read()
        base = os.path.basename(f)
        which = 1 if "pods" in base else 0
        write(f"{which}-{base}", bytes([which]) + data)
    for f in sorted(glob.glob(os.path.join(td, "check", "nodes", "*.json"))
                    + glob.glob(os.path.join(root, "examples", "nodes", "*.json"))):
        with open(f, "rb") as fh:
            write("2-" + os.path.basename(f), bytes([2]) + fh.read())
    d = "sha256:" + "a" * 64
    pod = {"kind": "Pod", "metadata": {"name": "p", "namespace": "n"},
           "spec": {"nodeName": "n1", "nodeSelector": {"pool": "gpu"},
                    "initContainers": [{"name": "i", "image": "init:1"}],
                    "containers": [{"name": "c", "image": f"app@{d}"}],
                    "ephemeralContainers": [{"name": "e", "image": " busybox "}]},
           "status": {"containerStatuses": [{"name": "c", "imageID": f"app@{d}"}],
                      "ephemeralContainerStatuses": [{"name": "e", "imageID": "x"}]}}
    write("1-pod", bytes([1]) + json.dumps(pod).encode())
    node = {"kind": "Node", "metadata": {"name": "w", "labels": {
        "kubernetes.io/os": "windows", "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/windows-build": "10.0.20348",
        "feature.node.kubernetes.io/usb-ff_1234_5678.present": "true",
        "nvidia.com/cuda.driver-version.major": "550", "nvidia.com/cuda.driver-version.minor": "9"}}}
    write("0-node", bytes([0]) + json.dumps(node).encode())
elif target == "nfd_compat":
    # The specification, then NUL and a node in `nfd export features` form
    # (or no NUL: the target's fixed node).
    specs = sorted(glob.glob(os.path.join(td, "nfd", "*.yaml")))
    nodes = sorted(glob.glob(os.path.join(td, "check", "nodes", "*.json")))[:3]
    for f in specs:
        with open(f, "rb") as fh:
            spec = fh.read()
        base = os.path.basename(f)
        write(base, spec)
        for n in nodes:
            with open(n, "rb") as fh:
                write(base + "-" + os.path.basename(n), spec + b"\0" + fh.read())
elif target == "pci_ids":
    with open(os.path.join(td, "hosts", "pci.ids"), "rb") as fh:
        fixture = fh.read()
    write("fixture", fixture)
    # Slices of the fixture, and pieces of the system's database when one
    # is installed (4 KiB each, one in eight: small inputs run faster).
    lines = fixture.split(b"\n")
    for i in range(0, len(lines), 8):
        write(f"fixture-{i}", b"\n".join(lines[i:i + 16]))
    for path in ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"):
        if os.path.exists(path):
            with open(path, "rb") as fh:
                db = fh.read()
            for i, start in enumerate(range(0, len(db), 32 * 1024)):
                write(f"system-{i}", db[start:start + 4 * 1024])
            break
elif target == "registry_response":
    bodies = [d for n, d in docs() if n.endswith(".json")][:12]
    for i, body in enumerate(bodies):
        try:
            mt = json.loads(body).get("mediaType") or "application/vnd.oci.image.index.v1+json"
        except Exception:
            mt = "application/json"
        dg = "sha256:" + hashlib.sha256(body).hexdigest()
        ok = f"200\nContent-Type: {mt}\nDocker-Content-Digest: {dg}\n\n".encode() + body
        write(f"ok-{i}", bytes([i % 2]) + ok)
    write("404", b"\x00404\nContent-Type: application/json\n\n{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"no\"}]}")
    write("429", b"\x04429\nRetry-After: 0\n\n\x00200\n\n{}")
    write("bad-digest", b"\x00200\nDocker-Content-Digest: sha256:" + b"0" * 64 + b"\n\n{}")
    write("bearer", b"\x00401\nWWW-Authenticate: Bearer realm=\"http://127.0.0.1:5000/token\",service=\"reg\"\n\n"
          b"\x00200\n\n{\"token\":\"t\"}\x00200\nContent-Type: application/vnd.oci.image.index.v1+json\n\n"
          b"{\"schemaVersion\":2,\"manifests\":[]}")
    write("basic", b"\x00401\nWWW-Authenticate: Basic realm=\"x\"\n\n")
    write("raw", b"\x02HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n{}")
    write("raw-chunked", b"\x02HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    write("toolong", b"\x00200\nContent-Length: 999999999999\n\n")
elif target == "mirror_request":
    d = "sha256:" + "0" * 64
    paths = ["/v2/", "/v2/library/alpine/manifests/latest?ns=docker.io",
             f"/v2/a/blobs/{d}", f"/v2/127.0.0.1:5000/demo/manifests/{d}",
             "/v2/a/tags/list?n=10&last=x", "/v2/docker.io/library/x/manifests/v1",
             "/v2/a/blobs/uploads/", "/v2/_catalog", "/v2/a/manifests/-x"]
    bodies = [data for name, data in docs() if name.endswith(".json")][:10]
    for i, p in enumerate(paths):
        body = bodies[i % len(bodies)] if bodies else b"{}"
        write(f"{i}", p.encode() + b"\n" + bytes([i % 5, 0]) + body)
elif target == "index_edit":
    # Each document with edits that hit it: by position, platform and digest,
    # set and unset, new keys and existing ones, several at once (edits are
    # separated by 0x1e, fields by tabs; the document follows the first
    # newline).
    for name, data in docs():
        edits = ["0\tcom.example.k\tv", "1\torg.opencontainers.image.ref.name",
                 "linux/amd64\tcom.example.gpu\tcuda 12.4\x1e0\tcom.example.gpu",
                 "0\tk\tv\x1e0\tk", "linux/arm64\tx.y\t\u00e9\\\"\x7f"]
        try:
            doc = json.loads(data)
            for i, m in enumerate((doc.get("manifests") or [])[:3]):
                for k in list((m.get("annotations") or {}).keys())[:2]:
                    edits.append(f"{i}\t{k}\tnew")
                    edits.append(f"{i}\t{k}")
                if isinstance(m.get("digest"), str):
                    edits.append(f"{m['digest']}\tcom.example.d\tx")
        except Exception:
            pass
        for j, e in enumerate(edits):
            write(f"{name}-{j}", e.replace("\n", " ").encode("utf-8") + b"\n" + data)
elif target == "mirror_state":
    # A byte 1 names the rest by its own digest; 0 takes the first line as the name.
    for i, (name, data) in enumerate(d for d in docs() if d[0].endswith(".json")):
        if i >= 10:
            break
        write(f"self-{i}", b"\x01" + data)
        write(f"named-{i}", b"\x00sha256-" + b"0" * 64 + b"\n" + data)
    write("oci-index", b"\x01" + b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}')
    write("docker-list", b"\x01" + b'{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}')
    write("manifest", b"\x01" + b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}')
    write("bad-name", b"\x00sha256-../x\n{}")
elif target == "admission_review":
    # The testdata AdmissionReviews (first byte: the target's mode bits),
    # and pieces of them.
    for f in sorted(glob.glob(os.path.join(td, "admission", "*.json"))):
        with open(f, "rb") as fh:
            data = fh.read().replace(b"REGISTRY", b"127.0.0.1:5000")
        name = os.path.basename(f)
        for mode in range(4):
            write(f"{mode}-{name}", bytes([mode]) + data)
        doc = json.loads(data)
        doc["request"]["object"]["spec"]["nodeSelector"] = {"pool": "general"}
        write(f"general-{name}", b"\x01" + json.dumps(doc).encode())
        doc["request"]["kind"] = {"group": "apps", "version": "v1", "kind": "Deployment"}
        write(f"other-{name}", b"\x00" + json.dumps(doc).encode())
elif target == "signature":
    # A cosign signature manifest, a payload, a key (NUL-separated).
    import base64, hashlib
    digest = "sha256:" + hashlib.sha256(b"fuzz index").hexdigest()
    payload = json.dumps({"critical": {"identity": {"docker-reference": "registry.example.com/team/app"},
                                       "image": {"docker-manifest-digest": digest},
                                       "type": "cosign container image signature"}, "optional": None}).encode()
    sig = base64.b64encode(b"\x30\x44\x02\x20" + b"\x01" * 32 + b"\x02\x20" + b"\x02" * 32).decode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": "sha256:" + "0" * 64, "size": 2},
                           "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                                       "digest": "sha256:" + hashlib.sha256(payload).hexdigest(),
                                       "size": len(payload),
                                       "annotations": {"dev.cosignproject.cosign/signature": sig}}]}).encode()
    key = (b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + b"A" * 86 + b"==\n-----END PUBLIC KEY-----\n")
    write("full", manifest + b"\0" + payload + b"\0" + key)
    write("payload-only", b"\0" + payload)
    write("empty-layers", b'{"layers":[]}')
elif target == "sigstore_bundle":
    # A bundle, a bundle referrer manifest, an in-toto statement (NUL-separated).
    import base64, hashlib
    hexd = hashlib.sha256(b"fuzz index").hexdigest()
    bt = "application/vnd.dev.sigstore.bundle.v0.3+json"
    statement = json.dumps({"_type": "https://in-toto.io/Statement/v1",
                            "subject": [{"digest": {"sha256": hexd}}],
                            "predicateType": "https://sigstore.dev/cosign/sign/v1", "predicate": {}}).encode()
    sig = base64.b64encode(b"\x30\x44\x02\x20" + b"\x01" * 32 + b"\x02\x20" + b"\x02" * 32).decode()
    dsse = json.dumps({"mediaType": bt, "verificationMaterial": {"publicKey": {"hint": "k"}},
                       "dsseEnvelope": {"payload": base64.b64encode(statement).decode(),
                                        "payloadType": "application/vnd.in-toto+json",
                                        "signatures": [{"sig": sig, "keyid": ""}]}}).encode()
    msg = json.dumps({"mediaType": bt, "verificationMaterial": {"certificate": {"rawBytes": "AAAA"}},
                      "messageSignature": {"messageDigest": {"algorithm": "SHA2_256",
                                           "digest": base64.b64encode(bytes.fromhex(hexd)).decode()},
                                           "signature": sig}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "artifactType": bt,
                           "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                                      "digest": "sha256:" + "0" * 64, "size": 2},
                           "layers": [{"mediaType": bt, "digest": "sha256:" + "0" * 64, "size": 100}],
                           "subject": {"mediaType": "application/vnd.oci.image.index.v1+json",
                                       "digest": "sha256:" + hexd, "size": 10}}).encode()
    write("dsse", dsse + b"\0" + manifest + b"\0" + statement)
    write("keyless-message", msg + b"\0" + manifest)
    write("statement-only", b"\0\0" + statement)
elif target == "nfd_author":
    # First byte even: TOML, odd: YAML; the rest is the source.
    for name, lead in [("docs-example.toml", b"\x00"), ("docs-example.yaml", b"\x01"),
                       ("all-operators.yaml", b"\x01"), ("cuda-build.yaml", b"\x01")]:
        with open(os.path.join(td, "nfd", name), "rb") as fh:
            write(name, lead + fh.read())
elif target == "auth_file":
    # Credential files as podman, skopeo and Docker write them.
    import base64
    basic = base64.b64encode(b"user:secret-password").decode()
    write("auths", json.dumps({"auths": {"127.0.0.1:5000": {"auth": basic}}}))
    write("namespaced", json.dumps({"auths": {"127.0.0.1:5000/team": {"auth": basic},
                                              "127.0.0.1:5000": {"username": "u", "password": "p"}}}))
    write("identity", json.dumps({"auths": {"https://127.0.0.1:5000/v2/": {"identitytoken": "refresh-token-xyz"}}}))
    write("helpers", json.dumps({"auths": {"127.0.0.1:5000": {}}, "credsStore": "desktop",
                                 "credHelpers": {"127.0.0.1:5000": "ecr-login"}}))
    write("bad-auth", json.dumps({"auths": {"127.0.0.1:5000": {"auth": "not base64 !"}}}))
else:
    sys.exit(f"unknown target {target}")
