"""Shared by the scenario's testinfra checks: Molecule's inventory, as testinfra reads it."""

from __future__ import annotations

import os

import pytest
import testinfra.utils.ansible_runner

INVENTORY = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")


@pytest.fixture(scope="session")
def inventory():
    return testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
