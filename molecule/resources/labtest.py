"""Shared by the lifecycle scenarios' verify steps: the scenario's lab and the playbooks,
driven as an operator would (the lab CLI, the docker CLI over each engine's socket,
ansible-playbook against the lab's inventory), through tests/labtools.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(PROJECT / "tests"))

from labtools import Lab, recap, total_changed, wait_for  # noqa: E402

__all__ = ["PROJECT", "lab", "recap", "total_changed", "wait_for"]


def lab() -> Lab:
    """The scenario's lab (up since the create step)."""
    the_lab = Lab(os.environ["SWARMOPS_MOLECULE_LAB"], os.environ["SWARMOPS_MOLECULE_SUBNET"])
    the_lab.refresh()
    return the_lab
