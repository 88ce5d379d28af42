"""Failover and load_balance processors over real memory channels, with a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flafka.errors import DeliveryError
from flafka.event import Event
from flafka.runtime.sink_processors import (
    DefaultSinkProcessor,
    FailoverSinkProcessor,
    LoadBalancingSinkProcessor,
    SinkProcessor,
)
from flafka.sources.base import Status
from flafka.testing import build, memory_channel
from tests.unit.runtime import components
from tests.unit.runtime.components import DELIVERED, FAILING, CollectingSink


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    components.reset()
    yield
    components.reset()


def fill(channel_name: str = "c1", count: int = 1000) -> object:
    channel = memory_channel(channel_name)
    with channel.transaction() as tx:
        tx.put_batch([Event(str(i).encode()) for i in range(count)])
    return channel


def group(processor_cls: type[SinkProcessor], props: dict[str, str], names: list[str],
          batch: int = 10) -> tuple[SinkProcessor, Clock, object]:
    channel = fill()
    sinks = []
    for name in names:
        sink = build(CollectingSink, {"batchSize": str(batch)}, name)
        sink.channel = channel  # type: ignore[assignment]
        sinks.append(sink)
    processor = build(processor_cls, props, "g1")
    processor.bind(sinks)
    clock = Clock()
    processor.clock = clock
    processor.start()
    return processor, clock, channel


def test_failover_uses_highest_priority_then_backup_then_returns_after_penalty() -> None:
    processor, clock, channel = group(FailoverSinkProcessor, {"priority.k1": "10", "priority.k2": "5"},
                                      ["k2", "k1"])
    assert processor.process() is Status.READY
    assert len(DELIVERED["k1"]) == 10
    assert len(DELIVERED["k2"]) == 0

    FAILING.add("k1")
    assert processor.process() is Status.READY  # k1 raised, k2 took the batch in the same call
    assert len(DELIVERED["k2"]) == 10
    assert DELIVERED["k2"][0] == b"10"  # the batch k1 rolled back went to k2 first: nothing lost
    FAILING.discard("k1")
    clock.now += 1.5  # first penalty is 2 s: k1 stays out
    processor.process()
    assert len(DELIVERED["k1"]) == 10
    assert len(DELIVERED["k2"]) == 20
    clock.now += 1.0  # penalty over: k1 is retried first and is back in service
    processor.process()
    assert len(DELIVERED["k1"]) == 20
    assert len(DELIVERED["k2"]) == 20
    assert channel.size() == 1000 - 40  # type: ignore[attr-defined]


def test_failover_penalty_doubles_and_is_capped() -> None:
    processor, clock, _ = group(FailoverSinkProcessor, {"priority.k1": "10", "maxpenalty": "5000"}, ["k1", "k2"])
    FAILING.add("k1")
    processor.process()  # k1 fails once: penalty 2 s
    clock.now += 2.1
    processor.process()  # retried, fails again: penalty 4 s
    clock.now += 3.0
    processor.process()
    assert len(DELIVERED["k1"]) == 0
    clock.now += 1.2
    FAILING.discard("k1")
    processor.process()  # 4 s passed: retried and back
    assert len(DELIVERED["k1"]) == 10
    FAILING.add("k1")
    for _ in range(5):
        clock.now += 5.1  # the cap (5 s) is the longest wait however often it fails
        processor.process()
    assert len(DELIVERED["k1"]) == 10


def test_failover_all_sinks_down_raises_and_loses_nothing() -> None:
    processor, _, channel = group(FailoverSinkProcessor, {}, ["k1", "k2"])
    FAILING.update({"k1", "k2"})
    with pytest.raises(DeliveryError):
        processor.process()
    assert channel.size() == 1000  # type: ignore[attr-defined]


def test_failover_without_priorities_prefers_configuration_order() -> None:
    processor, _, _ = group(FailoverSinkProcessor, {}, ["k2", "k1"])
    processor.process()
    assert len(DELIVERED["k2"]) == 10


def test_load_balance_round_robin_spreads_evenly() -> None:
    processor, _, _ = group(LoadBalancingSinkProcessor, {}, ["k1", "k2", "k3"])
    for _ in range(30):
        processor.process()
    assert [len(DELIVERED[k]) for k in ("k1", "k2", "k3")] == [100, 100, 100]


def test_load_balance_random_uses_every_sink() -> None:
    processor, _, _ = group(LoadBalancingSinkProcessor, {"selector": "random"}, ["k1", "k2"])
    for _ in range(60):
        processor.process()
    assert len(DELIVERED["k1"]) + len(DELIVERED["k2"]) == 600
    assert DELIVERED["k1"]
    assert DELIVERED["k2"]


def test_load_balance_skips_a_failing_sink_and_backs_it_off() -> None:
    processor, clock, channel = group(LoadBalancingSinkProcessor, {"backoff": "true"}, ["k1", "k2"])
    FAILING.add("k1")
    for _ in range(10):
        assert processor.process() is Status.READY
    assert len(DELIVERED["k2"]) == 100
    assert channel.size() == 900  # type: ignore[attr-defined]
    FAILING.discard("k1")
    processor.process()
    processor.process()
    assert len(DELIVERED["k1"]) == 0  # still backed off (2 s after its first failure)
    clock.now += 2.5
    for _ in range(4):
        processor.process()
    assert len(DELIVERED["k1"]) == 20  # back in the rotation


def test_load_balance_all_failing_raises() -> None:
    processor, _, channel = group(LoadBalancingSinkProcessor, {}, ["k1", "k2"])
    FAILING.update({"k1", "k2"})
    with pytest.raises(DeliveryError):
        processor.process()
    assert channel.size() == 1000  # type: ignore[attr-defined]


def test_default_processor_backs_off_on_an_empty_channel() -> None:
    processor = build(DefaultSinkProcessor, {}, "k1")
    sink = build(CollectingSink, {}, "k1")
    sink.channel = memory_channel()
    processor.bind([sink])
    assert processor.process() is Status.BACKOFF
