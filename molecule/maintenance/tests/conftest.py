"""The lifecycle scenarios' shared helpers (molecule/lifecycle_support.py) on the import path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
