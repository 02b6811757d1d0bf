"""Network plans (module_utils/swarmops/network.py): unchanged, recreated when unused, refused
while in use, created, without an engine."""

from __future__ import annotations

from ansible.module_utils.swarmops import network as N

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
