"""Shared by the scenario's testinfra checks: Molecule's inventory, as testinfra reads it
(labtest.INVENTORY, from molecule/resources/labtest.py)."""

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
