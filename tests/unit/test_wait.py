"""The shared bounded wait, on a fake clock."""

from __future__ import annotations

from ansible.module_utils.swarmops.wait import Progress, wait_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_when_done_and_keeps_distinct_progress():
    clock = FakeClock()
    states = iter(["0/3 moved", "0/3 moved", "2/3 moved", "3/3 moved"])

    def probe() -> Progress:
        s = next(states)
        return Progress(done=s.startswith("3/3"), summary=s)

    result = wait_for(probe, timeout=10, clock=clock, sleep=clock.sleep)
    assert result.ok and not result.timed_out
    assert result.polls == 4
    assert result.history == ["0/3 moved", "2/3 moved", "3/3 moved"]
    assert clock.sleeps == [0.25, 0.375, 0.5625]  # grows by half each poll


def test_times_out_without_sleeping_past_the_deadline():
    clock = FakeClock()
    result = wait_for(lambda: Progress(False, "waiting"), timeout=3, max_interval=1, clock=clock, sleep=clock.sleep)
    assert result.timed_out and not result.ok
    assert clock.now == 3
    assert result.as_result()["timed_out"] is True


def test_a_failure_stops_the_wait_at_once():
    clock = FakeClock()
    result = wait_for(
        lambda: Progress(False, "paused", failed="update paused: task failed"),
        timeout=60,
        clock=clock,
        sleep=clock.sleep,
    )
    assert not result.ok and not result.timed_out and result.polls == 1
    assert result.last.failed == "update paused: task failed"
