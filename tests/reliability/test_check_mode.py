"""`site.yml --check --diff` on lab hosts with engines running and no swarm changes nothing
on any host: the engines' swarm state, containers, networks and volumes, daemon.json, the
engine's pid (no restart), the whole iptables ruleset and HAProxy's configuration, on every
member, on lb1 and on outsider1.

tests/integration/test_site.py covers the other half (check mode on a converged cluster
reports changed=0) and compares a subset of this state on its own lab; this test compares the
full snapshot of support.snapshot on every host, including the outsider.
"""

from __future__ import annotations

from support.lab import recap, total_changed
from support.reliability import Converged
from support.snapshot import diff_keys


def test_check_on_a_fresh_lab_predicts_work_and_changes_nothing(converged: Converged):
    run = converged.check_run
    assert run.returncode == 0, run.stdout[-3000:]
    hosts = recap(run.stdout)
    assert all(h["failed"] == 0 and h["unreachable"] == 0 for h in hosts.values())
    assert total_changed(run.stdout) > 0  # it predicts the bootstrap...
    before, after = converged.fresh_before, converged.fresh_after
    assert sorted(before["hosts"]) == sorted(converged.lab.hosts)  # every host, outsider1 included
    assert all(h["swarm"].startswith("inactive") for h in before["hosts"].values())
    assert before == after, diff_keys(before, after)  # ...and does none of it
