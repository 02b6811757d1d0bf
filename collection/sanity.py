"""Run `ansible-test sanity` on the generated collection (what `make sanity` runs).

ansible-test keeps its virtualenvs and download cache under ~/.ansible/test; this gives it a
home of its own in build/ (kept between runs, so the virtualenvs are made once), where its pip
bootstrap is collection/get_pip.py unless ansible-test has downloaded the real one there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import ansible_test
import yaml

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "build" / "ansible-test-home"
PYTHON = "3.11"


def pip_bootstrap_version() -> str:
    """The pip version ansible-test bootstraps into a new virtualenv (read from its source)."""
    source = (Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
    return re.search(r"pip='([0-9.]+)'", source).group(1)


def main() -> int:
    meta = yaml.safe_load((ROOT / "collection/galaxy.yml").read_text())
    collection = ROOT / "build" / "ansible_collections" / meta["namespace"] / meta["name"]
    if not collection.is_dir():
        print(f"sanity: {collection} is missing; run `make collection` first", file=sys.stderr)
        return 2
    cache = HOME / ".ansible/test/cache"
    cache.mkdir(parents=True, exist_ok=True)
    bootstrap = cache / f"get_pip_{pip_bootstrap_version().replace('.', '_')}.py"
    if not bootstrap.exists():
        shutil.copy2(ROOT / "collection/get_pip.py", bootstrap)
    env = dict(os.environ, HOME=str(HOME), LC_ALL="C.UTF-8")
    start = time.monotonic()
    rc = subprocess.call(["ansible-test", "sanity", "--python", PYTHON, "--color", "no", *sys.argv[1:]],
                         cwd=collection, env=env)
    print(f"sanity: {'passed' if rc == 0 else 'FAILED'} in {time.monotonic() - start:.0f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
