"""Raft quorum arithmetic for swarm managers: pure functions, no engine.

A swarm of N managers needs a majority (N // 2 + 1) of them reachable to make any change;
it tolerates (N - 1) // 2 managers lost. A change that removes a manager from the raft group
(demote, node removal, leave) must leave a group whose reachable members are still a majority
of it, otherwise the swarm stops accepting writes.
"""

from __future__ import annotations

from dataclasses import dataclass


def majority(managers: int) -> int:
    """How many managers must be reachable for the swarm to accept writes."""
    if managers < 0:
        raise ValueError("managers must be >= 0")
    return managers // 2 + 1 if managers else 0


def failures_tolerated(managers: int) -> int:
    """How many managers may be lost while a majority remains."""
    return (managers - 1) // 2 if managers > 0 else 0


@dataclass(frozen=True)
class Manager:
    node_id: str
    hostname: str
    reachable: bool


@dataclass(frozen=True)
class QuorumCheck:
    ok: bool
    reason: str  # why it is refused (empty when ok)
    managers_before: int
    reachable_before: int
    managers_after: int
    reachable_after: int
    majority_after: int

    def as_dict(self) -> dict:
        return {
            "ok": self.ok, "reason": self.reason,
            "managers_before": self.managers_before, "reachable_before": self.reachable_before,
            "managers_after": self.managers_after, "reachable_after": self.reachable_after,
            "majority_after": self.majority_after,
        }


def summary(managers: list[Manager]) -> dict:
    """Quorum facts for a report."""
    total = len(managers)
    reachable = sum(1 for m in managers if m.reachable)
    need = majority(total)
    return {
        "managers": total,
        "reachable": reachable,
        "quorum": need,
        "has_quorum": reachable >= need if total else False,
        "failures_tolerated": failures_tolerated(total),
        # how many more managers may be lost right now before writes stop
        "can_still_lose": max(0, reachable - need) if total else 0,
    }


def check_removal(managers: list[Manager], node_id: str, what: str = "demoting") -> QuorumCheck:
    """May manager `node_id` leave the raft group (demote, remove, leave) without losing quorum?"""
    return check_removals(managers, [node_id], what)


def check_removals(managers: list[Manager], node_ids: list[str], what: str = "removing") -> QuorumCheck:
    """May the managers `node_ids` leave the raft group (demote, remove, leave) without losing
    quorum? IDs that are not managers' do not count (a worker leaving never touches raft).

    Refused when no manager would be left, when the swarm has no quorum now (the change could
    not be committed anyway), or when the reachable managers left would be fewer than a
    majority of the managers left.
    """
    total = len(managers)
    reachable = sum(1 for m in managers if m.reachable)
    targets = [m for m in managers if m.node_id in node_ids]
    if not targets:
        return QuorumCheck(True, "", total, reachable, total, reachable, majority(total))
    after = [m for m in managers if m.node_id not in node_ids]
    reachable_after = sum(1 for m in after if m.reachable)
    need_after = majority(len(after))
    name = ", ".join(m.hostname or m.node_id for m in targets)

    def refuse(reason: str) -> QuorumCheck:
        return QuorumCheck(False, reason, total, reachable, len(after), reachable_after, need_after)

    if not after:
        return refuse(f"{what} {name} would remove the last manager of the swarm")
    if reachable < majority(total):
        return refuse(f"the swarm has no quorum now ({reachable} of {total} managers reachable, "
                      f"{majority(total)} needed): {what} {name} cannot be committed")
    if reachable_after < need_after:
        return refuse(f"{what} {name} would leave {reachable_after} reachable of {len(after)} managers, "
                      f"fewer than the majority of {need_after}: the swarm would lose quorum")
    return QuorumCheck(True, "", total, reachable, len(after), reachable_after, need_after)
