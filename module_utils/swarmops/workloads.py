"""A swarm's workloads in one read on a manager, and what the services layer would change.

`read_workloads` lists the services (with their task counts), swarm networks, secrets and
configs once. The pure functions below decide, on the controller, which services and stacks
of the inventory differ from that read, with the same plans swarm_service and swarm_stack
make (service.plan, network.plan, versioned.plan): the services layer then calls those modules
only for what differs or has not converged. Where the read cannot tell (a job, a rollback, a
file read on the manager), the answer is "run the module", never "unchanged".

Environment values may hold credentials: the read carries each one as an HMAC keyed with a
key the controller sends (a no_log option) and never prints, and the desired values are
compared in the same form.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from . import network as net
from . import versioned
from .compose import translate
from .service import STACK_LABEL, plan, references
from .spec import SERVICE_FIELDS, SpecError, env_list, get_path, validate

ENV_PATH = ("TaskTemplate", "ContainerSpec", "Env")
# A service whose rollout is one of these is not settled: the module waits for it or says why.
UNSETTLED = ("updating", "paused", "rollback_started", "rollback_paused")


def mask_value(key: str, value: str) -> str:
    return "hmac-sha256:" + hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def mask_env(items: list[str], key: str) -> list[str]:
    """KEY=VALUE strings with each value replaced by its keyed digest."""
    out = []
    for item in items:
        name, _sep, value = item.partition("=")
        out.append(f"{name}={mask_value(key, value)}")
    return out


def _masked_spec(spec: dict | None, key: str) -> dict | None:
    env = get_path(spec, ENV_PATH) if spec else None
    if env:
        spec = {**spec, "TaskTemplate": {**spec["TaskTemplate"], "ContainerSpec": {
            **spec["TaskTemplate"]["ContainerSpec"], "Env": mask_env(env, key)}}}
    return spec


def read_workloads(client: Any, key: str) -> dict[str, Any]:
    """Every service (ID, Spec with masked environment values, UpdateStatus, ServiceStatus),
    swarm network, secret and config (no data: the engine never returns a secret's)."""
    services = client.services_with_status()
    return {
        "services": [{"ID": s["ID"], "Spec": _masked_spec(s.get("Spec"), key), "UpdateStatus": s.get("UpdateStatus"),
                      "ServiceStatus": s.get("ServiceStatus")} for s in services],
        "networks": [n for n in client.call("list networks", client.api.networks) if n.get("Scope") == "swarm"],
        "secrets": client.call("list secrets", client.api.secrets),
        "configs": client.call("list configs", client.api.configs),
    }


# --- on the controller ---------------------------------------------------------------------

def _service(read: dict, name: str) -> dict | None:
    return next((s for s in read["services"] if get_path(s, ("Spec", "Name")) == name), None)


def _context(read: dict) -> dict:
    """What service.plan needs to resolve references, from the read (plan_context's, without
    the node count, which only matters when there are changes: then the module runs anyway)."""
    return {**references(read["networks"], read["secrets"], read["configs"]), "eligible": None}


def _settled(current: dict | None, name: str) -> list[str]:
    """Reasons a service that would be left as it is still needs the module (which waits)."""
    if current is None:
        return []
    state = (current.get("UpdateStatus") or {}).get("State")
    if state in UNSETTLED:
        return [f"service {name}: its rollout is {state}"]
    status = current.get("ServiceStatus") or {}
    running, desired = status.get("RunningTasks"), status.get("DesiredTasks")
    if running is None or desired is None or running < desired:
        return [f"service {name}: {running} of {desired} tasks running"]
    return []


def service_reasons(params: dict, read: dict, key: str, stack: str | None = None) -> list[str]:
    """Why swarm_service (or swarm_stack, for a service of `stack`) must run for `params`, the
    module's options after its argument spec: empty when the read shows the service as asked
    and converged."""
    name, state = params["name"], params.get("state") or "present"
    if state not in ("present", "absent") or params.get("force_update"):
        return [f"service {name}: state {state} or force_update is decided by the module"]
    if params.get("mode") in ("replicated-job", "global-job"):
        return [f"service {name}: a job's completions are judged by the module"]
    current = _service(read, name)
    if params.get("env") is not None and state == "present":
        try:
            params = {**params, "env": mask_env(env_list(params["env"]), key)}
        except SpecError as exc:
            return [f"service {name}: {exc}"]
    the_plan = plan(params, current, _context(read), stack=stack)
    if the_plan["error"]:
        return [f"service {name}: {the_plan['error']}"]
    if the_plan["action"] != "none":
        fields = ", ".join(c["field"] for c in the_plan["changes"])
        return [f"service {name}: {the_plan['action']}" + (f" ({fields})" if fields else "")]
    return _settled(current, name) if state == "present" else []


def _owned(read: dict, kind: str, stack: str) -> list[dict]:
    def labels(o: dict) -> dict:
        return (o.get("Labels") if kind == "networks" else get_path(o, ("Spec", "Labels"))) or {}
    return [o for o in read[kind] if labels(o).get(STACK_LABEL) == stack]


def _file_reasons(read: dict, kind: str, name: str, opts: dict) -> list[str]:
    """Whether swarm_stack would make a new version of a stack's secret or config, move a
    service to it, or remove an old one (versioned.converge's decisions, from the read)."""
    if opts.get("file"):
        return [f"{kind} {name}: its file is read on the manager"]
    vers = versioned.versions(read[f"{kind}s"], name)
    used = versioned.users(read["services"], kind, {o["ID"] for _ver, o in vers})
    _plan, changes, _kept = versioned.settle(kind, name, "present", str(opts["content"]).encode(), vers, used)
    return [f"{kind} {name}: a new version or an old one to remove"] if changes else []


def stack_reasons(name: str, state: str, compose: Any, prune: bool, read: dict, key: str) -> list[str]:
    """Why swarm_stack must run for a stack: empty when the read shows its networks, files and
    services as the compose file asks, converged, and nothing left to prune."""
    if state == "absent":
        left = [o for kind in ("services", "networks", "secrets", "configs") for o in _owned(read, kind, name)]
        return [f"stack {name}: {len(left)} object(s) to remove"] if left else []
    try:
        wanted = translate(name, compose)
    except SpecError as exc:
        return [f"stack {name}: {exc}"]
    reasons: list[str] = []
    for sname, params in wanted["services"].items():
        errors = validate(SERVICE_FIELDS, params)
        if errors:
            return [f"service {sname}: {'; '.join(errors)}"]
    for nname, params in wanted["networks"].items():
        current = next((n for n in read["networks"] if n["Name"] == nname), None)
        the_plan = net.plan(params, current, net.users_of(read["services"], current["Id"]) if current else [])
        if the_plan["error"] or the_plan["action"] != "none":
            reasons.append(f"network {nname}: {the_plan['error'] or the_plan['action']}")
    for kind, fname, opts in wanted["files"]:
        reasons += _file_reasons(read, kind, fname, opts)
    for sname, params in wanted["services"].items():
        reasons += service_reasons({**params, "name": sname}, read, key, stack=name)
    if prune:
        reasons += [f"service {get_path(s, ('Spec', 'Name'))}: to prune" for s in _owned(read, "services", name)
                    if get_path(s, ("Spec", "Name")) not in wanted["services"]]
        reasons += [f"network {n['Name']}: to prune" for n in _owned(read, "networks", name)
                    if n["Name"] not in wanted["networks"]]
    return reasons
