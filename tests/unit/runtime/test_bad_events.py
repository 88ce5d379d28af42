"""Bad events never hold a source (issue 8, items 1, 4 and 6): the channel processor isolates the events an
interceptor fails on, leaves out events a channel can never hold, counts what a selector routes nowhere, and
dead-letters or drops them by the source's policy while the rest of the batch is delivered."""

from __future__ import annotations

import logging

import pytest

from flafka.channels.memory import MemoryChannel
from flafka.dead_letters import COMPONENT_HEADER, ERROR_HEADER, BadEventPolicy
from flafka.errors import ChannelFullError, EventsRefused, InterceptorError, TransientError
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.monitoring.counters import SourceCounter
from flafka.runtime.channel_processor import ChannelProcessor
from flafka.selectors import MultiplexingSelector, ReplicatingSelector
from flafka.testing import build, drain, memory_channel
from tests.unit.runtime.components import PoisonInterceptor, TagInterceptor


def numbered(first: int, last: int) -> list[Event]:
    return [Event(str(n).encode()) for n in range(first, last + 1)]


def numbers(events: list[Event]) -> list[int]:
    return [int(e.body) for e in events]


def processor(channels: list[MemoryChannel], interceptors: list[Interceptor], *,
              dead_letters: MemoryChannel | None = None, policy: BadEventPolicy | None = None) -> ChannelProcessor:
    selector = build(ReplicatingSelector, {})
    selector.bind(channels)
    return ChannelProcessor("r1", [(i.name, i) for i in interceptors], selector, SourceCounter("r1"),
                            dead_letter_channel=dead_letters, policy=policy)


@pytest.fixture(autouse=True)
def _calls() -> None:
    PoisonInterceptor.calls = 0


def poison(every: int = 10) -> PoisonInterceptor:
    return build(PoisonInterceptor, {"every": str(every)}, "poison")


# -- item 1: an interceptor raising on some events ----------------------------------------------------------


def test_events_an_interceptor_fails_on_are_dropped_and_counted_and_the_rest_delivered_in_order(
        caplog: pytest.LogCaptureFixture) -> None:
    channel = memory_channel()
    cp = processor([channel], [poison()])
    caplog.set_level(logging.WARNING)
    cp.process_batch(numbered(1, 35))  # 10, 20 and 30 are poison
    delivered = drain(channel)
    assert numbers(delivered) == [n for n in range(1, 36) if n % 10]
    assert all(e.headers == {"checked": "yes"} for e in delivered)
    counter = cp.counter
    assert (counter.event_received_count, counter.event_accepted_count) == (35, 32)
    assert (counter.event_drop_count, counter.event_dead_letter_count, counter.generic_processing_fail) == (3, 0, 3)
    drops = [r for r in caplog.records if "dropped events it cannot deliver" in r.getMessage()]
    assert len(drops) == 1  # one line per kind, with the count
    assert drops[0].levelno == logging.ERROR
    message = drops[0].getMessage()
    assert "source r1" in message
    assert "events=3" in message
    assert "interceptor poison failed: ValueError: cannot enrich event 10" in message


def test_bad_events_go_to_the_dead_letter_channel_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    channel, dead = memory_channel("c1"), memory_channel("dl")
    cp = processor([channel], [poison()], dead_letters=dead)
    assert cp.policy is BadEventPolicy.DEAD_LETTER  # the default once a dead-letter channel is configured
    cp.process_batch(numbered(1, 25))
    assert numbers(drain(channel)) == [n for n in range(1, 26) if n % 10]
    letters = drain(dead)
    assert numbers(letters) == [10, 20]
    assert letters[0].headers[ERROR_HEADER] == "interceptor poison failed: ValueError: cannot enrich event 10"
    assert letters[1].headers[COMPONENT_HEADER] == "source r1"
    assert (cp.counter.event_dead_letter_count, cp.counter.event_drop_count) == (2, 0)


def test_policy_stop_fails_the_batch_as_flume_does() -> None:
    channel, dead = memory_channel("c1"), memory_channel("dl")
    cp = processor([channel], [poison()], dead_letters=dead, policy=BadEventPolicy.STOP)
    with pytest.raises(InterceptorError, match="interceptor poison failed: ValueError: cannot enrich event 10"):
        cp.process_batch(numbered(1, 15))
    assert channel.size() == 0
    assert dead.size() == 0
    assert cp.counter.generic_processing_fail == 1


def test_one_bad_event_in_a_large_batch_costs_a_logarithmic_number_of_calls() -> None:
    channel = memory_channel()
    cp = processor([channel], [poison(every=1000)])
    cp.process_batch(numbered(1, 1023))  # only 1000 is poison
    assert numbers(drain(channel)) == [n for n in range(1, 1024) if n != 1000]
    # 1 whole-batch call, then two halves per level down to one event: 2 * log2(1024) = 20 more at most.
    assert PoisonInterceptor.calls <= 21


@pytest.mark.parametrize("exc", [TransientError("lookup service down"), ConnectionError("refused"),
                                 TimeoutError("timed out")])
def test_an_interceptor_failure_that_may_pass_fails_the_batch_whatever_the_policy(exc: Exception) -> None:
    class Unavailable(Interceptor):
        def intercept_batch(self, events: list[Event]) -> list[Event]:
            raise exc

    channel = memory_channel()
    cp = processor([channel], [Unavailable("lookup", None)])
    with pytest.raises(InterceptorError, match="interceptor lookup failed"):
        cp.process_batch(numbered(1, 8))
    assert channel.size() == 0
    assert cp.counter.event_drop_count == 0  # retried by the source, never dropped


def test_survivors_go_on_through_the_rest_of_the_chain() -> None:
    channel = memory_channel()
    cp = processor([channel], [poison(every=4), build(TagInterceptor, {}, "tag")])
    cp.process_batch(numbered(1, 9))
    delivered = drain(channel)
    assert numbers(delivered) == [1, 2, 3, 5, 6, 7, 9]
    assert [e.headers["kind"] for e in delivered] == ["odd", "even", "odd", "odd", "even", "odd", "odd"]


def test_a_retried_batch_does_not_dead_letter_its_bad_events_twice() -> None:
    full = build(MemoryChannel, {"capacity": "20", "transactionCapacity": "20", "keep-alive": "0"}, "c1")
    full.start()
    with full.transaction() as tx:
        tx.put_batch(numbered(101, 115))
    dead = memory_channel("dl")
    cp = processor([full], [poison()], dead_letters=dead)
    with pytest.raises(ChannelFullError):
        cp.process_batch(numbered(1, 12))  # 11 good events do not fit: the source will retry the batch
    assert dead.size() == 0
    assert numbers(drain(full)) == list(range(101, 116))
    cp.process_batch(numbered(1, 12))
    assert numbers(drain(dead)) == [10]
    assert numbers(drain(full)) == [n for n in range(1, 13) if n != 10]


def test_a_full_dead_letter_channel_drops_the_bad_events_and_counts_them(caplog: pytest.LogCaptureFixture) -> None:
    channel = memory_channel("c1")
    dead = build(MemoryChannel, {"capacity": "1", "transactionCapacity": "1", "keep-alive": "0"}, "dl")
    dead.start()
    cp = processor([channel], [poison()], dead_letters=dead)
    caplog.set_level(logging.ERROR)
    cp.process_batch(numbered(1, 30))  # 10 goes in; 20 and 30 find it full
    assert numbers(drain(channel)) == [n for n in range(1, 31) if n % 10]
    assert numbers(drain(dead)) == [10]
    assert (cp.counter.event_dead_letter_count, cp.counter.event_drop_count) == (1, 2)
    assert any("dead-letter channel dl refused them" in r.getMessage() and "events=2" in r.getMessage()
               for r in caplog.records)


# -- item 4: an event no channel fill could ever hold ------------------------------------------------------


def small_bytes_channel(name: str = "c1") -> MemoryChannel:
    channel = build(MemoryChannel, {"capacity": "1000", "transactionCapacity": "100", "byteCapacity": "1000000",
                                    "keep-alive": "1"}, name)
    channel.start()
    return channel


def test_memory_channel_refuses_an_event_larger_than_its_byte_capacity_at_put() -> None:
    channel = small_bytes_channel()
    events = [Event(b"a"), Event(b"x" * 900_000), Event(b"b" * 800_000), Event(b"y" * 800_001)]
    with channel.transaction() as tx, pytest.raises(EventsRefused) as refused:
        tx.put_batch(events)
    assert refused.value.refused.keys() == {1, 3}  # 800,000 bytes (80% of byteCapacity) is the largest that fits
    assert "900000 bytes" in refused.value.refused[1]
    assert channel.size() == 0


def test_an_event_larger_than_the_channel_is_a_bad_event_not_back_pressure() -> None:
    channel, dead = small_bytes_channel("c1"), memory_channel("dl")
    cp = processor([channel], [], dead_letters=dead)
    huge = Event(b"x" * 900_000, {"id": "huge"})
    cp.process_batch([Event(b"1"), huge, Event(b"2")])  # before: retried for ever, "the sinks are not keeping up"
    assert [e.body for e in drain(channel)] == [b"1", b"2"]
    letters = drain(dead)
    assert [e.headers["id"] for e in letters] == ["huge"]
    assert letters[0].headers[ERROR_HEADER].startswith("channel c1 cannot hold an event of 900000 bytes")
    assert (cp.counter.event_accepted_count, cp.counter.event_dead_letter_count) == (2, 1)


def test_an_event_one_replicated_channel_refuses_is_still_delivered_to_the_other() -> None:
    small, large, dead = small_bytes_channel("small"), memory_channel("large"), memory_channel("dl")
    cp = processor([small, large], [], dead_letters=dead)
    cp.process_batch([Event(b"1"), Event(b"x" * 900_000)])
    assert len(drain(small)) == 1
    assert len(drain(large)) == 2
    assert drain(dead)[0].headers[ERROR_HEADER].startswith("channel small cannot hold")
    assert cp.counter.event_accepted_count == 2  # the large event did reach one channel


# -- item 6: a multiplexing selector with no default -------------------------------------------------------


def test_events_a_selector_maps_nowhere_are_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    a = memory_channel("a")
    selector = build(MultiplexingSelector, {"header": "h", "mapping.x": "a"})
    selector.bind([a])
    cp = ChannelProcessor("r1", [], selector, SourceCounter("r1"))
    caplog.set_level(logging.WARNING)
    batch = [Event(b"1", {"h": "x"}), Event(b"2", {"h": "zzz"}), Event(b"3"), Event(b"4", {"h": "zzz"})]
    cp.process_batch(batch)
    cp.process_batch(batch)
    assert [e.body for e in drain(a)] == [b"1", b"1"]
    assert cp.counter.event_drop_count == 6
    assert cp.counter.event_accepted_count == 2
    lines = [r.getMessage() for r in caplog.records if "maps to no channel" in r.getMessage()]
    assert len(lines) == 1
    assert "events=3" in lines[0]
    assert "h='zzz'" in lines[0]
