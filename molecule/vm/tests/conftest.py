"""Shared by the scenario's checks: Molecule's inventory as testinfra reads it, and the lab."""

from __future__ import annotations

import os
import sys

import pytest
import testinfra.utils.ansible_runner

INVENTORY = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
# The lab helpers of the project's tests (tests/labtools.py), for the checks that drive the lab.
sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "tests"))


@pytest.fixture(scope="session")
def inventory():
    return testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)


@pytest.fixture(scope="session")
def vm_lab():
    """The scenario's VM lab, driven as an operator would (lab CLI, docker over SSH, playbooks)."""
    from labtools import Lab

    lab = Lab(os.environ["SWARMOPS_MOLECULE_LAB"], os.environ["SWARMOPS_MOLECULE_SUBNET"])
    lab.refresh()
    return lab
