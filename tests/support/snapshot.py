"""A snapshot of everything swarmops could change on a lab, to compare before and after (the
reliability suite's check-mode and bad-input tests).

A snapshot is read the way an operator would: the docker CLI against a manager's engine
(through its API socket, see support.lab.Lab.docker) for cluster state, and SSH on each host
for what the roles write (daemon.json, the engine's pid, iptables, HAProxy's config).
Timestamps, versions and other fields the engine moves by itself are dropped, so that two
snapshots are equal exactly when nothing was changed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker

from support.lab import Lab

# Fields the engine updates on its own (heartbeats, raft indexes, timestamps, task churn).
VOLATILE = {"CreatedAt", "UpdatedAt", "Version", "Index", "Status", "ManagerStatus", "JoinTokens",
            "UpdateStatus", "PreviousSpec", "ServiceStatus", "JobStatus", "Peers", "Containers",
            "Description"}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _api(lab: Lab, host: str) -> docker.APIClient:
    return docker.APIClient(base_url=lab.docker_host(host), version="auto", timeout=30)


def _by_name(objects: list[dict], kind: str) -> dict[str, Any]:
    by_name = {}
    for obj in objects:
        if kind == "node":
            name = obj["Description"]["Hostname"]
        else:
            name = obj.get("Spec", {}).get("Name") or obj.get("Name") or obj["ID"]
        by_name[name] = _strip(obj)
    return by_name


# The firewall as swarmops writes it (INPUT, its chain, its nftables table, its ufw rules),
# not Docker's own chains, which the engine rewrites by itself as tasks come and go.
HOST_STATE = ("cat /etc/docker/daemon.json 2>/dev/null; echo '--'; cat /run/docker.pid 2>/dev/null; echo '--';"
              "iptables -w -S INPUT; iptables -w -S SWARMOPS-INPUT 2>/dev/null;"
              " nft list table inet swarmops 2>/dev/null; ufw show added 2>/dev/null; echo '--';"
              " cat /etc/haproxy/haproxy.cfg 2>/dev/null")


def host_state(lab: Lab, hosts: list[str], objects: bool = False) -> dict[str, Any]:
    """What the roles write on each host (read over SSH) and the engine's own view of its
    swarm membership (its API), in parallel; with `objects`, also the engine's containers,
    networks and volumes (stable only where no swarm task runs)."""

    def one(host: str) -> dict[str, Any]:
        state: dict[str, Any] = {"files": lab.ssh(host, HOST_STATE).stdout}
        try:
            with _api(lab, host) as api:
                swarm = api.info().get("Swarm", {})
                state["swarm"] = f"{swarm.get('LocalNodeState')} {swarm.get('NodeID')}"
                if objects:
                    state["containers"] = sorted(n for c in api.containers(all=True) for n in c["Names"])
                    state["networks"] = sorted(n["Name"] for n in api.networks())
                    state["volumes"] = sorted(v["Name"] for v in api.volumes().get("Volumes") or [])
        except (docker.errors.DockerException, OSError) as exc:
            state["swarm"] = f"engine unreachable: {type(exc).__name__}"
        return state

    with ThreadPoolExecutor(max_workers=len(hosts) or 1) as pool:
        return dict(zip(hosts, pool.map(one, hosts), strict=True))


def cluster_state(lab: Lab, via: str = "manager1") -> dict[str, Any]:
    """The swarm as its managers record it: settings, nodes, services, networks, secrets,
    configs (specs only, without what the engine moves by itself), through the Engine API
    of `via`, as `docker ... inspect` shows them."""
    with _api(lab, via) as api:
        swarm = api.info().get("Swarm", {})
        state: dict[str, Any] = {"local": swarm.get("LocalNodeState")}
        if swarm.get("ControlAvailable"):
            state["swarm"] = _strip(api.inspect_swarm())
            state["node"] = _by_name(api.nodes(), "node")
            state["service"] = _by_name(api.services(), "service")
            state["network"] = _by_name([n for n in api.networks() if n.get("Scope") == "swarm"], "network")
            state["secret"] = _by_name(api.secrets(), "secret")
            state["config"] = _by_name(api.configs(), "config")
    return state


def snapshot(lab: Lab, hosts: list[str] | None = None, via: str = "manager1", objects: bool = False) -> dict[str, Any]:
    """Everything swarmops could change: the cluster through `via`, and every host."""
    hosts = hosts if hosts is not None else sorted(lab.hosts)
    return {"cluster": cluster_state(lab, via), "hosts": host_state(lab, hosts, objects)}


def diff_keys(before: Any, after: Any, path: str = "") -> list[str]:
    """Where two snapshots differ, as paths, for a readable assertion message."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            out += diff_keys(before.get(key), after.get(key), f"{path}/{key}")
        return out
    return [] if before == after else [path or "/"]

