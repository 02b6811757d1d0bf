"""Shared by the scenarios' verify steps: Molecule's inventory, the scenario's lab and the
playbooks, driven as an operator would (the lab CLI, the docker CLI over each engine's socket,
ansible-playbook against the lab's inventory), through the project's tests/support/lab.py.

The one place where a verify step puts the project's tests/ on sys.path: Molecule runs
testinfra's pytest from the scenario's directory, so tests/conftest.py (which does it for the
project's own tests) is not loaded. Each scenario's tests/conftest.py puts this directory on
sys.path and imports this module; after that, `from support.lab import ...` works in the
scenario's checks as in the project's tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[2]))
if str(PROJECT / "tests") not in sys.path:
    sys.path.insert(0, str(PROJECT / "tests"))

from support.lab import Lab, recap, total_changed, wait_for  # noqa: E402

__all__ = ["INVENTORY", "PROJECT", "lab", "recap", "total_changed", "wait_for"]

# Molecule's inventory of the scenario, as testinfra reads it.
INVENTORY = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")


def lab() -> Lab:
    """The scenario's lab (up since the create step)."""
    the_lab = Lab(os.environ["SWARMOPS_MOLECULE_LAB"], os.environ["SWARMOPS_MOLECULE_SUBNET"])
    the_lab.refresh()
    return the_lab
