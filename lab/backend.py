"""The one interface every lab backend implements, in the spirit of kind's node providers.

The verbs in `__main__` and the tests speak only to this interface; a backend decides what a
host is (a set of namespaces: lab/netns.py; a qemu VM: lab/vm.py) and how to create, break and
remove it. What backends share lives in lab/common.py.
"""

from __future__ import annotations

import abc
import subprocess
from dataclasses import dataclass

from .config import Host, LabConfig
from .sh import LabError, run

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
        """Create and boot these hosts (netns: namespaces, sshd and the engine started in them;
        vm: a qemu VM each, booting from the base image), without waiting for them."""

    @abc.abstractmethod
    def wait_ready(self, hosts: list[Host], timeout: float = 60) -> None:
        """Wait until every host answers: sshd on its address and, where the host has one, its
        engine (netns: always; vm: the SSH forward to the engine's socket is set up, the engine
        itself comes with the docker_engine role). Raise LabError naming the host otherwise."""

    @abc.abstractmethod
    def import_images(self, hosts: list[Host], tars: dict[str, bytes]) -> int:
        """Load the lab's probe images (lab/probe_image.py) into the hosts' running engines
        where missing; return how many were loaded (vm: a VM without an engine yet gets them
        from its image when the engine starts)."""

    @abc.abstractmethod
    def healthy(self, host: Host) -> bool:
        """True when the host exists and answers (netns: sshd and the engine run; vm: the VM
        runs and sshd answers)."""

    @abc.abstractmethod
    def status(self, host: Host) -> HostStatus:
        """Whether sshd answers, and what the host's engine says of itself and the swarm."""

    @abc.abstractmethod
    def exec(self, host: Host, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a command on the host as root (netns: nsenter into its namespaces; vm: over SSH)."""

    @abc.abstractmethod
    def docker_host(self, host: Host) -> str:
        """A DOCKER_HOST value that reaches this host's engine from the machine (a unix socket:
        netns: the engine's own; vm: an SSH forward to the VM's /run/docker.sock)."""

    @abc.abstractmethod
    def kill_engine(self, host: Host) -> None:
        """Stop the host's engine at once, as a crash would: netns: SIGKILL to dockerd and
        containerd; vm: `systemctl stop docker.socket docker.service` (systemd would start a
        killed engine again). Either way the managers see the node Down."""

    @abc.abstractmethod
    def restart_engine(self, host: Host) -> None:
        """Start the engine again (stopping it first if it runs) and wait until it answers."""

    def set_engine(self, host: Host) -> None:
        """Make the host's next engine start run host.engine (without restarting it)."""
        raise LabError(f"the {self.name} backend installs engines with apt: no lab engine swap")

    def partition(self, host: Host) -> None:
        """Cut the host off the lab network: its port on the bridge (veth or tap) goes down."""
        run(["ip", "link", "set", self.lab.veth(host), "down"])

    def heal(self, host: Host) -> None:
        """Put a partitioned host back on the lab network."""
        run(["ip", "link", "set", self.lab.veth(host), "up"])


def backend_for(lab: LabConfig) -> Backend:
    if lab.backend == "netns":
        from .netns import NetnsBackend

        return NetnsBackend(lab)
    if lab.backend == "vm":
        from .vm import VmBackend

        return VmBackend(lab)
    raise LabError(f"backend {lab.backend!r}: allowed are {', '.join(BACKENDS)}")
