"""A broker restart in the middle of a Kafka -> memory -> Kafka stream loses nothing.

This test restarts the shared devstack broker (same port and data). Its file name makes it run after the
other Kafka tests, and it ends only when the broker accepts new topics again.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

from flafka.testing import wait_until
from tests.integration.agents import running
from tests.integration.conftest import REPO_ROOT, Devstack
from tests.integration.kafka_tools import KafkaTools
from tests.integration.test_kafka_pipelines import kafka_to_kafka


def test_broker_restart_mid_stream_loses_nothing(kafka: KafkaTools, devstack: Devstack) -> None:
    source_topic = kafka.create_topic(partitions=2)
    sink_topic = kafka.create_topic(partitions=2)
    ids = [f"x-{i:05d}".encode() for i in range(30_000)]
    kafka.produce(source_topic, ids)
    config = kafka_to_kafka(devstack.kafka_bootstrap, source_topic, sink_topic, f"g-{uuid.uuid4().hex[:8]}")
    config = config.replace("flumeBatchSize = 1000", "flumeBatchSize = 200").replace(
        "batchSize = 1000", "batchSize = 200")
    with running(config, stop_timeout=20):
        wait_until(lambda: sum(kafka.end_offsets(sink_topic).values()) >= 3000, timeout=60)
        restart = subprocess.run([sys.executable, "-m", "devstack", "restart", "kafka"], cwd=REPO_ROOT,
                                 capture_output=True, text=True, timeout=180, check=False)
        assert restart.returncode == 0, restart.stderr
        wait_until(lambda: len({r.value for r in kafka.read_all(sink_topic)}) >= 30_000,
                   timeout=180, interval=2.0, message="every record after the broker restart")
    delivered = {r.value for r in kafka.read_all(sink_topic)}
    assert delivered == set(ids)
    wait_until(lambda: _broker_ready(kafka), timeout=60, interval=0.5, message="the broker to take new topics")


def _broker_ready(kafka: KafkaTools) -> bool:
    try:
        kafka.create_topic(partitions=1, prefix="ready")
    except Exception:  # any client error means: not yet
        return False
    return True
