"""The one way swarmops' modules read and write a whole file: read its text, and write new text
next to it with mkstemp, then move it over the old one with AnsibleModule.atomic_move (which keeps
SELinux contexts and never leaves a half-written file), after an optional validation of the new
file by a command (`%s` is its path)."""

from __future__ import annotations

import os
import tempfile
from typing import Any


def read_text(path: str) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def write_atomically(module: Any, path: str, text: str, validate: str | None = None, mode: int | None = None,
                     folder_mode: int | None = None) -> None:
    """Write `text` to `path` in one step; fail the module, leaving `path` as it was, when the
    folder is missing (made with `folder_mode` when given) or `validate` refuses the new file.
    `mode` sets the file's permissions (else a new file gets the umask's, an old one keeps its)."""
    folder = os.path.dirname(path) or "."
    if folder_mode is not None:
        os.makedirs(folder, mode=folder_mode, exist_ok=True)
    if not os.path.isdir(folder):
        module.fail_json(msg=f"path: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if validate:
            command = validate.replace("%s", tmp) if "%s" in validate else f"{validate} {tmp}"
            rc, out, err = module.run_command(command)
            if rc != 0:
                module.fail_json(msg=f"validate: {validate} refused the new {path}: {(err or out).strip()}")
        module.atomic_move(tmp, path)
        if mode is not None:
            os.chmod(path, mode)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
