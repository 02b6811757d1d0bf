"""What only real kernels show: the ingress routing mesh, service virtual IPs and encrypted
overlays (IPVS and ESP, which the namespace lab's shared kernel lacks), on the scenario's VMs
that site.yml took from bare to a swarm (converge), with ESP opened between members.
Tests that add services remove them again: the idempotence of the lab is checked before."""

from __future__ import annotations

import re
import shlex
import urllib.request

from support.lab import wait_for

MANAGER = "manager1"
NODES = ("manager1", "manager2", "worker1")
# Where the two-task services run: every node but MANAGER, one task each.
TASK_NODES = ("manager2", "worker1")
SPREAD = ("--replicas", "2", "--replicas-max-per-node", "1", "--constraint", f"node.hostname!={MANAGER}")


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


def test_ingress_routing_mesh_answers_on_every_node_including_one_without_a_task(vm_lab):
    _remove(vm_lab, "mesh")
    try:
        vm_lab.docker(
            MANAGER, "service", "create", "--detach", "--name", "mesh", *SPREAD,
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
            assert page.startswith("swarmops probe v1 on "), page
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
        vm_lab.module(MANAGER, "swarm_network", "name=secretnet driver=overlay encrypted=true attachable=true")
        options = vm_lab.docker_json(MANAGER, "network", "inspect", "secretnet")[0]["Options"]
        assert "encrypted" in options
        first, second = TASK_NODES
        before = _esp_counters(vm_lab, second)
        vm_lab.docker(MANAGER, "service", "create", "--detach", "--name", "secretweb", *SPREAD,
                      "--network", "secretnet", "--env", "PROBE_NODE={{.Node.Hostname}}",
                      "swarmops/probe:1")  # fmt: skip
        wait_for(lambda: len(_running_nodes(vm_lab, "secretweb")) == 2, timeout=180, what="2 secretweb tasks")
        assert sorted(_running_nodes(vm_lab, "secretweb")) == sorted(TASK_NODES)
        c1 = _container(vm_lab, first, "secretweb")
        peer = vm_lab.docker_json(second, "inspect", _container(vm_lab, second, "secretweb"))[0]
        peer_ip = peer["NetworkSettings"]["Networks"]["secretnet"]["IPAddress"]
        fetch = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {peer_ip} 80"
        page = wait_for(lambda: _exec(vm_lab, first, c1, fetch).strip(), timeout=90, interval=2,
                        what=f"{first}'s task to reach {second}'s over secretnet")  # fmt: skip
        assert page.splitlines()[-1] == f"swarmops probe v1 on {second}"
        # The kernel has IPsec state for the overlay, and the packets came in as ESP through
        # the firewall's member rule.
        assert vm_lab.ssh(second, "ip xfrm state").stdout.count("proto esp") >= 1
        after = _esp_counters(vm_lab, second)
        key = f"{vm_lab.hosts[first]}:ACCEPT"
        assert after[key] > before.get(key, 0), (before, after)
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
    vm_lab.ssh("outsider1", f"python3 -c {shlex.quote(ESP_SENDER.format(target=target))}")
    after = _esp_counters(vm_lab, "worker1")
    assert after["any:DROP"] - before.get("any:DROP", 0) >= 20
