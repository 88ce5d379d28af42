"""Flume's sequence generator source (``seq``): bodies "0", "1", "2", ... for tests and benchmarks.

A batch that the channels did not accept is offered again with the same numbers, so every number
reaches the channel exactly once (Flume does the same). After ``totalEvents`` the source backs off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from flafka.config.params import ComponentConfig, param
from flafka.errors import FlafkaError
from flafka.event import Event
from flafka.sources.base import PollableSource, Status

_LONG_MAX = 2**63 - 1


@dataclass(frozen=True, kw_only=True)
class SequenceSourceConfig(ComponentConfig):
    batch_size_key: ClassVar[str] = "batchSize"

    batch_size: int = param("batchSize", default=1, minimum=1, doc="Events per channel transaction.")
    total_events: int = param("totalEvents", default=_LONG_MAX, minimum=0, doc="How many events to generate.")
    backoff_sleep_increment: int = param("backoffSleepIncrement", default=1000, minimum=0,
                                         doc="Runner back-off step after a failed or empty batch, ms.")
    max_backoff_sleep: int = param("maxBackoffSleep", default=5000, minimum=0, doc="Runner back-off cap, ms.")


class SequenceSource(PollableSource):
    config_class = SequenceSourceConfig
    config: SequenceSourceConfig

    def __init__(self, name: str, config: SequenceSourceConfig) -> None:
        super().__init__(name, config)
        self._next = 0
        self.backoff_sleep_increment_ms = config.backoff_sleep_increment
        self.max_backoff_sleep_ms = config.max_backoff_sleep

    def process(self) -> Status:
        start = self._next
        end = min(start + self.config.batch_size, self.config.total_events)
        if start >= end:
            return Status.BACKOFF
        events = [Event(str(i).encode()) for i in range(start, end)]
        try:
            self.channel_processor.process_batch(events)
        except FlafkaError:
            return Status.BACKOFF
        self._next = end
        return Status.READY
