"""The devstack servers answer: a real broker takes and gives back records, ZooKeeper answers `srvr`."""

from __future__ import annotations

import socket
import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from tests.integration.conftest import Devstack

RECORDS = 100
PARTITIONS = 4
DEADLINE_S = 30.0


def test_broker_round_trip(devstack: Devstack) -> None:
    topic = f"devstack-{uuid.uuid4().hex[:12]}"  # unique: the servers may be reused across sessions
    admin = KafkaAdminClient(bootstrap_servers=devstack.kafka_bootstrap, client_id="devstack-test")
    try:
        admin.create_topics([NewTopic(name=topic, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        admin.close()

    sent = [f"record-{i:03d}".encode() for i in range(RECORDS)]
    producer = KafkaProducer(bootstrap_servers=devstack.kafka_bootstrap, acks="all")
    try:
        futures = [producer.send(topic, key=str(i).encode(), value=v) for i, v in enumerate(sent)]
        producer.flush(timeout=DEADLINE_S)
        partitions_written = {f.get(timeout=DEADLINE_S).partition for f in futures}
    finally:
        producer.close()
    assert partitions_written == set(range(PARTITIONS)), "keys should spread the records over every partition"

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=devstack.kafka_bootstrap,
        group_id=f"{topic}-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    received: list[bytes] = []
    try:
        deadline = time.monotonic() + DEADLINE_S
        while len(received) < RECORDS and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                received.extend(record.value for record in batch)
        consumer.commit()
    finally:
        consumer.close()
    assert sorted(received) == sent


def test_zookeeper_answers_srvr(devstack: Devstack) -> None:
    assert devstack.zookeeper, "FLAFKA_ZOOKEEPER is not known"
    host, port = devstack.zookeeper.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"srvr")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    text = reply.decode()
    assert "Zookeeper version: 3.8" in text
    assert "Mode: standalone" in text
