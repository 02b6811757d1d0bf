"""The one place that makes code importable in tests; no other file touches sys.path.

- The repository root on sys.path: `lab`, `plugins` and `bench` as packages, and the modules of
  `library/` (no __init__.py: a namespace package) as `from library import swarm_ca`.
- module_utils/ on the search path of `ansible.module_utils`, so that module_utils is imported
  the way the modules import it: `from ansible.module_utils.swarmops.quorum import Manager`.
- tests/ itself on sys.path: the shared helpers are the `support` package
  (`from support.lab import Lab`). Fixtures stay in the conftest.py files (pytest finds them);
  nothing imports from a conftest.

pytest loads this file first, before any other conftest.py and test module under tests/, in
whatever order the directories are given. (Molecule's verify steps run outside tests/ and do
not load it: molecule/resources/labtest.py says how they find `support`.)
"""

import sys
from pathlib import Path

import ansible.module_utils

REPO = Path(__file__).resolve().parent.parent
for path in (REPO / "tests", REPO):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
if str(REPO / "module_utils") not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(str(REPO / "module_utils"))
