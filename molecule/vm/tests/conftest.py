"""Shared by the scenario's checks: Molecule's inventory as testinfra reads it, and the lab
(molecule/resources/labtest.py, which also puts the project's tests/support on the path for
the checks that drive the lab)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import testinfra.utils.ansible_runner

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))

import labtest


@pytest.fixture(scope="session")
def inventory():
    return testinfra.utils.ansible_runner.AnsibleRunner(labtest.INVENTORY)


@pytest.fixture(scope="session")
def vm_lab():
    """The scenario's VM lab, driven as an operator would (lab CLI, docker over SSH, playbooks)."""
    return labtest.lab()
