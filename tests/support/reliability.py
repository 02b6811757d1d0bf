"""What the reliability suite's fixtures (tests/reliability/conftest.py) and tests share: the
suite's labs (names and /24s), the members of a converged lab, and the record of how the
converged lab got there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.lab import NET_BASE, PREFIX, Lab, subnet

OFFSET = 20  # first /24 of this suite, above tests/integration's
OFFSETS = {"converged": 0, "single": 1, "kill-site": 2, "kill-update": 3, "partition": 4, "upgrade": 5,
           "lifecycle-secrets": 6}
MEMBERS = ["manager1", "manager2", "manager3", "worker1", "worker2"]


def lab_for(key: str) -> Lab:
    """The lab of one role in this suite: name PREFIX + 'r' + short key, its own /24."""
    offset = OFFSET + OFFSETS[key]
    if NET_BASE + offset > 254:
        raise pytest.UsageError(f"SWARMOPS_TEST_NET={NET_BASE} leaves no room for the reliability labs "
                                f"(10.203.{NET_BASE + offset}.0/24); use 234 or less")
    # Lab bridges are named from the first 7 characters of the name: keep names short.
    short = {"converged": "c", "single": "s", "kill-site": "k1", "kill-update": "k2", "partition": "p",
             "upgrade": "u", "lifecycle-secrets": "ls"}[key]
    return Lab(f"{PREFIX}r{short}", subnet(offset))


class Converged:
    """The converged lab and what happened on the way there."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.fresh_before: dict = {}
        self.fresh_after: dict = {}
        self.check_run = None
        self.site_run = None
        self.site_seconds = 0.0
        self.log_path = Path()
