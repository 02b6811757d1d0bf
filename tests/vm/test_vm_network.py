"""What only real kernels show: the ingress routing mesh, service virtual IPs and encrypted
overlays (IPVS and ESP, which the namespace lab's shared kernel lacks), on VMs that site.yml
took from bare to a swarm."""

from __future__ import annotations

import json
import re
import urllib.request

from labtools import wait_for

MANAGER = "manager1"
NODES = ("manager1", "worker1", "worker2")


def _get(address: str, port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://{address}:{port}/", timeout=5) as resp:
            return resp.read().decode().strip()
    except OSError as exc:
        raise AssertionError(f"{address}:{port}: {exc}") from exc


def _running_nodes(lab, service: str) -> list[str]:
    """The nodes of the service's running tasks."""
    out = lab.docker(MANAGER, "service", "ps", service, "--filter", "desired-state=running",
                     "--format", "{{.Node}} {{.CurrentState}}").stdout  # fmt: skip
    return [line.split()[0] for line in out.splitlines() if " Running " in f" {line} "]


def _container(lab, node: str, service: str) -> str:
    out = lab.docker(node, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}").stdout
    ids = out.split()
    assert ids, f"no running task of {service} on {node}"
    return ids[0]


def _exec(lab, node: str, container: str, script: str) -> str:
    return lab.docker(node, "exec", container, "sh", "-c", script, timeout=60).stdout


def _remove(lab, *names: str, kind: str = "service") -> None:
    lab.docker(MANAGER, kind, "rm", *names, check=False)


def test_engine_installed_by_the_role_runs_under_systemd_with_the_lab_variable(vm_lab):
    for node in NODES:
        assert vm_lab.ssh(node, "systemctl is-enabled docker && systemctl is-active docker").returncode == 0
        pid = vm_lab.ssh(node, "systemctl show -p MainPID --value docker").stdout.strip()
        environ = vm_lab.ssh(node, f"tr '\\0' '\\n' < /proc/{pid}/environ").stdout.splitlines()
        assert "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1" in environ, node
        assert "docker.io" in vm_lab.ssh(node, "dpkg-query -W docker.io").stdout


def test_ingress_routing_mesh_answers_on_every_node_including_one_without_a_task(vm_lab):
    _remove(vm_lab, "mesh")
    try:
        vm_lab.docker(
            MANAGER, "service", "create", "--detach", "--name", "mesh", "--replicas", "2",
            "--replicas-max-per-node", "1", "--constraint", "node.role==worker",
            "--env", "PROBE_NODE={{.Node.Hostname}}",
            "--publish", "published=8081,target=80,mode=ingress", "swarmops/probe:1",
        )  # fmt: skip
        wait_for(lambda: len(_running_nodes(vm_lab, "mesh")) == 2, timeout=180, what="2 running mesh tasks")
        with_task = set(_running_nodes(vm_lab, "mesh"))
        without = [n for n in NODES if n not in with_task]
        assert without == [MANAGER]
        spec = vm_lab.docker_json(MANAGER, "service", "inspect", "mesh")[0]["Endpoint"]["Ports"][0]
        assert spec["PublishMode"] == "ingress"
        for node in NODES:
            # A freshly joined node takes a while to program IPVS for ingress (LAB.md: ~20 s).
            page = wait_for(lambda n=node: _get(vm_lab.hosts[n], 8081), timeout=180, interval=2,
                            what=f"the routing mesh on {node}:8081")  # fmt: skip
            assert page.startswith("swarmops probe v1 on worker"), page
        # Requests to the node without a task are balanced over both tasks.
        seen = {_get(vm_lab.hosts[MANAGER], 8081).rsplit(" ", 1)[1] for _ in range(12)}
        assert seen == with_task
    finally:
        _remove(vm_lab, "mesh")


def test_service_vip_resolves_and_answers_from_another_service_over_an_overlay(vm_lab):
    _remove(vm_lab, "vipweb", "vipclient")
    _remove(vm_lab, "vipnet", kind="network")
    try:
        vm_lab.docker(MANAGER, "network", "create", "--driver", "overlay", "vipnet")
        vm_lab.docker(MANAGER, "service", "create", "--detach", "--name", "vipweb", "--replicas", "2",
                      "--network", "vipnet", "--env", "PROBE_NODE={{.Node.Hostname}}", "swarmops/probe:1")  # fmt: skip
        vm_lab.docker(MANAGER, "service", "create", "--detach", "--name", "vipclient", "--replicas", "1",
                      "--network", "vipnet", "swarmops/probe:2")  # fmt: skip
        wait_for(lambda: len(_running_nodes(vm_lab, "vipweb")) == 2 and _running_nodes(vm_lab, "vipclient"),
                 timeout=180, what="vipweb and vipclient running")  # fmt: skip
        service = vm_lab.docker_json(MANAGER, "service", "inspect", "vipweb")[0]
        assert service["Spec"]["EndpointSpec"]["Mode"] == "vip"
        vip = service["Endpoint"]["VirtualIPs"][0]["Addr"].split("/")[0]
        node = _running_nodes(vm_lab, "vipclient")[0]
        client = _container(vm_lab, node, "vipclient")
        resolved = wait_for(lambda: re.findall(r"Address:?\s+(?:\d+\s+)?([\d.]+)",
                                               _exec(vm_lab, node, client, "nslookup vipweb 127.0.0.11")),
                            timeout=60, what="vipweb to resolve")  # fmt: skip
        assert vip in resolved, (vip, resolved)
        fetch = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 vipweb 80"
        pages = {_exec(vm_lab, node, client, fetch).strip().splitlines()[-1] for _ in range(10)}
        assert all(p.startswith("swarmops probe v1 on ") for p in pages), pages
        assert len(pages) == 2, f"the VIP should balance over both tasks: {pages}"
    finally:
        _remove(vm_lab, "vipweb", "vipclient")
        wait_for(lambda: vm_lab.docker(MANAGER, "network", "rm", "vipnet", check=False).returncode == 0
                 or "not found" in vm_lab.docker(MANAGER, "network", "rm", "vipnet", check=False).stderr,
                 timeout=60, what="vipnet removed")  # fmt: skip


def _esp_counters(lab, node: str) -> dict[str, int]:
    """source ('any' for the final drop) -> packets of the ESP rules of the swarm chain."""
    out = lab.ssh(node, "iptables -w -L SWARMOPS-INPUT -v -n -x").stdout
    counters = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 8 and words[3] in ("esp", "50"):
            counters[(words[7] if words[7] != "0.0.0.0/0" else "any") + ":" + words[2]] = int(words[0])
    return counters


def test_firewall_opens_esp_only_between_members(vm_lab):
    members = {vm_lab.hosts[n] for n in NODES}
    for node in NODES:
        rules = vm_lab.ssh(node, "iptables -w -S SWARMOPS-INPUT").stdout.splitlines()
        accepted = {r.split()[3].removesuffix("/32") for r in rules if "-p esp" in r and r.endswith("ACCEPT")}
        assert accepted == members, node
        assert rules[-1] == "-A SWARMOPS-INPUT -p esp -j DROP", rules


def test_encrypted_overlay_carries_traffic_between_tasks_on_two_vms(vm_lab):
    _remove(vm_lab, "secretweb")
    _remove(vm_lab, "secretnet", kind="network")
    try:
        # The product's own module creates the network.
        vm_lab.module("managers[0]", "swarm_network", "name=secretnet driver=overlay encrypted=true attachable=true")
        options = vm_lab.docker_json(MANAGER, "network", "inspect", "secretnet")[0]["Options"]
        assert "encrypted" in options
        before = {n: _esp_counters(vm_lab, n) for n in ("worker1", "worker2")}
        vm_lab.docker(MANAGER, "service", "create", "--detach", "--name", "secretweb", "--replicas", "2",
                      "--replicas-max-per-node", "1", "--constraint", "node.role==worker",
                      "--network", "secretnet", "--env", "PROBE_NODE={{.Node.Hostname}}",
                      "swarmops/probe:1")  # fmt: skip
        wait_for(lambda: len(_running_nodes(vm_lab, "secretweb")) == 2, timeout=180, what="2 secretweb tasks")
        assert sorted(_running_nodes(vm_lab, "secretweb")) == ["worker1", "worker2"]
        c1 = _container(vm_lab, "worker1", "secretweb")
        peer = vm_lab.docker_json("worker2", "inspect", _container(vm_lab, "worker2", "secretweb"))[0]
        peer_ip = peer["NetworkSettings"]["Networks"]["secretnet"]["IPAddress"]
        fetch = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {peer_ip} 80"
        page = wait_for(lambda: _exec(vm_lab, "worker1", c1, fetch).strip(), timeout=90, interval=2,
                        what="worker1's task to reach worker2's over secretnet")  # fmt: skip
        assert page.splitlines()[-1] == "swarmops probe v1 on worker2"
        # The kernel has IPsec state for the overlay, and the packets came in as ESP through
        # the firewall's member rule.
        assert vm_lab.ssh("worker2", "ip xfrm state").stdout.count("proto esp") >= 1
        after = _esp_counters(vm_lab, "worker2")
        key = f"{vm_lab.hosts['worker1']}:ACCEPT"
        assert after[key] > before["worker2"].get(key, 0), (before["worker2"], after)
    finally:
        _remove(vm_lab, "secretweb")


ESP_SENDER = r"""
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
for seq in range(1, 21):
    s.sendto(struct.pack("!II", 0x1000, seq) + b"x" * 32, ("{target}", 0))
"""


def test_esp_from_an_outsider_is_dropped(vm_lab):
    target = vm_lab.hosts["worker1"]
    before = _esp_counters(vm_lab, "worker1")
    outsider = vm_lab.hosts["outsider1"]
    assert f"{outsider}:ACCEPT" not in before
    vm_lab.ssh("outsider1", f"python3 -c {json.dumps(ESP_SENDER.format(target=target))}")
    after = _esp_counters(vm_lab, "worker1")
    assert after["any:DROP"] - before.get("any:DROP", 0) >= 20


def test_lab_faults_on_vms_kill_restart_partition_heal(vm_lab):
    """The lab's fault verbs on the VM backend: the engine stopped under systemd shows Down to
    the manager, and a restart brings it back; a partitioned VM is cut off until healed."""

    def state(node: str) -> str:
        return vm_lab.nodes(MANAGER).get(node, {}).get("status", "")

    vm_lab.cli("kill", "worker2")
    assert vm_lab.ssh("worker2", "systemctl is-active docker", check=False).stdout.strip() != "active"
    wait_for(lambda: state("worker2") == "Down", timeout=120, interval=2, what="worker2 Down")
    vm_lab.cli("restart", "worker2", timeout=600)
    wait_for(lambda: state("worker2") == "Ready", timeout=180, interval=2, what="worker2 Ready again")
    vm_lab.cli("partition", "worker2")
    try:
        assert vm_lab.ssh("worker2", "true", check=False, timeout=30).returncode != 0
    finally:
        vm_lab.cli("heal", "worker2")
    wait_for(lambda: vm_lab.ssh("worker2", "true", check=False, timeout=30).returncode == 0, timeout=120,
             interval=2, what="worker2 reachable after heal")  # fmt: skip
