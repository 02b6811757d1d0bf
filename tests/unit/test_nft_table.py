"""nft_table's pure parts: the script that replaces the table in one transaction, and when the
table is rewritten."""

from __future__ import annotations

import pytest

from library import nft_table


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
