"""May a node be drained without dropping a service's availability? Pure functions, no engine.

The guard that `swarm_node` applies to every drain unless `force`, precisely: draining node N
is refused when
- no other node is ready and active (N is the last node that can run tasks);
- a replicated service (replicas > 0) may run on N by its placement constraints but on no
  other ready and active node: its tasks would stop and have nowhere to go;
- with `min_available`, a service with a task running on N has fewer than `min_available`
  tasks running on other nodes. Replicated services get replacements after the drain, but only
  after N's tasks have stopped; global services lose N's task until N is active again. Either
  way, while N drains the service is served by its tasks elsewhere alone.
Jobs are not counted: they run to completion and are not restarted elsewhere.
"""

from __future__ import annotations

JOB_MODES = ("ReplicatedJob", "GlobalJob")


def _running(task: dict) -> bool:
    return task.get("DesiredState") == "running" and (task.get("Status") or {}).get("State") == "running"


def service_names(services: list[dict]) -> dict[str, str]:
    return {s["ID"]: (s.get("Spec") or {}).get("Name", s["ID"]) for s in services}


def _hostname(node: dict) -> str:
    return (node.get("Description") or {}).get("Hostname") or node.get("ID", "")


def _node_values(node: dict, key: str) -> list[str] | None:
    """What a placement constraint's key reads on a node (None: a key this guard does not know)."""
    spec, desc = node.get("Spec") or {}, node.get("Description") or {}
    if key == "node.id":
        return [node.get("ID", "")]
    if key == "node.hostname":
        return [desc.get("Hostname", "")]
    if key == "node.role":
        return [spec.get("Role", "")]
    if key == "node.platform.os":
        return [(desc.get("Platform") or {}).get("OS", "")]
    if key == "node.platform.arch":
        return [(desc.get("Platform") or {}).get("Architecture", "")]
    if key.startswith("node.labels."):
        return [(spec.get("Labels") or {}).get(key[len("node.labels."):], "")]
    if key.startswith("engine.labels."):
        return [((desc.get("Engine") or {}).get("Labels") or {}).get(key[len("engine.labels."):], "")]
    return None


def placement_allows(node: dict, constraints: list[str]) -> bool:
    """Does a node satisfy every constraint (`key==value` / `key!=value`, compared without case,
    as the scheduler does)? A constraint this guard cannot read counts as satisfied, so an
    unknown key never causes a refusal."""
    for constraint in constraints or []:
        for op in ("==", "!="):
            if op in constraint:
                key, value = (part.strip() for part in constraint.split(op, 1))
                break
        else:
            continue
        values = _node_values(node, key)
        if values is None:
            continue
        match = any(v.lower() == value.lower() for v in values)
        if match != (op == "=="):
            return False
    return True


def _schedulable(node: dict) -> bool:
    return ((node.get("Status") or {}).get("State") == "ready"
            and (node.get("Spec") or {}).get("Availability") == "active")


def stranded_services(node_id: str, nodes: list[dict], services: list[dict]) -> list[str]:
    """Replicated services that may run on `node_id` and on no other ready, active node."""
    target = next((n for n in nodes if n["ID"] == node_id), None)
    if target is None:
        return []
    others = [n for n in nodes if n["ID"] != node_id and _schedulable(n)]
    out = []
    for svc in services:
        spec = svc.get("Spec") or {}
        replicated = (spec.get("Mode") or {}).get("Replicated")
        if replicated is None or int(replicated.get("Replicas", 1)) == 0:
            continue
        constraints = ((spec.get("TaskTemplate") or {}).get("Placement") or {}).get("Constraints") or []
        if placement_allows(target, constraints) and not any(placement_allows(n, constraints) for n in others):
            out.append(spec.get("Name", svc["ID"]))
    return sorted(out)


def drain_refusal(node_id: str, nodes: list[dict], services: list[dict], tasks: list[dict],
                  min_available: int | None = None) -> str:
    """Why draining `node_id` would drop availability ('' when it would not)."""
    by_id = {n["ID"]: n for n in nodes}
    hostname = _hostname(by_id.get(node_id) or {"ID": node_id})
    counted = {s["ID"] for s in services if not any(m in ((s.get("Spec") or {}).get("Mode") or {})
                                                    for m in JOB_MODES)}
    names = service_names(services)
    on_node = sorted({t["ServiceID"] for t in tasks if t.get("NodeID") == node_id and _running(t)
                      and t.get("ServiceID") in counted})
    if not any(_schedulable(n) for n in nodes if n["ID"] != node_id):
        stopping = ", ".join(sorted(names.get(s, s) for s in on_node)) or "none running now"
        return (f"{hostname} is the last ready and active node: draining it would leave no node to "
                f"run tasks (services that would stop: {stopping})")
    stranded = stranded_services(node_id, nodes, services)
    if stranded:
        return (f"draining {hostname} would leave replicated services with no node their placement "
                f"allows, so their tasks would stop: {', '.join(stranded)}")
    if not min_available:
        return ""
    short = []
    for sid in on_node:
        elsewhere = sum(1 for t in tasks if t.get("ServiceID") == sid and t.get("NodeID") != node_id
                        and _running(t))
        if elsewhere < min_available:
            short.append(f"{names.get(sid, sid)} ({elsewhere} running elsewhere)")
    if short:
        return (f"draining {hostname} would leave services with fewer than {min_available} running "
                f"task(s) on other nodes: {', '.join(short)}")
    return ""
