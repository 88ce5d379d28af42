"""The Kafka source's offset rules with a scripted consumer (the client seam), no broker: what is committed,
when, and what a revocation does to the batch in hand. The real client's behaviour is covered by
tests/integration/test_kafka_source.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message, TopicPartition

from flafka.channels.memory import MemoryChannel
from flafka.sources.kafka import KafkaSource, KafkaSourceError
from flafka.sources.kafka import source as source_module
from flafka.testing import build, drain, memory_channel, wired_source
from tests.unit.runtime import components
from tests.unit.runtime.components import FailingInterceptor

Callback = Callable[[Any, list[TopicPartition]], None]


class ScriptedConsumer:
    """Hands out the messages it is given; records commits; runs the rebalance callbacks when told."""

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        self.queued: list[Message] = []
        self.commits: list[tuple[dict[tuple[str, int], int], bool]] = []  # (offsets, asynchronous)
        self.assigned: list[TopicPartition] = []
        self.fail_next_async_commit = False
        self.closed = False
        self.placed: dict[tuple[str, int], int] = {}
        self._on_revoke: Callback | None = None
        self._pending_answers: list[tuple[KafkaError | None, list[TopicPartition]]] = []

    def subscribe(self, topics: list[str], *, on_assign: Callback, on_revoke: Callback, on_lost: Callback) -> None:
        self._on_revoke = on_revoke
        self.assigned = [TopicPartition(topics[0], p) for p in range(2)]
        on_assign(self, self.assigned)

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        # partition 0 has a committed offset, partition 1 none (-1001, OFFSET_INVALID)
        return [TopicPartition(tp.topic, tp.partition, 7 if tp.partition == 0 else -1001) for tp in partitions]

    def get_watermark_offsets(self, partition: TopicPartition, timeout: float) -> tuple[int, int]:
        return 0, 42

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.placed = {(tp.topic, tp.partition): tp.offset for tp in partitions}

    def pause(self, partitions: list[TopicPartition]) -> None:
        """The source pauses its partitions while a refused batch waits (these tests do not follow that)."""

    def resume(self, partitions: list[TopicPartition]) -> None:
        """See pause()."""

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        for error, partitions in self._pending_answers:
            self.conf["on_commit"](error, partitions)  # librdkafka serves commit answers inside consume()
        self._pending_answers = []
        out, self.queued = self.queued[:num_messages], self.queued[num_messages:]
        return out

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> list[TopicPartition] | None:
        self.commits.append(({(tp.topic, tp.partition): tp.offset for tp in offsets}, asynchronous))
        if not asynchronous:
            return offsets
        error = KafkaError(KafkaError.REQUEST_TIMED_OUT) if self.fail_next_async_commit else None
        self.fail_next_async_commit = False
        self._pending_answers.append((error, offsets))
        return None

    def assignment(self) -> list[TopicPartition]:
        return self.assigned

    def revoke(self, partitions: list[int]) -> None:
        assert self._on_revoke is not None
        revoked = [tp for tp in self.assigned if tp.partition in partitions]
        self.assigned = [tp for tp in self.assigned if tp.partition not in partitions]
        self._on_revoke(self, revoked)

    def close(self) -> None:
        self.closed = True
        if self._on_revoke is not None and self.assigned:
            self.revoke([tp.partition for tp in self.assigned])


def records(partition: int, first: int, count: int) -> list[Message]:
    return [Message(topic="t", partition=partition, offset=offset, value=b"p%d-%d" % (partition, offset),
                    timestamp=(1, 1_700_000_000_000 + offset))
            for offset in range(first, first + count)]


@pytest.fixture
def consumer_and_source() -> tuple[list[ScriptedConsumer], Callable[..., tuple[KafkaSource, MemoryChannel]]]:
    made: list[ScriptedConsumer] = []

    def factory(conf: dict[str, Any]) -> ScriptedConsumer:
        made.append(ScriptedConsumer(conf))
        return made[-1]

    def make(batch_size: int = 10, interceptors: tuple[Any, ...] = ()) -> tuple[KafkaSource, MemoryChannel]:
        config = build(KafkaSource, {"kafka.bootstrap.servers": "127.0.0.1:1", "kafka.topics": "t",
                                     "batchSize": str(batch_size), "batchDurationMillis": "1"}, "r1").config
        source = KafkaSource("r1", config, consumer_factory=factory)  # type: ignore[arg-type]
        channel = memory_channel()
        wired_source(source, [channel], interceptors)
        source.start()
        return source, channel

    components.reset()
    return made, make


def test_a_delivered_batch_is_committed_asynchronously_and_a_stop_commits_synchronously(
        consumer_and_source: Any) -> None:
    made, make = consumer_and_source
    source, channel = make()
    consumer = made[0]
    consumer.queued = records(0, 0, 6) + records(1, 0, 4)
    source.process()
    assert [e.body for e in drain(channel)] == [b"p0-%d" % i for i in range(6)] + [b"p1-%d" % i for i in range(4)]
    assert consumer.commits == [({("t", 0): 6, ("t", 1): 4}, True)]
    source.stop()
    assert consumer.commits[-1] == ({("t", 0): 6, ("t", 1): 4}, False)  # in flight at the stop: committed again
    assert consumer.closed


def test_a_failed_asynchronous_commit_is_made_good_by_the_next(consumer_and_source: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_module, "COMMIT_INTERVAL_S", 0.0)  # a commit after every batch
    made, make = consumer_and_source
    source, _ = make()
    consumer = made[0]
    consumer.fail_next_async_commit = True
    consumer.queued = records(0, 0, 5) + records(1, 0, 5)
    source.process()
    consumer.queued = records(0, 5, 3)
    source.process()  # the failed answer arrives inside this consume(); the commit after it has both partitions
    assert consumer.commits[-1] == ({("t", 0): 8, ("t", 1): 5}, True)


def test_a_revocation_delivers_the_batch_in_hand_and_commits_the_revoked_partitions_synchronously(
        consumer_and_source: Any) -> None:
    made, make = consumer_and_source
    source, channel = make(batch_size=100)
    consumer = made[0]
    consumer.queued = records(0, 0, 3) + records(1, 0, 2)
    source._fill(consumer)  # a batch in hand, as when the rebalance runs inside consume()
    consumer.revoke([1])
    assert len(drain(channel)) == 5  # delivered before the partitions went
    assert consumer.commits == [({("t", 1): 2}, False)]  # only the revoked partition, and waited for
    source.stop()
    assert consumer.commits[-1] == ({("t", 0): 3}, False)


def test_a_revocation_with_a_refused_batch_drops_only_the_revoked_partitions_events(
        consumer_and_source: Any) -> None:
    made, make = consumer_and_source
    FailingInterceptor.failures_left = 1_000
    source, channel = make(batch_size=100, interceptors=(build(FailingInterceptor, {}, "fail"),))
    consumer = made[0]
    consumer.queued = records(0, 0, 3) + records(1, 0, 2) + records(0, 3, 2)
    source.process()  # refused: kept in hand
    assert consumer.commits == []
    consumer.revoke([0])  # still refused: partition 0's five events are left to its next owner
    assert consumer.commits == []  # nothing of them is committed
    FailingInterceptor.failures_left = 0
    source.process()
    assert [e.body for e in drain(channel)] == [b"p1-0", b"p1-1"]
    assert consumer.commits == [({("t", 1): 2}, True)]


def test_a_fatal_consumer_error_stops_the_batch_with_a_clear_error(consumer_and_source: Any) -> None:
    made, make = consumer_and_source
    source, _ = make()
    consumer = made[0]
    consumer.queued = [Message(topic="t", partition=0, error=KafkaError(KafkaError._FATAL, "fenced", fatal=True))]
    with pytest.raises(KafkaSourceError, match="fatal consumer error: fenced"):
        source.process()


def test_with_latest_a_partition_never_committed_starts_at_its_end_as_of_the_assignment(
        consumer_and_source: Any) -> None:
    """librdkafka would look the end up at its first fetch: records written in between were skipped."""
    made, make = consumer_and_source
    make()
    assert made[0].placed == {("t", 0): 7, ("t", 1): 42}


def test_commits_are_paced_while_batches_keep_coming_and_an_idle_poll_commits_at_once(
        consumer_and_source: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_module, "COMMIT_INTERVAL_S", 3600.0)
    made, make = consumer_and_source
    source, channel = make()
    consumer = made[0]
    for first in (0, 10, 20):
        consumer.queued = records(0, first, 10)
        source.process()
    assert consumer.commits == [({("t", 0): 10}, True)]  # the first batch; the next two wait
    assert len(drain(channel)) == 30
    source.process()  # nothing to read: the delivered offsets are committed now
    assert consumer.commits[-1] == ({("t", 0): 30}, True)
