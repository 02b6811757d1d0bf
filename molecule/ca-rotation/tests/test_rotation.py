"""After rotate-ca.yml: every node holds a certificate of the new root. Then rotate-tokens.yml:
a host that presents the old worker token is refused, and joins with the new one."""

from __future__ import annotations

import json

import labtest

SWARM = ["manager1", "manager2", "manager3", "worker1", "worker2"]


def test_every_node_is_reissued_by_the_new_root(lab):
    info = json.loads(lab.docker("manager1", "system", "info", "--format", "{{json .Swarm.Cluster.TLSInfo}}").stdout)
    nodes = json.loads(lab.docker("manager1", "node", "inspect", *SWARM).stdout)
    assert len(nodes) == 5
    for node in nodes:
        tls = node["Description"]["TLSInfo"]
        assert tls["CertIssuerPublicKey"] == info["CertIssuerPublicKey"], node["Description"]["Hostname"]
        assert tls["CertIssuerSubject"] == info["CertIssuerSubject"]
    rotating = lab.docker("manager1", "system", "info", "--format",
                          "{{.Swarm.Cluster.RootRotationInProgress}}").stdout.strip()
    assert rotating == "false"


def test_an_old_join_token_is_refused_after_rotate_tokens(lab):
    old = lab.docker("manager1", "swarm", "join-token", "-q", "worker").stdout.strip()
    run = lab.playbook("playbooks/rotate-tokens.yml", "-e", "rotate_tokens=worker")
    assert old not in run.stdout and "SWMTKN-" not in run.stdout
    assert labtest.recap(run.stdout)["manager1"]["changed"] == 1
    new = lab.docker("manager1", "swarm", "join-token", "-q", "worker").stdout.strip()
    assert new != old

    old_id = lab.docker("manager1", "node", "inspect", "worker2", "--format", "{{.ID}}").stdout.strip()
    lab.ssh("worker2", "docker swarm leave")
    labtest.wait_for(lambda: lab.nodes()["worker2"]["status"] == "Down", 60, what="worker2 down")
    manager = f"{lab.hosts['manager1']}:2377"
    refused = lab.ssh("worker2", f"docker swarm join --token {old} {manager}", check=False)
    assert refused.returncode != 0
    assert "join token" in refused.stderr.lower(), "the refusal is about the token, not the network"
    joined = lab.ssh("worker2", f"docker swarm join --token {new} {manager}", check=False)
    assert joined.returncode == 0, "the new token is accepted"
    lab.docker("manager1", "node", "rm", old_id)
    labtest.wait_for(lambda: lab.nodes().get("worker2", {}).get("status") == "Ready", 60, what="worker2 ready")
