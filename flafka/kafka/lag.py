"""Consumer lag per topic-partition, from librdkafka's statistics (no extra requests to the broker).

librdkafka reports, every ``statistics.interval.ms``, each assigned partition's ``consumer_lag``: the high
watermark (from the consumer's own fetch responses) minus the group's committed offset, -1 while either is
unknown. :class:`ConsumerLag` keeps the last report; the monitoring server exports it as the Prometheus gauge
``flafka_kafka_consumer_lag``. The callback runs in the consuming thread (inside ``consume()``), so a report
costs the pipeline one JSON parse per interval, and a consumer that is not polled reports nothing.

A component with several consumers (the Kafka channel has one per taking thread) merges their reports with
:func:`merged_lag`: a partition's lag comes from a consumer it is assigned to, the newest report when two
claim it (in the middle of a rebalance).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

__all__ = ["DEFAULT_INTERVAL_MS", "INTERVAL_DOC", "ConsumerLag", "ReportsLag", "merged_lag"]

log = logging.getLogger(__name__)

#: Partition key librdkafka uses for its internal "unassigned" partition.
_INTERNAL_PARTITION = "-1"

#: The ``consumerLagIntervalMs`` parameter of every component that reports lag: its default and its doc.
DEFAULT_INTERVAL_MS = 5000
INTERVAL_DOC = ("flafka extension: how often librdkafka reports the consumer lag of each partition (the monitoring "
                "server's flafka_kafka_consumer_lag gauge), in ms; 0: never.")

Lag = Mapping[tuple[str, int], int]


class ConsumerLag:
    """The last lag report: ``{(topic, partition): records}`` for partitions with a known lag; ``reports``
    counts the reports understood."""

    def __init__(self, interval_ms: int) -> None:
        self.interval_ms = interval_ms
        self.reports = 0
        self._last: tuple[float, Lag] = (0.0, MappingProxyType({}))

    def settings(self) -> dict[str, Any]:
        """What the consumer's configuration needs for the reports (nothing when the interval is 0: off)."""
        if self.interval_ms <= 0:
            return {}
        return {"statistics.interval.ms": self.interval_ms, "stats_cb": self.update}

    def update(self, stats_json: str) -> None:
        """librdkafka's ``stats_cb``: keep the partitions' ``consumer_lag`` (never raises into librdkafka)."""
        try:
            stats = json.loads(stats_json)
            lag: dict[tuple[str, int], int] = {}
            for topic, topic_stats in stats.get("topics", {}).items():
                for partition, partition_stats in topic_stats.get("partitions", {}).items():
                    value = partition_stats.get("consumer_lag", -1)
                    if partition != _INTERNAL_PARTITION and isinstance(value, int) and value >= 0:
                        lag[(topic, int(partition))] = value
        except (ValueError, TypeError, AttributeError) as exc:
            log.debug("librdkafka statistics not understood: %s", exc)
            return
        self._last = (time.monotonic(), MappingProxyType(lag))  # one reference swap: never half a report
        self.reports += 1  # only the consuming thread writes it

    def snapshot(self) -> Lag:
        return self._last[1]

    def timed_snapshot(self) -> tuple[float, Lag]:
        """The last report with its time, read together."""
        return self._last


def merged_lag(reports: Iterable[tuple[ConsumerLag, Collection[tuple[str, int]]]]) -> Lag:
    """The lag of several consumers, given with the partitions each has assigned now: per partition the value
    of the newest report among the consumers it is assigned to (a consumer's older lag of a partition it gave
    up is left out)."""
    newest: dict[tuple[str, int], tuple[float, int]] = {}
    for lag, assigned in reports:
        at, values = lag.timed_snapshot()
        for where, value in values.items():
            if where in assigned and (where not in newest or newest[where][0] < at):
                newest[where] = (at, value)
    return MappingProxyType({where: value for where, (_, value) in newest.items()})


@runtime_checkable
class ReportsLag(Protocol):
    """A component that consumes from Kafka and knows its lag (the monitoring server asks for it)."""

    def consumer_lag(self) -> Lag: ...
