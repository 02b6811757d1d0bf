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
    other policy, is touched; the host's default zone keeps its own services and ports.
  - A new policy (or one whose priority, target or zones changed) is written as its permanent
    configuration file (C(CONFIG_DIR/policies/NAME.xml)), checked with
    C(firewall-cmd --check-config) and loaded with C(firewall-cmd --reload). Any other
    difference (a rich rule to add or remove, or anything added to the policy by hand, permanent
    or runtime only) is mended with C(firewall-cmd) in the running and the permanent
    configuration without a reload, so the policy is in force now and after a restart or reboot.
  - Reloads are avoided because a firewalld reload removes the iptables rules of every other
    program. Docker 20.10 puts its bridge rules back afterwards but not the swarm's ingress
    (routing mesh) and encrypted-overlay rules (fixed only in Docker 28, moby/moby#50443), so on a
    node in a swarm the routing mesh stops answering until the engine restarts. The module refuses
    a reload where the engine is in a swarm unless I(reload_in_swarm=true).
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
  reload_in_swarm:
    description:
      - Reload firewalld even where the engine has swarm ingress rules (see above). Restart the
        engine afterwards (C(playbooks/maintenance.yml) drains the node first).
    type: bool
    default: false
  config_dir:
    description: firewalld's configuration directory.
    type: path
    default: /etc/firewalld
  state:
    description:
      - C(present) keeps the policy; C(absent) removes it from the permanent configuration and
        empties it in the running one (no reload; an empty policy with target C(CONTINUE)
        matches nothing, and the next reload or boot drops it). Without a running firewalld,
        C(absent) removes only the saved file.
    type: str
    default: present
    choices: [present, absent]
author: swarmops (!UNKNOWN)
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
rules:
  description: The policy's rich rules as firewalld writes them, as wanted.
  returned: always
  type: list
  elements: str
reason:
  description: Why the policy was (or would be) changed, empty when it was not.
  returned: always
  type: str
reloaded:
  description: Whether firewalld was (or would be) reloaded.
  returned: always
  type: bool
"""

import os  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402
from xml.sax.saxutils import quoteattr  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.swarmops.files import read_text, write_atomically  # noqa: E402
from ansible.module_utils.swarmops.firewalld import ITEM_OPTIONS, edits, parse_info  # noqa: E402

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


def rich_rule(r: dict[str, Any]) -> str:
    """A rule as firewalld writes it back (`--list-rich-rules`), so listings compare as text."""
    words = ["rule"]
    if r.get("priority", 0):
        words.append(f'priority="{r["priority"]}"')
    if r.get("family"):
        words.append(f'family="{r["family"]}"')
    if r.get("source"):
        words.append(f'source address="{r["source"]}"')
    if r.get("port") is not None:
        words.append(f'port port="{r["port"]}" protocol="{r["protocol"]}"')
    elif r.get("protocol"):
        words.append(f'protocol value="{r["protocol"]}"')
    words.append(r["action"])
    return " ".join(words)


def structure_reason(info: dict[str, Any], priority: int, ingress: list[str], egress: list[str]) -> str:
    """What differs in what only a rewrite and a reload can change, or ''."""
    wanted = {"priority": [str(priority)], "target": ["CONTINUE"], "ingress-zones": sorted(ingress),
              "egress-zones": sorted(egress)}
    for key, value in wanted.items():
        have = sorted(info.get(key, [])) if key.endswith("zones") else info.get(key, [])
        if have != value:
            return f"{key} is {' '.join(have) or 'empty'}, not {' '.join(value)}"
    return ""


def describe(priority: Any, ingress: list[str], egress: list[str], rules: list[str]) -> str:
    """The policy as one text for --diff: the same layout for what is and what is wanted."""
    lines = [f"priority: {priority}", f"ingress-zones: {' '.join(sorted(ingress))}",
             f"egress-zones: {' '.join(sorted(egress))}"]
    return "\n".join(lines + sorted(rules)) + "\n"


def describe_info(info: dict[str, Any] | None) -> str:
    if info is None:
        return ""
    extra = [f"{key}: {' '.join(info[key])}" for key in [*ITEM_OPTIONS, "masquerade"]
             if info.get(key) and info[key] != ["no"]]
    return describe(" ".join(info.get("priority", [])), info.get("ingress-zones", []),
                    info.get("egress-zones", []), info.get("rich rules", []) + extra)


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

    def info(self, name: str, permanent: bool) -> dict[str, Any] | None:
        """The policy's settings as data, or None where firewalld does not have it."""
        if not self.running:
            return None
        args = ["--permanent"] if permanent else []
        rc, out, _err = self.module.run_command([self.cmd, *args, f"--info-policy={name}"])
        return parse_info(out) if rc == 0 else None

    def edit(self, name: str, groups: list[list[str]], permanent: bool) -> None:
        for group in groups:
            self.run(*(["--permanent"] if permanent else []), f"--policy={name}", *group)

    def in_swarm(self) -> bool:
        """Whether the engine here is in a swarm, whose iptables rules a reload would remove."""
        docker = self.module.get_bin_path("docker")
        if not docker:
            return False
        rc, out, _err = self.module.run_command([docker, "info", "--format", "{{.Swarm.LocalNodeState}}"])
        return rc == 0 and out.strip() not in ("", "inactive")


def absent(module: AnsibleModule, fw: Firewalld, path: str) -> None:
    name = module.params["name"]
    saved = read_text(path)
    permanent = fw.info(name, permanent=True)
    runtime = fw.info(name, permanent=False)
    emptying = edits(runtime, []) if runtime else []
    changed = saved is not None or permanent is not None or bool(emptying)
    if changed and not module.check_mode:
        if permanent is not None:
            fw.run("--permanent", f"--delete-policy={name}")
        if os.path.exists(path):
            os.remove(path)
        fw.edit(name, emptying, permanent=False)
    module.exit_json(changed=changed, rules=[], reason="removed" if changed else "", reloaded=False,
                     diff={"before": describe_info(runtime) or (saved or ""), "after": "",
                           "before_header": name, "after_header": name})


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "default": "swarmops"},
            "priority": {"type": "int", "default": -100},
            "ingress_zones": {"type": "list", "elements": "str", "default": ["ANY"]},
            "egress_zones": {"type": "list", "elements": "str", "default": ["HOST"]},
            "rules": {"type": "list", "elements": "dict", "default": []},
            "reload_in_swarm": {"type": "bool", "default": False},
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
    fw = Firewalld(module)
    if p["state"] == "absent":
        absent(module, fw, path)

    name, wanted = p["name"], [rich_rule(r) for r in p["rules"]]
    permanent = fw.info(name, permanent=True)
    runtime = fw.info(name, permanent=False)
    diff = {"before": describe_info(runtime), "after": describe(p["priority"], p["ingress_zones"],
                                                                p["egress_zones"], wanted),
            "before_header": f"{name} (running)", "after_header": name}
    reload_reason = ""
    for where, info in (("saved", permanent), ("running", runtime)):
        if info is None:
            reload_reason = reload_reason or f"the policy is not in the {where} configuration"
        else:
            drift = structure_reason(info, p["priority"], p["ingress_zones"], p["egress_zones"])
            reload_reason = reload_reason or (f"the {where} policy's {drift}" if drift else "")
    if reload_reason:
        if not p["reload_in_swarm"] and fw.in_swarm():
            module.fail_json(msg=(
                f"firewalld policy {name}: {reload_reason}, which needs a firewalld reload; this host's "
                "engine is in a swarm, and a reload removes Docker's iptables rules, of which Docker before 28 "
                "does not restore the swarm's (routing mesh, encrypted overlays) until the engine restarts. "
                "Converge the firewall before the swarm forms, or set reload_in_swarm=true "
                "(role: swarm_firewall_firewalld_reload_in_swarm) and restart the engine after "
                "(playbooks/maintenance.yml). Nothing was changed."), rules=wanted)
        if not module.check_mode:
            saved = read_text(path)
            write_atomically(module, path, policy_xml(name, p["priority"], p["ingress_zones"], p["egress_zones"],
                                                      p["rules"]), mode=0o644, folder_mode=0o750)
            rc, out, err = module.run_command([fw.cmd, "--check-config"])
            if rc != 0:
                # Put the previous file back so a bad rule never reaches the next reload or boot.
                if saved is None:
                    os.remove(path)
                else:
                    write_atomically(module, path, saved, mode=0o644, folder_mode=0o750)
                module.fail_json(msg=f"firewalld refused the policy {name}: {err.strip() or out.strip()}",
                                 rules=wanted)
            fw.reload()
            runtime = fw.info(name, permanent=False)
            if runtime is None or edits(runtime, wanted):
                module.fail_json(msg=f"firewalld did not load the policy {name} as written after a reload",
                                 rules=wanted)
        module.exit_json(changed=True, rules=wanted, reason=reload_reason, reloaded=True, diff=diff)

    fixes = {"saved": edits(permanent, wanted), "running": edits(runtime, wanted)}
    reason = "; ".join(f"the {where} policy differs ({sum(len(g) for g in groups)} edits)"
                       for where, groups in fixes.items() if groups)
    if reason and not module.check_mode:
        fw.edit(name, fixes["saved"], permanent=True)
        fw.edit(name, fixes["running"], permanent=False)
    module.exit_json(changed=bool(reason), rules=wanted, reason=reason, reloaded=False, diff=diff)


if __name__ == "__main__":
    main()
