"""Kafka source against the real broker: headers, offsets, generations, stop/restart, rebalance, bad records."""

from __future__ import annotations

import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from confluent_kafka import OFFSET_STORED, Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from flafka.kafka.avro_event import encode
from flafka.kafka.lag import ConsumerLag
from flafka.monitoring.http import MonitoringServer
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
            # keep records coming until the second agent has joined the group (a rebalance: seconds) and
            # delivered some
            rounds = iter(range(1_000_000))

            def second_delivered() -> bool:
                nonlocal produced
                if delivered("k2"):
                    return True
                round_ = next(rounds)
                produced += kafka.produce(topic, [f"b{round_}-{i}".encode() for i in range(100)])
                return False

            wait_until(second_delivered, timeout=60, interval=0.05, message="the second agent to get a partition")
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


def test_tombstones_and_undecodable_records_are_dead_lettered_once_and_never_stall(
        kafka: KafkaTools, devstack: Devstack, caplog: pytest.LogCaptureFixture) -> None:
    topic = kafka.create_topic(partitions=2, configs={"max.message.bytes": "3000000"})
    dead = kafka.create_topic(prefix="source-dlq")
    group = f"g-{uuid.uuid4().hex[:8]}"
    # 101 good records; around them 12 tombstones without a key, 11 with one, 10 values that are not Avro
    # and one of 2 MB (above the dead-letter producer's 1 MB max.request.size). Each bad one has header id.
    bad: dict[str, tuple[bytes | None, bytes | None]] = {}
    for n in range(12):
        bad[f"tomb-{n}"] = (None, None)
    for n in range(11):
        bad[f"tomb-key-{n}"] = (b"k%d" % n, None)
    for n in range(10):
        bad[f"junk-{n}"] = (None, b"\xff\xff not avro %d" % n)
    bad["huge"] = (None, b"\xff" * 2_000_000)
    records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = [
        (None, encode({"n": str(i)}, f"e{i}".encode()), []) for i in range(101)]
    for n, (name, (key, value)) in enumerate(bad.items()):
        records.insert(3 * n + 1, (key, value, [("id", name.encode())]))
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "message.max.bytes": 3_000_000})
    for n, (key, value, headers) in enumerate(records):
        producer.produce(topic, value, key, partition=n % 2, headers=headers)
    assert producer.flush(60) == 0
    components.FailingInterceptor.failures_left = 3  # the first batches are refused and retried
    config = source_config(devstack.kafka_bootstrap, topic, group, extra=f"""
    a.sources.r1.useFlumeEventFormat = true
    a.sources.r1.deadLetterTopic = {dead}
    a.sources.r1.batchSize = 10
    a.sources.r1.backoffSleepIncrement = 10
    a.sources.r1.maxBackoffSleep = 100
    a.sources.r1.interceptors = fail
    a.sources.r1.interceptors.fail.type = tests.unit.runtime.components:FailingInterceptor
    """)
    with running(config) as agent:
        counter = agent.sources["r1"].counter
        wait_until(lambda: len(delivered()) >= 101 and counter.event_dead_letter_count >= 33
                   and counter.event_drop_count >= 1, timeout=90, message="every record delivered or set aside")
        kafka.produce(topic, [encode({}, b"after")])  # the source keeps going
        wait_until(lambda: len(delivered()) >= 102, timeout=60, message="a record produced afterwards")
        assert (counter.event_dead_letter_count, counter.event_drop_count) == (33, 1)
        # A rebalance while a refused batch is in hand makes the source read that batch again, bad records
        # included: at least once each.
        assert counter.event_read_fail >= 34
    assert components.FailingInterceptor.failures_left == 0
    copies = Counter(delivered())
    assert copies == Counter([f"e{i}".encode() for i in range(101)] + [b"after"])  # each once
    letters = kafka.read(dead, 33, settle=2.0)
    ids = Counter(dict(r.headers)["id"].decode() for r in letters)
    assert ids == Counter(name for name in bad if name != "huge")  # each bad record once
    for record in letters:
        key, value = bad[dict(record.headers)["id"].decode()]
        assert (record.key, record.value) == (key, b"" if value is None else value)
        error = dict(record.headers)["flafka.error"]
        if value is None:
            assert error == b"the value is null (a tombstone), not an AvroFlumeEvent"
        else:
            assert error.startswith(b"the value is not an AvroFlumeEvent: ")
    refused = [r.getMessage() for r in caplog.records
               if r.levelname == "ERROR" and "dropped a record the dead-letter topic" in r.getMessage()]
    assert len(refused) == 1
    assert "reason=the value is not an AvroFlumeEvent" in refused[0]
    assert "MSG_SIZE_TOO_LARGE" in refused[0]
    assert kafka.committed(group, topic) == kafka.end_offsets(topic)


def test_a_batch_given_up_at_a_rebalance_is_read_again_when_its_partition_comes_back(
        kafka: KafkaTools, devstack: Devstack, caplog: pytest.LogCaptureFixture) -> None:
    prefix = f"rb-{uuid.uuid4().hex[:8]}"
    first = kafka.create_topic(prefix=prefix)
    values = [f"a{i}".encode() for i in range(50)]
    kafka.produce(first, values)
    components.FailingInterceptor.failures_left = 1_000_000  # the batch in hand is refused until told otherwise
    # Java quoting (\Q...\E): written \\\\Q in this Python text, \\Q in the properties text, \Q in the regex.
    config = source_config(devstack.kafka_bootstrap, first, f"g-{uuid.uuid4().hex[:8]}", extra=f"""
    a.sources.r1.kafka.topics.regex = \\\\Q{prefix}-\\\\E.*
    a.sources.r1.kafka.consumer.metadata.max.age.ms = 500
    a.sources.r1.backoffSleepIncrement = 10
    a.sources.r1.maxBackoffSleep = 100
    a.sources.r1.interceptors = fail
    a.sources.r1.interceptors.fail.type = tests.unit.runtime.components:FailingInterceptor
    """)
    with running(config):
        wait_until(lambda: components.FailingInterceptor.calls >= 2, timeout=60, message="a refused batch")
        kafka.create_topic(prefix=prefix)  # a new topic matching the regex: the group rebalances
        wait_until(lambda: "gave up partitions with undelivered events" in caplog.text, timeout=60,
                   message="the rebalance")
        components.FailingInterceptor.failures_left = 0
        # The same consumer gets the partition back: it must read the given-up records again.
        wait_until(lambda: len(delivered()) >= 50, timeout=60, message="every record delivered")
    assert Counter(delivered()) == Counter(values)


def test_bad_records_of_a_batch_the_channels_refuse_are_dead_lettered_once(
        kafka: KafkaTools, devstack: Devstack) -> None:
    topic = kafka.create_topic(partitions=1)
    dead = kafka.create_topic(prefix="source-dlq")
    values = [encode({}, f"e{i}".encode()) for i in range(20)]
    for n in range(5):
        values.insert(4 * n, b"\xff\xff junk %d" % n)
    kafka.produce(topic, values)
    components.FailingInterceptor.failures_left = 3  # the batch is refused three times, then accepted
    config = source_config(devstack.kafka_bootstrap, topic, f"g-{uuid.uuid4().hex[:8]}", extra=f"""
    a.sources.r1.useFlumeEventFormat = true
    a.sources.r1.deadLetterTopic = {dead}
    a.sources.r1.backoffSleepIncrement = 10
    a.sources.r1.maxBackoffSleep = 100
    a.sources.r1.interceptors = fail
    a.sources.r1.interceptors.fail.type = tests.unit.runtime.components:FailingInterceptor
    """)
    with running(config) as agent:
        wait_until(lambda: len(delivered()) >= 20, timeout=60, message="the batch delivered")
        letters = kafka.read(dead, 5, settle=2.0)
        assert sorted(r.value for r in letters) == [b"\xff\xff junk %d" % n for n in range(5)]  # once each
        assert agent.sources["r1"].counter.event_dead_letter_count == 5
    assert components.FailingInterceptor.calls >= 4
    assert Counter(delivered()) == Counter(f"e{i}".encode() for i in range(20))


def test_a_dead_letter_topic_refusing_writes_for_a_while_holds_the_offsets_and_sends_each_record_once(
        kafka: KafkaTools, devstack: Devstack, caplog: pytest.LogCaptureFixture) -> None:
    topic = kafka.create_topic(partitions=1)
    dead = kafka.stuck_topic("source-dlq-stuck")  # NOT_ENOUGH_REPLICAS for acks=all until unstuck
    group = f"g-{uuid.uuid4().hex[:8]}"
    values = [encode({}, f"e{i}".encode()) for i in range(30)]
    for n in range(3):
        values.insert(10 * n + 5, b"\xff\xff junk %d" % n)
    kafka.produce(topic, values)
    config = source_config(devstack.kafka_bootstrap, topic, group, extra=f"""
    a.sources.r1.useFlumeEventFormat = true
    a.sources.r1.deadLetterTopic = {dead}
    a.sources.r1.backoffSleepIncrement = 100
    a.sources.r1.maxBackoffSleep = 500
    """)
    with running(config) as agent:
        counter = agent.sources["r1"].counter
        wait_until(lambda: "could not send records to dead-letter topic" in caplog.text, timeout=60,
                   message="the dead-letter topic to refuse")
        assert len(delivered()) == 30  # the good events are in the channel already
        assert kafka.committed(group, topic) == {}  # held until the dead letters are through
        kafka.unstuck(dead)
        wait_until(lambda: counter.event_dead_letter_count >= 3, timeout=150, message="the dead letters")
        wait_until(lambda: kafka.committed(group, topic) == kafka.end_offsets(topic), timeout=60,
                   message="the offsets committed")
    assert Counter(delivered()) == Counter(f"e{i}".encode() for i in range(30))
    assert sorted(r.value for r in kafka.read(dead, 3, settle=2.0)) == [b"\xff\xff junk %d" % n for n in range(3)]


def test_consumer_lag_is_the_end_offset_minus_the_committed_offset(kafka: KafkaTools, devstack: Devstack) -> None:
    """What librdkafka reports as a partition's lag, read by flafka's ConsumerLag, is the broker's end offset
    minus the group's committed offset: 1,000 records, 100 committed, the consumer reading past them without
    committing."""
    topic = kafka.create_topic(partitions=1)
    group = f"g-{uuid.uuid4().hex[:8]}"
    kafka.produce(topic, [b"v%d" % i for i in range(1000)])
    lag = ConsumerLag(100)
    consumer = Consumer({"bootstrap.servers": devstack.kafka_bootstrap, "group.id": group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest", **lag.settings()})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 100)], asynchronous=False)
        consumer.assign([TopicPartition(topic, 0, OFFSET_STORED)])  # starts at the committed offset, knows it

        def reported() -> bool:
            consumer.consume(100, 0.1)  # serves the statistics callback
            return bool(lag.snapshot())

        wait_until(reported, timeout=30, message="a lag report")
        wait_until(lambda: reported() and lag.snapshot() == {(topic, 0): 900}, timeout=30, message="lag 900")
    finally:
        consumer.close()
    assert kafka.end_offsets(topic)[0] - kafka.committed(group, topic)[0] == 900


def test_the_source_s_lag_is_exported_to_prometheus(kafka: KafkaTools, devstack: Devstack) -> None:
    topic = kafka.create_topic(partitions=1)
    group = f"g-{uuid.uuid4().hex[:8]}"
    kafka.produce(topic, [b"v%d" % i for i in range(300)])
    config = source_config(devstack.kafka_bootstrap, topic, group, extra="a.sources.r1.consumerLagIntervalMs = 100")
    with running(config) as agent:
        wait_until(lambda: kafka.committed(group, topic) == {0: 300}, timeout=60, message="everything committed")
        wait_until(lambda: agent.kafka_lag() == {"SOURCE.r1": {(topic, 0): 0}}, timeout=30, message="lag 0")
        server = MonitoringServer(agent, port=0)
        server.start()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics/prometheus", timeout=10) as answer:
                text = answer.read().decode()
        finally:
            server.stop()
    samples = [s for family in text_string_to_metric_families(text) if family.name == "flafka_kafka_consumer_lag"
               for s in family.samples]
    assert [(s.labels, s.value) for s in samples] == [
        ({"agent": "a", "component": "r1", "topic": topic, "partition": "0"}, 0.0)]
