#!/usr/bin/python
"""swarm_host_info: everything the layers of site.yml decide on for one host, in one read."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: swarm_host_info
short_description: One read of a host for every layer to plan from (engine, daemon.json, firewall, swarm)
description:
  - Read-only, one call per host. Reports whether the engine is installed, running (its API
    answers) and enabled at boot, and its version; C(/etc/docker/daemon.json) as the engine
    reads it (settings, mode, owner); whether systemd runs the host; swarmops' iptables chain
    (its rules, which parent chains jump to it, what its saved file holds) and what the other
    firewall backends hold; and, when the engine runs, the swarm membership as M(swarm_info)
    reports it (on a manager also the nodes).
  - The roles compare these facts with the inventory on the controller and run a write task
    only where something differs. The call is also the preflight's proof that the host answers.
  - Talks to the engine with the standard library over its local socket, so the host needs no
    Docker SDK for Python.
  - Never returns join tokens or the unlock key.
version_added: "0.2.0"
author: swarmops (!UNKNOWN)
extends_documentation_fragment: [swarmops]
options:
  daemon_json:
    description: Where the engine's settings file is.
    type: path
    default: /etc/docker/daemon.json
  firewall_backend:
    description:
      - The firewall backend in use. The other backends are checked for leftovers of swarmops'
        rules; with C(iptables), the chain is read as well.
    type: str
    choices: [iptables, nftables, ufw, firewalld]
    default: iptables
  iptables_jump_from:
    description: The chains that jump to swarmops' chain.
    type: list
    elements: str
    default: [INPUT]
  iptables_chain:
    description: The chain swarmops owns in iptables' filter table.
    type: str
    default: SWARMOPS-INPUT
  iptables_persist_file:
    description: Where the chain is saved; empty for nowhere.
    type: str
    default: /etc/iptables/swarmops.v4
  nft_table:
    description: swarmops' nftables table (inet family).
    type: str
    default: swarmops
  nft_persist_file:
    description: Where the table is saved; empty for nowhere.
    type: str
    default: /etc/swarmops/firewall.nft
  ufw_comment:
    description: The comment on swarmops' ufw rules.
    type: str
    default: swarmops
  firewalld_policy:
    description: swarmops' firewalld policy.
    type: str
    default: swarmops
  firewalld_config_dir:
    description: firewalld's configuration folder.
    type: path
    default: /etc/firewalld
  services:
    description: On a manager, also list the services (as M(swarm_info) does).
    type: bool
    default: false
notes:
  - Read-only; supports check mode; never reports a change.
"""

EXAMPLES = r"""
- name: Read each host once; the roles plan from it
  swarm_host_info:
    firewall_backend: iptables
    iptables_persist_file: /etc/iptables/swarmops.v4
  register: swarm_host
  check_mode: false
"""

RETURN = r"""
engine:
  description: installed (dockerd found), running (its API answered), enabled (starts at boot),
    version and api_version when running, error when it did not answer.
  returned: always
  type: dict
daemon_json:
  description: path, exists, settings (the JSON object, or null with error saying why), mode
    (octal string), uid and gid when it exists.
  returned: always
  type: dict
systemd:
  description: Whether systemd manages the host.
  returned: always
  type: bool
firewall:
  description: leftovers (backend -> whether swarmops' rules are there, for the backends not in
    use), firewalld_running, systemd, and with the iptables backend iptables (rules, or null when
    the chain does not exist; jumps, parent -> bool; saved, the saved file's rules and jump_from
    or null); boot_unit, where systemd runs, the unit that restores the saved rules at boot
    (exists, sha256, mode, uid, gid, enabled; null without systemd); read_with, the backend and
    names it was read with.
  returned: always
  type: dict
swarm:
  description: The membership and, on a manager, the cluster, as M(swarm_info) returns them
    (local, is_manager, leader, managers, quorum, nodes, ...).
  returned: when the engine runs
  type: dict
"""

import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.client import SwarmClient, argument_spec  # noqa: E402
from ansible.module_utils.swarmops.cluster import read_cluster  # noqa: E402
from ansible.module_utils.swarmops.hostread import (  # noqa: E402
    BACKENDS,
    NAME_OPTIONS,
    boot_unit,
    daemon_json,
    iptables_chain,
    leftovers,
    service_enabled,
    systemd,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(
            daemon_json={"type": "path", "default": "/etc/docker/daemon.json"},
            firewall_backend={"type": "str", "default": "iptables", "choices": list(BACKENDS)},
            iptables_jump_from={"type": "list", "elements": "str", "default": ["INPUT"]},
            services={"type": "bool", "default": False},
            **NAME_OPTIONS,
        ),
        supports_check_mode=True,
    )
    p = module.params
    result: dict = {"changed": False, "daemon_json": daemon_json(p["daemon_json"]), "systemd": systemd()}
    firewall = leftovers(module, [b for b in BACKENDS if b != p["firewall_backend"]], p)
    firewall["systemd"] = result["systemd"]
    firewall["boot_unit"] = boot_unit()
    # The names it was read with: a role whose names differ reads again rather than trust it.
    firewall["read_with"] = {k: p[k] for k in ("firewall_backend", "iptables_jump_from", *NAME_OPTIONS)}
    if p["firewall_backend"] == "iptables":
        firewall["iptables"] = iptables_chain(module, p["iptables_chain"], p["iptables_jump_from"],
                                              p["iptables_persist_file"])
    result["firewall"] = firewall

    engine: dict = {"installed": bool(module.get_bin_path("dockerd")), "enabled": service_enabled(),
                    "running": False}
    socket_path = p["docker_host"][len("unix://"):] if p["docker_host"].startswith("unix://") else ""
    if socket_path and not os.path.exists(socket_path):
        engine["error"] = f"no engine socket at {socket_path}"
    else:
        client = SwarmClient(module)
        try:
            version = client.api.version()
            engine.update(running=True, version=version.get("Version", ""), api_version=version.get("ApiVersion", ""))
        except client.errors as exc:
            engine["error"] = getattr(exc, "explanation", None) or str(exc)
        if engine["running"]:
            result["swarm"] = read_cluster(module, client, p["services"])
            result["swarm"].pop("changed", None)
    result["engine"] = engine
    module.exit_json(**result)


if __name__ == "__main__":
    main()
