#!/usr/bin/python
"""Which firewall backends hold swarmops' rules on a host, and whether systemd runs it: one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall_leftovers
short_description: Find swarmops' rules left in firewall backends, and whether systemd runs the host
description:
  - Read-only. For each backend named in I(backends), reports whether swarmops' rules or saved
    files are there, exactly where C(iptables_chain), C(nft_table) or C(ufw_rules) with
    C(state=absent) would find something to remove. A backend whose tool is missing holds
    nothing; a check that fails for another reason reports C(true), so the removal still runs
    and fails with its own message.
  - Also reports whether systemd manages the host (C(/run/systemd/system) exists), which the
    boot-time restore needs. One module call where a removal per backend and a stat took three.
options:
  backends:
    description: The backends to look at.
    type: list
    elements: str
    choices: [iptables, nftables, ufw, firewalld]
    default: []
  iptables_chain:
    description: The chain swarmops owns in iptables' filter table.
    type: str
    default: SWARMOPS-INPUT
  iptables_persist_file:
    description: Where the chain is saved; empty for nowhere.
    type: str
    default: ""
  nft_table:
    description: The nftables table (family inet) swarmops owns.
    type: str
    default: swarmops
  nft_persist_file:
    description: Where the table is saved (its listing beside it as C(.listing)); empty for nowhere.
    type: str
    default: ""
  ufw_comment:
    description: The comment that marks swarmops' rules in ufw.
    type: str
    default: swarmops
  firewalld_policy:
    description: The firewalld policy swarmops owns (saved as C(FIREWALLD_CONFIG_DIR/policies/NAME.xml)).
    type: str
    default: swarmops
  firewalld_config_dir:
    description: firewalld's permanent configuration directory.
    type: path
    default: /etc/firewalld
author: swarmops (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Find the rules of the backends not in use, and whether systemd runs this host
  firewall_leftovers:
    backends: [nftables, ufw]
    nft_persist_file: /etc/swarmops/firewall.nft
  register: swarm_firewall_host
"""

RETURN = r"""
leftovers:
  description: For each backend of I(backends), whether it holds swarmops' rules or saved files.
  returned: always
  type: dict
  sample: {nftables: false, ufw: false}
firewalld_running:
  description: Whether firewalld runs on the host (looked at only when C(firewalld) is in I(backends)).
  returned: always
  type: bool
systemd:
  description: Whether systemd manages the host.
  returned: always
  type: bool
"""

import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.firewalld import edits, parse_info  # noqa: E402
from ansible.module_utils.swarmops.ufw import parse_added  # noqa: E402


def ufw_has_comment(output: str, comment: str) -> bool:
    """Whether `ufw show added` lists a rule carrying the comment (read as ufw_rules reads it)."""
    return bool(parse_added(output, comment))


def _exists(*paths: str) -> bool:
    return any(p and os.path.exists(p) for p in paths)


def iptables_leftover(module: AnsibleModule, chain: str, persist_file: str) -> bool:
    iptables = module.get_bin_path("iptables")
    if iptables and module.run_command([iptables, "-w", "-t", "filter", "-S", chain])[0] == 0:
        return True
    return _exists(persist_file)


def nftables_leftover(module: AnsibleModule, table: str, persist_file: str) -> bool:
    nft = module.get_bin_path("nft")
    if nft and module.run_command([nft, "list", "table", "inet", table])[0] == 0:
        return True
    return _exists(persist_file, f"{persist_file}.listing" if persist_file else "")


def ufw_leftover(module: AnsibleModule, comment: str) -> bool:
    ufw = module.get_bin_path("ufw")
    if not ufw:
        return False
    rc, out, _err = module.run_command([ufw, "show", "added"])
    # ufw_rules fails on this too: report a leftover so that it runs and says why.
    return rc != 0 or ufw_has_comment(out, comment)


def firewalld_leftover(module: AnsibleModule, policy: str, config_dir: str) -> tuple[bool, bool]:
    """(whether the policy is saved or holds anything in the running firewalld, whether firewalld runs).
    firewalld_policy's state=absent leaves an empty runtime policy until the next reload: not a leftover."""
    saved = _exists(os.path.join(config_dir, "policies", f"{policy}.xml"))
    cmd = module.get_bin_path("firewall-cmd")
    if not cmd or module.run_command([cmd, "--state"])[0] != 0:
        return saved, False
    if saved or policy in module.run_command([cmd, "--permanent", "--get-policies"])[1].split():
        return True, True
    rc, out, _err = module.run_command([cmd, f"--info-policy={policy}"])
    return rc == 0 and bool(edits(parse_info(out), [])), True


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "backends": {"type": "list", "elements": "str", "default": [],
                         "choices": ["iptables", "nftables", "ufw", "firewalld"]},
            "iptables_chain": {"type": "str", "default": "SWARMOPS-INPUT"},
            "iptables_persist_file": {"type": "str", "default": ""},
            "nft_table": {"type": "str", "default": "swarmops"},
            "nft_persist_file": {"type": "str", "default": ""},
            "ufw_comment": {"type": "str", "default": "swarmops"},
            "firewalld_policy": {"type": "str", "default": "swarmops"},
            "firewalld_config_dir": {"type": "path", "default": "/etc/firewalld"},
        },
        supports_check_mode=True,
    )
    p = module.params
    checks = {
        "iptables": lambda: iptables_leftover(module, p["iptables_chain"], p["iptables_persist_file"]),
        "nftables": lambda: nftables_leftover(module, p["nft_table"], p["nft_persist_file"]),
        "ufw": lambda: ufw_leftover(module, p["ufw_comment"]),
    }
    leftovers, firewalld_running = {}, False
    for backend in dict.fromkeys(p["backends"]):
        if backend == "firewalld":
            leftovers[backend], firewalld_running = firewalld_leftover(module, p["firewalld_policy"],
                                                                       p["firewalld_config_dir"])
        else:
            leftovers[backend] = checks[backend]()
    module.exit_json(changed=False, leftovers=leftovers, firewalld_running=firewalld_running,
                     systemd=os.path.exists("/run/systemd/system"))


if __name__ == "__main__":
    main()
