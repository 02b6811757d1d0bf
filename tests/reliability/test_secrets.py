"""No join token, unlock key, CA key or secret value in any output at -vvv, in Ansible's own
log, or in the lab hosts' /var/log.

The scanner (support/secret_scan.py) is checked first against planted material, so that these tests
cannot pass because it finds nothing at all.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support.lab import Lab, recap, wait_for
from support.reliability import MEMBERS, Converged
from support.secret_scan import scan, scan_lab_logs

HERE = Path(__file__).resolve().parent
KNOWN_SECRET = "reliability-known-secret-7f3a9c1e"


# The scanner itself ---------------------------------------------------------------------------

TOKEN = "SWMTKN-1-3lh8b7ncv4v2vkxm6r0dpmc0w3an8uqo4a4usw1vxgq3c2aflp-0123456789abcdefghijklmno"
UNLOCK = "SWMKEY-1-7c37Cc8654o6p38HnroywCi19pllOnGtbdZEgtKxZu8"
PEM_KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBz0abc\n-----END EC PRIVATE KEY-----"


@pytest.mark.parametrize("text", [
    f"ok: [m1] => {{'token': '{TOKEN}'}}",
    f'"JoinTokens": {{"Worker": "{TOKEN}"}}',
    f"unlock with {UNLOCK} please",
    PEM_KEY,
    json.dumps({"ca_key": PEM_KEY}),  # escaped newlines
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    f"data: {KNOWN_SECRET}",
    json.dumps({"data": f"{KNOWN_SECRET}\nsecond line"}),
])
def test_scanner_finds_planted_material(text):
    hits = scan(f"noise before\n{text}\nnoise after", values=[KNOWN_SECRET])
    assert hits, text
    assert all(KNOWN_SECRET not in h and TOKEN not in h for h in hits)  # hits are shortened


@pytest.mark.parametrize("text", [
    "invalid option join_token: expected a swarm join token (SWMTKN-1-...), as returned by swarm_token",
    "token_fingerprint: 3c1f0d2a", "unlock_key: VALUE_SPECIFIED_IN_NO_LOG_PARAMETER",
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result",
    "-----BEGIN CERTIFICATE-----",
])
def test_scanner_ignores_mentions(text):
    assert scan(text, values=[KNOWN_SECRET]) == []


def test_scanner_names_the_line():
    hits = scan("a\nb\n" + TOKEN, source="run")
    assert hits == [f"run: join token at line 3: SWMTKN-1-3lh...({len(TOKEN)} chars)"]


# Against the labs ---------------------------------------------------------------------------------

def _live_material(lab: Lab, manager: str = "manager1") -> list[str]:
    """The lab's real tokens (and unlock key, when autolock is on), read by the test itself,
    to look for as exact values besides the patterns."""
    values = [lab.docker(manager, "swarm", "join-token", "-q", role).stdout.strip() for role in ("worker", "manager")]
    key = lab.docker(manager, "swarm", "unlock-key", "-q", check=False)
    if key.returncode == 0 and key.stdout.strip():
        values.append(key.stdout.strip())
    return values


def test_site_bootstrap_at_vvv_shows_no_secret(converged: Converged):
    run = converged.site_run
    out = run.stdout + run.stderr
    # Not vacuous: this run read the join tokens and joined four nodes with them.
    assert "Read the join tokens" in out and "Join as a worker" in out
    assert all(recap(run.stdout)[m]["changed"] > 0 for m in MEMBERS)
    assert "ESTABLISH SSH CONNECTION" in out  # it really ran at -vvv
    values = _live_material(converged.lab)
    assert scan(out, values, "site.yml -vvv") == []
    check_out = converged.check_run.stdout + converged.check_run.stderr
    assert scan(check_out, values, "site.yml --check") == []
    log = converged.log_path.read_text() if converged.log_path.exists() else ""
    assert log, "ANSIBLE_LOG_PATH was not written"
    assert scan(log, values, "ANSIBLE_LOG_PATH") == []


def test_status_at_vvv_shows_no_secret(converged_lab: Lab):
    run = converged_lab.playbook("playbooks/status.yml", "-vvv")
    assert scan(run.stdout + run.stderr, _live_material(converged_lab), "status.yml -vvv") == []


def _make_ca(tmp_path: Path) -> tuple[str, str]:
    key, cert = tmp_path / "ca.key", tmp_path / "ca.crt"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", str(key), "-subj", "/CN=swarmops-reliability-ca",
                    "-days", "3650", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(cert)],
                   check=True, capture_output=True)
    return cert.read_text(), key.read_text()


def test_secret_handling_modules_at_vvv_show_no_secret(single_lab: Lab, tmp_path, monkeypatch):
    log = tmp_path / "ansible.log"
    monkeypatch.setenv("ANSIBLE_LOG_PATH", str(log))
    cert, key = _make_ca(tmp_path)
    key_file = tmp_path / "unlock.key"
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps({"known_secret": KNOWN_SECRET, "ca_cert": cert, "ca_key": key,
                                     "unlock_key_file": str(key_file)}))
    playbook = str(HERE / "playbooks" / "secret_modules.yml")
    outputs = []
    first = single_lab.playbook(playbook, "-vvv", "-e", f"@{variables}", "--skip-tags", "unlock")
    outputs.append(("modules -vvv", first.stdout + first.stderr))
    unlock_key = key_file.read_text().strip()
    assert unlock_key.startswith("SWMKEY-1-")
    # The CA key became the swarm's root: the run really handled it.
    trust_root = single_lab.docker_json("manager1", "info", "--format", "{{json .Swarm.Cluster.TLSInfo.TrustRoot}}")
    assert trust_root.strip() == cert.strip()

    # Restarted with autolock on, the manager comes back locked; the module unlocks it with the key.
    single_lab.cli("restart", "manager1")
    wait_for(lambda: single_lab.docker("manager1", "info", "--format", "{{.Swarm.LocalNodeState}}")
             .stdout.strip() == "locked", 60, what="manager1 locked after its restart")
    (tmp_path / "unlock.json").write_text(json.dumps({"unlock_key": unlock_key}))
    second = single_lab.playbook(playbook, "-vvv", "-e", f"@{tmp_path / 'unlock.json'}", "--tags", "unlock")
    outputs.append(("unlock -vvv", second.stdout + second.stderr))
    assert single_lab.docker("manager1", "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "active"

    values = [KNOWN_SECRET, unlock_key, key.strip(), *key.strip().splitlines()[1:-1], *_live_material(single_lab)]
    hits = []
    for source, text in outputs:
        hits += scan(text, values, source)
    hits += scan(log.read_text(), values, "ANSIBLE_LOG_PATH")
    assert log.stat().st_size > 0
    assert hits == []


def test_lab_logs_hold_no_secret(converged_lab: Lab, single_lab: Lab):
    """Every file under /var/log of every host of both labs (engine logs included)."""
    hits = scan_lab_logs(converged_lab, sorted(converged_lab.hosts), [KNOWN_SECRET, *_live_material(converged_lab)])
    hits += scan_lab_logs(single_lab, sorted(single_lab.hosts), [KNOWN_SECRET, *_live_material(single_lab)])
    assert hits == []
