"""Helpers for testing components and custom interceptors without a running agent.

::

    from flafka.testing import build, intercept

    mask = build(MyMaskingInterceptor, {"field": "card"})
    out = intercept([mask], [Event(b"4556899046304500|...")])

``build`` parses properties exactly as the agent does (so a bad value raises the same
:class:`~flafka.errors.ConfigError`); ``wired_source`` connects a source to channels through a real
:class:`~flafka.runtime.channel_processor.ChannelProcessor`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from flafka.channels.base import Channel
from flafka.channels.memory import MemoryChannel
from flafka.config.diagnostics import Location
from flafka.config.properties import Prop
from flafka.errors import ConfigError
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.monitoring.counters import SourceCounter
from flafka.runtime.channel_processor import ChannelProcessor
from flafka.selectors import ChannelSelector, ReplicatingSelector
from flafka.sinks.base import Sink
from flafka.sinks.base import Status as SinkStatus
from flafka.sources.base import Source

T = TypeVar("T")


def props(values: Mapping[str, str], file: str = "<test>") -> dict[str, Prop]:
    """Properties as the agent passes them to a component (locations are line 0 of ``file``)."""
    return {k: Prop(v, Location(file, 0)) for k, v in values.items()}


def parse_config(cls: type[Any], values: Mapping[str, str], name: str = "test") -> Any:
    """The parsed ``cls.config_class`` for ``values``; raises :class:`ConfigError` on any error."""
    config, diagnostics = cls.config_class.parse(props(values), name)
    if config is None:
        raise ConfigError([d for d in diagnostics if d.is_error])
    return config


def build(cls: type[T], values: Mapping[str, str] | None = None, name: str = "test") -> T:
    """An instance of component ``cls`` configured from ``values`` as the agent would."""
    return cls(name, parse_config(cls, values or {}, name))  # type: ignore[call-arg]


def memory_channel(name: str = "c1", capacity: int = 100_000, transaction_capacity: int = 10_000) -> MemoryChannel:
    """A started memory channel."""
    channel = build(MemoryChannel, {"capacity": str(capacity), "transactionCapacity": str(transaction_capacity)}, name)
    channel.start()
    return channel


def wired_source(
    source: Source,
    channels: Sequence[Channel],
    interceptors: Iterable[Interceptor] = (),
    selector: ChannelSelector | None = None,
) -> ChannelProcessor:
    """Give ``source`` a channel processor writing to ``channels`` (replicating unless given)."""
    chosen = selector if selector is not None else build(ReplicatingSelector, {}, source.name)
    chosen.bind(channels)
    processor = ChannelProcessor(source.name, [(i.name, i) for i in interceptors], chosen, source.counter)
    processor.initialize()
    source.channel_processor = processor
    return processor


def intercept(chain: Sequence[Interceptor], events: list[Event]) -> list[Event]:
    """Run ``events`` through ``chain`` as a source's channel processor does."""
    processor = ChannelProcessor("test", [(i.name, i) for i in chain], ReplicatingSelector("test", None),
                                 SourceCounter("test"))
    return processor.intercept(events)


def put(channel: Channel, events: Sequence[Event], batch: int = 1000) -> None:
    """Put ``events`` into ``channel``, in committed transactions of at most ``batch`` events."""
    for start in range(0, len(events), batch):
        with channel.transaction() as tx:
            tx.put_batch(list(events[start:start + batch]))


def drive(sink: Sink, limit: int = 10_000) -> int:
    """Call ``sink.process()`` until it backs off (its channel is empty); the number of batches delivered."""
    for delivered in range(limit):
        if sink.process() is not SinkStatus.READY:
            return delivered
    raise AssertionError(f"sink {sink.name} never backed off in {limit} calls")


def drain(channel: Channel, limit: int = 10_000_000) -> list[Event]:
    """Take and commit every event currently in ``channel`` (at most ``limit``)."""
    out: list[Event] = []
    while len(out) < limit:
        with channel.transaction() as tx:
            batch = tx.take_batch(min(1000, limit - len(out)), 0.0)
        if not batch:
            break
        out.extend(batch)
    return out


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01,
               message: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value (returned) or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
