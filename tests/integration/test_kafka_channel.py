"""The Kafka channel against the real broker: the channel contract suite, then what is Kafka's own.

The contract tests of ``tests/unit/channels/test_channel_contract.py`` are imported and run here with
a ``channel_factory`` that makes Kafka channels on fresh 1-partition topics (FIFO holds only within a
partition). Tests whose premise does not hold for Kafka are listed in ``NOT_APPLICABLE`` with the
reason; ``test_every_contract_test_runs_or_is_excluded_with_a_reason`` keeps that list honest.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from kazoo.client import KazooClient

from flafka.channels.base import Channel
from flafka.channels.kafka import KafkaChannel, KafkaChannelError
from flafka.errors import EventsRefused
from flafka.event import Event
from flafka.kafka.avro_event import AvroDecodeError, decode, encode
from flafka.monitoring.counters import SourceCounter
from flafka.runtime.channel_processor import ChannelProcessor
from flafka.selectors import ReplicatingSelector
from flafka.testing import build, drain, memory_channel, parse_config, wait_until
from tests.integration.agents import COLLECT, running
from tests.integration.conftest import Devstack
from tests.integration.kafka_tools import KafkaTools
from tests.unit.channels import test_channel_contract as contract
from tests.unit.runtime import components

WAIT = 60.0

# --- the contract suite ----------------------------------------------------------------------------------

NOT_APPLICABLE = {
    "test_wait_for_events_ignores_uncommitted_puts":
        "a Kafka channel cannot tell that its topic has nothing for it: wait_for_events() returns True at once "
        "and the take itself polls (kafka.pollTimeout)",
    "test_wakeup_releases_a_waiter_on_an_empty_channel":
        "wait_for_events() never waits on a Kafka channel (it cannot know the topic is empty), so there is no "
        "waiter to release; a waiting take is released (test_wakeup_releases_a_waiting_take)",
}


for _name in dir(contract):
    if _name.startswith("test_") and _name not in NOT_APPLICABLE:
        globals()[_name] = getattr(contract, _name)  # excluded tests are not collected here at all


def test_every_contract_test_runs_or_is_excluded_with_a_reason() -> None:
    contract_tests = {n for n in dir(contract) if n.startswith("test_")}
    assert set(NOT_APPLICABLE) <= contract_tests
    for name in contract_tests - set(NOT_APPLICABLE):
        assert globals()[name] is getattr(contract, name)
    for name in NOT_APPLICABLE:
        assert name not in globals()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def channel_factory(kafka: KafkaTools, devstack: Devstack) -> Iterator[Callable[[], Channel]]:
    """Started Kafka channels, each on its own 1-partition topic and group; all stopped after the test."""
    made: list[Channel] = []

    def factory() -> Channel:
        channel = build(KafkaChannel, {
            "kafka.bootstrap.servers": devstack.kafka_bootstrap,
            "kafka.topic": kafka.create_topic(partitions=1, prefix="kc-contract"),
            "kafka.consumer.group.id": _unique("g"),
        }, name=f"c{len(made)}")
        channel.start()
        made.append(channel)
        return channel

    yield factory
    for channel in made:
        channel.stop()


@pytest.fixture
def channel(channel_factory: Callable[[], Channel]) -> Channel:
    return channel_factory()


@pytest.fixture
def expect_size() -> contract.SizeCheck:
    """A topic's backlog is not known to the channel: size() is always 0 (as Flume's ChannelSize)."""

    def check(channel: Channel, expected: int) -> None:
        assert channel.size() == 0

    return check


# --- helpers for the Kafka-specific tests ----------------------------------------------------------------


class FlakyCommits(Consumer):
    """A real consumer whose next ``failures`` offset commits fail, as a broker error would make them."""

    failures = 0

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise KafkaException(KafkaError(KafkaError.REBALANCE_IN_PROGRESS))
        return super().commit(*args, **kwargs)


@pytest.fixture
def consumers() -> list[FlakyCommits]:
    """The consumers the channels of ``make_channel`` made, in order."""
    return []


@pytest.fixture
def make_channel(devstack: Devstack, consumers: list[FlakyCommits]) -> Iterator[Callable[..., KafkaChannel]]:
    made: list[KafkaChannel] = []

    def consumer(conf: dict[str, Any]) -> FlakyCommits:
        consumers.append(FlakyCommits(conf))
        return consumers[-1]

    def make(topic: str, group: str | None = None, **values: str) -> KafkaChannel:
        props = {"kafka.bootstrap.servers": devstack.kafka_bootstrap, "kafka.topic": topic,
                 "kafka.consumer.group.id": group or _unique("g")}
        props.update({k.replace("__", "."): v for k, v in values.items()})
        name = f"kc{len(made)}"
        channel = KafkaChannel(name, parse_config(KafkaChannel, props, name), consumer_factory=consumer)
        channel.start()
        made.append(channel)
        return channel

    yield make
    for channel in made:
        channel.stop()


def put(channel: Channel, events: list[Event], batch: int = 500) -> None:
    for i in range(0, len(events), batch):
        with channel.transaction() as tx:
            tx.put_batch(events[i:i + batch])


def take_until(channel: Channel, count: int, batch: int = 300, timeout: float = WAIT) -> list[Event]:
    """Take and commit until ``count`` events came (fails after ``timeout`` s)."""
    out: list[Event] = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        assert time.monotonic() < deadline, f"took {len(out)} of {count} events within {timeout}s"
        with channel.transaction() as tx:
            out.extend(tx.take_batch(min(batch, count - len(out)), 0.0))
    return out


def take_rest(channel: Channel, batch: int = 300) -> list[Event]:
    """Take and commit until a take comes back empty (one kafka.pollTimeout with nothing new)."""
    out: list[Event] = []
    for _ in range(10_000):
        with channel.transaction() as tx:
            got = tx.take_batch(batch, 0.0)
        if not got:
            return out
        out.extend(got)
    raise AssertionError("the channel never ran dry")


class Taker(threading.Thread):
    """A sink-like thread: takes and commits batches, keeping the ids it took, until told to stop.

    While ``pause`` is set it takes only one batch each time ``step`` is set, so a test decides exactly
    when it takes; ``paused`` says it reached that state. (A consumer that stops polling holds up any
    rebalance of its group, as in Java: pause only once the group is stable.)
    """

    def __init__(self, channel: Channel, batch: int) -> None:
        super().__init__(daemon=True)
        self.channel = channel
        self.batch = batch
        self.ids: list[int] = []
        self.error: BaseException | None = None
        self.halt = threading.Event()
        self.pause = threading.Event()
        self.paused = threading.Event()
        self.step = threading.Event()

    def run(self) -> None:
        try:
            deadline = time.monotonic() + 2 * WAIT
            while not self.halt.is_set() and time.monotonic() < deadline:
                if self.pause.is_set():
                    self.paused.set()
                    if not self.step.wait(0.05):
                        continue
                    self.step.clear()
                with self.channel.transaction() as tx:
                    got = tx.take_batch(self.batch, 0.0)
                self.ids.extend(int(e.headers["id"]) for e in got)
        except BaseException as exc:  # reported to the test thread
            self.error = exc

    def finish(self) -> list[int]:
        self.halt.set()
        self.join(WAIT)
        assert not self.is_alive(), "taker thread did not stop"
        if self.error is not None:
            raise self.error
        return self.ids


def id_events(start: int, stop: int) -> list[Event]:
    return [Event(b"body-%d" % i, {"id": str(i), "key": f"k{i}", "h": "x" * (i % 7)}) for i in range(start, stop)]


# --- Kafka-specific behaviour -----------------------------------------------------------------------------


def test_ten_thousand_events_put_in_one_thread_are_taken_in_another_exactly_once(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel]
) -> None:
    topic = kafka.create_topic(partitions=1)
    channel = make_channel(topic)
    sent = id_events(0, 10_000)
    taken: list[Event] = []
    errors: list[BaseException] = []

    def take() -> None:
        try:
            taken.extend(take_until(channel, 10_000, batch=300))
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    taker = threading.Thread(target=take)
    taker.start()
    put(channel, sent, batch=500)
    taker.join(WAIT)
    assert not taker.is_alive()
    assert errors == []
    assert taken == sent  # one partition: the same events, headers included, in put order
    assert take_rest(channel) == []
    assert kafka.committed(channel.config.group_id, topic) == {0: 10_000}
    counter = channel.counter
    assert (counter.event_put_success_count, counter.event_take_success_count) == (10_000, 10_000)


def test_records_are_avro_flume_events_and_an_undecodable_record_is_skipped(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel]
) -> None:
    topic = kafka.create_topic(partitions=1)
    channel = make_channel(topic)
    first = [Event(b"a%d" % i, {"id": str(i), "key": f"k{i}", "empty": ""}) for i in range(5)]
    put(channel, first)
    with pytest.raises(AvroDecodeError):
        decode(b"not an avro event")
    kafka.produce(topic, [b"not an avro event"])
    second = [Event("é%d".encode(), {"id": str(i), "ünï": "çødé"}) for i in range(5, 10)]
    put(channel, second)

    records = kafka.read(topic, 11)
    assert [decode(r.value) for r in records[:5]] == [(e.headers, e.body) for e in first]
    assert [r.key for r in records[:5]] == [b"k0", b"k1", b"k2", b"k3", b"k4"]
    assert records[5].value == b"not an avro event"
    assert [r.key for r in records[6:]] == [None] * 5
    assert records[6].value == encode(second[0].headers, second[0].body)

    assert take_until(channel, 10, batch=4) == first + second
    assert take_rest(channel) == []
    assert channel.counter.event_read_fail == 1
    assert kafka.committed(channel.config.group_id, topic) == {0: 11}  # the bad record's offset is consumed


def test_a_topic_of_records_only_undecodable_does_not_stall_the_channel(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel]
) -> None:
    topic = kafka.create_topic(partitions=1)
    kafka.produce(topic, [b"junk-%d" % i for i in range(50)])
    kafka.produce(topic, [encode({"id": "1"}, b"good")])
    channel = make_channel(topic)
    assert take_until(channel, 1) == [Event(b"good", {"id": "1"})]
    assert channel.counter.event_read_fail == 50
    assert kafka.committed(channel.config.group_id, topic) == {0: 51}


def test_raw_records_with_parse_as_flume_event_false(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel]
) -> None:
    topic = kafka.create_topic(partitions=1)
    values = [b"raw-%d" % i for i in range(6)]
    keys: list[bytes | None] = [b"k0", None, "ключ".encode(), None, b"", b"k\xff"]
    kafka.produce(topic, values, keys=keys)
    channel = make_channel(topic, parseAsFlumeEvent="false")
    taken = take_until(channel, 6, batch=4)
    assert taken == [
        Event(b"raw-0", {"key": "k0"}),
        Event(b"raw-1", {}),
        Event(b"raw-2", {"key": "ключ"}),
        Event(b"raw-3", {}),
        Event(b"raw-4", {"key": ""}),
        Event(b"raw-5", {"key": "k\udcff"}),  # not UTF-8: kept byte for byte (Java's deserializer gives U+FFFD)
    ]
    # The put side writes the body alone; the key header becomes the record key; other headers are dropped.
    put(channel, [Event(b"plain", {"key": "pk", "other": "dropped"}), taken[5]])
    (record, again) = kafka.read(topic, 8)[6:]
    assert (record.key, record.value, record.headers) == (b"pk", b"plain", [])
    assert (again.key, again.value) == (b"k\xff", b"raw-5")
    assert take_until(channel, 2) == [Event(b"plain", {"key": "pk"}), taken[5]]


def test_a_key_that_is_not_utf8_round_trips_through_an_avro_flume_event_channel(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel]
) -> None:
    topic = kafka.create_topic(partitions=1)
    channel = make_channel(topic)
    event = Event(b"body", {"key": b"\xfe-k".decode("utf-8", "surrogateescape"), "h": "v"})
    put(channel, [event])
    (record,) = kafka.read(topic, 1)
    assert record.key == b"\xfe-k"
    assert decode(record.value) == ({"key": "\ufffd-k", "h": "v"}, b"body")  # any reader can decode the datum
    assert take_until(channel, 1) == [event]


def test_a_rolled_back_take_is_redelivered_first(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel]
) -> None:
    topic = kafka.create_topic(partitions=1)
    channel = make_channel(topic)
    sent = id_events(0, 30)
    put(channel, sent)
    tx = channel.transaction()
    assert tx.take_batch(8, 0.0) == sent[:8]
    tx.rollback()
    tx.close()
    assert channel.counter.rollback_count == 8
    assert kafka.committed(channel.config.group_id, topic) == {}
    put(channel, id_events(30, 40))
    with channel.transaction() as again:
        assert again.take_batch(5, 0.0) == sent[:5]
    assert kafka.committed(channel.config.group_id, topic) == {0: 5}
    assert take_rest(channel, batch=6) == sent[5:] + id_events(30, 40)
    assert kafka.committed(channel.config.group_id, topic) == {0: 40}


def test_committed_takes_are_not_delivered_to_a_new_instance_of_the_group(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel]
) -> None:
    topic = kafka.create_topic(partitions=1)
    group = _unique("g")
    first = make_channel(topic, group)
    sent = id_events(0, 100)
    put(first, sent)
    assert take_until(first, 40, batch=15) == sent[:40]  # the consumer has fetched more than it took
    tx = first.transaction()
    assert tx.take_batch(10, 0.0) == sent[40:50]
    tx.rollback()  # rolled back: not committed, so the next instance delivers these
    tx.close()
    first.stop()
    assert kafka.committed(group, topic) == {0: 40}

    second = make_channel(topic, group)
    assert take_rest(second) == sent[40:]


def test_two_instances_of_one_group_split_partitions_and_a_clean_stop_hands_over_without_duplicates(
    kafka: KafkaTools, devstack: Devstack, make_channel: Callable[..., KafkaChannel]
) -> None:
    topic = kafka.create_topic(partitions=4)
    group = _unique("g")
    a = make_channel(topic, group)
    b = make_channel(topic, group)
    taker_a = Taker(a, batch=50)
    taker_b = Taker(b, batch=50)
    taker_a.start()
    taker_b.start()
    try:
        wait_until(lambda: _assigned(devstack.kafka_bootstrap, group) == [2, 2], timeout=WAIT,
                   message="both consumers to own two partitions")
        taker_a.pause.set()
        assert taker_a.paused.wait(WAIT)
        put(a, id_events(0, 2000))
        wait_until(lambda: len(taker_b.ids) >= 100, timeout=WAIT, message="b to take from its partitions")
        taker_a.step.set()
        wait_until(lambda: taker_a.ids, timeout=WAIT, message="a to take one batch")
        ids_a = taker_a.finish()  # a stops cleanly with records of its partitions fetched but not taken
        assert 0 < len(ids_a) <= 50
        a.stop()
        put(b, id_events(2000, 3000))
        wait_until(lambda: len(set(ids_a) | set(taker_b.ids)) >= 3000, timeout=WAIT,
                   message="b to take over a's partitions")
    finally:
        taker_a.halt.set()
        ids_b = taker_b.finish()
    counts = Counter(ids_a + ids_b)
    assert sorted(counts) == list(range(3000))
    assert [i for i, n in counts.items() if n > 1] == []
    assert len(set(ids_b) & set(range(2000))) >= 1950  # b took its own share and what a had not taken
    assert sum(kafka.committed(group, topic).values()) == 3000


def _assigned(bootstrap: str, group: str) -> list[int]:
    """Partitions owned by each member of ``group``, sorted (empty while the group is rebalancing)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_consumer_groups([group])[group].result(timeout=WAIT)
    if description.state != ConsumerGroupState.STABLE:
        return []
    return sorted(len(m.assignment.topic_partitions) for m in description.members)


def test_partition_header_and_default_partition_route_puts(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel]
) -> None:
    topic = kafka.create_topic(partitions=3)
    channel = make_channel(topic, partitionIdHeader="part", defaultPartitionId="2")
    put(channel, [
        Event(b"to-0", {"part": "0"}),
        Event(b"to-1", {"part": "+1"}),
        Event(b"default", {}),
        Event(b"to-0-again", {"part": "00"}),
    ])
    with channel.transaction() as tx, pytest.raises(EventsRefused) as bad:
        tx.put(Event(b"bad", {"part": "one"}))
    assert "not a partition number" in bad.value.refused[0]
    tx = channel.transaction()
    tx.put(Event(b"missing", {"part": "7"}))
    with pytest.raises(EventsRefused) as missing:
        tx.commit()
    tx.rollback()
    tx.close()
    assert missing.value.refused == {0: "partition 7 is not a partition of topic " + topic + " (it has 3)"}
    assert missing.value.retriable is False
    placed = {r.value: r.partition for r in kafka.read(topic, 4, settle=0.5)}
    assert {decode(v)[1]: p for v, p in placed.items()} == {b"to-0": 0, b"to-1": 1, b"default": 2,
                                                            b"to-0-again": 0}


def test_a_topic_feeds_a_sink_without_a_source(kafka: KafkaTools, devstack: Devstack) -> None:
    components.reset()
    topic = kafka.create_topic(partitions=2)
    group = _unique("g")
    kafka.produce(topic, [b"r%d" % i for i in range(500)])
    config = f"""
    a.channels = c1
    a.sinks = k1
    a.channels.c1.type = org.apache.flume.channel.kafka.KafkaChannel
    a.channels.c1.kafka.bootstrap.servers = {devstack.kafka_bootstrap}
    a.channels.c1.kafka.topic = {topic}
    a.channels.c1.kafka.consumer.group.id = {group}
    a.channels.c1.parseAsFlumeEvent = false
    a.sinks.k1.type = {COLLECT}
    a.sinks.k1.channel = c1
    a.sinks.k1.batchSize = 64
    """
    try:
        with running(config):
            wait_until(lambda: len(_delivered("k1")) >= 500, timeout=WAIT)
        assert sorted(_delivered("k1")) == sorted(b"r%d" % i for i in range(500))
        # Every record's offset committed. A partition that got no record may have no commit at all (whether the
        # consumer committed its position 0 depends on when it was assigned): with auto.offset.reset = earliest
        # (the channel's default) that is the same as 0.
        committed, end = kafka.committed(group, topic), kafka.end_offsets(topic)
        assert {p: committed.get(p, 0) for p in end} == end
    finally:
        components.reset()


def test_a_source_fills_the_topic_without_a_sink(kafka: KafkaTools, devstack: Devstack) -> None:
    topic = kafka.create_topic(partitions=1)
    config = f"""
    a.sources = r1
    a.channels = c1
    a.sources.r1.type = seq
    a.sources.r1.totalEvents = 300
    a.sources.r1.batchSize = 50
    a.sources.r1.channels = c1
    a.channels.c1.type = org.apache.flume.channel.kafka.KafkaChannel
    a.channels.c1.kafka.bootstrap.servers = {devstack.kafka_bootstrap}
    a.channels.c1.kafka.topic = {topic}
    """
    with running(config):
        wait_until(lambda: kafka.end_offsets(topic) == {0: 300}, timeout=WAIT)
    records = kafka.read(topic, 300, settle=0.5)
    assert [decode(r.value)[1] for r in records] == [b"%d" % i for i in range(300)]


def test_the_consumer_of_a_thread_that_ended_hands_its_partitions_over(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel]
) -> None:
    topic = kafka.create_topic(partitions=1)
    channel = make_channel(topic)
    sent = id_events(0, 50)
    put(channel, sent)
    first: list[Event] = []
    worker = threading.Thread(target=lambda: first.extend(take_until(channel, 20, batch=20)))
    worker.start()
    worker.join(WAIT)
    assert not worker.is_alive()
    assert first == sent[:20]
    # Still a member of the group, its consumer would keep the only partition from this thread's.
    assert take_rest(channel) == sent[20:]


def test_stop_releases_a_waiting_take_and_closes_the_consumers(
    kafka: KafkaTools, devstack: Devstack, make_channel: Callable[..., KafkaChannel]
) -> None:
    topic = kafka.create_topic(partitions=1)
    channel = make_channel(topic)
    results: list[list[Event]] = []

    def wait_long() -> None:
        with channel.transaction() as tx:
            results.append(tx.take_batch(10, timeout=WAIT))

    taker = threading.Thread(target=wait_long)
    taker.start()
    wait_until(lambda: _assigned(devstack.kafka_bootstrap, channel.config.group_id) == [1], timeout=WAIT,
               message="the take's consumer to join the group")
    started = time.monotonic()
    channel.stop()
    taker.join(WAIT)
    assert not taker.is_alive()
    assert results == [[]]
    assert time.monotonic() - started < 5.0
    assert _assigned(devstack.kafka_bootstrap, channel.config.group_id) == []  # it left the group
    with pytest.raises(KafkaChannelError, match="stopped"), channel.transaction() as tx:
        tx.take_batch(1, 0.0)


def test_a_take_still_open_when_its_consumer_closes_is_delivered_again_not_lost(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel]
) -> None:
    topic = kafka.create_topic(partitions=1)
    group = _unique("g")
    first = make_channel(topic, group)
    sent = id_events(0, 20)
    put(first, sent)
    assert take_until(first, 5) == sent[:5]
    tx = first.transaction()
    assert tx.take_batch(10, 0.0) == sent[5:15]
    first.stop()  # as if the sink had not stopped in time: the consumer closes under an open take
    tx.commit()  # the sink delivered them, but their offsets can no longer be committed
    tx.close()
    assert first.counter.commit_fail_count == 1
    assert kafka.committed(group, topic) == {0: 5}
    second = make_channel(topic, group)
    assert take_rest(second) == sent[5:]  # at least once: delivered again, never lost


def test_a_failed_offset_commit_is_counted_and_retried_with_the_next_commit(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel], consumers: list[FlakyCommits]
) -> None:
    topic = kafka.create_topic(partitions=1)
    channel = make_channel(topic)
    sent = id_events(0, 30)
    put(channel, sent)
    assert take_until(channel, 10) == sent[:10]
    (consumer,) = consumers
    consumer.failures = 1
    assert take_until(channel, 10) == sent[10:20]  # delivered; its commit fails
    assert channel.counter.commit_fail_count == 1
    assert kafka.committed(channel.config.group_id, topic) == {0: 10}
    assert take_until(channel, 5) == sent[20:25]
    assert kafka.committed(channel.config.group_id, topic) == {0: 25}


def test_offsets_whose_commit_failed_are_committed_when_the_consumer_closes(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel], consumers: list[FlakyCommits]
) -> None:
    topic = kafka.create_topic(partitions=1)
    group = _unique("g")
    channel = make_channel(topic, group)
    sent = id_events(0, 30)
    put(channel, sent)
    assert take_until(channel, 10) == sent[:10]
    consumers[0].failures = 1
    assert take_until(channel, 12) == sent[10:22]
    assert kafka.committed(group, topic) == {0: 10}
    channel.stop()  # the partitions are given up: what was delivered is committed then
    assert channel.counter.commit_fail_count == 1
    assert kafka.committed(group, topic) == {0: 22}
    assert take_rest(make_channel(topic, group)) == sent[22:]


def test_flume_16_config_finds_the_brokers_in_zookeeper_and_migrates_offsets(
    kafka: KafkaTools, devstack: Devstack
) -> None:
    if not devstack.kafka_zk_connect:
        pytest.skip("the broker's zookeeper.connect is not known (FLAFKA_KAFKA_ZK_CONNECT unset)")
    topic = kafka.create_topic(partitions=1)
    group = _unique("g16")
    kafka.produce(topic, [encode({"id": str(i)}, b"m%d" % i) for i in range(10)])
    zk = KazooClient(hosts=devstack.kafka_zk_connect)
    zk.start(timeout=10)
    try:
        zk.create(f"/consumers/{group}/offsets/{topic}/0", b"4", makepath=True)  # where a Flume 1.6 agent stopped
        channel = build(KafkaChannel, {"zookeeperConnect": devstack.kafka_zk_connect, "topic": topic,
                                       "groupId": group, "timeout": "300"}, name="c16")
        channel.start()
        try:
            assert kafka.committed(group, topic) == {0: 4}
            assert [e.body for e in take_rest(channel)] == [b"m%d" % i for i in range(4, 10)]
        finally:
            channel.stop()
    finally:
        zk.delete(f"/consumers/{group}", recursive=True)
        zk.stop()
        zk.close()


def _delivered(sink: str) -> list[bytes]:
    with components.LOCK:
        return list(components.DELIVERED[sink])


def test_events_that_can_never_be_records_are_dead_lettered_and_the_rest_delivered(
    kafka: KafkaTools, make_channel: Callable[..., KafkaChannel]
) -> None:
    """Each of these used to fail every put of its batch for ever (the source retried it without end)."""
    topic = kafka.create_topic(partitions=2)
    channel = make_channel(topic, partitionIdHeader="part")
    dead = memory_channel("dl")
    selector = build(ReplicatingSelector, {})
    selector.bind([channel])
    processor = ChannelProcessor("r1", [], selector, SourceCounter("r1"), dead_letter_channel=dead)
    bad = {
        "not-a-number": Event(b"bad", {"id": "b1", "part": "one"}),
        "int32-overflow": Event(b"bad", {"id": "b2", "part": "2147483648"}),
        "no-such-partition": Event(b"bad", {"id": "b3", "part": "5"}),
        "lone-surrogate-key": Event(b"bad", {"id": "b4", "key": "\ud800"}),
        "lone-surrogate-header": Event(b"bad", {"id": "b5", "h": "\udcff"}),  # AvroFlumeEvent headers are UTF-8
        "too-large": Event(b"x" * 1_100_000, {"id": "b6"}),
    }
    events = id_events(0, 10)
    for offset, event in enumerate(bad.values()):
        events.insert(1 + 2 * offset, event)
    processor.process_batch(events)
    assert sorted(int(e.headers["id"]) for e in take_until(channel, 10)) == list(range(10))
    letters = {e.headers["id"]: e.headers["flafka.error"] for e in drain(dead)}
    assert sorted(letters) == ["b1", "b2", "b3", "b4", "b5", "b6"]
    assert "not a partition number" in letters["b1"]
    assert "not a partition number" in letters["b2"]
    assert letters["b3"].endswith(f"partition 5 is not a partition of topic {topic} (it has 2)")
    assert "header key is not valid Unicode text" in letters["b4"]
    assert "AvroFlumeEvent" in letters["b5"]
    assert "larger than max.request.size (1048576)" in letters["b6"]
    assert processor.counter.event_dead_letter_count == 6
    assert processor.counter.event_accepted_count == 10
    assert take_rest(channel) == []  # nothing written twice
