"""What a swarm_node task would change on a node, as data: pure functions, no engine.

The Engine API's node update replaces the whole node spec (labels, role and availability not
sent are removed or reset), so the plan always starts from the node's current spec.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ansible.module_utils.swarmops.quorum import Manager, QuorumCheck, check_removal

ACTIVE_TASK_STATES = frozenset(
    {"new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"})


def merge_labels(current: dict[str, str], wanted: dict[str, Any] | None, mode: str,
                 remove: list[str] | None = None) -> dict[str, str]:
    """Labels after the task: `merge` adds/overrides the wanted ones (and drops `remove`),
    `replace` makes them exactly `wanted`."""
    wanted_s = {str(k): "" if v is None else str(v) for k, v in (wanted or {}).items()}
    if mode == "replace":
        return wanted_s
    if mode != "merge":
        raise ValueError(f"labels_state: expected merge or replace, got {mode!r}")
    out = dict(current or {})
    for key in remove or []:
        out.pop(key, None)
    out.update(wanted_s)
    return out


@dataclass
class NodePlan:
    spec: dict  # the whole spec to send
    changes: list[dict] = field(default_factory=list)  # [{field, before, after}]
    refused: str = ""  # why the task must fail with nothing changed
    quorum: QuorumCheck | None = None

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def diff(self, node_spec: dict) -> dict:
        keys = ("availability", "role", "labels")
        before = {k: shown(node_spec, k) for k in keys}
        after = {k: shown(self.spec, k) for k in keys}
        return {"before": before, "after": after}


def shown(spec: dict, key: str) -> Any:
    if key == "labels":
        return dict(spec.get("Labels") or {})
    return spec.get(key.capitalize())


def plan_node(node: dict, managers: list[Manager], availability: str | None = None,
              role: str | None = None, labels: dict | None = None, labels_state: str = "merge",
              labels_absent: list[str] | None = None, force: bool = False) -> NodePlan:
    spec = copy.deepcopy(node.get("Spec") or {})
    current = node.get("Spec") or {}
    plan = NodePlan(spec)
    if availability is not None and current.get("Availability") != availability:
        plan.changes.append({"field": "availability", "before": current.get("Availability"), "after": availability})
        spec["Availability"] = availability
    if role is not None and current.get("Role") != role:
        if role == "worker":
            check = check_removal(managers, node["ID"], "demoting")
            plan.quorum = check
            last = check.managers_after == 0
            if not check.ok and (last or not force):
                plan.refused = check.reason + ("" if last else " (force=true overrides)")
        plan.changes.append({"field": "role", "before": current.get("Role"), "after": role})
        spec["Role"] = role
    if labels is not None or labels_absent:
        before = dict(current.get("Labels") or {})
        after = merge_labels(before, labels, labels_state, labels_absent)
        if after != before:
            plan.changes.append({"field": "labels", "before": before, "after": after})
            spec["Labels"] = after
    return plan


def removal_refusal(node: dict, force: bool) -> str:
    """Why a node may not be removed ('' when it may): live managers never, live workers with force."""
    hostname = (node.get("Description") or {}).get("Hostname") or node["ID"]
    state = (node.get("Status") or {}).get("State")
    if node.get("ManagerStatus"):
        return (f"{hostname} is a manager: demote it first (role=worker), then remove it "
                "once it is down or has left")
    if (node.get("Spec") or {}).get("Role") == "manager" and not (force and state in ("down", "unknown")):
        # A manager entry outside the raft group (left behind by a forced new cluster) cannot
        # be demoted any more; only a forced removal of the down entry clears it.
        return (f"{hostname} is a manager: demote it first (role=worker), then remove it "
                "once it is down or has left (a down manager entry that is no raft member: force=true)")
    if state not in ("down", "unknown", "disconnected") and not force:
        return f"{hostname} is {state}, not down: drain it and let it leave first, or force=true"
    return ""


def drain_progress(node_id: str, replicated: dict[str, int], tasks_on_node: list[dict],
                   running_tasks: list[dict], affected: set[str],
                   names: dict[str, str] | None = None) -> tuple[bool, str, dict]:
    """Is a drain done? No task of a replicated service still active on the node, and every
    affected service has its desired replicas running elsewhere.

    `replicated` maps service ID -> replicas; `affected` accumulates (in place) the services
    seen on the node, so a task that left early still counts for its service. `names` maps
    service ID -> name, so the services still short are reported by name.
    """
    still = [t for t in tasks_on_node
             if t.get("ServiceID") in replicated and (t.get("Status") or {}).get("State") in ACTIVE_TASK_STATES]
    affected.update(t["ServiceID"] for t in still)
    running_elsewhere: dict[str, int] = {}
    for t in running_tasks:
        if t.get("NodeID") != node_id and (t.get("Status") or {}).get("State") == "running":
            running_elsewhere[t.get("ServiceID")] = running_elsewhere.get(t.get("ServiceID"), 0) + 1
    short = {s: replicated[s] - running_elsewhere.get(s, 0) for s in affected
             if running_elsewhere.get(s, 0) < replicated[s]}
    done = not still and not short
    want = sum(replicated[s] for s in affected)
    have = sum(min(running_elsewhere.get(s, 0), replicated[s]) for s in affected)
    summary = f"{len(still)} tasks still on the node, {have}/{want} replicas running elsewhere"
    return done, summary, {"tasks_on_node": len(still), "replicas_elsewhere": have, "replicas_wanted": want,
                           "services_short": sorted((names or {}).get(s, s) for s in short)}
