"""The few Engine API calls the lab itself needs, over a host's unix socket.

The lab reaches each engine through the socket file in that host's own /run, seen from the
machine, so it needs neither SSH nor the docker CLI nor a Python package: `lab` runs on a bare
Debian python3. Ansible modules use module_utils/swarmops, never this.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
from typing import Any


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def request(
    sock_path: str,
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, bytes]:
    conn = _UnixHTTPConnection(sock_path, timeout)
    try:
        conn.request(method, url, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def ping(sock_path: str, timeout: float = 2) -> bool:
    try:
        status, body = request(sock_path, "GET", "/_ping", timeout=timeout)
    except OSError:
        return False
    return status == 200 and body == b"OK"


def info(sock_path: str, timeout: float = 5) -> dict[str, Any] | None:
    try:
        status, body = request(sock_path, "GET", "/info", timeout=timeout)
    except OSError:
        return None
    return json.loads(body) if status == 200 else None


def wait_ping(sock_path: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping(sock_path):
            return True
        time.sleep(0.1)
    return False


def import_image(sock_path: str, tar: bytes, repo: str, tag: str, changes: list[str]) -> None:
    """`docker import` of a rootfs tarball, with Dockerfile-style changes (CMD ...)."""
    query = [("fromSrc", "-"), ("repo", repo), ("tag", tag)] + [("changes", c) for c in changes]
    url = "/images/create?" + urllib.parse.urlencode(query)
    status, body = request(sock_path, "POST", url, body=tar, headers={"Content-Type": "application/x-tar"}, timeout=60)
    if status != 200 or b'"error"' in body:
        raise RuntimeError(f"import of {repo}:{tag} failed ({status}): {body[-300:]!r}")


def image_ids(sock_path: str) -> dict[str, str]:
    """Map of repo:tag -> image id on this engine."""
    status, body = request(sock_path, "GET", "/images/json")
    if status != 200:
        return {}
    out = {}
    for image in json.loads(body):
        for ref in image.get("RepoTags") or []:
            out[ref] = image["Id"]
    return out
