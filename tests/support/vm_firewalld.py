"""What the firewalld VM stage's fixtures (tests/vm_firewalld/conftest.py) and tests share: the
members and the site.yml options of the firewalld backend, a playbook run with its recap and
duration, and reachability checks run on the lab's hosts."""

from __future__ import annotations

import shlex
import subprocess
import time

from support.lab import Lab, recap, wait_for

MEMBERS = ("manager1", "worker1")
FIREWALLD = ("-e", "swarm_firewall_backend=firewalld", "-e", "swarm_firewall_encrypted_overlays=true")


class Run:
    """One ansible-playbook run: its output, recap and duration."""

    def __init__(self, proc: subprocess.CompletedProcess, seconds: float) -> None:
        self.stdout, self.rc, self.seconds = proc.stdout, proc.returncode, seconds
        self.recap = recap(proc.stdout)

    @property
    def changed(self) -> int:
        return sum(h.get("changed", 0) for h in self.recap.values())


def play(lab: Lab, playbook: str, *args: str, check: bool = True) -> Run:
    start = time.monotonic()
    proc = lab.playbook(playbook, *args, check=check, timeout=3600)
    run = Run(proc, time.monotonic() - start)
    print(f"\n{playbook} {' '.join(args)}: {run.seconds:.0f} s, changed={run.changed}")
    return run


def reachable_tcp(lab: Lab, src: str, dst: str, port: int) -> bool:
    """Whether src opens a TCP connection to dst:port within 5 s (refused or dropped: False)."""
    script = (f"import socket; socket.create_connection(({lab.hosts[dst]!r}, {port}), timeout=5)")
    return lab.ssh(src, f"python3 -c {shlex.quote(script)}", check=False, timeout=60).returncode == 0


def http_get(lab: Lab, src: str, dst: str, port: int) -> str:
    script = (f"import urllib.request; print(urllib.request.urlopen('http://{lab.hosts[dst]}:{port}/', "
              f"timeout=10).read().decode().strip())")
    proc = lab.ssh(src, f"python3 -c {shlex.quote(script)}", check=False, timeout=60)
    assert proc.returncode == 0, f"{src} -> {dst}:{port}: {proc.stderr.strip()[-300:]}"
    return proc.stdout.strip()


def nodes_ready(lab: Lab) -> dict[str, str]:
    out = lab.ssh("manager1", "docker node ls --format '{{.Hostname}} {{.Status}}'", check=False).stdout
    return dict(line.split() for line in out.splitlines() if len(line.split()) == 2)


def wait_ready(lab: Lab, timeout: float = 600) -> None:
    wait_for(lambda: nodes_ready(lab) == {h: "Ready" for h in MEMBERS}, timeout=timeout, interval=5,
             what="every node Ready")  # fmt: skip
