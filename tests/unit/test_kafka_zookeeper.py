"""Broker registration JSON (every Kafka generation's shape) → host:port, and errors that need no server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flafka.errors import FlafkaError
from flafka.kafka.zookeeper import ZooKeeperError, broker_address, brokers_from_zookeeper

# What Kafka 3.x writes with a single PLAINTEXT listener (devstack's broker).
MODERN = {
    "features": {}, "listener_security_protocol_map": {"PLAINTEXT": "PLAINTEXT"},
    "endpoints": ["PLAINTEXT://127.0.0.1:9092"], "jmx_port": -1, "port": 9092, "host": "127.0.0.1",
    "version": 5, "timestamp": "1795553598360",
}
# Named listeners: INTERNAL and REPLICATION are plaintext, EXTERNAL is SASL_SSL; no PLAINTEXT listener
# name, so Kafka writes host null / port -1.
NAMED = {
    "listener_security_protocol_map": {"INTERNAL": "PLAINTEXT", "EXTERNAL": "SASL_SSL", "REPLICATION": "PLAINTEXT"},
    "endpoints": ["EXTERNAL://kafka.example.com:9094", "INTERNAL://10.0.0.5:9092", "REPLICATION://10.0.0.5:9093"],
    "jmx_port": -1, "host": None, "port": -1, "version": 4, "rack": "r1",
}


def reg(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def test_modern_registration_uses_the_plaintext_endpoint() -> None:
    assert broker_address(reg(MODERN)) == "127.0.0.1:9092"


def test_endpoint_wins_over_host_and_port() -> None:
    data = {**MODERN, "endpoints": ["PLAINTEXT://advertised.example.com:19092"]}
    assert broker_address(reg(data)) == "advertised.example.com:19092"


def test_named_listeners_map_to_protocols_first_match_in_order() -> None:
    assert broker_address(reg(NAMED)) == "10.0.0.5:9092"
    assert broker_address(reg(NAMED), security_protocol="SASL_SSL") == "kafka.example.com:9094"
    assert broker_address(reg(NAMED), security_protocol="sasl_ssl") == "kafka.example.com:9094"


def test_without_protocol_map_the_listener_name_is_the_protocol() -> None:
    # Kafka 0.9 / 0.10.0 (registration version 2/3)
    data = {"endpoints": ["SSL://h1:9093", "PLAINTEXT://h1:9092"], "host": "h1", "port": 9092, "version": 2}
    assert broker_address(reg(data)) == "h1:9092"
    assert broker_address(reg(data), security_protocol="SSL") == "h1:9093"


def test_host_and_port_only_kafka_08() -> None:
    data = {"jmx_port": -1, "timestamp": "1412000000000", "host": "old-broker", "version": 1, "port": 9092}
    assert broker_address(reg(data)) == "old-broker:9092"
    assert broker_address(json.dumps(data)) == "old-broker:9092"


def test_host_and_port_are_the_plaintext_listener_only() -> None:
    data = {"host": "old-broker", "port": 9092, "version": 1}
    with pytest.raises(ZooKeeperError, match=r"/brokers/ids/3 has no SSL endpoint"):
        broker_address(reg(data), security_protocol="SSL", broker_id="3")


def test_ipv6_addresses_keep_or_gain_brackets() -> None:
    assert broker_address(reg({"endpoints": ["PLAINTEXT://[::1]:9092"]})) == "[::1]:9092"
    assert broker_address(reg({"host": "fe80::1", "port": 9092})) == "[fe80::1]:9092"


def test_no_endpoint_for_the_protocol_is_an_error() -> None:
    with pytest.raises(ZooKeeperError, match=r"/brokers/ids/5 has no SSL endpoint"):
        broker_address(reg(NAMED), security_protocol="SSL", broker_id="5")


def test_plaintext_wanted_but_only_sasl_listener_and_null_host() -> None:
    data = {"listener_security_protocol_map": {"EXTERNAL": "SASL_SSL"}, "endpoints": ["EXTERNAL://h:9094"],
            "host": None, "port": -1}
    with pytest.raises(ZooKeeperError, match="has no PLAINTEXT endpoint"):
        broker_address(reg(data))


@pytest.mark.parametrize("endpoint", ["PLAINTEXT:/h:9092", "PLAINTEXT://h", "PLAINTEXT://:9092", "PLAINTEXT://h:-1"])
def test_malformed_endpoints_are_skipped_for_the_fallback(endpoint: str) -> None:
    assert broker_address(reg({"endpoints": [endpoint], "host": "fallback", "port": 9092})) == "fallback:9092"
    with pytest.raises(ZooKeeperError, match="no PLAINTEXT endpoint"):
        broker_address(reg({"endpoints": [endpoint]}))


@pytest.mark.parametrize(("data", "message"), [
    (b"{not json", r"/brokers/ids/9 is not valid JSON"),
    (b"", r"/brokers/ids/9 is not valid JSON"),
    (b"\xff\xfe\x00", r"/brokers/ids/9 is not valid JSON"),
    (b'["PLAINTEXT://h:1"]', r"/brokers/ids/9 is not a JSON object"),
    (b"null", r"/brokers/ids/9 is not a JSON object"),
])
def test_bad_json_is_a_zookeeper_error(data: bytes, message: str) -> None:
    with pytest.raises(ZooKeeperError, match=message) as caught:
        broker_address(data, broker_id="9")
    assert isinstance(caught.value, FlafkaError)
    assert caught.value.retriable is False


@pytest.mark.parametrize("connect", ["zk:notaport", "zk:2181,:2181"])
def test_invalid_connect_string_is_reported_without_connecting(connect: str) -> None:
    with pytest.raises(ZooKeeperError, match="invalid ZooKeeper connect string"):
        brokers_from_zookeeper(connect, timeout=1.0)
