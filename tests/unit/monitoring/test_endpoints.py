"""The monitoring endpoints against a running in-process agent: /metrics, /metrics/prometheus, /health."""

from __future__ import annotations

import http.client
import json
import socket
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from flafka.config.loader import plan_from_properties
from flafka.config.properties import parse_properties
from flafka.errors import DeliveryError
from flafka.monitoring.http import MonitoringServer, metric_name
from flafka.runtime.agent import Agent
from flafka.sinks.null import NullSink
from flafka.sources.base import Status
from flafka.testing import wait_until

#: Set while SwitchableSink's process() raises.
FAIL = threading.Event()


class SwitchableSink(NullSink):
    """A null sink whose process() raises DeliveryError while FAIL is set."""

    def process(self) -> Status:
        if FAIL.is_set():
            raise DeliveryError(f"sink {self.name}: destination down")
        return super().process()


PIPELINE = f"""
a.sources = r1
a.channels = c1
a.sinks = k1
a.sources.r1.type = seq
a.sources.r1.totalEvents = 5000
a.sources.r1.channels = c1
a.channels.c1.type = memory
a.channels.c1.capacity = 10000
a.sinks.k1.type = {__name__}:SwitchableSink
a.sinks.k1.channel = c1
"""


def _agent() -> Agent:
    return Agent(plan_from_properties(parse_properties(textwrap.dedent(PIPELINE), "t.properties"), "a").plan)


@pytest.fixture
def served() -> Iterator[tuple[Agent, MonitoringServer]]:
    FAIL.clear()
    agent = _agent()
    server = MonitoringServer(agent, port=0)
    agent.start()
    server.start()
    yield agent, server
    FAIL.clear()
    server.stop()
    agent.stop(2)


def get(server: MonitoringServer, path: str) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read().decode()
    finally:
        conn.close()


def delivered(agent: Agent) -> bool:
    return agent.counters()["SINK.k1"]["EventDrainSuccessCount"] == "5000"


def test_metrics_is_flumes_document_with_string_values(served: tuple[Agent, MonitoringServer]) -> None:
    agent, server = served
    wait_until(lambda: delivered(agent), message="all events delivered")
    status, content_type, body = get(server, "/metrics")
    assert status == 200
    assert content_type.startswith("application/json")
    document = json.loads(body)
    assert document == agent.counters()  # the agent is idle: nothing moves between the two reads
    assert set(document) == {"SOURCE.r1", "CHANNEL.c1", "SINK.k1"}
    assert all(isinstance(v, str) for component in document.values() for v in component.values())
    # Reference §4's keys for each component type (flafka adds its dead-letter and drop counts).
    assert {"Type", "StartTime", "StopTime", "EventReceivedCount", "EventAcceptedCount", "EventReadFail",
            "ChannelWriteFail", "GenericProcessingFail"} <= set(document["SOURCE.r1"])
    assert {"ChannelSize", "ChannelCapacity", "ChannelFillPercentage", "EventPutAttemptCount",
            "EventPutSuccessCount", "EventTakeAttemptCount", "EventTakeSuccessCount"} <= set(document["CHANNEL.c1"])
    assert {"ConnectionCreatedCount", "BatchEmptyCount", "BatchCompleteCount", "EventDrainAttemptCount",
            "EventDrainSuccessCount", "EventWriteFail", "ChannelReadFail"} <= set(document["SINK.k1"])
    assert document["SOURCE.r1"]["EventAcceptedCount"] == "5000"
    assert document["CHANNEL.c1"]["ChannelFillPercentage"] == "0.0"


def test_prometheus_text_parses_and_equals_the_json(served: tuple[Agent, MonitoringServer]) -> None:
    agent, server = served
    wait_until(lambda: delivered(agent), message="all events delivered")
    status, content_type, text = get(server, "/metrics/prometheus")
    assert status == 200
    assert content_type.startswith("text/plain")
    document = agent.counters()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples: dict[tuple[str, str], float] = {}
    for family in families.values():
        for sample in family.samples:
            assert sample.labels["agent"] == "a"
            samples[(sample.name, sample.labels["component"])] = sample.value
    assert samples[("flafka_source_event_accepted_total", "r1")] == 5000
    assert families["flafka_source_event_accepted"].type == "counter"
    assert families["flafka_channel_channel_size"].type == "gauge"
    assert families["flafka_channel_channel_fill_percentage"].type == "gauge"
    assert families["flafka_sink_start_time_seconds"].type == "gauge"
    # Dead-lettered and dropped events, per source and sink.
    for kind, component in (("source", "r1"), ("sink", "k1")):
        assert (f"flafka_{kind}_event_dead_letter_total", component) in samples
        assert (f"flafka_{kind}_event_drop_total", component) in samples
    # Every numeric attribute of the JSON document is there with the same value.
    compared = 0
    for key, attributes in document.items():
        kind, _, component = key.partition(".")
        for attribute, text_value in attributes.items():
            if attribute == "Type":
                continue
            name = metric_name(kind, attribute)
            if families[name].type == "counter":
                assert samples[(name + "_total", component)] == float(text_value), attribute
            elif attribute in ("StartTime", "StopTime"):
                assert samples[(name, component)] == float(text_value) / 1000, attribute
            else:
                assert samples[(name, component)] == float(text_value), attribute
            compared += 1
    assert compared >= 30
    assert samples[("flafka_component_healthy", "SINK.k1")] == 1


def test_health_flips_to_503_while_a_sink_fails_and_back(served: tuple[Agent, MonitoringServer]) -> None:
    _, server = served
    wait_until(lambda: get(server, "/health")[0] == 200, message="healthy after start")
    document: dict[str, Any] = json.loads(get(server, "/health")[2])
    assert document["status"] == "healthy"
    assert document["components"]["SINK.k1"]["state"] == "running"
    assert document["components"]["CHANNEL.c1"] == {"state": "running"}
    assert document["components"]["SOURCE.r1"]["dropped"] == 0

    FAIL.set()
    wait_until(lambda: get(server, "/health")[0] == 503, message="unhealthy while the sink fails")
    status, _, body = get(server, "/health")
    document = json.loads(body)
    assert status == 503
    assert document["status"] == "unhealthy"
    sink = document["components"]["SINK.k1"]
    assert sink["state"] == "failing"
    assert sink["last_error"] == "DeliveryError: sink k1: destination down"
    assert sink["since"].endswith("Z")
    assert sink["sinkgroup"] == "k1"
    assert document["components"]["SOURCE.r1"]["state"] == "running"

    FAIL.clear()
    wait_until(lambda: get(server, "/health")[0] == 200, message="healthy again after a success")
    assert json.loads(get(server, "/health")[2])["components"]["SINK.k1"]["state"] == "running"


def test_unknown_path_is_404(served: tuple[Agent, MonitoringServer]) -> None:
    _, server = served
    assert get(server, "/nope")[0] == 404
    assert get(server, "/metrics/nope")[0] == 404


def test_port_in_use_raises_at_construction() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use"):
            MonitoringServer(_agent(), port=taken.getsockname()[1])
