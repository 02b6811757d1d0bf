#!/usr/bin/python
"""swarm_info: the cluster's state as facts, for the next task or a report. Never a token."""

from __future__ import annotations

NO_LEADER = ("does not have a leader", "context deadline exceeded")

DOCUMENTATION = r"""
module: swarm_info
short_description: Facts about the swarm, its managers, quorum, nodes and services
description:
  - Reads this engine's swarm membership and, on a manager, the swarm, its managers with their
    reachability, the quorum arithmetic (how many managers may still be lost), every node, every
    service with desired and running replicas, and whether a root CA rotation is in progress.
  - On a worker (or a node in no swarm, or a locked manager) only I(local) is filled in.
  - Never returns join tokens or the unlock key.
  - Node certificates are readable only on the node itself; I(local.cert_not_after) is this node's
    certificate expiry (run the module on every host for all of them).
version_added: "0.1.0"
author: swarmops (!UNKNOWN)
extends_documentation_fragment: [swarmops]
options:
  services:
    description: Include services and their replicas (one more API call).
    type: bool
    default: true
notes:
  - Read-only; supports check mode; never reports a change.
"""

EXAMPLES = r"""
- name: Cluster facts for the next tasks
  swarm_info:
  register: cluster
  run_once: true
  delegate_to: "{{ groups.managers[0] }}"

- name: Refuse maintenance without a spare manager
  ansible.builtin.assert:
    that: cluster.quorum.can_still_lose >= 1
"""

RETURN = r"""
local:
  description: This engine's membership (state, role, node_id, node_addr, cluster_id, hostname,
    engine_version, cert_not_after when the node certificate is readable).
  returned: always
  type: dict
is_manager:
  description: Whether this node is an active (unlocked) manager; the facts below need one.
  returned: always
  type: bool
swarm:
  description: Swarm ID, created/updated times, settings, default address pool, subnet size,
    data path port, root CA issuer and whether a CA rotation is in progress.
  returned: on a manager
  type: dict
leader:
  description: Hostname of the raft leader.
  returned: on a manager
  type: str
managers:
  description: Managers with hostname, node_id, addr, reachability and leader.
  returned: on a manager
  type: list
  elements: dict
quorum:
  description: managers, reachable, quorum (majority needed), has_quorum, failures_tolerated,
    can_still_lose (more managers that may be lost right now).
  returned: on a manager
  type: dict
nodes:
  description: Every node with node_id, hostname, role, availability, state, addr, engine_version,
    labels, and tls_current (its certificate is issued by the current root CA).
  returned: on a manager
  type: list
  elements: dict
services:
  description: Every service with name, id, mode, desired and running tasks.
  returned: on a manager, when I(services=true)
  type: list
  elements: dict
ca_rotation_in_progress:
  description: A root CA rotation has not finished (some node has not got a new certificate).
  returned: on a manager
  type: bool
has_leader:
  description:
    - Whether the manager can reach a raft leader. Without one (quorum lost) only I(local),
      I(quorum) (C(has_quorum=false), the manager count this engine knows) and I(error) are filled in.
  returned: on a manager
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops import swarm_settings  # noqa: E402
from ansible.module_utils.swarmops.client import APIError, SwarmClient, argument_spec  # noqa: E402
from ansible.module_utils.swarmops.cluster import (  # noqa: E402
    local_cert_not_after,
    local_state,
    managers_of,
)
from ansible.module_utils.swarmops.quorum import failures_tolerated, majority, summary  # noqa: E402


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


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(services={"type": "bool", "default": True}),
        supports_check_mode=True,
    )
    client = SwarmClient(module)
    local = local_state(client)
    local["cert_not_after"] = local_cert_not_after(module.params["docker_host"])
    is_manager = local["state"] == "active" and local["role"] == "manager"
    result: dict = {"changed": False, "local": local, "is_manager": is_manager}
    if not is_manager:
        module.exit_json(**result)

    try:
        swarm = client.api.inspect_swarm()
    except APIError as exc:
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
        module.exit_json(**result)
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
    rotating = bool(swarm.get("RootRotationInProgress")) or not all(f["tls_current"] for f in facts
                                                                    if f["state"] != "down")
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
    if module.params["services"]:
        api = client.api
        services = client.call("list services", lambda: api._result(
            api._get(api._url("/services"), params={"status": "true"}), True))
        result["services"] = [service_facts(s) for s in services]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
