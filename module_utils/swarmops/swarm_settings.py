"""Swarm settings as data: the operator's names, where each lives in the swarm spec, how it is
normalised and compared. Pure functions (no engine), used by the `swarm` and `swarm_ca` modules
and unit-tested alone.

The plan starts from the CURRENT spec and changes only the settings that were given: the Engine
API's swarm update replaces the whole spec, so anything not sent would be reset.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_UNITS_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
             "d": 86400 * 10**9}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d)")


def parse_duration(value: Any, field: str) -> int:
    """A duration in nanoseconds from an int (seconds) or a string like '90d', '2160h', '1h30m', '5s'."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError(f"{field}: must be positive, got {value!r}")
        return int(value * 10**9)
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return parse_duration(float(text), field)
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS_NS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text or total <= 0:
        raise ValueError(f"{field}: expected a duration like 90d, 2160h, 1h30m, 5s or a number of seconds, "
                         f"got {value!r}")
    return int(total)


MIN_CERT_EXPIRY_NS = 3600 * 10**9  # the engine refuses shorter node certificates


def parse_cert_expiry(value: Any, field: str = "cert_expiry") -> int:
    """A node certificate lifetime: a duration of at least the engine's minimum, 1h."""
    ns = parse_duration(value, field)
    if ns < MIN_CERT_EXPIRY_NS:
        raise ValueError(f"{field}: at least 1h (the engine's minimum), got {value!r}")
    return ns


def format_duration(ns: int | None) -> str | None:
    """Nanoseconds as the largest whole unit: 7776000000000000 -> '90d'."""
    if ns is None:
        return None
    for unit in ("d", "h", "m", "s", "ms", "us"):
        size = _UNITS_NS[unit]
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not re.fullmatch(r"\d+", str(value).strip()):
        raise ValueError(f"{field}: expected a whole number >= 0, got {value!r}")
    return int(str(value).strip())


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"{field}: expected true or false, got {value!r}")


@dataclass(frozen=True)
class Setting:
    name: str  # the module option
    path: tuple[str, ...]  # where it lives in the swarm spec
    parse: Callable[[Any, str], Any]  # option value -> spec value (raises ValueError naming the field)
    show: Callable[[Any], Any] = lambda v: v  # spec value -> what a diff shows
    default: Any = None  # what the engine uses when the spec leaves it out


# Settings that a swarm update can change at any time.
SETTINGS: tuple[Setting, ...] = (
    Setting("cert_expiry", ("CAConfig", "NodeCertExpiry"), parse_cert_expiry, format_duration,
            90 * 86400 * 10**9),
    Setting("dispatcher_heartbeat", ("Dispatcher", "HeartbeatPeriod"), parse_duration, format_duration,
            5 * 10**9),
    Setting("task_history_limit", ("Orchestration", "TaskHistoryRetentionLimit"), _int, default=5),
    Setting("snapshot_interval", ("Raft", "SnapshotInterval"), _int, default=10000),
    Setting("keep_old_snapshots", ("Raft", "KeepOldSnapshots"), _int, default=0),
    Setting("autolock", ("EncryptionConfig", "AutoLockManagers"), _bool, default=False),
)
SETTING_NAMES = tuple(s.name for s in SETTINGS)


def _get(spec: dict, path: tuple[str, ...]) -> Any:
    node: Any = spec
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _set(spec: dict, path: tuple[str, ...], value: Any) -> None:
    node = spec
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def validate(wanted: dict[str, Any]) -> dict[str, Any]:
    """Option values -> spec values for the settings that were given; ValueError names the bad one."""
    out: dict[str, Any] = {}
    for s in SETTINGS:
        if wanted.get(s.name) is not None:
            out[s.name] = s.parse(wanted[s.name], s.name)
    return out


def plan(current_spec: dict, wanted: dict[str, Any]) -> tuple[dict, list[dict]]:
    """The spec to send and the changes it makes: [{setting, before, after}] (diff-friendly values).

    `wanted` maps option names to values already parsed by `validate`. Settings not given keep
    their current value; the result is a deep copy, `current_spec` is not modified.
    """
    new = copy.deepcopy(current_spec or {})
    changes: list[dict] = []
    for s in SETTINGS:
        if s.name not in wanted:
            continue
        now = _get(current_spec or {}, s.path)
        effective = s.default if now is None else now
        if effective != wanted[s.name]:
            changes.append({"setting": s.name, "before": s.show(effective), "after": s.show(wanted[s.name])})
            _set(new, s.path, wanted[s.name])
    return new, changes


def current(spec: dict) -> dict[str, Any]:
    """Every setting's current value as a diff would show it."""
    out = {}
    for s in SETTINGS:
        now = _get(spec or {}, s.path)
        out[s.name] = s.show(s.default if now is None else now)
    return out


def shown(wanted: dict[str, Any]) -> dict[str, Any]:
    """Parsed settings as a diff shows them."""
    return {s.name: s.show(wanted[s.name]) for s in SETTINGS if s.name in wanted}


def init_spec(wanted: dict[str, Any]) -> dict:
    """The Spec for a swarm init: only the settings given (the engine fills in its defaults)."""
    spec: dict = {}
    for s in SETTINGS:
        if s.name in wanted:
            _set(spec, s.path, wanted[s.name])
    return spec


def init_only_mismatches(cluster: dict, node_addr: str, wanted: dict[str, Any]) -> list[str]:
    """Settings fixed at init that differ from what is asked: they cannot change without a new swarm.

    `cluster` is the swarm inspect, `node_addr` this node's address (docker info Swarm.NodeAddr),
    `wanted` the raw options default_addr_pool, subnet_size, data_path_port, advertise_addr.
    """
    out = []
    pool = wanted.get("default_addr_pool")
    if pool:
        actual = cluster.get("DefaultAddrPool") or ["10.0.0.0/8"]
        if [str(ipaddress.ip_network(p, strict=False)) for p in pool] != list(actual):
            out.append(f"default_addr_pool is {actual} (asked {pool}); it is fixed when the swarm is created")
    size = wanted.get("subnet_size")
    if size is not None and int(cluster.get("SubnetSize") or 24) != int(size):
        out.append(f"subnet_size is {cluster.get('SubnetSize')} (asked {size}); it is fixed when the swarm is created")
    port = wanted.get("data_path_port")
    if port is not None and int(cluster.get("DataPathPort") or 4789) != int(port):
        out.append(f"data_path_port is {cluster.get('DataPathPort')} (asked {port}); "
                   "it is fixed when the swarm is created")
    adv = wanted.get("advertise_addr")
    if adv and node_addr:
        host = adv.rsplit(":", 1)[0] if adv.count(":") == 1 else adv
        try:
            ipaddress.ip_address(host)
        except ValueError:
            host = ""  # an interface name: not comparable here
        if host and host != node_addr:
            out.append(f"advertise_addr is {node_addr} (asked {adv}); a node's address is fixed when it "
                       "joins: leave and join again to change it")
    return out


def validate_network_options(params: dict[str, Any]) -> None:
    """ValueError naming the field for a bad pool, subnet size or port."""
    for p in params.get("default_addr_pool") or []:
        try:
            ipaddress.ip_network(p, strict=False)
        except ValueError:
            raise ValueError(f"default_addr_pool: {p!r} is not a CIDR such as 10.20.0.0/16") from None
    size = params.get("subnet_size")
    if size is not None and not (8 <= int(size) <= 29):
        raise ValueError(f"subnet_size: must be between 8 and 29, got {size}")
    port = params.get("data_path_port")
    if port is not None and not (1024 <= int(port) <= 49151):
        raise ValueError(f"data_path_port: must be between 1024 and 49151, got {port}")
