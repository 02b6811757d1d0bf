"""A VM lab of its own for the firewalld backend: 1 manager, 1 worker and an outsider as
Debian 12 VMs (the lab's VM backend), firewalld installed by apt as an operator would, then
site.yml with swarm_firewall_backend=firewalld. Skipped where VMs cannot run; torn down after
(SWARMOPS_FIREWALLD_KEEP=1 keeps it, and a lab already up is reused). The helpers the tests
share with these fixtures are in support/vm_firewalld.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from support.lab import REPO, Lab
from support.vm_firewalld import FIREWALLD, MEMBERS, play

LAB_NAME = os.environ.get("SWARMOPS_FIREWALLD_LAB", "swf")
LAB_SUBNET = os.environ.get("SWARMOPS_FIREWALLD_SUBNET", "10.203.240.0/24")
# The packages come through the lab's apt proxy; the image's lists are empty until an update.
INSTALL_FIREWALLD = ("export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null && "
                     "apt-get install -y -q firewalld >/dev/null && systemctl enable --now firewalld && "
                     "firewall-cmd --state")


def _vm_backend_unavailable() -> str:
    proc = subprocess.run([sys.executable, "-m", "lab", "image", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    return "" if proc.returncode == 0 else (proc.stdout + proc.stderr).strip() or "lab image --check failed"


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
