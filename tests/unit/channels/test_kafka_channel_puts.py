"""The Kafka channel's put side without a broker: records of events, a commit's wait for every acknowledgement,
refused records, a retry that writes nothing twice, and a stop. The producer is a fake given through the
channel's ``producer_factory``; librdkafka's own size rule is checked against a real producer (no broker needed)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer

from flafka.channels.kafka import KafkaChannel, KafkaChannelError
from flafka.channels.kafka.puts import RECORD_OVERHEAD
from flafka.errors import EventsRefused
from flafka.event import Event
from flafka.kafka.avro_event import decode
from flafka.monitoring.counters import SourceCounter
from flafka.runtime.channel_processor import ChannelProcessor
from flafka.selectors import ReplicatingSelector
from flafka.testing import build, drain, memory_channel, parse_config, wait_until

Outcome = Callable[[bytes | None, int, bytes], KafkaError | None]  # key, partition, value -> delivery error


class FakeMessage:
    def __init__(self, topic: str, partition: int, key: bytes | None, value: bytes) -> None:
        self._topic, self._partition, self._key, self._value = topic, partition, key, value

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes:
        return self._value


class FakeProducer:
    """Queues records; flush() answers them with ``outcome`` (None: acknowledged). ``answering`` cleared: the
    broker is away, flush() waits out its timeout with nothing answered."""

    def __init__(self, conf: dict[str, Any], partitions: int = 4) -> None:
        self.conf = conf
        self.partitions = partitions
        self.produced: list[tuple[bytes | None, int, bytes]] = []  # what the broker acknowledged or failed
        self.queue: list[tuple[FakeMessage, Any]] = []
        self.outcome: Outcome = lambda key, partition, value: None
        self.refuse_at_produce: Outcome = lambda key, partition, value: None
        self.answering = threading.Event()
        self.answering.set()
        self.flushing = threading.Event()
        self.purged = 0

    def produce(self, topic: str, value: bytes, key: bytes | None = None, partition: int = -1, *,
                on_delivery: Any) -> None:
        error = self.refuse_at_produce(key, partition, value)
        if error is not None:
            raise KafkaException(error)
        self.queue.append((FakeMessage(topic, partition, key, value), on_delivery))

    def flush(self, timeout: float) -> int:
        self.flushing.set()
        if not self.answering.wait(timeout):
            return len(self.queue)
        queue, self.queue = self.queue, []
        for message, callback in queue:
            self.produced.append((message.key(), message.partition(), message.value()))
            callback(self.outcome(message.key(), message.partition(), message.value()), message)
        return 0

    def poll(self, timeout: float) -> int:
        return 0

    def purge(self) -> None:
        self.purged += len(self.queue)
        self.queue = []

    def list_topics(self, topic: str, timeout: float) -> Any:
        partitions = {n: object() for n in range(self.partitions)}
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions=partitions)})


@pytest.fixture
def made() -> list[FakeProducer]:
    return []


@pytest.fixture
def make(made: list[FakeProducer]) -> Iterator[Callable[..., KafkaChannel]]:
    """Started Kafka channels whose producers are fakes (appended to ``made`` when the channel creates one)."""
    channels: list[KafkaChannel] = []

    def factory(conf: dict[str, Any]) -> FakeProducer:
        producer = FakeProducer(conf)
        made.append(producer)
        return producer

    def make(**values: str) -> KafkaChannel:
        props = {"kafka.bootstrap.servers": "b:1", "kafka.topic": "chan", **{k.replace("__", "."): v
                                                                               for k, v in values.items()}}
        channel = KafkaChannel("c1", parse_config(KafkaChannel, props, "c1"), producer_factory=factory)
        channel.start()
        channels.append(channel)
        return channel

    yield make
    for channel in channels:
        channel.stop_within(5.0)


def put(channel: KafkaChannel, events: list[Event]) -> None:
    with channel.transaction() as tx:
        tx.put_batch(events)


def test_the_producer_is_made_at_the_first_put_and_a_commit_waits_for_every_acknowledgement(
    make: Callable[..., KafkaChannel], made: list[FakeProducer]
) -> None:
    channel = make()
    assert made == []  # a broker that is down at start-up does not stop the agent
    events = [Event(b"b%d" % i, {"key": f"k{i}", "n": str(i)}) for i in range(5)]
    put(channel, events)
    (producer,) = made
    assert producer.conf["bootstrap.servers"] == "b:1"
    assert producer.conf["acks"] == "all"
    assert [(k, p, decode(v)) for k, p, v in producer.produced] == [
        (e.headers["key"].encode(), -1, (e.headers, e.body)) for e in events]
    assert channel.counter.event_put_success_count == 5


def test_a_commit_fails_when_a_record_is_not_acknowledged_and_its_retry_writes_nothing_twice(
    make: Callable[..., KafkaChannel], made: list[FakeProducer]
) -> None:
    channel = make(parseAsFlumeEvent="false")
    put(channel, [Event(b"warm-up")])
    producer = made[0]
    producer.produced.clear()
    producer.outcome = lambda key, partition, value: (
        KafkaError(KafkaError.NOT_ENOUGH_REPLICAS) if value == b"e2" else None)
    events = [Event(b"e%d" % i) for i in range(4)]
    with pytest.raises(KafkaChannelError, match="NOT_ENOUGH_REPLICAS") as failed:
        put(channel, events)
    assert failed.value.retriable is True
    assert channel.counter.event_put_success_count == 1  # the warm-up only
    producer.outcome = lambda key, partition, value: None
    put(channel, events)  # the source retries the same events on the same thread
    assert [v for _, _, v in producer.produced] == [b"e0", b"e1", b"e2", b"e3", b"e2"]
    put(channel, events)  # a commit that succeeded forgets: the same events put again are written again
    assert [v for _, _, v in producer.produced][5:] == [b"e0", b"e1", b"e2", b"e3"]


def test_a_producer_that_failed_for_good_is_replaced_at_the_next_put(
    make: Callable[..., KafkaChannel], made: list[FakeProducer]
) -> None:
    channel = make(parseAsFlumeEvent="false")
    put(channel, [Event(b"warm-up")])
    made[0].outcome = lambda key, partition, value: KafkaError(KafkaError._FATAL, "sequence desynchronised",
                                                               fatal=True)
    with pytest.raises(KafkaChannelError, match="_FATAL") as failed:
        put(channel, [Event(b"a")])
    assert failed.value.retriable is True  # with a new producer
    put(channel, [Event(b"a")])
    assert len(made) == 2
    assert made[1].produced == [(None, -1, b"a")]


def test_another_threads_retry_or_other_events_are_not_skipped(
    make: Callable[..., KafkaChannel], made: list[FakeProducer]
) -> None:
    channel = make(parseAsFlumeEvent="false")
    put(channel, [Event(b"warm-up")])
    producer = made[0]
    producer.outcome = lambda key, partition, value: KafkaError(KafkaError._MSG_TIMED_OUT) if value == b"b" else None
    first = [Event(b"a"), Event(b"b")]
    with pytest.raises(KafkaChannelError):
        put(channel, first)
    producer.outcome = lambda key, partition, value: None
    producer.produced.clear()
    worker = threading.Thread(target=put, args=(channel, first))
    worker.start()
    worker.join(10)
    assert [v for _, _, v in producer.produced] == [b"a", b"b"]  # remembered per thread
    producer.produced.clear()
    put(channel, [Event(b"a"), Event(b"b")])  # equal, but other events
    assert [v for _, _, v in producer.produced] == [b"a", b"b"]


def test_a_record_kafka_refuses_is_refused_at_commit_and_the_channel_processor_writes_the_rest_once(
    make: Callable[..., KafkaChannel], made: list[FakeProducer]
) -> None:
    channel = make(parseAsFlumeEvent="false")
    put(channel, [Event(b"warm-up")])
    producer = made[0]
    producer.produced.clear()
    producer.outcome = lambda key, partition, value: (
        KafkaError(KafkaError.MSG_SIZE_TOO_LARGE) if value == b"big" else None)  # the broker's limit is lower
    dead = memory_channel("dl")
    selector = build(ReplicatingSelector, {})
    selector.bind([channel])
    processor = ChannelProcessor("r1", [], selector, SourceCounter("r1"), dead_letter_channel=dead)
    processor.process_batch([Event(b"one"), Event(b"big"), Event(b"two")])
    assert [v for _, _, v in producer.produced] == [b"one", b"big", b"two"]  # nothing written twice
    (letter,) = drain(dead)
    assert letter.body == b"big"
    assert "MSG_SIZE_TOO_LARGE" in letter.headers["flafka.error"]
    assert processor.counter.event_accepted_count == 2


def test_a_partition_the_topic_does_not_have_is_refused_before_anything_is_produced(
    make: Callable[..., KafkaChannel], made: list[FakeProducer]
) -> None:
    channel = make(partitionIdHeader="p")
    tx = channel.transaction()
    tx.put_batch([Event(b"fine", {"p": "3"}), Event(b"missing", {"p": "4"}), Event(b"keyed", {"key": "k"})])
    with pytest.raises(EventsRefused) as refused:
        tx.commit()
    tx.rollback()
    tx.close()
    assert refused.value.refused == {1: "partition 4 is not a partition of topic chan (it has 4)"}
    assert made[0].produced == []
    made[0].partitions = 8  # partitions were added: the next put naming one past the known count looks again
    put(channel, [Event(b"now-fine", {"p": "7"})])
    assert [p for _, p, _ in made[0].produced] == [7]


def test_a_partition_librdkafka_refuses_at_produce_is_refused_with_the_topics_partition_count(
    make: Callable[..., KafkaChannel], made: list[FakeProducer]
) -> None:
    channel = make(defaultPartitionId="2", parseAsFlumeEvent="false")
    put(channel, [Event(b"warm-up")])
    producer = made[0]
    producer.partitions = 2  # the topic was recreated smaller than the count the channel knew
    producer.refuse_at_produce = lambda key, partition, value: (
        KafkaError(KafkaError._UNKNOWN_PARTITION) if partition >= 2 else None)
    with pytest.raises(EventsRefused) as refused:
        put(channel, [Event(b"x")])
    assert refused.value.refused == {0: "partition 2 is not a partition of topic chan (it has 2)"}


def test_records_over_librdkafkas_size_limit_are_refused_at_put() -> None:
    # The exact rule librdkafka applies at produce(), read from a real producer (it queues without a broker).
    limit = 2000
    producer = Producer({"bootstrap.servers": "127.0.0.1:1", "message.max.bytes": limit, "log_level": 0})
    producer.produce("t", b"v" * (limit - RECORD_OVERHEAD - 3), b"key")
    with pytest.raises(KafkaException) as too_large:
        producer.produce("t", b"v" * (limit - RECORD_OVERHEAD - 2), b"key")
    assert too_large.value.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE
    producer.purge()

    channel = build(KafkaChannel, {"kafka.bootstrap.servers": "127.0.0.1:1", "parseAsFlumeEvent": "false",
                                   "kafka.producer.max.request.size": str(limit)}, "c1")
    tx = channel.transaction()
    tx.put(Event(b"v" * (limit - RECORD_OVERHEAD - 3), {"key": "key"}))
    with pytest.raises(EventsRefused) as refused:
        tx.put_batch([Event(b"small"), Event(b"v" * (limit - RECORD_OVERHEAD - 2), {"key": "key"})])
    assert refused.value.refused == {1: f"a record of {limit + 1} bytes is larger than max.request.size ({limit}); "
                                        "raise kafka.producer.max.request.size (and the broker's message.max.bytes) "
                                        "to keep such events"}
    tx.rollback()
    tx.close()


def test_a_key_read_as_bytes_is_written_as_those_bytes_and_a_lone_surrogate_is_refused(
    make: Callable[..., KafkaChannel], made: list[FakeProducer]
) -> None:
    channel = make()
    read_from_kafka = Event(b"body", {"key": b"k\xff".decode("utf-8", "surrogateescape"), "h": "v"})
    put(channel, [read_from_kafka, Event(b"plain", {"key": "ключ"})])
    (first, second) = made[0].produced
    assert first[0] == b"k\xff"
    # The datum holds what every AvroFlumeEvent reader can decode; a take restores the key from the record key.
    assert decode(first[2]) == ({"key": "k\ufffd", "h": "v"}, b"body")
    assert (second[0], decode(second[2])) == ("ключ".encode(), ({"key": "ключ"}, b"plain"))
    tx = channel.transaction()
    with pytest.raises(EventsRefused) as refused:
        tx.put_batch([Event(b"x", {"key": "\ud800"}), Event(b"y", {"other": "\udcff"}), Event(b"z")])
    tx.rollback()
    tx.close()
    assert refused.value.refused[0].startswith("header key is not valid Unicode text")
    assert refused.value.refused[1].startswith("cannot be written as an AvroFlumeEvent")
    assert set(refused.value.refused) == {0, 1}


def test_raw_records_carry_the_body_and_key_only(make: Callable[..., KafkaChannel], made: list[FakeProducer]) -> None:
    channel = make(parseAsFlumeEvent="false")
    put(channel, [Event(b"plain", {"key": "pk", "other": "dropped"}), Event(b"keyless", {"h": "\udcff"})])
    assert made[0].produced == [(b"pk", -1, b"plain"), (None, -1, b"keyless")]


def test_a_stop_fails_a_put_waiting_on_kafka_purges_its_records_and_says_so(
    make: Callable[..., KafkaChannel], made: list[FakeProducer], caplog: pytest.LogCaptureFixture
) -> None:
    channel = make()
    put(channel, [Event(b"warm-up")])
    producer = made[0]
    producer.answering.clear()  # the broker went away
    producer.flushing.clear()
    errors: list[BaseException] = []

    def waiting_put() -> None:
        try:
            put(channel, [Event(b"a"), Event(b"b")])
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    worker = threading.Thread(target=waiting_put)
    worker.start()
    assert producer.flushing.wait(10)
    caplog.set_level(logging.WARNING)
    channel.stop_within(5.0)
    worker.join(10)
    assert not worker.is_alive()
    (error,) = errors
    assert isinstance(error, KafkaChannelError)
    assert "stopped while a put waited for Kafka" in str(error)
    assert producer.purged == 2  # not written behind the source's back: it sends them again
    assert ("Kafka channel c1 stopped while puts were still waiting for Kafka; they are not committed, so their "
            "sources were not acknowledged and send them again. events=2") in caplog.text
    with pytest.raises(KafkaChannelError, match="stopped"):
        put(channel, [Event(b"after")])


def test_concurrent_puts_each_wait_for_their_own_records(
    make: Callable[..., KafkaChannel], made: list[FakeProducer]
) -> None:
    channel = make(parseAsFlumeEvent="false")
    put(channel, [Event(b"warm-up")])
    done: list[int] = []

    def puts(n: int) -> None:
        for i in range(50):
            put(channel, [Event(b"%d-%d" % (n, i))])
        done.append(n)

    workers = [threading.Thread(target=puts, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    wait_until(lambda: len(done) == 4, timeout=30)
    assert len(made[0].produced) == 201
    assert channel.counter.event_put_success_count == 201
