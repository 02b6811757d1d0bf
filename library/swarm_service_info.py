#!/usr/bin/python
"""swarm_service_info: services with their spec summary, replicas, update status and tasks."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_service_info
short_description: Report Docker Swarm services, their replicas, update status and tasks
description:
  - Lists services with a summary of their spec, desired and running replicas, the engine's
    update status, and their tasks (slot, node, state, desired state, error).
  - Task states are those of the swarm task lifecycle, C(new) through C(running) and then
    C(complete), C(shutdown), C(failed), C(rejected), C(orphaned) or C(remove).
  - Run it on a manager. Changes nothing.
version_added: "0.1.0"
author: swarmops (!UNKNOWN)
extends_documentation_fragment: [swarmops]
options:
  name:
    description: Only these services (exact names). All services when left out.
    type: list
    elements: str
  stack:
    description: Only the services of this stack (label C(com.docker.stack.namespace)).
    type: str
  tasks:
    description: Include each service's tasks.
    type: bool
    default: true
notes:
  - Supports check mode (it changes nothing anyway).
"""

EXAMPLES = r"""
- name: One service
  swarm_service_info:
    name: [web]
  register: web

- name: Fail when a replica is missing
  ansible.builtin.assert:
    that: web.services[0].replicas_running == web.services[0].replicas_desired

- name: A stack's services without their tasks
  swarm_service_info:
    stack: shop
    tasks: false
"""

RETURN = r"""
services:
  description: The services, by name.
  returned: always
  type: list
  elements: dict
  contains:
    id: {description: Service id., type: str}
    name: {description: Name., type: str}
    image: {description: Image of the current spec., type: str}
    mode: {description: "replicated, global, replicated-job or global-job.", type: str}
    replicas_desired: {description: Desired tasks (completions for a replicated job)., type: int}
    replicas_running: {description: Tasks running., type: int}
    update_status: {description: The engine's update status (state and message) or null., type: dict}
    stack: {description: "The stack the service belongs to, if any.", type: str}
    ports: {description: "Published ports (published, target, protocol, mode).", type: list}
    endpoint_mode: {description: vip or dnsrr., type: str}
    task_states: {description: Count of desired tasks per state., type: dict}
    tasks: {description: "Desired tasks (slot, node, state, desired_state, message, error, image).", type: list}
    failed_tasks: {description: The most recent failed or rejected tasks., type: list}
missing:
  description: Names asked for that no service has.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec  # noqa: E402
from ansible.module_utils.swarmops.service import (  # noqa: E402
    STACK_LABEL,
    node_names,
    service_facts,
    service_tasks,
)

OPTIONS = {
    "name": {"type": "list", "elements": "str"},
    "stack": {"type": "str"},
    "tasks": {"type": "bool", "default": True},
}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(**OPTIONS), supports_check_mode=True)
    p = module.params
    client = SwarmClient(module)
    filters = {"label": f"{STACK_LABEL}={p['stack']}"} if p["stack"] else None
    services = client.call("listing services", client.api.services, filters=filters)
    wanted = set(p["name"] or [])
    if wanted:
        services = [s for s in services if s["Spec"]["Name"] in wanted]
    names = node_names(client)
    facts = []
    for s in sorted(services, key=lambda s: s["Spec"]["Name"]):
        tasks = service_tasks(client, s["ID"])
        f = service_facts(s, tasks, names)
        if not p["tasks"]:
            f.pop("tasks")
            f.pop("failed_tasks")
        facts.append(f)
    found = {f["name"] for f in facts}
    module.exit_json(changed=False, services=facts, missing=sorted(wanted - found))


if __name__ == "__main__":
    main()
