"""A VM lab of its own for the firewalld backend: 1 manager, 1 worker and an outsider as
Debian 12 VMs (the lab's VM backend), firewalld installed by apt as an operator would, then
site.yml with swarm_firewall_backend=firewalld. Skipped where VMs cannot run; torn down after
(SWARMOPS_FIREWALLD_KEEP=1 keeps it, and a lab already up is reused)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from labtools import Lab, recap, wait_for  # noqa: E402

LAB_NAME = os.environ.get("SWARMOPS_FIREWALLD_LAB", "swf")
LAB_SUBNET = os.environ.get("SWARMOPS_FIREWALLD_SUBNET", "10.203.240.0/24")
MEMBERS = ("manager1", "worker1")
FIREWALLD = ("-e", "swarm_firewall_backend=firewalld", "-e", "swarm_firewall_encrypted_overlays=true")
# The packages come through the lab's apt proxy; the image's lists are empty until an update.
INSTALL_FIREWALLD = ("export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null && "
                     "apt-get install -y -q firewalld >/dev/null && systemctl enable --now firewalld && "
                     "firewall-cmd --state")


def _vm_backend_unavailable() -> str:
    proc = subprocess.run([sys.executable, "-m", "lab", "image", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    return "" if proc.returncode == 0 else (proc.stdout + proc.stderr).strip() or "lab image --check failed"


class Run:
    """One ansible-playbook run: its output, recap and duration."""

    def __init__(self, proc: subprocess.CompletedProcess, seconds: float) -> None:
        self.stdout, self.rc, self.seconds = proc.stdout, proc.returncode, seconds
        self.recap = recap(proc.stdout)

    @property
    def changed(self) -> int:
        return sum(h.get("changed", 0) for h in self.recap.values())


def play(lab: Lab, playbook: str, *args: str, check: bool = True) -> Run:
    start = time.monotonic()
    proc = lab.playbook(playbook, *args, check=check, timeout=3600)
    run = Run(proc, time.monotonic() - start)
    print(f"\n{playbook} {' '.join(args)}: {run.seconds:.0f} s, changed={run.changed}")
    return run


@pytest.fixture(scope="session")
def fw_lab():
    reason = _vm_backend_unavailable()
    if reason:
        pytest.skip(f"this machine cannot run the VM backend: {reason}")
    lab = Lab(LAB_NAME, LAB_SUBNET)
    start = time.monotonic()
    lab.cli("up", "--backend", "vm", "--subnet", LAB_SUBNET, "--managers", "1", "--workers", "1",
            "--outsiders", "1", timeout=1800)  # fmt: skip
    lab.refresh()
    print(f"\nlab up: {time.monotonic() - start:.0f} s")
    try:
        yield lab
    finally:
        if os.environ.get("SWARMOPS_FIREWALLD_KEEP") != "1":
            lab.down()


@pytest.fixture(scope="session")
def converged(fw_lab):
    """firewalld installed and running on the members (before the engine, as on a host that
    uses it), then site.yml with the firewalld backend: the first run's result."""
    for host in MEMBERS:
        fw_lab.ssh(host, INSTALL_FIREWALLD, timeout=1200)
    first = play(fw_lab, "site.yml", *FIREWALLD)
    return first


def reachable_tcp(lab: Lab, src: str, dst: str, port: int) -> bool:
    """Whether src opens a TCP connection to dst:port within 5 s (refused or dropped: False)."""
    script = (f"import socket; socket.create_connection(({lab.hosts[dst]!r}, {port}), timeout=5)")
    return lab.ssh(src, f"python3 -c {shlex.quote(script)}", check=False, timeout=60).returncode == 0


def http_get(lab: Lab, src: str, dst: str, port: int) -> str:
    script = (f"import urllib.request; print(urllib.request.urlopen('http://{lab.hosts[dst]}:{port}/', "
              f"timeout=10).read().decode().strip())")
    proc = lab.ssh(src, f"python3 -c {shlex.quote(script)}", check=False, timeout=60)
    assert proc.returncode == 0, f"{src} -> {dst}:{port}: {proc.stderr.strip()[-300:]}"
    return proc.stdout.strip()


def nodes_ready(lab: Lab) -> dict[str, str]:
    out = lab.ssh("manager1", "docker node ls --format '{{.Hostname}} {{.Status}}'", check=False).stdout
    return dict(line.split() for line in out.splitlines() if len(line.split()) == 2)


def wait_ready(lab: Lab, timeout: float = 600) -> None:
    wait_for(lambda: nodes_ready(lab) == {h: "Ready" for h in MEMBERS}, timeout=timeout, interval=5,
             what="every node Ready")  # fmt: skip
