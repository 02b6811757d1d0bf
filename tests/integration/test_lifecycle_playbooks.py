"""upgrade-engine.yml, backup.yml, rotate-tokens.yml, rotate-ca.yml and reset.yml on a small lab
of their own (1 manager with autolock on, 2 workers), as an operator runs them, each at -vvv
with the output scanned for join tokens, unlock keys and private keys. The tests build on each
other in file order. (recover.yml and the restore are covered by molecule/recover and
molecule/backup-restore.)"""

from __future__ import annotations

import json
import re
import stat
import subprocess
from pathlib import Path

import pytest

from support.lab import PREFIX, Lab, recap, subnet, total_changed, wait_for

SECRET = re.compile(r"SWMTKN-|SWMKEY-|BEGIN [A-Z ]*PRIVATE KEY")
AUTOLOCK = ("-e", "swarm_cluster_autolock=true")


def assert_no_secrets(output: str) -> None:
    """Names the lines only: a failure must not print the secret either."""
    lines = [n for n, line in enumerate(output.splitlines(), 1) if SECRET.search(line)]
    assert not lines, f"secrets on {len(lines)} output lines, first at line {lines[0]}"


def ok(proc: subprocess.CompletedProcess) -> dict:
    hosts = recap(proc.stdout)
    assert hosts and all(h["failed"] == 0 and h["unreachable"] == 0 for h in hosts.values()), proc.stdout[-3000:]
    return hosts


@pytest.fixture(scope="module")
def lab():
    lab = Lab(f"{PREFIX}lc", subnet(30))  # clear of the Molecule scenarios (10.203.12-18)
    lab.cli("down", check=False)
    try:
        lab.up(managers=1, workers=2)
        ok(lab.playbook("site.yml", *AUTOLOCK))
        yield lab
    finally:
        lab.cli("down", check=False)


def test_upgrade_engine_rolls_every_node_and_says_there_is_no_package_here(lab: Lab):
    run = lab.playbook("playbooks/upgrade-engine.yml", "-vvv", *AUTOLOCK)
    assert_no_secrets(run.stdout + run.stderr)
    ok(run)
    # The lab does not manage the engine package: the output must say so rather than claim an upgrade.
    assert run.stdout.count("no package step: docker_engine_install is false") == 3
    nodes = lab.nodes()
    assert all(n["status"] == "Ready" and n["availability"] == "Active" for n in nodes.values()), nodes
    assert total_changed(lab.playbook("site.yml", *AUTOLOCK).stdout) == 0


def test_a_failed_upgrade_puts_the_node_back_to_active(lab: Lab):
    # A drain that cannot finish in 0 s fails the node's block: the rescue must activate it again.
    lab.docker("manager1", "service", "create", "--name", "slow", "--replicas", "2",
               "--constraint", "node.role==worker", "swarmops/probe:1")
    try:
        wait_for(lambda: "2/2" in lab.docker("manager1", "service", "ls", "--filter", "name=slow").stdout, 120,
                 what="slow 2/2")
        run = lab.playbook("playbooks/upgrade-engine.yml", "--limit", "manager1,worker1", *AUTOLOCK,
                           "-e", "upgrade_engine_drain_timeout=0", check=False)
        assert run.returncode != 0
        text = " ".join(run.stdout.split())
        assert "The engine upgrade of" in text and "was put back to active" in text, run.stdout[-3000:]
        wait_for(lambda: all(n["availability"] == "Active" for n in lab.nodes().values()), 60, what="all active")
    finally:
        lab.docker("manager1", "service", "rm", "slow")
        wait_for(lambda: "2/2" in lab.docker("manager1", "service", "ls", "--filter", "name=probe").stdout, 120,
                 what="probe back on both workers")


def test_backup_of_an_autolocked_manager_keeps_the_key_private(lab: Lab, tmp_path: Path):
    run = lab.playbook("playbooks/backup.yml", "-vvv", "-e", f"swarm_backup_dir={tmp_path}", *AUTOLOCK)
    assert_no_secrets(run.stdout + run.stderr)
    ok(run)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 3 and all(f.startswith("swarm-manager1-") for f in files), files
    assert [f.split(".", 1)[1] for f in files] == ["json", "tar.gz", "unlock-key"], files
    for p in tmp_path.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
    key = next(tmp_path.glob("*.unlock-key")).read_text().strip()
    assert key.startswith("SWMKEY-1-")
    assert json.loads(next(tmp_path.glob("*.json")).read_text())["autolock"] is True
    listed = subprocess.run(["tar", "-tzf", str(next(tmp_path.glob("*.tar.gz")))], capture_output=True, text=True)
    assert "swarm/raft/" in listed.stdout and "swarm/certificates/" in listed.stdout
    # The only manager was stopped and unlocked again: the swarm answers and nothing is left to converge.
    assert lab.nodes()["manager1"]["manager"] == "Leader"
    assert total_changed(lab.playbook("site.yml", *AUTOLOCK).stdout) == 0


def test_rotations_print_no_token_or_key(lab: Lab, tmp_path: Path):
    run = lab.playbook("playbooks/rotate-tokens.yml", "-vvv")
    assert_no_secrets(run.stdout + run.stderr)
    ok(run)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(tmp_path / "ca.key"), "-out", str(tmp_path / "ca.crt"),
                    "-subj", "/CN=swarmops-test-root", "-days", "3650"], check=True, capture_output=True)
    material = tmp_path / "ca.yml"
    material.write_text(json.dumps({"rotate_ca_cert": (tmp_path / "ca.crt").read_text(),
                                    "rotate_ca_key": (tmp_path / "ca.key").read_text()}))
    run = lab.playbook("playbooks/rotate-ca.yml", "-vvv", "-e", f"@{material}")
    assert_no_secrets(run.stdout + run.stderr)
    ok(run)
    root = lab.docker("manager1", "info", "--format", "{{json .Swarm.Cluster.TLSInfo.TrustRoot}}").stdout
    assert json.loads(root).strip() == (tmp_path / "ca.crt").read_text().strip()
    assert total_changed(lab.playbook("site.yml", *AUTOLOCK).stdout) == 0


def test_reset_asks_first(lab: Lab):
    run = lab.playbook("playbooks/reset.yml", "--limit", "worker2", check=False)
    assert run.returncode != 0 and "Not confirmed" in run.stdout
    assert total_changed(run.stdout) == 0
    assert lab.nodes()["worker2"]["status"] == "Ready"


def test_reset_of_one_worker_then_again_changes_nothing(lab: Lab):
    ok(lab.playbook("playbooks/reset.yml", "--limit", "worker2", "-e", "confirm=yes"))
    assert lab.ssh("worker2", "docker info --format '{{.Swarm.LocalNodeState}}'").stdout.strip() == "inactive"
    assert "worker2" not in lab.nodes()
    again = lab.playbook("playbooks/reset.yml", "--limit", "worker2", "-e", "confirm=yes")
    ok(again)
    assert total_changed(again.stdout) == 0


def test_reset_of_the_whole_swarm_then_again_changes_nothing(lab: Lab):
    ok(lab.playbook("playbooks/reset.yml", "-e", "confirm=yes"))
    for host in ("manager1", "worker1", "worker2"):
        assert lab.ssh(host, "docker info --format '{{.Swarm.LocalNodeState}}'").stdout.strip() == "inactive"
    again = lab.playbook("playbooks/reset.yml", "-e", "confirm=yes")
    ok(again)
    assert total_changed(again.stdout) == 0
