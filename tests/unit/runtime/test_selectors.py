"""Channel selectors and the channel processor: routing, optional channels, failures."""

from __future__ import annotations

import pytest

from flafka.errors import ChannelFullError, InterceptorError
from flafka.event import Event
from flafka.monitoring.counters import SourceCounter
from flafka.runtime.channel_processor import ChannelProcessor
from flafka.selectors import LoadBalancingSelector, MultiplexingSelector, ReplicatingSelector
from flafka.testing import build, drain, memory_channel


def bodies(channel: object) -> list[bytes]:
    return [e.body for e in drain(channel)]  # type: ignore[arg-type]


def events(*specs: tuple[str, str | None]) -> list[Event]:
    return [Event(body.encode(), {} if value is None else {"h": value}) for body, value in specs]


def test_multiplexing_required_optional_default_and_blank_values() -> None:
    a, b, c = memory_channel("a"), memory_channel("b"), memory_channel("c")
    selector = build(MultiplexingSelector, {"header": "h", "mapping.x": "a", "mapping.y": "a b",
                                            "optional.x": "a c", "default": "b"})
    selector.bind([a, b, c])
    routes = selector.route(events(("1", "x"), ("2", "y"), ("3", None), ("4", "  "), ("5", "zzz")))
    summary = [(ch.name, [e.body for e in evs], required) for ch, evs, required in routes]
    assert summary == [
        ("a", [b"1", b"2"], True),
        ("b", [b"2", b"3", b"4", b"5"], True),
        ("c", [b"1"], False),  # optional.x minus the channels already required for x
    ]


def test_load_balancing_selector_round_robin_spreads_one_channel_per_event() -> None:
    a, b = memory_channel("a"), memory_channel("b")
    selector = build(LoadBalancingSelector, {})
    selector.bind([a, b])
    first = selector.route([Event(b"1"), Event(b"2"), Event(b"3")])
    second = selector.route([Event(b"4")])
    assert [(c.name, [e.body for e in evs]) for c, evs, _ in first] == [("a", [b"1", b"3"]), ("b", [b"2"])]
    assert [(c.name, [e.body for e in evs]) for c, evs, _ in second] == [("b", [b"4"])]


def processor(selector: object, interceptors: list[object] | None = None) -> ChannelProcessor:
    return ChannelProcessor("r1", [(i.name, i) for i in interceptors or []], selector,  # type: ignore[attr-defined, misc]
                            SourceCounter("r1"))


def test_failing_optional_channel_does_not_fail_the_batch() -> None:
    required = memory_channel("req")
    optional = build(type(required), {"capacity": "1", "transactionCapacity": "1", "keep-alive": "0"}, "opt")
    optional.start()
    selector = build(ReplicatingSelector, {"optional": "opt"})
    selector.bind([required, optional])
    cp = processor(selector)
    cp.process_batch([Event(b"1"), Event(b"2")])  # too many for opt: it fails, quietly
    assert bodies(required) == [b"1", b"2"]
    assert optional.size() == 0
    assert cp.counter.event_accepted_count == 2


def test_failing_required_channel_raises_and_counts() -> None:
    full = build(type(memory_channel()), {"capacity": "1", "transactionCapacity": "1", "keep-alive": "0"}, "c1")
    full.start()
    selector = build(ReplicatingSelector, {})
    selector.bind([full])
    cp = processor(selector)
    cp.process_batch([Event(b"1")])
    with pytest.raises(ChannelFullError):
        cp.process_batch([Event(b"2")])
    assert cp.counter.channel_write_fail == 1
    assert cp.counter.event_accepted_count == 1
    assert bodies(full) == [b"1"]


def test_interceptor_exception_becomes_interceptor_error_and_nothing_is_written() -> None:
    from tests.unit.runtime.components import FailingInterceptor

    channel = memory_channel()
    selector = build(ReplicatingSelector, {})
    selector.bind([channel])
    FailingInterceptor.failures_left = 1
    cp = processor(selector, [build(FailingInterceptor, {}, "bad")])
    with pytest.raises(InterceptorError,
                       match="interceptor bad failed: TransientError: enrichment service unavailable"):
        cp.process_batch([Event(b"1")])
    assert channel.size() == 0
    assert cp.counter.generic_processing_fail == 1
    cp.process_batch([Event(b"1")])
    assert bodies(channel) == [b"1"]
