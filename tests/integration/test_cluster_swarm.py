"""The swarm, swarm_token, swarm_ca, swarm_unlock and swarm_info modules on a lab of their own.

One module-scoped lab (3 managers + 2 workers, no swarm at first): the tests run in file order
and build on each other the way an operator would: check mode on bare hosts, init (twice), join
through a playbook, token rotation with new hosts joining, CA rotation, autolock round trip,
and check mode on the formed swarm. Every ansible run at -vvv is scanned for tokens and keys.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from support.cluster import engine_state, no_secrets, run, wait_nodes
from support.lab import PREFIX, Lab, subnet

FAKE_TOKEN = "SWMTKN-1-" + "0" * 50 + "-" + "a" * 25


@pytest.fixture(scope="module")
def lab():
    lab = Lab(f"{PREFIX}cf", subnet(5))
    lab.cli("down", check=False)
    try:
        lab.up(managers=3, workers=2)
        yield lab
    finally:
        lab.cli("down", check=False)


def local_states(lab) -> dict:
    return {h: lab.docker(h, "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
            for h in sorted(lab.hosts)}


def cluster_spec(lab, via="manager1") -> dict:
    return lab.docker_json(via, "info", "--format", "{{json .Swarm.Cluster.Spec}}")


def test_check_mode_and_bad_input_on_bare_hosts_change_nothing(lab):
    before = local_states(lab)
    assert set(before.values()) == {"inactive"}
    r = run(lab, "manager1", "swarm", f"advertise_addr={lab.hosts['manager1']} autolock=true", "--check", "--diff")
    assert r["changed"] and r["actions"] == ["init a new swarm"]
    r = run(lab, "worker1", "swarm", f"state=join remote_addrs={lab.hosts['manager1']} join_token={FAKE_TOKEN}",
            "--check")
    assert r["changed"] and r["actions"][0].startswith("join the swarm")
    bad = [
        ("swarm", "cert_expiry=bogus", "cert_expiry"),
        ("swarm", "state=sideways", "state"),
        ("swarm", "state=join remote_addrs=10.0.0.1", "join_token"),
        ("swarm", "state=join remote_addrs=10.0.0.1 join_token=hello", "join_token"),
        ("swarm", "default_addr_pool=not-a-cidr", "default_addr_pool"),
        ("swarm", "state=absent task_history_limit=3", "task_history_limit"),
        ("swarm_node", "node=worker1 availability=sleepy", "availability"),
        ("swarm_token", "rotate=everything", "rotate"),
        ("swarm_unlock", "unlock_key=not-a-key", "unlock_key"),
        ("swarm_ca", "ca_cert=nonsense", "ca_cert"),
    ]
    for module, args, field in bad:
        r = run(lab, "manager1", module, args, ok=False)
        assert field in r["msg"], (module, args, r["msg"])
        assert not r.get("changed")
    r = run(lab, "manager1", "swarm_token", "", ok=False)
    assert "not in a swarm" in r["msg"]
    assert local_states(lab) == before


def test_init_twice_second_unchanged_and_settings_kept(lab):
    args = f"advertise_addr={lab.hosts['manager1']} task_history_limit=3 cert_expiry=60d"
    first = run(lab, "manager1", "swarm", args)
    assert first["changed"] and first["role"] == "manager" and first["swarm_id"]
    second = run(lab, "manager1", "swarm", args)
    assert not second["changed"] and second["swarm_id"] == first["swarm_id"]
    assert second["settings"]["task_history_limit"] == 3 and second["settings"]["cert_expiry"] == "60d"
    spec = cluster_spec(lab)
    assert spec["Orchestration"]["TaskHistoryRetentionLimit"] == 3
    assert spec["CAConfig"]["NodeCertExpiry"] == 60 * 86400 * 10**9
    # changing one setting keeps the others (the API replaces the whole spec)
    r = run(lab, "manager1", "swarm", "dispatcher_heartbeat=10s snapshot_interval=5000", "--diff")
    assert r["changed"] and {c.split(" ")[1] for c in r["actions"]} == {"dispatcher_heartbeat", "snapshot_interval"}
    assert re.search(r'^-\s+"dispatcher_heartbeat": "5s",?$', r["_output"], re.MULTILINE), r["_output"]
    assert re.search(r'^\+\s+"dispatcher_heartbeat": "10s",?$', r["_output"], re.MULTILINE)
    spec = cluster_spec(lab)
    assert spec["Dispatcher"]["HeartbeatPeriod"] == 10 * 10**9 and spec["Raft"]["SnapshotInterval"] == 5000
    assert spec["CAConfig"]["NodeCertExpiry"] == 60 * 86400 * 10**9
    assert spec["Orchestration"]["TaskHistoryRetentionLimit"] == 3
    assert not run(lab, "manager1", "swarm", "dispatcher_heartbeat=10s snapshot_interval=5000")["changed"]
    # a setting fixed at init warns instead of pretending to change
    r = run(lab, "manager1", "swarm", "subnet_size=26")
    assert not r["changed"] and "subnet_size" in r["_output"] and "fixed when the swarm is created" in r["_output"]


def test_join_two_managers_two_workers_by_playbook(lab):
    proc = lab.playbook("tests/integration/playbooks/cluster_form.yml", "-vvv")
    no_secrets(proc.stdout + proc.stderr)
    nodes = wait_nodes(lab, lambda n: len(n) == 5 and all(v["status"] == "Ready" for v in n.values()),
                       what="5 ready nodes")
    assert {h for h, v in nodes.items() if v["manager"]} == {"manager1", "manager2", "manager3"}
    assert {v["manager"] for h, v in nodes.items() if h.startswith("manager")} <= {"Leader", "Reachable"}
    assert {h for h, v in nodes.items() if not v["manager"]} == {"worker1", "worker2"}
    again = lab.playbook("tests/integration/playbooks/cluster_form.yml")
    recap = again.stdout[again.stdout.index("PLAY RECAP"):]
    assert recap.count("changed=0") == 5, recap
    info = run(lab, "manager2", "swarm_info")
    assert info["quorum"] == {"managers": 3, "reachable": 3, "quorum": 2, "has_quorum": True,
                              "failures_tolerated": 1, "can_still_lose": 1}
    assert info["leader"] == "manager1" and len(info["nodes"]) == 5
    assert "SWMTKN-" not in str(info) and "JoinTokens" not in str(info)
    assert not run(lab, "worker1", "swarm_info")["is_manager"]


def test_scan_would_catch_a_printed_token(lab):
    """The -vvv scans mean something: a task that prints a token is caught."""
    with pytest.raises(AssertionError, match="secrets in the output"):
        proc = lab.module("manager1", "ansible.builtin.command", "docker swarm join-token -q worker", "-vvv")
        no_secrets(proc.stdout)


def token(lab, role: str) -> str:
    return lab.docker("manager1", "swarm", "join-token", "-q", role).stdout.strip()


def test_rotate_tokens_old_refused_new_accepted(lab):
    old = {r: token(lab, r) for r in ("worker", "manager")}
    r = run(lab, "manager1", "swarm_token", "rotate=both role=worker", "-vvv")
    no_secrets(r["_output"])
    assert r["changed"] and r["rotated"] == ["worker", "manager"] and "token" not in r
    # A rotation shows the fingerprints; the token is masked without a warning (rotating is the job).
    assert "not no_log" not in r["_output"] and r["diff"]["before"] != r["diff"]["after"]
    assert "not no_log" in run(lab, "manager1", "swarm_token", "role=worker")["_output"]  # a read says how
    new = {k: token(lab, k) for k in old}
    assert all(new[k] != old[k] for k in old)
    assert not run(lab, "manager1", "swarm_token", "role=manager")["changed"]

    lab.cli("add", "worker")
    lab.cli("add", "manager")
    lab.refresh()
    first = lab.hosts["manager1"]
    for host, role in (("worker3", "worker"), ("manager4", "manager")):
        join = f"state=join advertise_addr={lab.hosts[host]} remote_addrs={first}:2377 join_token="
        refused = run(lab, host, "swarm", join + old[role], "-vvv", ok=False)
        no_secrets(refused["_output"])
        assert lab.docker(host, "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "inactive"
        joined = run(lab, host, "swarm", join + new[role], "-vvv")
        no_secrets(joined["_output"])
        assert joined["changed"] and joined["role"] == role
    nodes = wait_nodes(lab, lambda n: len(n) == 7 and n.get("manager4", {}).get("manager") == "Reachable",
                       what="worker3 and manager4 in the swarm")
    assert nodes["worker3"]["status"] == "Ready" and not nodes["worker3"]["manager"]


def test_manager_leaves_and_is_removed(lab):
    refused = run(lab, "manager1", "swarm_node", "node=manager2 state=absent", ok=False)
    assert "is a manager" in refused["msg"]
    left = run(lab, "manager4", "swarm", "state=absent")
    assert left["changed"] and left["role"] == "none" and left["quorum"]["ok"]
    assert left["actions"] == ["demote this manager", "leave the swarm"]
    assert not run(lab, "manager4", "swarm", "state=absent")["changed"]
    wait_nodes(lab, lambda n: n["manager4"]["status"] == "Down" and not n["manager4"]["manager"],
               what="manager4 down and demoted")
    removed = run(lab, "manager1", "swarm_node", "node=manager4 state=absent")
    assert removed["changed"] and "manager4" not in lab.nodes()
    assert not run(lab, "manager1", "swarm_node", "node=manager4 state=absent")["changed"]
    info = run(lab, "manager1", "swarm_info")
    assert info["quorum"]["managers"] == 3 and info["quorum"]["reachable"] == 3


def node_issuers(lab) -> dict:
    ids = lab.docker("manager1", "node", "ls", "-q").stdout.split()
    return {n["Description"]["Hostname"]: n["Description"]["TLSInfo"]["CertIssuerPublicKey"]
            for n in lab.docker_json("manager1", "node", "inspect", *ids)}


def test_ca_rotation_reissues_every_node(lab):
    before = node_issuers(lab)
    old_root = lab.docker_json("manager1", "info", "--format", "{{json .Swarm.Cluster.TLSInfo}}")
    r = run(lab, "manager1", "swarm_ca", "rotate=true", "--diff")
    assert r["changed"] and r["rotated"] and not r["rotation"]["timed_out"]
    assert len(r["nodes"]) == 6 and all(n["tls_current"] for n in r["nodes"])
    # right after the module returned: every node's issuer is the new root
    after = node_issuers(lab)
    root = lab.docker_json("manager1", "info", "--format", "{{json .Swarm.Cluster.TLSInfo}}")
    assert root["CertIssuerPublicKey"] != old_root["CertIssuerPublicKey"]
    assert set(after) == set(before)
    for host in after:
        assert after[host] != before[host], host
        assert after[host] == root["CertIssuerPublicKey"], host
    assert lab.docker_json("manager1", "info", "--format", "{{json .Swarm.Cluster.RootRotationInProgress}}") is False
    nodes = lab.nodes()
    assert all(v["status"] == "Ready" for v in nodes.values()), nodes
    info = run(lab, "manager2", "swarm_info")
    assert info["quorum"]["has_quorum"] and not info["ca_rotation_in_progress"]
    # cert expiry: unchanged when it holds, changed once otherwise
    assert not run(lab, "manager1", "swarm_ca", "cert_expiry=60d")["changed"]
    assert run(lab, "manager1", "swarm_ca", "cert_expiry=45d")["changed"]
    assert not run(lab, "manager1", "swarm_ca", "cert_expiry=45d")["changed"]
    assert cluster_spec(lab)["CAConfig"]["NodeCertExpiry"] == 45 * 86400 * 10**9


def test_ca_rotation_to_a_given_root_and_again_unchanged(lab, tmp_path):
    key, crt = tmp_path / "ca.key", tmp_path / "ca.crt"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True)
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", str(key), "-subj", "/CN=swarmops-test-root",
                    "-days", "3650", "-out", str(crt), "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                    "-addext", "basicConstraints=critical,CA:TRUE"], check=True, capture_output=True)
    play = tmp_path / "ca.yml"
    play.write_text(f"""---
- name: Rotate to a given root, then again with the same one
  hosts: managers[0]
  tasks:
    - name: Rotate
      swarm_ca:
        ca_cert: "{{{{ lookup('file', '{crt}') }}}}"
        ca_key: "{{{{ lookup('file', '{key}') }}}}"
      register: first
      failed_when: not first.changed or not first.rotated
    - name: Same root again
      swarm_ca:
        ca_cert: "{{{{ lookup('file', '{crt}') }}}}"
        ca_key: "{{{{ lookup('file', '{key}') }}}}"
      register: second
      failed_when: second.changed
""")
    proc = lab.playbook(str(play), "-vvv")
    assert "PRIVATE KEY" not in proc.stdout + proc.stderr
    no_secrets(proc.stdout + proc.stderr)
    root = lab.docker_json("manager1", "info", "--format", "{{json .Swarm.Cluster.TLSInfo}}")
    assert "".join(root["TrustRoot"].split()) == "".join(crt.read_text().split())
    assert set(node_issuers(lab).values()) == {root["CertIssuerPublicKey"]}
    assert all(v["status"] == "Ready" for v in lab.nodes().values())


def test_autolock_restart_unlock(lab):
    proc = lab.playbook("tests/integration/playbooks/cluster_autolock.yml", "-vvv")
    no_secrets(proc.stdout + proc.stderr)
    assert "ok=9" in proc.stdout and "failed=0" in proc.stdout
    assert cluster_spec(lab)["EncryptionConfig"]["AutoLockManagers"] is False
    assert lab.docker("manager2", "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "active"
    wait_nodes(lab, lambda n: n["manager2"]["manager"] in ("Reachable", "Leader"), what="manager2 reachable")


def test_check_mode_on_the_swarm_changes_nothing(lab):
    managers = ["manager1", "manager2", "manager3"]
    before = engine_state(lab, managers)
    checks = [
        ("manager1", "swarm", "task_history_limit=9 autolock=true cert_expiry=10d"),
        ("manager1", "swarm_token", "rotate=both"),
        ("manager1", "swarm_node", "node=worker1 availability=drain role=manager labels={'x':'y'}"),
        ("manager1", "swarm_node", "node=manager3 role=worker"),
        ("manager1", "swarm_node", "node=worker3 state=absent force=true"),
        ("manager1", "swarm_ca", "rotate=true cert_expiry=10d"),
        ("worker2", "swarm", "state=absent"),
        ("manager2", "swarm", "state=absent"),
    ]
    for host, module, args in checks:
        r = run(lab, host, module, args, "--check", "--diff", "-vvv")
        assert r["changed"], (module, args, r)
        assert "--- before" in r["_output"] and "+++ after" in r["_output"], (module, args)
        no_secrets(r["_output"])
    assert engine_state(lab, managers) == before


def test_last_manager_leave_refused_unless_forced(make_lab):
    solo = make_lab(managers=1, workers=0)
    assert run(solo, "manager1", "swarm", f"advertise_addr={solo.hosts['manager1']}")["changed"]
    r = run(solo, "manager1", "swarm", "state=absent", ok=False)
    assert "last manager" in r["msg"] and "nothing was changed" in r["msg"] and not r["changed"]
    assert solo.docker("manager1", "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "active"
    assert run(solo, "manager1", "swarm", "state=absent force=true", "--check")["changed"]
    assert solo.docker("manager1", "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "active"
    r = run(solo, "manager1", "swarm", "state=absent force=true")
    assert r["changed"] and r["role"] == "none"
    assert solo.docker("manager1", "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "inactive"
