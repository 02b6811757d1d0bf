"""swarm_node's drain guard (min_available): which drains would drop a service's availability."""

from ansible.module_utils.swarmops import availability
from ansible.module_utils.swarmops.availability import drain_refusal


def node(node_id, state="ready", availability="active", role="worker", labels=None):
    return {"ID": node_id, "Description": {"Hostname": f"host-{node_id}", "Platform": {"OS": "linux"}},
            "Status": {"State": state},
            "Spec": {"Availability": availability, "Role": role, "Labels": labels or {}}}


def service(sid, mode="Replicated", constraints=None, replicas=1):
    spec = {"Name": f"svc-{sid}", "Mode": {mode: {"Replicas": replicas} if mode == "Replicated" else {}}}
    if constraints:
        spec["TaskTemplate"] = {"Placement": {"Constraints": constraints}}
    return {"ID": sid, "Spec": spec}


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
        "host-n1 is the last ready and active node: draining it would leave no node to run tasks "
        "(services that would stop: none running now)")
    assert drain_refusal("n1", [*nodes, node("n4", availability="pause")], [], [], 0) != ""
    assert drain_refusal("n1", [*nodes, node("n4")], [], [], 0) == ""


def test_the_last_active_node_is_refused_by_default_naming_the_services_that_would_stop():
    nodes = [node("n1"), node("n2", availability="drain"), node("n3", availability="drain")]
    tasks = [task("web", "n1"), task("api", "n1"), task("once", "n1")]
    services = [service("web", replicas=2), service("api"), service("once", "ReplicatedJob")]
    why = drain_refusal("n1", nodes, services, tasks)
    assert why.startswith("host-n1 is the last ready and active node")
    assert why.endswith("(services that would stop: svc-api, svc-web)")


def test_a_service_its_placement_allows_nowhere_else_is_refused_by_default():
    nodes = [node("n1", role="manager"), node("n2", labels={"zone": "a"}), node("n3", labels={"zone": "B"})]
    workers_only = service("w", constraints=["node.role==worker"])
    assert drain_refusal("n2", nodes, [workers_only], []) == ""  # n3 is a worker too
    pinned = service("pin", constraints=["node.hostname == host-n2"])
    assert drain_refusal("n2", nodes, [pinned], []) == (
        "draining host-n2 would leave replicated services with no node their placement allows, "
        "so their tasks would stop: svc-pin")
    zone_a = service("za", constraints=["node.labels.zone==A", "node.role!=manager"])  # no case, as swarm
    assert "svc-za" in drain_refusal("n2", nodes, [zone_a], [])
    # Global services, jobs, services scaled to 0, and services that cannot run here anyway pass.
    assert drain_refusal("n2", nodes, [service("g", "Global", ["node.hostname==host-n2"])], []) == ""
    assert drain_refusal("n2", nodes, [service("z", constraints=["node.labels.zone==a"], replicas=0)], []) == ""
    assert drain_refusal("n1", nodes, [zone_a], []) == ""
    # Another eligible node that is down or drained does not count.
    zone = {"zone": "a"}
    down = [node("n1", role="manager"), node("n2", labels=zone), node("n4", state="down", labels=zone)]
    assert "svc-z" in drain_refusal("n2", down, [service("z", constraints=["node.labels.zone==a"])], [])


def test_placement_reads_what_the_scheduler_reads():
    allows = availability.placement_allows
    n = node("n1", role="manager", labels={"disk": "ssd"})
    n["Description"]["Engine"] = {"Labels": {"rack": "r1"}}
    assert allows(n, ["node.id==n1", "node.platform.os==Linux", "engine.labels.rack==r1", "node.labels.disk!=hdd"])
    assert not allows(n, ["node.labels.gpu==true"])  # a missing label never equals a value
    assert allows(n, ["node.labels.gpu!=true", "some.future.key==x"])  # unknown keys never refuse
    assert not allows(n, ["node.role!=manager"])
