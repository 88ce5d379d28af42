"""Stop and reload with a Kafka channel: a stop keeps its deadline when the broker cannot be reached, and
a reload that replaces a memory channel by a Kafka channel moves the queued events into the topic."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from flafka.channels.kafka import KafkaChannel
from flafka.testing import wait_until
from tests.integration.agents import COLLECT, plan, running
from tests.integration.conftest import REPO_ROOT, Devstack
from tests.integration.kafka_tools import KafkaTools
from tests.unit.runtime import components


def _put_attempts(monitoring: str) -> int:
    with urllib.request.urlopen(f"{monitoring}/metrics", timeout=5) as response:
        return int(json.loads(response.read())["CHANNEL.c1"]["EventPutAttemptCount"])


@pytest.fixture
def unreachable_broker() -> Iterator[str]:
    """A loopback address where no broker listens: the port is bound (so no one else takes it) but not
    listening, so every connection attempt is refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{held.getsockname()[1]}"


def test_stop_keeps_its_deadline_when_the_kafka_channel_cannot_reach_its_broker(
    tmp_path: Path, unreachable_broker: str
) -> None:
    conf = tmp_path / "agent.properties"
    conf.write_text(f"""\
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.channels = c1
a1.channels.c1.type = org.apache.flume.channel.kafka.KafkaChannel
a1.channels.c1.kafka.bootstrap.servers = {unreachable_broker}
a1.channels.c1.kafka.topic = t-{uuid.uuid4().hex[:12]}
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
""")
    log_path = tmp_path / "agent.log"
    with log_path.open("wb") as log_file:
        agent = subprocess.Popen([sys.executable, "-m", "flafka", "-n", "a1", "-f", str(conf), "--no-reload-conf",
                                  "--stop-timeout", "8", "--metrics-port", "0"], cwd=REPO_ROOT,
                                 stdout=subprocess.DEVNULL, stderr=log_file,
                                 env={**os.environ, "PYTHONUNBUFFERED": "1"})
    stack = ExitStack()  # the client's socket, closed however the test ends
    try:
        line = wait_until(lambda: next((ln for ln in log_path.read_text().splitlines()
                                        if "Netcat source r1 listening. address=" in ln), None), timeout=30)
        port = int(line.rsplit(":", 1)[1])
        found = wait_until(lambda: re.search(r"status_page=(http://127\.0\.0\.1:\d+)/ ", log_path.read_text()),
                           timeout=30)
        client = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=30))
        client.sendall(b"one\ntwo\n")
        # The put now waits for the broker (its commit waits for acknowledgements that cannot come). Not the
        # producer's "connection refused" log line: that comes at the channel's start, before any put, and a stop
        # before netcat read the lines would close the socket unread (a reset, not an end of stream).
        wait_until(lambda: _put_attempts(found.group(1)) == 2, timeout=30, message="both events in the put")
        sent = time.monotonic()
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(timeout=40)
        took = time.monotonic() - sent
        reply = client.recv(1024)
    finally:
        stack.close()
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    log = log_path.read_text()
    assert took < 8 + 2, f"the stop took {took:.1f}s"
    assert code == 0  # nothing was lost: the put was never committed, and the client never got its OK
    assert reply == b""
    assert ("WARNING flafka.channels.kafka: Kafka channel c1 stopped while puts were still waiting for Kafka; they "
            "are not committed, so their sources were not acknowledged and send them again. events=2") in log
    assert "Agent a1 stopped. lost_events=0" in log


def test_reload_from_memory_to_kafka_channel_moves_the_queued_events_into_the_topic(
    kafka: KafkaTools, devstack: Devstack, caplog: pytest.LogCaptureFixture
) -> None:
    topic = kafka.create_topic(partitions=1)
    group = f"g-{uuid.uuid4().hex[:8]}"
    held = f"""
    a.sources = r1
    a.channels = c1
    a.sinks = k1
    a.sources.r1.type = seq
    a.sources.r1.channels = c1
    a.sources.r1.batchSize = 500
    a.sources.r1.totalEvents = 4450
    a.channels.c1.type = memory
    a.channels.c1.capacity = 5000
    a.channels.c1.transactionCapacity = 500
    a.sinks.k1.type = {COLLECT}
    a.sinks.k1.channel = c1
    a.sinks.k1.batchSize = 300
    """
    # The new configuration has no source: a restarted seq source would count from 0 again.
    kafka_channel = (f"a.channels.c1.type = org.apache.flume.channel.kafka.KafkaChannel\n"
                     f"a.channels.c1.kafka.bootstrap.servers = {devstack.kafka_bootstrap}\n"
                     f"a.channels.c1.kafka.topic = {topic}\na.channels.c1.kafka.consumer.group.id = {group}\n")
    held = textwrap.dedent(held)
    changed = "\n".join(ln for ln in held.replace("a.channels.c1.type = memory\n", kafka_channel).splitlines()
                        if not ln.startswith("a.sources") and "capacity" not in ln.lower())
    components.reset()
    components.FAILING.add("k1")  # the sink is down: the memory channel holds every event
    try:
        with running(held) as agent:
            wait_until(lambda: agent.channels["c1"].size() == 4450, message="channel filled")
            caplog.set_level(logging.INFO)
            assert agent.apply(plan(changed), timeout=20) == 0
            assert isinstance(agent.channels["c1"], KafkaChannel)
            assert "Channel c1 moved its events into its replacement. events=4450 to=KafkaChannel" in caplog.text
            assert sum(kafka.end_offsets(topic).values()) == 4450
            components.FAILING.discard("k1")
            wait_until(lambda: len(components.DELIVERED["k1"]) >= 4450, timeout=60, message="4450 delivered")
        assert components.DELIVERED["k1"] == [str(i).encode() for i in range(4450)]  # once each, in order
    finally:
        components.reset()
