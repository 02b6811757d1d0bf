"""After backup.yml, the sample service's removal and recover.yml from the archive: the service
is back as the same service (its ID is in the archive; site.yml would make a new one), its
tasks run, and the backup files on the controller are private."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import labtest

EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


def test_the_backup_files_are_private():
    archives = sorted((EPHEMERAL / "backups").glob("swarm-*.tar.gz"))
    assert archives, "backup.yml wrote an archive"
    meta = json.loads(archives[-1].with_name(archives[-1].name.replace(".tar.gz", ".json")).read_text())
    assert meta["host"] != "manager1", "a follower was backed up, not the leader"
    assert "probe" in meta["services"]
    for path in (EPHEMERAL / "backups").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_removed_service_is_back_from_the_archive(lab):
    before = (EPHEMERAL / "probe-id").read_text().strip()
    manager = lab.nodes()
    leader = next(h for h, n in manager.items() if n["manager"] == "Leader")
    assert lab.docker(leader, "service", "inspect", "probe", "--format", "{{.ID}}").stdout.strip() == before

    def running():
        out = lab.docker(leader, "service", "ls", "--filter", "name=probe", "--format", "{{.Replicas}}").stdout
        return out.strip() == "2/2"

    labtest.wait_for(running, 120, what="probe 2/2")


def test_every_node_is_back_and_ready(lab):
    nodes = lab.nodes(via=next(h for h, n in lab.nodes().items() if n["manager"] == "Leader"))
    assert sorted(nodes) == ["manager1", "manager2", "manager3", "worker1", "worker2"]
    assert all(n["status"] == "Ready" for n in nodes.values())
    assert sorted(n["manager"] for n in nodes.values() if n["manager"]) == ["Leader", "Reachable", "Reachable"]
