"""The Kafka source while its batch waits for a full channel, with a scripted consumer (no broker): the assigned
partitions are paused and the consumer is still polled; what was assigned meanwhile is paused too; everything is
resumed once the batch is through; nothing is lost or read twice. The real client's behaviour is covered by
tests/integration/test_kafka_source_full_channel.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from flafka.channels.memory import MemoryChannel
from flafka.sources.base import Status
from flafka.sources.kafka import KafkaSource
from flafka.sources.kafka import source as source_module
from flafka.testing import build, drain, wired_source
from tests.unit.runtime import components
from tests.unit.sources.test_kafka_source_offsets import Callback, ScriptedConsumer, records

FULL_AT = 10  # the channel's capacity


class PausingConsumer(ScriptedConsumer):
    """A ScriptedConsumer that pauses as librdkafka does: a paused partition hands out nothing (its records wait
    in ``queued``, to be fetched again after the resume) and stays paused across a revocation; ``rebalance()``
    makes the next consume() revoke and assign partitions (an incremental rebalance)."""

    def __init__(self, conf: dict[str, Any]) -> None:
        super().__init__(conf)
        self.paused: set[int] = set()
        self.consumed = 0  # consume() calls
        self.refuse_resume = 0  # resume() raises this many times
        self._on_assign: Callback | None = None
        self._rebalance: tuple[list[int], list[int]] | None = None

    def subscribe(self, topics: list[str], *, on_assign: Callback, on_revoke: Callback, on_lost: Callback) -> None:
        self._on_assign = on_assign
        super().subscribe(topics, on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)

    def assign(self, partitions: list[TopicPartition]) -> None:
        super().assign(partitions)
        self.assigned = [TopicPartition(tp.topic, tp.partition) for tp in partitions]

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        known = {tp.partition for tp in self.assigned}
        self.assigned += [TopicPartition(tp.topic, tp.partition) for tp in partitions if tp.partition not in known]

    def pause(self, partitions: list[TopicPartition]) -> None:
        assert {tp.partition for tp in partitions} <= {tp.partition for tp in self.assigned}, "paused unassigned"
        self.paused.update(tp.partition for tp in partitions)

    def resume(self, partitions: list[TopicPartition]) -> None:
        if self.refuse_resume:
            self.refuse_resume -= 1
            raise KafkaException(KafkaError(KafkaError._STATE))
        self.paused.difference_update(tp.partition for tp in partitions)

    def rebalance(self, revoke: list[int], assign: list[int]) -> None:
        self._rebalance = (revoke, assign)

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        self.consumed += 1
        if self._rebalance is not None:
            (revoke, assign), self._rebalance = self._rebalance, None
            if revoke:
                self.revoke(revoke)
            if assign:
                assert self._on_assign is not None
                self._on_assign(self, [TopicPartition("t", p) for p in assign])
        assigned = {tp.partition for tp in self.assigned}
        readable = [m for m in self.queued if m.partition() in assigned and m.partition() not in self.paused]
        out = readable[:num_messages]
        self.queued = [m for m in self.queued if m not in out]
        return out


Made = tuple[KafkaSource, MemoryChannel, PausingConsumer]


@pytest.fixture
def make(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Made]]:
    monkeypatch.setattr(source_module, "COMMIT_INTERVAL_S", 0.0)  # a commit after every batch
    sources: list[KafkaSource] = []

    def make(**extra: str) -> Made:
        made: list[PausingConsumer] = []

        def factory(conf: dict[str, Any]) -> PausingConsumer:
            made.append(PausingConsumer(conf))
            return made[-1]

        config = build(KafkaSource, {"kafka.bootstrap.servers": "127.0.0.1:1", "kafka.topics": "t",
                                     "batchSize": "100", "batchDurationMillis": "1", **extra}, "r1").config
        source = KafkaSource("r1", config, consumer_factory=factory)  # type: ignore[arg-type]
        channel = build(MemoryChannel, {"capacity": str(FULL_AT), "transactionCapacity": str(FULL_AT),
                                         "keep-alive": "0"})
        channel.start()
        wired_source(source, [channel])
        source.start()
        sources.append(source)
        return source, channel, made[0]

    components.reset()
    yield make
    for source in sources:
        source.stop()


def bodies(messages: list[Message]) -> list[bytes]:
    return [m.value() or b"" for m in messages]


def fill_the_channel(source: KafkaSource, consumer: PausingConsumer) -> None:
    consumer.queued = records(0, 0, FULL_AT)
    assert source.process() is Status.READY  # delivered: the channel is full now


def test_a_batch_refused_by_a_full_channel_pauses_the_partitions_and_the_consumer_is_still_polled(
        make: Any) -> None:
    source, channel, consumer = make()
    fill_the_channel(source, consumer)
    waiting = records(0, 10, 3) + records(1, 0, 2)
    consumer.queued = list(waiting)
    assert source.process() is Status.BACKOFF  # refused: the batch stays in hand
    assert consumer.paused == {0, 1}
    consumer.queued = records(0, 13, 4)  # written meanwhile: not read while the batch waits
    polls = consumer.consumed
    for _ in range(3):
        assert source.process() is Status.READY  # the poll waited; no runner back-off on top of it
    assert consumer.consumed == polls + 3  # callbacks served, max.poll.interval.ms honoured
    assert len(consumer.queued) == 4
    assert consumer.paused == {0, 1}
    assert consumer.commits[-1] == ({("t", 0): 10}, True)  # nothing of the waiting batch

    delivered = drain(channel)
    assert source.process() is Status.READY  # offered again, accepted, committed, resumed
    assert consumer.paused == set()
    assert consumer.commits[-1] == ({("t", 0): 13, ("t", 1): 2}, True)
    source.process()  # reads what was written while paused
    delivered += drain(channel)
    assert [e.body for e in delivered] == bodies(records(0, 0, 10) + waiting + records(0, 13, 4))  # once each


def test_partitions_assigned_while_the_batch_waits_are_paused_and_all_resumed_after_it(make: Any) -> None:
    source, channel, consumer = make(**{"kafka.consumer.partition.assignment.strategy": "cooperative-sticky"})
    fill_the_channel(source, consumer)
    consumer.queued = records(0, 10, 3) + records(1, 0, 2)
    source.process()
    assert consumer.paused == {0, 1}
    consumer.rebalance(revoke=[1], assign=[2])  # inside the next poll
    consumer.queued = records(1, 2, 5) + records(2, 0, 4)  # partition 1 is gone, partition 2 is new
    source.process()
    assert {tp.partition for tp in consumer.assigned} == {0, 2}
    assert consumer.paused == {0, 1, 2}  # the new partition too; 1 stays paused in the client, as librdkafka's does
    assert len(consumer.queued) == 9  # nothing read: partition 1 is not assigned, partition 2 paused

    drain(channel)
    source.process()  # the batch (partition 0's events; 1's were left to their next owner) goes through
    assert consumer.paused == {1}  # everything assigned is resumed
    source.process()
    assert [e.body for e in drain(channel)] == bodies(records(0, 10, 3) + records(2, 0, 4))

    consumer.rebalance(revoke=[], assign=[1])  # partition 1 comes back while nothing waits: it is resumed
    source.process()
    assert consumer.paused == set()
    assert [e.body for e in drain(channel)] == bodies(records(1, 2, 5))


def test_a_paused_partition_revoked_and_given_back_is_read_again_from_its_committed_offset(make: Any) -> None:
    source, channel, consumer = make()
    fill_the_channel(source, consumer)
    consumer.queued = records(0, 10, 3) + records(1, 0, 2)
    source.process()
    consumer.rebalance(revoke=[0, 1], assign=[0, 1])  # an eager rebalance: everything goes and comes back
    source.process()  # the revocation could not deliver: the batch's events are left to the partitions' next owner
    assert all(o.get(("t", 0), 0) <= 10 and ("t", 1) not in o for o, _ in consumer.commits)  # nothing of them
    assert consumer.placed == {("t", 0): 7, ("t", 1): 42}  # assigned again inside the callback (scripted offsets)
    source.process()  # nothing waits any more: resumed
    assert consumer.paused == set()
    drain(channel)
    consumer.queued = records(0, 10, 3) + records(1, 0, 2)  # read again from the committed offsets
    source.process()
    assert [e.body for e in drain(channel)] == bodies(records(0, 10, 3) + records(1, 0, 2))


def test_a_stop_while_the_batch_waits_delivers_it_if_it_can_and_commits(make: Any) -> None:
    source, channel, consumer = make()
    fill_the_channel(source, consumer)
    consumer.queued = records(1, 0, 4)
    source.process()
    assert consumer.paused == {0, 1}
    drain(channel)
    source.stop()
    assert [e.body for e in drain(channel)] == bodies(records(1, 0, 4))
    assert consumer.commits[-1] == ({("t", 0): 10, ("t", 1): 4}, False)
    assert consumer.closed


def test_a_stop_while_the_channel_is_still_full_commits_nothing_of_the_waiting_batch(make: Any) -> None:
    source, _, consumer = make()
    fill_the_channel(source, consumer)
    consumer.queued = records(1, 0, 4)
    source.process()
    source.stop()
    assert all(("t", 1) not in offsets for offsets, _ in consumer.commits)
    assert consumer.closed


def test_offsets_delivered_before_the_waiting_batch_are_committed_while_it_waits(
        make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    source, _, consumer = make()
    monkeypatch.setattr(source_module, "COMMIT_INTERVAL_S", 3600.0)  # commits paced: the second batch's waits
    for first in (0, 5):
        consumer.queued = records(0, first, 5)
        source.process()
    assert consumer.commits == [({("t", 0): 5}, True)]
    consumer.queued = records(0, 10, 5)
    source.process()  # refused: the channel is full
    source.process()
    assert consumer.commits[-1] == ({("t", 0): 10}, True)  # not the waiting batch's


def test_a_resume_the_client_refuses_is_tried_again(make: Any) -> None:
    source, channel, consumer = make()
    fill_the_channel(source, consumer)
    consumer.queued = records(1, 0, 4)
    source.process()
    drain(channel)
    consumer.refuse_resume = 1
    source.process()  # delivered, but the partitions stay paused
    assert consumer.paused == {0, 1}
    source.process()
    assert consumer.paused == set()
    consumer.queued = records(1, 4, 2)
    source.process()
    assert [e.body for e in drain(channel)] == bodies(records(1, 0, 6))
