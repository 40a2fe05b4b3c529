"""Pushing to a registry over plain HTTP, for the bench scripts' inline
Python (bench/lib.sh puts this folder on PYTHONPATH)."""
import hashlib
import urllib.request


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


class Pusher:
    def __init__(self, port, repo):
        self.base = f"http://127.0.0.1:{port}"
        self.repo = repo

    def req(self, method, url, data=None, ctype=None):
        r = urllib.request.Request(url, data=data, method=method)
        if ctype:
            r.add_header("Content-Type", ctype)
        with urllib.request.urlopen(r) as resp:
            return resp.status, resp.headers

    def blob(self, b):
        _, h = self.req("POST", f"{self.base}/v2/{self.repo}/blobs/uploads/")
        loc = h["Location"]
        if loc.startswith("/"):
            loc = self.base + loc
        sep = "&" if "?" in loc else "?"
        self.req("PUT", f"{loc}{sep}digest={sha(b)}", b, "application/octet-stream")
        return {"digest": sha(b), "size": len(b)}

    def manifest(self, ref, b, mt):
        self.req("PUT", f"{self.base}/v2/{self.repo}/manifests/{ref}", b, mt)
        return sha(b)
