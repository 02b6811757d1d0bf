"""Ansible runs on a lab beyond Lab.playbook: one task or one role given as data (the bad-input
table, the default refusals), and a playbook read line by line that fires an action when a
line appears (the fault tests)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from support.lab import REPO, Lab


def run_task(lab: Lab, tmp_path: Path, hosts: str, module: str, args: dict, *extra: str,
             name: str = "case", task_extra: dict | None = None) -> subprocess.CompletedProcess:
    """A one-task playbook (YAML is JSON), so that lists and dicts pass as they are."""
    task = {"name": name, module: args, **(task_extra or {})}
    play = [{"name": name, "hosts": hosts, "gather_facts": False, "tasks": [task]}]
    path = tmp_path / f"{name}.yml"
    path.write_text(json.dumps(play, indent=1))
    return lab.playbook(str(path), *extra, check=False)


def run_role(lab: Lab, tmp_path: Path, hosts: str, role: str, variables: dict, *extra: str,
             name: str = "case") -> subprocess.CompletedProcess:
    """One role on some hosts with variables given as extra vars (they override group_vars,
    as an operator's -e would)."""
    play = [{"name": name, "hosts": hosts, "gather_facts": False, "roles": [{"role": role}]}]
    path = tmp_path / f"{name}.yml"
    path.write_text(json.dumps(play, indent=1))
    varfile = tmp_path / f"{name}.vars.json"
    varfile.write_text(json.dumps(variables))
    return lab.playbook(str(path), "-e", f"@{varfile}", *extra, check=False)


def stream_playbook(lab: Lab, playbook: str, trigger: str, action: Callable[[], None],
                    *args: str, timeout: float = 1200) -> tuple[int, str, float | None]:
    """Run a playbook, reading its output as it comes; when a line contains `trigger`, run
    `action` in a thread (so the run is not held up). Returns rc, output, and when (seconds
    into the run) the action started, or None if the trigger never came."""
    proc = subprocess.Popen(["ansible-playbook", "-i", str(lab.inventory), str(REPO / playbook), *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=lab.ansible_env())
    start, fired, lines = time.monotonic(), None, []
    threads = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if fired is None and trigger in line:
            fired = time.monotonic() - start
            thread = threading.Thread(target=action)
            thread.start()
            threads.append(thread)
    rc = proc.wait(timeout=timeout)
    for thread in threads:
        thread.join(timeout=120)
    return rc, "".join(lines), fired
