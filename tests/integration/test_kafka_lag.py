"""Consumer lag as the Kafka channel reports it, against the real broker: end offset minus the group's committed
offset per partition, both read with a separate consumer (flafka/kafka/lag.py)."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

from flafka.channels.kafka import KafkaChannel
from flafka.monitoring.http import MonitoringServer
from flafka.testing import build, wait_until
from tests.integration.agents import COLLECT, running
from tests.integration.conftest import Devstack
from tests.integration.kafka_tools import KafkaTools
from tests.unit.runtime import components
from tests.unit.runtime.components import DELIVERED, FAILING

WAIT = 60.0


def test_the_kafka_channel_reports_end_offset_minus_committed_offset_per_partition(
        kafka: KafkaTools, devstack: Devstack) -> None:
    topic = kafka.create_topic(partitions=2, prefix="kc-lag")
    group = f"g-{uuid.uuid4().hex[:10]}"
    channel = build(KafkaChannel, {
        "kafka.bootstrap.servers": devstack.kafka_bootstrap, "kafka.topic": topic, "kafka.consumer.group.id": group,
        "parseAsFlumeEvent": "false", "kafka.pollTimeout": "100", "consumerLagIntervalMs": "200",
        # a take holding only rolled-back events polls the consumer after a third of this (2 s)
        "kafka.consumer.max.poll.interval.ms": "6000", "kafka.consumer.session.timeout.ms": "6000",
    }, name="kc")
    channel.start()
    try:
        for partition in (0, 1):
            kafka.produce(topic, [b"first-%d-%d" % (partition, i) for i in range(20)], partition=partition)
        taken = 0
        deadline = time.monotonic() + WAIT
        while taken < 40:
            assert time.monotonic() < deadline, f"took {taken} of 40 events"
            with channel.transaction() as tx:
                taken += len(tx.take_batch(40 - taken, 0.0))
        assert kafka.committed(group, topic) == {0: 20, 1: 20}  # the take commits synchronously

        kafka.produce(topic, [b"more-0-%d" % i for i in range(7)], partition=0)
        kafka.produce(topic, [b"more-1-%d" % i for i in range(3)], partition=1)
        end, committed = kafka.end_offsets(topic), kafka.committed(group, topic)
        expected = {(topic, p): end[p] - committed[p] for p in (0, 1)}
        assert expected == {(topic, 0): 7, (topic, 1): 3}

        def reported() -> bool:
            # The sink's takes keep failing: the new events are taken and rolled back, never committed, and the
            # consumer keeps being polled (the stats callback runs inside its consume()).
            tx = channel.transaction()
            tx.take_batch(100, 0.0)
            tx.rollback()
            tx.close()
            return channel.consumer_lag() == expected

        wait_until(reported, timeout=WAIT, interval=0.05, message=f"the channel's lag to become {expected}")
        assert kafka.committed(group, topic) == {0: 20, 1: 20}  # still: the lag is not from a commit of ours
    finally:
        channel.stop()


def test_an_agents_kafka_channel_lag_is_in_status_and_prometheus(kafka: KafkaTools, devstack: Devstack) -> None:
    components.reset()
    topic = kafka.create_topic(partitions=2, prefix="kc-lag-agent")
    group = f"g-{uuid.uuid4().hex[:10]}"
    FAILING.add("k1")  # the sink's takes roll back: nothing is committed, the consumer keeps polling
    config = f"""
    a.channels = c1
    a.sinks = k1
    a.channels.c1.type = org.apache.flume.channel.kafka.KafkaChannel
    a.channels.c1.kafka.bootstrap.servers = {devstack.kafka_bootstrap}
    a.channels.c1.kafka.topic = {topic}
    a.channels.c1.kafka.consumer.group.id = {group}
    a.channels.c1.kafka.consumer.auto.offset.reset = earliest
    a.channels.c1.parseAsFlumeEvent = false
    a.channels.c1.consumerLagIntervalMs = 200
    a.sinks.k1.type = {COLLECT}
    a.sinks.k1.channel = c1
    """
    try:
        with running(config) as agent:
            server = MonitoringServer(agent, port=0)
            server.start()
            try:
                kafka.produce(topic, [b"p0-%d" % i for i in range(11)], partition=0)
                kafka.produce(topic, [b"p1-%d" % i for i in range(4)], partition=1)

                def channel_lag() -> list[dict[str, object]]:
                    status = json.loads(urllib.request.urlopen(f"{server.url}/status", timeout=5).read())
                    (channel,) = status["channels"]
                    lag: list[dict[str, object]] = channel["lag"]
                    return lag

                # Nothing committed yet: librdkafka knows no lag until the group has a committed offset. Once the
                # sink works, all is committed and the lag is 0 on both partitions.
                FAILING.discard("k1")
                wait_until(lambda: len(DELIVERED["k1"]) == 15, timeout=WAIT, message="all 15 delivered")
                wait_until(lambda: kafka.committed(group, topic) == {0: 11, 1: 4}, timeout=WAIT,
                           message="all committed")
                FAILING.add("k1")
                kafka.produce(topic, [b"late-%d" % i for i in range(5)], partition=0)
                expected = [{"topic": topic, "partition": 0, "records": 5},
                            {"topic": topic, "partition": 1, "records": 0}]
                seen: list[object] = []
                wait_until(lambda: seen.append(channel_lag()) or seen[-1] == expected, timeout=WAIT, interval=0.1,
                           message=f"the channel's lag in /status to become {expected}: {seen[-3:]}")
                text = urllib.request.urlopen(f"{server.url}/metrics/prometheus", timeout=5).read().decode()
                lag_family = "flafka_kafka_consumer_lag"
                samples = {(s.labels["topic"], s.labels["partition"]): s.value
                           for family in text_string_to_metric_families(text) if family.name == lag_family
                           for s in family.samples if s.labels["component"] == "c1"}
                assert samples == {(topic, "0"): 5.0, (topic, "1"): 0.0}
            finally:
                server.stop()
    finally:
        components.reset()
