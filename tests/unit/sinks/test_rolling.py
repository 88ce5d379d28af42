"""The roll policy: examples of each rule, then a sink simulated against it (hypothesis state machine).

The simulation writes events one at a time as the HDFS sink does (timers checked before each take,
count and size before each event), with time moved by the test, and checks what every rolled file
holds against the rule that rolled it, stated on its own terms (a file rolled for rollCount holds
exactly rollCount events, a file is never written once its interval has passed, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from flafka.sinks.rolling import Roll, RollingFile, RollPolicy


def test_count_rolls_before_the_event_after_the_limit() -> None:
    file = RollPolicy(count=3).open(0.0)
    for _ in range(3):
        assert file.before_append() is None
        file.appended(1, 10)
    assert file.before_append() is Roll.COUNT


def test_size_counts_body_bytes_and_allows_one_body_over() -> None:
    file = RollPolicy(size=100).open(0.0)
    file.appended(1, 99)
    assert file.before_append() is None
    file.appended(1, 50)  # 149 bytes: the limit is checked before an append, not within one
    assert file.before_append() is Roll.SIZE


def test_interval_runs_from_opening() -> None:
    file = RollPolicy(interval=30).open(100.0)
    assert file.deadline() == 130.0
    assert file.due(129.999) is None
    assert file.due(130.0) is Roll.INTERVAL


def test_idle_is_armed_by_a_flush_after_a_write_and_disarmed_by_the_next_write() -> None:
    file = RollPolicy(idle=5).open(0.0)
    file.flushed(1.0)  # nothing written yet: no idle timer (Flume arms it in flush() of a pending batch)
    assert file.deadline() is None
    file.appended(2, 20)
    file.flushed(2.0)
    assert file.deadline() == 7.0
    file.flushed(4.0)  # nothing new since the last flush: the timer keeps running from 2.0
    assert file.due(7.0) is Roll.IDLE
    file.appended(1, 10)
    assert (file.deadline(), file.due(100.0)) == (None, None)  # written, not yet flushed: no timer


def test_the_earlier_timer_wins() -> None:
    file = RollPolicy(interval=10, idle=3).open(0.0)
    file.appended(1, 1)
    file.flushed(8.0)
    assert file.deadline() == 10.0
    assert file.due(10.0) is Roll.INTERVAL


def test_a_failed_write_abandons_the_file_at_once() -> None:
    file = RollPolicy().open(0.0)
    file.appended(1, 1)
    file.write_failed()
    assert file.before_append() is Roll.FAILED_WRITE
    assert file.due(0.0) is Roll.FAILED_WRITE
    assert file.deadline() == -math.inf


def test_nothing_rolls_with_every_limit_off() -> None:
    file = RollPolicy().open(0.0)
    file.appended(10**9, 10**12)
    file.flushed(1.0)
    assert (file.before_append(), file.due(1e12), file.deadline()) == (None, None, None)


def test_under_replication_rolls_a_written_file_up_to_the_limit_in_a_row() -> None:
    policy = RollPolicy(max_under_replicated_rolls=2)
    file = policy.open(0.0)
    assert file.before_append(under_replicated=True) is None  # empty: a new file would be no better
    file.appended(1, 1)
    assert file.before_append(under_replicated=True) is Roll.UNDER_REPLICATED
    file = policy.open(1.0, previous=file)
    file.appended(1, 1)
    assert file.before_append(under_replicated=True) is Roll.UNDER_REPLICATED
    file = policy.open(2.0, previous=file)
    file.appended(1, 1)
    assert file.before_append(under_replicated=True) is None  # third in a row: the limit
    assert file.under_replication_limit_reached
    assert file.before_append(under_replicated=False) is None  # healthy again: the streak ends
    assert not file.under_replication_limit_reached
    assert file.before_append(under_replicated=True) is Roll.UNDER_REPLICATED


def test_count_and_size_still_roll_once_the_under_replication_limit_is_reached() -> None:
    file = RollPolicy(count=2, max_under_replicated_rolls=1).open(0.0, previous=None)
    file.appended(1, 1)
    assert file.before_append(under_replicated=True) is Roll.UNDER_REPLICATED
    file = RollPolicy(count=2, max_under_replicated_rolls=1).open(0.0, previous=file)
    file.appended(2, 2)
    assert file.before_append(under_replicated=True) is Roll.COUNT  # Flume would keep appending here


# --- the simulated sink ------------------------------------------------------------------------------


@dataclass
class Written:
    """One file the simulated sink wrote, as the test saw it (not as the policy counts it)."""

    state: RollingFile
    opened_at: float
    bodies: list[int] = field(default_factory=list)
    write_times: list[float] = field(default_factory=list)
    last_flush: float | None = None  # the last flush that followed a write
    failed: bool = False
    reason: Roll | None = None


class RollingSinkModel(RuleBasedStateMachine):
    @initialize(
        interval=st.sampled_from([0.0, 1.0, 2.5, 10.0]),
        size=st.sampled_from([0, 1, 100, 250]),
        count=st.sampled_from([0, 1, 3, 10]),
        idle=st.sampled_from([0.0, 0.5, 3.0]),
        max_ur=st.sampled_from([0, 1, 3]),
    )
    def setup(self, interval: float, size: int, count: int, idle: float, max_ur: int) -> None:
        self.policy = RollPolicy(interval=interval, size=size, count=count, idle=idle,
                                 max_under_replicated_rolls=max_ur)
        self.now = 1000.0
        self.under_replicated = False
        self.ur_streak = 0  # under-replication rolls in a row, as the test counts them
        self.files: list[Written] = [Written(self.policy.open(self.now), self.now)]

    @property
    def current(self) -> Written:
        return self.files[-1]

    def roll(self, reason: Roll) -> None:
        written = self.current
        written.reason = reason
        policy = self.policy
        if reason is Roll.COUNT:
            assert len(written.bodies) == policy.count > 0
        elif reason is Roll.SIZE:
            assert policy.size > 0
            assert sum(written.bodies) >= policy.size > sum(written.bodies[:-1])
        elif reason is Roll.INTERVAL:
            assert policy.interval > 0
            assert self.now >= written.opened_at + policy.interval
        elif reason is Roll.IDLE:
            assert written.last_flush is not None
            assert written.write_times[-1] <= written.last_flush
            assert policy.idle > 0
            assert self.now >= written.last_flush + policy.idle
        elif reason is Roll.FAILED_WRITE:
            assert written.failed
        else:
            assert reason is Roll.UNDER_REPLICATED
            assert self.under_replicated
            assert written.bodies
            self.ur_streak += 1
            assert policy.max_under_replicated_rolls <= 0 or self.ur_streak <= policy.max_under_replicated_rolls
        self.files.append(Written(self.policy.open(self.now, previous=written.state), self.now))

    def check_timers(self) -> None:
        reason = self.current.state.due(self.now)
        if reason is not None:
            self.roll(reason)
        written = self.current
        # Whatever is due is reported: nothing that should have rolled stays open.
        assert not written.failed
        assert self.policy.interval <= 0 or self.now < written.opened_at + self.policy.interval

    @rule(body=st.sampled_from([0, 1, 40, 99, 100, 300]))
    def append(self, body: int) -> None:
        self.check_timers()
        reason = self.current.state.before_append(self.under_replicated)
        if not self.under_replicated:
            self.ur_streak = 0
        if reason is not None:
            self.roll(reason)
        written = self.current
        assert self.policy.count <= 0 or len(written.bodies) < self.policy.count
        assert self.policy.size <= 0 or sum(written.bodies) < self.policy.size
        written.state.appended(1, body)
        written.bodies.append(body)
        written.write_times.append(self.now)

    @rule()
    def flush(self) -> None:
        written = self.current
        written.state.flushed(self.now)
        if written.write_times and (written.last_flush is None or written.last_flush < written.write_times[-1]):
            written.last_flush = self.now

    @rule(seconds=st.sampled_from([0.1, 0.5, 1.0, 2.5, 7.0]))
    def wait(self, seconds: float) -> None:
        self.now += seconds
        self.check_timers()

    @rule()
    def fail_a_write(self) -> None:
        self.current.failed = True
        self.current.state.write_failed()

    @rule(flag=st.booleans())
    def replication(self, flag: bool) -> None:
        self.under_replicated = flag

    @invariant()
    def deadline_is_when_the_timers_fire(self) -> None:
        if not hasattr(self, "files"):
            return
        state = self.current.state
        deadline = state.deadline()
        if deadline is None:
            assert state.due(self.now + 1e9) is None
        elif deadline == -math.inf:
            assert state.due(self.now) is Roll.FAILED_WRITE
        else:
            assert state.due(deadline) is not None
            assert state.due(math.nextafter(deadline, -math.inf)) is None

    @invariant()
    def only_the_last_file_is_open(self) -> None:
        if not hasattr(self, "files"):
            return
        assert all(w.reason is not None for w in self.files[:-1])
        assert self.current.reason is None


TestRollingSinkModel = RollingSinkModel.TestCase
TestRollingSinkModel.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    database=None,  # other engineers share this tree: keep it free of .hypothesis/ files
    suppress_health_check=[HealthCheck.too_slow],
)
