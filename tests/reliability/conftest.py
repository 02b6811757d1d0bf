"""Labs of the reliability suite.

`converged_lab` (session): 3 managers, 2 workers, lb1 and outsider1, taken from bare
engines to a converged cluster by site.yml, once. On the way it records what the check-mode
run on the fresh lab did and keeps the -vvv output of the real run for the secrets scan.
Tests on it must leave it as they found it.

`single_lab` (session): 1 manager, 1 worker and outsider1, a swarm formed by plain CLI,
for inputs that need a lone manager (demote or leave the last one) or a host that can reach
2377 without being a member (wrong join tokens), and for the secrets module run.

Destructive tests (faults) make labs of their own with `own_lab`.

Names and subnets (support.reliability.lab_for): SWARMOPS_TEST_PREFIX + "r..." and
SWARMOPS_TEST_NET + 20 onwards, so that the suite runs in one pytest session with
tests/integration (which takes NET + 0..19) without sharing a lab or a /24.
"""

from __future__ import annotations

import os
import time

import pytest

from support.lab import Lab
from support.reliability import Converged, lab_for
from support.snapshot import snapshot


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="the lab needs root")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def converged(tmp_path_factory) -> Converged:
    lab = lab_for("converged")
    lab.cli("down", check=False)
    try:
        lab.up(managers=3, workers=2, lb=1, outsiders=1)
        record = Converged(lab)
        # Check mode on the fresh lab first: it must change nothing on any host.
        record.fresh_before = snapshot(lab, objects=True)
        record.check_run = lab.playbook("site.yml", "--check", "--diff", check=False)
        record.fresh_after = snapshot(lab, objects=True)
        # Then the real bootstrap, at -vvv and with Ansible's own log, which the secrets scan reads.
        record.log_path = tmp_path_factory.mktemp("converged") / "ansible.log"
        os.environ["ANSIBLE_LOG_PATH"] = str(record.log_path)
        start = time.monotonic()
        try:
            record.site_run = lab.playbook("site.yml", "-vvv")
        finally:
            os.environ.pop("ANSIBLE_LOG_PATH", None)
        record.site_seconds = time.monotonic() - start
        yield record
    finally:
        lab.cli("down", check=False)


@pytest.fixture(scope="session")
def converged_lab(converged: Converged) -> Lab:
    return converged.lab


@pytest.fixture(scope="session")
def single_lab():
    lab = lab_for("single")
    lab.cli("down", check=False)
    try:
        lab.up(managers=1, workers=1, outsiders=1)
        lab.form_swarm()
        yield lab
    finally:
        lab.cli("down", check=False)


@pytest.fixture
def own_lab():
    """Factory: a lab of a test's own (by suite key), removed after the test."""
    made: list[Lab] = []

    def make(key: str, **shape) -> Lab:
        lab = lab_for(key)
        lab.cli("down", check=False)
        made.append(lab)
        lab.up(**shape)
        return lab

    yield make
    for lab in made:
        lab.cli("down", check=False)
