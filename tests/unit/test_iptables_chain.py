"""iptables_chain's pure parts: the chain's plan and the restore text that declares and fills it."""

from __future__ import annotations

from library import iptables_chain


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
