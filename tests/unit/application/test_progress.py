"""A consumer is stuck when messages wait and it commits nothing for longer than allowed."""

from application.progress import ProgressWatch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_consumer_with_lag_that_commits_nothing_past_the_limit_is_stuck():
    clock = Clock()
    watch = ProgressWatch(stall_s=30, clock=clock)
    watch.waiting(12)
    clock.now += 29
    assert watch.stuck() is None
    clock.now += 2
    assert watch.stuck() == "12 messages wait and nothing was committed for 31s (more than 30s)"


def test_a_commit_restarts_the_clock():
    clock = Clock()
    watch = ProgressWatch(stall_s=30, clock=clock)
    watch.waiting(12)
    clock.now += 31
    watch.offsets_committed()
    assert watch.stuck() is None


def test_an_idle_consumer_is_never_stuck_and_its_clock_starts_when_work_arrives():
    clock = Clock()
    watch = ProgressWatch(stall_s=30, clock=clock)
    clock.now += 600
    watch.waiting(0)
    assert watch.stuck() is None
    watch.waiting(5)
    clock.now += 10
    assert watch.stuck() is None
