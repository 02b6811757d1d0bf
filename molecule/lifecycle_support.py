"""Shared by the lifecycle scenarios' checks (maintenance, scale-remove): run a playbook against
the scenario's lab as an operator would and read its output - the recap per host and which
tasks changed on which host (the default callback's lines; only ansible-core is installed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")
TASK = re.compile(r"^TASK \[(.+?)\] \*+")
CHANGED = re.compile(r"^changed: \[([^\]\s]+)")


@dataclass
class Run:
    args: list[str]
    rc: int
    output: str
    seconds: float
    recap: dict[str, dict[str, int]] = field(default_factory=dict)  # host -> ok/changed/failed...
    changed_tasks: dict[str, list[str]] = field(default_factory=dict)  # host -> tasks that changed

    def changed(self, host: str) -> int:
        return self.recap.get(host, {}).get("changed", 0)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def lab_name() -> str:
    return os.environ["SWARMOPS_MOLECULE_LAB"]


def inventory() -> str:
    return os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")


def parse(output: str) -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
    recap: dict[str, dict[str, int]] = {}
    changed: dict[str, list[str]] = {}
    task = ""
    for line in output.splitlines():
        if m := TASK.match(line):
            task = m.group(1)
        elif m := CHANGED.match(line):
            changed.setdefault(m.group(1), []).append(task)
        elif m := RECAP.match(line):
            recap[m.group(1)] = {"ok": int(m.group(2)), "changed": int(m.group(3)),
                                 "unreachable": int(m.group(4)), "failed": int(m.group(5))}
    return recap, changed


def playbook(path: str, *args: str, timeout: float = 1200) -> Run:
    """ansible-playbook from the repository root, on the scenario's inventory; the output is
    echoed so that the scenario's log shows what an operator would see."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    argv = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", inventory(), path, *args]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    run = Run(argv[2:], proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)
    run.recap, run.changed_tasks = parse(proc.stdout)
    print(f"\n$ ansible-playbook {' '.join(run.args)}  # rc={run.rc} in {run.seconds:.0f} s")
    print(run.tail(25))
    return run


def lab(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "lab", "--name", lab_name(), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout
