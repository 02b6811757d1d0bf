"""The firewall's pure parts: the rules the swarm chain holds, and the chain's plan."""

from __future__ import annotations

import pytest

from library import firewalld_policy, iptables_chain, nft_table
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


def test_chain_plan_reports_exact_differences():
    parse = iptables_chain.parse_chain
    out = "-N X\n-A X -p tcp -m tcp --dport 1 -j DROP\n-A X -p esp -j DROP\n"
    have = parse(out, "X")
    assert have == ["-p tcp -m tcp --dport 1 -j DROP", "-p esp -j DROP"]
    same = iptables_chain.plan(have, list(have), {"INPUT": True})
    assert not same["create"] and not same["rewrite"] and same["jumps_added"] == []
    reordered = iptables_chain.plan(have, list(reversed(have)), {"INPUT": False})
    assert reordered["rewrite"] and reordered["added"] == [] and reordered["removed"] == []
    assert reordered["jumps_added"] == ["INPUT"]
    new = iptables_chain.plan(None, ["-p esp -j DROP"], {"INPUT": False})
    assert new["create"] and new["added"] == ["-p esp -j DROP"]


def test_restore_text_declares_and_fills_the_chain():
    text = iptables_chain.restore_text("filter", "X", ["-p esp -j DROP"])
    assert text == "*filter\n:X - [0:0]\n-A X -p esp -j DROP\nCOMMIT\n"


def test_status_lines_report_quorum_nodes_and_services():
    from plugins.filter.swarmops import status_lines

    info = {"swarm": {"id": "abc"}, "leader": "manager1",
            "quorum": {"reachable": 3, "managers": 3, "quorum": 2, "can_still_lose": 1},
            "nodes": [{"hostname": "worker1", "role": "worker", "availability": "active", "state": "ready",
                       "engine_version": "20.10.24", "labels": {"zone": "a"}},
                      {"hostname": "manager1", "role": "manager", "availability": "active", "state": "ready",
                       "engine_version": "20.10.24", "labels": {}}],
            "services": [{"name": "probe", "mode": "global", "running": 2, "desired": 2}]}
    lines = status_lines(info)
    assert lines[0] == "swarm abc  leader manager1  managers reachable 3/3 (quorum 2, may still lose 1)"
    assert lines[2].startswith("manager1") and lines[3].startswith("worker1") and lines[3].endswith("zone=a")
    assert lines[-1].split() == ["probe", "global", "2/2"]


def test_degraded_services_names_only_those_short_of_desired():
    from plugins.filter.swarmops import degraded_services

    services = [
        {"name": "web", "mode": "replicated", "desired": 3, "running": 3},
        {"name": "api", "mode": "replicated", "desired": 3, "running": 1},
        {"name": "probe", "mode": "global", "desired": 2, "running": None},
        {"name": "job", "mode": "replicated-job", "desired": None, "running": 0},
    ]
    assert degraded_services(services) == ["api 1/3", "probe 0/2"]
    assert degraded_services([]) == []


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


def test_nft_script_replaces_the_table_in_one_transaction():
    text = nft_table.script("inet", "swarmops", "input", -10, ["tcp dport 2377 drop"])
    lines = text.splitlines()
    assert lines[:3] == ["table inet swarmops", "delete table inet swarmops", "table inet swarmops {"]
    assert "type filter hook input priority -10; policy accept;" in text
    assert "\t\ttcp dport 2377 drop" in lines


@pytest.mark.parametrize("saved,live,recorded,reason", [
    ("W", "L", "L", ""),
    ("W", None, "L", "the table does not exist"),
    ("old", "L", "L", "the wanted rules differ from the saved ones"),
    (None, "L", None, "the wanted rules differ from the saved ones"),
    ("W", "L", None, "no record of the last apply"),
    ("W", "L2", "L", "the live table was changed outside swarmops"),
])
def test_nft_table_rewrites_only_on_a_reason(saved, live, recorded, reason):
    assert nft_table.rewrite_reason("W", saved, live, recorded) == reason


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


def test_ufw_show_added_parsing_keeps_only_the_tagged_rules():
    from library import ufw_rules as ufw

    out = ("Added user rules (see 'ufw status' for running firewall):\n"
           "ufw allow 22/tcp\n"
           "ufw allow from 10.0.0.5 to any port 2377 proto tcp comment 'swarmops'\n"
           "ufw deny 2377/tcp comment 'swarmops-old'\n"
           "ufw deny to any proto esp comment 'swarmops'\n")
    assert ufw.parse_added(out, "swarmops") == ["allow from 10.0.0.5 to any port 2377 proto tcp",
                                                "deny to any proto esp"]
    assert ufw.parse_added("Skipping adding existing rule\n", "swarmops") == []


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


def test_firewalld_policy_file_is_what_firewalld_reads():
    text = firewalld_policy.policy_xml("swarmops", -100, ["ANY"], ["HOST"], [
        {"action": "accept", "priority": -2, "family": "ipv4", "source": "10.0.0.0/24", "protocol": "tcp",
         "port": 2377},
        {"action": "drop", "priority": -1, "protocol": "esp"},
    ])
    import xml.etree.ElementTree as ET

    root = ET.fromstring(text.split("\n", 1)[1])
    assert root.tag == "policy" and root.get("target") == "CONTINUE" and root.get("priority") == "-100"
    assert [z.get("name") for z in root.iter("ingress-zone")] == ["ANY"]
    assert [z.get("name") for z in root.iter("egress-zone")] == ["HOST"]
    accept, drop = root.findall("rule")
    assert accept.get("family") == "ipv4" and accept.get("priority") == "-2"
    assert accept.find("source").get("address") == "10.0.0.0/24"
    assert accept.find("port").attrib == {"port": "2377", "protocol": "tcp"}
    assert accept.find("accept") is not None
    assert drop.find("protocol").get("value") == "esp" and drop.find("drop") is not None
    assert drop.get("family") is None and drop.find("source") is None


def test_firewalld_rule_errors_name_the_field():
    errors = firewalld_policy.rule_errors([
        {"action": "allow", "priority": -1},
        {"action": "accept", "priority": -1, "source": "10.0.0.0/24"},
        {"action": "drop", "priority": -1, "protocol": "esp", "port": 50},
        {"action": "drop", "priority": -1, "protocol": "tcp", "port": 0, "comment": "x"},
    ])
    assert errors == [
        "rules[0].action: 'allow', must be one of accept, drop, reject",
        "rules[1].family: None, must be ipv4 or ipv6 with a source",
        "rules[2].port: needs protocol tcp or udp, not 'esp'",
        "rules[3].port: 0, must be 1-65535",
        "rules[3]: unknown keys ['comment']; allowed: action, priority, source, family, protocol, port",
    ]


# `firewall-cmd --info-policy=swarmops` on Debian 12's firewalld 1.3.3, with a port added by hand.
INFO = """swarmops (active)
  priority: -100
  target: CONTINUE
  ingress-zones: ANY
  egress-zones: HOST
  services:
  ports: 1234/tcp
  protocols:
  masquerade: no
  forward-ports:
  source-ports:
  icmp-blocks:
  rich rules:
\trule priority="-2" family="ipv4" source address="10.203.240.11/32" port port="2377" protocol="tcp" accept
\trule priority="-1" protocol value="esp" drop
"""


def test_firewalld_rich_rules_are_written_as_firewalld_lists_them():
    rules = [{"action": "accept", "priority": -2, "family": "ipv4", "source": "10.203.240.11/32",
              "protocol": "tcp", "port": 2377},
             {"action": "drop", "priority": -1, "protocol": "esp"},
             {"action": "accept", "protocol": "tcp", "port": 8080}]
    assert [firewalld_policy.rich_rule(r) for r in rules] == [
        'rule priority="-2" family="ipv4" source address="10.203.240.11/32" port port="2377" protocol="tcp" accept',
        'rule priority="-1" protocol value="esp" drop',
        'rule port port="8080" protocol="tcp" accept',
    ]


def test_firewalld_info_is_read_as_data():
    info = firewalld_policy.parse_info(INFO)
    assert info["priority"] == ["-100"] and info["target"] == ["CONTINUE"]
    assert info["ingress-zones"] == ["ANY"] and info["egress-zones"] == ["HOST"]
    assert info["ports"] == ["1234/tcp"] and info["services"] == [] and info["masquerade"] == ["no"]
    assert info["rich rules"] == [
        'rule priority="-2" family="ipv4" source address="10.203.240.11/32" port port="2377" protocol="tcp" accept',
        'rule priority="-1" protocol value="esp" drop',
    ]


def test_firewalld_only_priority_target_and_zones_need_a_reload():
    info = firewalld_policy.parse_info(INFO)
    assert firewalld_policy.structure_reason(info, -100, ["ANY"], ["HOST"]) == ""
    assert firewalld_policy.structure_reason(info, -50, ["ANY"], ["HOST"]) == "priority is -100, not -50"
    assert firewalld_policy.structure_reason(info, -100, ["public"], ["HOST"]) == "ingress-zones is ANY, not public"
    info["target"] = ["DROP"]
    assert firewalld_policy.structure_reason(info, -100, ["ANY"], ["HOST"]) == "target is DROP, not CONTINUE"


def test_firewalld_edits_add_the_wanted_rules_first_then_remove_the_rest():
    info = firewalld_policy.parse_info(INFO)
    info["masquerade"] = ["yes"]
    esp = 'rule priority="-1" protocol value="esp" drop'
    new = 'rule priority="-2" family="ipv4" source address="10.203.240.12/32" port port="2377" protocol="tcp" accept'
    old = info["rich rules"][0]
    assert firewalld_policy.edits(info, [new, esp]) == [
        [f"--add-rich-rule={new}"],
        [f"--remove-rich-rule={old}"],
        ["--remove-port=1234/tcp"],
        ["--remove-masquerade"],
    ]
    converged = firewalld_policy.parse_info(INFO.replace("ports: 1234/tcp", "ports: "))
    assert firewalld_policy.edits(converged, converged["rich rules"]) == []
    assert firewalld_policy.edits(converged, []) == [[f"--remove-rich-rule={old}", f"--remove-rich-rule={esp}"]]


def test_firewalld_diff_texts_match_when_converged():
    info = firewalld_policy.parse_info(INFO.replace("ports: 1234/tcp", "ports: "))
    assert firewalld_policy.describe_info(info) == firewalld_policy.describe(-100, ["ANY"], ["HOST"],
                                                                             info["rich rules"])
    assert "ports: 1234/tcp" in firewalld_policy.describe_info(firewalld_policy.parse_info(INFO))
