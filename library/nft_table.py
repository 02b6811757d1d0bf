#!/usr/bin/python
"""Keep one nftables table holding exactly one base chain with the given rules."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nft_table
short_description: Keep an nftables table of swarmops' own holding exactly the given rules
description:
  - Owns one table. The table ends up holding one base chain on I(hook) with exactly I(rules),
    in order; rules added by hand to the table are removed on the next run. Nothing outside the
    table is touched, so it sits next to the host's own ruleset and Docker's iptables-nft tables.
  - The table is replaced atomically by one C(nft -f) transaction (declare, delete, define),
    checked first with C(nft -c), so no packet meets a half-built chain.
  - nft prints rules in its own canonical form, which differs from how they may be written.
    So the module does not parse rules; after each apply it records nft's own listing of the
    table next to I(persist_file), and a later run compares the live listing with that record
    and the wanted script with the saved one. Either differing means a rewrite.
  - A drop in any base chain is final, but an accept only ends this table's chain; a host
    whose own input policy drops must accept the published ports in its own ruleset too.
options:
  name:
    description: The table to own, e.g. C(swarmops).
    type: str
    required: true
  family:
    description: The table's family.
    type: str
    default: inet
    choices: [inet, ip, ip6]
  hook:
    description: The hook of the table's base chain.
    type: str
    default: input
    choices: [input, forward, output, prerouting]
  priority:
    description: The base chain's priority; below 0 runs before iptables-nft's filter chains.
    type: int
    default: -10
  rules:
    description: The chain's rules as nft statements, e.g. C(ip saddr 10.0.0.0/24 tcp dport 2377 accept).
    type: list
    elements: str
    default: []
  persist_file:
    description:
      - Where to save the table as an C(nft -f) script for a boot-time restore; its listing is
        recorded beside it as C(PERSIST_FILE.listing). Required for C(state=present).
    type: path
  state:
    description: C(present) keeps the table; C(absent) removes it and the saved files.
    type: str
    default: present
    choices: [present, absent]
author: swarmops (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Accept swarm control traffic only from the cluster
  nft_table:
    name: swarmops
    rules:
      - ip saddr 10.0.0.0/24 tcp dport 2377 accept
      - tcp dport 2377 drop
    persist_file: /etc/swarmops/firewall.nft
"""

RETURN = r"""
rules:
  description: The rules the table's chain is written with (or would be, in check mode).
  returned: always
  type: list
  elements: str
reason:
  description: Why the table was (or would be) rewritten, empty when it was not.
  returned: always
  type: str
"""

import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.files import read_text, write_atomically  # noqa: E402

CHAIN = "swarmops"


def script(family: str, name: str, hook: str, priority: int, rules: list[str]) -> str:
    """An nft -f script that replaces the table in one transaction (the first line makes the
    delete safe when the table does not exist yet)."""
    body = "".join(f"\t\t{r.strip()}\n" for r in rules)
    return (f"table {family} {name}\ndelete table {family} {name}\n"
            f"table {family} {name} {{\n\tchain {CHAIN} {{\n"
            f"\t\ttype filter hook {hook} priority {priority}; policy accept;\n"
            f"{body}\t}}\n}}\n")


def rewrite_reason(wanted: str, saved: str | None, live: str | None, recorded: str | None) -> str:
    """Why the table must be written, or '' when the live table is the one last written."""
    if live is None:
        return "the table does not exist"
    if saved != wanted:
        return "the wanted rules differ from the saved ones"
    if recorded is None:
        return "no record of the last apply"
    if live != recorded:
        return "the live table was changed outside swarmops"
    return ""


class Table:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        # Removing needs no nft where there is none: then there is no table either.
        self.nft = module.get_bin_path("nft", required=module.params["state"] == "present")
        self.family, self.name = module.params["family"], module.params["name"]

    def listing(self) -> str | None:
        if not self.nft:
            return None
        rc, out, _err = self.module.run_command([self.nft, "list", "table", self.family, self.name])
        return out if rc == 0 else None

    def load(self, text: str, check_only: bool = False) -> None:
        cmd = [self.nft, "-c", "-f", "-"] if check_only else [self.nft, "-f", "-"]
        rc, out, err = self.module.run_command(cmd, data=text)
        if rc != 0:
            what = "refused" if check_only else "failed to load"
            self.module.fail_json(msg=f"nft {what} the rules of table {self.family} {self.name}: "
                                      f"{err.strip() or out.strip()}", script=text)

    def delete(self) -> None:
        rc, _out, err = self.module.run_command([self.nft, "delete", "table", self.family, self.name])
        if rc != 0:
            self.module.fail_json(msg=f"nft could not delete table {self.family} {self.name}: {err.strip()}")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "family": {"type": "str", "default": "inet", "choices": ["inet", "ip", "ip6"]},
            "hook": {"type": "str", "default": "input", "choices": ["input", "forward", "output", "prerouting"]},
            "priority": {"type": "int", "default": -10},
            "rules": {"type": "list", "elements": "str", "default": []},
            "persist_file": {"type": "path"},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        },
        required_if=[("state", "present", ["persist_file"])],
        supports_check_mode=True,
    )
    p = module.params
    table = Table(module)
    live = table.listing()
    persist = p["persist_file"]
    record = f"{persist}.listing" if persist else None

    if p["state"] == "absent":
        changed = live is not None or bool(persist and (os.path.exists(persist) or os.path.exists(record)))
        if changed and not module.check_mode:
            if live is not None:
                table.delete()
            for path in (persist, record):
                if path and os.path.exists(path):
                    os.remove(path)
        module.exit_json(changed=changed, rules=[], reason="removed" if changed else "",
                         diff={"before": live or "", "after": ""})

    rules = [r.strip() for r in p["rules"]]
    wanted = script(p["family"], p["name"], p["hook"], p["priority"], rules)
    saved = read_text(persist)
    reason = rewrite_reason(wanted, saved, live, read_text(record))
    diff = {"before": saved or "", "after": wanted, "before_header": persist, "after_header": persist}
    if reason and not module.check_mode:
        table.load(wanted, check_only=True)  # a bad rule fails here, before the table is touched
        table.load(wanted)
        write_atomically(module, persist, wanted, mode=0o600, folder_mode=0o755)
        write_atomically(module, record, table.listing() or "", mode=0o600, folder_mode=0o755)
    module.exit_json(changed=bool(reason), rules=rules, reason=reason, diff=diff)


if __name__ == "__main__":
    main()
