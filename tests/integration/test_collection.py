"""The collection as an operator uses it: the tarball `make collection` builds, installed with
ansible-galaxy into an empty collections path, driven by playbooks that name only FQCNs, from
a directory and an ansible.cfg that know nothing of this repository's library/ or roles/.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from support.lab import REPO, recap

GALAXY = yaml.safe_load((REPO / "collection/galaxy.yml").read_text())
TARBALL = REPO / "build" / f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"

# Only the collections path and the connection habits of the repository's ansible.cfg: no
# library, module_utils, roles_path, filter or doc fragment paths pointing into the repository.
CONFIG = """\
[defaults]
collections_path = {collections}
roles_path = {empty}
library = {empty}
gathering = explicit
interpreter_python = auto_silent
retry_files_enabled = False

[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=60s
control_path_dir = {tmp}/ssh
"""

PLAYBOOK = """\
---
- name: Preflight, the collection's playbook
  ansible.builtin.import_playbook: swarmops.swarm.preflight

- name: Cluster, the collection's role
  hosts: swarm
  gather_facts: false
  roles:
    - role: swarmops.swarm.swarm_cluster

- name: A service, and the action group's defaults
  hosts: managers[0]
  gather_facts: false
  module_defaults:
    group/swarmops.swarm.docker:
      api_timeout: 30
  tasks:
    - name: Run a service by the module's FQCN
      swarmops.swarm.swarm_service:
        name: colltest
        image: swarmops/probe:1
        replicas: 2
      register: colltest_service

    - name: Point every engine module elsewhere through the group; swarm_info must try there
      swarmops.swarm.swarm_info:
      module_defaults:
        group/swarmops.swarm.docker:
          docker_host: unix:///run/swarmops-colltest-none.sock
      register: colltest_elsewhere
      failed_when: "'swarmops-colltest-none.sock' not in (colltest_elsewhere.msg | default(''))"

    - name: Read the swarm through the default socket again
      swarmops.swarm.swarm_info:
      register: colltest_info

    - name: Check what the modules reported
      ansible.builtin.assert:
        that:
          - colltest_service.changed
          - colltest_info.nodes | length == 2
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """The tarball built afresh and installed into a collections path of its own; the env to
    run ansible with it."""
    subprocess.run([sys.executable, str(REPO / "collection/build.py")], check=True, cwd=REPO, capture_output=True)
    tmp = tmp_path_factory.mktemp("collection")
    collections = tmp / "collections"
    (tmp / "empty").mkdir()
    (tmp / "ansible.cfg").write_text(CONFIG.format(collections=collections, empty=tmp / "empty", tmp=tmp))
    venv_bin = str(Path(sys.executable).parent)
    env = {"PATH": f"{venv_bin}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp), "LC_ALL": "C.UTF-8",
           "ANSIBLE_CONFIG": str(tmp / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
    subprocess.run(["ansible-galaxy", "collection", "install", str(TARBALL), "-p", str(collections)],
                   check=True, cwd=tmp, env=env, capture_output=True, text=True)
    assert (collections / "ansible_collections/swarmops/swarm/MANIFEST.json").is_file()
    return {"env": env, "cwd": str(tmp)}


def run(installed: dict, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(argv)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_docs_render_from_the_installed_collection(installed):
    out = run(installed, "ansible-doc", "swarmops.swarm.swarm_node").stdout
    assert "swarmops.swarm.swarm_node" in out
    assert "docker_host" in out  # the doc fragment, resolved by its FQCN
    roles = run(installed, "ansible-doc", "-t", "role", "swarmops.swarm.swarm_cluster").stdout
    assert "swarm_advertise_addr" in roles


def test_playbooks_with_fqcns_only_on_a_lab(installed, make_lab):
    lab = make_lab(managers=1, workers=1)
    play = Path(installed["cwd"]) / "cluster.yml"
    play.write_text(textwrap.dedent(PLAYBOOK))
    first = run(installed, "ansible-playbook", "-i", str(lab.inventory), str(play))
    assert recap(first.stdout)["manager1"]["failed"] == 0
    nodes = lab.nodes()
    assert sorted(nodes) == ["manager1", "worker1"], nodes
    service = lab.docker_json("manager1", "service", "inspect", "colltest")[0]
    assert service["Spec"]["Mode"]["Replicated"]["Replicas"] == 2

    # The collection's lifecycle playbook, by name: worker1 drained, its engine restarted, active.
    maint = run(installed, "ansible-playbook", "-i", str(lab.inventory), "swarmops.swarm.maintenance",
                "--limit", "worker1")
    assert recap(maint.stdout)["worker1"]["failed"] == 0
    assert lab.nodes()["worker1"]["availability"].lower() == "active"
