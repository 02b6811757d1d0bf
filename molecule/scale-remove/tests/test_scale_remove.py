"""scale.yml then remove-node.yml on a lab that starts with 3 managers and 1 worker.

The tests run in order on the lab the scenario converged: a worker is added with `lab add` and
joined by scale.yml; then a worker and a manager are removed, the quorum guard refusing a
manager's removal while another manager is down.
"""

from __future__ import annotations

import time

from lifecycle_support import lab, playbook

# What scale.yml may change on a node that is already a member: only its firewall chain, which
# in the lab lists every member's address (inventories/lab/group_vars: swarm_firewall_cluster_cidrs).
FIREWALL_TASK = "swarm_firewall : Accept swarm ports from the cluster and drop them from anywhere else"


def nodes() -> dict[str, str]:
    """hostname -> "availability status manager-status" as manager1 sees them."""
    out = lab("ssh", "manager1", "docker", "node", "ls", "--format",
              "'{{.Hostname}} {{.Availability}} {{.Status}} {{.ManagerStatus}}'")
    return {line.split()[0]: " ".join(line.split()[1:]) for line in out.splitlines() if line.strip()}


def wait_until(what: str, check, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(1)


def test_scale_joins_the_new_worker_and_leaves_the_others_alone():
    print(lab("add", "worker"))
    run = playbook("playbooks/scale.yml")
    assert run.rc == 0, run.tail()
    assert "Joining: worker2" in run.output
    assert "swarm_cluster : Join as a worker" in run.changed_tasks.get("worker2", []), run.changed_tasks
    for host in ("manager1", "manager2", "manager3", "worker1"):
        assert set(run.changed_tasks.get(host, [])) <= {FIREWALL_TASK}, (host, run.changed_tasks.get(host))
        assert run.changed(host) <= 1, (host, run.recap[host])
    assert nodes()["worker2"].startswith("Active Ready"), nodes()


def test_scale_a_second_time_changes_nothing():
    run = playbook("playbooks/scale.yml")
    assert run.rc == 0, run.tail()
    assert "nothing to add" in run.output
    assert {h: r["changed"] for h, r in run.recap.items() if r["changed"]} == {}, run.changed_tasks


def test_remove_node_without_confirmation_changes_nothing():
    run = playbook("playbooks/remove-node.yml", "--limit", "worker2")
    assert run.rc != 0
    assert "Not confirmed" in run.output
    assert sum(r["changed"] for r in run.recap.values()) == 0
    assert "worker2" in nodes()


def test_remove_a_worker_then_again_changes_nothing():
    run = playbook("playbooks/remove-node.yml", "--limit", "worker2", "-e", "confirm=yes")
    assert run.rc == 0, run.tail()
    for task in ("swarm_remove : Drain the node and wait until its tasks run elsewhere",
                 "swarm_remove : Make the node leave the swarm",
                 "swarm_remove : Remove the node from the swarm's node list"):
        assert task in run.changed_tasks.get("worker2", []), run.changed_tasks
    assert "worker2" not in nodes(), nodes()
    again = playbook("playbooks/remove-node.yml", "--limit", "worker2", "-e", "confirm=yes")
    assert again.rc == 0, again.tail()
    assert {h: r["changed"] for h, r in again.recap.items() if r["changed"]} == {}, again.changed_tasks


def test_removing_a_manager_while_another_is_down_is_refused():
    lab("kill", "manager3")
    try:
        wait_until("manager3 seen unreachable", lambda: "Unreachable" in nodes().get("manager3", ""))
        run = playbook("playbooks/remove-node.yml", "--limit", "manager2", "-e", "confirm=yes")
        assert run.rc != 0
        text = " ".join(run.output.split())
        assert ("Refused: removing manager2 would leave 1 reachable of 2 managers, fewer than the majority "
                "of 2: the swarm would lose quorum") in text, run.tail()
        assert sum(r["changed"] for r in run.recap.values()) == 0, run.changed_tasks
        assert nodes()["manager2"].endswith("Reachable"), nodes()
    finally:
        lab("restart", "manager3")
    wait_until("manager3 reachable again", lambda: nodes().get("manager3", "").endswith("Reachable"))


def test_remove_a_manager_when_quorum_allows_then_again_changes_nothing():
    run = playbook("playbooks/remove-node.yml", "--limit", "manager3", "-e", "confirm=yes")
    assert run.rc == 0, run.tail()
    demote = "swarm_remove : Demote the node (refused if quorum would be lost)"
    assert demote in run.changed_tasks.get("manager3", []), run.changed_tasks
    left = nodes()
    assert "manager3" not in left and sorted(h for h, s in left.items() if "Leader" in s or "Reachable" in s) == [
        "manager1", "manager2"], left
    again = playbook("playbooks/remove-node.yml", "--limit", "manager3", "-e", "confirm=yes")
    assert again.rc == 0, again.tail()
    assert {h: r["changed"] for h, r in again.recap.items() if r["changed"]} == {}, again.changed_tasks
