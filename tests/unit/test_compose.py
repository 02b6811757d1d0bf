"""Compose files as `docker stack deploy` reads them (module_utils/swarmops/compose.py): one
file translated into namespaced services, networks and secrets; several (compose_files) merged
as `docker stack deploy -c a -c b` merges them, and read from disk with errors naming the
option and the path. No engine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ansible.module_utils.swarmops import compose as C
from ansible.module_utils.swarmops import spec as S
from ansible.module_utils.swarmops.spec import SpecError

BASE = {
    "version": "3.8",
    "services": {
        "web": {
            "image": "shop/web:1", "command": ["httpd", "-f", "-v"], "entrypoint": "/init",
            "environment": ["A=1", "B=2", "BARE"], "labels": ["tier=front", "owner=ops"],
            "ports": ["8080:80", {"target": 443, "published": 8443}],
            "volumes": ["data:/data", "/etc/hosts:/h:ro"],
            "secrets": ["pw", {"source": "key", "target": "k1"}],
            "configs": [{"source": "conf", "target": "/etc/conf"}],
            "networks": ["back"],
            "healthcheck": {"test": ["CMD", "true"], "interval": "5s"},
            "deploy": {"replicas": 1, "labels": {"team": "shop"},
                       "placement": {"constraints": ["node.role==worker"]},
                       "resources": {"limits": {"cpus": "0.5", "memory": "64M"}},
                       "update_config": {"parallelism": 1, "delay": "5s"}},
        },
        "db": {"image": "shop/db:1"},
    },
    "networks": {"back": {"attachable": True, "labels": {"a": "1"}}},
    "secrets": {"pw": {"file": "/etc/pw"}, "key": {"file": "/etc/key"}},
    "configs": {"conf": {"content": "x=1\n"}},
}


def merged(override: dict) -> dict:
    return C.merge_compose([BASE, override])


def web(override: dict) -> dict:
    return merged({"services": {"web": override}})["services"]["web"]


def test_one_file_is_itself_and_inputs_are_not_touched():
    import copy

    before = copy.deepcopy(BASE)
    assert C.merge_compose([BASE]) == BASE
    out = web({"environment": {"A": "9"}, "deploy": {"replicas": 3}})
    out["environment"]["A"] = "x"
    out["deploy"]["placement"]["constraints"].append("y")
    assert before == BASE


def test_scalars_override_and_mappings_merge_key_by_key():
    out = web({"image": "shop/web:2", "deploy": {"replicas": 3, "resources": {"limits": {"memory": "128M"}},
                                                   "update_config": {"delay": "10s"}}})
    assert out["image"] == "shop/web:2"
    assert out["deploy"]["replicas"] == 3
    assert out["deploy"]["resources"] == {"limits": {"cpus": "0.5", "memory": "128M"}}
    assert out["deploy"]["update_config"] == {"parallelism": 1, "delay": "10s"}
    assert out["deploy"]["labels"] == {"team": "shop"}


def test_replicas_zero_overrides():
    assert web({"deploy": {"replicas": 0}})["deploy"]["replicas"] == 0


def test_null_does_not_override():
    out = web({"command": None, "image": None})
    assert out["command"] == ["httpd", "-f", "-v"] and out["image"] == "shop/web:1"


def test_command_and_entrypoint_are_replaced_not_appended():
    out = web({"command": ["httpd", "-p", "81"], "entrypoint": ["/bin/sh", "-c"]})
    assert out["command"] == ["httpd", "-p", "81"]
    assert out["entrypoint"] == ["/bin/sh", "-c"]
    assert web({"command": "sleep 1"})["command"] == "sleep 1"


def test_healthcheck_test_is_replaced_and_the_rest_merged():
    out = web({"healthcheck": {"test": ["CMD", "false"], "retries": 3}})
    assert out["healthcheck"] == {"test": ["CMD", "false"], "interval": "5s", "retries": 3}


@pytest.mark.parametrize("override", [{"B": "3", "C": None}, ["B=3", "C"]])
def test_environment_merges_as_a_mapping_in_either_spelling(override):
    assert web({"environment": override})["environment"] == {"A": "1", "B": "3", "BARE": None, "C": None}


@pytest.mark.parametrize("override", [{"tier": "edge"}, ["tier=edge"]])
def test_labels_merge_as_a_mapping_in_either_spelling(override):
    out = web({"labels": override, "deploy": {"labels": ["cost=low"]}})
    assert out["labels"] == {"tier": "edge", "owner": "ops"}
    assert out["deploy"]["labels"] == {"team": "shop", "cost": "low"}


def test_ports_merge_by_the_whole_port():
    out = web({"ports": [{"target": 80, "published": 8080}, "9090:90/udp"]})
    # the same port in the long spelling collapses with the short one; a new one is added
    assert out["ports"] == [{"target": 80, "published": 8080}, {"target": 443, "published": 8443}, "9090:90/udp"]
    # a different published port for the same target is another port, as in docker/cli
    assert len(web({"ports": ["8081:80"]})["ports"]) == 3


def test_volumes_merge_by_target():
    out = web({"volumes": ["other:/data", {"type": "bind", "source": "/srv", "target": "/srv"}]})
    assert out["volumes"] == ["other:/data", "/etc/hosts:/h:ro", {"type": "bind", "source": "/srv", "target": "/srv"}]


def test_secrets_and_configs_merge_by_source():
    out = web({"secrets": [{"source": "pw", "target": "password"}, "new"], "configs": ["conf"]})
    assert out["secrets"] == [{"source": "pw", "target": "password"}, {"source": "key", "target": "k1"}, "new"]
    assert out["configs"] == ["conf"]


def test_networks_merge_by_name_in_either_spelling():
    assert web({"networks": ["front"]})["networks"] == ["back", "front"]
    out = web({"networks": {"back": {"aliases": ["www"]}, "front": None}})
    assert out["networks"] == {"back": {"aliases": ["www"]}, "front": None}
    two = C.merge_compose([{"services": {"s": {"networks": {"n": {"aliases": ["a", "b"]}}}}},
                           {"services": {"s": {"networks": {"n": {"aliases": ["c"]}}}}}])
    assert two["services"]["s"]["networks"] == {"n": {"aliases": ["c"]}}
    kept = C.merge_compose([{"services": {"s": {"networks": {"n": {"aliases": ["a"]}}}}},
                            {"services": {"s": {"networks": ["n"]}}}])
    assert kept["services"]["s"]["networks"] == {"n": {"aliases": ["a"]}}


def test_other_lists_are_appended_without_repeats():
    out = web({"deploy": {"placement": {"constraints": ["node.role==worker", "node.labels.z==1"]}}})
    assert out["deploy"]["placement"]["constraints"] == ["node.role==worker", "node.labels.z==1"]


def test_new_services_are_added_and_others_kept():
    out = merged({"services": {"cache": {"image": "redis:7"}, "db": None}})
    assert set(out["services"]) == {"web", "db", "cache"}
    assert out["services"]["db"] == {"image": "shop/db:1"}


def test_top_level_definitions_are_replaced_name_by_name():
    out = merged({"version": "3.9", "networks": {"back": {"internal": True}, "front": {}},
                  "secrets": {"pw": {"external": True}}})
    assert out["version"] == "3.9"
    assert out["networks"] == {"back": {"internal": True}, "front": {}}
    assert out["secrets"] == {"pw": {"external": True}, "key": {"file": "/etc/key"}}
    assert out["configs"] == BASE["configs"]


def test_three_files_merge_in_order():
    out = C.merge_compose([BASE, {"services": {"web": {"deploy": {"replicas": 2}}}},
                           {"services": {"web": {"deploy": {"replicas": 5}}}}])
    assert out["services"]["web"]["deploy"]["replicas"] == 5


def test_the_merge_translates_like_one_file():
    out = C.translate("shop", merged({"services": {"web": {"environment": {"B": "3"}, "labels": {"tier": "edge"},
                                                           "deploy": {"replicas": 2}}}}))
    web_params = out["services"]["shop_web"]
    assert web_params["replicas"] == 2
    assert web_params["env"] == {"A": "1", "B": "3", "BARE": None}
    assert web_params["container_labels"] == {"tier": "edge", "owner": "ops"}
    assert web_params["labels"] == {"team": "shop"}


def test_list_spelled_labels_translate_in_one_file():
    out = C.translate("s", {"services": {"a": {"image": "x", "labels": ["k=v"], "deploy": {"labels": ["d=1"]}}}})
    assert out["services"]["s_a"]["container_labels"] == {"k": "v"}
    assert out["services"]["s_a"]["labels"] == {"d": "1"}


@pytest.mark.parametrize(("docs", "match"), [
    ([], "compose_files: give at least one file"),
    ([BASE, ["a"]], r"file 2: expected a compose mapping"),
    ([BASE, {"services": ["web"]}], r"file 2: services must be a mapping"),
    ([BASE, {"services": {"web": {"environment": [1]}}}], r"file 2: services.web.environment: list items"),
    ([BASE, {"services": {"web": {"networks": "back"}}}], r"file 2: services.web.networks: expected a list"),
])
def test_merge_errors_name_the_file_and_key(docs, match):
    with pytest.raises(SpecError, match=match):
        C.merge_compose(docs)


# --- reading the files --------------------------------------------------------------------------

def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_load_reads_merges_resolves_and_drops_extensions(tmp_path):
    a = write(tmp_path / "a.yml", "x-img: &img shop/web:1\nservices:\n  web:\n    image: *img\n    x-note: hi\n"
                                   "    environment: [A=1]\nsecrets:\n  pw:\n    file: ./pw\n"
                                   "  abs:\n    file: /etc/abs\n")
    sub = tmp_path / "prod"
    sub.mkdir()
    b = write(sub / "b.yml", "services:\n  web:\n    environment: {A: 2}\nconfigs:\n  c:\n    file: conf\n")
    out = C.load_compose_files([a, b])
    assert out["services"] == {"web": {"image": "shop/web:1", "environment": {"A": 2}}}
    # relative to the first file's directory, as docker stack deploy resolves them
    assert out["secrets"] == {"pw": {"file": str(tmp_path / "pw")}, "abs": {"file": "/etc/abs"}}
    assert out["configs"] == {"c": {"file": str(tmp_path / "conf")}}


def test_load_errors_name_the_option_index_and_path(tmp_path):
    good = write(tmp_path / "a.yml", "services: {web: {image: x}}\n")
    cases = [
        (str(tmp_path / "missing.yml"), "no such file on the manager"),
        (write(tmp_path / "list.yml", "- a\n"), "expected a compose mapping at the top, got list"),
        (write(tmp_path / "empty.yml", ""), "expected a compose mapping at the top, got NoneType"),
        (write(tmp_path / "bad.yml", "services: [unclosed\n"), "not valid YAML"),
        (str(tmp_path), "cannot read it on the manager"),
        ("rel/a.yml", "not an absolute path"),
    ]
    for path, words in cases:
        with pytest.raises(SpecError) as err:
            C.load_compose_files([good, path])
        assert str(err.value).startswith(f"compose_files[1] ({path}): "), err.value
        assert words in str(err.value)
    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError, match=r"compose_files\[0\] \(.*bin.yml\): not UTF-8"):
        C.load_compose_files([str(binary)])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_load_unreadable_file(tmp_path):
    path = write(tmp_path / "secret.yml", "services: {}\n")
    os.chmod(path, 0)
    with pytest.raises(SpecError, match=r"compose_files\[0\] \(.*secret.yml\): cannot read it on the manager"):
        C.load_compose_files([path])


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
