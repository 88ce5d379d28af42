"""The monitoring HTTP server: Flume's ``/metrics`` JSON, Prometheus text, ``/health``, ``/status`` and a page.

- ``GET /metrics``: Flume's monitoring document (reference §4), exactly as ``Agent.counters()`` returns it:
  ``{"SOURCE.r1": {"EventAcceptedCount": "42", ...}, "CHANNEL.c1": {...}, "SINK.k1": {...}}``, every value a
  string, so dashboards written for Flume's ``-Dflume.monitoring.type=http`` keep working. Only Flume's
  three component types are in it; flafka's interceptor, selector and sink processor counters are in the
  Prometheus text and ``/status``.
- ``GET /metrics/prometheus``: every counter of the agent's registry in Prometheus text exposition. Each
  attribute becomes ``flafka_<type>_<attribute in snake_case, without "_count">``, labelled ``agent`` and
  ``component``: ``EventAcceptedCount`` of source r1 is ``flafka_source_event_accepted_total{agent="a1",
  component="r1"}``, ``FailCount`` of interceptor i1 of source r1 is
  ``flafka_interceptor_fail_total{component="r1.i1"}``. ``ChannelSize``, ``ChannelCapacity``,
  ``ChannelFillPercentage``, ``Open``, ``Closed``, ``Unhealthy`` are gauges, ``StartTime``/``StopTime`` gauges
  in seconds (``flafka_source_start_time_seconds``), everything else a counter. ``flafka_component_healthy``
  is 1 for a component ``/health`` calls running, else 0; ``flafka_kafka_consumer_lag`` is the lag of each
  topic-partition a Kafka source or channel reads.
- ``GET /health``: see :mod:`flafka.monitoring.health`; 200 when healthy, 503 otherwise.
- ``GET /status``: see :mod:`flafka.monitoring.status` (what the live views read).
- ``GET /``: the status page (:mod:`flafka.monitoring.page`): the pipeline drawn with live counters.
- Anything else: 404.

The server reads the agent when a request comes, so the components of a reloaded configuration appear at
the next request; it adds nothing to the event path. Unlike Flume's server, which binds all interfaces, it
binds 127.0.0.1 unless given another host.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from flafka.monitoring.health import RUNNING
from flafka.monitoring.page import status_page
from flafka.monitoring.status import Observed, status_document

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
FLUME_DEFAULT_PORT = 41414  # Flume's flume.monitoring.port default



class MonitoredAgent(Observed, Protocol):
    """What the server serves (an :class:`~flafka.runtime.agent.Agent`)."""

    def counters(self) -> dict[str, dict[str, str]]: ...

#: Flume attributes that go up and down (everything else in the document only grows while running).
_GAUGES = frozenset({"ChannelSize", "ChannelCapacity", "ChannelFillPercentage", "Open", "Closed", "Unhealthy"})
#: Milliseconds since the epoch in Flume's document, seconds in Prometheus.
_TIMES = frozenset({"StartTime", "StopTime"})
_JSON = "application/json;charset=utf-8"
_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def metric_name(kind: str, attribute: str) -> str:
    """``("SOURCE", "EventAcceptedCount")`` → ``flafka_source_event_accepted`` (prometheus_client adds
    ``_total`` to counters)."""
    snake = _WORD.sub("_", attribute).lower().removesuffix("_count")
    if attribute in _TIMES:
        snake += "_seconds"
    return f"flafka_{kind.lower()}_{snake}"


def _number(text: str) -> float | None:
    if text in ("true", "false"):
        return 1.0 if text == "true" else 0.0
    try:
        return float(text)
    except ValueError:
        return None


class AgentCollector(Collector):
    """Prometheus metrics from one fresh snapshot of the agent's counters, health and lag per scrape."""

    def __init__(self, agent: MonitoredAgent) -> None:
        self._agent = agent

    def collect(self) -> Iterator[Metric]:
        agent = self._agent
        name_label = agent.name
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
        for key, attributes in sorted(agent.metrics.snapshot().items()):
            kind, _, component = key.partition(".")
            for attribute, text in attributes.items():
                value = _number(text)
                if attribute == "Type" or value is None:
                    continue
                name = metric_name(kind, attribute)
                family = families.get(name)
                if family is None:
                    doc = f"The {kind} attribute {attribute}."
                    if attribute in _GAUGES or attribute in _TIMES:
                        family = GaugeMetricFamily(name, doc, labels=("agent", "component"))
                    else:
                        family = CounterMetricFamily(name, doc, labels=("agent", "component"))
                    families[name] = family
                family.add_metric((name_label, component), value / 1000 if attribute in _TIMES else value)
        yield from families.values()
        healthy = GaugeMetricFamily("flafka_component_healthy", "1 when /health calls the component running.",
                                    labels=("agent", "component"))
        for key, entry in sorted(agent.health().components.items()):
            healthy.add_metric((name_label, key), 1.0 if entry["state"] == RUNNING else 0.0)
        yield healthy
        lag = GaugeMetricFamily("flafka_kafka_consumer_lag", "Records between the partition's end and the "
                                "group's committed offset, as librdkafka last reported them.",
                                labels=("agent", "component", "topic", "partition"))
        for key, partitions in sorted(agent.kafka_lag().items()):
            for (topic, partition), records in sorted(partitions.items()):
                lag.add_metric((name_label, key.partition(".")[2], topic, str(partition)), float(records))
        yield lag


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # the name http.server dispatches to
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        agent = self.server.agent
        try:
            if path == "/metrics":
                self._send(200, _JSON, json.dumps(agent.counters()).encode())
            elif path == "/metrics/prometheus":
                self._send(200, "text/plain; version=0.0.4; charset=utf-8", generate_latest(self.server.registry))
            elif path == "/health":
                report = agent.health()
                self._send(200 if report.healthy else 503, _JSON, json.dumps(report.document()).encode())
            elif path == "/status":
                self._send(200, _JSON, json.dumps(status_document(agent)).encode())
            elif path == "/":
                self._send(200, "text/html; charset=utf-8", status_page())
            else:
                self.send_error(404, "unknown path; try /, /status, /metrics, /metrics/prometheus or /health")
        except Exception as exc:  # a snapshot taken during a reload; the next request gets a fresh one
            log.warning("Monitoring request %s failed. %s: %s", path, type(exc).__name__, exc)
            self.send_error(500)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # the base class's signature
        return  # a scrape every few seconds would otherwise write a line each to stderr


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], agent: MonitoredAgent, registry: CollectorRegistry) -> None:
        self.agent, self.registry = agent, registry
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)


class MonitoringServer:
    """The endpoints on ``host:port`` (port 0: any free port; see :attr:`port`).

    The constructor binds the socket, so a port in use raises ``OSError`` there, before the agent starts;
    :meth:`start` serves from a daemon thread, :meth:`stop` closes it.
    """

    def __init__(self, agent: MonitoredAgent, host: str = DEFAULT_HOST, port: int = FLUME_DEFAULT_PORT) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(AgentCollector(agent))
        self._server = _Server((host, port), agent, registry)
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="monitoring-http", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        log.info("Monitoring endpoints listening. status_page=%s/ metrics=%s/metrics prometheus=%s/metrics/prometheus "
                 "health=%s/health", self.url, self.url, self.url, self.url)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
