"""The running agent: delivery counts, routing, interceptor failures, graceful stop, reload."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator

import pytest

from flafka.config.loader import plan_from_properties
from flafka.config.plan import AgentPlan
from flafka.config.properties import parse_properties
from flafka.runtime.agent import Agent
from flafka.testing import wait_until
from tests.unit.runtime import components
from tests.unit.runtime.components import DELIVERED, FailingInterceptor

C = "tests.unit.runtime.components"


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
