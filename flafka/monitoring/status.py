"""``GET /status``: one snapshot of everything the live views show (the status page and ``flafka-agent top``).

The pipeline in configuration order, each component with its type, its health (``state``, and ``since``
and ``last_error`` when failing or stalled), its counters (Flume-style: decimal strings) and, for Kafka
readers, the lag of each partition::

    {"agent": "a1", "time_ms": 1764140000123, "healthy": true,
     "sources": [{"name": "r1", "type": "kafka", "state": "running", "channels": ["c1"],
                  "counters": {...}, "lag": [{"topic": "txn", "partition": 0, "records": 12}],
                  "interceptors": [{"name": "i1", "type": "timestamp", "counters": {...}}],
                  "selector": {"type": "replicating", "counters": {...}}}],
     "channels": [{"name": "c1", "type": "memory", "state": "running", "counters": {...}, "lag": []}],
     "sinkgroups": [{"name": "g1", "processor": "failover", "state": "running", "counters": {...},
                     "sinks": [{"name": "k1", "type": "hdfs", "channel": "c1", "state": "running",
                                "counters": {...}}]}]}

Rates are left to the clients (the difference of two snapshots over ``time_ms``): the server keeps no
history and a snapshot costs the pipeline nothing but the counters' locks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from flafka.config.plan import AgentPlan
from flafka.monitoring.health import RUNNING, Health
from flafka.monitoring.registry import MetricsRegistry

#: Health fields copied into a component's entry.
_HEALTH_FIELDS = ("state", "since", "last_error", "dead_lettered", "dropped", "on_bad_event")


class Observed(Protocol):
    """What the document is made from (an :class:`~flafka.runtime.agent.Agent`)."""

    name: str
    metrics: MetricsRegistry

    @property
    def plan(self) -> AgentPlan: ...

    def health(self) -> Health: ...

    def kafka_lag(self) -> dict[str, Mapping[tuple[str, int], int]]: ...


def _lag(partitions: Mapping[tuple[str, int], int] | None) -> list[dict[str, Any]]:
    return [{"topic": topic, "partition": partition, "records": records}
            for (topic, partition), records in sorted((partitions or {}).items())]


def status_document(agent: Observed) -> dict[str, Any]:
    """The ``/status`` document of ``agent`` now."""
    plan = agent.plan
    report = agent.health()
    counters = agent.metrics.snapshot()
    lag = agent.kafka_lag()

    def component(key: str, name: str, type_name: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": name, "type": type_name}
        entry.update((k, v) for k, v in report.components.get(key, {"state": RUNNING}).items()
                     if k in _HEALTH_FIELDS)
        entry["counters"] = counters.get(key, {})
        return entry

    sources = []
    for name, source in plan.sources.items():
        entry = component(f"SOURCE.{name}", name, source.built.type_name)
        entry["channels"] = list(source.channels)
        if source.dead_letter_channel:
            entry["dead_letter_channel"] = source.dead_letter_channel
        entry["lag"] = _lag(lag.get(f"SOURCE.{name}"))
        entry["interceptors"] = [{"name": i.name, "type": i.type_name,
                                  "counters": counters.get(f"INTERCEPTOR.{name}.{i.name}", {})}
                                 for i in source.interceptors]
        entry["selector"] = {"type": source.selector.type_name, "counters": counters.get(f"SELECTOR.{name}", {})}
        sources.append(entry)
    channels = []
    for name, built in plan.channels.items():
        entry = component(f"CHANNEL.{name}", name, built.type_name)
        entry["lag"] = _lag(lag.get(f"CHANNEL.{name}"))
        channels.append(entry)
    groups = []
    for name, group in plan.groups.items():
        sinks = []
        for sink_name in group.sinks:
            sink = plan.sinks[sink_name]
            entry = component(f"SINK.{sink_name}", sink_name, sink.built.type_name)
            entry.pop("sinkgroup", None)
            entry["channel"] = sink.channel
            if sink.dead_letter_channel:
                entry["dead_letter_channel"] = sink.dead_letter_channel
            sinks.append(entry)
        states = {s["state"] for s in sinks}
        group_state = next((s for s in ("failing", "stalled", "starting") if s in states), RUNNING)
        groups.append({"name": name, "processor": group.processor.type_name, "state": group_state,
                       "counters": counters.get(f"SINK_PROCESSOR.{name}", {}), "sinks": sinks})
    return {"agent": agent.name, "time_ms": int(time.time() * 1000), "healthy": report.healthy,
            "sources": sources, "channels": channels, "sinkgroups": groups}
