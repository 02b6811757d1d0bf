"""Service spec as data: parsing, normalisation, build and diff, without an engine."""

from __future__ import annotations

import pytest
from ansible.module_utils.swarmops import spec as S

# What the engine returns for a service created with image, 2 replicas and a host port, after
# an update that set parallelism and delay: note the defaults it filled in.
ENGINE_SPEC = {
    "Name": "web",
    "Labels": {},
    "TaskTemplate": {
        "ContainerSpec": {"Image": "swarmops/probe:1@sha256:abc", "Env": ["B=2", "A=1"], "Isolation": "default"},
        "RestartPolicy": {"Condition": "on-failure", "MaxAttempts": 0},
        "Placement": {"Constraints": ["node.role==worker", "node.labels.zone==a"]},
        "ForceUpdate": 0,
        "Runtime": "container",
    },
    "Mode": {"Replicated": {"Replicas": 2}},
    "UpdateConfig": {"Parallelism": 1, "Delay": 1_000_000_000, "FailureAction": "pause",
                     "MaxFailureRatio": 0, "Order": "stop-first"},
    "EndpointSpec": {"Mode": "vip", "Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080,
                                               "PublishMode": "host"}]},
}


def params(**kw):
    return {"name": "web", **kw}


def changes_of(p, current=ENGINE_SPEC, ctx=None):
    desired = S.build(S.SERVICE_FIELDS, p, current, ctx)
    return S.diff(S.SERVICE_FIELDS, current, desired, only=S.given(S.SERVICE_FIELDS, p))


@pytest.mark.parametrize("text,ns", [
    ("10s", 10 * S.NS), ("1m30s", 90 * S.NS), ("500ms", 500_000_000), ("2", 2 * S.NS), (3, 3 * S.NS),
    ("1h", 3600 * S.NS), ("1.5s", 1_500_000_000),
])
def test_durations(text, ns):
    assert S.duration_ns(text) == ns


@pytest.mark.parametrize("bad", ["10x", "s", "", "-1s", -1, "1s 2s", True])
def test_bad_durations_name_the_option(bad):
    with pytest.raises(S.SpecError, match=r"update_config\.delay"):
        S.duration_ns(bad, "update_config.delay")


@pytest.mark.parametrize("text,n", [("64M", 64 * 1024**2), ("1g", 1024**3), ("512k", 512 * 1024),
                                    (1000, 1000), ("1GiB", 1024**3), ("100", 100)])
def test_sizes(text, n):
    assert S.size_bytes(text) == n


def test_bad_size_and_cpus():
    with pytest.raises(S.SpecError, match=r"limits\.memory"):
        S.size_bytes("lots", "limits.memory")
    with pytest.raises(S.SpecError, match="must not be negative"):
        S.nano_cpus("-1", "limits.cpus")
    assert S.nano_cpus("0.5") == 500_000_000


@pytest.mark.parametrize("item,port", [
    ("8080:80", {"Protocol": "tcp", "PublishMode": "ingress", "TargetPort": 80, "PublishedPort": 8080}),
    ("53:53/udp", {"Protocol": "udp", "PublishMode": "ingress", "TargetPort": 53, "PublishedPort": 53}),
    ("80", {"Protocol": "tcp", "PublishMode": "ingress", "TargetPort": 80}),
    ({"published": 8080, "target": 80, "mode": "host"},
     {"Protocol": "tcp", "PublishMode": "host", "TargetPort": 80, "PublishedPort": 8080}),
    ({"target": "80", "protocol": "udp", "mode": "host"}, {"Protocol": "udp", "PublishMode": "host", "TargetPort": 80}),
])
def test_ports(item, port):
    assert S.parse_port(item) == port


@pytest.mark.parametrize("item,match", [
    ("80:abc", "bad port"), ("8080:80/icmp", "protocol must be one of"), ("70000:80", "1-65535"), ("a:b:c", "bad port"),
    ({"target": 80, "mode": "bridge"}, "mode must be one of ingress, host"),
    ({"target": 80, "protocol": "icmp"}, "protocol must be one of tcp, udp, sctp"),
    ({"target": 80, "publish": 1}, "unknown key"), ({"published": 80}, "target is required"),
    (["x"], "string or a dict"),
])
def test_bad_ports(item, match):
    with pytest.raises(S.SpecError, match=match):
        S.parse_port(item)


def test_unchanged_spec_with_engine_defaults_is_no_change():
    p = params(image="swarmops/probe:1", replicas=2, env={"A": "1", "B": 2},
               constraints=["node.labels.zone==a", "node.role==worker"],
               publish=[{"published": 8080, "target": 80, "mode": "host"}],
               update_config={"parallelism": 1, "delay": "1s", "failure_action": None, "monitor": None,
                              "max_failure_ratio": None, "order": None},
               restart_policy={"condition": "on-failure", "delay": None, "max_attempts": None, "window": None})
    assert changes_of(p) == []


def test_one_changed_field_is_the_only_change():
    changes = changes_of(params(image="swarmops/probe:2", replicas=2))
    assert changes == [{"field": "image", "before": "swarmops/probe:1", "after": "swarmops/probe:2"}]


def test_options_not_given_keep_their_value():
    desired = S.build(S.SERVICE_FIELDS, params(replicas=5), ENGINE_SPEC)
    assert desired["Mode"] == {"Replicated": {"Replicas": 5}}
    assert desired["TaskTemplate"]["ContainerSpec"]["Image"] == "swarmops/probe:1@sha256:abc"
    assert desired["UpdateConfig"]["Order"] == "stop-first"
    assert desired["EndpointSpec"] == ENGINE_SPEC["EndpointSpec"]
    # the input is not modified
    assert ENGINE_SPEC["Mode"] == {"Replicated": {"Replicas": 2}}


def test_image_only_keeps_replicas():
    desired = S.build(S.SERVICE_FIELDS, params(image="x:1"), ENGINE_SPEC)
    assert desired["Mode"] == {"Replicated": {"Replicas": 2}}


def test_durations_compare_and_show_canonically():
    assert S.duration_text(90 * S.NS) == "90s" and S.duration_text(1_500_000_000) == "1500ms"
    assert S.duration_text(None) == "0s" == S.duration_text(0)
    changes = changes_of(params(update_config={"delay": "1000ms"}))  # the same as the engine's 1s
    assert changes == []
    changes = changes_of(params(update_config={"delay": "1m"}))
    assert changes == [{"field": "update_config.delay", "before": "1s", "after": "60s"}]


def test_sub_option_change_reports_the_sub_field():
    p = params(update_config={"parallelism": 2, "delay": "1s"})
    assert changes_of(p) == [{"field": "update_config.parallelism", "before": 1, "after": 2}]


def test_port_change_and_env_removal():
    p = params(publish=["8080:80"], env=["A=1"])
    fields = {c["field"]: c for c in changes_of(p)}
    assert set(fields) == {"env", "publish"}
    assert fields["env"]["after"] == {"A": "1"}
    assert fields["publish"]["after"] == [("tcp", 80, 8080, "ingress")]


def test_create_lists_every_given_field():
    p = params(image="swarmops/probe:1", replicas=3, endpoint_mode="dnsrr")
    desired = S.build(S.SERVICE_FIELDS, p, None)
    assert desired["Mode"] == {"Replicated": {"Replicas": 3}}
    assert desired["EndpointSpec"] == {"Mode": "dnsrr"}
    fields = [c["field"] for c in S.diff(S.SERVICE_FIELDS, None, desired, only=S.given(S.SERVICE_FIELDS, p))]
    assert fields == ["image", "mode", "endpoint_mode"]


def test_image_normalisation():
    assert S.image_norm("docker.io/library/nginx@sha256:aa") == "nginx:latest"
    assert S.image_norm("registry:5000/team/app") == "registry:5000/team/app:latest"
    assert S.image_norm("swarmops/probe:1") == "swarmops/probe:1"


@pytest.mark.parametrize("p,match", [
    (params(mode="global", replicas=3), "replicas: only for mode replicated"),
    (params(replicas=-1), "replicas: must not be negative"),
    (params(mode="replicated", max_concurrent=2), "only for mode replicated-job"),
    (params(update_config={"parallelism": -1}), "update_config.parallelism: must not be negative"),
    (params(update_config={"max_failure_ratio": 1.5}), "between 0 and 1"),
    (params(constraints=["node.role=worker"]), "constraints: expected 'ATTRIBUTE==VALUE'"),
    (params(env=["NOEQUALS"]), "env: list items must be KEY=VALUE"),
    (params(mounts=[{"target": "/x", "type": "nfs"}]), "mounts: type must be one of volume, bind, tmpfs"),
    (params(mounts=[{"target": "/x", "ro": True}]), "mounts: unknown key"),
    (params(secrets=[{"name": "s", "mode": "rw"}]), "mode must be octal"),
    (params(networks=[{"name": "n", "alias": ["a"]}]), "networks: unknown key"),
    (params(placement_preferences=["zone"]), "spread=node.labels"),
    (params(healthcheck={"interval": "often"}), "healthcheck.interval"),
])
def test_validation_names_the_field(p, match):
    errors = S.validate(S.SERVICE_FIELDS, p)
    assert any(match in e for e in errors), errors


def test_valid_spec_has_no_errors():
    p = params(image="a", replicas=2, publish=["80:80/udp"], constraints=["node.role==worker"],
               update_config={"parallelism": 1, "delay": "5s", "failure_action": "rollback", "monitor": "2s",
                              "max_failure_ratio": 0.2, "order": "start-first"},
               limits={"cpus": "0.5", "memory": "64M"}, secrets=["a", {"name": "b", "mode": "0400"}])
    assert S.validate(S.SERVICE_FIELDS, p) == []


def test_jobs_build_raw_mode_dicts():
    job = S.build(S.SERVICE_FIELDS, params(mode="replicated-job", max_concurrent=2, total_completions=6), None)
    assert job["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 6}}
    assert S.build(S.SERVICE_FIELDS, params(mode="global-job"), None)["Mode"] == {"GlobalJob": {}}
    assert S.build(S.SERVICE_FIELDS, params(mode="global"), None)["Mode"] == {"Global": {}}


def test_references_resolve_names_to_ids():
    ctx = {"networks": {"backend": "netid1"}, "secrets": {"db": ("sid2", "db.v2")}}
    p = params(networks=["backend", {"name": "other", "aliases": ["x"]}],
               secrets=[{"name": "db", "mode": "0400"}])
    desired = S.build(S.SERVICE_FIELDS, p, None, ctx)
    assert desired["TaskTemplate"]["Networks"] == [{"Target": "netid1"}, {"Target": "other", "Aliases": ["x"]}]
    assert desired["TaskTemplate"]["ContainerSpec"]["Secrets"] == [
        {"SecretID": "sid2", "SecretName": "db.v2", "File": {"Name": "db", "UID": "0", "GID": "0", "Mode": 0o400}}]


def test_force_update_bumps_the_counter():
    desired = S.build(S.SERVICE_FIELDS, params(force_update=True), ENGINE_SPEC)
    assert desired["TaskTemplate"]["ForceUpdate"] == 1
    assert S.build(S.SERVICE_FIELDS, params(force_update=False), ENGINE_SPEC)["TaskTemplate"]["ForceUpdate"] == 0
