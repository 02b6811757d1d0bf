"""swarm_node's plan: label merge/replace, role changes with the quorum guard, drain progress."""

import pytest
from ansible.module_utils.swarmops.node_plan import drain_progress, merge_labels, plan_node, removal_refusal
from ansible.module_utils.swarmops.quorum import Manager


def node(node_id="n2", role="manager", availability="active", labels=None, state="ready", manager=True):
    n = {"ID": node_id, "Version": {"Index": 7},
         "Spec": {"Role": role, "Availability": availability, "Labels": labels or {}, "Name": "keep-me"},
         "Description": {"Hostname": f"host-{node_id}"}, "Status": {"State": state}}
    if manager:
        n["ManagerStatus"] = {"Reachability": "reachable"}
    return n


def managers(*reachable):
    return [Manager(f"n{i}", f"host-n{i}", r) for i, r in enumerate(reachable, 1)]


def test_merge_labels():
    assert merge_labels({"a": "1", "b": "2"}, {"b": 3, "c": None}, "merge") == {"a": "1", "b": "3", "c": ""}
    assert merge_labels({"a": "1", "b": "2"}, {"c": "x"}, "merge", remove=["a"]) == {"b": "2", "c": "x"}
    assert merge_labels({"a": "1"}, {"c": "x"}, "replace") == {"c": "x"}
    assert merge_labels({"a": "1"}, {}, "replace") == {}
    with pytest.raises(ValueError, match="labels_state"):
        merge_labels({}, {}, "append")


def test_plan_keeps_the_whole_spec_and_changes_only_what_is_given():
    n = node(role="worker", labels={"zone": "a"}, manager=False)
    plan = plan_node(n, managers(True, True, True), availability="drain", labels={"ssd": "true"})
    assert plan.spec == {"Role": "worker", "Availability": "drain", "Labels": {"zone": "a", "ssd": "true"},
                         "Name": "keep-me"}
    assert [c["field"] for c in plan.changes] == ["availability", "labels"]
    assert plan.diff(n["Spec"])["before"] == {"availability": "active", "role": "worker", "labels": {"zone": "a"}}
    assert n["Spec"]["Labels"] == {"zone": "a"}  # not modified in place


def test_same_values_plan_nothing():
    n = node(role="worker", availability="drain", labels={"zone": "a"}, manager=False)
    plan = plan_node(n, [], availability="drain", role="worker", labels={"zone": "a"})
    assert not plan.changed and plan.changes == []
    assert not plan_node(n, [], labels={"zone": "a"}, labels_state="replace").changed


def test_demotion_guarded_by_quorum():
    ms = managers(True, True, False)
    plan = plan_node(node("n2"), ms, role="worker")
    assert plan.refused and "quorum" in plan.refused and "force=true overrides" in plan.refused
    assert plan_node(node("n2"), ms, role="worker", force=True).refused == ""
    assert plan_node(node("n3"), ms, role="worker").refused == ""  # demoting the dead one is fine
    assert plan_node(node("n2"), managers(True, True, True), role="worker").refused == ""


def test_last_manager_cannot_be_demoted_even_with_force():
    plan = plan_node(node("n1"), managers(True), role="worker", force=True)
    assert "last manager" in plan.refused and "force" not in plan.refused


def test_promotion_has_no_guard():
    plan = plan_node(node("n4", role="worker", manager=False), managers(True, False, False), role="manager")
    assert plan.refused == "" and plan.spec["Role"] == "manager"


def test_removal_refusals():
    assert "manager" in removal_refusal(node("n2", state="down"), force=True)
    assert "not down" in removal_refusal(node("w1", role="worker", manager=False), force=False)
    assert removal_refusal(node("w1", role="worker", manager=False), force=True) == ""
    assert removal_refusal(node("w1", role="worker", state="down", manager=False), force=False) == ""


def test_removal_of_a_manager_entry_left_outside_raft():
    # After a forced new cluster the lost managers stay as down entries with role manager and
    # no raft membership: they can no longer be demoted, only removed by force.
    stale = node("m2", state="down", manager=False)
    assert removal_refusal(stale, force=True) == ""
    assert "manager" in removal_refusal(stale, force=False)
    assert "manager" in removal_refusal(node("m2", state="ready", manager=False), force=True)


def task(service, node_id, state, desired="running"):
    return {"ServiceID": service, "NodeID": node_id, "Status": {"State": state}, "DesiredState": desired}


def test_drain_progress():
    replicated = {"web": 3}
    affected: set = set()
    on_node = [task("web", "w1", "running", "shutdown"), task("global", "w1", "running")]
    running = [task("web", "w2", "running"), task("web", "w2", "starting")]
    done, summary, data = drain_progress("w1", replicated, on_node, running, affected)
    assert not done and affected == {"web"}
    assert summary == "1 tasks still on the node, 1/3 replicas running elsewhere"
    # the task left the node but replacements are not all running yet: not done
    done, _, data = drain_progress("w1", replicated, [task("web", "w1", "shutdown", "shutdown")],
                                   [task("web", "w2", "running"), task("web", "w2", "running")], affected)
    assert not done and data["services_short"] == ["web"]
    _, _, named = drain_progress("w1", replicated, [], [task("web", "w2", "running")], affected, {"web": "shop_web"})
    assert named["services_short"] == ["shop_web"]
    done, summary, data = drain_progress("w1", replicated, [task("web", "w1", "shutdown", "shutdown")],
                                         [task("web", "w2", "running")] * 3, affected)
    assert done and data["replicas_elsewhere"] == 3 and data["tasks_on_node"] == 0


def test_drain_ignores_global_services_and_finished_tasks():
    done, _, _ = drain_progress("w1", {"web": 2}, [task("global", "w1", "running"),
                                                   task("web", "w1", "complete", "shutdown")], [], set())
    assert done
