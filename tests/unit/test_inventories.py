"""The example and Vagrant inventories cannot run here; keep them in step with the lab's.

Each inventory is read by `ansible-inventory`, as Ansible itself would read it, and must
name the same groups and the same swarmops variables as the lab's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab import inventory
from lab.config import LabConfig

REPO = Path(__file__).resolve().parents[2]
GROUPS = {"swarm", "managers", "workers", "lb", "outsiders"}
# Variables that exist only for the lab or only for real hosts' connections.
CONNECTION_VARS = {
    "ansible_user",
    "ansible_become",
    "ansible_python_interpreter",
    "ansible_host",
    "ansible_ssh_private_key_file",
    "ansible_ssh_common_args",
    "swarmops_lab_name",
    "vagrant_provider",
}


def ansible_inventory(path: Path) -> dict:
    exe = Path(sys.executable).parent / "ansible-inventory"
    proc = subprocess.run([str(exe), "-i", str(path), "--list"], capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(proc.stdout)


def yaml_groups(path: Path) -> set[str]:
    """Every group a YAML inventory declares, empty ones included (ansible-inventory omits those)."""

    def walk(children: dict) -> set[str]:
        found = set()
        for name, body in (children or {}).items():
            found |= {name} | walk((body or {}).get("children"))
        return found

    return walk(yaml.safe_load(path.read_text())["all"]["children"])


def summary(data: dict) -> tuple[dict[str, list[str]], set[str]]:
    groups = {g for g in data if g not in ("_meta", "all", "ungrouped")}
    children = {g: sorted(data[g].get("children", [])) for g in groups if data[g].get("children")}
    variables = set()
    for hostvars in data["_meta"]["hostvars"].values():
        variables |= set(hostvars)
    return children, variables - CONNECTION_VARS


@pytest.fixture(scope="module")
def lab_inventory(tmp_path_factory) -> Path:
    lab = LabConfig(name="invtest", subnet="10.9.8.0/24", inventory=str(tmp_path_factory.mktemp("inv") / "hosts.yml"))
    lab.hosts = lab.plan_hosts({"manager": 3, "worker": 2, "lb": 1, "outsider": 0})
    return inventory.write(lab)


@pytest.mark.parametrize("name", ["example", "vagrant"])
def test_inventory_names_the_lab_groups_and_variables(name, lab_inventory):
    path = REPO / "inventories" / name
    assert yaml_groups(lab_inventory) == yaml_groups(path / "hosts.yml") == GROUPS
    lab_children, lab_vars = summary(ansible_inventory(lab_inventory))
    children, variables = summary(ansible_inventory(path))
    assert children == lab_children == {"swarm": ["managers", "workers"]}
    assert variables == lab_vars, f"{name}: differs from the lab by {variables ^ lab_vars}"


def test_vagrantfile_matches_the_vagrant_inventory():
    text = (REPO / "Vagrantfile").read_text()
    vms = dict(re.findall(r'"(\w+)"\s*=>\s*"([\d.]+)"', text))
    hostvars = ansible_inventory(REPO / "inventories" / "vagrant")["_meta"]["hostvars"]
    assert vms == {h: v["ansible_host"] for h, v in hostvars.items()}
    assert 'config.vm.box = "debian/bookworm64"' in text
