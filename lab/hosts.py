"""The one interface every lab backend implements, in the spirit of kind's node providers.

The verbs in `__main__` speak only to this interface; a backend decides what a host is
(a set of namespaces, a qemu VM) and how to create, break and remove it.
"""

from __future__ import annotations

import abc
import subprocess
from dataclasses import dataclass

from .config import Host, LabConfig
from .sh import LabError

BACKENDS = ("netns", "vm")


@dataclass
class HostStatus:
    host: Host
    reachable: bool  # sshd answers
    engine_up: bool  # the Docker engine answers on its socket
    swarm_state: str  # inactive | active (manager/leader/worker) | locked | error | -
    engine_version: str = "-"  # what the engine itself reports (ServerVersion)


def status_from_info(host: Host, reachable: bool, info: dict | None) -> HostStatus:
    """A host's status from its engine's /info (None: the engine did not answer)."""
    if info is None:
        return HostStatus(host, reachable, False, "-")
    swarm = info.get("Swarm") or {}
    state = swarm.get("LocalNodeState", "?")
    if state == "active":
        state = "manager" if swarm.get("ControlAvailable") else "worker"
    return HostStatus(host, reachable, True, state, info.get("ServerVersion", "?"))


class Backend(abc.ABC):
    """A way of making lab hosts on this machine."""

    name: str

    def __init__(self, lab: LabConfig) -> None:
        self.lab = lab

    @abc.abstractmethod
    def cleanup(self) -> list[str]:
        """Remove every trace of this lab on the machine (also a stale one); say what went."""

    @abc.abstractmethod
    def prepare(self) -> None:
        """Create what all hosts share (bridge, key, rules); idempotent."""

    @abc.abstractmethod
    def create(self, hosts: list[Host]) -> None:
        """Create and boot these hosts, start sshd and the engine, and wait until they answer."""

    @abc.abstractmethod
    def healthy(self, host: Host) -> bool:
        """True when the host exists with sshd and its engine running."""

    @abc.abstractmethod
    def status(self, host: Host) -> HostStatus: ...

    @abc.abstractmethod
    def exec(self, host: Host, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a command on the host as root, without going through SSH."""

    @abc.abstractmethod
    def docker_host(self, host: Host) -> str:
        """A DOCKER_HOST value that reaches this host's engine from the machine."""

    @abc.abstractmethod
    def kill_engine(self, host: Host) -> None:
        """Kill the host's engine at once (SIGKILL), as a crash would."""

    @abc.abstractmethod
    def restart_engine(self, host: Host) -> None:
        """Start the engine again (stopping it first if it runs) and wait until it answers."""

    def set_engine(self, host: Host) -> None:
        """Make the host's next engine start run host.engine (without restarting it)."""
        raise LabError(f"the {self.name} backend installs engines with apt: no lab engine swap")

    @abc.abstractmethod
    def partition(self, host: Host) -> None:
        """Cut the host off the lab network."""

    @abc.abstractmethod
    def heal(self, host: Host) -> None:
        """Put a partitioned host back on the lab network."""


def backend_for(lab: LabConfig) -> Backend:
    if lab.backend == "netns":
        from .netns import NetnsBackend

        return NetnsBackend(lab)
    if lab.backend == "vm":
        from .vm import VmBackend

        return VmBackend(lab)
    raise LabError(f"backend {lab.backend!r}: allowed are {', '.join(BACKENDS)}")
