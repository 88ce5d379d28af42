"""librdkafka's lines go through Python logging, once per kind, not raw on stderr (a broker that is down printed
~19 lines a second). Uses a real client against a closed loopback port: no broker needed."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from confluent_kafka import Consumer

from flafka.kafka.client_logs import client_log_settings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_broker_that_is_down_is_logged_once_per_kind_through_logging(
        caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG, logger="flafka.kafka.librdkafka")
    consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{closed_port()}", "group.id": "g",
                         "reconnect.backoff.ms": 10, "reconnect.backoff.max.ms": 50,
                         **client_log_settings("Kafka source r1")})
    try:
        consumer.subscribe(["t"])
        deadline = time.monotonic() + 10
        # Many reconnect attempts within the window: each logs (or errors) the same way.
        while time.monotonic() < deadline and len(caplog.records) < 2:
            consumer.consume(10, 0.2)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            consumer.consume(10, 0.1)
    finally:
        consumer.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "flafka.kafka.librdkafka"]
    assert lines, "no librdkafka line reached Python logging"
    assert all(line.startswith("Kafka client of Kafka source r1") for line in lines)
    assert any("Connection refused" in line or "ALL_BROKERS_DOWN" in line or "_TRANSPORT" in line for line in lines)
    # ~20 attempts a second for 1+ s: without folding there would be dozens of lines
    assert len(lines) <= 6, lines
    assert "rdkafka" not in capfd.readouterr().err.lower()
