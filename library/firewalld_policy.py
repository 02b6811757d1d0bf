#!/usr/bin/python
"""Keep one firewalld policy of swarmops' own holding exactly the given rich rules."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewalld_policy
short_description: Keep a firewalld policy of swarmops' own holding exactly the given rules
description:
  - For hosts whose firewall is firewalld (1.0 or later, which has policies). Owns one policy,
    by default from every zone (C(ANY)) to the host itself (C(HOST)) with a negative priority,
    so it is evaluated before any zone's own rules, and target C(CONTINUE), so a packet none
    of its rules matches goes on to the zones as if the policy were not there. No zone, and no
    other policy, is touched: the host's default zone keeps its own services and ports.
  - The policy is written as its permanent configuration file
    (C(CONFIG_DIR/policies/NAME.xml)), checked with C(firewall-cmd --check-config), and loaded
    with C(firewall-cmd --reload), so it is in force now and after a restart or reboot.
    Anything added to the policy by hand (permanent or runtime only) is removed on the next
    run. A reload keeps established connections; Docker re-adds its own runtime settings when
    firewalld reloads.
  - A reload also drops runtime-only changes other tools made to firewalld; the module reloads
    only when the policy file changed or the running policy differs from it.
options:
  name:
    description: The policy to own (at most 17 characters).
    type: str
    default: swarmops
  priority:
    description: The policy's priority; negative runs before the zones' rules.
    type: int
    default: -100
  ingress_zones:
    description: Zones the traffic comes from; C(ANY) for all.
    type: list
    elements: str
    default: [ANY]
  egress_zones:
    description: Zones the traffic goes to; C(HOST) for the host itself (input).
    type: list
    elements: str
    default: [HOST]
  rules:
    description:
      - The policy's rich rules as data, each with I(action) (C(accept), C(drop) or
        C(reject)), I(priority) (rich rule priority; lower runs first), and optionally
        I(source) (a network), I(family) (C(ipv4) or C(ipv6); required with I(source)),
        I(protocol) (C(tcp), C(udp) or an IP protocol such as C(esp)) and I(port) (with tcp or udp).
    type: list
    elements: dict
    default: []
  config_dir:
    description: firewalld's configuration directory.
    type: path
    default: /etc/firewalld
  state:
    description: C(present) keeps the policy; C(absent) removes it (where there is no
      firewalld, there is nothing to remove).
    type: str
    default: present
    choices: [present, absent]
author: swarmops
"""

EXAMPLES = r"""
- name: Accept swarm control traffic only from the cluster
  firewalld_policy:
    name: swarmops
    rules:
      - {family: ipv4, source: 10.0.0.0/24, protocol: tcp, port: 2377, action: accept, priority: -2}
      - {protocol: tcp, port: 2377, action: drop, priority: -1}
"""

RETURN = r"""
policy:
  description: The policy file's content now (or in check mode, as it would be).
  returned: always
  type: str
reason:
  description: Why the policy was (or would be) written or reloaded, empty when it was not.
  returned: always
  type: str
"""

import os  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402
from xml.sax.saxutils import quoteattr  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

ACTIONS = ("accept", "drop", "reject")
RELOAD_WAIT = 300
BACKEND_HINT = ("swarm_firewall_backend=firewalld needs firewalld installed and running; "
                "otherwise choose one of: iptables, nftables, ufw")


def rule_errors(rules: list[dict[str, Any]]) -> list[str]:
    """What is wrong with each rule, naming the rule's index and field."""
    errors = []
    for i, r in enumerate(rules):
        where = f"rules[{i}]"
        if r.get("action") not in ACTIONS:
            errors.append(f"{where}.action: {r.get('action')!r}, must be one of {', '.join(ACTIONS)}")
        if not isinstance(r.get("priority", 0), int):
            errors.append(f"{where}.priority: {r.get('priority')!r}, must be an integer")
        if r.get("source") and r.get("family") not in ("ipv4", "ipv6"):
            errors.append(f"{where}.family: {r.get('family')!r}, must be ipv4 or ipv6 with a source")
        proto = r.get("protocol")
        if proto is not None and not re.fullmatch(r"[a-z0-9-]+", str(proto)):
            errors.append(f"{where}.protocol: {proto!r}, must be a protocol name such as tcp, udp, esp")
        if r.get("port") is not None:
            if proto not in ("tcp", "udp"):
                errors.append(f"{where}.port: needs protocol tcp or udp, not {proto!r}")
            if not isinstance(r["port"], int) or not 0 < r["port"] < 65536:
                errors.append(f"{where}.port: {r['port']!r}, must be 1-65535")
        unknown = set(r) - {"action", "priority", "source", "family", "protocol", "port"}
        if unknown:
            errors.append(f"{where}: unknown keys {sorted(unknown)}; allowed: action, priority, source, "
                          f"family, protocol, port")
    return errors


def _rule_xml(r: dict[str, Any]) -> str:
    attrs = f" priority={quoteattr(str(r.get('priority', 0)))}"
    if r.get("family"):
        attrs += f" family={quoteattr(r['family'])}"
    lines = [f"  <rule{attrs}>"]
    if r.get("source"):
        lines.append(f"    <source address={quoteattr(r['source'])}/>")
    if r.get("port") is not None:
        lines.append(f"    <port port={quoteattr(str(r['port']))} protocol={quoteattr(r['protocol'])}/>")
    elif r.get("protocol"):
        lines.append(f"    <protocol value={quoteattr(r['protocol'])}/>")
    lines.append(f"    <{r['action']}/>")
    lines.append("  </rule>")
    return "\n".join(lines)


def policy_xml(name: str, priority: int, ingress: list[str], egress: list[str], rules: list[dict[str, Any]]) -> str:
    """The policy's configuration file, as firewalld reads it from CONFIG_DIR/policies/."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             f'<policy target="CONTINUE" priority={quoteattr(str(priority))}>',
             f"  <short>{name}</short>",
             "  <description>Kept by swarmops: changes made by hand are undone on its next run.</description>"]
    lines += [f"  <ingress-zone name={quoteattr(z)}/>" for z in ingress]
    lines += [f"  <egress-zone name={quoteattr(z)}/>" for z in egress]
    lines += [_rule_xml(r) for r in rules]
    lines.append("</policy>")
    return "\n".join(lines) + "\n"


def apply_reason(wanted: str, saved: str | None, loaded: bool, runtime: str | None, permanent: str | None) -> str:
    """Why the policy must be written or reloaded, or '' when the running policy is the wanted one.
    `runtime` and `permanent` are firewall-cmd's listings of the running and the saved policy."""
    if saved is None:
        return "the policy does not exist"
    if saved != wanted:
        return "the saved policy differs from the wanted one"
    if not loaded:
        return "the policy is not loaded in the running firewalld"
    if runtime != permanent:
        return "the running policy was changed outside swarmops"
    return ""


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


class Firewalld:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        present = module.params["state"] == "present"
        self.cmd = module.get_bin_path("firewall-cmd")
        if present and not self.cmd:
            module.fail_json(msg=f"firewall-cmd is not installed on this host; {BACKEND_HINT}")
        self.running = bool(self.cmd) and self.module.run_command([self.cmd, "--state"])[0] == 0
        if present and not self.running:
            module.fail_json(msg=f"firewalld is not running on this host (firewall-cmd --state); {BACKEND_HINT}")

    def run(self, *args: str) -> str:
        rc, out, err = self.module.run_command([self.cmd, *args])
        if rc != 0:
            self.module.fail_json(msg=f"firewall-cmd {' '.join(args)} failed: {err.strip() or out.strip()}")
        return out

    def reload(self) -> None:
        """Reload firewalld. Its D-Bus call times out after 25 s on a slow host (seen under
        software emulation) while the reload goes on: then wait until firewalld answers."""
        rc, out, err = self.module.run_command([self.cmd, "--reload"])
        if rc == 0:
            return
        if "Did not receive a reply" not in err + out:
            self.module.fail_json(msg=f"firewall-cmd --reload failed: {err.strip() or out.strip()}")
        deadline = time.monotonic() + RELOAD_WAIT
        while time.monotonic() < deadline:
            if self.module.run_command([self.cmd, "--state"])[0] == 0:
                return
            time.sleep(2)
        self.module.fail_json(msg=f"firewalld did not answer within {RELOAD_WAIT} s of a reload")

    def loaded(self, name: str) -> bool:
        return self.running and name in self.run("--get-policies").split()

    def listing(self, name: str, permanent: bool) -> str | None:
        args = ["--permanent"] if permanent else []
        rc, out, _err = self.module.run_command([self.cmd, *args, f"--policy={name}", "--list-all"])
        return out if rc == 0 else None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "default": "swarmops"},
            "priority": {"type": "int", "default": -100},
            "ingress_zones": {"type": "list", "elements": "str", "default": ["ANY"]},
            "egress_zones": {"type": "list", "elements": "str", "default": ["HOST"]},
            "rules": {"type": "list", "elements": "dict", "default": []},
            "config_dir": {"type": "path", "default": "/etc/firewalld"},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        },
        supports_check_mode=True,
    )
    p = module.params
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,17}", p["name"]):
        module.fail_json(msg=f"name: {p['name']!r} must be 1-17 letters, digits, '_' or '-'")
    if p["priority"] == 0 or not -32768 <= p["priority"] <= 32767:
        module.fail_json(msg=f"priority: {p['priority']} must be -32768..32767 and not 0 (negative: before the zones)")
    errors = rule_errors(p["rules"])
    if errors:
        module.fail_json(msg="; ".join(errors))
    path = os.path.join(p["config_dir"], "policies", f"{p['name']}.xml")
    saved = _read(path)
    fw = Firewalld(module)

    if p["state"] == "absent":
        loaded = fw.loaded(p["name"])
        changed = saved is not None or loaded
        if changed and not module.check_mode:
            if saved is not None:
                os.remove(path)
            if fw.running:
                fw.reload()
        module.exit_json(changed=changed, policy="", reason="removed" if changed else "",
                         diff={"before": saved or "", "after": "", "before_header": path, "after_header": path})

    wanted = policy_xml(p["name"], p["priority"], p["ingress_zones"], p["egress_zones"], p["rules"])
    loaded = fw.loaded(p["name"])
    runtime = fw.listing(p["name"], permanent=False) if loaded else None
    permanent = fw.listing(p["name"], permanent=True) if loaded else None
    reason = apply_reason(wanted, saved, loaded, runtime, permanent)
    diff = {"before": saved or "", "after": wanted, "before_header": path, "after_header": path}
    if reason and not module.check_mode:
        if saved != wanted:
            _write(path, wanted)
            rc, out, err = module.run_command([fw.cmd, "--check-config"])
            if rc != 0:
                # Put the previous file back so a bad rule never reaches the next reload or boot.
                if saved is None:
                    os.remove(path)
                else:
                    _write(path, saved)
                module.fail_json(msg=f"firewalld refused the policy {p['name']}: {err.strip() or out.strip()}",
                                 policy=wanted)
        fw.reload()
        if not fw.loaded(p["name"]):
            module.fail_json(msg=f"firewalld did not load the policy {p['name']} after a reload", policy=wanted)
    module.exit_json(changed=bool(reason), policy=wanted, reason=reason, diff=diff)


if __name__ == "__main__":
    main()
