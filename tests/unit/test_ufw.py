"""`ufw show added` read back (module_utils/swarmops/ufw.py, parse_added): only the rules tagged
with swarmops' comment, as the ufw_rules module and swarm_host_info use it."""

from __future__ import annotations

from ansible.module_utils.swarmops.ufw import parse_added

from library import ufw_rules


def test_ufw_leftovers_are_rules_with_swarmops_comment_only():
    added = ("Added user rules (see 'ufw status' for running firewall):\n"
             "ufw allow 22/tcp\n"
             "ufw allow from 10.0.0.0/24 to any port 2377 proto tcp comment 'swarmops'\n")
    # What swarm_host_info (module_utils/swarmops/hostread.py) counts as a leftover.
    assert parse_added(added, "swarmops")
    assert not parse_added(added, "other")
    assert not parse_added("ufw allow 22/tcp comment 'swarmops-old'\n", "swarmops")


def test_ufw_show_added_parsing_keeps_only_the_tagged_rules():
    out = ("Added user rules (see 'ufw status' for running firewall):\n"
           "ufw allow 22/tcp\n"
           "ufw allow from 10.0.0.5 to any port 2377 proto tcp comment 'swarmops'\n"
           "ufw deny 2377/tcp comment 'swarmops-old'\n"
           "ufw deny to any proto esp comment 'swarmops'\n")
    assert ufw_rules.parse_added(out, "swarmops") == ["allow from 10.0.0.5 to any port 2377 proto tcp",
                                                      "deny to any proto esp"]
    assert ufw_rules.parse_added("Skipping adding existing rule\n", "swarmops") == []
