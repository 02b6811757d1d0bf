"""Reading and mending a firewalld policy: shared by firewalld_policy (which keeps it) and
swarm_host_info (which finds it, module_utils/swarmops/hostread.py)."""

from __future__ import annotations

from typing import Any

# What `firewall-cmd --info-policy` lists besides rich rules, and the option that removes an item.
ITEM_OPTIONS = {"services": "service", "ports": "port", "protocols": "protocol",
                "forward-ports": "forward-port", "source-ports": "source-port", "icmp-blocks": "icmp-block"}


def parse_info(text: str) -> dict[str, Any]:
    """`firewall-cmd --info-policy=NAME` as data: each field's words, and the rich rules."""
    info: dict[str, Any] = {"rich rules": []}
    in_rules = False
    for line in text.splitlines()[1:]:
        if in_rules and line.startswith("\t"):
            info["rich rules"].append(line.strip())
            continue
        key, _sep, value = line.strip().partition(":")
        in_rules = key == "rich rules"
        if not in_rules:
            info[key] = value.split()
    return info


def edits(info: dict[str, Any], wanted: list[str]) -> list[list[str]]:
    """The firewall-cmd option groups that make a policy's rules and items exactly `wanted`:
    wanted rules added first (so a member is never dropped in between), then everything else
    removed. One group per option, since firewall-cmd takes one kind of option per call."""
    have = info.get("rich rules", [])
    groups = []
    add = [f"--add-rich-rule={r}" for r in wanted if r not in have]
    remove = [f"--remove-rich-rule={r}" for r in have if r not in wanted]
    if add:
        groups.append(add)
    if remove:
        groups.append(remove)
    for key, option in ITEM_OPTIONS.items():
        if info.get(key):
            groups.append([f"--remove-{option}={item}" for item in info[key]])
    if info.get("masquerade") == ["yes"]:
        groups.append(["--remove-masquerade"])
    return groups
