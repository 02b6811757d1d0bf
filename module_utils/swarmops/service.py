"""Service helpers shared by swarm_service, swarm_service_info and swarm_stack.

Pure functions (task summaries, convergence assessment, placement maths, the plan) take plain
dicts as the Engine API returns them; the few functions that talk to the engine take a
`SwarmClient` and are kept at the bottom.
"""

from __future__ import annotations

from typing import Any

from .spec import (
    SERVICE_FIELDS,
    SpecError,
    build,
    diff,
    get_path,
    given,
    mode_of,
    parse_constraint,
    validate,
)
from .wait import Progress, wait_for

STACK_LABEL = "com.docker.stack.namespace"

_RES = {"cpus": {"type": "str"}, "memory": {"type": "str"}}
_FLOW = {
    "parallelism": {"type": "int"}, "delay": {"type": "str"}, "monitor": {"type": "str"},
    "max_failure_ratio": {"type": "float"},
    "order": {"type": "str", "choices": ["stop-first", "start-first"]},
}

# swarm_service's options (its argument spec, less the connection's): also what the
# controller normalises the inventory's services with before it plans them from a read.
SERVICE_OPTIONS: dict[str, dict[str, Any]] = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent", "rolled_back"]},
    "image": {"type": "str"},
    "command": {"type": "raw"},
    "args": {"type": "raw"},
    "env": {"type": "raw"},
    "user": {"type": "str"},
    "workdir": {"type": "str"},
    "hostname": {"type": "str"},
    "container_labels": {"type": "dict"},
    "stop_grace_period": {"type": "str"},
    "mode": {"type": "str", "choices": ["replicated", "global", "replicated-job", "global-job"]},
    "replicas": {"type": "int"},
    "max_concurrent": {"type": "int"},
    "total_completions": {"type": "int"},
    "limits": {"type": "dict", "options": _RES},
    "reservations": {"type": "dict", "options": _RES},
    "constraints": {"type": "list", "elements": "str"},
    "placement_preferences": {"type": "list", "elements": "raw"},
    "max_replicas_per_node": {"type": "int"},
    "publish": {"type": "list", "elements": "raw"},
    "endpoint_mode": {"type": "str", "choices": ["vip", "dnsrr"]},
    "networks": {"type": "list", "elements": "raw"},
    "mounts": {"type": "list", "elements": "dict"},
    # Names of swarm secrets and where to mount them, never their values.
    "secrets": {"type": "list", "elements": "raw", "no_log": False},
    "configs": {"type": "list", "elements": "raw"},
    "labels": {"type": "dict"},
    "healthcheck": {"type": "dict", "options": {
        "test": {"type": "raw"}, "interval": {"type": "str"}, "timeout": {"type": "str"},
        "retries": {"type": "int"}, "start_period": {"type": "str"}}},
    "restart_policy": {"type": "dict", "options": {
        "condition": {"type": "str", "choices": ["none", "on-failure", "any"]}, "delay": {"type": "str"},
        "max_attempts": {"type": "int"}, "window": {"type": "str"}}},
    "update_config": {"type": "dict", "options": {
        **_FLOW, "failure_action": {"type": "str", "choices": ["continue", "pause", "rollback"]}}},
    "rollback_config": {"type": "dict", "options": {
        **_FLOW, "failure_action": {"type": "str", "choices": ["continue", "pause"]}}},
    "force_update": {"type": "bool", "default": False},
    "force": {"type": "bool", "default": False},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 120},
}

# The task states of the seeds' table, in lifecycle order.
TASK_STATES = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running",
               "complete", "shutdown", "failed", "rejected", "remove", "orphaned")
FAILED_STATES = ("failed", "rejected")
ROLLOUT_FAILED = {"paused": "the rollout paused on failing tasks",
                  "rollback_paused": "the rollback paused on failing tasks",
                  "rollback_completed": "the rollout failed and the engine rolled the service back "
                                        "to its previous spec"}


# --- tasks ----------------------------------------------------------------------------------

def task_summary(task: dict, node_names: dict[str, str]) -> dict:
    status = task.get("Status") or {}
    cstatus = status.get("ContainerStatus") or {}
    return {
        "id": task.get("ID"),
        "slot": task.get("Slot"),
        "node": node_names.get(task.get("NodeID") or "", task.get("NodeID") or ""),
        "state": status.get("State"),
        "desired_state": task.get("DesiredState"),
        "message": status.get("Message", ""),
        "error": status.get("Err", ""),
        "exit_code": cstatus.get("ExitCode"),
        "container_id": cstatus.get("ContainerID"),
        "image": get_path(task, ("Spec", "ContainerSpec", "Image")),
        "created_at": task.get("CreatedAt"),
        "updated_at": status.get("Timestamp") or task.get("UpdatedAt"),
    }


def _clean(d: Any) -> Any:
    """Drop empty values, so that an absent key and an empty one compare equal."""
    if isinstance(d, dict):
        return {k: _clean(v) for k, v in d.items() if v not in (None, {}, [], "", 0)}
    return d


# Left out of the comparison: Runtime (a task's own), and Placement, because swarm keeps a
# task whose node still satisfies changed constraints, with its old spec, instead of
# replacing it (a task on a node that no longer fits is replaced and ends).
_NOT_COMPARED = ("Runtime", "Placement")


def on_spec(task: dict, template: dict) -> bool:
    """Does the task run the service's current task template?"""
    want = {k: v for k, v in (template or {}).items() if k not in _NOT_COMPARED}
    have = {k: v for k, v in (task.get("Spec") or {}).items() if k not in _NOT_COMPARED}
    return _clean(want) == _clean(have)


def state_counts(tasks: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in tasks:
        state = (t.get("Status") or {}).get("State", "unknown")
        counts[state] = counts.get(state, 0) + 1
    return counts


def failing_text(tasks: list[dict], node_names: dict[str, str], limit: int = 5) -> str:
    parts = []
    for t in tasks[:limit]:
        s = task_summary(t, node_names)
        where = f" on {s['node']}" if s["node"] else ""
        code = f", exit code {s['exit_code']}" if s["state"] in ("complete", "failed") else ""
        parts.append(f"task {s['id'][:12]} (slot {s['slot']}, {s['image']}){where}: {s['state']}: "
                     f"{s['error'] or s['message']}{code}")
    more = f" and {len(tasks) - limit} more" if len(tasks) > limit else ""
    return "; ".join(parts) + more


def assess(service: dict, tasks: list[dict], node_names: dict[str, str], expect_rollback: bool = False) -> Progress:
    """One look at a service: converged, still moving, pending, or failed (and why)."""
    spec = service.get("Spec") or {}
    template = spec.get("TaskTemplate") or {}
    mode = mode_of(spec.get("Mode"))
    update = service.get("UpdateStatus") or {}
    ustate = update.get("State") or ""
    iteration = get_path(service, ("JobStatus", "JobIteration", "Index"))

    def current(t: dict) -> bool:
        if mode in ("replicated-job", "global-job") and iteration is not None:
            return get_path(t, ("JobIteration", "Index")) == iteration
        return on_spec(t, template)

    mine = [t for t in tasks if current(t)]
    desired = [t for t in tasks if t.get("DesiredState") in ("running", "complete") and current(t)]
    live = [t for t in tasks if t.get("DesiredState") == "running"]
    running = [t for t in live if (t.get("Status") or {}).get("State") == "running" and current(t)]
    failed = [t for t in mine if (t.get("Status") or {}).get("State") in FAILED_STATES]
    pending = [t for t in live if (t.get("Status") or {}).get("State") == "pending"
               and (t.get("Status") or {}).get("Err")]
    data = {"update_status": ustate or None, "update_message": update.get("Message", ""),
            "states": state_counts(live), "running": len(running)}

    refused = ""
    if ustate in ROLLOUT_FAILED and not (expect_rollback and ustate == "rollback_completed"):
        why = ROLLOUT_FAILED[ustate]
        # After a rollback the failing tasks ran the refused spec, not the current one.
        started = update.get("StartedAt") or ""
        ended = FAILED_STATES if mode in ("replicated-job", "global-job") else (*FAILED_STATES, "complete")
        recent = sorted((t for t in tasks if (t.get("Status") or {}).get("State") in ended
                         and (t.get("CreatedAt") or "") >= started),
                        key=lambda t: (t.get("Status") or {}).get("Timestamp") or "", reverse=True)
        data["failed_tasks"] = [task_summary(t, node_names) for t in recent[:10]]
        detail = f"; failing tasks: {failing_text(recent, node_names)}" if recent else ""
        refused = f"{why} ({update.get('Message', '')}){detail}"
        if ustate != "rollback_completed" or mode not in ("replicated", "global"):
            return Progress(False, f"update {ustate}", failed=refused, data=data)
        # Rolled back: report once the previous spec runs again, so the result shows the
        # service as it is left (and a timeout still says the rollout was refused).
    if ustate in ("updating", "rollback_started"):
        # A new task no node can take stalls the update: say why (the wait stops on it).
        stuck = [t for t in pending if current(t)]
        if stuck:
            data["pending_reason"] = (stuck[0].get("Status") or {}).get("Err")
            return Progress(False, f"{ustate}: {len(running)} running, {len(stuck)} pending: "
                                   f"{data['pending_reason']}", data=data)
        return Progress(False, f"{ustate}: {len(running)} running on the new spec", data=data)

    restart = get_path(template, ("RestartPolicy", "Condition")) or "any"
    if mode in ("replicated", "global") and mine and not [t for t in live if current(t)] and restart != "any":
        ended = sorted(mine, key=lambda t: (t.get("Status") or {}).get("Timestamp") or "", reverse=True)
        return Progress(False, "tasks ended", data=data,
                        failed=f"the tasks ended and the restart policy (condition: {restart}) does not start "
                               f"them again: {failing_text(ended, node_names)}")
    if mode == "replicated":
        want = get_path(spec, ("Mode", "Replicated", "Replicas")) or 0
        done = len(running) == want and len(live) == want
    elif mode == "global":
        want = len(live)
        done = len(running) == want
    elif mode == "replicated-job":
        want = get_path(spec, ("Mode", "ReplicatedJob", "TotalCompletions")) or 1
        complete = [t for t in mine if (t.get("Status") or {}).get("State") == "complete"]
        data["complete"] = len(complete)
        return Progress(len(complete) >= want, f"{len(complete)}/{want} completions", data=data)
    else:  # global-job
        complete = [t for t in desired if (t.get("Status") or {}).get("State") == "complete"]
        data["complete"] = len(complete)
        want = len(desired)
        return Progress(want > 0 and len(complete) == want, f"{len(complete)}/{want} nodes complete", data=data)

    summary = f"{len(running)}/{want} running"
    if refused:
        return Progress(False, f"rolled back, {summary}", failed=refused if done else "", data=data)
    if done:
        return Progress(True, summary, data=data)
    if pending and len(pending) + len(running) >= len(live):
        reason = (pending[0].get("Status") or {}).get("Err")
        data["pending_reason"] = reason
        return Progress(False, f"{summary}, {len(pending)} pending: {reason}", data=data)
    if failed and not running and len(failed) >= max(3, want):
        return Progress(False, summary, data=data,
                        failed=f"tasks keep failing: {failing_text(failed, node_names)}")
    return Progress(False, summary, data=data)


# --- placement ------------------------------------------------------------------------------

def node_matches(node: dict, constraint: str) -> bool | None:
    """Does a node satisfy a constraint? None when the attribute is not one we can evaluate."""
    attr, op, value = parse_constraint(constraint)
    spec = node.get("Spec") or {}
    desc = node.get("Description") or {}
    if attr == "node.role":
        actual: Any = spec.get("Role")
    elif attr == "node.hostname":
        actual = desc.get("Hostname")
    elif attr == "node.id":
        actual = node.get("ID")
    elif attr.startswith("node.labels."):
        actual = (spec.get("Labels") or {}).get(attr[len("node.labels."):])
    elif attr == "node.platform.os":
        actual = get_path(desc, ("Platform", "OS"))
    elif attr == "node.platform.arch":
        actual = get_path(desc, ("Platform", "Architecture"))
    else:
        return None
    return (actual == value) if op == "==" else (actual != value)


def eligible_nodes(nodes: list[dict], constraints: list[str]) -> list[dict]:
    """Ready, active nodes that satisfy every constraint we can evaluate."""
    out = []
    for n in nodes:
        if get_path(n, ("Status", "State")) != "ready" or get_path(n, ("Spec", "Availability")) != "active":
            continue
        if all(node_matches(n, c) is not False for c in constraints or []):
            out.append(n)
    return out


def host_port_problem(spec: dict, eligible: int) -> str | None:
    """A fixed host-mode port can be bound once per node: refuse more replicas than nodes."""
    mode = mode_of(spec.get("Mode"))
    if mode != "replicated":
        return None
    fixed = [p for p in get_path(spec, ("EndpointSpec", "Ports")) or []
             if p.get("PublishMode") == "host" and p.get("PublishedPort")]
    if not fixed:
        return None
    replicas = get_path(spec, ("Mode", "Replicated", "Replicas")) or 0
    if replicas <= eligible:
        return None
    ports = ", ".join(f"{p['PublishedPort']}/{p.get('Protocol', 'tcp')}" for p in fixed)
    return (f"{replicas} replicas with the fixed host-mode port(s) {ports} need {replicas} nodes, but only "
            f"{eligible} eligible node(s) exist: a host-mode port can be bound once per node. Use mode: global "
            "(one task per node), max_replicas_per_node: 1 (the extra replicas then wait as pending), a dynamic "
            "port (leave published out), or force: true")


# --- the plan -------------------------------------------------------------------------------

def plan(params: dict, current: dict | None, ctx: dict, stack: str | None = None) -> dict:
    """What swarm_service (or swarm_stack for one of its services) would do, as data.

    Returns {action: create|update|none|remove|rollback, spec, changes, error}. `ctx` holds the
    resolved references (networks, secrets, configs: name -> id) and `eligible` (node count).
    """
    state = params.get("state") or "present"
    name = params["name"]
    spec_now = (current or {}).get("Spec")
    owner = ((spec_now or {}).get("Labels") or {}).get(STACK_LABEL)
    result: dict[str, Any] = {"action": "none", "spec": spec_now, "changes": [], "error": None}
    if current is not None and owner and owner != stack:
        result["error"] = (f"service {name} belongs to the stack {owner!r} (label {STACK_LABEL}); "
                           "change it through swarm_stack, or remove the stack first")
        return result
    if state == "absent":
        if current is not None:
            result.update(action="remove", changes=[{"field": "service", "before": name, "after": None}])
        return result
    if state == "rolled_back":
        if current is None:
            result["error"] = f"service {name} does not exist: nothing to roll back"
        elif (current.get("UpdateStatus") or {}).get("State") in ("rollback_started", "rollback_completed"):
            pass  # already rolled back; rolling back again would undo it
        elif not current.get("PreviousSpec"):
            result["error"] = f"service {name} has no previous spec to roll back to"
        else:
            result.update(action="rollback", spec=current["PreviousSpec"],
                          changes=diff(SERVICE_FIELDS, spec_now, current["PreviousSpec"]))
        return result

    errors = validate(SERVICE_FIELDS, params)
    if current is None and not params.get("image"):
        errors.append(f"image: required to create the service {name}")
    if errors:
        result["error"] = "; ".join(errors)
        return result
    try:
        desired = build(SERVICE_FIELDS, params, spec_now, ctx)
    except SpecError as exc:
        result["error"] = str(exc)
        return result
    desired["Name"] = name
    if stack:
        desired.setdefault("Labels", {})[STACK_LABEL] = stack
    if current is not None:
        old_mode, new_mode = mode_of(spec_now.get("Mode")), mode_of(desired.get("Mode"))
        if old_mode != new_mode:
            result["error"] = (f"mode: the engine cannot change a service from {old_mode} to {new_mode}; "
                               f"remove the service {name} first (state: absent)")
            return result
    only = given(SERVICE_FIELDS, params) | ({"labels"} if stack else set())
    if not params.get("force_update"):
        only.discard("force_update")
    changes = diff(SERVICE_FIELDS, spec_now, desired, only=only)
    if not params.get("force") and ctx.get("eligible") is not None and changes:
        problem = host_port_problem(desired, ctx["eligible"])
        if problem:
            result.update(changes=changes, error=problem)
            return result
    result.update(spec=desired, changes=changes,
                  action="create" if current is None else ("update" if changes else "none"))
    return result


# --- talking to the engine ------------------------------------------------------------------

def find_service(client: Any, name: str) -> dict | None:
    for s in client.call("listing services", client.api.services, filters={"name": name}):
        if (s.get("Spec") or {}).get("Name") == name:
            return client.call(f"inspecting service {name}", client.api.inspect_service, s["ID"])
    return None


def node_names(client: Any) -> dict[str, str]:
    nodes = client.call("listing nodes", client.api.nodes)
    return {n["ID"]: get_path(n, ("Description", "Hostname")) or n["ID"] for n in nodes}


def service_tasks(client: Any, service_id: str) -> list[dict]:
    return client.call("listing tasks", client.api.tasks, filters={"service": service_id})


def plan_context(client: Any, params: dict, current: dict | None, nodes: list[dict] | None = None) -> dict:
    """What plan() needs from the engine: resolved references and the count of eligible nodes."""
    if params.get("state", "present") != "present":
        return {}
    ctx = resolve_refs(client, params)
    if nodes is None:
        nodes = client.call("listing nodes", client.api.nodes)
    constraints = params.get("constraints")
    if constraints is None:
        constraints = get_path(current, ("Spec", "TaskTemplate", "Placement", "Constraints")) or []
    try:
        ctx["eligible"] = len(eligible_nodes(nodes, constraints))
    except SpecError:
        ctx["eligible"] = None  # a bad constraint: the plan's validation names it
    return ctx


def resolve_refs(client: Any, params: dict) -> dict:
    """name -> id for the networks, and name -> (id, real name) for secrets/configs a spec names.

    A secret or config named exactly is used as is; otherwise the newest version that
    swarm_secret/swarm_config made for that name (label swarmops.name) is used.
    """
    def listed(kind: str) -> list[dict]:
        return client.call(f"listing {kind}", getattr(client.api, kind)) if params.get(kind) else []
    return references(listed("networks"), listed("secrets"), listed("configs"))


def references(networks: list[dict], secrets: list[dict], configs: list[dict]) -> dict:
    """resolve_refs' map from the listed networks, secrets and configs."""
    ctx: dict[str, Any] = {"networks": {}, "secrets": latest_versions(secrets), "configs": latest_versions(configs)}
    for net in networks:
        ctx["networks"].setdefault(net["Name"], net["Id"])
        ctx["networks"][net["Id"]] = net["Id"]
    return ctx


VERSION_LABEL = "swarmops.version"
NAME_LABEL = "swarmops.name"


def latest_versions(objs: list[dict]) -> dict[str, tuple[str, str]]:
    """name -> (id, real name): exact names, and for versioned objects their newest version."""
    out: dict[str, tuple[str, str]] = {}
    best: dict[str, int] = {}
    for o in objs:
        name = get_path(o, ("Spec", "Name"))
        labels = get_path(o, ("Spec", "Labels")) or {}
        out.setdefault(name, (o["ID"], name))
        base = labels.get(NAME_LABEL)
        if base:
            version = int(labels.get(VERSION_LABEL, "0"))
            if version > best.get(base, -1):
                best[base] = version
                out[base] = (o["ID"], name)
    return out


def apply(client: Any, the_plan: dict, current: dict | None, name: str) -> str | None:
    """Carry out a plan; return the service id."""
    action, spec = the_plan["action"], the_plan["spec"]
    if action == "create":
        created = client.call(f"creating service {name}", client.post_json, "/services/create", data=spec)
        return created["ID"]
    if current is None:
        raise AssertionError("a plan other than create needs the current service")
    sid = current["ID"]
    if action == "remove":
        client.call(f"removing service {name}", client.api.remove_service, sid)
        return None

    def attempt() -> None:
        fresh = client.api.inspect_service(sid)
        params = {"version": fresh["Version"]["Index"]}
        body = spec
        if action == "rollback":
            params["rollback"] = "previous"
            body = fresh["Spec"]  # ignored by the engine, but must be a valid spec
        client.post_json(f"/services/{sid}/update", params=params, data=body)

    client.retry_write(f"{action} of service {name}", attempt)
    return sid


def wait_converged(client: Any, service_id: str, timeout: float,
                   expect_rollback: bool = False) -> tuple[Any, dict, list]:
    """Wait (bounded) until the service converges, fails, or stays pending; return the
    WaitResult, the last service inspect and its tasks."""
    names = node_names(client)
    seen: dict[str, Any] = {"pending": 0}

    def probe() -> Progress:
        service = client.call("inspecting service", client.api.inspect_service, service_id)
        tasks = service_tasks(client, service_id)
        seen["service"], seen["tasks"] = service, tasks
        progress = assess(service, tasks, names, expect_rollback)
        if progress.data.get("pending_reason"):
            seen["pending"] += 1
            if seen["pending"] >= 3:
                progress.failed = f"pending: {progress.data['pending_reason']}"
        else:
            seen["pending"] = 0
        return progress

    # Each poll is two reads on the manager's socket: cheap enough to poll often, so the
    # wait ends soon after the tasks run rather than up to 1.5 s later.
    result = wait_for(probe, timeout=timeout, interval=0.2, max_interval=0.75)
    return result, seen["service"], seen["tasks"]


def service_facts(service: dict, tasks: list[dict], names: dict[str, str]) -> dict:
    """What a result says about a service: spec summary, replicas, update status, tasks."""
    spec = service.get("Spec") or {}
    mode = mode_of(spec.get("Mode"))
    live = [t for t in tasks if t.get("DesiredState") in ("running", "complete")]
    running = [t for t in live if (t.get("Status") or {}).get("State") == "running"]
    if mode == "replicated":
        desired: int | None = get_path(spec, ("Mode", "Replicated", "Replicas"))
    elif mode == "replicated-job":
        desired = get_path(spec, ("Mode", "ReplicatedJob", "TotalCompletions"))
    else:
        desired = len(live)
    update = service.get("UpdateStatus") or {}
    shown = sorted(live, key=lambda t: (t.get("Slot") or 0, names.get(t.get("NodeID") or "", "")))
    failed = sorted((t for t in tasks if (t.get("Status") or {}).get("State") in FAILED_STATES),
                    key=lambda t: (t.get("Status") or {}).get("Timestamp") or "", reverse=True)[:5]
    return {
        "id": service.get("ID"),
        "name": spec.get("Name"),
        "version": get_path(service, ("Version", "Index")),
        "image": get_path(spec, ("TaskTemplate", "ContainerSpec", "Image")),
        "mode": mode,
        "replicas_desired": desired,
        "replicas_running": len(running),
        "update_status": {"state": update.get("State"), "message": update.get("Message", "")} if update else None,
        "stack": (spec.get("Labels") or {}).get(STACK_LABEL),
        "labels": spec.get("Labels") or {},
        "endpoint_mode": get_path(spec, ("EndpointSpec", "Mode")) or "vip",
        "ports": [{"published": p.get("PublishedPort"), "target": p.get("TargetPort"),
                   "protocol": p.get("Protocol", "tcp"), "mode": p.get("PublishMode", "ingress")}
                  for p in get_path(spec, ("EndpointSpec", "Ports")) or []],
        "constraints": get_path(spec, ("TaskTemplate", "Placement", "Constraints")) or [],
        "task_states": state_counts(live),
        "tasks": [task_summary(t, names) for t in shown],
        "failed_tasks": [task_summary(t, names) for t in failed],
    }
