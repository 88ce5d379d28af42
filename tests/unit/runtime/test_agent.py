"""The running agent: delivery counts, routing, interceptor failures, graceful stop, reload."""

from __future__ import annotations

import logging
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flafka.channels.file import FileChannel
from flafka.channels.memory import MemoryChannel
from flafka.config.loader import plan_from_properties
from flafka.config.plan import AgentPlan
from flafka.config.properties import parse_properties
from flafka.errors import ReloadFailed
from flafka.event import Event
from flafka.runtime.agent import Agent
from flafka.testing import build, wait_until
from tests.unit.runtime import components
from tests.unit.runtime.components import DELIVERED, CollectingSink, FailingInterceptor

C = "tests.unit.runtime.components"
T = "tests.unit.runtime.test_agent"  # components defined in this module


def plan(text: str) -> AgentPlan:
    return plan_from_properties(parse_properties(textwrap.dedent(text), "t.properties"), "a").plan


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    components.reset()
    yield
    components.reset()


@pytest.fixture
def running() -> Iterator[list[Agent]]:
    agents: list[Agent] = []
    yield agents
    for agent in agents:
        agent.stop(2)


def start(text: str, agents: list[Agent]) -> Agent:
    agent = Agent(plan(text))
    agents.append(agent)
    agent.start()
    return agent


SEQ = f"""
a.sources = r1
a.channels = c1
a.sinks = k1
a.sources.r1.type = seq
a.sources.r1.channels = c1
a.sources.r1.batchSize = 500
a.sources.r1.totalEvents = 20000
a.channels.c1.type = memory
a.channels.c1.capacity = 5000
a.channels.c1.transactionCapacity = 500
a.sinks.k1.type = {C}:CollectingSink
a.sinks.k1.channel = c1
a.sinks.k1.batchSize = 300
"""


def test_seq_to_memory_delivers_each_number_exactly_once(running: list[Agent]) -> None:
    agent = start(SEQ, running)
    wait_until(lambda: len(DELIVERED["k1"]) >= 20000, message="20000 events delivered")
    assert sorted(int(b) for b in DELIVERED["k1"]) == list(range(20000))
    assert DELIVERED["k1"][:3] == [b"0", b"1", b"2"]  # FIFO through one channel
    counters = agent.counters()
    assert counters["SOURCE.r1"]["EventAcceptedCount"] == "20000"
    assert counters["CHANNEL.c1"]["EventTakeSuccessCount"] == "20000"
    assert counters["SINK.k1"]["EventDrainSuccessCount"] == "20000"


def test_multiplexing_routes_by_header(running: list[Agent]) -> None:
    text = f"""
    a.sources = r1
    a.channels = odd even
    a.sinks = ko ke
    a.sources.r1.type = seq
    a.sources.r1.channels = odd even
    a.sources.r1.batchSize = 100
    a.sources.r1.totalEvents = 1000
    a.sources.r1.interceptors = tag
    a.sources.r1.interceptors.tag.type = {C}:TagInterceptor
    a.sources.r1.selector.type = multiplexing
    a.sources.r1.selector.header = kind
    a.sources.r1.selector.mapping.odd = odd
    a.sources.r1.selector.default = even
    a.channels.odd.type = memory
    a.channels.even.type = memory
    a.sinks.ko.type = {C}:CollectingSink
    a.sinks.ko.channel = odd
    a.sinks.ke.type = {C}:CollectingSink
    a.sinks.ke.channel = even
    """
    start(text, running)
    wait_until(lambda: len(DELIVERED["ko"]) + len(DELIVERED["ke"]) >= 1000)
    assert sorted(int(b) for b in DELIVERED["ko"]) == list(range(1, 1000, 2))
    assert sorted(int(b) for b in DELIVERED["ke"]) == list(range(0, 1000, 2))


def test_replicating_writes_every_event_to_every_channel(running: list[Agent]) -> None:
    text = SEQ.replace("a.channels = c1", "a.channels = c1 c2").replace(
        "a.sources.r1.channels = c1", "a.sources.r1.channels = c1 c2").replace(
        "a.sinks = k1", "a.sinks = k1 k2") + (
        "a.channels.c2.type = memory\na.channels.c2.capacity = 5000\na.channels.c2.transactionCapacity = 500\n"
        f"a.sinks.k2.type = {C}:CollectingSink\na.sinks.k2.channel = c2\n")
    start(text, running)
    wait_until(lambda: len(DELIVERED["k1"]) >= 20000 and len(DELIVERED["k2"]) >= 20000)
    assert sorted(DELIVERED["k1"]) == sorted(DELIVERED["k2"])
    assert len(set(DELIVERED["k2"])) == 20000


def test_failing_interceptor_does_not_kill_the_agent_and_the_batch_is_retried(
    running: list[Agent], caplog: pytest.LogCaptureFixture
) -> None:
    FailingInterceptor.failures_left = 3
    text = SEQ.replace("a.sources.r1.totalEvents = 20000", "a.sources.r1.totalEvents = 1000") + (
        f"a.sources.r1.interceptors = bad\na.sources.r1.interceptors.bad.type = {C}:FailingInterceptor\n"
        "a.sources.r1.backoffSleepIncrement = 50\n"
    )
    caplog.set_level(logging.WARNING)
    agent = start(text, running)
    wait_until(lambda: len(DELIVERED["k1"]) >= 1000)
    assert sorted(int(b) for b in DELIVERED["k1"]) == list(range(1000))
    assert agent.counters()["SOURCE.r1"]["GenericProcessingFail"] == "3"
    failures = [r for r in caplog.records if "an interceptor failed" in r.getMessage()]
    assert len(failures) == 1  # logged once per kind, not once per batch
    assert "enrichment service unavailable" in failures[0].getMessage()


def test_graceful_stop_drains_the_channel(running: list[Agent]) -> None:
    components.FAILING.add("k1")  # the sink is down while the source fills the channel
    text = SEQ.replace("totalEvents = 20000", "totalEvents = 4000")
    agent = Agent(plan(text))
    agent.start()
    wait_until(lambda: agent.channels["c1"].size() == 4000, message="channel filled")
    components.FAILING.discard("k1")
    left = agent.stop(timeout=8)
    assert left == 0
    assert sorted(int(b) for b in DELIVERED["k1"]) == list(range(4000))


def test_stop_reports_what_a_dead_sink_could_not_drain(running: list[Agent],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    components.FAILING.add("k1")
    agent = Agent(plan(SEQ.replace("totalEvents = 20000", "totalEvents = 1000")))
    agent.start()
    wait_until(lambda: agent.channels["c1"].size() == 1000)
    caplog.set_level(logging.ERROR)
    assert agent.stop(timeout=1.5) == 1000
    assert any("events=1000" in r.getMessage() for r in caplog.records)


def test_reload_restarts_only_what_changed_and_keeps_channel_events(running: list[Agent]) -> None:
    components.FAILING.add("k1")
    text = SEQ.replace("totalEvents = 20000", "totalEvents = 1000")
    agent = start(text, running)
    wait_until(lambda: agent.channels["c1"].size() == 1000)
    channel_before = agent.channels["c1"]
    sink_before = agent.sinks["k1"]
    # change only the channel's capacity and the sink's batch size
    changed = text.replace("capacity = 5000", "capacity = 6000").replace("batchSize = 300", "batchSize = 200")
    agent.apply(plan(changed))
    assert agent.channels["c1"] is channel_before  # resized in place, events kept
    assert agent.channels["c1"].size() == 1000
    assert agent.sinks["k1"] is not sink_before  # the changed sink was rebuilt
    assert agent.channels["c1"].counter.channel_capacity == 6000
    components.FAILING.discard("k1")
    wait_until(lambda: len(DELIVERED["k1"]) >= 1000)
    assert sorted(int(b) for b in DELIVERED["k1"]) == list(range(1000))


def test_reload_with_unchanged_source_keeps_it_running(running: list[Agent]) -> None:
    agent = start(SEQ, running)
    source_before = agent.sources["r1"]
    agent.apply(plan(SEQ.replace("batchSize = 300", "batchSize = 250")))
    assert agent.sources["r1"] is source_before
    wait_until(lambda: len(DELIVERED["k1"]) >= 20000)
    assert sorted(int(b) for b in DELIVERED["k1"]) == list(range(20000))


# -- stop: a batch a sink holds at the deadline (issue 8, item 8) ------------------------------------


class StallingSink(CollectingSink):
    """Delivers like CollectingSink until it delivered ``stall_after`` events; its next deliver then waits
    for ``release`` (a destination that stops answering with a batch in the sink's hands)."""

    stall_after = 20_000
    stalled = threading.Event()
    release = threading.Event()

    def deliver(self, events: list[Event]) -> None:
        if len(DELIVERED[self.name]) >= StallingSink.stall_after:
            StallingSink.stalled.set()
            StallingSink.release.wait(60)
        super().deliver(events)


@pytest.fixture
def stalling() -> Iterator[type[StallingSink]]:
    StallingSink.stalled.clear()
    StallingSink.release.clear()
    yield StallingSink
    StallingSink.release.set()


def test_stop_counts_the_batch_a_sink_holds_at_the_deadline_as_lost(
    stalling: type[StallingSink], caplog: pytest.LogCaptureFixture
) -> None:
    text = f"""
    a.sources = r1
    a.channels = c1
    a.sinks = k1
    a.sources.r1.type = seq
    a.sources.r1.channels = c1
    a.sources.r1.batchSize = 1000
    a.sources.r1.totalEvents = 100000
    a.channels.c1.type = memory
    a.channels.c1.capacity = 100000
    a.channels.c1.transactionCapacity = 1000
    a.sinks.k1.type = {T}:StallingSink
    a.sinks.k1.channel = c1
    a.sinks.k1.batchSize = 100
    """
    agent = Agent(plan(text))
    agent.start()
    sink = agent.sinks["k1"]
    wait_until(lambda: agent.counters()["SOURCE.r1"]["EventAcceptedCount"] == "100000", timeout=60,
               message="every event in the channel")
    assert stalling.stalled.wait(30)
    caplog.set_level(logging.INFO)
    lost = agent.stop(timeout=1.0)
    delivered = sink.counter.event_drain_success_count
    assert delivered == stalling.stall_after
    assert delivered + lost == 100_000
    assert f"Channel c1 still held events at stop; they are lost (it is not durable). events={lost}" in caplog.text
    # The destination answers after the stop: that batch was counted as lost, so its commit must not succeed.
    stalling.release.set()
    runner = next((t for t in threading.enumerate() if t.name == "sinkgroup-k1"), None)
    if runner is not None:
        runner.join(30)
        assert not runner.is_alive()
    assert sink.counter.event_drain_success_count == delivered


# -- reload: replacing a memory channel that holds events (item 10) ---------------------------------


HELD = f"""
a.sources = r1
a.channels = c1
a.sinks = k1
a.sources.r1.type = seq
a.sources.r1.channels = c1
a.sources.r1.batchSize = 500
a.sources.r1.totalEvents = 4450
a.channels.c1.type = memory
a.channels.c1.capacity = 5000
a.channels.c1.transactionCapacity = 500
a.sinks.k1.type = {C}:CollectingSink
a.sinks.k1.channel = c1
a.sinks.k1.batchSize = 300
"""


def file_channel_keys(directory: Path) -> str:
    return (f"a.channels.c1.type = file\na.channels.c1.checkpointDir = {directory / 'checkpoint'}\n"
            f"a.channels.c1.dataDirs = {directory / 'data'}\n")


def without_source(text: str) -> str:
    """``text`` with its source removed: a restarted seq source would count from 0 again."""
    kept = [ln for ln in textwrap.dedent(text).splitlines() if not ln.startswith("a.sources")]
    return "\n".join(kept) + "\n"


def test_reload_from_memory_to_file_channel_moves_the_queued_events_in_order(
    running: list[Agent], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    components.FAILING.add("k1")  # the sink is down: the memory channel holds every event
    agent = start(HELD, running)
    wait_until(lambda: agent.channels["c1"].size() == 4450, message="channel filled")
    memory = agent.channels["c1"]
    changed = without_source(HELD).replace("a.channels.c1.type = memory\n", file_channel_keys(tmp_path))
    caplog.set_level(logging.INFO)
    assert agent.apply(plan(changed), timeout=8) == 0
    assert isinstance(agent.channels["c1"], FileChannel)
    assert agent.counters()["CHANNEL.c1"]["EventPutSuccessCount"] == "4450"  # (its sink may hold a take now)
    assert memory.size() == 0
    assert "Channel c1 moved its events into its replacement. events=4450 to=FileChannel" in caplog.text
    assert "lost" not in " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    components.FAILING.discard("k1")
    wait_until(lambda: len(DELIVERED["k1"]) >= 4450, timeout=30)
    assert DELIVERED["k1"] == [str(i).encode() for i in range(4450)]  # once each, in their order


def test_reload_counts_and_logs_what_could_not_be_moved(
    running: list[Agent], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    components.FAILING.add("k1")
    agent = start(HELD, running)
    wait_until(lambda: agent.channels["c1"].size() == 4450, message="channel filled")
    small = (without_source(HELD).replace("a.channels.c1.type = memory\n", file_channel_keys(tmp_path))
             .replace("capacity = 5000", "capacity = 1000") + "a.channels.c1.keep-alive = 0.1\n")
    caplog.set_level(logging.INFO)
    began = time.monotonic()
    lost = agent.apply(plan(small), timeout=2)
    assert time.monotonic() - began < 4
    assert lost == 3450
    assert agent.counters()["CHANNEL.c1"]["EventPutSuccessCount"] == "1000"
    assert ("Channel c1 could not move all its events into its replacement. moved=1000 left=3450 error=file "
            "channel c1 is full (capacity 1000 events)") in caplog.text
    assert ("Channel c1 still held events when the reload removed it; they are lost (it is not durable). "
            "events=3450") in caplog.text
    components.FAILING.discard("k1")
    wait_until(lambda: len(DELIVERED["k1"]) >= 1000, timeout=30)
    assert DELIVERED["k1"] == [str(i).encode() for i in range(1000)]


# -- reload: a new channel that cannot start (item 11) ----------------------------------------------


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Path]:
    """Directories of a file channel held (locked) by another FileChannel instance."""
    directory = tmp_path / "locked"
    holder = build(FileChannel, {"checkpointDir": str(directory / "checkpoint"), "dataDirs": str(directory / "data")},
                   "holder")
    holder.start()
    yield directory
    holder.stop()


def test_reload_whose_new_channel_cannot_start_keeps_the_old_pipeline_running(
    running: list[Agent], locked: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agent = start(SEQ, running)
    wait_until(lambda: len(DELIVERED["k1"]) > 0)
    before = (agent.channels["c1"], agent.sources["r1"], agent.sinks["k1"])
    caplog.set_level(logging.ERROR)
    with pytest.raises(ReloadFailed) as failed:
        agent.apply(plan(SEQ.replace("a.channels.c1.type = memory\n", file_channel_keys(locked))))
    assert failed.value.restored
    assert (agent.channels["c1"], agent.sources["r1"], agent.sinks["k1"]) == before  # nothing was touched
    [error] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.startswith("Agent a refused the new configuration: a channel could not start; the previous "
                            "pipeline goes on running. channel c1: ")
    assert f"channel directory {locked / 'checkpoint'} is in use by another channel of this process" in error
    wait_until(lambda: len(DELIVERED["k1"]) >= 20000, message="the old pipeline delivering on")
    assert sorted(int(b) for b in DELIVERED["k1"]) == list(range(20000))


def test_reload_that_must_stop_the_old_durable_channel_first_restores_it_when_the_new_one_fails(
    running: list[Agent], tmp_path: Path, locked: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = SEQ.replace("a.channels.c1.type = memory\n", file_channel_keys(tmp_path / "old"))
    agent = start(text, running)
    wait_until(lambda: len(DELIVERED["k1"]) > 0)
    old_channel = agent.channels["c1"]
    caplog.set_level(logging.ERROR)
    with pytest.raises(ReloadFailed) as failed:
        agent.apply(plan(SEQ.replace("a.channels.c1.type = memory\n", file_channel_keys(locked))))
    assert failed.value.restored
    [error] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.startswith("Agent a refused the new configuration: a channel could not start; the previous "
                            "pipeline runs again. channel c1: DirectoryInUse: ")
    assert agent.channels["c1"] is old_channel  # stopped to free what it might share, then started again
    # The restored seq source is a new instance: it counts from 0 again.
    wait_until(lambda: len(set(DELIVERED["k1"])) >= 20000, timeout=30, message="the restored pipeline delivering")
    assert sorted({int(b) for b in DELIVERED["k1"]}) == list(range(20000))


class StartsOnce(MemoryChannel):
    """A durable-declared channel that cannot start a second time (its storage went away meanwhile)."""

    durable = True
    starts = 0

    def start(self) -> None:
        StartsOnce.starts += 1
        if StartsOnce.starts > 1:
            raise OSError("storage gone")
        super().start()


def test_reload_that_cannot_restore_the_old_pipeline_reports_that_the_agent_cannot_run(
    running: list[Agent], locked: Path, caplog: pytest.LogCaptureFixture
) -> None:
    StartsOnce.starts = 0
    agent = start(SEQ.replace("a.channels.c1.type = memory", f"a.channels.c1.type = {T}:StartsOnce"), running)
    caplog.set_level(logging.ERROR)
    with pytest.raises(ReloadFailed) as failed:
        agent.apply(plan(SEQ.replace("a.channels.c1.type = memory\n", file_channel_keys(locked))))
    assert not failed.value.restored
    assert "the previous channel c1 could not start again. OSError: storage gone" in caplog.text
