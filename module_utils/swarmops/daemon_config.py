"""The engine's daemon.json as swarmops writes it, and whether the file on a host matches it.

Pure functions, no engine: the file is compared as JSON (key order and spacing do not count),
so a file written by hand in another layout but with the same settings is left alone and the
engine is not restarted for nothing.
"""

from __future__ import annotations

import json

# The engine refuses swarm mode with this key set ("--live-restore daemon configuration is
# incompatible with swarm mode").
REFUSED_KEYS = ("live-restore",)


def render(config: dict) -> str:
    """The file's text: sorted keys, two-space indent, a final newline (as the role always wrote it)."""
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def refused_keys(config: dict) -> list[str]:
    return [key for key in REFUSED_KEYS if key in config]


def parse(text: str | None) -> tuple[dict | None, str]:
    """The settings a daemon.json holds, or None and why it cannot be read as settings."""
    if text is None:
        return None, "the file does not exist"
    try:
        value = json.loads(text)
    except ValueError as exc:
        return None, f"the file is not JSON ({exc})"
    if not isinstance(value, dict):
        return None, "the file does not hold a JSON object"
    return value, ""


def rewrite_reason(current_text: str | None, wanted: dict) -> str:
    """Why the file must be written, or '' when it already holds exactly `wanted`."""
    current, why = parse(current_text)
    if current is None:
        return why
    if current != wanted:
        differing = sorted(k for k in set(current) | set(wanted) if current.get(k) != wanted.get(k))
        return "settings differ: " + ", ".join(differing)
    return ""
