"""Kafka source against the real broker: headers, offsets, generations, stop/restart, rebalance, bad records."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from flafka.kafka.avro_event import encode
from flafka.testing import wait_until
from tests.integration.agents import COLLECT, running
from tests.integration.conftest import Devstack
from tests.integration.kafka_tools import KafkaTools
from tests.unit.runtime import components
from tests.unit.runtime.components import DELIVERED


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    components.reset()
    yield
    components.reset()


def source_config(bootstrap: str, topic: str, group: str, *, sink: str = "k1", extra: str = "") -> str:
    return f"""
    a.sources = r1
    a.channels = c1
    a.sinks = {sink}
    a.sources.r1.type = org.apache.flume.source.kafka.KafkaSource
    a.sources.r1.channels = c1
    a.sources.r1.kafka.bootstrap.servers = {bootstrap}
    a.sources.r1.kafka.topics = {topic}
    a.sources.r1.kafka.consumer.group.id = {group}
    a.sources.r1.kafka.consumer.auto.offset.reset = earliest
    a.sources.r1.batchSize = 500
    a.sources.r1.batchDurationMillis = 200
    a.channels.c1.type = memory
    a.channels.c1.capacity = 20000
    a.channels.c1.transactionCapacity = 1000
    a.sinks.{sink}.type = {COLLECT}
    a.sinks.{sink}.channel = c1
    a.sinks.{sink}.batchSize = 1000
    {extra}
    """


def delivered(sink: str = "k1") -> list[bytes]:
    with components.LOCK:
        return list(DELIVERED[sink])


def test_records_become_events_and_offsets_are_committed(
    kafka: KafkaTools, devstack: Devstack
) -> None:
    topic = kafka.create_topic(partitions=2)
    group = f"g-{uuid.uuid4().hex[:8]}"
    values = [f"v{i}".encode() for i in range(3000)]
    kafka.produce(topic, values, keys=[f"k{i}".encode() for i in range(3000)],
                  headers=[[("trace", f"t{i}".encode())] for i in range(3000)])
    config = source_config(devstack.kafka_bootstrap, topic, group, extra="a.sources.r1.header.traceId = trace")
    with running(config) as agent:
        wait_until(lambda: len(delivered()) >= 3000, timeout=60, message="3000 events")
        assert agent.sources["r1"].counter.event_accepted_count == 3000
    assert sorted(delivered()) == sorted(values)
    assert kafka.committed(group, topic) == kafka.end_offsets(topic)


def test_event_headers(kafka: KafkaTools, devstack: Devstack) -> None:
    topic = kafka.create_topic(partitions=1)
    kafka.produce(topic, [b"body"], keys=[b"the-key"], headers=[[("trace", b"abc")]])
    config = source_config(devstack.kafka_bootstrap, topic, f"g-{uuid.uuid4().hex[:8]}",
                           sink="k1", extra="a.sources.r1.header.traceId = trace\n"
                           "a.sources.r1.interceptors = keep\n"
                           "a.sources.r1.interceptors.keep.type = tests.integration.test_kafka_source:Keep\n")
    Keep.seen.clear()
    with running(config):
        wait_until(lambda: len(Keep.seen) >= 1, timeout=60)
    (headers,) = Keep.seen
    assert headers["topic"] == topic
    assert headers["partition"] == "0"
    assert headers["offset"] == "0"
    assert headers["key"] == "the-key"
    assert headers["traceId"] == "abc"
    assert int(headers["timestamp"]) > 1_600_000_000_000


class Keep(components.FailingInterceptor):
    """Records the headers of every event it sees."""

    seen: list[dict[str, str]] = []  # noqa: RUF012  # shared on purpose: the test reads it

    def intercept_batch(self, events: list) -> list:  # type: ignore[type-arg]
        Keep.seen.extend(dict(e.headers) for e in events)
        return events


def test_graceful_stop_and_restart_deliver_each_record_once(kafka: KafkaTools, devstack: Devstack) -> None:
    topic = kafka.create_topic(partitions=3)
    group = f"g-{uuid.uuid4().hex[:8]}"
    config = source_config(devstack.kafka_bootstrap, topic, group)
    kafka.produce(topic, [f"a{i}".encode() for i in range(2000)])
    with running(config):
        wait_until(lambda: len(delivered()) >= 2000, timeout=60)
        kafka.produce(topic, [f"b{i}".encode() for i in range(1000)])  # some of these may still be in flight
    kafka.produce(topic, [f"c{i}".encode() for i in range(1000)])
    with running(config):
        wait_until(lambda: len(delivered()) >= 4000, timeout=60)
    counts = Counter(delivered())
    assert len(counts) == 4000
    assert max(counts.values()) == 1  # no duplicates across a graceful stop


def test_two_agents_split_partitions_and_a_clean_handover_has_no_duplicates(
    kafka: KafkaTools, devstack: Devstack
) -> None:
    topic = kafka.create_topic(partitions=4)
    group = f"g-{uuid.uuid4().hex[:8]}"
    kafka.produce(topic, [f"a{i}".encode() for i in range(4000)])
    produced = 4000
    first = source_config(devstack.kafka_bootstrap, topic, group, sink="k1")
    second = source_config(devstack.kafka_bootstrap, topic, group, sink="k2")
    with running(first):
        wait_until(lambda: len(delivered("k1")) >= 1000, timeout=60)
        with running(second):
            # keep records coming until the second agent has joined the group and delivered some
            for round_ in range(300):
                if delivered("k2"):
                    break
                produced += kafka.produce(topic, [f"b{round_}-{i}".encode() for i in range(100)])
            assert delivered("k2"), "the second agent never got a partition"
            wait_until(lambda: len(delivered("k1")) + len(delivered("k2")) >= produced, timeout=90)
        produced += kafka.produce(topic, [f"c{i}".encode() for i in range(2000)])  # all partitions back to k1
        wait_until(lambda: len(delivered("k1")) + len(delivered("k2")) >= produced, timeout=90)
    counts = Counter(delivered("k1") + delivered("k2"))
    assert len(counts) == produced
    assert [v for v, n in counts.items() if n > 1] == []  # two clean rebalances, no duplicates


def test_undecodable_records_are_skipped_or_dead_lettered(kafka: KafkaTools, devstack: Devstack) -> None:
    topic = kafka.create_topic(partitions=1)
    dead = f"{topic}-dead"
    good = [encode({"n": str(i)}, f"e{i}".encode()) for i in range(10)]
    values = [*good[:5], b"\xff\xff not avro", *good[5:]]
    kafka.produce(topic, values)
    for extra, dlq in (("", False), (f"a.sources.r1.deadLetterTopic = {dead}\n", True)):
        components.reset()
        config = source_config(devstack.kafka_bootstrap, topic, f"g-{uuid.uuid4().hex[:8]}",
                               extra="a.sources.r1.useFlumeEventFormat = true\n" + extra)
        with running(config) as agent:
            wait_until(lambda: len(delivered()) >= 10, timeout=60)
            assert agent.sources["r1"].counter.event_read_fail == 1
        assert delivered() == [f"e{i}".encode() for i in range(10)]
        if dlq:
            (record,) = kafka.read(dead, 1, timeout=30, settle=0.5)
            assert record.value == b"\xff\xff not avro"
