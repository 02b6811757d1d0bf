"""Make the repository's code importable in tests, one way for every test: the repository root
on sys.path (lab, plugins, module_utils as a package) and module_utils/ on the search path of
`ansible.module_utils`, which is how modules import it (`ansible.module_utils.swarmops...`)."""

import sys
from pathlib import Path

import ansible.module_utils

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
if str(REPO / "module_utils") not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(str(REPO / "module_utils"))
