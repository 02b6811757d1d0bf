"""What the benchmarks stand on: fresh labs, timed ansible-playbook runs, SSH, memory sampling.

Everything is driven as an operator would: the `lab` CLI, ansible-playbook, ssh. A playbook
run is timed from the outside (wall time, what an operator waits) and from the inside (the
bench_timer callback: per-task seconds and the recap's changed count).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
INVENTORY_DIR = BENCH / "inventory"
OUT = BENCH / "out"
STATE_ROOT = Path(os.environ.get("SWARMOPS_LAB_STATE", "/var/lib/swarmops-lab"))

# community.docker comes with the `ansible` package, which is never installed in the
# project's own virtualenv: the bench keeps a virtualenv of its own for contender (c).
CD_VENV = Path(os.environ.get("SWARMOPS_BENCH_CD_VENV", "/var/cache/swarmops-bench/venv-cd"))
CD_REQUIREMENTS = BENCH / "requirements-cd.txt"


class BenchError(RuntimeError):
    pass


def run(argv: list[str], timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n"
                         f"{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return proc


@dataclass
class Lab:
    """One benchmark lab; its inventory is written beside the bench's group_vars."""

    name: str
    subnet: str
    hosts: dict[str, str] = field(default_factory=dict)  # name -> address

    @property
    def inventory(self) -> Path:
        return INVENTORY_DIR / f"hosts-{self.name}.yml"

    @property
    def key(self) -> Path:
        return STATE_ROOT / self.name / "id_ed25519"

    def cli(self, *args: str) -> str:
        return run([sys.executable, "-m", "lab", "--name", self.name, *args], cwd=REPO, timeout=600).stdout

    def up(self, managers: int, workers: int) -> float:
        """A fresh lab (any old one of this name removed first); returns the seconds `lab up` took."""
        self.down()
        start = time.monotonic()
        self.cli("up", "--subnet", self.subnet, "--managers", str(managers), "--workers", str(workers),
                 "--inventory", str(self.inventory))
        took = time.monotonic() - start
        self.hosts = {row["host"]: row["address"] for row in json.loads(self.cli("status", "--json"))}
        return took

    def down(self) -> None:
        self.cli("down")
        self.hosts = {}

    def addresses(self, prefix: str) -> list[str]:
        names = sorted((h for h in self.hosts if h.startswith(prefix)), key=lambda h: int(h[len(prefix):]))
        return [self.hosts[h] for h in names]

    def ssh(self, host: str, command: str, timeout: float = 300) -> str:
        options = ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR",
                   "BatchMode=yes", "ConnectTimeout=5"]
        argv = ["ssh", "-i", str(self.key), *[a for o in options for a in ("-o", o)],
                f"root@{self.hosts[host]}", command]
        return run(argv, timeout=timeout).stdout


@dataclass
class PlaybookRun:
    wall: float  # seconds, as the operator waits
    changed: int
    failed: int
    tasks: list[dict]  # {"play", "task", "seconds"} from the bench_timer callback
    peak_pss_mib: float = 0.0  # controller process tree, sampled
    peak_rss_mib: float = 0.0
    peak_processes: int = 0
    cpu: float = 0.0  # controller CPU seconds (user + system) of the run's whole process tree
    ssh: int = 0  # ssh runs (one per module execution with pipelining), counted by count_ssh.sh


def children_cpu() -> float:
    """CPU seconds of every finished child of this process and their waited-for descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class TreeMemory:
    """Samples the memory of a process and all its descendants until stopped.

    PSS (proportional set size, /proc/PID/smaps_rollup) counts the pages Ansible's forked
    workers share with their parent once, so its sum is the controller's real footprint;
    the RSS sum counts them in every worker and overstates it.
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval = pid, interval
        self.peak_pss = self.peak_rss = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    def _loop(self) -> None:
        while not self._stop.is_set():
            pss = rss = 0
            pids = self._tree()
            for pid in pids:
                try:
                    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Pss:"):
                            pss += int(line.split()[1])
                        elif line.startswith("Rss:"):
                            rss += int(line.split()[1])
                except OSError:
                    continue
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
            self.peak_processes = max(self.peak_processes, len(pids))
            self._stop.wait(self.interval)


def ensure_cd_venv() -> Path:
    """The virtualenv with the `ansible` package (community.docker), made on first use."""
    playbook = CD_VENV / "bin" / "ansible-playbook"
    stamp = CD_VENV / ".installed"
    wanted = CD_REQUIREMENTS.read_text()
    if playbook.exists() and stamp.exists() and stamp.read_text() == wanted:
        return playbook
    print(f"bench: installing the community.docker contender into {CD_VENV} (once)", flush=True)
    CD_VENV.parent.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "venv", str(CD_VENV)])
    run([str(CD_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-r", str(CD_REQUIREMENTS)],
        timeout=1800)
    stamp.write_text(wanted)
    return playbook


def playbook(lab: Lab, path: str | Path, *args: str, contender: str = "swarmops", memory: bool = False,
             extra_env: dict[str, str] | None = None) -> PlaybookRun:
    """Run a playbook against the lab; fail loudly if it fails."""
    exe = str(Path(sys.executable).parent / "ansible-playbook" if contender == "swarmops" else ensure_cd_venv())
    with tempfile.NamedTemporaryFile(prefix="bench-timings-", suffix=".json", delete=False) as fh:
        timings = Path(fh.name)
    with tempfile.NamedTemporaryFile(prefix="bench-ssh-", suffix=".log", delete=False) as fh:
        ssh_log = Path(fh.name)
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_CALLBACK_PLUGINS": str(BENCH / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
        "SWARMOPS_BENCH_TIMINGS": str(timings),
        "ANSIBLE_SSH_EXECUTABLE": str(BENCH / "count_ssh.sh"),
        "SWARMOPS_BENCH_SSH_LOG": str(ssh_log),
        "PATH": f"{Path(exe).parent}:{os.environ.get('PATH', '')}",
        **(extra_env or {}),
    }
    argv = [exe, "-i", str(lab.inventory), str(path), *args]
    cpu_before = children_cpu()
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if memory:
        with TreeMemory(proc.pid) as mem:
            out, _ = proc.communicate(timeout=1800)
    else:
        mem = None
        out, _ = proc.communicate(timeout=1800)
    wall = time.monotonic() - start
    try:
        data = json.loads(timings.read_text() or "{}")
        ssh_runs = len(ssh_log.read_text().splitlines())
    finally:
        timings.unlink(missing_ok=True)
        ssh_log.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed ({proc.returncode}):\n{out[-6000:]}")
    result = PlaybookRun(wall, data.get("changed", -1), data.get("failed", -1), data.get("tasks", []),
                         cpu=children_cpu() - cpu_before, ssh=ssh_runs)
    if mem is not None:
        result.peak_pss_mib = mem.peak_pss / 1024
        result.peak_rss_mib = mem.peak_rss / 1024
        result.peak_processes = mem.peak_processes
    return result


def timed(fn, *args, **kw) -> tuple[float, object]:
    start = time.monotonic()
    value = fn(*args, **kw)
    return time.monotonic() - start, value
