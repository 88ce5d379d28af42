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
#: sink name -> the events themselves (headers included)
DELIVERED_EVENTS: dict[str, list[Event]] = defaultdict(list)
#: sink names that currently fail
FAILING: set[str] = set()
LOCK = threading.Lock()


def reset() -> None:
    with LOCK:
        DELIVERED.clear()
        DELIVERED_EVENTS.clear()
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
            DELIVERED_EVENTS[self.name].extend(events)


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


@dataclass(frozen=True, kw_only=True)
class PoisonConfig(ComponentConfig):
    every: int = param("every", default=100, minimum=1, doc="Bodies divisible by this number are poison.")


class PoisonInterceptor(Interceptor):
    """Marks each event checked, in order, and raises on the first whose number is divisible by ``every``:
    the way a real interceptor fails on malformed data part-way through a batch."""

    config_class = PoisonConfig
    config: PoisonConfig
    calls = 0

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        type(self).calls += 1
        for event in events:
            if int(event.body) % self.config.every == 0:
                raise ValueError(f"cannot enrich event {event.body.decode()}")
            event.headers["checked"] = "yes"
        return events


class InflateInterceptor(Interceptor):
    """Makes the body of every event whose number is divisible by ``every`` 900,000 bytes long."""

    config_class = PoisonConfig
    config: PoisonConfig

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        for event in events:
            if int(event.body) % self.config.every == 0:
                event.body = event.body.ljust(900_000, b" ")
        return events
