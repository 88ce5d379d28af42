"""A Kafka source held by a full channel, against the real broker: its partitions are paused and its consumer
still polled, so it stays in its group past max.poll.interval.ms, its lag reports go on, and once the channel
drains every record arrives exactly once (flafka/sources/kafka/source.py). /health calls it stalled meanwhile."""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from flafka.sources.kafka import KafkaSource
from flafka.testing import wait_until
from tests.integration.agents import COLLECT, running
from tests.integration.conftest import Devstack
from tests.integration.kafka_tools import KafkaTools
from tests.unit.runtime import components
from tests.unit.runtime.components import DELIVERED, FAILING

MAX_POLL_INTERVAL_S = 6.0
RECORDS = 1000


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    components.reset()
    yield
    components.reset()


def delivered() -> list[bytes]:
    with components.LOCK:
        return list(DELIVERED["k1"])


def test_a_source_held_by_a_full_channel_keeps_its_partitions_and_its_lag_reports_and_loses_nothing(
        kafka: KafkaTools, devstack: Devstack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flafka.sources.kafka")
    topic = kafka.create_topic(partitions=2, prefix="src-full")
    group = f"g-{uuid.uuid4().hex[:8]}"
    values = [b"id-%04d" % i for i in range(RECORDS)]
    kafka.produce(topic, values)
    FAILING.add("k1")  # the sink is down: the channel fills and is not drained
    config = f"""
    a.sources = r1
    a.channels = c1
    a.sinks = k1
    a.sources.r1.type = org.apache.flume.source.kafka.KafkaSource
    a.sources.r1.channels = c1
    a.sources.r1.kafka.bootstrap.servers = {devstack.kafka_bootstrap}
    a.sources.r1.kafka.topics = {topic}
    a.sources.r1.kafka.consumer.group.id = {group}
    a.sources.r1.kafka.consumer.auto.offset.reset = earliest
    a.sources.r1.kafka.consumer.max.poll.interval.ms = {int(MAX_POLL_INTERVAL_S * 1000)}
    a.sources.r1.kafka.consumer.session.timeout.ms = 6000
    a.sources.r1.consumerLagIntervalMs = 200
    a.sources.r1.batchSize = 50
    a.sources.r1.batchDurationMillis = 200
    a.channels.c1.type = memory
    a.channels.c1.capacity = 100
    a.channels.c1.transactionCapacity = 50
    a.sinks.k1.type = {COLLECT}
    a.sinks.k1.channel = c1
    a.sinks.k1.batchSize = 50
    """
    with running(config) as agent:
        agent.stall_after = 2.0
        source = agent.sources["r1"]
        assert isinstance(source, KafkaSource)
        wait_until(lambda: "paused its partitions" in caplog.text, timeout=60, message="the channel to fill")
        stalled_at, reports = time.monotonic(), source.lag.reports
        wait_until(lambda: time.monotonic() - stalled_at > MAX_POLL_INTERVAL_S + 2
                   and source.lag.reports >= reports + 20,
                   timeout=60, message="20 lag reports and more than max.poll.interval.ms of stall")
        assert "resumed its partitions" not in caplog.text  # the channel was full all along

        def lag_is_current() -> bool:
            end, committed = kafka.end_offsets(topic), kafka.committed(group, topic)
            # A partition the group has committed nothing for has no known lag (librdkafka reports -1).
            return bool(committed) and source.consumer_lag() == {(topic, p): end[p] - committed[p] for p in committed}

        wait_until(lag_is_current, timeout=10, interval=0.2, message="the lag report to be end minus committed")
        assert sum(kafka.committed(group, topic).values()) <= 100  # committed: at most what the channel holds
        # It polls (its process() calls return) but moves nothing while its partitions lag: stalled.
        held = agent.health().components["SOURCE.r1"]
        assert held["state"] == "stalled", held
        assert held["last_error"].startswith("input waiting, no progress for ")

        FAILING.discard("k1")
        wait_until(lambda: len(delivered()) >= RECORDS, timeout=60, message="every record delivered")
        wait_until(lambda: kafka.committed(group, topic) == kafka.end_offsets(topic), timeout=30,
                   message="every offset committed")
        messages = [r.getMessage() for r in caplog.records if r.name == "flafka.sources.kafka"]
        assert sum("was assigned partitions" in m for m in messages) == 1  # no rebalance: assigned once, at start
        assert not any("lost its partitions" in m or "giving up partitions" in m for m in messages)
        assert any("resumed its partitions" in m for m in messages)
        assert agent.health().components["SOURCE.r1"]["state"] == "running"
    assert Counter(delivered()) == Counter(values)  # every record exactly once
