#!/usr/bin/python
"""swarm_info: the cluster's state as facts, for the next task or a report. Never a token."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_info
short_description: Facts about the swarm, its managers, quorum, nodes and services
description:
  - Reads this engine's swarm membership and, on a manager, the swarm, its managers with their
    reachability, the quorum arithmetic (how many managers may still be lost), every node, every
    service with desired and running replicas, and whether a root CA rotation is in progress.
  - On a worker (or a node in no swarm, or a locked manager) only I(local) is filled in.
  - Never returns join tokens or the unlock key.
  - Node certificates are readable only on the node itself; I(local.cert_not_after) is this node's
    certificate expiry (run the module on every host for all of them).
version_added: "0.1.0"
author: swarmops (!UNKNOWN)
extends_documentation_fragment: [swarmops]
options:
  services:
    description: Include services and their replicas (one more API call).
    type: bool
    default: true
  removing:
    description:
      - Hostnames of nodes about to leave the swarm (demoted, removed). I(removal) then says
        whether the managers among them may leave the raft group together without losing quorum.
    type: list
    elements: str
    default: []
  workloads:
    description:
      - Also read every service in full (its spec, rollout state and task counts), every swarm
        network, secret and config (never a secret's data), for the controller to plan the
        services layer from (the services role does). Four more API calls.
    type: bool
    default: false
  env_key:
    description:
      - With I(workloads), the key each service's environment values are replaced with an HMAC
        of, so that the controller can compare them with the values it wants without any being
        printed. Never logged; a random one when not given.
    type: str
notes:
  - Read-only; supports check mode; never reports a change.
"""

EXAMPLES = r"""
- name: Cluster facts for the next tasks
  swarm_info:
  register: cluster
  run_once: true
  delegate_to: "{{ groups.managers[0] }}"

- name: Refuse maintenance without a spare manager
  ansible.builtin.assert:
    that: cluster.quorum.can_still_lose >= 1
"""

RETURN = r"""
local:
  description: This engine's membership (state, role, node_id, node_addr, cluster_id, hostname,
    engine_version, cert_not_after when the node certificate is readable).
  returned: always
  type: dict
is_manager:
  description: Whether this node is an active (unlocked) manager; the facts below need one.
  returned: always
  type: bool
swarm:
  description: Swarm ID, created/updated times, settings, default address pool, subnet size,
    data path port, root CA issuer and whether a CA rotation is in progress.
  returned: on a manager
  type: dict
leader:
  description: Hostname of the raft leader.
  returned: on a manager
  type: str
managers:
  description: Managers with hostname, node_id, addr, reachability and leader.
  returned: on a manager
  type: list
  elements: dict
quorum:
  description: managers, reachable, quorum (majority needed), has_quorum, failures_tolerated,
    can_still_lose (more managers that may be lost right now).
  returned: on a manager
  type: dict
nodes:
  description: Every node with node_id, hostname, role, availability, state, addr, engine_version,
    labels, and tls_current (its certificate is issued by the current root CA).
  returned: on a manager
  type: list
  elements: dict
services:
  description: Every service with name, id, mode, desired and running tasks.
  returned: on a manager, when I(services=true)
  type: list
  elements: dict
workloads:
  description: services (ID, Spec with each environment value as an HMAC of I(env_key),
    UpdateStatus, ServiceStatus), networks (the swarm-scoped ones), secrets and configs, as the
    Engine API lists them.
  returned: on a manager with a leader, when I(workloads=true)
  type: dict
ca_rotation_in_progress:
  description: A root CA rotation has not finished (some node has not got a new certificate).
  returned: on a manager
  type: bool
removal:
  description:
    - Whether the managers among I(removing) may leave together (ok), why not (reason), and the
      arithmetic (managers_before, reachable_before, managers_after, reachable_after,
      majority_after). Refused when no manager would be left, when the swarm has no quorum now,
      or when the reachable managers left would be fewer than a majority of those left.
  returned: on a manager with a leader, when I(removing) is given
  type: dict
has_leader:
  description:
    - Whether the manager can reach a raft leader. Without one (quorum lost) only I(local),
      I(quorum) (C(has_quorum=false), the manager count this engine knows) and I(error) are filled in.
  returned: on a manager
  type: bool
"""

import secrets  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec  # noqa: E402
from ansible.module_utils.swarmops.cluster import read_cluster  # noqa: E402
from ansible.module_utils.swarmops.workloads import read_workloads  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(services={"type": "bool", "default": True},
                                    removing={"type": "list", "elements": "str", "default": []},
                                    workloads={"type": "bool", "default": False},
                                    env_key={"type": "str", "no_log": True}),
        supports_check_mode=True,
    )
    client = SwarmClient(module)
    result = read_cluster(module, client, module.params["services"])
    if module.params["workloads"] and result.get("has_leader"):
        result["workloads"] = read_workloads(client, module.params["env_key"] or secrets.token_hex(32))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
