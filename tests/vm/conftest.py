"""One VM lab for the VM tests (booting VMs under software emulation is slow: share it).

`vm_lab`: 1 manager + 2 workers + outsider1 as bare Debian 12 VMs (the lab's VM backend),
taken to a swarm by site.yml itself (the engine role installs docker.io from apt through the
lab's apt proxy), with the firewall opening ESP between members for encrypted overlays.
A machine that cannot run the VM backend gets a skip that says why.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labtools import PREFIX, Lab, subnet

from lab.vm import unavailable

# The VM tests take the /24 after the integration tests' labs, so both can share a prefix.
VM_NET_OFFSET = int(os.environ.get("SWARMOPS_TEST_VM_NET_OFFSET", "10"))
def pytest_collection_modifyitems(config, items):
    reason = unavailable()
    if reason:
        for item in items:
            if "/tests/vm/" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))


class VmLab(Lab):
    def up(self, managers: int = 1, workers: int = 2, lb: int = 0, outsiders: int = 0) -> str:
        out = self.cli(
            "up", "--backend", "vm", "--subnet", self.subnet,
            "--managers", str(managers), "--workers", str(workers),
            "--lb", str(lb), "--outsiders", str(outsiders),
            timeout=1800,
        ).stdout  # fmt: skip
        self.refresh()
        return out


@pytest.fixture(scope="session")
def vm_lab():
    lab = VmLab(f"{PREFIX}vm", subnet(VM_NET_OFFSET))
    lab.cli("down", check=False)
    try:
        print(lab.up(managers=1, workers=2, outsiders=1))
        lab.playbook("site.yml", "-e", "swarm_firewall_encrypted_overlays=true", timeout=2400)
        yield lab
    finally:
        lab.cli("down", check=False)
