"""HAProxy's runtime API, for taking a swarm node out of the load balancer and back.

Parsing and planning are pure functions (unit-tested in tests/unit/test_haproxy.py); only
`runtime_command` touches the socket. Python's standard library only: the module runs on the
load balancer hosts, which need nothing but python3.

Two commands give what the module needs:
- `show servers state` (format 1): per server, the operational state (0 stopped, 1 starting,
  2 running, 3 stopping) and the administrative state, a bit field whose forced bits are what
  an operator sets through `set server ... state` (0x01 forced maintenance, 0x08 forced drain);
- `show stat` (CSV): per server, the current sessions (`scur`) and the status text (UP, DOWN,
  MAINT, DRAIN, "UP 1/2"...).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

# Administrative state bits (HAProxy's SRV_ADMF_*).
ADMIN_FORCED_MAINT = 0x01
ADMIN_FORCED_DRAIN = 0x08
# Operational states (SRV_ST_*).
OP_RUNNING = 2

# The module's states and the runtime API's words for them.
STATES = ("enabled", "disabled", "drain")
RUNTIME_WORD = {"enabled": "ready", "disabled": "maint", "drain": "drain"}


class HAProxyError(Exception):
    """The runtime API answered something the module cannot use."""


@dataclass(frozen=True)
class Server:
    backend: str
    name: str
    address: str
    op_state: int
    admin_bits: int
    status: str = ""  # from show stat, e.g. UP, DOWN, MAINT, DRAIN
    sessions: int = 0  # current sessions (scur)

    @property
    def admin_state(self) -> str:
        """enabled, disabled (forced maintenance) or drain (forced drain), as the module says it."""
        if self.admin_bits & ADMIN_FORCED_MAINT:
            return "disabled"
        if self.admin_bits & ADMIN_FORCED_DRAIN:
            return "drain"
        return "enabled"

    @property
    def up(self) -> bool:
        """Serving new connections: running (health check passing) and not set out by an operator."""
        return self.op_state == OP_RUNNING and self.admin_state == "enabled"

    def view(self) -> dict:
        return {"backend": self.backend, "server": self.name, "address": self.address,
                "admin_state": self.admin_state, "status": self.status, "sessions": self.sessions,
                "up": self.up}


def parse_servers_state(text: str) -> list[Server]:
    """`show servers state` output -> servers (without status and sessions)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0].strip() != "1":
        raise HAProxyError(f"show servers state: expected format version 1, got {lines[0]!r}"
                           if lines else "show servers state: empty answer")
    header: list[str] = []
    servers = []
    for line in lines[1:]:
        if line.startswith("#"):
            header = line.lstrip("# ").split()
            continue
        if not header:
            raise HAProxyError("show servers state: no header line before the servers")
        row = dict(zip(header, line.split(), strict=False))
        try:
            servers.append(Server(backend=row["be_name"], name=row["srv_name"], address=row.get("srv_addr", ""),
                                  op_state=int(row["srv_op_state"]), admin_bits=int(row["srv_admin_state"])))
        except (KeyError, ValueError) as exc:
            raise HAProxyError(f"show servers state: cannot read line {line!r}: {exc}") from exc
    return servers


def parse_stat(text: str) -> dict[tuple[str, str], tuple[str, int]]:
    """`show stat` CSV -> {(backend, server): (status, current sessions)} for servers only."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("# "):
        raise HAProxyError("show stat: expected a CSV header starting with '# '")
    header = lines[0][2:].split(",")
    try:
        px, sv, st, sc = (header.index(k) for k in ("pxname", "svname", "status", "scur"))
    except ValueError as exc:
        raise HAProxyError(f"show stat: header lacks a column: {exc}") from exc
    out = {}
    for line in lines[1:]:
        cells = line.split(",")
        if len(cells) <= max(px, sv, st, sc) or cells[sv] in ("FRONTEND", "BACKEND"):
            continue
        out[(cells[px], cells[sv])] = (cells[st], int(cells[sc] or 0))
    return out


def merge(servers: list[Server], stat: dict[tuple[str, str], tuple[str, int]]) -> list[Server]:
    """Servers with their status and sessions from `show stat`."""
    out = []
    for s in servers:
        status, sessions = stat.get((s.backend, s.name), ("", 0))
        out.append(Server(s.backend, s.name, s.address, s.op_state, s.admin_bits, status, sessions))
    return out


def select(servers: list[Server], server: str, backends: list[str] | None) -> tuple[list[Server], str]:
    """The entries of `server` in `backends` (all backends that have it when None), and an
    error naming what is missing ('' when found)."""
    mine = [s for s in servers if s.name == server]
    if not mine:
        known = sorted({s.name for s in servers})
        return [], f"server: {server!r} is in no backend (servers: {', '.join(known) or 'none'})"
    if backends is None:
        return mine, ""
    missing = [b for b in backends if b not in {s.backend for s in mine}]
    if missing:
        return [], (f"backends: {server!r} is not a server of {', '.join(missing)} "
                    f"(it is in: {', '.join(sorted({s.backend for s in mine}))})")
    return [s for s in mine if s.backend in backends], ""


def plan(targets: list[Server], state: str) -> list[dict]:
    """Changes as [{backend, server, before, after, command}]; empty when all are as asked."""
    if state not in STATES:
        raise ValueError(f"state: expected one of {', '.join(STATES)}, got {state!r}")
    return [{"backend": s.backend, "server": s.name, "before": s.admin_state, "after": state,
             "command": f"set server {s.backend}/{s.name} state {RUNTIME_WORD[state]}"}
            for s in targets if s.admin_state != state]


def others_up(servers: list[Server], target: Server) -> int:
    """Servers of the target's backend, other than the target, that serve new connections."""
    return sum(1 for s in servers if s.backend == target.backend and s.name != target.name and s.up)


def short_of_others(servers: list[Server], targets: list[Server], min_other_up: int) -> list[str]:
    """Backends where taking the target out would leave fewer than `min_other_up` servers up.

    Only backends where the target serves now count: taking out a server that is down already
    costs nothing.
    """
    return [f"{t.backend} ({others_up(servers, t)} other server(s) up, {min_other_up} needed)"
            for t in targets if t.up and others_up(servers, t) < min_other_up]


def runtime_command(path: str, command: str, timeout: float = 10.0) -> str:
    """Send one command to the runtime API socket and return its whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def read_servers(path: str, timeout: float = 10.0) -> list[Server]:
    return merge(parse_servers_state(runtime_command(path, "show servers state", timeout)),
                 parse_stat(runtime_command(path, "show stat", timeout)))
