"""Record how long each task took and what the run changed, as JSON, for `python -m bench`.

Enabled by the bench only (ANSIBLE_CALLBACKS_ENABLED=bench_timer, ANSIBLE_CALLBACK_PLUGINS
pointing here); writes to the file named by SWARMOPS_BENCH_TIMINGS when the run ends. A task's
time runs from its start to the next task's start (or the end of the play), so the times of
a run add up to its wall time less the start-up; that is what the profile needs.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: per-task durations and the recap totals as JSON, for the benchmarks
description:
  - Writes the tasks (play, task, seconds) and the recap totals (changed, failed, ok) as
    JSON to the file named by the environment variable C(SWARMOPS_BENCH_TIMINGS).
requirements: [enable in callbacks_enabled]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._tasks: list[dict] = []
        self._play = ""
        self._current: dict | None = None
        self._started = time.monotonic()

    def _close(self) -> None:
        if self._current is not None:
            self._current["seconds"] = round(time.monotonic() - self._current.pop("_start"), 4)
            self._tasks.append(self._current)
            self._current = None

    def v2_playbook_on_play_start(self, play) -> None:
        self._close()
        self._play = play.get_name()

    def _start(self, task) -> None:
        self._close()
        self._current = {"play": self._play, "task": task.get_name(), "_start": time.monotonic()}

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task) -> None:
        self._start(task)

    def v2_runner_on_ok(self, result) -> None:
        # A module's own account of a wait (swarm_node's drain), to tell it from the round trip.
        waited = (result._result.get("drain") or {}).get("waited")
        if self._current is not None and isinstance(waited, int | float):
            self._current["waited"] = waited

    def v2_playbook_on_stats(self, stats) -> None:
        self._close()
        path = os.environ.get("SWARMOPS_BENCH_TIMINGS")
        if not path:
            return
        totals = {key: sum(getattr(stats, key).values()) for key in ("changed", "failures", "ok", "dark")}
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"tasks": self._tasks, "changed": totals["changed"], "failed": totals["failures"],
                       "unreachable": totals["dark"], "ok": totals["ok"],
                       "seconds": round(time.monotonic() - self._started, 4)}, fh, indent=1)
