"""What a lab is: its name, its address range, its hosts, and where it keeps its state.

A lab is identified by its name. Everything it creates on the machine carries that name
(network namespaces `NAME_HOST`, the bridge's alias `swarmops-lab:NAME`, iptables comments
`swarmops-lab:NAME`), so that `lab down` and a stale-lab cleanup find every trace by scanning
the machine rather than trusting a state file that a killed run may not have written.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .sh import LabError

DEFAULT_NAME = "swarmops"
DEFAULT_SUBNET = "10.203.0.0/24"
STATE_ROOT = Path(os.environ.get("SWARMOPS_LAB_STATE", "/var/lib/swarmops-lab"))
RUN_ROOT = Path("/run/swarmops-lab")
REPO_ROOT = Path(__file__).resolve().parent.parent

# Host kinds, the first address each kind takes in the lab's /24, and how many fit.
KINDS: dict[str, tuple[int, int]] = {
    "manager": (11, 19),  # .11 - .29
    "worker": (101, 99),  # .101 - .199
    "lb": (201, 9),  # .201 - .209
    "outsider": (221, 9),  # .221 - .229
}
# Inventory group for each kind.
GROUPS = {"manager": "managers", "worker": "workers", "lb": "lb", "outsider": "outsiders"}


@dataclass(frozen=True)
class Host:
    name: str  # also its hostname, e.g. manager1
    kind: str  # manager | worker | lb | outsider
    index: int  # 1-based within its kind
    address: str
    engine: str = "20.10"  # the Docker engine series it runs (lab/engines.py)

    @property
    def octet(self) -> int:
        return int(self.address.rsplit(".", 1)[1])


@dataclass
class LabConfig:
    name: str = DEFAULT_NAME
    subnet: str = DEFAULT_SUBNET
    bridge: str = ""
    backend: str = "netns"
    inventory: str = ""  # where the Ansible inventory is written
    hosts: list[Host] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.name.replace("-", "").isalnum() or len(self.name) > 20:
            raise LabError(f"lab name {self.name!r}: use letters, digits and '-', at most 20")
        try:
            net = ipaddress.IPv4Network(self.subnet)
        except ValueError as exc:
            raise LabError(f"subnet {self.subnet!r} is not an IPv4 network: {exc}") from exc
        if net.prefixlen != 24:
            raise LabError(f"subnet {self.subnet}: the lab needs a /24")
        if not self.bridge:
            # Linux interface names are at most 15 characters; veths add "-NNN".
            self.bridge = ("swl" + self.name.replace("-", ""))[:10]
        if len(self.bridge) > 10:
            raise LabError(f"bridge {self.bridge!r}: at most 10 characters")
        if not self.inventory:
            if self.name == DEFAULT_NAME:
                self.inventory = str(REPO_ROOT / "inventories" / "lab" / "hosts.yml")
            else:
                self.inventory = str(self.state_dir / "hosts.yml")

    # Where things live -------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return STATE_ROOT / self.name

    @property
    def run_dir(self) -> Path:
        return RUN_ROOT / self.name

    @property
    def key_file(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def tag(self) -> str:
        """Marks the bridge (as its alias) and iptables rules as this lab's."""
        return f"swarmops-lab:{self.name}"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def gateway(self) -> str:
        """The bridge's address on the machine: the only off-host address lab hosts reach."""
        return str(self.network.network_address + 1)

    def netns(self, host: Host) -> str:
        return f"{self.name}_{host.name}"

    def veth(self, host: Host) -> str:
        return f"{self.bridge}-{host.octet}"

    def host_dir(self, host: Host) -> Path:
        return self.state_dir / "hosts" / host.name

    # Hosts -------------------------------------------------------------------------------
    def make_host(self, kind: str, index: int) -> Host:
        if kind not in KINDS:
            raise LabError(f"host kind {kind!r}: allowed are {', '.join(KINDS)}")
        first, limit = KINDS[kind]
        if not 1 <= index <= limit:
            raise LabError(f"at most {limit} hosts of kind {kind}")
        address = str(self.network.network_address + first + index - 1)
        return Host(name=f"{kind}{index}", kind=kind, index=index, address=address)

    def plan_hosts(self, counts: dict[str, int]) -> list[Host]:
        hosts = []
        for kind, count in counts.items():
            if count < 0:
                raise LabError(f"--{kind}s must be 0 or more, not {count}")
            hosts += [self.make_host(kind, i) for i in range(1, count + 1)]
        return hosts

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        known = ", ".join(h.name for h in self.hosts) or "none (is the lab up?)"
        raise LabError(f"no lab host named {name!r}; hosts: {known}")

    def next_host(self, kind: str) -> Host:
        taken = [h.index for h in self.hosts if h.kind == kind]
        return self.make_host(kind, max(taken, default=0) + 1)

    # State -------------------------------------------------------------------------------
    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        tmp = self.state_dir / "lab.json.tmp"
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self.state_dir / "lab.json")

    @classmethod
    def load(cls, name: str) -> LabConfig | None:
        path = STATE_ROOT / name / "lab.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        data["hosts"] = [Host(**h) for h in data.get("hosts", [])]
        return cls(**data)
