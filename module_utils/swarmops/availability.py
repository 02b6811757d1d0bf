"""May a node be drained without dropping a service's availability? Pure functions, no engine.

The guard that maintenance.yml relies on, precisely: draining node N is refused when
- no other node is ready and active (N is the last node that can run tasks), or
- a service with a task running on N has fewer than `min_available` tasks running on other
  nodes. Replicated services get replacements after the drain, but only after N's tasks have
  stopped; global services lose N's task until N is active again. Either way, while N drains
  the service is served by its tasks elsewhere alone. Jobs are not counted.
"""

from __future__ import annotations

JOB_MODES = ("ReplicatedJob", "GlobalJob")


def _running(task: dict) -> bool:
    return task.get("DesiredState") == "running" and (task.get("Status") or {}).get("State") == "running"


def service_names(services: list[dict]) -> dict[str, str]:
    return {s["ID"]: (s.get("Spec") or {}).get("Name", s["ID"]) for s in services}


def drain_refusal(node_id: str, nodes: list[dict], services: list[dict], tasks: list[dict],
                  min_available: int) -> str:
    """Why draining `node_id` would drop availability ('' when it would not)."""
    by_id = {n["ID"]: n for n in nodes}
    target = by_id.get(node_id) or {}
    hostname = (target.get("Description") or {}).get("Hostname") or node_id
    others = [n for n in nodes if n["ID"] != node_id and (n.get("Status") or {}).get("State") == "ready"
              and (n.get("Spec") or {}).get("Availability") == "active"]
    if not others:
        return f"{hostname} is the last ready and active node: draining it would leave no node to run tasks"
    counted = {s["ID"] for s in services if not any(m in ((s.get("Spec") or {}).get("Mode") or {})
                                                    for m in JOB_MODES)}
    names = service_names(services)
    on_node = sorted({t["ServiceID"] for t in tasks if t.get("NodeID") == node_id and _running(t)
                      and t.get("ServiceID") in counted})
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
