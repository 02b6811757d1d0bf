"""Compose translation, network plans and secret/config versioning, without an engine."""

from __future__ import annotations

import base64

import pytest
from ansible.module_utils.swarmops import compose as C
from ansible.module_utils.swarmops import network as N
from ansible.module_utils.swarmops import spec as S
from ansible.module_utils.swarmops import versioned as V
from ansible.module_utils.swarmops.service import NAME_LABEL, VERSION_LABEL

COMPOSE = {
    "version": "3.8",
    "services": {
        "web": {"image": "swarmops/probe:1", "ports": ["8080:80", {"target": 81, "published": 8081, "mode": "host"}],
                "deploy": {"replicas": 3, "update_config": {"parallelism": 1, "delay": "5s"},
                           "placement": {"constraints": ["node.role==worker"],
                                         "preferences": [{"spread": "node.labels.z"}]},
                           "resources": {"limits": {"cpus": "0.5", "memory": "64M"}}},
                "secrets": ["pw", {"source": "ext", "target": "other", "mode": "0400"}],
                "networks": {"back": {"aliases": ["www"]}}, "environment": ["A=1"], "command": "httpd -f",
                "volumes": ["data:/data", "/etc/hosts:/h:ro"]},
        "db": {"image": "swarmops/probe:2", "deploy": {"mode": "global"}},
    },
    "networks": {"back": {"attachable": True, "driver_opts": {"encrypted": ""},
                          "ipam": {"config": [{"subnet": "10.9.0.0/24"}]}}},
    "secrets": {"pw": {"file": "/etc/pw"}, "ext": {"external": True, "name": "shared_pw"}},
}


def test_compose_is_namespaced_like_docker_stack():
    out = C.translate("shop", COMPOSE)
    assert set(out["services"]) == {"shop_web", "shop_db"}
    assert set(out["networks"]) == {"shop_back", "shop_default"}  # db has no networks: the default one
    assert out["networks"]["shop_back"]["encrypted"] is True
    assert out["networks"]["shop_back"]["subnet"] == "10.9.0.0/24"
    assert out["networks"]["shop_default"]["labels"] == {"com.docker.stack.namespace": "shop"}
    assert out["files"] == [("secret", "shop_pw", {"file": "/etc/pw"})]  # external ones are not created
    web = out["services"]["shop_web"]
    assert web["networks"] == [{"name": "shop_back", "aliases": ["www"]}]
    assert web["secrets"] == [{"name": "shop_pw", "target": "pw"},
                              {"name": "shared_pw", "target": "other", "mode": 0o400}]
    assert web["args"] == ["httpd", "-f"] and web["command"] is None
    assert web["mounts"] == [
        {"source": "shop_data", "target": "/data", "type": "volume", "readonly": False},
        {"source": "/etc/hosts", "target": "/h", "type": "bind", "readonly": True}]
    assert out["services"]["shop_db"]["mode"] == "global" and out["services"]["shop_db"]["replicas"] is None
    assert out["services"]["shop_db"]["networks"] == [{"name": "shop_default"}]


def test_compose_service_params_pass_the_service_validation():
    out = C.translate("shop", COMPOSE)
    for params in out["services"].values():
        assert S.validate(S.SERVICE_FIELDS, params) == []
    desired = S.build(S.SERVICE_FIELDS, out["services"]["shop_web"], None)
    assert desired["Mode"] == {"Replicated": {"Replicas": 3}}
    assert desired["TaskTemplate"]["Resources"]["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 64 * 1024**2}


@pytest.mark.parametrize("compose,match", [
    ({"services": {"a": {"image": "x", "privileged": True}}}, "services.a: unsupported key(s) privileged"),
    ({"services": {"a": {"image": "x", "deploy": {"replicas": 1, "spread": 1}}}}, "services.a.deploy: unsupported"),
    ({"services": {"a": {"image": "x", "networks": ["nope"]}}}, "'nope' is not defined"),
    ({"services": {"a": {"image": "x", "secrets": ["nope"]}}}, "'nope' is not defined in the file's secrets"),
    ({"services": {"a": {}}}, "services.a.image: required"),
    ({"services": {}}, "at least one service"),
    ({"services": {"a": {"image": "x"}}, "x-extra": {}}, "compose: unsupported key(s) x-extra"),
    ({"services": {"a": {"image": "x"}}, "secrets": {"s": {}}}, "give file"),
    ({"services": {"a": {"image": "x"}}, "secrets": {"s": {"content": "pw"}}}, "content would be logged"),
])
def test_compose_errors_name_the_key(compose, match):
    with pytest.raises(S.SpecError, match=match.replace("(", r"\(").replace(")", r"\)")):
        C.translate("shop", compose)


NET = {"Id": "n1", "Name": "back", "Driver": "overlay", "Attachable": True, "Internal": False, "Scope": "swarm",
       "Options": {"encrypted": "", "com.docker.network.driver.overlay.vxlanid_list": "4097"},
       "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1"}]}, "Labels": {}}


def net_params(**kw):
    base = {"name": "back", "state": "present", "driver": "overlay", "attachable": None, "internal": None,
            "encrypted": None, "subnet": None, "gateway": None, "driver_options": None, "labels": None}
    return {**base, **kw}


def test_network_unchanged_ignores_engine_options():
    assert N.plan(net_params(attachable=True, encrypted=True, subnet="10.9.0.0/24"), NET, [])["action"] == "none"


def test_network_change_recreates_when_unused_and_keeps_the_rest():
    result = N.plan(net_params(encrypted=False), NET, [])
    assert result["action"] == "recreate"
    assert result["changes"] == [{"field": "encrypted", "before": True, "after": False}]
    body = result["body"]
    assert body["Options"] == {} and body["IPAM"]["Config"] == [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1"}]
    assert body["Attachable"] is True


def test_network_in_use_is_not_recreated_or_removed():
    assert "used by the service(s) web" in N.plan(net_params(internal=True), NET, ["web"])["error"]
    assert "used by the service(s) web" in N.plan(net_params(state="absent"), NET, ["web"])["error"]
    assert N.plan(net_params(state="absent"), None, [])["action"] == "none"


def test_network_create_body():
    result = N.plan(net_params(encrypted=True, subnet="10.1.0.0/24", labels={"a": 1}), None, [])
    assert result["action"] == "create"
    assert result["body"]["Options"] == {"encrypted": ""}
    assert result["body"]["IPAM"]["Config"] == [{"Subnet": "10.1.0.0/24"}]
    assert result["body"]["Labels"] == {"a": "1"} and result["body"]["Scope"] == "swarm"


def version(n: int, data: bytes, name: str = "pw", config: bool = False) -> tuple[int, dict]:
    spec = {"Name": f"{name}.v{n}", "Labels": {NAME_LABEL: name, VERSION_LABEL: str(n), V.DIGEST_LABEL: V.digest(data)}}
    if config:
        spec["Data"] = base64.b64encode(data).decode()
    return n, {"ID": f"id{n}", "Spec": spec}


def test_digest_is_salted_and_checkable():
    a, b = V.digest(b"x"), V.digest(b"x")
    assert a != b  # a fresh salt each time
    assert V.same_data({"Spec": {"Labels": {V.DIGEST_LABEL: a}}}, b"x") is True
    assert V.same_data({"Spec": {"Labels": {V.DIGEST_LABEL: a}}}, b"y") is False
    assert V.same_data({"Spec": {"Labels": {}}}, b"x") is None  # unknown: treated as changed


def test_same_content_is_no_change():
    result = V.plan("pw", "present", b"one", [version(1, b"one")], {}, keep=2)
    assert result["create"] is None and result["move"] == [] and result["remove"] == []


def test_new_content_creates_the_next_version_and_moves_users():
    vers = [version(1, b"one"), version(2, b"two")]
    result = V.plan("pw", "present", b"three", vers, {"web": ["id2"], "api": ["id1"]}, keep=2)
    assert result["create"] == (3, "pw.v3")
    assert result["move"] == ["api", "web"]
    assert [name for _, _, name in result["remove"]] == ["pw.v1"]  # keep 2: v2 and the new v3


def test_users_of_older_versions_move_even_without_new_content():
    vers = [version(1, b"one"), version(2, b"two")]
    result = V.plan("pw", "present", b"two", vers, {"api": ["id1"]}, keep=2)
    assert result["create"] is None and result["move"] == ["api"] and result["remove"] == []


def test_config_compares_its_data():
    assert V.same_data(version(1, b"a=1", config=True)[1], b"a=1") is True
    assert V.plan("c", "present", b"a=2", [version(1, b"a=1", config=True)], {}, keep=1)["create"] == (2, "c.v2")


def test_absent_refused_while_in_use():
    vers = [version(1, b"one")]
    assert "used by the service(s) web" in V.plan("pw", "absent", None, vers, {"web": ["id1"]}, keep=2)["error"]
    assert [n for _, _, n in V.plan("pw", "absent", None, vers, {}, keep=2)["remove"]] == ["pw.v1"]


def test_repoint_keeps_the_target_file():
    spec = {"TaskTemplate": {"ContainerSpec": {"Secrets": [
        {"SecretID": "id1", "SecretName": "pw.v1", "File": {"Name": "pw", "UID": "0", "GID": "0", "Mode": 256}},
        {"SecretID": "other", "SecretName": "x", "File": {"Name": "x"}}]}}}
    moved = V.repoint(spec, "secret", {"id1"}, "id2", "pw.v2")
    refs = moved["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert refs[0] == {"SecretID": "id2", "SecretName": "pw.v2",
                       "File": {"Name": "pw", "UID": "0", "GID": "0", "Mode": 256}}
    assert refs[1]["SecretID"] == "other"
    assert spec["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretID"] == "id1"  # input untouched
    assert V.versions([{"ID": "p", "Spec": {"Name": "pw", "Labels": {}}}, version(1, b"x")[1]], "pw")[0][0] == 0
