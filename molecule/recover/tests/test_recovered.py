"""After losing two of three managers and recover.yml: manager1 leads, the lost managers are
reachable managers again (new node IDs, the stale entries gone), and the services are still
defined and running."""

from __future__ import annotations

import labtest


def test_the_lost_managers_are_back(lab):
    nodes = lab.nodes()
    assert sorted(nodes) == ["manager1", "manager2", "manager3", "worker1", "worker2"], "no stale entries"
    assert all(n["status"] == "Ready" for n in nodes.values())
    assert nodes["manager1"]["manager"] == "Leader"
    assert nodes["manager2"]["manager"] == nodes["manager3"]["manager"] == "Reachable"


def test_the_services_are_still_defined_and_running(lab):
    def running():
        out = lab.docker("manager1", "service", "ls", "--format", "{{.Name}} {{.Replicas}}").stdout
        replicas = dict(line.split() for line in out.splitlines() if line.strip())
        # The lab inventory's sample service and sample stack, both as site.yml left them.
        return replicas == {"probe": "2/2", "demo_web": "2/2"}

    labtest.wait_for(running, 120, what="probe 2/2 and demo_web 2/2")
    tasks = lab.docker("manager1", "service", "ps", "probe", "--filter", "desired-state=running",
                       "--format", "{{.Node}} {{.CurrentState}}").stdout.splitlines()
    assert sorted(t.split()[0] for t in tasks) == ["worker1", "worker2"]
    assert all(" Running " in f" {t} " for t in tasks)


def test_a_second_recover_is_refused_while_quorum_holds(lab):
    again = lab.playbook("playbooks/recover.yml", "-e", "confirm=yes", check=False)
    assert again.returncode != 0
    assert "still has quorum" in again.stdout
    assert labtest.total_changed(again.stdout) == 0
