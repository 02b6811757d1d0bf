"""A worker cut off the network while maintenance.yml drains it (issue 8, faults).

On a lab of its own (3 managers, 2 workers, lb1) converged by site.yml, maintenance.yml runs
on worker1; a thread watches the managers' view and partitions worker1 (`lab partition`: its
link goes down, so neither SSH nor the swarm reach it) as soon as the node is drained. The run
must fail clearly, naming worker1 and what happened, without hanging; and worker1 must not be
left drained silently: either the rescue put it back to active, or the output says plainly
that it is still drained and how to activate it. Once healed, maintenance.yml on worker1
completes, every node ends Ready and active, and site.yml then finds nothing to change.
"""

from __future__ import annotations

import threading
import time

from support.lab import Lab, recap, total_changed, wait_for
from support.reliability import MEMBERS

# Bounded waits for the run, so that the test takes minutes, not the defaults' 5 minutes each.
TIMEOUTS = ("-e", "swarm_maintenance_drain_timeout=90", "-e", "swarm_maintenance_ready_timeout=90",
            "-e", "swarm_maintenance_lb_timeout=60")


def _availability(lab: Lab, host: str) -> str:
    return lab.nodes("manager1")[host]["availability"]


def test_worker_partitioned_while_drained_fails_clearly_and_recovers(own_lab):
    lab = own_lab("partition", managers=3, workers=2, lb=1)
    site = lab.playbook("site.yml", check=False)
    assert site.returncode == 0, site.stdout[-3000:]
    cut: dict = {}
    stop = threading.Event()

    def partition_once_drained() -> None:
        # Poll the managers' view; cut the link the moment the drain is recorded.
        deadline = time.monotonic() + 600
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                if _availability(lab, "worker1") == "Drain":
                    cut["at"] = time.monotonic()
                    cut["proc"] = lab.cli("partition", "worker1", check=False)
                    return
            except AssertionError:
                pass
            time.sleep(0.2)

    watcher = threading.Thread(target=partition_once_drained)
    started = time.monotonic()
    watcher.start()
    try:
        run = lab.playbook("playbooks/maintenance.yml", "--limit", "worker1", *TIMEOUTS, check=False, timeout=1200)
        rc, out = run.returncode, run.stdout + run.stderr
    finally:
        stop.set()
        watcher.join(timeout=60)
    seconds = time.monotonic() - started
    try:
        assert "proc" in cut, f"worker1 was never seen drained:\n{out[-3000:]}"
        assert cut["proc"].returncode == 0, cut["proc"].stderr
        text = " ".join(out.split())
        fatal = [line for line in out.splitlines() if line.startswith(("fatal: [worker1", "failed: [worker1"))]
        print(f"\npartitioned {cut['at'] - started:.1f} s into the run; the run ended after {seconds:.0f} s "
              f"with rc={rc}; recap {recap(out).get('worker1')}")
        for line in fatal:
            print(f"  {line[:300]}")
        print("  " + "\n  ".join(line.strip()[:400] for line in out.splitlines() if "Maintenance of worker1" in line))
        assert "Traceback" not in out, out[-3000:]
        # A clear failure: worker1 failed (or went unreachable) and the run said so.
        assert rc != 0, out[-3000:]
        assert recap(out)["worker1"]["failed"] + recap(out)["worker1"]["unreachable"] > 0, out[-3000:]
        assert fatal, out[-3000:]
        # Not left drained silently: active again, or the output says it is drained and what to run.
        availability = _availability(lab, "worker1")
        print(f"  worker1 availability after the run: {availability}")
        if availability != "Active":
            assert "worker1 is still drained" in text or "worker1 could NOT be put back to active" in text, out[-3000:]
            assert "docker node update --availability active worker1" in text, out[-3000:]
        else:
            assert "Maintenance of worker1 failed at" in text and "worker1 was put back to active" in text, out[-3000:]
    finally:
        lab.cli("heal", "worker1", check=False)

    # Healed: the managers see worker1 Ready again, and a re-run of the maintenance completes.
    wait_for(lambda: lab.nodes("manager1")["worker1"]["status"] == "Ready", 180, interval=2,
             what="worker1 Ready after heal")
    again = lab.playbook("playbooks/maintenance.yml", "--limit", "worker1", check=False)
    assert again.returncode == 0, again.stdout[-3000:]
    nodes = lab.nodes("manager1")
    assert sorted(nodes) == MEMBERS
    assert all(n["status"] == "Ready" and n["availability"] == "Active" for n in nodes.values()), nodes
    converged = lab.playbook("site.yml", check=False)
    assert converged.returncode == 0, converged.stdout[-3000:]
    assert total_changed(converged.stdout) == 0, converged.stdout[-3000:]
