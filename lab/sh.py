"""Running commands on the machine, with errors that say what failed."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence


class LabError(RuntimeError):
    """A lab operation failed; the message is meant for a person."""


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    input: str | bytes | None = None,
    timeout: float | None = 120,
) -> subprocess.CompletedProcess[str]:
    """Run argv, capture its output as text, and raise LabError on failure when check is set."""
    data = input.decode() if isinstance(input, bytes) else input
    try:
        proc = subprocess.run(list(argv), input=data, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise LabError(f"command not found: {argv[0]} (is it installed? try `make deps`)") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout}s: {' '.join(argv)}") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise LabError(f"`{' '.join(argv)}` failed ({proc.returncode}): {detail}")
    return proc


def ok(argv: Sequence[str], timeout: float | None = 30) -> bool:
    """True when argv exits 0; never raises for a failing command."""
    try:
        return run(argv, check=False, timeout=timeout).returncode == 0
    except LabError:
        return False
