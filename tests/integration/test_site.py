"""site.yml takes lab hosts with a running engine and no swarm to a converged swarm."""

from __future__ import annotations

from labtools import recap, total_changed


def test_site_forms_the_swarm_then_changes_nothing(make_lab):
    lab = make_lab(managers=3, workers=2)
    check = lab.playbook("site.yml", "--check")
    assert all(h["failed"] == 0 for h in recap(check.stdout).values())
    assert all(r["swarm"] == "inactive" for r in lab.status()), "--check must not form a swarm"

    first = lab.playbook("site.yml")
    assert total_changed(first.stdout) == 5  # one init and four joins
    nodes = lab.nodes()
    assert sorted(nodes) == ["manager1", "manager2", "manager3", "worker1", "worker2"]
    assert all(n["status"] == "Ready" for n in nodes.values())
    assert nodes["manager1"]["manager"] == "Leader"
    assert {nodes[m]["manager"] for m in ("manager2", "manager3")} == {"Reachable"}

    second = lab.playbook("site.yml")
    assert total_changed(second.stdout) == 0, second.stdout[-2000:]
    assert total_changed(lab.playbook("site.yml", "--check").stdout) == 0
    # No join token reaches the output, even at -vvv.
    verbose = lab.playbook("site.yml", "-vvv")
    assert "SWMTKN-" not in verbose.stdout + verbose.stderr
