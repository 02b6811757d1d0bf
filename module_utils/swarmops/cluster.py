"""Read-side helpers shared by the cluster modules: this node's swarm state, the managers and
their reachability, finding a node by hostname or ID, handing secrets to the next task.

No writes here: each module plans and acts itself.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from typing import Any

from ansible.module_utils.swarmops import swarm_settings
from ansible.module_utils.swarmops.quorum import Manager, check_removals, failures_tolerated, majority, summary


def local_state(client: Any) -> dict[str, Any]:
    """This engine's swarm membership from `docker info` (works on workers and locked managers)."""
    info = client.call("read the engine info", client.api.info)
    swarm = info.get("Swarm") or {}
    state = swarm.get("LocalNodeState") or "inactive"
    role = "none"
    if state == "active":
        role = "manager" if swarm.get("ControlAvailable") else "worker"
    return {
        "state": state,  # inactive, pending, active, locked, error
        "role": role,
        "node_id": swarm.get("NodeID") or "",
        "node_addr": swarm.get("NodeAddr") or "",
        "cluster_id": ((swarm.get("Cluster") or {}).get("ID")) or "",
        "error": swarm.get("Error") or "",
        "hostname": info.get("Name") or "",
        "engine_version": info.get("ServerVersion") or "",
    }


def require_manager(module: Any, local: dict[str, Any], what: str) -> None:
    if local["state"] == "locked":
        module.fail_json(msg=f"cannot {what}: this manager is locked (autolock); unlock it with swarm_unlock first")
    if local["state"] != "active":
        module.fail_json(msg=f"cannot {what}: this engine is not in a swarm (state {local['state']})")
    if local["role"] != "manager":
        module.fail_json(msg=f"cannot {what}: this node is a worker; run the task on a manager")


def managers_of(nodes: list[dict]) -> list[Manager]:
    out = []
    for n in nodes:
        ms = n.get("ManagerStatus")
        if not ms:
            continue
        out.append(Manager(n["ID"], (n.get("Description") or {}).get("Hostname", ""),
                           ms.get("Reachability") == "reachable"))
    return out


def find_node(nodes: list[dict], name: str) -> tuple[dict | None, str]:
    """A node by ID, ID prefix or hostname; (node, '') or (None, why)."""
    exact = [n for n in nodes if n["ID"] == name]
    if exact:
        return exact[0], ""
    by_host = [n for n in nodes if (n.get("Description") or {}).get("Hostname") == name]
    if len(by_host) == 1:
        return by_host[0], ""
    if len(by_host) > 1:
        live = [n for n in by_host if (n.get("Status") or {}).get("State") != "down"]
        if len(live) == 1:
            return live[0], ""
        return None, (f"{len(by_host)} nodes have the hostname {name!r} "
                      f"({', '.join(n['ID'] for n in by_host)}): give the node ID")
    prefix = [n for n in nodes if n["ID"].startswith(name)]
    if len(prefix) == 1 and len(name) >= 4:
        return prefix[0], ""
    return None, f"no node with hostname or ID {name!r}"


def fingerprint(secret: str | None) -> str | None:
    """A short, non-reversible handle on a secret, safe for diffs and comparisons."""
    if not secret:
        return None
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def hand_over(module: Any, secret: str | None, what: str) -> str | None:
    """A secret for the next task, returned only when the task itself is `no_log`.

    A `no_log: true` task's whole result is hidden by Ansible at every verbosity, but still
    registered for the next task. Without it the secret is withheld (and masked if it appears
    anywhere else in the result), with a warning saying how to get it.
    """
    if not secret:
        return None
    if getattr(module, "no_log", False):
        return secret
    module.no_log_values.add(secret)
    module.warn(f"the {what} is not returned because this task is not no_log; "
                "add `no_log: true` to the task to register it for the next task")
    return None


NODE_CERT = "/var/lib/docker/swarm/certificates/swarm-node.crt"


def local_cert_not_after(docker_host: str) -> str | None:
    """This node's certificate expiry (ISO 8601), when the engine is local and the file readable."""
    if not docker_host.startswith("unix://") or not os.path.exists(NODE_CERT):
        return None
    try:
        import ssl

        decoded = ssl._ssl._test_decode_cert(NODE_CERT)  # stdlib, no third-party parser needed
        when = datetime.datetime.strptime(decoded["notAfter"], "%b %d %H:%M:%S %Y %Z")
        return when.replace(tzinfo=datetime.UTC).isoformat()
    except (OSError, ValueError, KeyError, AttributeError):  # a report field, never worth failing for
        return None


NO_LEADER = ("does not have a leader", "context deadline exceeded")


def node_facts(n: dict, issuer: dict) -> dict:
    desc = n.get("Description") or {}
    tls = desc.get("TLSInfo") or {}
    spec = n.get("Spec") or {}
    status = n.get("Status") or {}
    return {
        "node_id": n["ID"],
        "hostname": desc.get("Hostname", ""),
        "role": spec.get("Role", ""),
        "availability": spec.get("Availability", ""),
        "state": status.get("State", ""),
        "addr": status.get("Addr", ""),
        "engine_version": (desc.get("Engine") or {}).get("EngineVersion", ""),
        "labels": spec.get("Labels") or {},
        "manager_reachability": (n.get("ManagerStatus") or {}).get("Reachability"),
        "tls_current": bool(tls) and tls.get("CertIssuerSubject") == issuer.get("CertIssuerSubject")
        and tls.get("CertIssuerPublicKey") == issuer.get("CertIssuerPublicKey"),
    }


def service_facts(s: dict) -> dict:
    mode = s.get("Spec", {}).get("Mode") or {}
    status = s.get("ServiceStatus") or {}
    return {
        "id": s["ID"],
        "name": s.get("Spec", {}).get("Name", ""),
        "mode": next(iter(mode), "replicated").lower(),
        "desired": status.get("DesiredTasks"),
        "running": status.get("RunningTasks"),
        "stack": (s.get("Spec", {}).get("Labels") or {}).get("com.docker.stack.namespace"),
    }


def read_cluster(module: Any, client: Any, services: bool) -> dict[str, Any]:
    """What swarm_info reports: this engine's membership and, on a manager, the swarm, its
    managers, quorum, nodes and (with `services`) services. Never a token. Also the membership
    part of swarm_host_info's one read per host."""
    local = local_state(client)
    local["cert_not_after"] = local_cert_not_after(module.params["docker_host"])
    is_manager = local["state"] == "active" and local["role"] == "manager"
    result: dict = {"changed": False, "local": local, "is_manager": is_manager}
    if not is_manager:
        return result

    try:
        swarm = client.api.inspect_swarm()
    except client.errors as exc:
        if not any(s in str(exc) for s in NO_LEADER):
            module.fail_json(msg=f"swarm inspect failed: {exc}")
        # Quorum lost: a report, not a failure, so that a playbook can say so and recover.
        info = client.call("read the engine info", client.api.info)
        sw = info.get("Swarm") or {}
        # Without a leader the engine no longer counts managers; the ones it knows of remain.
        managers = int(sw.get("Managers") or 0) or len(sw.get("RemoteManagers") or [])
        result.update(has_leader=False, error=getattr(exc, "explanation", None) or str(exc),
                      leader="", managers=[], nodes=[], services=[],
                      ca_rotation_in_progress=False,
                      quorum={"managers": managers, "reachable": None, "quorum": majority(managers),
                              "has_quorum": False, "failures_tolerated": failures_tolerated(managers),
                              "can_still_lose": 0})
        return result
    result["has_leader"] = True
    swarm.pop("JoinTokens", None)  # never reported
    nodes = client.call("list nodes", client.api.nodes)
    issuer = swarm.get("TLSInfo") or {}
    facts = [node_facts(n, issuer) for n in nodes]
    managers = []
    leader = ""
    for n in nodes:
        ms = n.get("ManagerStatus")
        if ms:
            hostname = (n.get("Description") or {}).get("Hostname", "")
            managers.append({"node_id": n["ID"], "hostname": hostname, "addr": ms.get("Addr"),
                             "reachability": ms.get("Reachability"), "leader": bool(ms.get("Leader"))})
            if ms.get("Leader"):
                leader = hostname
    live = [f for f in facts if f["state"] != "down"]
    rotating = bool(swarm.get("RootRotationInProgress")) or not all(f["tls_current"] for f in live)
    result.update(
        swarm={
            "id": swarm.get("ID"),
            "created": swarm.get("CreatedAt"),
            "updated": swarm.get("UpdatedAt"),
            "settings": swarm_settings.current(swarm.get("Spec") or {}),
            "default_addr_pool": swarm.get("DefaultAddrPool"),
            "subnet_size": swarm.get("SubnetSize"),
            "data_path_port": swarm.get("DataPathPort"),
            "root_rotation_in_progress": bool(swarm.get("RootRotationInProgress")),
            "ca_issuer_subject": issuer.get("CertIssuerSubject"),
            "external_ca": bool(((swarm.get("Spec") or {}).get("CAConfig") or {}).get("ExternalCAs")),
        },
        leader=leader,
        managers=managers,
        quorum=summary(managers_of(nodes)),
        nodes=facts,
        ca_rotation_in_progress=rotating,
    )
    removing = module.params.get("removing")
    if removing:
        ids = [n["ID"] for n in nodes if (n.get("Description") or {}).get("Hostname") in removing]
        result["removal"] = check_removals(managers_of(nodes), ids, "removing").as_dict()
    if services:
        result["services"] = [service_facts(s) for s in client.services_with_status()]
    return result
