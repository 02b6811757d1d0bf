"""No join token, unlock key or CA key in the output of the lifecycle playbooks at -vvv, in
Ansible's own log, or in the lab hosts' /var/log (issue 8, secrets).

One lab of its own (3 managers, 2 workers), one sequence, as an operator would run it: site.yml,
rotate-tokens.yml, rotate-ca.yml (with a CA key of the test's own), `lab add worker` then
scale.yml, maintenance.yml on worker1, remove-node.yml of the new worker, quorum lost (two
managers' engines killed) then recover.yml forcing a new cluster on manager1, site.yml turning
autolock on, backup.yml of an autolocked manager, and site.yml once more (changed=0). Every run
is at -vvv with ANSIBLE_LOG_PATH set; each output, the log and every host's /var/log are scanned
(support.secret_scan.scan) for the token and key patterns and for every token, unlock key and CA key the
lab had on the way (read by the test itself), as exact values: zero hits. Each step is checked
to have really done its work, so that the scan cannot pass on runs that handled nothing: the
recovery as molecule/recover verifies it (no stale entries, the leader, the services running, a
second recover refused while quorum holds), so `make test` need not run that scenario too.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from support.lab import Lab, recap, total_changed, wait_for
from support.secret_scan import scan, scan_lab_logs


def _ok(run: subprocess.CompletedProcess, what: str) -> dict:
    hosts = recap(run.stdout)
    assert run.returncode == 0 and hosts, f"{what} failed:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    assert all(h["failed"] == 0 and h["unreachable"] == 0 for h in hosts.values()), run.stdout[-4000:]
    return hosts


def _tokens(lab: Lab, via: str = "manager1") -> list[str]:
    return [lab.docker(via, "swarm", "join-token", "-q", role).stdout.strip() for role in ("worker", "manager")]


def _replicas(lab: Lab) -> dict[str, str]:
    out = lab.docker("manager1", "service", "ls", "--format", "{{.Name}} {{.Replicas}}").stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def _leaderless(lab: Lab, manager: str) -> bool:
    """The manager has no leader: its node list fails, or blocks (raft waits for a leader)."""
    try:
        return lab.docker(manager, "node", "ls", check=False, timeout=20).returncode != 0
    except subprocess.TimeoutExpired:
        return True


def _make_ca(tmp_path: Path) -> tuple[str, str]:
    key, cert = tmp_path / "ca.key", tmp_path / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-subj", "/CN=swarmops-lifecycle-secrets",
                    "-days", "3650"], check=True, capture_output=True)
    return cert.read_text(), key.read_text()


def test_lifecycle_playbooks_at_vvv_show_no_secret(own_lab, tmp_path, monkeypatch):
    lab = own_lab("lifecycle-secrets", managers=3, workers=2)
    log = tmp_path / "ansible.log"
    monkeypatch.setenv("ANSIBLE_LOG_PATH", str(log))
    outputs: list[tuple[str, str]] = []
    values: set[str] = set()
    times: dict[str, float] = {}

    def run(name: str, playbook: str, *args: str) -> subprocess.CompletedProcess:
        start = time.monotonic()
        proc = lab.playbook(playbook, "-vvv", *args, check=False, timeout=1500)
        times[name] = time.monotonic() - start
        outputs.append((f"{name} -vvv", proc.stdout + proc.stderr))
        # Kept beside the test's other files, for reading a failure in full.
        (tmp_path / f"{len(outputs):02d}-{name.replace(' ', '-')}.out").write_text(proc.stdout + proc.stderr)
        assert "ESTABLISH SSH CONNECTION" in proc.stdout  # really at -vvv
        _ok(proc, name)
        return proc

    run("site.yml", "site.yml")
    values.update(_tokens(lab))

    # Tokens: rotated, so the old ones and the new ones are both looked for.
    run("rotate-tokens.yml", "playbooks/rotate-tokens.yml")
    rotated = _tokens(lab)
    assert not set(rotated) & values, "the tokens were not rotated"
    values.update(rotated)

    # CA: the test's own root and key, handed in as variables (as from a vault).
    cert, key = _make_ca(tmp_path)
    material = tmp_path / "ca.json"
    material.write_text(json.dumps({"rotate_ca_cert": cert, "rotate_ca_key": key}))
    values.update([key.strip(), *key.strip().splitlines()[1:-1]])
    run("rotate-ca.yml", "playbooks/rotate-ca.yml", "-e", f"@{material}")
    root = json.loads(lab.docker("manager1", "info", "--format", "{{json .Swarm.Cluster.TLSInfo.TrustRoot}}").stdout)
    assert root.strip() == cert.strip(), "the CA was not rotated"

    # Membership: a new worker joins (with the worker token), worker1 is maintained, the new one leaves.
    lab.cli("add", "worker")
    lab.refresh()
    assert "worker3" in lab.hosts
    run("scale.yml", "playbooks/scale.yml")
    assert lab.nodes()["worker3"]["status"] == "Ready"
    maintenance = run("maintenance.yml", "playbooks/maintenance.yml", "--limit", "worker1")
    assert "worker1" in recap(maintenance.stdout) and recap(maintenance.stdout)["worker1"]["changed"] > 0
    run("remove-node.yml", "playbooks/remove-node.yml", "--limit", "worker3", "-e", "confirm=yes")
    assert "worker3" not in lab.nodes()

    # Quorum lost: two of the three managers' engines killed; the survivor forces a new cluster,
    # the others leave their stale state and join again (with the manager token), as does worker3.
    lab.cli("kill", "manager2", "manager3")
    wait_for(lambda: _leaderless(lab, "manager1"), 180, interval=2, what="manager1 to lose its leader")
    run("recover.yml", "playbooks/recover.yml", "-e", "confirm=yes", "-e", "swarm_recover_manager=manager1")
    nodes = wait_for(lambda: (n := lab.nodes()) and all(v["status"] == "Ready" for k, v in n.items()) and n,
                     120, interval=2, what="every node Ready after the recovery")
    # worker3 is still in the lab's inventory, so the recovery joins it again, as it does every
    # inventory host; each host has one entry, none stale.
    assert sorted(nodes) == ["manager1", "manager2", "manager3", "worker1", "worker2", "worker3"], "stale entries"
    assert nodes["manager1"]["manager"] == "Leader"
    assert nodes["manager2"]["manager"] == nodes["manager3"]["manager"] == "Reachable"
    # The lab inventory's global probe (one task per worker, worker3 included) and its stack.
    wait_for(lambda: _replicas(lab) == {"probe": "3/3", "demo_web": "2/2"}, 120, interval=2,
             what="the services still defined and running after the recovery")
    values.update(_tokens(lab))
    again = lab.playbook("playbooks/recover.yml", "-e", "confirm=yes", check=False)
    outputs.append(("recover.yml again", again.stdout + again.stderr))
    assert again.returncode != 0 and "still has quorum" in again.stdout, again.stdout[-3000:]
    assert total_changed(again.stdout) == 0

    # Autolock on, then a backup of an autolocked manager (the unlock key goes to a file beside it).
    run("site.yml autolock", "site.yml", "-e", "swarm_cluster_autolock=true")
    unlock = lab.docker("manager1", "swarm", "unlock-key", "-q").stdout.strip()
    assert unlock.startswith("SWMKEY-1-")
    values.add(unlock)
    backups = tmp_path / "backups"
    run("backup.yml", "playbooks/backup.yml", "-e", f"swarm_backup_dir={backups}")
    stored = list(backups.glob("*.unlock-key"))
    assert len(stored) == 1 and stored[0].read_text().strip() == unlock
    values.update(_tokens(lab))
    # After the whole sequence, the converging playbook has nothing left to do.
    final = run("site.yml again", "site.yml", "-e", "swarm_cluster_autolock=true")
    assert total_changed(final.stdout) == 0, final.stdout[-3000:]

    hits: list[str] = []
    for source, text in outputs:
        hits += scan(text, sorted(values), source)
    assert log.stat().st_size > 0, "ANSIBLE_LOG_PATH was not written"
    hits += scan(log.read_text(), sorted(values), "ANSIBLE_LOG_PATH")
    hits += scan_lab_logs(lab, sorted(lab.hosts), sorted(values))
    print("\n" + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in times.items())
          + f"; {len(values)} values looked for, {sum(len(t) for _, t in outputs) // 1024} KiB of output scanned")
    if hits:
        pytest.fail(f"{len(hits)} secrets found:\n" + "\n".join(hits[:40]))
