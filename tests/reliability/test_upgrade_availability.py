"""Availability while upgrade-engine.yml restarts every engine in turn (issue 8).

On a lab of its own (3 managers, 2 workers, lb1) converged by site.yml, a bounded request loop
(molecule/maintenance/probe_loop.py: one new connection per request, so each is balanced
afresh) asks the sample service through HAProxy on lb1 for the whole run of upgrade-engine.yml,
which drains, restarts and activates every node, managers first, then the two workers that
serve the probe. Every failed request is a finding; the counts are printed.
"""

from __future__ import annotations

import json
import subprocess
import sys

from labtools import REPO, recap, total_changed, wait_for

PROBE_LOOP = REPO / "molecule" / "maintenance" / "probe_loop.py"


def test_upgrade_engine_drops_no_request_through_haproxy(own_lab, tmp_path):
    lab = own_lab("upgrade", managers=3, workers=2, lb=1)
    site = lab.playbook("site.yml", check=False)
    assert site.returncode == 0, site.stdout[-3000:]
    lb = lab.hosts["lb1"]
    # Both probe servers answer through HAProxy before the run starts.
    wait_for(lambda: subprocess.run(["curl", "-sf", "--max-time", "5", f"http://{lb}:8080/"],
                                    capture_output=True, text=True).returncode == 0, 120, what="the probe via lb1")

    stop, out = tmp_path / "stop", tmp_path / "probe.json"
    loop = subprocess.Popen([sys.executable, str(PROBE_LOOP), "--host", lb, "--stop-file", str(stop),
                             "--out", str(out), "--max-seconds", "1500"])
    try:
        run = lab.playbook("playbooks/upgrade-engine.yml", check=False, timeout=1500)
    finally:
        stop.touch()
        loop.wait(timeout=60)
    summary = json.loads(out.read_text())
    print(f"\nupgrade-engine.yml rc={run.returncode}; probe loop: {summary['requests']} requests, "
          f"{summary['failed']} failed, longest gap {summary['longest_gap_s']} s over {summary['seconds']} s, "
          f"served by {summary['served_by']}")
    for failure in summary["failures"]:
        print(f"  failed at {failure['at']} s: {failure['error']}")
    assert run.returncode == 0, run.stdout[-3000:]
    hosts = recap(run.stdout)
    # Every member went through drain, restart and activation (the line closes each node's turn).
    assert run.stdout.count("no package step: docker_engine_install is false") == 5, run.stdout[-3000:]
    assert all(hosts[h]["failed"] == 0 for h in hosts), hosts
    # Bounded and really exercised: the loop ran the whole playbook, and often enough to see a gap.
    assert summary["stopped_by"] == "stop file", summary
    assert summary["requests"] >= max(100, int(summary["seconds"] * 2)), summary
    assert set(summary["served_by"]) == {"worker1", "worker2"}, summary["served_by"]
    assert summary["failed"] == 0, summary["failures"]
    nodes = lab.nodes("manager1")
    assert all(n["status"] == "Ready" and n["availability"] == "Active" for n in nodes.values()), nodes
    again = lab.playbook("site.yml", check=False)
    assert again.returncode == 0 and total_changed(again.stdout) == 0, again.stdout[-3000:]
