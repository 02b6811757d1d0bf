"""maintenance.yml on every node in turn while requests flow through HAProxy on lb1.

A bounded request loop (probe_loop.py, one new connection per request) runs on the controller
for the whole maintenance; every failed request is a finding. Afterwards site.yml must find
nothing to change. The tests run in order and share the lab the scenario converged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lifecycle_support import lab, playbook

HERE = Path(__file__).resolve().parent.parent


def lb_address() -> str:
    status = json.loads(lab("status", "--json"))
    return next(row["address"] for row in status if row["host"] == "lb1")


def test_maintenance_of_every_node_drops_no_request(tmp_path):
    stop, out = tmp_path / "stop", tmp_path / "probe.json"
    loop = subprocess.Popen([sys.executable, str(HERE / "probe_loop.py"), "--host", lb_address(),
                             "--stop-file", str(stop), "--out", str(out), "--max-seconds", "900"])
    try:
        run = playbook("playbooks/maintenance.yml")
    finally:
        stop.touch()
        loop.wait(timeout=60)
    summary = json.loads(out.read_text())
    print(f"\nprobe loop: {summary['requests']} requests, {summary['failed']} failed, longest gap "
          f"{summary['longest_gap_s']} s over {summary['seconds']} s, served by {summary['served_by']}")
    for failure in summary["failures"]:
        print(f"  failed at {failure['at']} s: {failure['error']}")
    assert run.rc == 0, run.tail()
    for node in ("manager1", "manager2", "manager3", "worker1", "worker2"):
        done = run.changed_tasks.get(node, [])
        assert "swarm_maintenance : Drain the node and wait until its tasks run elsewhere" in done, (node, done)
        assert "swarm_maintenance : Activate the node" in done, (node, done)
    assert summary["requests"] > 100 and summary["stopped_by"] == "stop file", summary
    assert summary["failed"] == 0, summary["failures"]
    assert set(summary["served_by"]) == {"worker1", "worker2"}, summary["served_by"]


def test_site_finds_nothing_to_change_after_the_maintenance():
    run = playbook("site.yml")
    assert run.rc == 0, run.tail()
    assert {h: r["changed"] for h, r in run.recap.items() if r["changed"]} == {}, run.changed_tasks


def test_a_failing_work_file_puts_the_node_back_and_says_so(tmp_path):
    work = tmp_path / "broken-work.yml"
    work.write_text("---\n- name: Work | a step that fails\n  ansible.builtin.command: /bin/false\n"
                    "  changed_when: false\n")
    run = playbook("playbooks/maintenance.yml", "--limit", "worker1", "-e", f"swarm_maintenance_tasks={work}")
    assert run.rc != 0
    assert ('Maintenance of worker1 failed at "Work | a step that fails": non-zero return code. '
            "worker1 was put back to active and is back in the load balancers.") in " ".join(run.output.split())
    nodes = lab("ssh", "manager1", "docker", "node", "ls", "--format", "'{{.Hostname}} {{.Availability}}'")
    assert "worker1 Active" in nodes, nodes


def test_a_drain_that_would_empty_a_service_is_refused_before_anything_changes():
    run = playbook("playbooks/maintenance.yml", "--limit", "worker1,worker2", "-e", "swarm_maintenance_min_available=2")
    assert run.rc != 0
    text = " ".join(run.output.split())
    assert "would leave services with fewer than 2 running task(s) on other nodes: probe (1 running elsewhere)" in text
    assert sum(r["changed"] for r in run.recap.values()) == 0, run.changed_tasks


