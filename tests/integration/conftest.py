"""Labs for the integration tests.

`shared_lab`: one 3-manager + 2-worker lab (plus lb1 and outsider1) with a swarm formed by
plain CLI commands, shared by every test that leaves it as it found it. Its engines are of
three versions (SHARED_ENGINES: a manager on each of 20.10, 26.1 and 28.5, the workers on the
two newer ones), so every test on it runs against a mixed-version cluster. A machine that
cannot fetch the newer engines runs it on 20.10 alone, and the tests of the mix skip, saying
why. Tests that break a
lab (stale cleanup, lab down, quorum loss) ask `make_lab` for a small one of their own.
Every lab is torn down at the end, pass or fail.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support.lab import PREFIX, REPO, SHARED_ENGINES, Lab, subnet


def engines_unavailable(series: set[str]) -> str:
    """Why these engine series cannot be fetched here ('' when they can, or are cached)."""
    proc = subprocess.run([sys.executable, "-m", "lab", "engines", *sorted(series)], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    return "" if proc.returncode == 0 else (proc.stdout + proc.stderr).strip()


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="the lab needs root")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_lab():
    lab = Lab(f"{PREFIX}s", subnet(0))
    lab.cli("down", check=False)
    lab.engine_skip = engines_unavailable(set(SHARED_ENGINES.values()))
    engines = "" if lab.engine_skip else ",".join(f"{h}={v}" for h, v in SHARED_ENGINES.items())
    try:
        lab.up(managers=3, workers=2, lb=1, outsiders=1, engines=engines)
        lab.form_swarm()
        yield lab
    finally:
        lab.cli("down", check=False)


@pytest.fixture
def make_lab():
    """Factory for a lab of a test's own; each gets the next free /24 and is removed after."""
    made: list[Lab] = []

    def make(managers: int = 1, workers: int = 1, **kwargs) -> Lab:
        lab = Lab(f"{PREFIX}d{len(made) + 1}", subnet(len(made) + 1))
        lab.cli("down", check=False)
        made.append(lab)
        lab.up(managers=managers, workers=workers, **kwargs)
        return lab

    yield make
    for lab in made:
        lab.cli("down", check=False)
