"""Running commands on the machine, with errors that say what failed, and the machine-wide
lock on a cache folder that every lab and worktree shares."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path


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


@contextlib.contextmanager
def cache_lock(folder: Path) -> Iterator[None]:
    """One writer at a time in a cache folder shared by every lab and worktree on the machine
    (the VM base image, the engine packages)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
