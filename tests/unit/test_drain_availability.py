"""swarm_node's drain guard (min_available): which drains would drop a service's availability."""

import importlib
from pathlib import Path

import ansible.module_utils

ansible.module_utils.__path__.append(str(Path(__file__).resolve().parents[2] / "module_utils"))

drain_refusal = importlib.import_module("ansible.module_utils.swarmops.availability").drain_refusal


def node(node_id, state="ready", availability="active"):
    return {"ID": node_id, "Description": {"Hostname": f"host-{node_id}"},
            "Status": {"State": state}, "Spec": {"Availability": availability}}


def service(sid, mode="Replicated"):
    return {"ID": sid, "Spec": {"Name": f"svc-{sid}", "Mode": {mode: {}}}}


def task(sid, node_id, state="running", desired="running"):
    return {"ServiceID": sid, "NodeID": node_id, "DesiredState": desired, "Status": {"State": state}}


NODES = [node("n1"), node("n2"), node("n3")]


def test_a_service_with_enough_tasks_elsewhere_may_be_drained():
    tasks = [task("web", "n1"), task("web", "n2"), task("web", "n3")]
    assert drain_refusal("n1", NODES, [service("web")], tasks, 1) == ""
    assert drain_refusal("n1", NODES, [service("web")], tasks, 2) == ""


def test_a_service_short_elsewhere_is_named_with_its_count():
    tasks = [task("web", "n1"), task("web", "n2"), task("db", "n1")]
    why = drain_refusal("n1", NODES, [service("web"), service("db", "Global")], tasks, 1)
    assert why == ("draining host-n1 would leave services with fewer than 1 running task(s) on other "
                   "nodes: db (0 running elsewhere)").replace("db", "svc-db")
    assert "svc-web (1 running elsewhere)" in drain_refusal("n1", NODES, [service("web")], tasks, 2)


def test_tasks_not_running_do_not_count_either_side():
    # web's task on n2 is still starting: it does not serve yet.
    tasks = [task("web", "n1"), task("web", "n2", state="starting"), task("web", "n3", desired="shutdown")]
    assert "svc-web (0 running elsewhere)" in drain_refusal("n1", NODES, [service("web")], tasks, 1)
    # A service whose task on the node is not running loses nothing by the drain.
    assert drain_refusal("n1", NODES, [service("web")], [task("web", "n1", state="failed")], 1) == ""


def test_jobs_and_min_zero_are_not_guarded():
    tasks = [task("once", "n1")]
    assert drain_refusal("n1", NODES, [service("once", "ReplicatedJob")], tasks, 1) == ""
    assert drain_refusal("n1", NODES, [service("web")], [task("web", "n1")], 0) == ""


def test_the_last_ready_and_active_node_is_refused_whatever_the_services():
    nodes = [node("n1"), node("n2", state="down"), node("n3", availability="drain")]
    assert drain_refusal("n1", nodes, [], [], 0) == (
        "host-n1 is the last ready and active node: draining it would leave no node to run tasks")
    assert drain_refusal("n1", [*nodes, node("n4", availability="pause")], [], [], 0) != ""
    assert drain_refusal("n1", [*nodes, node("n4")], [], [], 0) == ""
