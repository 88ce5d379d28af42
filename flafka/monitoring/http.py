"""The monitoring HTTP server: Flume's ``/metrics`` JSON, Prometheus text and ``/health``.

- ``GET /metrics``: Flume's monitoring document (reference §4), exactly as ``Agent.counters()`` returns it:
  ``{"SOURCE.r1": {"EventAcceptedCount": "42", ...}, "CHANNEL.c1": {...}, "SINK.k1": {...}}``, every value a
  string, so dashboards written for Flume's ``-Dflume.monitoring.type=http`` keep working.
- ``GET /metrics/prometheus``: the same counters in Prometheus text exposition. Each Flume attribute becomes
  ``flafka_<source|channel|sink>_<attribute in snake_case, without "_count">``, labelled ``agent`` and
  ``component``: ``EventAcceptedCount`` of source r1 is
  ``flafka_source_event_accepted_total{agent="a1",component="r1"}``. ``ChannelSize``, ``ChannelCapacity``,
  ``ChannelFillPercentage``, ``Open``, ``Closed``, ``Unhealthy`` are gauges, ``StartTime``/``StopTime`` gauges
  in seconds (``flafka_source_start_time_seconds``), everything else a counter. ``flafka_component_healthy``
  is 1 for a component ``/health`` calls running, else 0.
- ``GET /health``: see :mod:`flafka.monitoring.health`; 200 when healthy, 503 otherwise.
- Anything else: 404.

The server reads the counters when a request comes, through callables, so the components of a reloaded
configuration appear at the next request; it adds nothing to the event path. Unlike Flume's server, which
binds all interfaces, it binds 127.0.0.1 unless given another host.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from flafka.monitoring.health import RUNNING, Health

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
FLUME_DEFAULT_PORT = 41414  # Flume's flume.monitoring.port default

Counters = Callable[[], dict[str, dict[str, str]]]
HealthCheck = Callable[[], Health]
KafkaLag = Callable[[], Mapping[str, Mapping[tuple[str, int], int]]]

#: Flume attributes that go up and down (everything else in the document only grows while running).
_GAUGES = frozenset({"ChannelSize", "ChannelCapacity", "ChannelFillPercentage", "Open", "Closed", "Unhealthy"})
#: Milliseconds since the epoch in Flume's document, seconds in Prometheus.
_TIMES = frozenset({"StartTime", "StopTime"})
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


class FlumeCollector(Collector):
    """Prometheus metrics from one fresh snapshot of the agent's counters per scrape."""

    def __init__(self, agent: str, counters: Counters, health: HealthCheck | None = None,
                 lag: KafkaLag | None = None) -> None:
        self._agent, self._counters, self._health, self._lag = agent, counters, health, lag

    def collect(self) -> Iterator[Metric]:
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
        for key, attributes in sorted(self._counters().items()):
            kind, _, component = key.partition(".")
            for attribute, text in attributes.items():
                value = _number(text)
                if attribute == "Type" or value is None:
                    continue
                name = metric_name(kind, attribute)
                family = families.get(name)
                if family is None:
                    doc = f"Flume's {kind} attribute {attribute}."
                    if attribute in _GAUGES or attribute in _TIMES:
                        family = GaugeMetricFamily(name, doc, labels=("agent", "component"))
                    else:
                        family = CounterMetricFamily(name, doc, labels=("agent", "component"))
                    families[name] = family
                family.add_metric((self._agent, component), value / 1000 if attribute in _TIMES else value)
        yield from families.values()
        if self._health is not None:
            healthy = GaugeMetricFamily("flafka_component_healthy", "1 when /health calls the component running.",
                                        labels=("agent", "component"))
            for key, entry in sorted(self._health().components.items()):
                healthy.add_metric((self._agent, key), 1.0 if entry["state"] == RUNNING else 0.0)
            yield healthy
        if self._lag is not None:
            lag = GaugeMetricFamily("flafka_kafka_consumer_lag", "Records between the partition's end and the "
                                    "group's committed offset, as librdkafka last reported them.",
                                    labels=("agent", "component", "topic", "partition"))
            for key, partitions in sorted(self._lag().items()):
                for (topic, partition), records in sorted(partitions.items()):
                    lag.add_metric((self._agent, key.partition(".")[2], topic, str(partition)), float(records))
            yield lag


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # the name http.server dispatches to
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        try:
            if path == "/metrics":
                self._send(200, "application/json;charset=utf-8", json.dumps(self.server.counters()).encode())
            elif path == "/metrics/prometheus":
                self._send(200, "text/plain; version=0.0.4; charset=utf-8", generate_latest(self.server.registry))
            elif path == "/health":
                report = self.server.health()
                self._send(200 if report.healthy else 503, "application/json;charset=utf-8",
                           json.dumps(report.document()).encode())
            else:
                self.send_error(404, "unknown path; try /metrics, /metrics/prometheus or /health")
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

    def __init__(self, address: tuple[str, int], counters: Counters, health: HealthCheck,
                 registry: CollectorRegistry) -> None:
        self.counters, self.health, self.registry = counters, health, registry
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)


class MonitoringServer:
    """The endpoints on ``host:port`` (port 0: any free port; see :attr:`port`).

    The constructor binds the socket, so a port in use raises ``OSError`` there, before the agent starts;
    :meth:`start` serves from a daemon thread, :meth:`stop` closes it.
    """

    def __init__(self, agent: str, counters: Counters, health: HealthCheck, host: str = DEFAULT_HOST,
                 port: int = FLUME_DEFAULT_PORT, *, lag: KafkaLag | None = None) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(FlumeCollector(agent, counters, health, lag))
        self._server = _Server((host, port), counters, health, registry)
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="monitoring-http", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        log.info("Monitoring endpoints listening. url=%s/metrics prometheus=%s/metrics/prometheus health=%s/health",
                 self.url, self.url, self.url)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
