"""Small components for runtime tests, referenced from configs by import path."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.errors import TransientError
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.sinks.base import BatchSink

#: sink name -> bodies delivered (committed), shared so tests can look inside a running agent
DELIVERED: dict[str, list[bytes]] = defaultdict(list)
#: sink names that currently fail
FAILING: set[str] = set()
LOCK = threading.Lock()


def reset() -> None:
    with LOCK:
        DELIVERED.clear()
        FAILING.clear()
    FailingInterceptor.failures_left = 0
    FailingInterceptor.calls = 0


@dataclass(frozen=True, kw_only=True)
class CollectingConfig(ComponentConfig):
    batch_size: int = param("batchSize", default=100, minimum=1, doc="Events per transaction.")

    def events_per_transaction(self) -> int:
        return self.batch_size


class CollectingSink(BatchSink):
    """Records delivered bodies under its name; raises while its name is in FAILING."""

    config_class = CollectingConfig
    config: CollectingConfig

    def __init__(self, name: str, config: CollectingConfig) -> None:
        super().__init__(name, config)
        self.batch_size = config.batch_size

    def start(self) -> None:
        self.counter.start()

    def deliver(self, events: list[Event]) -> None:
        if self.name in FAILING:
            raise OSError(f"sink {self.name} is down")
        with LOCK:
            DELIVERED[self.name].extend(e.body for e in events)


class FailingInterceptor(Interceptor):
    """Raises for the first ``failures_left`` batches, then passes events through."""

    failures_left = 0
    calls = 0

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        type(self).calls += 1
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            raise TransientError("enrichment service unavailable")
        return events


class TagInterceptor(Interceptor):
    """Sets header ``kind`` to odd/even from the body's number (for routing tests)."""

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        for event in events:
            event.headers["kind"] = "odd" if int(event.body) % 2 else "even"
        return events
