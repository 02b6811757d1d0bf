"""Every VM after site.yml from bare: the engine installed from apt and run by systemd, the
swarm ports, the firewall, swarm membership."""

from __future__ import annotations

import json

import testinfra
from labtest import INVENTORY

testinfra_hosts = ["ansible://swarm"]


def _is_manager(host) -> bool:
    return "managers" in host.ansible.get_variables()["group_names"]


def test_engine_was_installed_from_debian_packages_without_the_docker_sdk(host):
    assert host.package("docker.io").is_installed
    # The modules talk to the local socket with the standard library: no SDK on the hosts.
    assert not host.package("python3-docker").is_installed
    # Through the lab's apt proxy: the VM has no route off the lab.
    assert "Acquire::http::Proxy" in host.file("/etc/apt/apt.conf.d/01swarmops-lab-proxy").content_string
    assert host.check_output("ip -4 route show default") == ""


def test_engine_is_a_systemd_unit_enabled_and_active(host):
    docker = host.service("docker")
    assert docker.is_enabled
    assert docker.is_running
    assert host.check_output("systemctl is-active docker") == "active"
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert config["log-driver"] == "json-file"


def test_engine_runs_with_the_lab_environment(host):
    # The lab image's drop-in gives dockerd the variable: check the running process's own environment.
    pid = host.check_output("systemctl show -p MainPID --value docker")
    environ = host.check_output(f"tr '\\0' '\\n' < /proc/{pid}/environ")
    assert "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1" in environ.splitlines()
    images = host.check_output("docker image ls --format '{{.Repository}}:{{.Tag}}'").splitlines()
    assert {"swarmops/probe:1", "swarmops/probe:2", "swarmops/probe:broken"} <= set(images)


def test_swarm_membership_and_role_match_the_inventory(host):
    info = json.loads(host.check_output("docker info --format '{{json .Swarm}}'"))
    assert info["LocalNodeState"] == "active"
    assert info["ControlAvailable"] == _is_manager(host)


def test_swarm_ports_listen(host):
    assert host.socket("tcp://7946").is_listening
    assert host.socket("udp://7946").is_listening
    assert host.socket("tcp://2377").is_listening == _is_manager(host)


def test_firewall_chain_is_hooked_and_drops_strangers(host, inventory):
    rules = host.check_output("iptables -w -S")
    assert "-A INPUT -j SWARMOPS-INPUT" in rules
    assert "-A SWARMOPS-INPUT -p udp -m udp --dport 4789 -j DROP" in rules
    assert ("--dport 2377 -j DROP" in rules) == _is_manager(host)
    for member in inventory.get_hosts("swarm"):
        address = inventory.get_variables(member)["ansible_host"]
        assert f"-A SWARMOPS-INPUT -s {address}/32 -p udp -m udp --dport 4789 -j ACCEPT" in rules


def test_every_node_is_ready_with_its_role(inventory):
    first = inventory.get_hosts("managers")[0]
    host = testinfra.get_host(f"ansible://{first}?ansible_inventory={INVENTORY}")
    lines = host.check_output("docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'").splitlines()
    nodes = {line.split()[0]: line.split()[1:] for line in lines}
    assert sorted(nodes) == sorted(inventory.get_hosts("swarm"))
    assert all(state[0] == "Ready" for state in nodes.values())
    managers = {n for n, state in nodes.items() if len(state) > 1}
    assert managers == set(inventory.get_hosts("managers"))


def test_sample_service_runs_from_the_probe_image(inventory):
    first = inventory.get_hosts("managers")[0]
    host = testinfra.get_host(f"ansible://{first}?ansible_inventory={INVENTORY}")
    replicas = host.check_output("docker service ls --filter name=probe --format '{{.Replicas}}'")
    running, desired = replicas.split("/")
    assert int(desired) == len(inventory.get_hosts("workers"))
    assert running == desired
