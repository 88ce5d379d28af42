"""The runtime's metrics registry and what reads it: every component's counters (interceptors, selectors, sink
processors too) in /status and the Prometheus text, counters started and stopped with their components,
reloads, and /health's stalled state and bad-event policy. In-process agents, no servers."""

from __future__ import annotations

import http.client
import json
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from flafka.config.loader import plan_from_properties
from flafka.config.properties import parse_properties
from flafka.errors import DeliveryError
from flafka.event import Event
from flafka.monitoring.http import MonitoringServer
from flafka.monitoring.status import status_document
from flafka.runtime.agent import Agent
from flafka.sinks.null import NullSink
from flafka.sources.base import Status
from flafka.testing import wait_until

FAIL = threading.Event()  # FlakySink raises while set
STUCK = threading.Event()  # StuckSink takes nothing while set


class FlakySink(NullSink):
    def process(self) -> Status:
        if FAIL.is_set():
            raise DeliveryError(f"sink {self.name}: destination down")
        return super().process()


class StuckSink(NullSink):
    """Takes nothing while STUCK is set: its channel fills, it never raises (a hung destination, say)."""

    def process(self) -> Status:
        if STUCK.is_set():
            return Status.BACKOFF
        return super().process()


# 1,000 events "0".."999": i1 drops the 100 ending in 7, i2 copies the last digit into header d, the selector
# routes digits 0-5 to c1 and maps 6, 8, 9 nowhere (300 unrouted). g1 fails over from k1 (preferred) to k2.
PIPELINE = f"""
a.sources = r1
a.channels = c1
a.sinks = k1 k2
a.sinkgroups = g1
a.sources.r1.type = seq
a.sources.r1.totalEvents = 1000
a.sources.r1.channels = c1
a.sources.r1.interceptors = i1 i2
a.sources.r1.interceptors.i1.type = regex_filter
a.sources.r1.interceptors.i1.regex = .*7$
a.sources.r1.interceptors.i1.excludeEvents = true
a.sources.r1.interceptors.i2.type = regex_extractor
a.sources.r1.interceptors.i2.regex = (\\\\d)$
a.sources.r1.interceptors.i2.serializers = s1
a.sources.r1.interceptors.i2.serializers.s1.name = d
a.sources.r1.selector.type = multiplexing
a.sources.r1.selector.header = d
a.sources.r1.selector.mapping.0 = c1
a.sources.r1.selector.mapping.1 = c1
a.sources.r1.selector.mapping.2 = c1
a.sources.r1.selector.mapping.3 = c1
a.sources.r1.selector.mapping.4 = c1
a.sources.r1.selector.mapping.5 = c1
a.channels.c1.type = memory
a.channels.c1.capacity = 10000
a.sinks.k1.type = {__name__}:FlakySink
a.sinks.k1.channel = c1
a.sinks.k2.type = null
a.sinks.k2.channel = c1
a.sinkgroups.g1.sinks = k1 k2
a.sinkgroups.g1.processor.type = failover
a.sinkgroups.g1.processor.priority.k1 = 10
a.sinkgroups.g1.processor.priority.k2 = 5
a.sinkgroups.g1.processor.maxpenalty = 50
"""


def _agent(text: str) -> Agent:
    return Agent(plan_from_properties(parse_properties(textwrap.dedent(text), "t.properties"), "a").plan)


@pytest.fixture
def served() -> Iterator[tuple[Agent, MonitoringServer]]:
    FAIL.set()  # k1 fails from the start: k2 delivers
    STUCK.clear()
    agent = _agent(PIPELINE)
    server = MonitoringServer(agent, port=0)
    agent.start()
    server.start()
    yield agent, server
    FAIL.clear()
    STUCK.clear()
    server.stop()
    agent.stop(2)


def get(server: MonitoringServer, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def drained(agent: Agent) -> bool:
    counters = agent.metrics.snapshot()
    return counters["SOURCE.r1"]["EventReceivedCount"] == "1000" and counters["CHANNEL.c1"]["ChannelSize"] == "0"


def test_status_has_every_component_in_configuration_order_with_its_counters(
        served: tuple[Agent, MonitoringServer]) -> None:
    agent, server = served
    wait_until(lambda: drained(agent), message="the 1,000 events through")
    status, body = get(server, "/status")
    assert status == 200
    doc: dict[str, Any] = json.loads(body)
    assert doc["agent"] == "a"
    assert isinstance(doc["time_ms"], int)
    (source,) = doc["sources"]
    assert (source["name"], source["type"], source["channels"], source["state"]) == ("r1", "seq", ["c1"], "running")
    assert source["counters"]["EventReceivedCount"] == "1000"
    assert source["counters"]["EventAcceptedCount"] == "600"
    assert source["counters"]["EventDropCount"] == "300"  # unrouted
    assert source["on_bad_event"] == "drop"
    assert [(i["name"], i["type"]) for i in source["interceptors"]] == [("i1", "regex_filter"),
                                                                          ("i2", "regex_extractor")]
    i1, i2 = (i["counters"] for i in source["interceptors"])
    assert (i1["EventReceivedCount"], i1["EventEmittedCount"], i1["FailCount"]) == ("1000", "900", "0")
    assert (i2["EventReceivedCount"], i2["EventEmittedCount"]) == ("900", "900")
    assert int(i1["TimeMillis"]) >= 0
    assert "TimeNanos" not in i1
    assert source["selector"]["type"] == "multiplexing"
    assert (source["selector"]["counters"]["EventRoutedCount"],
            source["selector"]["counters"]["EventUnroutedCount"]) == ("600", "300")
    (channel,) = doc["channels"]
    assert (channel["name"], channel["type"], channel["lag"]) == ("c1", "memory", [])
    assert channel["counters"]["EventTakeSuccessCount"] == "600"
    (group,) = doc["sinkgroups"]
    assert (group["name"], group["processor"]) == ("g1", "failover")
    assert [(s["name"], s["type"], s["channel"]) for s in group["sinks"]] == [
        ("k1", f"{__name__}:FlakySink", "c1"), ("k2", "null", "c1")]
    assert group["sinks"][1]["counters"]["EventDrainSuccessCount"] == "600"
    assert int(group["counters"]["SinkFailCount"]) >= 1
    assert group["counters"]["SinkBackoffCount"] == group["counters"]["SinkFailCount"]
    # k2 delivers for its failing preferred sink: the group runs (its counters tell of k1's failures).
    assert doc["healthy"] is True
    assert group["state"] == "running"


def test_failover_counts_when_the_preferred_sink_takes_over_again(served: tuple[Agent, MonitoringServer]) -> None:
    agent, _ = served
    wait_until(lambda: drained(agent), message="the 1,000 events through k2")
    processor = agent.metrics.get("SINK_PROCESSOR.g1")
    assert processor is not None
    assert processor.snapshot()["FailoverCount"] == "0"
    FAIL.clear()

    def k1_delivered_again() -> bool:
        # k1 is back in service once, its penalty over, it delivers a batch: offer one until it does.
        if agent.channels["c1"].size() == 0:
            with agent.channels["c1"].transaction() as tx:
                tx.put_batch([Event(b"late")])
        return processor.snapshot()["FailoverCount"] == "1"

    wait_until(k1_delivered_again, message="k1 back in service")
    assert int(agent.metrics.snapshot()["SINK.k1"]["EventDrainSuccessCount"]) >= 1


def test_prometheus_has_interceptors_selectors_and_processors_and_metrics_keeps_flumes_three(
        served: tuple[Agent, MonitoringServer]) -> None:
    agent, server = served
    wait_until(lambda: drained(agent), message="the 1,000 events through")
    samples = {(s.name, s.labels["component"]): s.value
               for family in text_string_to_metric_families(get(server, "/metrics/prometheus")[1])
               for s in family.samples if "component" in s.labels}
    assert samples[("flafka_interceptor_event_received_total", "r1.i1")] == 1000
    assert samples[("flafka_interceptor_event_emitted_total", "r1.i1")] == 900
    assert samples[("flafka_selector_event_unrouted_total", "r1")] == 300
    assert samples[("flafka_sink_processor_sink_fail_total", "g1")] >= 1
    flume = json.loads(get(server, "/metrics")[1])
    assert set(flume) == {"SOURCE.r1", "CHANNEL.c1", "SINK.k1", "SINK.k2"}


def test_the_runtime_starts_and_stops_every_counter_with_its_component() -> None:
    agent = _agent(PIPELINE)
    FAIL.clear()
    agent.start()
    try:
        wait_until(lambda: drained(agent), message="the 1,000 events through")
        keys = agent.metrics.keys()
        assert sorted(keys) == ["CHANNEL.c1", "INTERCEPTOR.r1.i1", "INTERCEPTOR.r1.i2", "SELECTOR.r1", "SINK.k1",
                                "SINK.k2", "SINK_PROCESSOR.g1", "SOURCE.r1"]
        for key, snapshot in agent.metrics.snapshot().items():
            assert int(snapshot["StartTime"]) > 0, key
            assert snapshot["StopTime"] == "0", key
    finally:
        agent.stop(2)
    for key, snapshot in agent.metrics.snapshot().items():
        assert int(snapshot["StopTime"]) >= int(snapshot["StartTime"]) > 0, key


def test_a_reload_unregisters_what_it_removed_and_registers_replacements() -> None:
    agent = _agent(PIPELINE)
    FAIL.clear()
    agent.start()
    try:
        wait_until(lambda: drained(agent), message="the 1,000 events through")
        old_k2 = agent.metrics.get("SINK.k2")
        smaller = PIPELINE.replace("a.sources.r1.interceptors = i1 i2", "a.sources.r1.interceptors = i1").replace(
            "a.sinks.k2.type = null", "a.sinks.k2.type = null\na.sinks.k2.batchSize = 7")
        agent.apply(plan_from_properties(parse_properties(textwrap.dedent(smaller), "t.properties"), "a").plan)
        keys = agent.metrics.keys()
        assert "INTERCEPTOR.r1.i2" not in keys
        assert "INTERCEPTOR.r1.i1" in keys
        new_k2 = agent.metrics.get("SINK.k2")
        assert new_k2 is not None
        assert new_k2 is not old_k2
        assert new_k2 is agent.sinks["k2"].counter
        assert set(agent.counters()) == {"SOURCE.r1", "CHANNEL.c1", "SINK.k1", "SINK.k2"}
    finally:
        agent.stop(2)


STALL = f"""
a.sources = r1
a.channels = c1 dead
a.sinks = k1 kd
a.sources.r1.type = seq
a.sources.r1.totalEvents = 500
a.sources.r1.channels = c1
a.sources.r1.deadLetterChannel = dead
a.channels.c1.type = memory
a.channels.c1.capacity = 1000
a.channels.dead.type = memory
a.sinks.k1.type = {__name__}:StuckSink
a.sinks.k1.channel = c1
a.sinks.kd.type = null
a.sinks.kd.channel = dead
"""


def test_a_sink_with_events_waiting_and_no_progress_is_stalled_then_running_again() -> None:
    STUCK.set()
    agent = _agent(STALL)
    agent.stall_after = 0.3
    agent.start()
    try:
        wait_until(lambda: agent.channels["c1"].size() == 500, message="the events waiting in c1")
        report = wait_until(lambda: (h := agent.health()).components["SINK.k1"]["state"] == "stalled" and h,
                            message="k1 stalled")
        sink = report.components["SINK.k1"]
        assert sink["last_error"].startswith("input waiting, no progress for ")
        assert sink["since"].endswith("Z")
        assert not report.healthy
        assert report.components["SINK.kd"]["state"] == "running"  # nothing waits for it
        assert report.components["SOURCE.r1"]["on_bad_event"] == "deadLetter"
        assert report.components["SINK.k1"]["on_bad_event"] == "drop"
        STUCK.clear()
        wait_until(lambda: agent.health().healthy, message="healthy once k1 moves events")
        assert agent.channels["c1"].size() == 0
    finally:
        STUCK.clear()
        agent.stop(2)


def test_an_idle_sink_with_nothing_waiting_is_not_stalled() -> None:
    agent = _agent(STALL)
    agent.stall_after = 0.0
    agent.start()
    try:
        wait_until(lambda: agent.metrics.snapshot()["SINK.k1"]["EventDrainSuccessCount"] == "500",
                   message="all delivered")
        wait_until(lambda: agent.channels["c1"].size() == 0, message="c1 empty")
        assert agent.health().components["SINK.k1"]["state"] == "running"
    finally:
        agent.stop(2)


def test_the_status_of_a_sink_of_no_group_is_in_its_own_group() -> None:
    agent = _agent(STALL)
    agent.start()
    try:
        wait_until(lambda: agent.health().healthy, message="running")
        doc = status_document(agent)
        assert [(g["name"], [s["name"] for s in g["sinks"]]) for g in doc["sinkgroups"]] == [("k1", ["k1"]),
                                                                                         ("kd", ["kd"])]
        assert doc["sources"][0]["dead_letter_channel"] == "dead"
        assert [c["name"] for c in doc["channels"]] == ["c1", "dead"]
    finally:
        agent.stop(2)


class FailsToStartTwice(NullSink):
    """Its first two starts fail, each counting a failed connection (as the HDFS or Kafka sink does)."""

    attempts = 0

    def start(self) -> None:
        type(self).attempts += 1
        if type(self).attempts <= 2:
            with self.counter.lock:
                self.counter.connection_failed_count += 1
            raise DeliveryError(f"sink {self.name}: cannot connect")


def test_a_start_retried_keeps_counting_its_failures() -> None:
    FailsToStartTwice.attempts = 0
    agent = _agent(STALL.replace(f"{__name__}:StuckSink", f"{__name__}:FailsToStartTwice"))
    agent.start(start_timeout=0.5)
    try:
        wait_until(lambda: agent.metrics.snapshot()["SINK.k1"]["EventDrainSuccessCount"] == "500", timeout=20,
                   message="k1 started on its third try and delivered")
        assert FailsToStartTwice.attempts == 3
        assert agent.metrics.snapshot()["SINK.k1"]["ConnectionFailedCount"] == "2"
    finally:
        agent.stop(2)
