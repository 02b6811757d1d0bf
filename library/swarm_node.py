#!/usr/bin/python
"""swarm_node: drain (and wait), pause, promote/demote with a quorum guard, labels, removal;
one node or several in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_node
short_description: Drain, promote, demote, label or remove a swarm node, safely
description:
  - Changes one node, found by hostname or ID, from a manager. Only the fields given change; the
    rest of the node spec is kept (the API replaces the whole spec, so it is sent in full).
  - With I(nodes), changes several nodes in one call, one after another in the order given, each
    planned against the nodes as the ones before it left them (also in check mode), so a drain that
    would leave a service nowhere to run is refused knowing the drains before it.
  - C(availability=drain) with I(wait=true) returns only when no task of a replicated service is
    still running on the node and their replacements run elsewhere, or fails after I(wait_timeout)
    with the progress seen.
  - A drain is refused before anything changes, unless I(force=true), when the node is the last
    ready and active one or when a replicated service could run nowhere else by its placement
    constraints; the message names the node and the services that would stop.
  - C(role=worker) (demote) is refused when the reachable managers left would be fewer than a
    majority of the managers left (quorum would be lost), unless I(force=true); demoting the last
    manager is always refused.
  - C(state=absent) removes a node that is down or has left; a manager is refused (demote it
    first), a live worker only with I(force=true).
version_added: "0.1.0"
author: swarmops (!UNKNOWN)
extends_documentation_fragment: [swarmops]
options:
  node:
    description: Hostname or ID of the node. One of I(node) and I(nodes) is required.
    type: str
  nodes:
    description:
      - Several nodes, each with its own I(availability), I(role) and I(labels); the other
        options (I(labels_state), I(force), I(min_available), I(wait), I(wait_timeout)) apply to
        each. Mutually exclusive with I(node), I(availability), I(role), I(labels) and
        I(labels_absent); not with C(state=absent).
      - A refusal fails the task at that node; the nodes before it are changed (not in check
        mode) and listed in I(results).
    type: list
    elements: dict
    suboptions:
      node:
        description: Hostname or ID of the node.
        type: str
        required: true
      availability:
        description: As I(availability) above.
        type: str
        choices: [active, pause, drain]
      role:
        description: As I(role) above.
        type: str
        choices: [manager, worker]
      labels:
        description: As I(labels) above.
        type: dict
  state:
    description: C(present) changes the node, C(absent) removes it from the swarm.
    type: str
    choices: [present, absent]
    default: present
  availability:
    description: C(active), C(pause) (no new tasks) or C(drain) (tasks move elsewhere).
    type: str
    choices: [active, pause, drain]
  role:
    description: C(manager) promotes, C(worker) demotes (quorum-guarded).
    type: str
    choices: [manager, worker]
  labels:
    description: Node labels (values are strings).
    type: dict
  labels_state:
    description: C(merge) adds or changes I(labels) and keeps the others; C(replace) makes the labels exactly I(labels).
    type: str
    choices: [merge, replace]
    default: merge
  labels_absent:
    description: Label keys to remove (with C(labels_state=merge)).
    type: list
    elements: str
  min_available:
    description:
      - With C(availability=drain), also refuse (nothing changed) when a service with a task
        running on the node has fewer than this many tasks running on other nodes.
      - Whatever this is, a drain is refused when no other node is ready and active, or when a
        replicated service may run on this node by its placement constraints and on no other
        ready, active node; I(force=true) overrides every drain refusal.
    type: int
  wait:
    description: After C(availability=drain), wait until the node's tasks have moved.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for a drain.
    type: int
    default: 300
  force:
    description:
      - Demote even when quorum would be lost (never the last manager); remove a live worker;
        drain although services would stop or run short (see I(min_available)).
    type: bool
    default: false
notes:
  - Supports check mode (predicts each change and refuses what would be refused) and diff mode.
"""

EXAMPLES = r"""
- name: Drain worker1 and wait until its tasks run elsewhere
  swarm_node:
    node: worker1
    availability: drain
    wait_timeout: 120
  delegate_to: "{{ groups.managers[0] }}"

- name: Demote manager3 (refused if it would lose quorum)
  swarm_node:
    node: manager3
    role: worker

- name: Label a node, keeping its other labels
  swarm_node:
    node: worker2
    labels: {zone: a, ssd: "true"}

- name: Label two nodes and drain a third in one call, from a manager
  swarm_node:
    nodes:
      - {node: worker1, labels: {zone: a}}
      - {node: worker2, labels: {zone: b}}
      - {node: worker3, availability: drain}

- name: Remove a node that is gone
  swarm_node:
    node: worker9
    state: absent
"""

RETURN = r"""
node_id:
  description: The node's ID.
  returned: when the node exists
  type: str
hostname:
  description: The node's hostname.
  returned: when the node exists
  type: str
changes:
  description: >-
    What changed (or would, in check mode), each with field, before and after; with I(nodes),
    also the node it changed.
  returned: always
  type: list
  elements: dict
results:
  description: With I(nodes), each node's result (node_id, hostname, changes, node, and drain or quorum where made).
  returned: with I(nodes)
  type: list
  elements: dict
quorum:
  description: The quorum check made for a demotion.
  returned: on demotion
  type: dict
drain:
  description: >-
    How the drain wait went - waited (seconds), polls, progress (distinct summaries in order),
    timed_out, tasks_on_node, replicas_elsewhere, replicas_wanted, and services_moved (the
    replicated services that had tasks on the node, by name: swarm does not move them back).
  returned: when a drain was waited for
  type: dict
node:
  description: The node after the task (role, availability, labels, state).
  returned: when the node exists
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.availability import drain_refusal, service_names  # noqa: E402
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec  # noqa: E402
from ansible.module_utils.swarmops.cluster import (  # noqa: E402
    find_node,
    local_state,
    managers_of,
    require_manager,
)
from ansible.module_utils.swarmops.node_plan import (  # noqa: E402
    drain_progress,
    plan_node,
    removal_refusal,
)
from ansible.module_utils.swarmops.wait import Progress, wait_for  # noqa: E402


def node_view(node: dict) -> dict:
    spec = node.get("Spec") or {}
    return {"role": spec.get("Role"), "availability": spec.get("Availability"),
            "labels": spec.get("Labels") or {}, "state": (node.get("Status") or {}).get("State")}


def replicated_services(services: list[dict]) -> dict[str, int]:
    out = {}
    for s in services:
        mode = (s.get("Spec") or {}).get("Mode") or {}
        if "Replicated" in mode:
            out[s["ID"]] = int(mode["Replicated"].get("Replicas", 1))
    return out


def wait_drained(module, client, node_id: str) -> dict:
    services = client.call("list services", client.api.services)
    replicated = replicated_services(services)
    affected: set[str] = set()
    names = service_names(services)
    api = client.api

    def probe() -> Progress:
        on_node = client.call("list the node's tasks", api.tasks, filters={"node": node_id})
        running = client.call("list running tasks", api.tasks, filters={"desired-state": "running"})
        done, summary, data = drain_progress(node_id, replicated, on_node, running, affected, names)
        return Progress(done, summary, data=data)

    waited = wait_for(probe, timeout=module.params["wait_timeout"], interval=0.1, max_interval=0.25)
    return {**waited.as_result(), **waited.last.data, "ok": waited.ok,
            "services_moved": sorted(names.get(s, s) for s in affected)}


def availability_refusal(client, node_id: str, nodes: list[dict], min_available: int) -> str:
    services = client.call("list services", client.api.services)
    running = client.call("list running tasks", client.api.tasks, filters={"desired-state": "running"})
    return drain_refusal(node_id, nodes, services, running, min_available)


NODE_FIELDS = ("availability", "role", "labels")


class NodeError(Exception):
    """A node's change failed or was refused: the message, and the result so far."""

    def __init__(self, msg: str, result: dict):
        super().__init__(msg)
        self.msg = msg
        self.result = result


def change_node(module, client, nodes: list[dict], want: dict) -> tuple[dict, dict]:
    """Plan one node's change against `nodes` and, unless in check mode, make it (and wait for a
    drain). Returns the node's result and the spec it leaves, or raises NodeError."""
    p = module.params
    node, why = find_node(nodes, want["node"])
    if node is None:
        raise NodeError(f"invalid option node: {why}", {"changed": False, "changes": []})
    plan = plan_node(node, managers_of(nodes), want["availability"], want["role"], want["labels"],
                     p["labels_state"], p["labels_absent"], p["force"])
    result = {"changed": plan.changed, "changes": plan.changes, "node_id": node["ID"],
              "hostname": (node.get("Description") or {}).get("Hostname", "")}
    if plan.quorum is not None:
        result["quorum"] = plan.quorum.as_dict()
    if (not plan.refused and want["availability"] == "drain" and not p["force"]
            and (node.get("Spec") or {}).get("Availability") != "drain"):
        plan.refused = availability_refusal(client, node["ID"], nodes, p["min_available"])
        if plan.refused:
            plan.refused += " (force=true overrides)"
    if plan.refused:
        result["changed"] = False
        raise NodeError(f"refused: {plan.refused}; nothing was changed", result)
    if plan.changed:
        result["diff"] = plan.diff(node.get("Spec") or {})
    if module.check_mode:
        result["node"] = node_view({**node, "Spec": plan.spec})
        return result, plan.spec

    if plan.changed:
        def attempt():
            fresh = client.api.inspect_node(node["ID"])
            again = plan_node(fresh, managers_of(nodes), want["availability"], want["role"], want["labels"],
                              p["labels_state"], p["labels_absent"], p["force"])
            return client.api.update_node(node["ID"], fresh["Version"]["Index"], again.spec)

        client.retry_write(f"update node {result['hostname']}", attempt)

    if want["availability"] == "drain" and p["wait"]:
        drain = wait_drained(module, client, node["ID"])
        result["drain"] = drain
        if not drain.pop("ok"):
            raise NodeError(f"the node is drained but its tasks did not all move within "
                            f"{p['wait_timeout']} s: {drain['progress'][-1]}", result)
    try:
        result["node"] = node_view(client.api.inspect_node(node["ID"]))
    except client.errors:  # e.g. this manager demoted itself and can no longer read nodes
        result["node"] = node_view({**node, "Spec": plan.spec})
    return result, plan.spec


def change_nodes(module, client, nodes: list[dict], wants: list[dict]) -> dict:
    """Each node of `wants` in turn, planned against the nodes as the ones before left them:
    listed again after a real change, the planned spec put in their place in check mode."""
    results: list[dict] = []
    for want in wants:
        try:
            result, spec = change_node(module, client, nodes, want)
        except NodeError as exc:
            done = [r["hostname"] for r in results if r["changed"]]
            before = "" if module.check_mode or not done else f" (changed before it: {', '.join(done)})"
            exc.msg = f"{want['node']}: {exc.msg}{before}"
            exc.result = batch_result([*results, exc.result])
            raise
        results.append(result)
        if result["changed"]:
            if module.check_mode:
                nodes = [dict(n, Spec=spec) if n["ID"] == result["node_id"] else n for n in nodes]
            else:
                nodes = client.call("list nodes", client.api.nodes)
    return batch_result(results)


def batch_result(results: list[dict]) -> dict:
    """The task's result for several nodes: a refused node is in `results`, not in `changes`."""
    out = {"changed": any(r.get("changed") for r in results), "results": results,
           "changes": [dict(c, node=r.get("hostname") or r.get("node_id", "")) for r in results
                       if r.get("changed") for c in r.get("changes", [])]}
    diffs = [dict(r["diff"], before_header=f"node {r['hostname']}", after_header=f"node {r['hostname']}")
             for r in results if r.get("diff")]
    if diffs:
        out["diff"] = diffs
    return out


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            node={"type": "str"},
            nodes={"type": "list", "elements": "dict", "options": {
                "node": {"type": "str", "required": True},
                "availability": {"type": "str", "choices": ["active", "pause", "drain"]},
                "role": {"type": "str", "choices": ["manager", "worker"]},
                "labels": {"type": "dict"},
            }},
            state={"type": "str", "default": "present", "choices": ["present", "absent"]},
            availability={"type": "str", "choices": ["active", "pause", "drain"]},
            role={"type": "str", "choices": ["manager", "worker"]},
            labels={"type": "dict"},
            labels_state={"type": "str", "default": "merge", "choices": ["merge", "replace"]},
            labels_absent={"type": "list", "elements": "str"},
            wait={"type": "bool", "default": True},
            wait_timeout={"type": "int", "default": 300},
            force={"type": "bool", "default": False},
            min_available={"type": "int"},
        ),
        mutually_exclusive=[("nodes", f) for f in ("node", *NODE_FIELDS, "labels_absent")],
        required_one_of=[("node", "nodes")],
        supports_check_mode=True,
    )
    p = module.params
    drains = [p["availability"]] + [n["availability"] for n in p["nodes"] or []]
    if p["labels_absent"] and p["labels_state"] == "replace":
        module.fail_json(msg="labels_absent is only allowed with labels_state=merge (allowed: merge, replace)")
    if p["min_available"] is not None and (p["min_available"] < 0 or "drain" not in drains):
        module.fail_json(msg="min_available: a number of tasks, 0 or more, given with availability=drain")
    if p["state"] == "absent" and (p["nodes"] is not None or any(p[k] is not None for k in NODE_FIELDS)):
        module.fail_json(msg="state=absent takes no nodes, availability, role or labels "
                             "(allowed states: present, absent)")
    client = SwarmClient(module)
    require_manager(module, local_state(client), "change a node")
    nodes = client.call("list nodes", client.api.nodes)

    if p["state"] == "absent":
        node, _why = find_node(nodes, p["node"])
        if node is None:
            module.exit_json(changed=False, changes=[])
        refusal = removal_refusal(node, p["force"])
        if refusal:
            module.fail_json(msg=f"refused: {refusal}; nothing was changed", node=node_view(node))
        result = {"changed": True, "node_id": node["ID"],
                  "hostname": (node.get("Description") or {}).get("Hostname", ""),
                  "changes": [{"field": "membership", "before": "member", "after": "removed"}],
                  "diff": {"before": {"node": node["ID"], **node_view(node)}, "after": {}}}
        if not module.check_mode:
            client.call("remove node", client.api.remove_node, node["ID"], force=p["force"])
        module.exit_json(**result)

    try:
        if p["nodes"] is not None:
            module.exit_json(**change_nodes(module, client, nodes, p["nodes"]))
        result, _spec = change_node(module, client, nodes, {k: p[k] for k in ("node", *NODE_FIELDS)})
    except NodeError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
