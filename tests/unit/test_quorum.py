"""Quorum arithmetic: majority, failures tolerated, what a demotion/leave would leave."""

import pytest
from ansible.module_utils.swarmops import quorum
from ansible.module_utils.swarmops.quorum import Manager, check_removal, failures_tolerated, majority, summary


@pytest.mark.parametrize(("n", "need", "tolerated"), [
    (0, 0, 0), (1, 1, 0), (2, 2, 0), (3, 2, 1), (4, 3, 1), (5, 3, 2), (6, 4, 2), (7, 4, 3),
])
def test_majority_and_failures_tolerated(n, need, tolerated):
    assert majority(n) == need
    assert failures_tolerated(n) == tolerated


def test_majority_rejects_negative():
    with pytest.raises(ValueError):
        majority(-1)


def managers(*reachable: bool) -> list[Manager]:
    return [Manager(f"id{i}", f"manager{i}", r) for i, r in enumerate(reachable, 1)]


def test_demote_one_of_three_healthy_is_allowed():
    check = check_removal(managers(True, True, True), "id3")
    assert check.ok and check.reason == ""
    assert (check.managers_after, check.reachable_after, check.majority_after) == (2, 2, 2)


def test_demote_with_one_of_three_down_is_refused():
    # the scenario: manager3 killed, demoting manager2 would leave 1 reachable of 2
    check = check_removal(managers(True, True, False), "id2")
    assert not check.ok
    assert "manager2" in check.reason and "quorum" in check.reason
    assert (check.managers_after, check.reachable_after, check.majority_after) == (2, 1, 2)


def test_demoting_the_unreachable_manager_itself_is_allowed():
    # removing the dead one leaves 2 reachable of 2: quorum kept (the usual repair)
    assert check_removal(managers(True, True, False), "id3").ok


def test_last_manager_is_refused():
    check = check_removal(managers(True), "id1")
    assert not check.ok and "last manager" in check.reason


def test_no_quorum_now_is_refused():
    check = check_removal(managers(True, False, False), "id2")
    assert not check.ok and "no quorum now" in check.reason


def test_five_managers_two_down():
    ms = managers(True, True, True, False, False)
    assert not check_removal(ms, "id1").ok  # 2 reachable of 4 < 3
    assert check_removal(ms, "id4").ok  # 3 reachable of 4 >= 3


def test_unknown_node_is_not_a_manager_change():
    assert check_removal(managers(True, True, True), "worker-id").ok


def test_summary_counts_what_may_still_be_lost():
    s = summary(managers(True, True, True, True, False))
    assert s == {"managers": 5, "reachable": 4, "quorum": 3, "has_quorum": True,
                 "failures_tolerated": 2, "can_still_lose": 1}
    assert summary(managers(True, False, False))["has_quorum"] is False
    assert summary([])["has_quorum"] is False


def test_removing_two_of_five_healthy_managers_is_allowed_and_workers_do_not_count():
    check = quorum.check_removals(managers(True, True, True, True, True), ["id4", "id5", "worker-id"])
    assert check.ok and (check.managers_after, check.reachable_after, check.majority_after) == (3, 3, 2)


def test_removing_three_of_five_with_one_down_is_refused_naming_them():
    check = quorum.check_removals(managers(True, True, True, True, False), ["id1", "id2", "id3"])
    assert not check.ok
    assert check.reason == ("removing manager1, manager2, manager3 would leave 1 reachable of 2 managers, fewer "
                            "than the majority of 2: the swarm would lose quorum")
    assert quorum.check_removals(managers(True, True, True, True, False), ["id1", "id2"]).ok


def test_removing_every_manager_is_refused():
    check = quorum.check_removals(managers(True, True), ["id1", "id2"])
    assert not check.ok and check.managers_after == 0 and "last manager" in check.reason
