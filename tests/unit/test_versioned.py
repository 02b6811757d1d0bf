"""Secret and config versioning (module_utils/swarmops/versioned.py): salted digests, the plan
of versions to create, move to and remove, and services repointed, without an engine."""

from __future__ import annotations

import base64

from ansible.module_utils.swarmops import versioned as V
from ansible.module_utils.swarmops.service import NAME_LABEL, VERSION_LABEL


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
