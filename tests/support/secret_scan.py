"""Find join tokens, unlock keys, private keys and known secret values in text.

`scan(text, values)` returns one line per hit, naming what was found and where (the hit
itself shortened, so that a failing test does not print the secret in full). Point it at
any playbook's -vvv output or at a host's logs:

    hits = scan(run.stdout + run.stderr, values=[my_secret])
    assert not hits, hits

Patterns match the shape of real material, not the words: an error message that says
"expected a join token (SWMTKN-1-...)" is not a token, while any real token, key or
PEM private key is a hit wherever it appears (quoted, escaped in JSON, split over fields).
"""

from __future__ import annotations

import re

# Docker's join token: SWMTKN-1-<CA digest, base36 50>-<secret, base36 25>. Shorter runs of
# the alphabet still count, in case output truncates or a newer engine changes lengths.
TOKEN = re.compile(r"SWMTKN-1-[0-9a-z]{20,}(?:-[0-9a-z]+)?")
# Autolock unlock key: SWMKEY-1-<base64 of the key>.
UNLOCK_KEY = re.compile(r"SWMKEY-1-[A-Za-z0-9+/=]{16,}")
# A PEM private key's header (CA key, node key, SSH key), also as YAML or JSON may render it.
PRIVATE_KEY = re.compile(r"BEGIN[ _]((?:EC|RSA|DSA|ENCRYPTED|OPENSSH) )?PRIVATE[ _]KEY")

PATTERNS = {"join token": TOKEN, "unlock key": UNLOCK_KEY, "private key": PRIVATE_KEY}


def _where(text: str, start: int) -> str:
    line = text.count("\n", 0, start) + 1
    return f"line {line}"


def _shorten(hit: str) -> str:
    return hit if len(hit) <= 14 else f"{hit[:12]}...({len(hit)} chars)"


def scan(text: str, values: list[str] | tuple[str, ...] = (), source: str = "output") -> list[str]:
    """Every token, key and given secret value in `text`, one line per hit."""
    hits: list[str] = []
    for what, pattern in PATTERNS.items():
        for m in pattern.finditer(text):
            hits.append(f"{source}: {what} at {_where(text, m.start())}: {_shorten(m.group(0))}")
    for value in values:
        if not value:
            continue
        # The value itself, and as JSON would escape its newlines or quotes.
        escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        for form in {value, escaped}:
            start = text.find(form)
            while start != -1:
                hits.append(f"{source}: secret value at {_where(text, start)}: {_shorten(form)}")
                start = text.find(form, start + 1)
    return hits


def scan_lab_logs(lab, hosts: list[str], values: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Scan every file under /var/log on each lab host (each host has its own /var/log)."""
    hits: list[str] = []
    for host in hosts:
        # Text of every regular file, named, so a hit says which log it is in.
        out = lab.ssh(host, "find /var/log -type f -size -50M -print0 | "
                            "xargs -0 -r grep -a -H -n -e . 2>/dev/null || true", timeout=120).stdout
        hits += scan(out, values, source=f"{host}:/var/log")
    return hits
