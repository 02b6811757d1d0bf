"""Swarm networks as data: the field table, the plan (create, recreate, remove), the engine calls.

Shared by swarm_network and swarm_stack. A network cannot be changed in place, so a difference
recreates an unused network and otherwise fails naming the services that use it.
"""

from __future__ import annotations

from typing import Any

from .client import not_found
from .spec import Field, build, diff, get_path, given
from .wait import Progress, wait_for


def _merge_options(value: dict, ctx: dict) -> dict:
    current = dict(get_path(ctx.get("current"), ("Options",)) or {})
    current.update({k: str(v) for k, v in value.items()})
    return current


# The network as the engine reports it (GET /networks/{id}), one row per comparable field.
NETWORK_FIELDS = [
    Field("driver", ("Driver",)),
    Field("attachable", ("Attachable",), norm=bool),
    Field("internal", ("Internal",), norm=bool),
    Field("encrypted", ("Options", "encrypted"), to_api=lambda v, ctx: "" if v else None,
          norm=lambda v: v is not None),
    Field("driver_options", ("Options",), to_api=_merge_options, norm=lambda v: dict(v or {})),
    Field("subnet", ("IPAM", "Config", "0", "Subnet")),
    Field("gateway", ("IPAM", "Config", "0", "Gateway")),
    Field("labels", ("Labels",), to_api=lambda v, ctx: {k: str(x) for k, x in v.items()},
          norm=lambda v: dict(v or {})),
]


def _ipam_as_dict(net: dict | None) -> dict | None:
    """IPAM.Config is a list; index it as {"0": first} so the table can address it."""
    if net is None:
        return None
    net = dict(net)
    ipam = dict(net.get("IPAM") or {})
    configs = ipam.get("Config") or []
    ipam["Config"] = {"0": configs[0]} if configs else {}
    net["IPAM"] = ipam
    return net


def create_body(name: str, desired: dict) -> dict[str, Any]:
    options = {k: v for k, v in (desired.get("Options") or {}).items() if v is not None}
    ipam_config = get_path(desired, ("IPAM", "Config", "0")) or {}
    body: dict[str, Any] = {
        "Name": name, "CheckDuplicate": True, "Driver": desired.get("Driver") or "overlay",
        "Attachable": bool(desired.get("Attachable")), "Internal": bool(desired.get("Internal")),
        "Options": options, "Labels": desired.get("Labels") or {}, "Scope": "swarm",
    }
    if ipam_config:
        body["IPAM"] = {"Driver": "default", "Config": [{k: v for k, v in ipam_config.items()
                                                         if k in ("Subnet", "Gateway", "IPRange") and v}]}
    return body


def plan(params: dict, current: dict | None, users: list[str]) -> dict:
    """{action, changes, body, error} for the network, as data."""
    name = params["name"]
    if params["state"] == "absent":
        if current is None:
            return {"action": "none", "changes": [], "body": None, "error": None}
        if users:
            return {"action": "none", "changes": [], "body": None,
                    "error": f"network {name} is used by the service(s) {', '.join(users)}; "
                             "remove or detach them first"}
        return {"action": "remove", "changes": [{"field": "network", "before": name, "after": None}],
                "body": None, "error": None}
    actual = _ipam_as_dict(current)
    desired = build(NETWORK_FIELDS, params, actual)
    changes = diff(NETWORK_FIELDS, actual, desired, only=given(NETWORK_FIELDS, params))
    if current is None:
        return {"action": "create", "changes": changes, "body": create_body(name, desired), "error": None}
    if not changes:
        return {"action": "none", "changes": [], "body": None, "error": None}
    if users:
        fields = ", ".join(c["field"] for c in changes)
        return {"action": "none", "changes": changes, "body": None,
                "error": f"network {name} differs in {fields}, and a network cannot be changed in place; it "
                         f"is used by the service(s) {', '.join(users)}: detach them, or remove the network first"}
    # Recreate with what the user gave and, for the rest, what the network had (minus the
    # engine's own bookkeeping such as the VXLAN id).
    desired["Options"] = {k: v for k, v in (desired.get("Options") or {}).items()
                          if not k.startswith("com.docker.network.driver.overlay.")}
    return {"action": "recreate", "changes": changes, "body": create_body(name, desired), "error": None}


def network_facts(net: dict) -> dict:
    config = (get_path(net, ("IPAM", "Config")) or [{}])[0] if get_path(net, ("IPAM", "Config")) else {}
    return {"id": net.get("Id"), "name": net.get("Name"), "driver": net.get("Driver"), "scope": net.get("Scope"),
            "attachable": bool(net.get("Attachable")), "internal": bool(net.get("Internal")),
            "encrypted": "encrypted" in (net.get("Options") or {}), "subnet": config.get("Subnet"),
            "gateway": config.get("Gateway"), "labels": net.get("Labels") or {}}


def find_network(client: Any, name: str) -> dict | None:
    for net in client.call("listing networks", client.api.networks, names=[name]):
        if net["Name"] == name and net.get("Scope") == "swarm":
            return client.call(f"inspecting network {name}", client.api.inspect_network, net["Id"])
    return None


def users_of(services: list[dict], net_id: str) -> list[str]:
    """The names of the services attached to the network `net_id`, sorted."""
    users = []
    for s in services:
        spec = s.get("Spec") or {}
        attached = get_path(spec, ("TaskTemplate", "Networks")) or spec.get("Networks") or []
        if net_id in [n.get("Target") for n in attached]:
            users.append(spec.get("Name"))
    return sorted(users)


def services_using(client: Any, net_id: str) -> list[str]:
    return users_of(client.call("listing services", client.api.services), net_id)


def remove_until_gone(client: Any, what: str, remove: Any, timeout: float = 30) -> str | None:
    """Remove an object and wait (bounded) until the engine no longer has it.

    The engine removes a network asynchronously (it stays listed for a moment) and refuses
    while tasks of just-removed services still hold it: send the removal again until it
    answers "not found". Returns an error message, or None when gone.
    """

    def probe() -> Progress:
        try:
            remove()
        except client.errors as exc:
            if not_found(exc):
                return Progress(True, "gone")
            return Progress(False, f"refused: {getattr(exc, 'explanation', None) or exc}")
        return Progress(False, "removal sent")

    waited = wait_for(probe, timeout=timeout, interval=0.3, max_interval=1.5)
    return None if waited.ok else f"{what}: still there after {timeout}s ({waited.last.summary})"
