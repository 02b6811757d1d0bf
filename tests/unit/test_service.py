"""Service plan, placement and convergence assessment, without an engine."""

from __future__ import annotations

import copy

from ansible.module_utils.swarmops import service as V

TEMPLATE = {"ContainerSpec": {"Image": "swarmops/probe:2", "Isolation": "default"}, "ForceUpdate": 0,
            "Runtime": "container"}
OLD = {"ContainerSpec": {"Image": "swarmops/probe:1", "Isolation": "default"}, "ForceUpdate": 0}
NAMES = {"n1": "worker1", "n2": "worker2", "n3": "manager1"}


def svc(replicas=3, update=None, mode=None, labels=None, previous=None, ports=None):
    spec = {"Name": "web", "Labels": labels or {}, "TaskTemplate": copy.deepcopy(TEMPLATE),
            "Mode": mode or {"Replicated": {"Replicas": replicas}}}
    if ports:
        spec["EndpointSpec"] = {"Mode": "vip", "Ports": ports}
    s = {"ID": "sid", "Version": {"Index": 10}, "Spec": spec}
    if update:
        s["UpdateStatus"] = update
    if previous:
        s["PreviousSpec"] = previous
    return s


def task(state, slot=1, node="n1", desired="running", spec=None, err="", created="2026-01-01T00:00:10Z"):
    return {"ID": f"t{slot}{state}{node}", "Slot": slot, "NodeID": node, "DesiredState": desired,
            "Spec": {k: v for k, v in (spec or TEMPLATE).items() if k != "Runtime"}, "CreatedAt": created,
            "Status": {"State": state, "Err": err, "Message": state, "Timestamp": created}}


def test_converged_when_all_replicas_run_the_new_spec():
    tasks = [task("running", i) for i in (1, 2, 3)] + [task("shutdown", 1, desired="shutdown", spec=OLD)]
    p = V.assess(svc(), tasks, NAMES)
    assert p.done and not p.failed and p.summary == "3/3 running"


def test_old_spec_tasks_are_not_converged():
    tasks = [task("running", 1), task("running", 2), task("running", 3, spec=OLD)]
    assert not V.assess(svc(), tasks, NAMES).done


def test_tasks_kept_after_a_placement_only_change_count_as_current():
    # Swarm keeps a task whose node still fits new constraints, with its old spec.
    service = svc(replicas=2)
    service["Spec"]["TaskTemplate"]["Placement"] = {}
    before = {**TEMPLATE, "Placement": {"Constraints": ["node.role == worker"]}}
    tasks = [task("running", i, spec=before) for i in (1, 2)]
    assert V.assess(service, tasks, NAMES).done


def test_updating_waits():
    p = V.assess(svc(update={"State": "updating"}), [task("running", 1)], NAMES)
    assert not p.done and not p.failed and p.summary.startswith("updating")


def test_paused_rollout_fails_naming_the_tasks():
    tasks = [task("failed", 2, err="task: non-zero exit (1)", created="2026-01-01T00:00:20Z"),
             task("running", 1)]
    p = V.assess(svc(update={"State": "paused", "Message": "update paused due to failure",
                             "StartedAt": "2026-01-01T00:00:15Z"}), tasks, NAMES)
    assert p.failed and "paused" in p.failed and "non-zero exit (1)" in p.failed and "worker1" in p.failed


def test_failures_before_the_update_started_are_not_blamed():
    old_failure = task("failed", 2, desired="shutdown", err="old", created="2026-01-01T00:00:01Z")
    running = [task("running", i) for i in (1, 2, 3)]
    p = V.assess(svc(update={"State": "rollback_completed", "StartedAt": "2026-01-01T00:00:05Z"}),
                 [old_failure, *running], NAMES)
    assert p.failed and "old" not in p.failed


def test_rollback_completed_is_a_failure_unless_asked_for():
    tasks = [task("running", i) for i in (1, 2, 3)]
    service = svc(update={"State": "rollback_completed", "Message": "rollback completed"})
    assert V.assess(service, tasks, NAMES).failed.startswith("the rollout failed")
    # reported once the previous spec runs again, not while its tasks still start
    starting = V.assess(service, [*tasks[:2], task("starting", 3)], NAMES)
    assert not starting.failed and starting.summary == "rolled back, 2/3 running"
    asked = V.assess(service, tasks, NAMES, expect_rollback=True)
    assert asked.done and not asked.failed


def test_pending_reports_the_schedulers_reason():
    err = "no suitable node (scheduling constraints not satisfied on 5 nodes)"
    tasks = [task("pending", i, node="", err=err) for i in (1, 2)]
    p = V.assess(svc(replicas=2), tasks, NAMES)
    assert not p.done and p.data["pending_reason"] == err


def test_tasks_that_keep_failing_stop_the_wait():
    tasks = [task("failed", 1, err="task: non-zero exit (1)") for _ in range(3)]
    tasks = [dict(t, ID=f"x{i}") for i, t in enumerate(tasks)]
    assert "keep failing" in V.assess(svc(replicas=1), tasks, NAMES).failed


def test_global_counts_one_task_per_node():
    service = svc(mode={"Global": {}})
    tasks = [task("running", 0, node="n1"), task("starting", 0, node="n2")]
    assert V.assess(service, tasks, NAMES).summary == "1/2 running"
    tasks[1]["Status"]["State"] = "running"
    assert V.assess(service, tasks, NAMES).done


def test_replicated_job_counts_completions():
    service = svc(mode={"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 2}})
    service["JobStatus"] = {"JobIteration": {"Index": 7}}
    done = task("complete", 1, desired="complete")
    done["JobIteration"] = {"Index": 7}
    old = task("complete", 2, desired="complete")
    old["JobIteration"] = {"Index": 3}
    assert not V.assess(service, [done, old], NAMES).done
    done2 = dict(done, ID="other")
    assert V.assess(service, [done, done2], NAMES).done


NODES = [
    {"ID": "n1", "Spec": {"Role": "worker", "Availability": "active", "Labels": {"zone": "a"}},
     "Description": {"Hostname": "worker1"}, "Status": {"State": "ready"}},
    {"ID": "n2", "Spec": {"Role": "worker", "Availability": "drain", "Labels": {}},
     "Description": {"Hostname": "worker2"}, "Status": {"State": "ready"}},
    {"ID": "n3", "Spec": {"Role": "manager", "Availability": "active", "Labels": {}},
     "Description": {"Hostname": "manager1"}, "Status": {"State": "ready"}},
    {"ID": "n4", "Spec": {"Role": "worker", "Availability": "active", "Labels": {}},
     "Description": {"Hostname": "worker3"}, "Status": {"State": "down"}},
]


def test_eligible_nodes_are_ready_active_and_match():
    assert [n["ID"] for n in V.eligible_nodes(NODES, [])] == ["n1", "n3"]
    assert [n["ID"] for n in V.eligible_nodes(NODES, ["node.role==worker"])] == ["n1"]
    assert [n["ID"] for n in V.eligible_nodes(NODES, ["node.labels.zone!=a"])] == ["n3"]
    assert [n["ID"] for n in V.eligible_nodes(NODES, ["engine.labels.x==y"])] == ["n1", "n3"]  # unknown: kept


HOST_PORT = [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]


def test_host_port_with_more_replicas_than_nodes_is_refused():
    msg = V.host_port_problem(svc(replicas=3, ports=HOST_PORT)["Spec"], eligible=2)
    assert "8080/tcp" in msg and "mode: global" in msg and "max_replicas_per_node" in msg and "dynamic port" in msg
    assert V.host_port_problem(svc(replicas=2, ports=HOST_PORT)["Spec"], eligible=2) is None
    dynamic = [dict(HOST_PORT[0], PublishedPort=0)]
    assert V.host_port_problem(svc(replicas=9, ports=dynamic)["Spec"], eligible=2) is None
    ingress = [dict(HOST_PORT[0], PublishMode="ingress")]
    assert V.host_port_problem(svc(replicas=9, ports=ingress)["Spec"], eligible=2) is None


def p(**kw):
    return {"name": "web", "state": "present", "force": False, **kw}


def test_plan_refuses_host_port_overcommit_unless_forced():
    current = svc(replicas=3, ports=HOST_PORT)
    refused = V.plan(p(replicas=5), current, {"eligible": 3})
    assert refused["error"] and refused["action"] == "none"
    forced = V.plan(p(replicas=5, force=True), current, {"eligible": 3})
    assert forced["action"] == "update" and not forced["error"]


def test_plan_unchanged_is_none():
    result = V.plan(p(image="swarmops/probe:2", replicas=3), svc(), {})
    assert result["action"] == "none" and result["changes"] == []


def test_plan_create_needs_an_image():
    assert "image: required" in V.plan(p(replicas=1), None, {})["error"]
    assert V.plan(p(image="a"), None, {})["action"] == "create"


def test_plan_leaves_stack_services_alone():
    owned = svc(labels={V.STACK_LABEL: "shop"})
    result = V.plan(p(replicas=5), owned, {})
    assert "belongs to the stack 'shop'" in result["error"]
    assert V.plan(p(replicas=5), owned, {}, stack="shop")["action"] == "update"
    assert "belongs to the stack" in V.plan(p(state="absent"), owned, {})["error"]


def test_plan_stack_label_is_added_for_stack_services():
    result = V.plan(p(image="a"), None, {}, stack="shop")
    assert result["spec"]["Labels"][V.STACK_LABEL] == "shop"


def test_plan_mode_change_is_refused():
    result = V.plan(p(mode="global"), svc(), {})
    assert "cannot change a service from replicated to global" in result["error"]


def test_plan_absent_and_rollback():
    assert V.plan(p(state="absent"), None, {})["action"] == "none"
    assert V.plan(p(state="absent"), svc(), {})["action"] == "remove"
    assert "nothing to roll back" in V.plan(p(state="rolled_back"), None, {})["error"]
    assert "no previous spec" in V.plan(p(state="rolled_back"), svc(), {})["error"]
    previous = copy.deepcopy(svc()["Spec"])
    previous["TaskTemplate"]["ContainerSpec"]["Image"] = "swarmops/probe:1"
    result = V.plan(p(state="rolled_back"), svc(previous=previous), {})
    assert result["action"] == "rollback"
    assert {"field": "image", "before": "swarmops/probe:2", "after": "swarmops/probe:1"} in result["changes"]
    done = svc(previous=previous, update={"State": "rollback_completed"})
    assert V.plan(p(state="rolled_back"), done, {})["action"] == "none"


def test_latest_versions_picks_the_newest():
    objs = [
        {"ID": "a", "Spec": {"Name": "db.v1", "Labels": {V.NAME_LABEL: "db", V.VERSION_LABEL: "1"}}},
        {"ID": "c", "Spec": {"Name": "db.v10", "Labels": {V.NAME_LABEL: "db", V.VERSION_LABEL: "10"}}},
        {"ID": "b", "Spec": {"Name": "db.v2", "Labels": {V.NAME_LABEL: "db", V.VERSION_LABEL: "2"}}},
        {"ID": "d", "Spec": {"Name": "plain", "Labels": {}}},
    ]
    found = V.latest_versions(objs)
    assert found["db"] == ("c", "db.v10") and found["plain"] == ("d", "plain") and found["db.v1"] == ("a", "db.v1")


def test_task_summary_names_the_node():
    s = V.task_summary(task("failed", 2, node="n2", err="boom"), NAMES)
    assert s["node"] == "worker2" and s["error"] == "boom" and s["state"] == "failed" and s["slot"] == 2


def test_tasks_that_ended_without_restart_fail_the_wait():
    service = svc(replicas=2)
    service["Spec"]["TaskTemplate"]["RestartPolicy"] = {"Condition": "on-failure"}
    template = service["Spec"]["TaskTemplate"]
    tasks = [task("complete", i, desired="shutdown", spec=template) for i in (1, 2)]
    for t in tasks:
        t["Status"]["ContainerStatus"] = {"ExitCode": 0}
    p = V.assess(service, tasks, NAMES)
    assert "restart policy (condition: on-failure)" in p.failed and "exit code 0" in p.failed
    # with the default policy (any) the engine starts new tasks: keep waiting
    assert not V.assess(svc(replicas=2), [task("complete", 1, desired="shutdown")], NAMES).failed


def test_an_update_stalled_on_an_unplaceable_task_reports_why():
    err = "no suitable node (scheduling constraints not satisfied on 3 nodes)"
    tasks = [task("pending", 1, node="", err=err), task("running", 2, spec=OLD)]
    p = V.assess(svc(replicas=2, update={"State": "updating"}), tasks, NAMES)
    assert not p.done and p.data["pending_reason"] == err and "pending" in p.summary
