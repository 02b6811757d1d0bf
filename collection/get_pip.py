"""Stand-in for ansible-test's pip bootstrap script (get-pip), for a machine that cannot reach
the host ansible-test downloads it from but can reach the package index.

ansible-test makes each sanity test's virtualenv without pip, then runs its cached bootstrap
script with pip's options and the pinned infrastructure packages (pip==X). This does the same
with the standard library's ensurepip and the ordinary `pip install` from the configured index.
"""

import ensurepip
import os
import subprocess
import sys

# get-pip's own switches; pip install does not know them.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

config = os.environ.get("PIP_CONFIG_FILE")
ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null in this process; the install below needs the
# machine's pip configuration (index, certificates) back.
if config is None:
    os.environ.pop("PIP_CONFIG_FILE", None)
else:
    os.environ["PIP_CONFIG_FILE"] = config
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "-q", *args]))
