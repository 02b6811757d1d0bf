#!/usr/bin/python
"""swarm_network: create and remove swarm-scoped (overlay) networks."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_network
short_description: Create, recreate and remove Docker Swarm overlay networks
description:
  - Manages a swarm-scoped network (C(overlay) by default) on a manager.
  - Compares the options you give with the network's; the engine cannot change a network in
    place, so a difference recreates it when no service uses it, and otherwise fails naming the
    services that do (detach them first).
  - I(encrypted) turns on IPsec (ESP) for the VXLAN data path. The swarmops lab kernel has no
    ESP, so the lab tests only check that the manager records the option.
  - Run it on a manager.
version_added: "0.1.0"
author: swarmops
extends_documentation_fragment: [swarmops]
options:
  name:
    description: Network name.
    type: str
    required: true
  state:
    description: C(present) or C(absent).
    type: str
    choices: [present, absent]
    default: present
  driver:
    description: Network driver.
    type: str
    default: overlay
  attachable:
    description: Whether standalone containers may attach (C(docker run --network)).
    type: bool
  internal:
    description: No external connectivity.
    type: bool
  encrypted:
    description: Encrypt the data path between nodes (IPsec ESP; needs the kernel's ESP support).
    type: bool
  subnet:
    description: Subnet in CIDR form, e.g. C(10.10.0.0/24). The engine picks one when left out.
    type: str
  gateway:
    description: Gateway address in I(subnet).
    type: str
  driver_options:
    description: More driver options; only the keys given are compared.
    type: dict
  labels:
    description: Network labels (replaces all labels).
    type: dict
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: An attachable, encrypted overlay with a fixed subnet
  swarm_network:
    name: backend
    attachable: true
    encrypted: true
    subnet: 10.10.0.0/24

- name: Remove it (fails while a service uses it)
  swarm_network:
    name: backend
    state: absent
"""

RETURN = r"""
action:
  description: create, recreate, remove or none.
  returned: always
  type: str
changes:
  description: Changed fields with their values before and after.
  returned: always
  type: list
  elements: dict
network:
  description: The network (id, name, driver, scope, attachable, internal, encrypted, subnet, gateway, labels).
  returned: when it exists after the task
  type: dict
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec
from ansible.module_utils.swarmops.spec import (
    Field,
    build,
    diff,
    diff_text,
    get_path,
    given,
)

OPTIONS = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "driver": {"type": "str", "default": "overlay"},
    "attachable": {"type": "bool"},
    "internal": {"type": "bool"},
    "encrypted": {"type": "bool"},
    "subnet": {"type": "str"},
    "gateway": {"type": "str"},
    "driver_options": {"type": "dict"},
    "labels": {"type": "dict"},
}


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
                    "error": f"network {name} is used by the service(s) {', '.join(users)}; remove or detach them first"}
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


def find_network(client: SwarmClient, name: str) -> dict | None:
    for net in client.call("listing networks", client.api.networks, names=[name]):
        if net["Name"] == name and net.get("Scope") == "swarm":
            return client.call(f"inspecting network {name}", client.api.inspect_network, net["Id"])
    return None


def services_using(client: SwarmClient, net_id: str) -> list[str]:
    users = []
    for s in client.call("listing services", client.api.services):
        spec = s.get("Spec") or {}
        targets = [n.get("Target") for n in (get_path(spec, ("TaskTemplate", "Networks")) or spec.get("Networks") or [])]
        if net_id in targets:
            users.append(spec.get("Name"))
    return sorted(users)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(**OPTIONS), supports_check_mode=True)
    p = module.params
    client = SwarmClient(module)
    current = find_network(client, p["name"])
    users = services_using(client, current["Id"]) if current else []
    the_plan = plan(p, current, users)
    before, after = diff_text(the_plan["changes"])
    result: dict[str, Any] = {"action": the_plan["action"], "changes": the_plan["changes"],
                              "changed": the_plan["action"] != "none",
                              "diff": {"before": before, "after": after}}
    if the_plan["error"]:
        module.fail_json(msg=the_plan["error"], **result)
    if module.check_mode or the_plan["action"] == "none":
        if current:
            result["network"] = network_facts(current)
        module.exit_json(**result)
    if the_plan["action"] in ("remove", "recreate"):
        client.call(f"removing network {p['name']}", client.api.remove_network, current["Id"])
    if the_plan["action"] in ("create", "recreate"):
        created = client.call(f"creating network {p['name']}", client.post_json, "/networks/create",
                              data=the_plan["body"])
        net = client.call("inspecting network", client.api.inspect_network, created["Id"])
        result["network"] = network_facts(net)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
