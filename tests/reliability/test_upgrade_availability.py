"""Availability while upgrade-engine.yml really upgrades every engine (issues 8 and 17).

On a lab of its own (3 managers, 2 workers, lb1) on Debian 12's engine (20.10), converged by
site.yml, upgrade-engine.yml takes the cluster node by node to the newest engine Debian ships
(unstable), managers first and the leader last: one hop in `make test`, the widest one.
SWARMOPS_UPGRADE_HOPS=26.1,28.5 runs the whole path through 26.1 (Debian 13), as recorded in
bench/results.md. The lab's task
file (upgrade_engine_tasks, inventories/lab/group_vars/all.yml) swaps each host's engine
binaries where real hosts run apt: the drains, restarts, rejoins and HAProxy moves are the
playbook's own. During each run a bounded request loop (molecule/maintenance/probe_loop.py:
one new connection per request, so each is balanced afresh) asks the sample service through
HAProxy on lb1; every failed request is a finding, and the counts are printed. At the end
every node runs the new version, the swarm is healthy and site.yml changes nothing.

A machine that cannot fetch the newer engines skips, saying why.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from support.lab import REPO, recap, total_changed, wait_for

PROBE_LOOP = REPO / "molecule" / "maintenance" / "probe_loop.py"
SWARM = ["manager1", "manager2", "manager3", "worker1", "worker2"]
HOPS = os.environ.get("SWARMOPS_UPGRADE_HOPS", "28.5").split(",")


def _engines() -> dict[str, str]:
    """series -> the exact docker.io version the lab has for it (fetched if needed)."""
    proc = subprocess.run([sys.executable, "-m", "lab", "engines", *HOPS], cwd=REPO, capture_output=True, text=True,
                          timeout=900)
    if proc.returncode != 0:
        pytest.skip(f"the newer engines cannot be fetched here: {(proc.stdout + proc.stderr).strip()}")
    found = {}
    for line in proc.stdout.splitlines():  # "engine 26.1 (trixie: docker.io 26.1.5+..., containerd ...) in ..."
        series, version = line.split()[1], line.split("docker.io ", 1)[1].split(",", 1)[0]
        found[series] = version
    return found


def _upgrade(lab, version: str, tmp_path, hop: str) -> tuple[subprocess.CompletedProcess, dict]:
    """upgrade-engine.yml to `version` with the request loop running through HAProxy on lb1."""
    stop, out = tmp_path / f"stop-{hop}", tmp_path / f"probe-{hop}.json"
    loop = subprocess.Popen([sys.executable, str(PROBE_LOOP), "--host", lab.hosts["lb1"], "--stop-file", str(stop),
                             "--out", str(out), "--max-seconds", "1500"])
    try:
        run = lab.playbook("playbooks/upgrade-engine.yml", "-e", f"upgrade_engine_version={version}", check=False,
                           timeout=1500)
    finally:
        stop.touch()
        loop.wait(timeout=60)
    summary = json.loads(out.read_text())
    print(f"\nupgrade-engine.yml to {version}: rc={run.returncode}; probe loop: {summary['requests']} requests, "
          f"{summary['failed']} failed, longest gap {summary['longest_gap_s']} s over {summary['seconds']} s, "
          f"served by {summary['served_by']}")
    for failure in summary["failures"]:
        print(f"  failed at {failure['at']} s: {failure['error']}")
    return run, summary


def test_upgrade_engine_from_20_10_drops_no_request_through_haproxy(own_lab, tmp_path):
    versions = _engines()
    lab = own_lab("upgrade", managers=3, workers=2, lb=1)
    site = lab.playbook("site.yml", check=False)
    assert site.returncode == 0, site.stdout[-3000:]
    lb = lab.hosts["lb1"]
    # Both probe servers answer through HAProxy before the run starts.
    wait_for(lambda: subprocess.run(["curl", "-sf", "--max-time", "5", f"http://{lb}:8080/"],
                                    capture_output=True, text=True).returncode == 0, 120, what="the probe via lb1")
    assert {h: lab.docker(h, "version", "-f", "{{.Server.Version}}").stdout[:5] for h in SWARM} == \
        dict.fromkeys(SWARM, "20.10")

    for hop in HOPS:
        leader = next(h for h, n in lab.nodes("manager1").items() if n["manager"] == "Leader")
        run, summary = _upgrade(lab, versions[hop], tmp_path, hop)
        assert run.returncode == 0, run.stdout[-3000:]
        hosts = recap(run.stdout)
        assert all(hosts[h]["failed"] == 0 for h in hosts), hosts
        # Every member went through drain, engine swap, restart and activation, in the order
        # promised: managers first, the leader last of them, then the workers.
        turns = re.findall(r"^\s*(\w+): engine \S+ -> (\S+);$", run.stdout, flags=re.M)
        order = [host for host, _ in turns]
        assert sorted(order) == SWARM and order[2] == leader and set(order[3:]) == {"worker1", "worker2"}, \
            (order, leader)
        assert all(after.startswith(hop + ".") for _, after in turns), turns
        assert run.stdout.count(f"swapped by upgrade-engine-lab.yml to {versions[hop]} (changed)") == 5
        # Each node runs the new engine: its own `docker version`, and what the managers record.
        for host in SWARM:
            assert lab.docker(host, "version", "-f", "{{.Server.Version}}").stdout.startswith(hop + "."), host
        status = {r["host"]: r for r in lab.status()}
        assert all(status[h]["engine_version"].startswith(hop + ".") for h in SWARM), status
        # Bounded and really exercised: the loop ran the whole playbook, often enough to see a gap.
        assert summary["stopped_by"] == "stop file", summary
        assert summary["requests"] >= max(100, int(summary["seconds"] * 2)), summary
        assert set(summary["served_by"]) == {"worker1", "worker2"}, summary["served_by"]
        assert summary["failed"] == 0, summary["failures"]
        nodes = lab.nodes("manager1")
        assert all(n["status"] == "Ready" and n["availability"] == "Active" for n in nodes.values()), nodes
        assert sum(n["manager"] == "Leader" for n in nodes.values()) == 1, nodes

    again = lab.playbook("site.yml", check=False)
    assert again.returncode == 0 and total_changed(again.stdout) == 0, again.stdout[-3000:]
