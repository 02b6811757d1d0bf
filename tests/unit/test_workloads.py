"""Which services and stacks the services layer must call its modules for, planned on the
controller from one read of the workloads (module_utils/swarmops/workloads.py and its
filters), without an engine: the reads are made the way the modules would create the objects."""

from __future__ import annotations

import json

from ansible.module_utils.swarmops import versioned
from ansible.module_utils.swarmops.compose import translate
from ansible.module_utils.swarmops.service import NAME_LABEL, VERSION_LABEL, plan
from ansible.module_utils.swarmops.workloads import mask_env, service_reasons, stack_reasons

from plugins.filter.swarmops import service_reasons as service_filter
from plugins.filter.swarmops import stack_reasons as stack_filter

KEY = "k" * 40
PROBE = {"name": "probe", "image": "swarmops/probe:1", "mode": "global", "constraints": ["node.role==worker"],
         "env": {"PROBE_NODE": "{{.Node.Hostname}}", "PASSWORD": "hunter2"},
         "publish": [{"published": 8080, "target": 80, "mode": "host"}]}
COMPOSE = {"services": {"web": {"image": "swarmops/probe:1", "environment": {"A": "1"}, "networks": ["front"],
                                "configs": ["motd"], "deploy": {"replicas": 2}}},
           "networks": {"front": {"driver": "overlay", "attachable": True}},
           "configs": {"motd": {"content": "hello"}}}


def empty() -> dict:
    return {"services": [], "networks": [], "secrets": [], "configs": []}


def as_read(spec: dict, sid: str = "s1", running: int = 2, desired: int = 2, state: str | None = None) -> dict:
    """A service as read_workloads reports it: its environment values masked."""
    spec = json.loads(json.dumps(spec))
    env = spec.get("TaskTemplate", {}).get("ContainerSpec", {}).get("Env")
    if env:
        spec["TaskTemplate"]["ContainerSpec"]["Env"] = mask_env(env, KEY)
    return {"ID": sid, "Spec": spec, "UpdateStatus": {"State": state} if state else None,
            "ServiceStatus": {"RunningTasks": running, "DesiredTasks": desired}}


def created(params: dict, read: dict, stack: str | None = None) -> dict:
    """The spec swarm_service would create for `params` against `read`."""
    networks = {n["Name"]: n["Id"] for n in read["networks"]}
    ctx = {"networks": networks, "secrets": {}, "configs": versioned_names(read["configs"]), "eligible": None}
    return plan(params, None, ctx, stack=stack)["spec"]


def versioned_names(objs: list[dict]) -> dict:
    return {o["Spec"]["Labels"][NAME_LABEL]: (o["ID"], o["Spec"]["Name"]) for o in objs}


def test_a_service_as_asked_and_converged_needs_no_call():
    read = empty()
    read["services"].append(as_read(created(PROBE, read)))
    assert service_filter(PROBE, read, KEY) == []
    # The read never holds an environment value, only its keyed digest.
    assert "hunter2" not in json.dumps(read)


def test_each_difference_or_unsettled_rollout_is_a_reason():
    read = empty()
    read["services"].append(as_read(created(PROBE, read)))
    changed = dict(PROBE, env={**PROBE["env"], "PASSWORD": "swordfish"})
    assert service_filter(changed, read, KEY) == ["service probe: update (env)"]
    assert service_filter(dict(PROBE, image="swarmops/probe:2"), read, KEY) == ["service probe: update (image)"]
    assert service_filter(dict(PROBE, name="other"), read, KEY)[0].startswith("service other: create (")
    read["services"][0]["ServiceStatus"] = {"RunningTasks": 1, "DesiredTasks": 2}
    assert service_filter(PROBE, read, KEY) == ["service probe: 1 of 2 tasks running"]
    read["services"][0]["ServiceStatus"] = {"RunningTasks": 2, "DesiredTasks": 2}
    read["services"][0]["UpdateStatus"] = {"State": "updating"}
    assert service_filter(PROBE, read, KEY) == ["service probe: its rollout is updating"]
    read["services"][0]["UpdateStatus"] = {"State": "completed"}
    assert service_filter(PROBE, read, KEY) == []


def test_what_the_read_cannot_judge_goes_to_the_module():
    read = empty()
    assert service_filter(dict(PROBE, mode="replicated-job"), read, KEY)[0].endswith("judged by the module")
    assert service_filter(dict(PROBE, state="rolled_back"), read, KEY)[0].endswith("decided by the module")
    # Bad options: the module names them; the plan only says it must run.
    assert service_filter(dict(PROBE, replicas="many"), read, KEY)[0].startswith("service probe: ")
    assert service_filter(PROBE, None, KEY) == ["the workloads were not read"]


def test_an_absent_service_is_judged_from_the_read():
    read = empty()
    gone = {"name": "old", "state": "absent"}
    assert service_reasons(dict(gone, force_update=False), read, KEY) == []
    read["services"].append(as_read(created({"name": "old", "image": "x:1"}, read)))
    assert service_reasons(gone, read, KEY) == ["service old: remove (service)"]


def stack_read() -> dict:
    """The demo stack as swarm_stack leaves it: its network, its config's first version, its service."""
    wanted = translate("demo", COMPOSE)
    read = empty()
    for name, params in wanted["networks"].items():
        read["networks"].append({"Name": name, "Id": f"net-{name}", "Scope": "swarm", "Driver": params["driver"],
                                 "Attachable": bool(params["attachable"]), "Internal": False,
                                 "Labels": params["labels"], "IPAM": {"Driver": "default", "Config": []},
                                 "Options": {}})
    for _kind, name, opts in wanted["files"]:
        data = str(opts["content"]).encode()
        read["configs"].append({"ID": "cfg1", "Spec": {"Name": f"{name}.v1", "Labels": {
            NAME_LABEL: name, VERSION_LABEL: "1", versioned.DIGEST_LABEL: versioned.digest(data),
            "com.docker.stack.namespace": "demo"}}})
    for params in wanted["services"].values():
        read["services"].append(as_read(created(params, read, stack="demo")))
    return read


def test_a_deployed_stack_needs_no_call():
    assert stack_filter({"name": "demo"}, COMPOSE, stack_read(), KEY) == []


def test_each_stack_difference_is_a_reason():
    read = stack_read()
    more = json.loads(json.dumps(COMPOSE))
    more["services"]["web"]["deploy"]["replicas"] = 3
    assert stack_reasons("demo", "present", more, True, read, KEY) == ["service demo_web: update (mode)"]
    motd = json.loads(json.dumps(COMPOSE))
    motd["configs"]["motd"]["content"] = "bye"
    assert stack_reasons("demo", "present", motd, True, read, KEY) == [
        "config demo_motd: a new version or an old one to remove"]
    from_file = json.loads(json.dumps(COMPOSE))
    from_file["configs"]["motd"] = {"file": "/etc/motd"}
    assert stack_reasons("demo", "present", from_file, True, read, KEY) == [
        "config demo_motd: its file is read on the manager"]
    no_net = dict(read, networks=[])
    assert stack_reasons("demo", "present", COMPOSE, True, no_net, KEY)[0] == "network demo_front: create"
    # A service of the stack the file no longer has is pruned (unless prune is off).
    extra = dict(read, services=[*read["services"], as_read(created(
        {"name": "demo_old", "image": "x:1"}, read, stack="demo"), sid="s2")])
    assert stack_reasons("demo", "present", COMPOSE, True, extra, KEY) == ["service demo_old: to prune"]
    assert stack_reasons("demo", "present", COMPOSE, False, extra, KEY) == []
    # Removing the stack: whatever it still owns; nothing once it is gone.
    assert stack_reasons("demo", "absent", COMPOSE, True, read, KEY) == ["stack demo: 3 object(s) to remove"]
    assert stack_reasons("demo", "absent", COMPOSE, True, empty(), KEY) == []
    assert stack_reasons("demo", "present", {"services": {}}, True, read, KEY)[0].startswith("stack demo: compose")
