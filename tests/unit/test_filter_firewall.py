"""The firewall filters (plugins/filter/swarmops.py): the rules the swarm chain holds, as
iptables, nftables, ufw and firewalld rules, from one rule model; which networks are bad."""

from __future__ import annotations

import pytest

from library import firewalld_policy
from plugins.filter.swarmops import bad_networks, firewall_rules, in_networks, nft_rules

NODE = [["tcp", 7946], ["udp", 7946], ["udp", 4789]]


def test_rules_accept_cluster_networks_then_drop_everyone_else():
    rules = firewall_rules(["10.0.0.5", "10.1.0.0/16"], [["tcp", 2377], *NODE])
    assert rules[:4] == [
        "-s 10.0.0.5/32 -p tcp -m tcp --dport 2377 -j ACCEPT",
        "-s 10.0.0.5/32 -p tcp -m tcp --dport 7946 -j ACCEPT",
        "-s 10.0.0.5/32 -p udp -m udp --dport 7946 -j ACCEPT",
        "-s 10.0.0.5/32 -p udp -m udp --dport 4789 -j ACCEPT",
    ]
    assert rules[4] == "-s 10.1.0.0/16 -p tcp -m tcp --dport 2377 -j ACCEPT"
    assert rules[-5:] == [
        "-p tcp -m tcp --dport 2377 -j DROP",
        "-p tcp -m tcp --dport 7946 -j DROP",
        "-p udp -m udp --dport 7946 -j DROP",
        "-p udp -m udp --dport 4789 -j DROP",
        "-p esp -j DROP",
    ]
    assert not any("esp -j ACCEPT" in r for r in rules)


def test_encrypted_overlays_accept_esp_from_the_cluster_only():
    rules = firewall_rules(["10.0.0.0/24"], NODE, esp=True)
    assert "-s 10.0.0.0/24 -p esp -j ACCEPT" in rules
    assert rules.index("-s 10.0.0.0/24 -p esp -j ACCEPT") < rules.index("-p esp -j DROP")


def test_published_ports_come_first_from_anywhere():
    rules = firewall_rules(["10.0.0.0/24"], NODE, published=[{"port": 8080}, {"port": 53, "protocol": "UDP"}])
    assert rules[:2] == ["-p tcp -m tcp --dport 8080 -j ACCEPT", "-p udp -m udp --dport 53 -j ACCEPT"]


@pytest.mark.parametrize("bad", [[{"port": 0}], [{"port": 80, "protocol": "sctp"}]])
def test_bad_published_ports_are_refused(bad):
    with pytest.raises(ValueError, match="protocol tcp\\|udp, port 1-65535"):
        firewall_rules(["10.0.0.0/24"], NODE, published=bad)


def test_in_networks():
    assert in_networks("10.203.0.11", ["10.203.0.0/16"])
    assert not in_networks("10.203.0.221", ["10.203.0.11/32", "10.203.0.101/32"])


def test_nft_rules_say_what_the_iptables_rules_say():
    rules = nft_rules(["10.0.0.5", "fd00::/64"], [["tcp", 2377], ["udp", 4789]], esp=True,
                      published=[{"port": 8080}])
    assert rules == [
        "tcp dport 8080 accept",
        "ip saddr 10.0.0.5/32 tcp dport 2377 accept",
        "ip saddr 10.0.0.5/32 udp dport 4789 accept",
        "ip saddr 10.0.0.5/32 meta l4proto esp accept",
        "ip6 saddr fd00::/64 tcp dport 2377 accept",
        "ip6 saddr fd00::/64 udp dport 4789 accept",
        "ip6 saddr fd00::/64 meta l4proto esp accept",
        "tcp dport 2377 drop",
        "udp dport 4789 drop",
        "meta l4proto esp drop",
    ]
    # One rule model, two renderings: the same count and order of accepts and drops.
    assert [r.split()[-1] for r in rules] == [
        r.split()[-1].lower() for r in firewall_rules(["10.0.0.5", "fd00::/64"], [["tcp", 2377], ["udp", 4789]],
                                                      esp=True, published=[{"port": 8080}])]


def test_ufw_rules_are_written_as_ufw_shows_them():
    from plugins.filter.swarmops import ufw_rules

    rules = ufw_rules(["10.0.0.5", "10.1.0.0/16"], [["tcp", 2377]], esp=True, published=[{"port": 8080}])
    assert rules == [
        "allow 8080/tcp",
        "allow from 10.0.0.5 to any port 2377 proto tcp",
        "allow from 10.0.0.5 proto esp",
        "allow from 10.1.0.0/16 to any port 2377 proto tcp",
        "allow from 10.1.0.0/16 proto esp",
        "deny 2377/tcp",
        "deny to any proto esp",
    ]


def test_bad_networks_names_what_is_not_a_network():
    assert bad_networks(["10.203.0.0/24", "10.203.0.11/32", "10.203.0.12"]) == []
    assert bad_networks(["10.203.0.0/24", "not-a-network", "10.0.0.0/33"]) == ["not-a-network", "10.0.0.0/33"]


def test_firewalld_rules_say_what_the_iptables_rules_say():
    from plugins.filter.swarmops import firewalld_rules

    rules = firewalld_rules(["10.0.0.5", "fd00::/64"], [["tcp", 2377]], esp=True, published=[{"port": 8080}])
    assert rules == [
        {"action": "accept", "priority": -2, "protocol": "tcp", "port": 8080},
        {"action": "accept", "priority": -2, "family": "ipv4", "source": "10.0.0.5/32", "protocol": "tcp",
         "port": 2377},
        {"action": "accept", "priority": -2, "family": "ipv4", "source": "10.0.0.5/32", "protocol": "esp"},
        {"action": "accept", "priority": -2, "family": "ipv6", "source": "fd00::/64", "protocol": "tcp",
         "port": 2377},
        {"action": "accept", "priority": -2, "family": "ipv6", "source": "fd00::/64", "protocol": "esp"},
        {"action": "drop", "priority": -1, "protocol": "tcp", "port": 2377},
        {"action": "drop", "priority": -1, "protocol": "esp"},
    ]
    # firewalld orders rich rules by priority: every accept must run before every drop.
    assert max(r["priority"] for r in rules if r["action"] == "accept") < min(
        r["priority"] for r in rules if r["action"] == "drop")
    assert firewalld_policy.rule_errors(rules) == []
