"""Kafka sink against the real devstack broker: memory channel → sink → records read back exactly.

The broker-restart test runs its own private broker (a second devstack state file under tmp_path), so
the shared servers are never restarted.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from flafka.channels.memory import MemoryChannel
from flafka.errors import DeliveryError
from flafka.event import Event
from flafka.kafka.avro_event import decode
from flafka.runtime.runners import SinkRunner
from flafka.runtime.sink_processors import DefaultSinkProcessor
from flafka.sinks.base import Status
from flafka.sinks.kafka import KafkaSink
from flafka.testing import build, memory_channel, put, wait_until
from tests.integration.conftest import REPO_ROOT
from tests.integration.kafka_tools import KafkaTools, Record

DEADLINE_S = 60.0


class Rig:
    """Sinks and channels made by a test, all stopped at the end."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.sinks: list[KafkaSink] = []
        self.channels: list[MemoryChannel] = []

    def sink(self, values: Mapping[str, str], name: str = "k1") -> tuple[KafkaSink, MemoryChannel]:
        channel = memory_channel(f"c-{name}", capacity=100_000, transaction_capacity=1000)
        self.channels.append(channel)
        sink = build(KafkaSink, {"kafka.bootstrap.servers": self.bootstrap, **values}, name)
        sink.channel = channel
        sink.start()
        self.sinks.append(sink)
        return sink, channel

    def close(self) -> None:
        sinks, self.sinks = self.sinks, []
        channels, self.channels = self.channels, []
        for sink in sinks:
            sink.stop()
        for channel in channels:
            channel.stop()


@pytest.fixture
def rig(kafka: KafkaTools) -> Iterator[Rig]:
    made = Rig(kafka.bootstrap)
    try:
        yield made
    finally:
        made.close()



def drain_sink(sink: KafkaSink, channel: MemoryChannel) -> int:
    """Call process() until the channel is empty; returns the number of READY batches."""
    batches = 0
    deadline = time.monotonic() + DEADLINE_S
    while channel.size():
        assert time.monotonic() < deadline, "the sink did not empty its channel in time"
        assert sink.process() is Status.READY
        batches += 1
    return batches


def by_value(records: list[Record]) -> dict[bytes, Record]:
    out = {r.value: r for r in records}
    assert len(out) == len(records), "duplicate values read back"
    return out


def librdkafka_threads() -> int:
    """librdkafka's own (native) threads in this process: a client that was not released keeps them."""
    count = 0
    for comm in Path("/proc/self/task").glob("*/comm"):
        with contextlib.suppress(OSError):  # the thread ended while listing
            count += comm.read_text().startswith("rdk:")
    return count


# -- delivery --------------------------------------------------------------------------------------


def test_2000_events_are_written_exactly_with_keys_and_mapped_headers(kafka: KafkaTools, rig: Rig) -> None:
    topic = kafka.create_topic(partitions=3, prefix="sink-all")
    n = 2000
    sink, channel = rig.sink({"kafka.topic": topic, "flumeBatchSize": "500", "kafka.producer.acks": "all",
                              "header.trace": "trace-id", "header.missing": "never"})
    events = [Event(f"event-{i:04d}".encode(), {"key": f"k{i % 7}", "trace": f"t{i}", "other": "x"})
              for i in range(n)]
    put(channel, events)
    assert drain_sink(sink, channel) == 4
    records = kafka.read(topic, n, settle=1.0)
    assert len(records) == n
    got = by_value(records)
    for i in range(n):
        record = got[f"event-{i:04d}".encode()]
        assert record.key == f"k{i % 7}".encode()
        assert record.headers == [("trace-id", f"t{i}".encode())]
    # One key, one partition, in the order sent.
    for key in {r.key for r in records}:
        same = [r for r in records if r.key == key]
        assert len({r.partition for r in same}) == 1
        assert [r.value for r in same] == sorted(r.value for r in same)
    counter = sink.counter
    assert (counter.event_drain_attempt_count, counter.event_drain_success_count) == (n, n)
    assert (counter.batch_complete_count, counter.rollback_count, counter.event_write_fail) == (4, 0, 0)
    assert counter.connection_created_count == 1
    assert counter.kafka_event_send_timer > 0


def test_flume_event_format_round_trip(kafka: KafkaTools, rig: Rig) -> None:
    topic = kafka.create_topic(prefix="sink-avro")
    sink, channel = rig.sink({"kafka.topic": topic, "useFlumeEventFormat": "true"})
    events = [Event(f"body-{i}".encode(), {"n": str(i), "caf\u00e9": "cr\u00e8me", "timestamp": "1700000000000"})
              for i in range(150)]
    put(channel, events)
    assert drain_sink(sink, channel) == 2
    records = kafka.read(topic, 150, settle=0.5)
    assert [decode(r.value) for r in records] == [(e.headers, e.body) for e in events]
    assert all(r.key is None for r in records)


def test_timestamp_header_sets_the_record_timestamp(kafka: KafkaTools, rig: Rig) -> None:
    topic = kafka.create_topic(prefix="sink-ts")
    sink, channel = rig.sink({"kafka.topic": topic, "timestampHeader": "ts"})
    before = int(time.time() * 1000)
    put(channel, [Event(b"a", {"ts": "1600000000123"}), Event(b"b", {"ts": "garbage"}), Event(b"c", {})])
    drain_sink(sink, channel)
    a, b, c = kafka.read(topic, 3, settle=0.5)
    assert (a.value, a.timestamp) == (b"a", 1600000000123)
    assert b.timestamp >= before
    assert c.timestamp >= before


def test_partition_header_routes_to_the_partition(kafka: KafkaTools, rig: Rig) -> None:
    topic = kafka.create_topic(partitions=4, prefix="sink-part")
    sink, channel = rig.sink({"kafka.topic": topic, "partitionIdHeader": "p", "defaultPartitionId": "2"})
    events = [Event(f"v{i}".encode(), {"p": str(i % 4)}) for i in range(200)]
    events += [Event(f"d{i}".encode(), {}) for i in range(20)]  # no header: defaultPartitionId
    put(channel, events)
    drain_sink(sink, channel)
    records = kafka.read(topic, 220, settle=0.5)
    assert len(records) == 220
    for value, record in by_value(records).items():
        expected = 2 if value.startswith(b"d") else int(value[1:]) % 4
        assert record.partition == expected, value
    assert kafka.end_offsets(topic) == {0: 50, 1: 50, 2: 70, 3: 50}


def test_header_escapes_in_the_topic_pick_the_topic_per_event(kafka: KafkaTools, rig: Rig) -> None:
    base = f"sink-esc-{uuid.uuid4().hex[:8]}"
    web = kafka.create_topic(prefix=base)
    db = kafka.create_topic(prefix=base)
    web_app, db_app = web.rsplit("-", 1)[1], db.rsplit("-", 1)[1]
    sink, channel = rig.sink({"kafka.topic": f"{base}-%{{app}}"})
    events = [Event(f"e{i}".encode(), {"app": web_app if i % 3 else db_app}) for i in range(90)]
    put(channel, events)
    drain_sink(sink, channel)
    assert [r.value for r in kafka.read(web, 60, settle=0.5)] == [e.body for e in events
                                                                  if e.headers["app"] == web_app]
    assert [r.value for r in kafka.read(db, 30, settle=0.5)] == [e.body for e in events
                                                                 if e.headers["app"] == db_app]


# -- the topic trap --------------------------------------------------------------------------------


def test_topic_header_does_not_send_events_back_to_their_source_topic(kafka: KafkaTools, rig: Rig) -> None:
    source_topic = kafka.create_topic(prefix="sink-trap-a")
    target = kafka.create_topic(prefix="sink-trap-b")
    # What Flume's Kafka source hands on: header topic = the topic the event was read from.
    events = [Event(f"e{i}".encode(), {"topic": source_topic, "partition": "0", "offset": str(i)})
              for i in range(100)]
    sink, channel = rig.sink({"kafka.topic": target})
    put(channel, events)
    drain_sink(sink, channel)
    assert [r.value for r in kafka.read(target, 100, settle=0.5)] == [e.body for e in events]
    assert kafka.read(source_topic, 0, settle=1.0) == []
    assert kafka.end_offsets(source_topic) == {0: 0}

    # Flume's behaviour, when asked for explicitly.
    flume, flume_channel = rig.sink({"kafka.topic": target, "allowTopicOverride": "true"}, name="k2")
    put(flume_channel, events)
    drain_sink(flume, flume_channel)
    assert [r.value for r in kafka.read(source_topic, 100, settle=0.5)] == [e.body for e in events]
    assert kafka.end_offsets(target) == {0: 100}


# -- bad data --------------------------------------------------------------------------------------


def test_bad_partition_header_is_dead_lettered_and_the_rest_delivered(kafka: KafkaTools, rig: Rig) -> None:
    topic = kafka.create_topic(partitions=4, prefix="sink-bad")
    dlq = kafka.create_topic(prefix="sink-dlq")
    sink, channel = rig.sink({"kafka.topic": topic, "partitionIdHeader": "p", "deadLetterTopic": dlq})
    events = [Event(f"good-{i}".encode(), {"p": str(i % 4)}) for i in range(40)]
    events.insert(5, Event(b"bad-text", {"p": "three", "key": "kb"}))
    events.insert(20, Event(b"bad-range", {"p": "17"}))
    put(channel, events)
    assert sink.process() is Status.READY
    assert channel.size() == 0
    good = kafka.read(topic, 40, settle=1.0)
    assert sorted(r.value for r in good) == sorted(f"good-{i}".encode() for i in range(40))
    dead = kafka.read(dlq, 2, settle=1.0)
    assert [(r.value, r.key) for r in dead] == [(b"bad-text", b"kb"), (b"bad-range", None)]
    assert dead[0].headers == [("p", b"three"), ("key", b"kb"),
                               ("flafka.error", b"header p='three' is not a partition number")]
    assert dead[1].headers[0] == ("p", b"17")
    assert dead[1].headers[1][0] == "flafka.error"
    assert dead[1].headers[1][1].startswith(b"partition 17: _UNKNOWN_PARTITION: ")
    assert (sink.counter.event_write_fail, sink.counter.event_drain_success_count) == (2, 40)


# -- Kafka unreachable -----------------------------------------------------------------------------

_SHORT_TIMEOUTS = {"kafka.producer.max.block.ms": "1000", "kafka.producer.request.timeout.ms": "1000",
                   "kafka.producer.delivery.timeout.ms": "3000", "kafka.producer.retry.backoff.ms": "100",
                   "kafka.producer.reconnect.backoff.max.ms": "200"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_broker_rolls_the_batch_back(rig: Rig) -> None:
    threads_before = librdkafka_threads()
    try:
        sink, channel = rig.sink({"kafka.bootstrap.servers": f"127.0.0.1:{closed_port()}", "kafka.topic": "t",
                                  "flumeBatchSize": "50", **_SHORT_TIMEOUTS})
        events = [Event(f"e{i}".encode(), {"key": str(i)}) for i in range(37)]
        put(channel, events)
        for attempt in (1, 2):
            started = time.monotonic()
            with pytest.raises(DeliveryError, match=r"cannot connect to 127\.0\.0\.1:") as info:
                sink.process()
            assert time.monotonic() - started < 10
            assert info.value.retriable is True
            assert channel.size() == 37
            assert (sink.counter.rollback_count, sink.counter.event_write_fail) == (attempt, attempt)
        assert sink.counter.connection_failed_count == 3  # start() and both batches
        assert sink.counter.event_drain_success_count == 0
        with channel.transaction() as tx:
            assert tx.take_batch(100) == events
    finally:
        rig.close()
    assert librdkafka_threads() <= threads_before  # the stopped sink released its producer


# -- a broker restart (private broker) -------------------------------------------------------------


class PrivateKafka:
    """A devstack Kafka + ZooKeeper of its own (own state file), so it can be stopped and revived."""

    def __init__(self, state: Path) -> None:
        self.env = {**os.environ, "FLAFKA_DEVSTACK_STATE": str(state)}
        self.state = state

    def devstack(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "devstack", *args], cwd=REPO_ROOT, env=self.env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def up(self) -> str:
        out = self.devstack("up", "kafka")
        return next(line.split("=", 1)[1].strip("'") for line in out.splitlines()
                    if line.startswith("export FLAFKA_KAFKA_BOOTSTRAP="))

    def stop_broker(self) -> None:
        from devstack import proc

        record = json.loads(self.state.read_text())["servers"]["kafka"]
        proc.stop(record["pid"], record["config"])

    def down(self) -> None:
        self.devstack("down")


@pytest.fixture
def private_kafka(tmp_path: Path, kafka: KafkaTools) -> Iterator[PrivateKafka]:
    # Depends on `kafka` so that the shared servers' jars are fetched first (and only once).
    stack = PrivateKafka(tmp_path / "devstack-state.json")
    try:
        yield stack
    finally:
        stack.down()


@pytest.mark.slow
def test_batches_fail_while_the_broker_is_down_and_go_through_once_it_is_back(private_kafka: PrivateKafka) -> None:
    threads_before = librdkafka_threads()
    bootstrap = private_kafka.up()
    tools = KafkaTools(bootstrap)
    topic = tools.create_topic(partitions=2, prefix="sink-restart")
    rig = Rig(bootstrap)
    try:
        values = {"kafka.topic": topic, "kafka.producer.acks": "all", **_SHORT_TIMEOUTS}
        sink, channel = rig.sink(values)
        stalled, stalled_channel = rig.sink(values, name="k2")  # stopped while the broker is down
        put(channel, [Event(f"before-{i}".encode()) for i in range(100)])
        put(stalled_channel, [Event(b"warm-up")])
        drain_sink(sink, channel)
        drain_sink(stalled, stalled_channel)

        private_kafka.stop_broker()
        during = [Event(f"during-{i}".encode(), {"key": str(i)}) for i in range(100)]
        put(channel, during)
        put(stalled_channel, [Event(b"never")])
        for _ in range(2):
            with pytest.raises(DeliveryError):
                sink.process()
            assert channel.size() == 100
        with pytest.raises(DeliveryError):
            stalled.process()
        started = time.monotonic()
        stalled.stop()
        assert time.monotonic() - started < 15, "stop() must not hang on records the broker never took"
        rig.sinks.remove(stalled)
        assert stalled_channel.size() == 1

        private_kafka.up()  # the same broker, port and data, started again

        def delivered() -> bool:
            try:
                return sink.process() is Status.READY and channel.size() == 0
            except DeliveryError:
                return False

        wait_until(delivered, timeout=DEADLINE_S, interval=0.2, message="the sink to deliver after the restart")
        expected = {f"before-{i}".encode() for i in range(100)} | {f"during-{i}".encode() for i in range(100)}
        expected.add(b"warm-up")
        records = tools.read(topic, len(expected), settle=1.0)
        values_read = [r.value for r in records]
        assert set(values_read) == expected  # every event, none lost (a retried batch may repeat records)
        assert sink.counter.rollback_count >= 2
    finally:
        rig.close()
    assert librdkafka_threads() <= threads_before  # every stopped sink released its producer


# -- values the client would raise on, and retried batches (issue 8) ------------------------------


def test_good_events_around_every_kind_of_bad_value_are_written_exactly_once(
        kafka: KafkaTools, rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    base = f"sink-kinds-{uuid.uuid4().hex[:8]}"
    topic = kafka.create_topic(partitions=2, prefix=base)
    dlq = kafka.create_topic(prefix="sink-kinds-dlq")
    app = topic.rsplit("-", 1)[1]
    # Kafka refuses a topic whose name differs from an existing one only by '.' versus '_' (TOPIC_EXCEPTION).
    taken = kafka.create_topic(prefix=f"{base}-x_y").removeprefix(f"{base}-")
    bad_values: list[tuple[str, dict[str, str], bytes]] = [
        ("int32", {"p": "2147483648"}, b"header p='2147483648' is not a partition number"),
        ("no-partition", {"p": "7"}, b"partition 7: _UNKNOWN_PARTITION: "),
        ("surrogate-key", {"key": "k\ud800"}, b"header 'key' is not valid Unicode text"),
        ("surrogate-mapped", {"trace": "t\udc80"}, b"header 'trace' is not valid Unicode text"),
        ("topic", {"app": "no such/topic"}, b"topic '"),
        ("topic-refused", {"app": taken.replace("_", ".")}, b"TOPIC_EXCEPTION: "),
    ]
    events: list[Event] = []
    for i in range(100):
        headers = {"app": app, "p": str(i % 2), "trace": f"t{i}", "key": f"k{i}"}
        if i % 10 == 3:  # not epoch ms: good events, written with the producer's time
            headers["ts"] = "99999999999999999999" if i % 20 == 3 else "-5"
        events.append(Event(f"good-{i}".encode(), headers))
    for n, (name, headers, _) in enumerate(bad_values):
        events.insert(10 + 20 * n, Event(f"bad-{name}".encode(), {"app": app, **headers}))
    values = {"kafka.topic": f"{base}-%{{app}}", "partitionIdHeader": "p", "timestampHeader": "ts",
              "header.trace": "trace-id", "flumeBatchSize": "1000"}
    sink, channel = rig.sink({**values, "deadLetterTopic": dlq})
    dropping, dropping_channel = rig.sink(values, name="k2")
    started = int(time.time() * 1000)
    put(channel, events)
    put(dropping_channel, events)
    assert sink.process() is Status.READY
    assert dropping.process() is Status.READY
    assert channel.size() == dropping_channel.size() == 0

    records = kafka.read(topic, 200, settle=2.0)
    copies = Counter(r.value for r in records)
    assert copies == Counter({f"good-{i}".encode(): 2 for i in range(100)})  # once per sink, none twice
    for record in records:
        assert record.headers == [("trace-id", f"t{record.value.decode()[5:]}".encode())]
        assert record.timestamp >= started  # the bad timestamps became the producer's time
    dead = kafka.read(dlq, len(bad_values), settle=2.0)
    assert [r.value for r in dead] == [f"bad-{name}".encode() for name, _, _ in bad_values]
    for record, (_, _, reason) in zip(dead, bad_values, strict=True):
        error = dict(record.headers)["flafka.error"]
        assert error.startswith(reason), error
    assert dead[2].key == b"k\xed\xa0\x80"  # the event's exact text (surrogatepass)
    assert dict(dead[3].headers)["trace"] == b"t\xed\xb2\x80"
    for counter in (sink.counter, dropping.counter):
        assert (counter.event_drain_success_count, counter.event_write_fail, counter.rollback_count) == (100, 6, 0)
    assert (sink.counter.event_dead_letter_count, sink.counter.event_drop_count) == (6, 0)
    assert (dropping.counter.event_dead_letter_count, dropping.counter.event_drop_count) == (0, 6)
    drops = [r.getMessage() for r in caplog.records if "Kafka sink k2 dropped" in r.getMessage()]
    assert len(drops) == 3  # once per kind: partition (two events), unicode (two), topic (two)
    assert [r.getMessage() for r in caplog.records if "timestamp header" in r.getMessage()] == [
        "Kafka sink k1 found a timestamp header that is not epoch ms (a whole number from 0 to 2^63-1); the "
        "producer's time is used. ts='99999999999999999999'",
        "Kafka sink k2 found a timestamp header that is not epoch ms (a whole number from 0 to 2^63-1); the "
        "producer's time is used. ts='99999999999999999999'"]


def test_a_retriable_failure_mid_batch_never_writes_an_acknowledged_record_twice(
        kafka: KafkaTools, rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    base = f"sink-held-{uuid.uuid4().hex[:8]}"
    good = kafka.create_topic(prefix=base)
    stuck = kafka.stuck_topic(base)
    dest = {"good": good.rsplit("-", 1)[1], "stuck": stuck.rsplit("-", 1)[1]}
    sink, channel = rig.sink({"kafka.topic": f"{base}-%{{dest}}", "flumeBatchSize": "300", "kafka.producer.acks": "all",
                              "kafka.producer.delivery.timeout.ms": "2000", "kafka.producer.request.timeout.ms": "1000",
                              "kafka.producer.retry.backoff.ms": "100"})
    events = [Event(f"e{i}".encode(), {"dest": dest["stuck" if i % 3 == 1 else "good"]}) for i in range(300)]
    put(channel, events)
    failed = threading.Event()
    done = threading.Event()

    def run() -> None:  # what a sink runner does: process() again after a failure
        deadline = time.monotonic() + 3 * DEADLINE_S
        while time.monotonic() < deadline and channel.size():
            try:
                sink.process()
            except DeliveryError:
                failed.set()
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: failed.is_set() or "holds a batch" in caplog.text, timeout=DEADLINE_S,
                   message="the write to the stuck topic to fail")
        kafka.unstuck(stuck)
        assert done.wait(3 * DEADLINE_S), "the sink never delivered the batch"
    finally:
        sink.request_stop()
        thread.join(DEADLINE_S)
    assert channel.size() == 0
    good_copies = Counter(r.value for r in kafka.read(good, 200, settle=2.0))
    stuck_copies = Counter(r.value for r in kafka.read(stuck, 100, settle=2.0))
    assert good_copies == Counter({f"e{i}".encode(): 1 for i in range(300) if i % 3 != 1})
    assert stuck_copies == Counter({f"e{i}".encode(): 1 for i in range(300) if i % 3 == 1})
    assert not failed.is_set()  # held, not rolled back
    assert (sink.counter.event_drain_success_count, sink.counter.rollback_count) == (300, 0)


def test_stopping_the_sink_runner_ends_a_held_batch_at_once(kafka: KafkaTools, rig: Rig,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    base = f"sink-stop-{uuid.uuid4().hex[:8]}"
    good = kafka.create_topic(prefix=base)
    stuck = kafka.stuck_topic(base)
    dest = {"good": good.rsplit("-", 1)[1], "stuck": stuck.rsplit("-", 1)[1]}
    sink, channel = rig.sink({"kafka.topic": f"{base}-%{{dest}}", "kafka.producer.acks": "all",
                              "kafka.producer.delivery.timeout.ms": "2000", "kafka.producer.request.timeout.ms": "1000",
                              "kafka.producer.retry.backoff.ms": "100"})
    events = [Event(f"e{i}".encode(), {"dest": dest["stuck" if i % 2 else "good"]}) for i in range(20)]
    put(channel, events)
    processor = build(DefaultSinkProcessor, {}, "g1")
    processor.bind([sink])
    runner = SinkRunner("g1", processor, [channel])
    runner.start()
    try:
        wait_until(lambda: "holds a batch" in caplog.text, timeout=DEADLINE_S, message="the batch to be held")
    finally:
        started = time.monotonic()
        runner.stop(30)
        stopped_in = time.monotonic() - started
    rig.sinks.remove(sink)  # the runner stopped it
    assert stopped_in < 3, f"the runner took {stopped_in:.1f}s to stop"
    assert not runner.alive
    assert channel.size() == 20  # rolled back: the events are taken again after a restart
    assert sink.counter.rollback_count == 1
