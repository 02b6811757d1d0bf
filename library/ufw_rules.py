#!/usr/bin/python
"""Keep the ufw rules that carry one comment exactly as given, in order."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ufw_rules
short_description: Keep the ufw rules tagged with a comment exactly as given
description:
  - For hosts whose firewall is ufw. The rules that carry I(comment) end up being exactly
    I(rules), in order, after the host's own rules; rules with that comment added by hand
    are removed. Rules without the comment are never touched, and ufw is never enabled or
    disabled; rules added while ufw is inactive apply when the operator enables it.
  - Rules are compared as C(ufw show added) prints them, without the leading C(ufw) and the
    comment, e.g. C(allow from 10.0.0.5 to any port 2377 proto tcp) or C(deny 2377/tcp). A
    rule given in another form would look changed on every run; the module reads the rules
    back after applying them and fails naming the form ufw uses.
  - A change deletes the tagged rules and adds the wanted ones, so for a moment a port may
    be covered by neither; ufw has no transaction across rules.
options:
  rules:
    description: The rules, as C(ufw show added) prints them without C(ufw) and the comment.
    type: list
    elements: str
    default: []
  comment:
    description: The comment that marks the rules this module owns.
    type: str
    default: swarmops
  state:
    description: C(present) keeps the rules; C(absent) removes every rule with I(comment).
    type: str
    default: present
    choices: [present, absent]
author: swarmops (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Accept swarm control traffic only from the cluster
  ufw_rules:
    rules:
      - allow from 10.0.0.0/24 to any port 2377 proto tcp
      - deny 2377/tcp
"""

RETURN = r"""
rules:
  description: The tagged rules now (or in check mode, as they would be).
  returned: always
  type: list
  elements: str
added:
  description: Wanted rules that were missing.
  returned: always
  type: list
  elements: str
removed:
  description: Tagged rules that were not wanted.
  returned: always
  type: list
  elements: str
"""

import re  # noqa: E402
import shlex  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.ufw import parse_added  # noqa: E402


class Ufw:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        # Removing needs no ufw where there is none: then there are no rules either.
        self.ufw = module.get_bin_path("ufw", required=module.params["state"] == "present")

    def run(self, *args: str) -> str:
        rc, out, err = self.module.run_command([self.ufw, *args])
        if rc != 0:
            self.module.fail_json(msg=f"ufw {' '.join(args)} failed: {err.strip() or out.strip()}")
        return out

    def current(self, comment: str) -> list[str]:
        if not self.ufw:
            return []
        return parse_added(self.run("show", "added"), comment)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "rules": {"type": "list", "elements": "str", "default": []},
            "comment": {"type": "str", "default": "swarmops"},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        },
        supports_check_mode=True,
    )
    p = module.params
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", p["comment"]):
        module.fail_json(msg=f"comment: {p['comment']!r} must be letters, digits, '_', '.' or '-'")
    wanted = [] if p["state"] == "absent" else [" ".join(r.split()) for r in p["rules"]]
    ufw = Ufw(module)
    current = ufw.current(p["comment"])
    changed = current != wanted
    result = {
        "added": [r for r in wanted if r not in current],
        "removed": [r for r in current if r not in wanted],
        "diff": {"before": "\n".join(current) + "\n", "after": "\n".join(wanted) + "\n"},
    }
    if changed and not module.check_mode:
        for rule in current:
            ufw.run("delete", *shlex.split(rule))
        for rule in wanted:
            ufw.run(*shlex.split(rule), "comment", p["comment"])
        now = ufw.current(p["comment"])
        if now != wanted:
            module.fail_json(msg=f"rules: ufw stores these rules in another form, so they would look changed on "
                                 f"every run; write them as `ufw show added` prints them: {now}", rules=now)
    module.exit_json(changed=changed, rules=wanted, **result)


if __name__ == "__main__":
    main()
