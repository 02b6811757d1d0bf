"""Every swarm node after site.yml: engine, swarm role, ports, firewall."""

from __future__ import annotations

import json

testinfra_hosts = ["ansible://swarm"]


def _is_manager(host) -> bool:
    return "managers" in host.ansible.get_variables()["group_names"]


def test_engine_runs_with_the_role_config(host):
    assert "is running" in host.check_output("service docker status")
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert config["log-driver"] == "json-file"


def test_swarm_membership_and_role_match_the_inventory(host):
    info = json.loads(host.check_output("docker info --format '{{json .Swarm}}'"))
    assert info["LocalNodeState"] == "active"
    assert info["ControlAvailable"] == _is_manager(host)


def test_swarm_ports_listen(host):
    assert host.socket("tcp://7946").is_listening
    assert host.socket("tcp://2377").is_listening == _is_manager(host)


def test_firewall_chain_is_hooked_and_drops_strangers(host):
    rules = host.check_output("iptables -w -S")
    assert "-A INPUT -j SWARMOPS-INPUT" in rules
    assert "-A SWARMOPS-INPUT -p udp -m udp --dport 4789 -j DROP" in rules
    assert ("--dport 2377 -j DROP" in rules) == _is_manager(host)
