"""The probe image every lab engine gets, since no registry can be reached from the lab.

Built from busybox-static: `swarmops/probe:1` and `:2` serve a page naming their version and
host on port 80; `swarmops/probe:broken` exits 1 at once (a rollout that must fail). Every
command exits promptly on SIGTERM, so that drains, updates and scale-downs measure swarm and
swarmops rather than the engine's 10 s stop grace period (see shared/LAB.md).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from . import engine
from .sh import LabError

BUSYBOX = Path("/bin/busybox")
REPO = "swarmops/probe"
TAGS = ("1", "2", "broken")

# PROBE_NODE, when a service sets it (e.g. to {{.Node.Hostname}}), names the node on the page.
PROBE_SCRIPT = """#!/bin/sh
# Serve a page naming this probe's version and host; exit 0 at once on SIGTERM.
version=$(cat /etc/probe-version)
mkdir -p /tmp/www
echo "swarmops probe $version on ${PROBE_NODE:-$(hostname)}" > /tmp/www/index.html
httpd -f -p "${PROBE_PORT:-80}" -h /tmp/www &
trap 'kill $! 2>/dev/null; exit 0' TERM INT
wait
"""

BROKEN_SCRIPT = """#!/bin/sh
echo "swarmops probe: broken on purpose" >&2
exit 1
"""


def _applets() -> list[str]:
    import subprocess

    out = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True)
    return [a for a in out.stdout.split() if a and "/" not in a and a != "busybox"]


def _add(
    tar: tarfile.TarFile,
    name: str,
    data: bytes | None = None,
    mode: int = 0o644,
    kind: bytes = tarfile.REGTYPE,
    link: str = "",
) -> None:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.type = kind
    info.linkname = link
    info.mtime = 0
    if data is not None:
        info.size = len(data)
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def rootfs_tar(tag: str) -> bytes:
    """A reproducible rootfs tarball for one tag of the probe image."""
    if not BUSYBOX.exists():
        raise LabError(f"{BUSYBOX} is missing: apt-get install busybox-static (make deps)")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "proc", "sys", "dev", "www"):
            _add(tar, d, mode=0o755, kind=tarfile.DIRTYPE)
        _add(tar, "tmp", mode=0o1777, kind=tarfile.DIRTYPE)
        _add(tar, "bin/busybox", BUSYBOX.read_bytes(), mode=0o755)
        for applet in _applets():
            _add(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox")
        _add(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
        _add(tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        _add(tar, "etc/probe-version", f"v{tag}\n".encode())
        _add(tar, "bin/probe", PROBE_SCRIPT.encode(), mode=0o755)
        _add(tar, "bin/probe-broken", BROKEN_SCRIPT.encode(), mode=0o755)
    return buf.getvalue()


def changes(tag: str) -> list[str]:
    cmd = "/bin/probe-broken" if tag == "broken" else "/bin/probe"
    return [f'CMD ["{cmd}"]', "EXPOSE 80", f"LABEL org.swarmops.probe={tag}"]


def build_all() -> dict[str, bytes]:
    return {tag: rootfs_tar(tag) for tag in TAGS}


def import_missing(sock_path: str, tars: dict[str, bytes]) -> int:
    """Import each probe tag this engine does not have yet; return how many were imported."""
    present = engine.image_ids(sock_path)
    done = 0
    for tag, tar in tars.items():
        if f"{REPO}:{tag}" not in present:
            engine.import_image(sock_path, tar, REPO, tag, changes(tag))
            done += 1
    return done
