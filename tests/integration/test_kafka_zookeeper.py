"""Broker discovery and ZooKeeper → Kafka offset migration against devstack's real ZooKeeper and broker."""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition
from kazoo.client import KazooClient

from flafka.kafka.zookeeper import OffsetMigrationError, ZooKeeperError, brokers_from_zookeeper, migrate_offsets
from tests.integration.conftest import Devstack
from tests.integration.kafka_tools import KafkaTools

TIMEOUT = 10.0


@pytest.fixture
def zk_connect(devstack: Devstack) -> str:
    if not devstack.kafka_zk_connect:
        pytest.skip("the broker's zookeeper.connect is not known (FLAFKA_KAFKA_ZK_CONNECT unset)")
    return devstack.kafka_zk_connect


@pytest.fixture
def zk_root(devstack: Devstack) -> str:
    if not devstack.zookeeper:
        pytest.skip("ZooKeeper's address is not known (FLAFKA_ZOOKEEPER unset)")
    return devstack.zookeeper


def _kazoo(hosts: str) -> KazooClient:
    client = KazooClient(hosts=hosts)
    client.start(timeout=TIMEOUT)
    return client


@pytest.fixture
def scratch(zk_root: str) -> Iterator[tuple[KazooClient, list[str]]]:
    """A kazoo client on the unchrooted ZooKeeper and a list of paths deleted (recursively) at the end."""
    client = _kazoo(zk_root)
    paths: list[str] = []
    try:
        yield client, paths
    finally:
        try:
            for path in paths:
                client.delete(path, recursive=True)
        finally:
            client.stop()
            client.close()


@pytest.fixture
def broker_zk(zk_connect: str) -> Iterator[tuple[KazooClient, list[str]]]:
    """A kazoo client on the broker's ZooKeeper (its chroot applied) and paths deleted at the end."""
    client = _kazoo(zk_connect)
    paths: list[str] = []
    try:
        yield client, paths
    finally:
        try:
            for path in paths:
                client.delete(path, recursive=True)
        finally:
            client.stop()
            client.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- discovery ------------------------------------------------------------------------------------------

def test_discovers_exactly_the_devstack_broker(devstack: Devstack, zk_connect: str) -> None:
    assert brokers_from_zookeeper(zk_connect, timeout=TIMEOUT) == [devstack.kafka_bootstrap]


def test_chroot_in_the_connect_string_is_applied(zk_root: str,
                                                 scratch: tuple[KazooClient, list[str]]) -> None:
    client, cleanup = scratch
    chroot = f"/flafka-test-{uuid.uuid4().hex}"
    cleanup.append(chroot)
    registration = {
        "listener_security_protocol_map": {"INTERNAL": "PLAINTEXT", "EXTERNAL": "SSL"},
        "endpoints": ["EXTERNAL://secure.example.com:9093", "INTERNAL://fake-broker.example.com:9092"],
        "jmx_port": -1, "host": None, "port": -1, "version": 5,
    }
    client.create(f"{chroot}/brokers/ids/7", json.dumps(registration).encode(), makepath=True)
    client.create(f"{chroot}/brokers/ids/12", json.dumps({"host": "old.example.com", "port": 9092}).encode())

    assert brokers_from_zookeeper(f"{zk_root}{chroot}", timeout=TIMEOUT) == [
        "fake-broker.example.com:9092", "old.example.com:9092",
    ]
    # The same chroot given with a trailing slash, and one broker usable for SSL (the other is skipped).
    assert brokers_from_zookeeper(f"{zk_root}{chroot}/", timeout=TIMEOUT, security_protocol="SSL") == [
        "secure.example.com:9093",
    ]


def test_bad_registration_is_skipped_when_another_broker_is_usable(
        zk_root: str, scratch: tuple[KazooClient, list[str]], caplog: pytest.LogCaptureFixture) -> None:
    client, cleanup = scratch
    chroot = f"/flafka-test-{uuid.uuid4().hex}"
    cleanup.append(chroot)
    client.create(f"{chroot}/brokers/ids/1", b"{garbage", makepath=True)
    client.create(f"{chroot}/brokers/ids/2", json.dumps({"endpoints": ["PLAINTEXT://b2:9092"]}).encode())
    with caplog.at_level(logging.WARNING, logger="flafka.kafka.zookeeper"):
        assert brokers_from_zookeeper(f"{zk_root}{chroot}", timeout=TIMEOUT) == ["b2:9092"]
    assert [r.getMessage() for r in caplog.records if "/brokers/ids/1 is not valid JSON" in r.getMessage()]

    client.set(f"{chroot}/brokers/ids/2", b"[]")
    with pytest.raises(ZooKeeperError, match=r"no usable Kafka broker registration .*/brokers/ids/1 .*/brokers/ids/2"):
        brokers_from_zookeeper(f"{zk_root}{chroot}", timeout=TIMEOUT)


def test_empty_or_missing_chroot_is_a_clear_error(zk_root: str, scratch: tuple[KazooClient, list[str]]) -> None:
    client, cleanup = scratch
    chroot = f"/flafka-test-{uuid.uuid4().hex}"
    cleanup.append(chroot)
    expected = (r"no Kafka brokers are registered in ZooKeeper at .*flafka-test-.* \(/brokers/ids is empty or "
                r"missing\): is the chroot right\?")
    with pytest.raises(ZooKeeperError, match=expected):
        brokers_from_zookeeper(f"{zk_root}{chroot}", timeout=TIMEOUT)  # the chroot does not exist
    client.create(f"{chroot}/brokers/ids", makepath=True)
    with pytest.raises(ZooKeeperError, match=expected) as caught:
        brokers_from_zookeeper(f"{zk_root}{chroot}", timeout=TIMEOUT)  # exists, no broker under it
    assert caught.value.retriable is False


def test_unreachable_zookeeper_fails_within_the_timeout() -> None:
    connect = f"127.0.0.1:{_closed_port()}"
    timeout = 1.0
    started = time.monotonic()
    with pytest.raises(ZooKeeperError, match=rf"cannot reach ZooKeeper at {connect} within 1 s") as caught:
        brokers_from_zookeeper(connect, timeout=timeout)
    assert time.monotonic() - started < timeout + 2
    assert caught.value.retriable is True


# --- offset migration ------------------------------------------------------------------------------------

def _topic_with_records(kafka: KafkaTools) -> str:
    topic = kafka.create_topic(partitions=3, prefix="zkmig")
    for p in range(3):
        assert kafka.produce(topic, [f"p{p}-{i}".encode() for i in range(10)], partition=p) == 10
    assert kafka.end_offsets(topic) == {0: 10, 1: 10, 2: 10}
    return topic


def _write_zk_offsets(client: KazooClient, group: str, topic: str, offsets: dict[str, bytes]) -> None:
    for partition, value in offsets.items():
        client.create(f"/consumers/{group}/offsets/{topic}/{partition}", value, makepath=True)


def test_migrates_zookeeper_offsets_once(devstack: Devstack, kafka: KafkaTools, zk_connect: str,
                                         broker_zk: tuple[KazooClient, list[str]],
                                         caplog: pytest.LogCaptureFixture) -> None:
    client, cleanup = broker_zk
    topic = _topic_with_records(kafka)
    group = f"zkmig-{uuid.uuid4().hex[:12]}"
    cleanup.append(f"/consumers/{group}")
    # partition 9 does not exist in the topic: ignored with a warning
    _write_zk_offsets(client, group, topic, {"0": b"4", "1": b"5", "2": b"6", "9": b"100"})

    with caplog.at_level(logging.INFO, logger="flafka.kafka.zookeeper"):
        migrated = migrate_offsets(zk_connect, [devstack.kafka_bootstrap], group, topic, timeout=TIMEOUT)
    assert migrated == {0: 4, 1: 5, 2: 6}
    assert kafka.committed(group, topic) == {0: 4, 1: 5, 2: 6}
    messages = [r.getMessage() for r in caplog.records]
    assert any("partitions the topic does not have" in m and "partitions=[9]" in m for m in messages), messages
    assert any("Migrated consumer offsets" in m and "partitions=3" in m for m in messages), messages

    # A second run finds Kafka offsets and moves nothing, even after ZooKeeper's offsets changed.
    client.set(f"/consumers/{group}/offsets/{topic}/0", b"9")
    assert migrate_offsets(zk_connect, [devstack.kafka_bootstrap], group, topic, timeout=TIMEOUT) == {}
    assert kafka.committed(group, topic) == {0: 4, 1: 5, 2: 6}


def test_group_with_kafka_offsets_is_not_touched(devstack: Devstack, kafka: KafkaTools, zk_connect: str,
                                                 broker_zk: tuple[KazooClient, list[str]]) -> None:
    client, cleanup = broker_zk
    topic = _topic_with_records(kafka)
    group = f"zkmig-{uuid.uuid4().hex[:12]}"
    cleanup.append(f"/consumers/{group}")
    _write_zk_offsets(client, group, topic, {"0": b"4", "1": b"5", "2": b"6"})
    # Kafka holds an offset for one partition only: that is enough to leave the group alone.
    consumer = Consumer({"bootstrap.servers": devstack.kafka_bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        # A commit from outside the group (no subscription), as the migration itself commits.
        consumer.commit(offsets=[TopicPartition(topic, 1, 2)], asynchronous=False)
    finally:
        consumer.close()
    assert kafka.committed(group, topic) == {1: 2}

    assert migrate_offsets(zk_connect, [devstack.kafka_bootstrap], group, topic, timeout=TIMEOUT) == {}
    assert kafka.committed(group, topic) == {1: 2}


def test_nothing_in_zookeeper_migrates_nothing(devstack: Devstack, kafka: KafkaTools, zk_connect: str,
                                               broker_zk: tuple[KazooClient, list[str]]) -> None:
    client, cleanup = broker_zk
    topic = _topic_with_records(kafka)
    group = f"zkmig-{uuid.uuid4().hex[:12]}"
    cleanup.append(f"/consumers/{group}")
    assert migrate_offsets(zk_connect, [devstack.kafka_bootstrap], group, topic, timeout=TIMEOUT) == {}
    # only unusable entries: a non-numeric offset and a non-numeric partition
    _write_zk_offsets(client, group, topic, {"0": b"four", "x": b"3"})
    assert migrate_offsets(zk_connect, [devstack.kafka_bootstrap], group, topic, timeout=TIMEOUT) == {}
    assert kafka.committed(group, topic) == {}


def test_migration_uses_the_given_librdkafka_settings(devstack: Devstack, kafka: KafkaTools, zk_connect: str,
                                                       broker_zk: tuple[KazooClient, list[str]]) -> None:
    client, cleanup = broker_zk
    topic = _topic_with_records(kafka)
    group = f"zkmig-{uuid.uuid4().hex[:12]}"
    cleanup.append(f"/consumers/{group}")
    _write_zk_offsets(client, group, topic, {"0": b"3"})
    # The 5th argument is the component's librdkafka consumer configuration: a setting librdkafka refuses is
    # an OffsetMigrationError naming it, and nothing is committed.
    with pytest.raises(OffsetMigrationError, match=r"no\.such\.setting"):
        migrate_offsets(zk_connect, [devstack.kafka_bootstrap], group, topic, {"no.such.setting": "1"},
                        timeout=TIMEOUT)
    assert kafka.committed(group, topic) == {}
    assert migrate_offsets(zk_connect, [devstack.kafka_bootstrap], group, topic,
                           {"client.id": "flafka-zk-migration", "socket.timeout.ms": 5000}, TIMEOUT) == {0: 3}
    assert kafka.committed(group, topic) == {0: 3}


def test_migration_with_unreachable_zookeeper_is_a_clear_error(devstack: Devstack, kafka: KafkaTools) -> None:
    topic = _topic_with_records(kafka)
    group = f"zkmig-{uuid.uuid4().hex[:12]}"
    connect = f"127.0.0.1:{_closed_port()}"
    with pytest.raises(ZooKeeperError, match=f"cannot reach ZooKeeper at {connect}"):
        migrate_offsets(connect, [devstack.kafka_bootstrap], group, topic, timeout=1.0)
    assert kafka.committed(group, topic) == {}
