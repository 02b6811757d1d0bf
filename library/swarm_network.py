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
author: swarmops (!UNKNOWN)
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

from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec  # noqa: E402
from ansible.module_utils.swarmops.network import (  # noqa: E402
    find_network,
    network_facts,
    plan,
    remove_until_gone,
    services_using,
)
from ansible.module_utils.swarmops.spec import diff_text, get_path  # noqa: E402
from ansible.module_utils.swarmops.wait import Progress, wait_for  # noqa: E402

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


def allocated(client: SwarmClient, net_id: str) -> dict:
    """The new network once the manager's allocator has filled in its driver and subnet (bounded)."""
    seen: dict = {}

    def probe() -> Progress:
        seen["net"] = client.call("inspecting network", client.api.inspect_network, net_id)
        done = bool(seen["net"].get("Driver")) and bool(get_path(seen["net"], ("IPAM", "Config")))
        return Progress(done, "allocated" if done else "allocating")

    wait_for(probe, timeout=10, interval=0.1, max_interval=0.5)
    return seen["net"]


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
        error = remove_until_gone(client, f"removing network {p['name']}",
                                  lambda: client.api.remove_network(current["Id"]))
        if error:
            module.fail_json(msg=error, **result)
    if the_plan["action"] in ("create", "recreate"):
        created = client.call(f"creating network {p['name']}", client.post_json, "/networks/create",
                              data=the_plan["body"])
        result["network"] = network_facts(allocated(client, created["Id"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
