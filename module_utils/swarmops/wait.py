"""The one way swarmops modules wait: poll a probe until it says done, bounded by a timeout.

Every wait (drain, service convergence, CA rotation, node readiness) is a probe function that
looks at the cluster once and returns a `Progress`; `wait_for` polls it and keeps the history
a result reports, so an operator sees how a wait went, not only that it ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Progress:
    done: bool  # the awaited state is reached
    summary: str  # one line for a person, e.g. "3/5 tasks moved"
    failed: str = ""  # non-empty when waiting longer cannot help (e.g. rollout paused)
    data: dict[str, Any] = field(default_factory=dict)  # facts for the result


@dataclass
class WaitResult:
    ok: bool
    timed_out: bool
    elapsed: float
    polls: int
    last: Progress
    history: list[str]  # distinct summaries in order, for the result's `progress`

    def as_result(self) -> dict[str, Any]:
        return {"waited": round(self.elapsed, 2), "polls": self.polls, "progress": self.history,
                "timed_out": self.timed_out}


def wait_for(probe: Callable[[], Progress], timeout: float, interval: float = 0.25,
             max_interval: float = 2.0, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> WaitResult:
    """Poll probe until done, failed, or timeout seconds; the interval grows slowly to max_interval."""
    start = clock()
    history: list[str] = []
    polls = 0
    while True:
        progress = probe()
        polls += 1
        if not history or history[-1] != progress.summary:
            history.append(progress.summary)
        elapsed = clock() - start
        if progress.done or progress.failed:
            return WaitResult(progress.done and not progress.failed, False, elapsed, polls, progress, history)
        if elapsed >= timeout:
            return WaitResult(False, True, elapsed, polls, progress, history)
        sleep(min(interval, max(0.0, timeout - elapsed)))
        interval = min(interval * 1.5, max_interval)
