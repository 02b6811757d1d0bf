"""The firewalld backend of roles/swarm_firewall on real Debian 12 VMs running firewalld and
Docker 20.10: exact and idempotent, honest in check mode, swarm ports closed to an outsider
and open between members, the routing mesh and an encrypted overlay working, and still working
after hand edits to the policy are removed (without a firewalld reload, which on Docker 20.10
removes the swarm's iptables rules), the reload a new policy needs refused on a swarm node
unless allowed, the policy kept across a reboot, and switching backends cleaning up.
Run in order (each test builds on the lab the previous ones left); slow: `pytest -s -v
tests/vm_firewalld` (or `make test-firewalld`) took 24.6 min here, alone on the machine."""

from __future__ import annotations

import json
import time

from support.lab import wait_for
from support.vm_firewalld import FIREWALLD, MEMBERS, http_get, nodes_ready, play, reachable_tcp, wait_ready

ROLE = "tests/vm_firewalld/firewall.yml"
POLICY_FILE = "/etc/firewalld/policies/swarmops.xml"
# Docker's routing-mesh rules, which a firewalld reload removes and Docker 20.10 does not put back.
INGRESS_RULES = "iptables-save -t nat | grep -c DOCKER-INGRESS || true"


def _rich_rules(lab, host: str, permanent: bool = False) -> list[str]:
    flag = "--permanent " if permanent else ""
    return lab.ssh(host, f"firewall-cmd {flag}--policy=swarmops --list-rich-rules").stdout.splitlines()


def test_site_converges_with_firewalld_and_a_second_run_changes_nothing(fw_lab, converged):
    assert converged.rc == 0
    assert all(h["failed"] == 0 and h["unreachable"] == 0 for h in converged.recap.values()), converged.recap
    again = play(fw_lab, "site.yml", *FIREWALLD)
    assert again.changed == 0, again.stdout[-4000:]


def test_check_mode_with_diff_reports_no_change(fw_lab, converged):
    run = play(fw_lab, "site.yml", *FIREWALLD, "--check", "--diff")
    assert run.changed == 0, run.stdout[-4000:]


def test_the_policy_holds_exactly_the_swarm_rules(fw_lab, converged):
    members = [fw_lab.hosts[h] for h in MEMBERS]
    for host in MEMBERS:
        rules = _rich_rules(fw_lab, host)
        assert rules == _rich_rules(fw_lab, host, permanent=True), "runtime and permanent differ"
        ports = ["tcp 7946", "udp 7946", "udp 4789"] + (["tcp 2377"] if host.startswith("manager") else [])
        for addr in members:
            for proto_port in ports:
                proto, port = proto_port.split()
                assert (f'rule priority="-2" family="ipv4" source address="{addr}/32" port port="{port}" '
                        f'protocol="{proto}" accept') in rules, (host, addr, proto_port, rules)
            assert f'rule priority="-2" family="ipv4" source address="{addr}/32" protocol value="esp" accept' \
                in rules
        for proto_port in ports:
            proto, port = proto_port.split()
            assert f'rule priority="-1" port port="{port}" protocol="{proto}" drop' in rules
        assert 'rule priority="-1" protocol value="esp" drop' in rules
        expected = len(members) * (len(ports) + 1) + len(ports) + 1
        assert len(rules) == expected, rules
        info = fw_lab.ssh(host, "firewall-cmd --info-policy=swarmops").stdout
        assert "priority: -100" in info and "target: CONTINUE" in info
        assert "ingress-zones: ANY" in info and "egress-zones: HOST" in info
        # No zone was changed: the default zone is Debian's public zone as shipped (the only
        # zone file is the one Docker writes for docker0).
        public = fw_lab.ssh(host, "firewall-cmd --permanent --zone=public --list-ports; "
                                  "ls /etc/firewalld/zones").stdout.split()
        assert public in ([], ["docker.xml"]), public
        # firewalld restores it at boot: no boot-time unit of swarmops' own is left.
        assert fw_lab.ssh(host, "test -e /etc/systemd/system/swarmops-firewall.service",
                          check=False).returncode == 1
        # Switching to firewalld removed the other backends' rules.
        assert fw_lab.ssh(host, "iptables -w -S SWARMOPS-INPUT", check=False).returncode != 0


def test_swarm_ports_are_closed_to_an_outsider_and_open_between_members(fw_lab, converged):
    assert reachable_tcp(fw_lab, "worker1", "manager1", 2377)
    assert reachable_tcp(fw_lab, "worker1", "manager1", 7946)
    assert reachable_tcp(fw_lab, "manager1", "worker1", 7946)
    assert not reachable_tcp(fw_lab, "outsider1", "manager1", 2377)
    assert not reachable_tcp(fw_lab, "outsider1", "manager1", 7946)
    assert not reachable_tcp(fw_lab, "outsider1", "worker1", 7946)
    # ssh, which the public zone allows, still answers the outsider: the policy only speaks
    # for the swarm's ports.
    assert reachable_tcp(fw_lab, "outsider1", "worker1", 22)


def test_the_sample_service_answers_on_its_published_port(fw_lab, converged):
    page = wait_for(lambda: http_get(fw_lab, "outsider1", "worker1", 8080), timeout=300, interval=5,
                    what="the probe on worker1:8080")  # fmt: skip
    assert page.startswith("swarmops probe"), page


def _overlay_service(lab, name: str, network: str) -> tuple[str, str]:
    """A 2-task service on `network`, one task per node; (manager1's container, worker1's task IP)."""
    lab.ssh("manager1", f"docker service rm {name} >/dev/null 2>&1; docker network rm {network} >/dev/null 2>&1; "
                        f"docker network create --driver overlay --opt encrypted --attachable {network} && "
                        f"docker service create --detach --name {name} --replicas 2 --replicas-max-per-node 1 "
                        f"--network {network} --env PROBE_NODE='{{{{.Node.Hostname}}}}' "
                        f"--publish published=8081,target=80,mode=ingress swarmops/probe:1")  # fmt: skip

    def running() -> list[str]:
        out = lab.ssh("manager1", f"docker service ps {name} --filter desired-state=running "
                                  "--format '{{.Node}} {{.CurrentState}}'").stdout  # fmt: skip
        return sorted(line.split()[0] for line in out.splitlines() if " Running " in f" {line} ")

    wait_for(lambda: running() == sorted(MEMBERS), timeout=300, interval=3, what=f"{name} on both nodes")
    local = lab.ssh("manager1", f"docker ps -q --filter label=com.docker.swarm.service.name={name}").stdout.split()[0]
    remote = lab.ssh("worker1", f"docker ps -q --filter label=com.docker.swarm.service.name={name}").stdout.split()[0]
    fmt = "{{(index .NetworkSettings.Networks \"" + network + "\").IPAddress}}"
    peer_ip = lab.ssh("worker1", f"docker inspect -f '{fmt}' {remote}").stdout.strip()
    return local, peer_ip


def _overlay_and_mesh_work(lab, local: str, peer_ip: str) -> None:
    fetch = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {peer_ip} 80"
    page = wait_for(lambda: lab.ssh("manager1", f"docker exec {local} sh -c \"{fetch}\"",
                                    check=False).stdout.strip(), timeout=120, interval=3,
                    what="manager1's task to reach worker1's over the encrypted overlay")  # fmt: skip
    assert page.splitlines()[-1] == "swarmops probe v1 on worker1", page
    assert "proto esp" in lab.ssh("worker1", "ip xfrm state").stdout
    # The routing mesh from the outsider, on both nodes: seen answering from both tasks.
    for node in MEMBERS:
        seen = set()
        deadline = time.monotonic() + 180
        while seen != set(MEMBERS) and time.monotonic() < deadline:
            try:
                seen.add(http_get(lab, "outsider1", node, 8081).rsplit(" ", 1)[1])
            except AssertionError:
                time.sleep(2)
        assert seen == set(MEMBERS), (node, seen)


def test_hand_edits_are_removed_without_a_reload_so_the_mesh_and_encrypted_overlay_keep_working(fw_lab, converged):
    local, peer_ip = _overlay_service(fw_lab, "fwmesh", "fwsecret")
    try:
        _overlay_and_mesh_work(fw_lab, local, peer_ip)
        fw_lab.ssh("worker1", "firewall-cmd --permanent --policy=swarmops --add-port=1234/tcp && "
                              "firewall-cmd --policy=swarmops --add-port=1234/tcp")  # fmt: skip
        fw_lab.ssh("manager1", "firewall-cmd --policy=swarmops --add-rich-rule="
                               "'rule family=ipv4 source address=10.9.9.9 accept'")  # runtime only
        check = play(fw_lab, ROLE, *FIREWALLD, "--check", "--diff")
        assert check.recap["worker1"]["changed"] == 1 and check.recap["manager1"]["changed"] == 1
        assert "ports: 1234/tcp" in check.stdout and "10.9.9.9" in check.stdout
        assert "1234/tcp" in fw_lab.ssh("worker1", "firewall-cmd --policy=swarmops --list-ports").stdout
        # Docker's swarm rules before the fix, to compare after it: a reload would remove them.
        before = {h: fw_lab.ssh(h, INGRESS_RULES).stdout.strip() for h in MEMBERS}
        fixed = play(fw_lab, ROLE, *FIREWALLD)
        assert fixed.recap["worker1"]["changed"] == 1 and fixed.recap["manager1"]["changed"] == 1
        for host in MEMBERS:
            for flag in ("", "--permanent "):
                assert fw_lab.ssh(host, f"firewall-cmd {flag}--policy=swarmops --list-ports").stdout.strip() == ""
            assert "10.9.9.9" not in "\n".join(_rich_rules(fw_lab, host))
            assert fw_lab.ssh(host, INGRESS_RULES).stdout.strip() == before[host]
            assert int(before[host]) > 0
        _overlay_and_mesh_work(fw_lab, local, peer_ip)
        assert play(fw_lab, ROLE, *FIREWALLD).changed == 0
    finally:
        fw_lab.ssh("manager1", "docker service rm fwmesh; sleep 5; docker network rm fwsecret", check=False)
    assert play(fw_lab, "site.yml", *FIREWALLD).changed == 0


def restart_engines(lab, hosts=MEMBERS) -> None:
    """What the role's message asks for after an allowed reload (here without the drain)."""
    for host in hosts:
        lab.ssh(host, "systemctl restart docker", timeout=600)
    wait_ready(lab)


def test_a_new_policy_on_a_swarm_node_is_refused_the_reload_unless_allowed(fw_lab, converged):
    fw_lab.ssh("worker1", "firewall-cmd --permanent --delete-policy=swarmops")
    run = play(fw_lab, ROLE, *FIREWALLD, "--limit", "worker1", check=False)
    assert run.rc != 0
    assert "needs a firewalld reload" in run.stdout and "swarm_firewall_firewalld_reload_in_swarm" in run.stdout
    # Nothing changed: not saved again, and the running policy still holds the rules.
    assert fw_lab.ssh("worker1", f"test -e {POLICY_FILE}", check=False).returncode == 1
    assert len(_rich_rules(fw_lab, "worker1")) == 2 * 4 + 4
    allowed = play(fw_lab, ROLE, *FIREWALLD, "-e", "swarm_firewall_firewalld_reload_in_swarm=true",
                   "--limit", "worker1")
    assert allowed.recap["worker1"]["changed"] == 1
    assert fw_lab.ssh("worker1", f"test -e {POLICY_FILE}", check=False).returncode == 0
    restart_engines(fw_lab, ["worker1"])
    page = wait_for(lambda: http_get(fw_lab, "outsider1", "worker1", 8080), timeout=300, interval=5,
                    what="the probe on worker1:8080 after the engine restart")  # fmt: skip
    assert page.startswith("swarmops probe")
    assert play(fw_lab, "site.yml", *FIREWALLD).changed == 0


def test_a_rebooted_worker_keeps_the_policy_and_comes_back_ready(fw_lab, converged):
    fw_lab.ssh("worker1", "systemctl reboot", check=False, timeout=30)
    time.sleep(10)
    wait_for(lambda: fw_lab.ssh("worker1", "systemctl is-system-running --wait", check=False,
                                timeout=600).returncode in (0, 1), timeout=900, interval=10,
             what="worker1 back over ssh")  # fmt: skip
    assert fw_lab.ssh("worker1", "systemctl is-active firewalld docker").stdout.split() == ["active", "active"]
    assert len(_rich_rules(fw_lab, "worker1")) == 2 * 4 + 4
    wait_ready(fw_lab)
    assert not reachable_tcp(fw_lab, "outsider1", "worker1", 7946)
    page = wait_for(lambda: http_get(fw_lab, "outsider1", "worker1", 8080), timeout=300, interval=5,
                    what="the probe on worker1:8080 after the reboot")  # fmt: skip
    assert page.startswith("swarmops probe")


def test_bad_setups_fail_naming_the_backend_variable(fw_lab, converged):
    fw_lab.ssh("worker1", "systemctl stop firewalld")
    try:
        run = play(fw_lab, ROLE, *FIREWALLD, "--limit", "worker1", check=False)
        assert run.rc != 0
        assert "firewalld is not running" in run.stdout and "swarm_firewall_backend" in run.stdout, run.stdout[-3000:]
    finally:
        fw_lab.ssh("worker1", "systemctl start firewalld")
    run = play(fw_lab, ROLE, "-e", "swarm_firewall_backend=firewalls", "--limit", "worker1", check=False)
    assert run.rc != 0 and "firewalld" in run.stdout and "swarm_firewall_backend" in run.stdout
    # Another backend while firewalld runs: its zones would still reject what the other accepts.
    run = play(fw_lab, ROLE, "-e", "swarm_firewall_backend=iptables", "--limit", "worker1", check=False)
    assert run.rc != 0 and "firewalld is running on this host" in run.stdout, run.stdout[-3000:]
    assert run.recap["worker1"]["changed"] == 0
    assert fw_lab.ssh("worker1", "iptables -w -S SWARMOPS-INPUT", check=False).returncode != 0


def test_switching_away_removes_the_policy_and_back_removes_the_chain(fw_lab, converged):
    # Away: firewalld stopped and disabled, then the iptables backend.
    for host in MEMBERS:
        fw_lab.ssh(host, "systemctl disable --now firewalld")
    away = play(fw_lab, ROLE, "-e", "swarm_firewall_encrypted_overlays=true")  # the default: iptables
    assert away.changed > 0
    for host in MEMBERS:
        assert fw_lab.ssh(host, f"test -e {POLICY_FILE}", check=False).returncode == 1
        assert fw_lab.ssh(host, "iptables -w -S SWARMOPS-INPUT", check=False).returncode == 0
    assert play(fw_lab, ROLE, "-e", "swarm_firewall_encrypted_overlays=true").changed == 0
    # Back: firewalld started again (its start, like a reload, removes Docker's rules), the
    # policy created with the reload allowed, the engines restarted as the message says.
    for host in MEMBERS:
        fw_lab.ssh(host, "systemctl enable --now firewalld")
    back = play(fw_lab, ROLE, *FIREWALLD, "-e", "swarm_firewall_firewalld_reload_in_swarm=true")
    assert back.changed > 0
    for host in MEMBERS:
        assert fw_lab.ssh(host, "iptables -w -S SWARMOPS-INPUT", check=False).returncode != 0
        assert len(_rich_rules(fw_lab, host)) >= 2 * 4 + 4
    restart_engines(fw_lab)
    assert play(fw_lab, "site.yml", *FIREWALLD).changed == 0
    print(json.dumps({h: nodes_ready(fw_lab).get(h) for h in MEMBERS}))
