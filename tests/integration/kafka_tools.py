"""Helpers for integration tests against the devstack broker: topics, producing, reading back.

Plain confluent-kafka (librdkafka) clients, the library flafka itself uses. Every call is bounded by a
deadline: a broker that does not answer fails the test instead of hanging it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic, ResourceType

log = logging.getLogger(__name__)

#: Bound of one admin or metadata request, and of waiting for produced records to be acknowledged.
REQUEST_TIMEOUT_S = 30.0
FLUSH_TIMEOUT_S = 60.0
#: librdkafka needs a group.id to build a consumer even when it only assign()s and never commits; a consumer
#: that neither subscribes nor commits leaves no trace of this group on the broker.
_NO_GROUP = "flafka-tests-no-group"


@dataclass(frozen=True)
class Record:
    """One record read back (the attributes tests used on kafka-python's ConsumerRecord)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes  # None for a record with a null value, as kafka-python gave
    headers: list[tuple[str, bytes]]
    timestamp: int  # epoch ms, as the broker stored it (CreateTime or LogAppendTime)


def _record(msg: Message) -> Record:
    return Record(topic=msg.topic() or "", partition=msg.partition() or 0, offset=msg.offset() or 0,
                  key=msg.key(), value=msg.value(),  # type: ignore[arg-type]  # None kept: see Record.value
                  headers=list(msg.headers() or []),  # type: ignore[arg-type]  # str names, bytes values
                  timestamp=msg.timestamp()[1])


def _usable(msg: Message) -> bool:
    """Whether ``msg`` is a record; an error message is logged, or raised when the client cannot go on.

    kafka-python retried transient errors inside poll(); librdkafka returns them to consume(). A read
    returns what arrived by its deadline and the test's own assertion reports a shortfall, so a transient
    error (a broker restarting) must not end it; the log line says why records were missing."""
    error = msg.error()
    if error is None:
        return True
    if error.fatal():
        raise KafkaException(error)
    if error.code() != KafkaError._PARTITION_EOF:
        log.warning("Kafka test client: %s (topic=%s partition=%s)", error, msg.topic(), msg.partition())
    return False


class KafkaTools:
    """Plain confluent-kafka clients around one bootstrap address (the test's view of the broker)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def _conf(self, **extra: Any) -> dict[str, Any]:
        def on_error(error: KafkaError) -> None:
            # Client-wide errors (all brokers down while a test restarts one); the client retries by itself.
            log.warning("Kafka test client error: %s", error)

        return {
            "bootstrap.servers": self.bootstrap,
            "client.id": "flafka-tests",
            # librdkafka's own lines through Python logging (captured per test) instead of raw stderr.
            "logger": log,
            "error_cb": on_error,
            # A metadata look-up of a missing topic must not create it (the broker allows auto-creation and a
            # librdkafka producer or admin client asks for it by default): read() of a topic that does not
            # exist yet returns nothing, as before.
            "allow.auto.create.topics": False,
            **extra,
        }

    def _admin(self) -> AdminClient:
        # Hold the client in a variable until its futures are done: one collected with a request in flight
        # fails that request with _DESTROY.
        return AdminClient(self._conf())

    def _consumer(self, group: str = _NO_GROUP) -> Consumer:
        return Consumer(self._conf(**{"group.id": group, "enable.auto.commit": False,
                                      "enable.auto.offset.store": False}))

    @staticmethod
    def _partitions(client: AdminClient | Consumer, topic: str, *, with_leaders: bool = False) -> list[int]:
        """The topic's partition numbers from fresh metadata; [] when the broker does not know the topic.

        ``with_leaders``: [] as long as a partition has no leader yet (just created)."""
        metadata = client.list_topics(topic, timeout=REQUEST_TIMEOUT_S).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return []
        if with_leaders and any(p.leader < 0 for p in metadata.partitions.values()):
            return []
        return sorted(metadata.partitions)

    def create_topic(self, partitions: int = 1, prefix: str = "t", configs: dict[str, str] | None = None) -> str:
        """A new topic with a unique name (servers may be reused across sessions)."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self._create(NewTopic(name, num_partitions=partitions, replication_factor=1, config=configs or {}))
        self.wait_for_topic(name, partitions)
        return name

    def _create(self, topic: NewTopic) -> None:
        admin = self._admin()
        futures = admin.create_topics([topic], operation_timeout=REQUEST_TIMEOUT_S, request_timeout=REQUEST_TIMEOUT_S)
        futures[topic.topic].result(timeout=REQUEST_TIMEOUT_S * 2)

    def stuck_topic(self, prefix: str) -> str:
        """A topic whose writes with acks=all fail with NOT_ENOUGH_REPLICAS (retriable) until :meth:`unstuck`.

        Its partition has a second replica on a broker that does not exist (id 999) and min.insync.replicas = 2:
        the one live replica is too few. Only this topic is affected; the broker is not touched. (Such a topic
        cannot be deleted while broker 999 is missing; its name is unique, so it is left behind.)"""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        admin = self._admin()
        cluster = admin.describe_cluster(request_timeout=REQUEST_TIMEOUT_S).result(timeout=REQUEST_TIMEOUT_S * 2)
        (broker,) = cluster.nodes
        # librdkafka takes an explicit assignment only with the partition count given and no replication factor.
        self._create(NewTopic(name, num_partitions=1, replica_assignment=[[broker.id, 999]],
                              config={"min.insync.replicas": "2"}))
        self.wait_for_topic(name, 1)
        return name

    def unstuck(self, topic: str) -> None:
        """Let a :meth:`stuck_topic` take writes again."""
        resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
            ConfigEntry("min.insync.replicas", "1", incremental_operation=AlterConfigOpType.SET)])
        admin = self._admin()
        for future in admin.incremental_alter_configs([resource], request_timeout=REQUEST_TIMEOUT_S).values():
            future.result(timeout=REQUEST_TIMEOUT_S * 2)

    def wait_for_topic(self, topic: str, partitions: int, timeout: float = 30.0) -> None:
        """Until the broker's metadata shows ``topic`` with ``partitions`` partitions, each with a leader."""
        admin = self._admin()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self._partitions(admin, topic, with_leaders=True)) == partitions:
                return
            time.sleep(0.05)  # poll interval of the metadata check, bounded by the deadline
        raise AssertionError(f"topic {topic} did not appear with {partitions} partitions")

    def produce(self, topic: str, values: Iterable[bytes], *, keys: Sequence[bytes | None] | None = None,
                headers: Sequence[list[tuple[str, bytes]]] | None = None, partition: int | None = None,
                **producer_args: Any) -> int:
        """Send every value (acks=all) and wait for all of them; returns how many were sent.

        ``producer_args`` are librdkafka producer settings with underscores for dots (``linger_ms=0``).
        Raises KafkaException (the first delivery error) when a record was refused."""
        settings = {name.replace("_", "."): value for name, value in producer_args.items()}
        # murmur2_random is the partitioner of Java clients (and of kafka-python, which these helpers used):
        # a keyed record lands where Flume's Java components would put it. librdkafka's default hashes by CRC32.
        producer = Producer(self._conf(**{"acks": "all", "linger.ms": 5, "partitioner": "murmur2_random",
                                          **settings}))
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _msg: Message) -> None:
            if error is not None:
                failures.append(error)

        sent = 0
        for i, value in enumerate(values):
            optional: dict[str, Any] = {}
            if headers:
                optional["headers"] = headers[i]
            if partition is not None:
                optional["partition"] = partition
            while True:
                try:
                    producer.produce(topic, value=value, key=keys[i] if keys else None, on_delivery=delivered,
                                     **optional)
                    break
                except BufferError:  # the local queue is full: serve delivery reports until there is room
                    producer.poll(0.1)
            producer.poll(0)
            sent += 1
        left = producer.flush(FLUSH_TIMEOUT_S)
        if left:
            raise AssertionError(f"{left} of {sent} records to {topic} were not acknowledged within "
                                 f"{FLUSH_TIMEOUT_S:g} s")
        if failures:
            exc = KafkaException(failures[0])
            exc.add_note(f"{len(failures)} of {sent} records to {topic} failed")
            raise exc
        return sent

    def read(self, topic: str, count: int, timeout: float = 60.0, settle: float = 0.0) -> list[Record]:
        """Every record of ``topic`` from the beginning until ``count`` were read (then ``settle`` s more,
        to catch unexpected extra records), without a consumer group."""
        consumer = self._consumer()
        try:
            partitions = self._partitions(consumer, topic)
            if not partitions:  # metadata not available (yet): nothing can be read now
                return []
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
            out: list[Record] = []
            deadline = time.monotonic() + timeout
            settle_until: float | None = None
            while (now := time.monotonic()) < deadline:
                if len(out) >= count:
                    settle_until = settle_until or now + settle
                    if now >= settle_until:
                        break
                wait = min(0.2, deadline - now, (settle_until or deadline) - now)
                out.extend(_record(msg) for msg in consumer.consume(1000, timeout=max(wait, 0.0)) if _usable(msg))
            return out
        finally:
            consumer.close()

    def read_all(self, topic: str, timeout: float = 60.0) -> list[Record]:
        """Every record of ``topic`` up to its end offsets at the time of the call."""
        ends = self.end_offsets(topic)
        return self.read(topic, sum(ends.values()), timeout=timeout)

    @contextmanager
    def watch(self, topic: str) -> Iterator[Callable[[], int]]:
        """A function returning how many records ``topic`` has received since the block began (polled in
        a background thread, so the count follows the stream closely)."""
        consumer = self._consumer()
        # Explicit end offsets, read now: OFFSET_END would be resolved later, when fetching starts, and
        # records written in between would not be counted.
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=REQUEST_TIMEOUT_S,
                                                  cached=False)[1]
                for p in self._partitions(consumer, topic)}
        consumer.assign([TopicPartition(topic, p, offset) for p, offset in ends.items()])
        seen = [0]
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                seen[0] += sum(1 for msg in consumer.consume(1000, timeout=0.05) if _usable(msg))

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield lambda: seen[0]
        finally:
            stop.set()
            thread.join(10)
            consumer.close()

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """The group's committed offset per partition of ``topic`` (partitions without one omitted)."""
        consumer = self._consumer(group)  # asks the group coordinator; does not join the group
        try:
            partitions = [TopicPartition(topic, p) for p in self._partitions(consumer, topic)]
            if not partitions:
                return {}
            out = {}
            for tp in consumer.committed(partitions, timeout=REQUEST_TIMEOUT_S):
                if tp.error is not None:
                    raise KafkaException(tp.error)
                if tp.offset >= 0:  # OFFSET_INVALID (-1001): nothing committed
                    out[tp.partition] = tp.offset
            return out
        finally:
            consumer.close()

    def end_offsets(self, topic: str) -> dict[int, int]:
        consumer = self._consumer()
        try:
            return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=REQUEST_TIMEOUT_S,
                                                      cached=False)[1]
                    for p in self._partitions(consumer, topic)}
        finally:
            consumer.close()
