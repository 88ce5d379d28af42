"""The agent's lifecycle lines: "Agent started" after every component started, one totals line per component at stop."""

from __future__ import annotations

import logging
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from flafka.config.loader import plan_from_properties
from flafka.config.plan import AgentPlan
from flafka.config.properties import parse_properties
from flafka.errors import TransientError
from flafka.runtime.agent import Agent
from flafka.sources.seq import SequenceSource
from flafka.testing import wait_until

T = "tests.unit.runtime.test_agent_logs"
log = logging.getLogger(__name__)


class GatedSource(SequenceSource):
    """A seq source whose start (in its runner's thread) waits for the test to open ``GATE``."""

    GATE = threading.Event()
    ENTERED = threading.Event()

    def start(self) -> None:
        GatedSource.ENTERED.set()
        if not GatedSource.GATE.wait(10):
            raise TimeoutError("the test never opened the gate")
        super().start()
        log.info("Gated source %s started.", self.name)


class BrokenSource(SequenceSource):
    """A seq source whose start always fails (its runner logs it and retries)."""

    def start(self) -> None:
        raise ConnectionRefusedError("nothing listens")


class UnreachableSource(SequenceSource):
    """A seq source whose start fails the expected way: a flafka error saying what is unreachable."""

    def start(self) -> None:
        raise TransientError("cannot reach ZooKeeper at 127.0.0.1:1 within 2 s")


@pytest.fixture(autouse=True)
def _gate() -> Iterator[None]:
    GatedSource.GATE.clear()
    GatedSource.ENTERED.clear()
    yield
    GatedSource.GATE.set()  # a test that failed half-way must not leave a runner thread waiting


def plan(text: str) -> AgentPlan:
    return plan_from_properties(parse_properties(textwrap.dedent(text), "t.properties"), "a").plan


def pipeline(source_type: str, total: int = 0) -> AgentPlan:
    return plan(f"""
    a.sources = r1
    a.channels = c1
    a.sinks = k1
    a.sources.r1.type = {source_type}
    a.sources.r1.channels = c1
    a.sources.r1.batchSize = 100
    a.sources.r1.totalEvents = {total}
    a.channels.c1.type = memory
    a.channels.c1.capacity = 1000
    a.channels.c1.transactionCapacity = 100
    a.sinks.k1.type = null
    a.sinks.k1.channel = c1
    a.sinks.k1.batchSize = 100
    """)


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def test_agent_started_is_logged_after_a_source_that_starts_in_its_runner_thread(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    agent = Agent(pipeline(f"{T}:GatedSource"))
    starting = threading.Thread(target=agent.start, name="test-agent-start")
    starting.start()
    try:
        assert GatedSource.ENTERED.wait(10), "the source's start was never called"
        assert not any(m.startswith("Agent a started") for m in messages(caplog)), \
            "Agent started was logged while a source was still starting"
        GatedSource.GATE.set()
        starting.join(10)
        assert not starting.is_alive()
        lines = messages(caplog)
        assert lines.index("Gated source r1 started.") < lines.index(
            "Agent a started. sources=1 channels=1 sinkgroups=1")
    finally:
        GatedSource.GATE.set()
        starting.join(10)
        agent.stop(2)


def test_a_failing_start_does_not_hold_up_agent_started_and_is_named(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    agent = Agent(pipeline(f"{T}:BrokenSource"))
    began = time.monotonic()
    agent.start(start_timeout=30)
    try:
        assert time.monotonic() - began < 10  # the first failure ends the wait, not the 30 s deadline
        agent_lines = [r for r in caplog.records if r.getMessage().startswith("Agent a started")]
        assert len(agent_lines) == 1
        assert agent_lines[0].levelno == logging.WARNING
        assert agent_lines[0].getMessage().endswith("sources=1 channels=1 sinkgroups=1 not_started=source:r1")
        # The failure itself is reported by the runner, as before, ahead of the agent's line.
        failure = next(i for i, r in enumerate(caplog.records) if "Source r1 failed to start" in r.getMessage())
        assert failure < caplog.records.index(agent_lines[0])
    finally:
        agent.stop(2)


def test_stop_logs_one_totals_line_per_component(caplog: pytest.LogCaptureFixture) -> None:
    agent = Agent(pipeline("seq", total=500))
    agent.start()
    try:
        wait_until(lambda: agent.counters()["SINK.k1"]["EventDrainSuccessCount"] == "500", message="500 delivered")
    finally:
        caplog.set_level(logging.INFO)
        agent.stop(2)
    stopped = [m for m in messages(caplog) if m.startswith("Component stopped.")]
    by_component = {m.split()[2]: m for m in stopped}
    assert len(stopped) == len(by_component) == 3, stopped
    source = by_component["component=SOURCE.r1"].split()
    assert "EventReceivedCount=500" in source
    assert "EventAcceptedCount=500" in source
    assert "AppendBatchAcceptedCount=5" in source  # not a main counter, shown because it is not zero
    assert not any(f.endswith("=0") and f.startswith("Append") for f in source)  # zeros left out
    channel = by_component["component=CHANNEL.c1"].split()
    assert {"EventPutSuccessCount=500", "EventTakeSuccessCount=500", "ChannelSize=0"} <= set(channel)
    sink = by_component["component=SINK.k1"].split()
    assert {"EventDrainAttemptCount=500", "EventDrainSuccessCount=500"} <= set(sink)
    # Every line comes before the agent's own.
    assert messages(caplog).index(stopped[-1]) < next(
        i for i, m in enumerate(messages(caplog)) if m.startswith("Agent a stopped."))


@pytest.mark.parametrize(("source", "traceback"), [("UnreachableSource", False), ("BrokenSource", True)])
def test_an_expected_start_failure_is_one_line_without_a_traceback(
        caplog: pytest.LogCaptureFixture, source: str, traceback: bool) -> None:
    """flafka's own errors (a server unreachable) are expected conditions: their message says it all; anything
    else is a bug, and keeps its traceback."""
    caplog.set_level(logging.INFO)
    agent = Agent(pipeline(f"{T}:{source}"))
    agent.start(start_timeout=30)
    try:
        failure = next(r for r in caplog.records if "Source r1 failed to start" in r.getMessage())
        assert (failure.exc_info is not None) is traceback
    finally:
        agent.stop(2)
