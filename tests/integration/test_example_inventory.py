"""The example inventory that the README tells operators to copy converges real hosts.

Its variables are used unchanged except for what an operator changes anyway: the host list
(here the lab's, with its SSH settings), the user (root, which needs no become; lab hosts have
no sudo) and the cluster's networks (the lab's /24). So the real-host defaults are what runs:
the engine role installing the engine (docker.io is already installed on lab hosts, which
share the machine's packages, so apt finds nothing to do), HAProxy installed by its role, no
`min_available`, and an advertise address that needs no gathered facts and no default route
(lab hosts have none).
"""

from __future__ import annotations

import shutil
import subprocess

from support.lab import REPO, Lab, recap, total_changed

EXAMPLE = REPO / "inventories" / "example"


def _example_inventory(lab: Lab, tmp_path) -> str:
    folder = tmp_path / "mycluster"
    (folder / "group_vars").mkdir(parents=True)
    shutil.copy(lab.inventory, folder / "hosts.yml")
    shutil.copy(EXAMPLE / "group_vars" / "swarm.yml", folder / "group_vars" / "swarm.yml")
    text = (EXAMPLE / "group_vars" / "all.yml").read_text()
    for old, new in (("ansible_user: admin", "ansible_user: root"), ("ansible_become: true", "ansible_become: false"),
                     ("  - 192.0.2.0/24", f"  - {lab.subnet}")):
        assert old in text, f"the example no longer has {old!r}: update this test"
        text = text.replace(old, new)
    (folder / "group_vars" / "all.yml").write_text(text)
    return str(folder)


def _site(lab: Lab, inventory: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ansible-playbook", "-i", inventory, str(REPO / "site.yml")], cwd=REPO,
                          capture_output=True, text=True, env=lab.ansible_env(), timeout=900)


def test_the_example_inventory_converges_and_reruns_with_no_change(make_lab, tmp_path):
    lab = make_lab(managers=1, workers=1, lb=1)
    inventory = _example_inventory(lab, tmp_path)
    first = _site(lab, inventory)
    assert first.returncode == 0, first.stdout[-4000:]
    assert set(recap(first.stdout)) == {"manager1", "worker1", "lb1"}
    nodes = lab.nodes()
    assert sorted(nodes) == ["manager1", "worker1"] and all(n["status"] == "Ready" for n in nodes.values())
    # The advertised address is the inventory address.
    addr = lab.docker_json("worker1", "info", "--format", "{{json .Swarm.NodeAddr}}")
    assert addr == lab.hosts["worker1"]
    again = _site(lab, inventory)
    assert again.returncode == 0 and total_changed(again.stdout) == 0, again.stdout[-3000:]
