"""Reading ufw's rules: shared by ufw_rules (which keeps them) and swarm_host_info (which finds them)."""

from __future__ import annotations

import re


def parse_added(output: str, comment: str) -> list[str]:
    """The rules of `ufw show added` that carry the comment, without `ufw ` and the comment."""
    suffix = re.compile(r"\s+comment\s+'" + re.escape(comment) + r"'\s*$")
    rules = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("ufw ") and suffix.search(line):
            rules.append(suffix.sub("", line[len("ufw "):]).strip())
    return rules
