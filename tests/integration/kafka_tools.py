"""Helpers for integration tests against the devstack broker: topics, producing, reading back."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    timestamp: int


class KafkaTools:
    """Plain kafka-python clients around one bootstrap address (the test's view of the broker)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def create_topic(self, partitions: int = 1, prefix: str = "t", configs: dict[str, str] | None = None) -> str:
        """A new topic with a unique name (servers may be reused across sessions)."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="flafka-tests")
        try:
            admin.create_topics([NewTopic(name=name, num_partitions=partitions, replication_factor=1,
                                          topic_configs=configs or {})])
        finally:
            admin.close()
        self.wait_for_topic(name, partitions)
        return name

    def stuck_topic(self, prefix: str) -> str:
        """A topic whose writes with acks=all fail with NOT_ENOUGH_REPLICAS (retriable) until :meth:`unstuck`.

        Its partition has a second replica on a broker that does not exist (id 999) and min.insync.replicas = 2:
        the one live replica is too few. Only this topic is affected; the broker is not touched. (Such a topic
        cannot be deleted while broker 999 is missing; its name is unique, so it is left behind.)"""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="flafka-tests")
        try:
            (broker,) = admin.describe_cluster()["brokers"]
            admin.create_topics([NewTopic(name=name, num_partitions=-1, replication_factor=-1,
                                          replica_assignments={0: [broker["broker_id"], 999]},
                                          topic_configs={"min.insync.replicas": "2"})])
        finally:
            admin.close()
        self.wait_for_topic(name, 1)
        return name

    def unstuck(self, topic: str) -> None:
        """Let a :meth:`stuck_topic` take writes again."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="flafka-tests")
        try:
            admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                configs={"min.insync.replicas": "1"})])
        finally:
            admin.close()

    def wait_for_topic(self, topic: str, partitions: int, timeout: float = 30.0) -> None:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                found = consumer.partitions_for_topic(topic)
                if found is not None and len(found) == partitions:
                    return
                time.sleep(0.05)
            raise AssertionError(f"topic {topic} did not appear with {partitions} partitions")
        finally:
            consumer.close()

    def produce(self, topic: str, values: Iterable[bytes], *, keys: Sequence[bytes | None] | None = None,
                headers: Sequence[list[tuple[str, bytes]]] | None = None, partition: int | None = None,
                **producer_args: Any) -> int:
        """Send every value (acks=all) and wait for all of them; returns how many were sent."""
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5, **producer_args)
        try:
            futures = []
            for i, value in enumerate(values):
                futures.append(producer.send(
                    topic, value=value, key=keys[i] if keys else None,
                    headers=headers[i] if headers else None, partition=partition,
                ))
            producer.flush(timeout=60)
            for future in futures:
                future.get(timeout=60)
            return len(futures)
        finally:
            producer.close()

    def read(self, topic: str, count: int, timeout: float = 60.0, settle: float = 0.0) -> list[Record]:
        """Every record of ``topic`` from the beginning until ``count`` were read (then ``settle`` s more,
        to catch unexpected extra records), without a consumer group."""
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                 auto_offset_reset="earliest")
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:  # metadata not available (yet): nothing can be read now
                return []
            consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
            consumer.seek_to_beginning()
            out: list[Record] = []
            deadline = time.monotonic() + timeout
            settle_until: float | None = None
            while time.monotonic() < deadline:
                if len(out) >= count:
                    settle_until = settle_until or time.monotonic() + settle
                    if time.monotonic() >= settle_until:
                        break
                for batch in consumer.poll(timeout_ms=200).values():
                    for r in batch:
                        out.append(Record(r.topic, r.partition, r.offset, r.key, r.value,
                                          [(k, v) for k, v in (r.headers or [])], r.timestamp))
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
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        consumer.assign(partitions)
        consumer.seek_to_end()
        for tp in partitions:
            consumer.position(tp)
        seen = [0]
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                seen[0] += sum(len(b) for b in consumer.poll(timeout_ms=50).values())

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
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False)
        try:
            out = {}
            for p in sorted(consumer.partitions_for_topic(topic) or set()):
                offset = consumer.committed(TopicPartition(topic, p))
                if offset is not None:
                    out[p] = offset
            return out
        finally:
            consumer.close()

    def end_offsets(self, topic: str) -> dict[int, int]:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
            return {tp.partition: offset for tp, offset in consumer.end_offsets(parts).items()}
        finally:
            consumer.close()
