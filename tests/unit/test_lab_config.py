"""The lab's pure parts: addressing, naming, validation and the inventory it writes."""

from __future__ import annotations

import pytest
import yaml

from lab import inventory
from lab.config import LabConfig
from lab.sh import LabError


def test_hosts_get_fixed_addresses_by_kind():
    lab = LabConfig(name="t1", subnet="10.9.8.0/24")
    hosts = lab.plan_hosts({"manager": 3, "worker": 2, "lb": 1, "outsider": 1})
    assert [(h.name, h.address) for h in hosts] == [
        ("manager1", "10.9.8.11"),
        ("manager2", "10.9.8.12"),
        ("manager3", "10.9.8.13"),
        ("worker1", "10.9.8.101"),
        ("worker2", "10.9.8.102"),
        ("lb1", "10.9.8.201"),
        ("outsider1", "10.9.8.221"),
    ]
    assert lab.gateway == "10.9.8.1"


def test_names_of_namespaces_links_and_rules_carry_the_lab_name():
    lab = LabConfig(name="swts", subnet="10.9.8.0/24")
    host = lab.make_host("worker", 2)
    assert lab.netns(host) == "swts_worker2"  # '_' cannot occur in a lab name: no prefix clash
    assert lab.bridge == "swlswts" and lab.veth(host) == "swlswts-102"
    assert len(lab.veth(lab.make_host("worker", 99))) <= 15  # Linux's limit for link names
    assert lab.tag == "swarmops-lab:swts"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subnet": "10.9.0.0/16"}, "needs a /24"),
        ({"subnet": "banana"}, "not an IPv4 network"),
        ({"name": "bad_name"}, "letters, digits"),
        ({"bridge": "waytoolongname"}, "at most 10"),
    ],
)
def test_bad_lab_settings_are_refused_with_a_reason(kwargs, message):
    with pytest.raises(LabError, match=message):
        LabConfig(**kwargs)


def test_host_counts_are_bounded():
    lab = LabConfig(name="t1")
    with pytest.raises(LabError, match="at most 19 hosts of kind manager"):
        lab.plan_hosts({"manager": 20})
    with pytest.raises(LabError, match="allowed are manager, worker, lb, outsider"):
        lab.make_host("router", 1)
    with pytest.raises(LabError, match="0 or more"):
        lab.plan_hosts({"worker": -1})


def test_next_host_continues_numbering():
    lab = LabConfig(name="t1")
    lab.hosts = lab.plan_hosts({"manager": 1, "worker": 2})
    assert lab.next_host("worker").name == "worker3"
    assert lab.next_host("lb").name == "lb1"
    with pytest.raises(LabError, match="no lab host named 'db1'"):
        lab.host("db1")


def test_inventory_has_the_groups_and_connection_settings():
    lab = LabConfig(name="t1", subnet="10.9.8.0/24")
    lab.hosts = lab.plan_hosts({"manager": 1, "worker": 2, "lb": 1, "outsider": 0})
    data = yaml.safe_load(inventory.render(lab))
    children = data["all"]["children"]
    swarm = children["swarm"]["children"]
    assert swarm["managers"]["hosts"] == {"manager1": {"ansible_host": "10.9.8.11"}}
    assert sorted(swarm["workers"]["hosts"]) == ["worker1", "worker2"]
    assert children["lb"]["hosts"] == {"lb1": {"ansible_host": "10.9.8.201"}}
    assert children["outsiders"]["hosts"] == {}
    assert data["all"]["vars"]["ansible_user"] == "root"
    assert data["all"]["vars"]["ansible_ssh_private_key_file"].endswith("/t1/id_ed25519")


def test_neighbour_limits_grow_with_the_lab_and_keep_the_kernel_defaults_for_small_labs():
    from lab.netns import KERNEL_NEIGH_DEFAULTS, neighbour_limits

    assert neighbour_limits(7) == KERNEL_NEIGH_DEFAULTS == (128, 512, 1024)
    # 50 hosts overflowed the defaults and worked with these (shared/LAB.md).
    assert neighbour_limits(50) == (4096, 8192, 16384)
    assert neighbour_limits(100) == (16384, 32768, 65536)
    for hosts in range(1, 120):
        one, two, three = neighbour_limits(hosts)
        assert one <= two <= three and three >= 4 * hosts * hosts


def test_neighbour_limits_are_raised_never_lowered(tmp_path):
    from lab.netns import raise_neighbour_limits

    for key, value in {"gc_thresh1": 128, "gc_thresh2": 9000, "gc_thresh3": 1024}.items():
        (tmp_path / key).write_text(f"{value}\n")
    said = raise_neighbour_limits(50, tmp_path)
    values = [int((tmp_path / k).read_text()) for k in ("gc_thresh1", "gc_thresh2", "gc_thresh3")]
    assert values == [4096, 9000, 16384]
    assert "from 128/9000/1024 to 4096/9000/16384 for 50 hosts" in said and "never lowered" in said
    assert raise_neighbour_limits(5, tmp_path) == ""
    assert [int((tmp_path / k).read_text()) for k in ("gc_thresh1", "gc_thresh2", "gc_thresh3")] == values
