"""The scenario's lab, for its verify step (molecule/resources/labtest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))

import labtest


@pytest.fixture(scope="session")
def lab():
    return labtest.lab()
