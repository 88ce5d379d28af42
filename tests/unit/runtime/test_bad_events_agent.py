"""Bad events in a running agent configured from properties (issue 8, items 1, 4, 6): the pipeline keeps
flowing, every good event is delivered once, every bad one is dead-lettered or counted, and a stop reports no
loss."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

from flafka.config.diagnostics import Severity
from flafka.config.loader import plan_from_properties
from flafka.config.properties import parse_properties
from flafka.runtime.agent import Agent
from flafka.testing import wait_until
from tests.unit.runtime import components
from tests.unit.runtime.components import DELIVERED, DELIVERED_EVENTS

C = "tests.unit.runtime.components"

PIPELINE = f"""
a.sources = r1
a.channels = c1
a.sinks = k1
a.sources.r1.type = seq
a.sources.r1.channels = c1
a.sources.r1.batchSize = 500
a.sources.r1.totalEvents = 5000
a.sources.r1.interceptors = poison
a.sources.r1.interceptors.poison.type = {C}:PoisonInterceptor
a.sources.r1.interceptors.poison.every = 250
a.channels.c1.type = memory
a.channels.c1.capacity = 10000
a.channels.c1.transactionCapacity = 500
a.sinks.k1.type = {C}:CollectingSink
a.sinks.k1.channel = c1
"""

DEAD_LETTERS = f"""
a.channels = c1 dl
a.sinks = k1 kd
a.sources.r1.deadLetterChannel = dl
a.channels.dl.type = memory
a.sinks.kd.type = {C}:CollectingSink
a.sinks.kd.channel = dl
"""


def agent_of(text: str) -> Agent:
    loaded = plan_from_properties(parse_properties(textwrap.dedent(text), "t.properties"), "a")
    return Agent(loaded.plan)


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    components.reset()
    yield
    components.reset()


def test_a_poison_event_does_not_stall_the_source() -> None:
    agent = agent_of(PIPELINE)
    agent.start()
    try:
        good = [n for n in range(5000) if n % 250]
        wait_until(lambda: len(DELIVERED["k1"]) >= len(good), message="every good event delivered")
        counters = agent.counters()["SOURCE.r1"]
    finally:
        lost = agent.stop(5)
    assert sorted(int(b) for b in DELIVERED["k1"]) == good
    assert counters["EventDropCount"] == "20"
    assert counters["EventAcceptedCount"] == str(len(good))
    assert lost == 0


def test_poison_events_reach_the_dead_letter_channel_and_its_sink() -> None:
    text = PIPELINE.replace("a.channels = c1\n", "").replace("a.sinks = k1\n", "") + DEAD_LETTERS
    agent = agent_of(text)
    agent.start()
    try:
        wait_until(lambda: len(DELIVERED["kd"]) >= 20 and len(DELIVERED["k1"]) >= 4980, message="all delivered")
        counters = agent.counters()["SOURCE.r1"]
    finally:
        agent.stop(5)
    assert sorted(int(b) for b in DELIVERED["kd"]) == list(range(0, 5000, 250))
    assert len(DELIVERED["k1"]) == 4980
    assert {e.headers["flafka.error"] for e in DELIVERED_EVENTS["kd"][:1]} == {
        f"interceptor poison failed: ValueError: cannot enrich event {int(DELIVERED['kd'][0])}"}
    assert counters["EventDeadLetterCount"] == "20"


def test_an_event_larger_than_the_memory_channel_is_dead_lettered_while_the_rest_flows() -> None:
    text = (PIPELINE.replace(f"{C}:PoisonInterceptor", f"{C}:InflateInterceptor")
            .replace("a.channels = c1\n", "").replace("a.sinks = k1\n", "")
            .replace("a.channels.c1.capacity = 10000", "a.channels.c1.capacity = 10000\n"
                                                       "a.channels.c1.byteCapacity = 1000000")) + DEAD_LETTERS
    agent = agent_of(text)
    agent.start()
    try:
        wait_until(lambda: len(DELIVERED["kd"]) >= 20 and len(DELIVERED["k1"]) >= 4980, timeout=20,
                   message="all delivered")
    finally:
        agent.stop(5)
    assert sorted(int(b) for b in DELIVERED["k1"]) == [n for n in range(5000) if n % 250]
    assert len(DELIVERED["kd"]) == 20
    assert all(len(b) == 900_000 for b in DELIVERED["kd"])
    assert DELIVERED_EVENTS["kd"][0].headers["flafka.error"].startswith("channel c1 cannot hold an event of 900000")


def test_a_multiplexing_selector_without_default_warns_at_check_and_counts_at_run_time() -> None:
    text = PIPELINE.replace("a.sources.r1.interceptors = poison", "a.sources.r1.interceptors = tag").replace(
        f"a.sources.r1.interceptors.poison.type = {C}:PoisonInterceptor", f"a.sources.r1.interceptors.tag.type = "
                                                                         f"{C}:TagInterceptor").replace(
        "a.sources.r1.interceptors.poison.every = 250\n", "") + (
        "a.sources.r1.selector.type = multiplexing\na.sources.r1.selector.header = kind\n"
        "a.sources.r1.selector.mapping.even = c1\n")
    loaded = plan_from_properties(parse_properties(textwrap.dedent(text), "t.properties"), "a")
    warnings = [d for d in loaded.diagnostics if d.severity is Severity.WARNING]
    assert [(d.component, d.key) for d in warnings] == [("sources.r1", "selector.default")]
    assert "dropped" in warnings[0].message
    agent = Agent(loaded.plan)
    agent.start()
    try:
        wait_until(lambda: agent.counters()["SOURCE.r1"]["EventDropCount"] == "2500", message="odd events counted")
        wait_until(lambda: len(DELIVERED["k1"]) >= 2500)
    finally:
        agent.stop(5)
    assert sorted(int(b) for b in DELIVERED["k1"]) == list(range(0, 5000, 2))
