#!/usr/bin/python
"""Keep one iptables chain holding exactly the given rules, hooked from its parent chains."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iptables_chain
short_description: Keep an iptables chain holding exactly the given rules
description:
  - Owns one chain of one table. The chain ends up holding exactly I(rules), in order, and
    each chain of I(jump_from) starts with a jump to it. Rules added by hand to the chain are
    removed; nothing outside the chain is touched except the jumps.
  - The chain is rewritten atomically with C(iptables-restore --noflush), so no packet ever
    meets a half-built chain.
  - Rules are compared as C(iptables -S) prints them. A rule given in another form would look
    changed on every run; the module applies it, reads the chain back, and fails naming the
    form iptables uses, so such a rule is caught on its first run.
  - Works on the engine's own hosts next to Docker's chains; Docker never touches a chain it
    did not create.
options:
  chain:
    description: The chain to own, e.g. C(SWARMOPS-INPUT).
    type: str
    required: true
  table:
    description: The table of I(chain).
    type: str
    default: filter
    choices: [filter, raw, mangle]
  rules:
    description:
      - The rules, as C(iptables -S) prints them without the leading C(-A CHAIN),
        e.g. C(-s 10.0.0.0/24 -p tcp -m tcp --dport 2377 -j ACCEPT).
    type: list
    elements: str
    default: []
  jump_from:
    description: Chains that must jump to I(chain) first, e.g. C([INPUT]).
    type: list
    elements: str
    default: []
  ip_version:
    description: Which of iptables and ip6tables.
    type: str
    default: ipv4
    choices: [ipv4, ipv6]
  persist_file:
    description:
      - Where to save the chain and its jumps in C(iptables-restore --noflush) form, for a
        boot-time restore; its folder is made (mode 0755) when missing. Omit to not persist.
    type: path
  state:
    description: C(present) keeps the chain; C(absent) removes it and its jumps.
    type: str
    default: present
    choices: [present, absent]
author: swarmops (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Accept swarm control traffic only from the cluster
  iptables_chain:
    chain: SWARMOPS-INPUT
    jump_from: [INPUT]
    rules:
      - -s 10.0.0.0/24 -p tcp -m tcp --dport 2377 -j ACCEPT
      - -p tcp -m tcp --dport 2377 -j DROP
    persist_file: /etc/iptables/swarmops.v4
"""

RETURN = r"""
rules:
  description: The rules the chain holds now (or would hold, in check mode).
  returned: always
  type: list
  elements: str
added:
  description: Rules that were not in the chain.
  returned: always
  type: list
  elements: str
removed:
  description: Rules that were in the chain and are not wanted.
  returned: always
  type: list
  elements: str
jumps_added:
  description: Parent chains that got a jump to the chain.
  returned: always
  type: list
  elements: str
"""


from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.files import read_text, write_atomically  # noqa: E402
from ansible.module_utils.swarmops.hostread import parse_chain  # noqa: E402


def plan(current: list[str] | None, wanted: list[str], jumps: dict[str, bool]) -> dict:
    """What would change: current is None when the chain does not exist."""
    have = current or []
    return {
        "create": current is None,
        "rewrite": have != wanted,
        "added": [r for r in wanted if r not in have],
        "removed": [r for r in have if r not in wanted],
        "jumps_added": sorted(parent for parent, present in jumps.items() if not present),
    }


def restore_text(table: str, chain: str, rules: list[str]) -> str:
    lines = [f"*{table}", f":{chain} - [0:0]"] + [f"-A {chain} {r}" for r in rules] + ["COMMIT", ""]
    return "\n".join(lines)


class Chain:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        p = module.params
        self.chain, self.table = p["chain"], p["table"]
        six = p["ip_version"] == "ipv6"
        self.iptables = module.get_bin_path("ip6tables" if six else "iptables", required=True)
        self.restore = module.get_bin_path("ip6tables-restore" if six else "iptables-restore", required=True)

    def run(self, *args: str, check: bool = True, data: str | None = None) -> tuple[int, str]:
        cmd = [self.iptables, "-w", "-t", self.table, *args]
        rc, out, err = self.module.run_command(cmd, data=data)
        if check and rc != 0:
            self.module.fail_json(msg=f"{' '.join(cmd)} failed: {err.strip() or out.strip()}")
        return rc, out

    def current(self) -> list[str] | None:
        rc, out = self.run("-S", self.chain, check=False)
        return parse_chain(out, self.chain) if rc == 0 else None

    def has_jump(self, parent: str) -> bool:
        return self.run("-C", parent, "-j", self.chain, check=False)[0] == 0

    def write(self, rules: list[str]) -> None:
        text = restore_text(self.table, self.chain, rules)
        rc, _out, err = self.module.run_command([self.restore, "-w", "--noflush"], data=text)
        if rc != 0:
            self.module.fail_json(msg=f"iptables-restore refused the rules of {self.chain}: {err.strip()}",
                                  rules=rules)

    def remove(self, parents: list[str]) -> None:
        for parent in parents:
            while self.has_jump(parent):
                self.run("-D", parent, "-j", self.chain)
        self.run("-F", self.chain)
        self.run("-X", self.chain)


def persist(module: AnsibleModule, path: str, table: str, chain: str, rules: list[str], parents: list[str]) -> bool:
    """Write the restore fragment; True when the file changed."""
    # Loaded once at boot, before anything else hooks the parents.
    text = restore_text(table, chain, rules).replace(
        "COMMIT", "\n".join([f"-I {p} 1 -j {chain}" for p in parents] + ["COMMIT"]))
    if read_text(path) == text:
        return False
    if not module.check_mode:
        # Making the folder here saves the role a task (a round trip per host) of its own.
        write_atomically(module, path, text, folder_mode=0o755)
    return True


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "chain": {"type": "str", "required": True},
            "table": {"type": "str", "default": "filter", "choices": ["filter", "raw", "mangle"]},
            "rules": {"type": "list", "elements": "str", "default": []},
            "jump_from": {"type": "list", "elements": "str", "default": []},
            "ip_version": {"type": "str", "default": "ipv4", "choices": ["ipv4", "ipv6"]},
            "persist_file": {"type": "path"},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        },
        supports_check_mode=True,
    )
    p = module.params
    if not p["chain"] or len(p["chain"]) > 28 or " " in p["chain"]:
        module.fail_json(msg=f"chain: {p['chain']!r} is not a chain name (no spaces, at most 28 characters)")
    wanted = [" ".join(r.split()) for r in p["rules"]]
    chain = Chain(module)
    current = chain.current()

    if p["state"] == "absent":
        changed = current is not None
        if changed and not module.check_mode:
            chain.remove(p["jump_from"])
        module.exit_json(changed=changed, rules=[], added=[], removed=current or [], jumps_added=[],
                         diff={"before": "\n".join(current or []) + "\n", "after": ""})

    steps = plan(current, wanted, {parent: current is not None and chain.has_jump(parent)
                                   for parent in p["jump_from"]})
    changed = steps["create"] or steps["rewrite"] or bool(steps["jumps_added"])
    if changed and not module.check_mode:
        if steps["create"] or steps["rewrite"]:
            chain.write(wanted)
            now = chain.current()
            if now != wanted:
                odd = [w for w, n in zip(wanted, now or [], strict=False) if w != n]
                module.fail_json(
                    msg=f"rules: iptables stores these rules of {p['chain']} in another form, so they would "
                    f"look changed on every run; write them as `iptables -S` prints them: {now}",
                    not_canonical=odd)
        for parent in steps["jumps_added"]:
            chain.run("-I", parent, "1", "-j", p["chain"])
    if p["persist_file"]:
        changed = persist(module, p["persist_file"], p["table"], p["chain"], wanted, p["jump_from"]) or changed
    module.exit_json(
        changed=changed, rules=wanted, added=steps["added"], removed=steps["removed"],
        jumps_added=steps["jumps_added"],
        diff={"before": "\n".join(current or []) + "\n", "after": "\n".join(wanted) + "\n"},
    )


if __name__ == "__main__":
    main()
