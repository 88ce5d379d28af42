"""The Kafka channel's take side without a broker: redelivery, when offsets are committed, rebalances, failed
commits, bad records, stop. The consumer is a fake given through the channel's ``consumer_factory``; it calls
the rebalance callbacks inside consume() and close(), as librdkafka does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from flafka.channels.kafka import KafkaChannel, KafkaChannelError
from flafka.event import Event
from flafka.kafka.avro_event import encode
from flafka.testing import parse_config, wait_until

TOPIC = "chan"


class FakeMessage:
    def __init__(self, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        self._partition, self._offset, self._key, self._value = partition, offset, key, value

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value


class FakeBroker:
    """The topic's partitions and the group's committed offsets."""

    def __init__(self, partitions: int = 1) -> None:
        self.logs: dict[int, list[tuple[bytes | None, bytes | None]]] = {p: [] for p in range(partitions)}
        self.committed: dict[int, int] = {}
        self.commits: list[dict[int, int]] = []

    def append(self, partition: int, *values: bytes | None, key: bytes | None = None) -> None:
        self.logs[partition].extend((key, value) for value in values)

    def events(self, partition: int, start: int, stop: int) -> list[Event]:
        return [Event(b"%d-%d" % (partition, i), {"n": str(i)}) for i in range(start, stop)]

    def fill(self, partition: int, count: int) -> list[Event]:
        start = len(self.logs[partition])
        events = self.events(partition, start, start + count)
        self.append(partition, *(encode(e.headers, e.body) for e in events))
        return events


class FakeConsumer:
    """A group member alone in its group: assigned every partition at its first consume(). ``revoke()`` makes
    the next consume() revoke partitions first; ``fail_commits`` makes that many commits fail."""

    def __init__(self, conf: dict[str, Any], broker: FakeBroker) -> None:
        self.conf = conf
        self.broker = broker
        self.assigned: list[int] = []
        self.position: dict[int, int] = {}
        self.callbacks: dict[str, Any] = {}
        self.joined = False
        self.to_revoke: list[int] = []
        self.fail_commits = 0
        self.closed = False
        self.waiting = threading.Event()
        self.stuck: threading.Event | None = None  # set: consume() hangs inside the client until it is set
        self.inside = threading.Event()

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        assert topics == [TOPIC]
        self.callbacks = callbacks

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        assert not self.closed
        if self.stuck is not None:
            self.inside.set()
            assert self.stuck.wait(10)
        if not self.joined:
            self.joined = True
            self.assigned = sorted(self.broker.logs)
            self.position = {p: self.broker.committed.get(p, 0) for p in self.assigned}
            self.callbacks["on_assign"](self, [TopicPartition(TOPIC, p) for p in self.assigned])
        if self.to_revoke:
            revoked, self.to_revoke = self.to_revoke, []
            self.callbacks["on_revoke"](self, [TopicPartition(TOPIC, p) for p in revoked])
            self.assigned = [p for p in self.assigned if p not in revoked]
            self.callbacks["on_assign"](self, [TopicPartition(TOPIC, p) for p in self.assigned])  # the rejoin
        out: list[FakeMessage] = []
        for partition in self.assigned:
            log = self.broker.logs[partition]
            while self.position[partition] < len(log) and len(out) < num_messages:
                offset = self.position[partition]
                key, value = log[offset]
                out.append(FakeMessage(partition, offset, key, value))
                self.position[partition] += 1
        if not out and timeout > 0:
            self.waiting.set()
            time.sleep(min(timeout, 0.01))  # the client's own wait (short: the channel waits in slices)
        return out

    def revoke(self, *partitions: int) -> None:
        self.to_revoke = list(partitions)

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> list[TopicPartition]:
        assert asynchronous is False
        if self.fail_commits:
            self.fail_commits -= 1
            raise KafkaException(KafkaError(KafkaError.REBALANCE_IN_PROGRESS))
        for tp in offsets:
            assert tp.partition in self.assigned, "committed a partition this consumer does not own"
            self.broker.committed[tp.partition] = tp.offset
        self.broker.commits.append({tp.partition: tp.offset for tp in offsets})
        return offsets

    def close(self) -> None:
        if self.assigned:
            self.callbacks["on_revoke"](self, [TopicPartition(TOPIC, p) for p in self.assigned])
        self.assigned = []
        self.closed = True


@pytest.fixture
def broker() -> FakeBroker:
    return FakeBroker(partitions=2)


@pytest.fixture
def consumers() -> list[FakeConsumer]:
    return []


@pytest.fixture
def make(broker: FakeBroker, consumers: list[FakeConsumer]) -> Iterator[Callable[..., KafkaChannel]]:
    channels: list[KafkaChannel] = []

    def factory(conf: dict[str, Any]) -> FakeConsumer:
        consumer = FakeConsumer(conf, broker)
        consumers.append(consumer)
        return consumer

    def make(**values: str) -> KafkaChannel:
        props = {"kafka.bootstrap.servers": "b:1", "kafka.topic": TOPIC, "kafka.consumer.group.id": "g",
                 "kafka.pollTimeout": "50", **values}
        channel = KafkaChannel("c1", parse_config(KafkaChannel, props, "c1"), consumer_factory=factory)
        channel.start()
        channels.append(channel)
        return channel

    yield make
    for channel in channels:
        channel.stop_within(5.0)


def take(channel: KafkaChannel, count: int, commit: bool = True) -> list[Event]:
    tx = channel.transaction()
    events = tx.take_batch(count, 0.0)
    if commit:
        tx.commit()
    else:
        tx.rollback()
    tx.close()
    return events


def test_the_consumer_is_made_at_the_first_take_with_the_channels_settings(
    make: Callable[..., KafkaChannel], broker: FakeBroker, consumers: list[FakeConsumer]
) -> None:
    channel = make()
    assert consumers == []
    broker.fill(0, 1)
    assert len(take(channel, 10)) == 1
    (consumer,) = consumers
    assert (consumer.conf["group.id"], consumer.conf["bootstrap.servers"]) == ("g", "b:1")
    assert (consumer.conf["enable.auto.commit"], consumer.conf["enable.auto.offset.store"]) == (False, False)
    assert "logger" in consumer.conf  # librdkafka's logs go through Python logging


def test_a_rolled_back_take_is_redelivered_first_and_offsets_are_committed_only_after_commit(
    make: Callable[..., KafkaChannel], broker: FakeBroker
) -> None:
    channel = make()
    sent = broker.fill(0, 30)
    assert take(channel, 8, commit=False) == sent[:8]
    assert broker.committed == {}
    assert channel.counter.rollback_count == 8
    assert take(channel, 5) == sent[:5]
    assert broker.committed == {0: 5}
    assert take(channel, 10) == sent[5:8] + sent[8:15]  # the rest of the redelivery, then new events
    assert broker.committed == {0: 15}


def test_offsets_are_never_committed_past_an_event_another_open_take_holds(
    make: Callable[..., KafkaChannel], broker: FakeBroker
) -> None:
    channel = make()
    sent = broker.fill(0, 20)
    first = channel.transaction()
    assert first.take_batch(5, 0.0) == sent[:5]
    assert take(channel, 5) == sent[5:10]  # a second transaction of the same thread commits first
    assert broker.committed.get(0, 0) == 0  # 0..4 are not delivered yet
    first.commit()
    first.close()
    assert broker.committed == {0: 10}


def test_a_failed_commit_is_counted_and_its_offsets_go_with_the_next(
    make: Callable[..., KafkaChannel], broker: FakeBroker, consumers: list[FakeConsumer]
) -> None:
    channel = make()
    sent = broker.fill(0, 30)
    assert take(channel, 10) == sent[:10]
    consumers[0].fail_commits = 1
    assert take(channel, 10) == sent[10:20]
    assert channel.counter.commit_fail_count == 1
    assert broker.committed == {0: 10}
    assert take(channel, 5) == sent[20:25]
    assert broker.committed == {0: 25}


def test_a_revocation_commits_what_was_delivered_of_the_revoked_partitions_in_the_callback(
    make: Callable[..., KafkaChannel], broker: FakeBroker, consumers: list[FakeConsumer]
) -> None:
    channel = make()
    zero = broker.fill(0, 20)
    one = broker.fill(1, 20)
    tx = channel.transaction()
    taken = tx.take_batch(600, 0.0)
    consumer = consumers[0]
    consumer.fail_commits = 1  # delivered, its commit failed: the revocation commits it before the partition goes
    tx.commit()
    tx.close()
    assert sorted(e.body for e in taken) == sorted(e.body for e in zero + one)
    assert broker.committed == {}
    more = broker.fill(0, 5)
    broker.fill(1, 5)
    consumer.revoke(1)
    assert take(channel, 100) == more  # partition 1 is no longer this consumer's
    assert broker.commits == [{1: 20}, {0: 25}]  # in the callback, then after the take


def test_a_take_serving_redeliveries_still_calls_the_consumer_so_rebalances_go_on(
    make: Callable[..., KafkaChannel], broker: FakeBroker, consumers: list[FakeConsumer]
) -> None:
    # A failing sink rolls back again and again: its takes are served from the redelivery list. librdkafka
    # drops a member that does not call it within max.poll.interval.ms (here 30 ms).
    channel = make(**{"kafka.consumer.max.poll.interval.ms": "30", "kafka.consumer.session.timeout.ms": "30"})
    zero = broker.fill(0, 5)
    one = broker.fill(1, 5)
    assert len(take(channel, 10, commit=False)) == 10
    consumers[0].revoke(1)
    # The sink keeps failing; within about a third of the interval a take calls the consumer, which revokes.
    wait_until(lambda: take(channel, 10, commit=False) == zero, timeout=5, message="the revocation to run")
    assert take(channel, 10) == zero  # partition 1's redeliveries went to its new owner
    assert all(e not in one for e in take(channel, 10))


def test_undecodable_records_are_counted_skipped_and_committed_with_their_neighbours(
    make: Callable[..., KafkaChannel], broker: FakeBroker
) -> None:
    channel = make()
    broker.append(0, b"junk", None)
    good = broker.fill(0, 2)
    broker.append(0, b"more junk")
    assert take(channel, 10) == good
    assert channel.counter.event_read_fail == 3
    assert broker.committed == {0: 5}


def test_a_key_that_is_not_utf8_is_kept_byte_for_byte_in_the_key_header(
    make: Callable[..., KafkaChannel], broker: FakeBroker
) -> None:
    channel = make(parseAsFlumeEvent="false")
    broker.append(0, b"raw", key=b"k\xff")
    broker.append(0, None, key=b"")
    assert take(channel, 10) == [Event(b"raw", {"key": "k\udcff"}), Event(b"", {"key": ""})]


def test_wakeup_and_stop_end_a_waiting_take_at_once(
    make: Callable[..., KafkaChannel], consumers: list[FakeConsumer]
) -> None:
    channel = make()
    results: list[list[Event]] = []

    def wait_long() -> None:
        with channel.transaction() as tx:
            results.append(tx.take_batch(10, timeout=60.0))
        with channel.transaction() as tx:
            results.append(tx.take_batch(10, timeout=60.0))

    taker = threading.Thread(target=wait_long)
    started = time.monotonic()
    taker.start()
    wait_until(lambda: consumers and consumers[0].waiting.is_set())
    channel.wakeup()
    wait_until(lambda: len(results) == 1, timeout=5)
    consumers[0].waiting.clear()
    wait_until(consumers[0].waiting.is_set)
    channel.stop_within(5.0)
    taker.join(5)
    assert not taker.is_alive()
    assert results == [[], []]
    assert time.monotonic() - started < 5
    assert consumers[0].closed
    with pytest.raises(KafkaChannelError, match="stopped"), channel.transaction() as tx:
        tx.take_batch(1, 0.0)


def test_stop_commits_what_was_delivered_and_a_take_still_open_counts_a_failed_commit(
    make: Callable[..., KafkaChannel], broker: FakeBroker, consumers: list[FakeConsumer]
) -> None:
    channel = make()
    sent = broker.fill(0, 20)  # all fetched by the first take: 15..19 are never taken
    assert take(channel, 5) == sent[:5]
    consumers[0].fail_commits = 1
    assert take(channel, 5) == sent[5:10]
    tx = channel.transaction()
    assert tx.take_batch(5, 0.0) == sent[10:15]
    channel.stop_within(5.0)  # as if the sink had not stopped in time
    assert broker.committed == {0: 10}  # the failed commit went with the revocation, capped by the open take
    tx.commit()  # its offsets can no longer be committed: the new owner delivers them again
    tx.close()
    assert channel.counter.commit_fail_count == 2
    assert broker.committed == {0: 10}


def test_the_consumer_of_a_thread_that_ended_is_closed_when_the_next_is_made(
    make: Callable[..., KafkaChannel], broker: FakeBroker, consumers: list[FakeConsumer]
) -> None:
    channel = make()
    sent = broker.fill(0, 10)
    worker = threading.Thread(target=lambda: take(channel, 4))
    worker.start()
    worker.join(10)
    assert broker.committed == {0: 4}
    assert take(channel, 10) == sent[4:]
    assert [c.closed for c in consumers] == [True, False]


def test_a_stop_keeps_its_deadline_when_a_take_hangs_in_the_client_and_that_take_closes_the_consumer(
    make: Callable[..., KafkaChannel], broker: FakeBroker, consumers: list[FakeConsumer],
    caplog: pytest.LogCaptureFixture
) -> None:
    channel = make()
    broker.fill(0, 1)
    errors: list[BaseException] = []
    ready = threading.Event()
    go = threading.Event()

    def hanging_take() -> None:
        try:
            assert len(take(channel, 10)) == 1
            ready.set()
            assert go.wait(10)
            take(channel, 10)
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    worker = threading.Thread(target=hanging_take)
    worker.start()
    assert ready.wait(10)
    (consumer,) = consumers
    consumer.stuck = threading.Event()
    go.set()
    assert consumer.inside.wait(10)
    started = time.monotonic()
    channel.stop_within(0.3)
    assert time.monotonic() - started < 2
    assert not consumer.closed  # never closed under a call in progress (librdkafka would crash)
    assert "could not close a consumer still taking" in caplog.text
    consumer.stuck.set()
    worker.join(10)
    assert not worker.is_alive()
    assert errors == []
    assert consumer.closed  # by the take, once out of the client
