"""site.yml takes lab hosts with a running engine and no swarm to a converged swarm."""

from __future__ import annotations

import json
import subprocess

import pytest

from support.lab import REPO, Lab, recap, total_changed, wait_for

SWARM = ["manager1", "manager2", "manager3", "worker1", "worker2"]


def _engine_state(lab: Lab) -> dict[str, tuple]:
    """What site.yml could change on each host, read from the host itself."""
    state = {}
    for host in [*SWARM, "lb1"]:
        out = lab.ssh(host, "cat /etc/docker/daemon.json 2>/dev/null; echo ---; cat /run/docker.pid; echo ---;"
                            "iptables -w -S; echo ---; docker info --format '{{.Swarm.LocalNodeState}}';"
                            "echo ---; cat /etc/haproxy/haproxy.cfg").stdout
        state[host] = tuple(out.split("---"))
    return state


def _can_connect(lab: Lab, source: str, target: str, port: int) -> bool:
    probe = f"timeout 2 bash -c 'echo > /dev/tcp/{lab.hosts[target]}/{port}'"
    return lab.ssh(source, probe, check=False).returncode == 0


@pytest.fixture(scope="module")
def site_lab():
    """A fresh lab of its own, with lb1 and outsider1, on which site.yml runs for real."""
    from support.lab import PREFIX, subnet

    lab = Lab(f"{PREFIX}site", subnet(10))
    lab.cli("down", check=False)
    try:
        lab.up(managers=3, workers=2, lb=1, outsiders=1)
        yield lab
    finally:
        lab.cli("down", check=False)


def test_check_mode_on_a_fresh_lab_changes_nothing(site_lab: Lab):
    before = _engine_state(site_lab)
    check = site_lab.playbook("site.yml", "--check", "--diff")
    assert all(h["failed"] == 0 for h in recap(check.stdout).values())
    assert total_changed(check.stdout) > 0  # it predicts the work...
    assert _engine_state(site_lab) == before  # ...and does none of it


def test_site_converges_the_cluster(site_lab: Lab):
    first = site_lab.playbook("site.yml")
    assert all(h["failed"] == 0 for h in recap(first.stdout).values())
    nodes = site_lab.nodes()
    assert sorted(nodes) == SWARM
    assert all(n["status"] == "Ready" for n in nodes.values())
    assert nodes["manager1"]["manager"] == "Leader"
    assert {nodes[m]["manager"] for m in ("manager2", "manager3")} == {"Reachable"}
    # The engine runs with the role's daemon.json.
    config = json.loads(site_lab.ssh("worker1", "cat /etc/docker/daemon.json").stdout)
    assert config == {"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}}
    assert site_lab.ssh("worker1", "docker info --format '{{.LoggingDriver}}'").stdout.strip() == "json-file"


def test_second_run_and_check_report_no_change(site_lab: Lab):
    second = site_lab.playbook("site.yml")
    assert total_changed(second.stdout) == 0, second.stdout[-3000:]
    check = site_lab.playbook("site.yml", "--check", "--diff")
    assert total_changed(check.stdout) == 0, check.stdout[-3000:]


def test_no_join_token_in_verbose_output(site_lab: Lab):
    verbose = site_lab.playbook("site.yml", "-vvv")
    assert "SWMTKN-" not in verbose.stdout + verbose.stderr


def test_swarm_ports_answer_members_only(site_lab: Lab):
    assert _can_connect(site_lab, "worker1", "manager1", 2377)
    assert _can_connect(site_lab, "manager2", "worker2", 7946)
    assert not _can_connect(site_lab, "outsider1", "manager1", 2377)
    assert not _can_connect(site_lab, "outsider1", "worker2", 7946)
    assert not _can_connect(site_lab, "lb1", "manager1", 2377)
    # Rules a person adds to the chain by hand are removed by the next run.
    site_lab.ssh("manager1", "iptables -w -A SWARMOPS-INPUT -p tcp -m tcp --dport 9999 -j DROP")
    run = site_lab.playbook("site.yml", "--tags", "firewall")
    assert recap(run.stdout)["manager1"]["changed"] == 1
    assert "9999" not in site_lab.ssh("manager1", "iptables -w -S SWARMOPS-INPUT").stdout


def test_sample_service_answers_through_the_load_balancer(site_lab: Lab):
    """The lab inventory's probe service (global on workers, host-mode 8080) behind lb1."""
    lb = site_lab.hosts["lb1"]

    def pages() -> set[str] | None:
        seen = set()
        for _ in range(6):
            r = subprocess.run(["curl", "-s", "-m", "2", f"http://{lb}:8080/"], capture_output=True, text=True)
            seen.add(r.stdout.strip())
        return seen if seen == {"swarmops probe v1 on worker1", "swarmops probe v1 on worker2"} else None

    assert wait_for(pages, 60, what="both workers' pages through lb1")
    stats = site_lab.ssh("lb1", "echo 'show servers state probe' | "
                                "python3 -c \"import socket,sys; s=socket.socket(socket.AF_UNIX);"
                                "s.connect('/run/haproxy/admin.sock'); s.sendall(sys.stdin.buffer.read());"
                                "print(s.makefile().read())\"").stdout
    assert "manager1" in stats and "worker1" in stats  # every node is a server of the backend
    stats_page = subprocess.run(["curl", "-sf", "-m", "2", f"http://{lb}:8404/stats"], capture_output=True)
    assert stats_page.returncode == 0


def test_live_restore_is_refused_and_nothing_changes(site_lab: Lab):
    before = site_lab.ssh("worker1", "cat /etc/docker/daemon.json /run/docker.pid").stdout
    extra = '{"docker_engine_extra_config": {"live-restore": true}}'
    run = site_lab.playbook("site.yml", "--tags", "engine", "-e", extra, check=False)
    assert run.returncode != 0
    assert "live-restore" in run.stdout and "incompatible with swarm" in run.stdout
    assert site_lab.ssh("worker1", "cat /etc/docker/daemon.json /run/docker.pid").stdout == before


@pytest.mark.parametrize(("host", "limit"), [("worker2", "worker2,manager1"), ("lb1", None)])
def test_preflight_stops_on_an_unreachable_host_before_any_change(site_lab: Lab, host: str, limit, tmp_path,
                                                                   monkeypatch):
    # With the real-host default (the engine role installs the engine), which once skipped the
    # preflight's only connecting task, and for an lb host, which it never reached; with
    # --limit, which once skipped the controller's verdict play and went on without the host.
    # SSH connections of its own, as an operator's first run: an open one to a host cut off
    # waits out the keep-alives (45 s) before it fails.
    monkeypatch.setenv("ANSIBLE_SSH_CONTROL_PATH_DIR", str(tmp_path))
    site_lab.cli("partition", host)
    try:
        run = site_lab.playbook("site.yml", "-e", '{"docker_engine_install": true}',
                                *(["--limit", limit] if limit else []), check=False)
    finally:
        site_lab.cli("heal", host)
    assert run.returncode != 0
    assert f"fatal: [{host}]: UNREACHABLE!" in run.stdout
    assert recap(run.stdout)[host]["failed"] == 1  # the preflight's check, which names it
    assert f"Unreachable or failed: {host}" in run.stdout
    assert "PLAY [Engine]" not in run.stdout  # stopped in preflight, before any change


def test_a_limit_without_a_manager_is_refused_before_any_change(site_lab: Lab):
    run = site_lab.playbook("site.yml", "--limit", "worker1", check=False)
    assert run.returncode != 0
    assert "--limit worker1 leaves out every manager" in run.stdout
    assert "PLAY [Engine]" not in run.stdout
    # The host layers alone need no manager (the run fails the test if it fails).
    site_lab.playbook("site.yml", "--limit", "worker1", "--tags", "engine,firewall")


def test_preflight_refuses_a_host_in_two_roles(site_lab: Lab, tmp_path):
    extra = tmp_path / "extra.yml"
    extra.write_text("all:\n  children:\n    swarm:\n      children:\n        workers:\n"
                     "          hosts:\n            manager1: {}\n")
    run = site_lab.playbook("site.yml", "-i", str(extra), check=False)
    assert run.returncode != 0
    assert "in both managers and workers: manager1" in run.stdout
    assert "PLAY [Engine]" not in run.stdout


def _playbook_with_inventory(lab: Lab, inventory, *args: str) -> subprocess.CompletedProcess:
    """site.yml with only the given inventory (lab.playbook always adds the lab's own)."""
    return subprocess.run(["ansible-playbook", "-i", str(inventory), "site.yml", *args],
                          cwd=REPO, capture_output=True, text=True, env=lab.ansible_env(), timeout=900)


def _inventory_moving(lab: Lab, host: str, source: str, target: str, name: str):
    """A copy of the lab's inventory (beside it, so its group_vars apply) with host moved."""
    import yaml

    data = yaml.safe_load(lab.inventory.read_text())
    groups = data["all"]["children"]["swarm"]["children"]
    groups[target].setdefault("hosts", {})[host] = groups[source]["hosts"].pop(host)
    path = lab.inventory.parent / name
    path.write_text(yaml.safe_dump(data))
    return path


def _wait_all_ready(lab: Lab) -> None:
    """Earlier tests partition and restart hosts: start from every node Ready again."""
    wait_for(lambda: all(n["status"] == "Ready" for n in lab.nodes().values()), timeout=120,
             what="every node Ready")


def test_roles_follow_the_inventory_groups(site_lab: Lab):
    _wait_all_ready(site_lab)
    demoted = _inventory_moving(site_lab, "manager3", "managers", "workers", "hosts-demote.yml")
    try:
        run = _playbook_with_inventory(site_lab, demoted, "--tags", "cluster")
        assert run.returncode == 0, run.stdout[-3000:]
        assert total_changed(run.stdout) == 1
        assert site_lab.nodes()["manager3"]["manager"] == ""
        again = _playbook_with_inventory(site_lab, demoted, "--tags", "cluster")
        assert total_changed(again.stdout) == 0, again.stdout[-3000:]
    finally:
        demoted.unlink()
    # Back in the managers group: promoted again, and then nothing left to do.
    run = site_lab.playbook("site.yml", "--tags", "cluster")
    assert total_changed(run.stdout) == 1
    # A promoted node shows as Reachable once it has joined raft, a moment after the API call.
    wait_for(lambda: site_lab.nodes()["manager3"]["manager"] == "Reachable", timeout=60, what="manager3 Reachable")
    assert total_changed(site_lab.playbook("site.yml").stdout) == 0


def test_a_host_in_another_swarm_is_refused_and_left_alone(site_lab: Lab):
    _wait_all_ready(site_lab)
    addr = site_lab.hosts["worker2"]
    site_lab.ssh("worker2", f"docker swarm leave --force && docker swarm init --advertise-addr {addr}")
    try:
        before = _engine_state(site_lab)
        foreign_id = site_lab.ssh("worker2", "docker info --format '{{.Swarm.Cluster.ID}}'").stdout.strip()
        run = site_lab.playbook("site.yml", check=False)
        assert run.returncode != 0
        assert "worker2 is already in another swarm" in run.stdout
        assert "Nothing was changed" in run.stdout
        assert _engine_state(site_lab) == before
        assert site_lab.ssh("worker2", "docker info --format '{{.Swarm.Cluster.ID}}'").stdout.strip() == foreign_id
    finally:
        # Put worker2 back: out of its own swarm, its stale node entry removed, joined again.
        site_lab.ssh("worker2", "docker swarm leave --force", check=False)
        stale = site_lab.ssh("manager1", "docker node ls -q --filter name=worker2").stdout.split()
        wait_for(lambda: "Down" in site_lab.ssh("manager1", "docker node ls --filter name=worker2").stdout,
                 timeout=60, what="worker2 seen down")
        for node_id in stale:
            site_lab.ssh("manager1", f"docker node rm --force {node_id}", check=False)
        site_lab.playbook("site.yml")
    assert site_lab.nodes()["worker2"]["status"] == "Ready"
    assert total_changed(site_lab.playbook("site.yml").stdout) == 0


def test_availability_from_the_inventory(site_lab: Lab):
    _wait_all_ready(site_lab)
    extra = '{"swarm_cluster_node_availability": "drain"}'
    run = site_lab.playbook("site.yml", "--tags", "cluster", "--limit", "manager1,manager2,manager3,worker1",
                            "-e", extra)
    # -e applies to every host in the play: all four drained in one call on the bootstrap
    # manager (one changed task), each drain planned knowing the ones before it; worker2 keeps
    # the services.
    assert total_changed(run.stdout) == 1
    nodes = site_lab.nodes()
    assert [h for h, n in nodes.items() if n["availability"] == "Drain"] == ["manager1", "manager2", "manager3",
                                                                             "worker1"]
    back = site_lab.playbook("site.yml", "--tags", "cluster", "-e", '{"swarm_cluster_node_availability": "active"}')
    assert total_changed(back.stdout) == 1
    assert total_changed(site_lab.playbook("site.yml").stdout) == 0


def test_nftables_backend_is_exact_and_replaces_the_iptables_chain(site_lab: Lab):
    nft = '{"swarm_firewall_backend": "nftables"}'
    first = site_lab.playbook("site.yml", "--tags", "firewall", "-e", nft)
    assert total_changed(first.stdout) > 0
    try:
        # The iptables chain is gone and the table holds the same policy.
        assert "SWARMOPS-INPUT" not in site_lab.ssh("manager1", "iptables -w -S INPUT").stdout
        assert "tcp dport 2377 drop" in site_lab.ssh("manager1", "nft list table inet swarmops").stdout
        assert _can_connect(site_lab, "worker1", "manager1", 2377)
        assert not _can_connect(site_lab, "outsider1", "manager1", 2377)
        assert not _can_connect(site_lab, "outsider1", "worker2", 7946)
        assert total_changed(site_lab.playbook("site.yml", "--tags", "firewall", "-e", nft).stdout) == 0
        # A rule added by hand is found and removed.
        site_lab.ssh("worker2", "nft add rule inet swarmops swarmops tcp dport 9999 drop")
        again = site_lab.playbook("site.yml", "--tags", "firewall", "-e", nft)
        assert recap(again.stdout)["worker2"]["changed"] == 1
        assert "9999" not in site_lab.ssh("worker2", "nft list table inet swarmops").stdout
    finally:
        back = site_lab.playbook("site.yml", "--tags", "firewall")
    assert total_changed(back.stdout) > 0
    assert site_lab.ssh("manager1", "nft list table inet swarmops", check=False).returncode != 0
    assert not _can_connect(site_lab, "outsider1", "manager1", 2377)
    assert total_changed(site_lab.playbook("site.yml").stdout) == 0


def test_sample_stack_follows_its_templated_compose_file(site_lab: Lab):
    def replicas() -> str:
        out = site_lab.ssh("manager1", "docker service ls --filter name=demo_web --format '{{.Replicas}}'")
        return out.stdout.strip()

    assert replicas() == "2/2"
    three = ('{"swarm_services_stacks": [{"name": "demo", "template": "demo-stack.yml.j2", "prune": true,'
             ' "vars": {"replicas": 3, "version": "1"}}]}')
    run = site_lab.playbook("site.yml", "--tags", "services", "-e", three)
    assert total_changed(run.stdout) == 1
    assert replicas() == "3/3"  # the role waits for convergence
    site_lab.playbook("site.yml", "--tags", "services")
    wait_for(lambda: replicas() == "2/2", timeout=120, what="demo_web back to 2/2")
    # Changed behind the inventory's back (an environment value, which the plan compares only
    # as a keyed digest): the read sees it, so the module runs and puts it back.
    env = "docker service inspect probe --format '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'"
    wanted = site_lab.ssh("manager1", env).stdout
    site_lab.ssh("manager1", "docker service update --detach --env-add PROBE_NODE=drifted probe")
    run = site_lab.playbook("site.yml", "--tags", "services", "-v")
    assert total_changed(run.stdout) == 1, run.stdout[-3000:]
    assert "drifted" not in run.stdout.split("TASK [swarm_services : Keep the services]")[0]
    assert site_lab.ssh("manager1", env).stdout == wanted
    assert total_changed(site_lab.playbook("site.yml", "--tags", "services").stdout) == 0


def test_ufw_backend_keeps_its_tagged_rules_exact(site_lab: Lab):
    members = ",".join(SWARM)
    ufw = '{"swarm_firewall_backend": "ufw"}'
    for host in SWARM:  # ufw on, allowing by default, so only its swarm rules decide
        site_lab.ssh(host, "ufw default allow incoming && ufw --force enable")
    try:
        first = site_lab.playbook("site.yml", "--tags", "firewall", "--limit", members, "-e", ufw)
        assert total_changed(first.stdout) > 0
        assert "SWARMOPS-INPUT" not in site_lab.ssh("manager1", "iptables -w -S INPUT").stdout
        added = site_lab.ssh("manager1", "ufw show added").stdout
        assert f"ufw allow from {site_lab.hosts['worker1']} to any port 2377 proto tcp comment 'swarmops'" in added
        assert _can_connect(site_lab, "worker1", "manager1", 2377)
        assert not _can_connect(site_lab, "outsider1", "manager1", 2377)
        assert not _can_connect(site_lab, "outsider1", "worker2", 7946)
        assert total_changed(site_lab.playbook("site.yml", "--tags", "firewall", "-e", ufw).stdout) == 0
        # A tagged rule added by hand goes; the host's own rules stay.
        site_lab.ssh("worker2", "ufw allow 9999/tcp comment swarmops && ufw allow 2222/tcp")
        again = site_lab.playbook("site.yml", "--tags", "firewall", "-e", ufw)
        assert recap(again.stdout)["worker2"]["changed"] == 1
        added = site_lab.ssh("worker2", "ufw show added").stdout
        assert "9999" not in added and "ufw allow 2222/tcp" in added
    finally:
        back = site_lab.playbook("site.yml", "--tags", "firewall")
        for host in SWARM:
            site_lab.ssh(host, "ufw --force disable && ufw --force reset", check=False)
    assert total_changed(back.stdout) > 0
    assert "swarmops" not in site_lab.ssh("manager1", "ufw show added").stdout
    assert not _can_connect(site_lab, "outsider1", "manager1", 2377)
    assert total_changed(site_lab.playbook("site.yml").stdout) == 0
