"""The Ansible inventory a lab writes for its hosts.

Groups: `managers` and `workers` (children of `swarm`), `lb`, and `outsiders` (hosts that
are not swarm members and must not reach the swarm ports). Hand-written YAML: the lab needs
no Python package beyond the standard library.
"""

from __future__ import annotations

import json
from pathlib import Path

from .config import GROUPS, REPO_ROOT, LabConfig

HEADER = """\
# Written by `python -m lab up` for the lab {name!r} ({subnet}); rewritten by every
# `lab up` and `lab add`, removed by `lab down`. Do not edit: change the lab instead.
"""


def connection_vars(lab: LabConfig) -> dict[str, str]:
    """How Ansible reaches every host of this lab."""
    return {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(lab.key_file),
        "ansible_python_interpreter": "/usr/bin/python3",
        # Lab hosts get new host keys on every `lab up`: do not record or check them.
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        "swarmops_lab_name": lab.name,
    }


def backend_host_vars(lab: LabConfig) -> dict[str, object]:
    """Per-host settings a backend needs. Host variables, because the lab's group_vars/all.yml
    (written for namespace hosts, which share the machine's /usr) outranks the inventory
    file's group variables: VM hosts start bare, so the roles install the engine and HAProxy
    from apt, through the apt proxy the lab configures in every VM."""
    if lab.backend == "vm":
        # Under software emulation on a busy machine sshd can take longer than Ansible's
        # default 10 s to greet.
        return {"docker_engine_install": True, "swarm_lb_install": True, "ansible_ssh_timeout": 120}
    return {}


def script(lab: LabConfig | None) -> str:
    """The same inventory in the JSON of Ansible's inventory-script protocol (`--list`)."""
    if lab is None:  # no lab yet: an empty inventory, not an error
        return json.dumps({"_meta": {"hostvars": {}}})
    data: dict = {"_meta": {"hostvars": {h.name: {"ansible_host": h.address, **backend_host_vars(lab)}
                                         for h in lab.hosts}},
                  "all": {"vars": connection_vars(lab), "children": ["swarm", "lb", "outsiders"]},
                  "swarm": {"children": ["managers", "workers"]}}
    for kind, group in GROUPS.items():
        data[group] = {"hosts": [h.name for h in lab.hosts if h.kind == kind]}
    return json.dumps(data, indent=2)


def render(lab: LabConfig) -> str:
    def group(kind: str, indent: int) -> list[str]:
        pad = " " * indent
        members = [h for h in lab.hosts if h.kind == kind]
        lines = [f"{pad}{GROUPS[kind]}:"]
        if not members:
            lines.append(f"{pad}  hosts: {{}}")
            return lines
        lines.append(f"{pad}  hosts:")
        for h in members:
            lines.append(f"{pad}    {h.name}:")
            lines.append(f"{pad}      ansible_host: {h.address}")
            lines += [f"{pad}      {k}: {json.dumps(v)}" for k, v in backend_host_vars(lab).items()]
        return lines

    out = [HEADER.format(name=lab.name, subnet=lab.subnet).rstrip("\n"), "all:", "  vars:"]
    out += [f"    {k}: {json.dumps(v)}" for k, v in connection_vars(lab).items()]
    out += [
        "  children:",
        "    swarm:",
        "      children:",
    ]
    out += group("manager", 8) + group("worker", 8)
    out += group("lb", 4) + group("outsider", 4)
    return "\n".join(out) + "\n"


LAB_GROUP_VARS = REPO_ROOT / "inventories" / "lab" / "group_vars"


def write(lab: LabConfig) -> Path:
    path = Path(lab.inventory)
    path.parent.mkdir(parents=True, exist_ok=True)
    # An inventory written elsewhere (a test lab's) gets the lab's group_vars beside it, as
    # Ansible looks for group_vars next to the inventory file.
    # A link left by another checkout (perhaps removed since) is pointed at this one.
    group_vars = path.parent / "group_vars"
    if group_vars != LAB_GROUP_VARS and not (group_vars.is_symlink()
                                             and group_vars.readlink() == LAB_GROUP_VARS):
        if group_vars.is_symlink():
            group_vars.unlink()
        if not group_vars.exists():
            group_vars.symlink_to(LAB_GROUP_VARS)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render(lab))
    tmp.replace(path)
    return path


def remove(lab: LabConfig) -> None:
    Path(lab.inventory).unlink(missing_ok=True)
