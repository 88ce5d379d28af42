"""Consumer lag per topic-partition, from librdkafka's statistics (no extra requests to the broker).

librdkafka reports, every ``statistics.interval.ms``, each assigned partition's ``consumer_lag``: the high
watermark (from the consumer's own fetch responses) minus the group's committed offset, -1 while either is
unknown. :class:`ConsumerLag` keeps the last report; the monitoring server exports it as the Prometheus gauge
``flafka_kafka_consumer_lag``. The callback runs in the consuming thread (inside ``consume()``), so a report
costs the pipeline one JSON parse per interval.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

__all__ = ["ConsumerLag", "ReportsLag"]

log = logging.getLogger(__name__)

#: Partition key librdkafka uses for its internal "unassigned" partition.
_INTERNAL_PARTITION = "-1"


class ConsumerLag:
    """The last lag report: ``{(topic, partition): records}`` for partitions with a known lag."""

    def __init__(self, interval_ms: int) -> None:
        self.interval_ms = interval_ms
        self._lag: Mapping[tuple[str, int], int] = MappingProxyType({})

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
        self._lag = MappingProxyType(lag)  # one reference swap: readers never see half a report

    def snapshot(self) -> Mapping[tuple[str, int], int]:
        return self._lag


@runtime_checkable
class ReportsLag(Protocol):
    """A component that consumes from Kafka and knows its lag (the monitoring server asks for it)."""

    def consumer_lag(self) -> Mapping[tuple[str, int], int]: ...
