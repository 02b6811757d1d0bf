"""Test-side handle on a lab: bring it up, run things on its hosts, run Ansible against it.

Tests never reach into the lab's internals: they use the `lab` CLI, SSH, each engine's API
socket (through the docker CLI), and ansible-playbook, as an operator would.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE_ROOT = Path(os.environ.get("SWARMOPS_LAB_STATE", "/var/lib/swarmops-lab"))
# Debian 12's client (20.10, API 1.41), also against the lab's 26.1 and 28.5 engines: the
# client negotiates down to its own API version, which both still serve (their minimum is 1.24).
DOCKER = "/usr/bin/docker"

# Test labs take names and /24s of their own so that a developer's demo lab, CI, and
# helpers working in parallel never share one: SWARMOPS_TEST_PREFIX and SWARMOPS_TEST_NET
# (the third octet of the first /24; each test lab takes the next one).
# Under pytest-xdist (`make test` runs two workers) each worker is one more such party: worker
# N adds N to the prefix and takes the /24s from SWARMOPS_TEST_NET + 40 * N.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_WORKER_INDEX = int(_WORKER[2:]) if _WORKER.startswith("gw") else 0
PREFIX = os.environ.get("SWARMOPS_TEST_PREFIX", "swt") + (str(_WORKER_INDEX) if _WORKER else "")
NET_BASE = int(os.environ.get("SWARMOPS_TEST_NET", "1")) + 40 * _WORKER_INDEX

# The shared integration lab's engines (tests/integration/conftest.py): manager1, the first
# leader, on Debian 12's engine; a manager on each newer one and the workers on those two.
SHARED_ENGINES = {"manager1": "20.10", "manager2": "26.1", "manager3": "28.5", "worker1": "26.1", "worker2": "28.5"}


def subnet(offset: int) -> str:
    return f"10.203.{NET_BASE + offset}.0/24"


@dataclass
class Lab:
    name: str
    subnet: str
    hosts: dict[str, str] = field(default_factory=dict)  # name -> address
    engines: str = ""  # `lab up --engines`: HOST=SERIES,... (others run 20.10)
    engine_skip: str = ""  # why the lab runs fewer engine versions than asked ('' when it does not)

    # The lab CLI ----------------------------------------------------------------------------
    def cli(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "lab", "--name", self.name, *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def up(self, managers: int = 3, workers: int = 2, lb: int = 0, outsiders: int = 0, engine: str = "20.10",
           engines: str | None = None) -> str:
        if engines is not None:
            self.engines = engines
        out = self.cli(
            "up",
            "--subnet",
            self.subnet,
            "--managers",
            str(managers),
            "--workers",
            str(workers),
            "--lb",
            str(lb),
            "--outsiders",
            str(outsiders),
            "--engine",
            engine,
            "--engines",
            self.engines,
        ).stdout
        self.refresh()
        return out

    def refresh(self) -> None:
        status = json.loads(self.cli("status", "--json").stdout)
        self.hosts = {row["host"]: row["address"] for row in status}

    def down(self) -> str:
        return self.cli("down").stdout

    def status(self) -> list[dict]:
        return json.loads(self.cli("status", "--json").stdout)

    @property
    def state_dir(self) -> Path:
        return STATE_ROOT / self.name

    @property
    def inventory(self) -> Path:
        return self.state_dir / "hosts.yml"

    @property
    def key(self) -> Path:
        return self.state_dir / "id_ed25519"

    # Hosts ----------------------------------------------------------------------------------
    def ssh_argv(self, host: str, command: str) -> list[str]:
        """The ssh command line that runs `command` as root on a lab host."""
        options = ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR",
                   "BatchMode=yes", "ConnectTimeout=5"]
        return ["ssh", "-i", str(self.key), *[a for o in options for a in ("-o", o)],
                f"root@{self.hosts[host]}", command]

    def ssh(self, host: str, command: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = self.ssh_argv(host, command)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{host}: {command!r} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def docker_host(self, host: str) -> str:
        return f"unix://{self.state_dir / 'hosts' / host / 'run' / 'docker.sock'}"

    def docker(self, host: str, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """The docker CLI against a host's engine, through its socket (no SSH)."""
        env = {**os.environ, "DOCKER_HOST": self.docker_host(host)}
        proc = subprocess.run([DOCKER, *args], capture_output=True, text=True, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{host}: docker {shlex.join(args)} failed:\n{proc.stderr}")
        return proc

    def docker_json(self, host: str, *args: str) -> object:
        return json.loads(self.docker(host, *args).stdout)

    # Ansible --------------------------------------------------------------------------------
    def ansible_env(self) -> dict[str, str]:
        venv_bin = str(Path(sys.executable).parent)
        return {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_FORCE_COLOR": "0",
            "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
        }

    def playbook(
        self, playbook: str, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess:
        return self._ansible(["ansible-playbook", "-i", str(self.inventory), str(REPO / playbook), *args],
                             f"ansible-playbook {playbook}", check, timeout)

    def module(
        self, pattern: str, module: str, args: str = "", *extra: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        """Run one module ad hoc (`ansible PATTERN -m MODULE -a ARGS`)."""
        return self._ansible(["ansible", "-i", str(self.inventory), pattern, "-m", module, "-a", args, *extra],
                             f"ansible -m {module} {args!r}", check, timeout)

    def _ansible(self, argv: list[str], what: str, check: bool, timeout: float) -> subprocess.CompletedProcess:
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=self.ansible_env(), timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{what} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
        return proc

    # Swarm helpers --------------------------------------------------------------------------
    def form_swarm(self) -> None:
        """A plain-CLI swarm over SSH (managers one at a time, workers in parallel), for tests
        that need a swarm but do not test how swarmops forms one."""
        managers = sorted(h for h in self.hosts if h.startswith("manager"))
        workers = sorted(h for h in self.hosts if h.startswith("worker"))
        first, addr = managers[0], self.hosts[managers[0]]
        self.ssh(first, f"docker swarm init --advertise-addr {addr}")
        mtoken = self.ssh(first, "docker swarm join-token -q manager").stdout.strip()
        wtoken = self.ssh(first, "docker swarm join-token -q worker").stdout.strip()
        for m in managers[1:]:
            self.ssh(m, f"docker swarm join --advertise-addr {self.hosts[m]} --token {mtoken} {addr}:2377")
        joins = [
            subprocess.Popen(
                self.ssh_argv(w, f"docker swarm join --advertise-addr {self.hosts[w]} --token {wtoken} {addr}:2377"),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for w in workers
        ]
        for w, proc in zip(workers, joins, strict=False):
            out, _ = proc.communicate(timeout=120)
            if proc.returncode != 0:
                raise AssertionError(f"{w}: swarm join failed: {out}")

    def nodes(self, via: str = "manager1") -> dict[str, dict]:
        """hostname -> {status, availability, manager} as the managers see it."""
        out = self.docker(via, "node", "ls", "--format", "{{json .}}").stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return {
            r["Hostname"]: {"status": r["Status"], "availability": r["Availability"], "manager": r["ManagerStatus"]}
            for r in rows
        }


def wait_for(predicate, timeout: float = 60, interval: float = 0.5, what: str = "condition"):
    """Poll until predicate() is truthy; return its value or fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except AssertionError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of an ansible-playbook run: host -> {ok, changed, failed, ...}."""
    hosts = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        m = re.match(r"^(\S+)\s+:\s+(.*)$", line.strip())
        if m:
            hosts[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return hosts


def total_changed(output: str) -> int:
    return sum(h.get("changed", 0) for h in recap(output).values())
