"""Consumer lag as the Kafka channel reports it, against the real broker: end offset minus the group's committed
offset per partition, both read with a separate consumer (flafka/kafka/lag.py)."""

from __future__ import annotations

import time
import uuid

from flafka.channels.kafka import KafkaChannel
from flafka.testing import build, wait_until
from tests.integration.conftest import Devstack
from tests.integration.kafka_tools import KafkaTools

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
