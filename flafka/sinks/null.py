"""Flume's null sink: takes events and discards them (for tests and benchmarks)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.sinks.base import BatchSink

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class NullSinkConfig(ComponentConfig):
    batch_size_key: ClassVar[str] = "batchSize"

    batch_size: int = param("batchSize", default=100, minimum=1, doc="Events per channel transaction.")
    log_every_n_events: int = param(
        "logEveryNEvents", default=10000, minimum=0, doc="Log progress every N events (0: never)."
    )


class NullSink(BatchSink):
    config_class = NullSinkConfig
    config: NullSinkConfig

    def __init__(self, name: str, config: NullSinkConfig) -> None:
        super().__init__(name, config)
        self.batch_size = config.batch_size
        self._discarded = 0
        self._next_log = config.log_every_n_events

    def deliver(self, events: list[Event]) -> None:
        self._discarded += len(events)
        if self._next_log and self._discarded >= self._next_log:
            log.debug("Null sink %s discarded events. total=%d", self.name, self._discarded)
            self._next_log = self._discarded + self.config.log_every_n_events
