"""firewalld_policy's pure parts: the policy file, rule errors, rich rules as firewalld lists
them, `firewall-cmd --info-policy` read as data, what needs a reload, and the edits."""

from __future__ import annotations

from library import firewalld_policy


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
