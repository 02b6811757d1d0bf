"""The VM backend's pure parts: the inventory it writes, the image recipe, names and the mirror."""

from __future__ import annotations

import json

import pytest
import yaml

from lab import inventory, vmimage
from lab.backend import backend_for
from lab.config import LabConfig
from lab.sh import LabError
from lab.vm import VmBackend


def _lab(backend: str) -> LabConfig:
    lab = LabConfig(name="swvt", subnet="10.9.8.0/24", backend=backend, inventory="/nonexistent/hosts.yml")
    lab.hosts = lab.plan_hosts({"manager": 2, "worker": 1, "lb": 1, "outsider": 1})
    return lab


def test_vm_inventory_has_the_same_groups_and_installs_the_engine_per_host():
    vm, netns = yaml.safe_load(inventory.render(_lab("vm"))), yaml.safe_load(inventory.render(_lab("netns")))
    swarm = vm["all"]["children"]["swarm"]["children"]
    assert sorted(swarm) == sorted(netns["all"]["children"]["swarm"]["children"]) == ["managers", "workers"]
    assert sorted(vm["all"]["children"]) == ["lb", "outsiders", "swarm"]
    manager1 = swarm["managers"]["hosts"]["manager1"]
    # Host variables: they outrank inventories/lab/group_vars/all.yml, written for namespace hosts.
    assert manager1 == {
        "ansible_host": "10.9.8.11",
        "docker_engine_install": True,
        "swarm_lb_install": True,
        "ansible_ssh_timeout": 120,
    }
    assert netns["all"]["children"]["swarm"]["children"]["managers"]["hosts"]["manager1"] == {
        "ansible_host": "10.9.8.11"
    }


def test_vm_inventory_script_matches_the_file():
    data = json.loads(inventory.script(_lab("vm")))
    assert data["_meta"]["hostvars"]["worker1"]["docker_engine_install"] is True
    assert data["outsiders"]["hosts"] == ["outsider1"]


def test_backend_is_chosen_by_the_lab_and_unknown_ones_are_refused():
    assert isinstance(backend_for(_lab("vm")), VmBackend)
    with pytest.raises(LabError, match="allowed are netns, vm"):
        backend_for(LabConfig(name="swvt", backend="xen"))


def test_vm_names_carry_the_lab_name_and_macs_are_distinct():
    lab = _lab("vm")
    backend = VmBackend(lab)
    names = {backend._vm_name(h) for h in lab.hosts}
    assert all(n.startswith("swarmops-lab:swvt:") for n in names)
    macs = {backend._mac(h) for h in lab.hosts}
    assert len(macs) == len(lab.hosts)
    assert all(m.startswith("52:54:") for m in macs)
    assert backend.proxy_url == "http://10.9.8.1:3150"


def test_image_recipe_hash_follows_every_input(monkeypatch):
    base = vmimage.recipe()
    assert vmimage.recipe_hash(base) == vmimage.recipe_hash(vmimage.recipe())
    changed_file = json.loads(json.dumps(base))
    changed_file["files"]["/etc/resolv.conf"][0] = "0" * 64
    assert vmimage.recipe_hash(changed_file) != vmimage.recipe_hash(base)
    # A change of the guest files leaves the expensive packages stage cached.
    packages = vmimage.packages_root()
    monkeypatch.setitem(vmimage.GUEST_FILES, "/etc/motd", ("hello\n", 0o644))
    assert vmimage.current().folder != vmimage.IMAGES / f"debian12-{vmimage.recipe_hash(base)}"
    assert vmimage.packages_root() == packages
    monkeypatch.setitem(vmimage.RECIPE, "packages", [*vmimage.RECIPE["packages"], "less"])
    assert vmimage.packages_root() != packages


@pytest.mark.parametrize(
    ("text", "name", "mirror"),
    [
        ("Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n", "debian.sources",
         "http://mirror.example/debian"),
        ("deb http://ftp.example.org/debian bookworm main\n", "sources.list", "http://ftp.example.org/debian"),
        ("deb https://packages.example.com/apt stable main\n", "other.list", "http://deb.debian.org/debian"),
    ],
)  # fmt: skip
def test_debian_mirror_is_read_from_apt_sources(tmp_path, monkeypatch, text, name, mirror):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / name).write_text(text)
    real_path = vmimage.Path

    def fake(p, *rest):
        p = str(p)
        if p.startswith("/etc/apt/"):
            return real_path(str(tmp_path) + p.removeprefix("/etc/apt"), *rest)
        return real_path(p, *rest)

    monkeypatch.setattr(vmimage, "Path", fake)
    assert vmimage.debian_mirror() == mirror


def test_key_travels_as_one_command_line_word(tmp_path):
    pub = tmp_path / "id.pub"
    pub.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample swarmops-lab:swvt\n")
    word = vmimage.key_arg(pub)
    assert " " not in word and len(word) < 200
