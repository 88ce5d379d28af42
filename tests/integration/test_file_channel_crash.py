"""Kafka source -> file channel -> file_roll, SIGKILLed at random moments over 20 rounds.

Every record produced to the input topic must appear in the output at least once, nothing may appear
that was never produced, and the duplicates are bounded by what can be in flight at a kill: one source
batch (in the channel, offsets not yet committed) plus one sink batch (written, take not yet committed).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from flafka.testing import wait_until
from tests.integration.conftest import REPO_ROOT, Devstack
from tests.integration.kafka_tools import KafkaTools

ROUNDS = 20
PER_CHUNK = 1000
SOURCE_BATCH = 100
SINK_BATCH = 100


def _config(tmp: Path, bootstrap: str, topic: str, group: str) -> Path:
    conf = tmp / "agent.properties"
    conf.write_text(f"""
a.sources = r1
a.channels = c1
a.sinks = k1
a.sources.r1.type = org.apache.flume.source.kafka.KafkaSource
a.sources.r1.channels = c1
a.sources.r1.kafka.bootstrap.servers = {bootstrap}
a.sources.r1.kafka.topics = {topic}
a.sources.r1.kafka.consumer.group.id = {group}
a.sources.r1.kafka.consumer.auto.offset.reset = earliest
a.sources.r1.batchSize = {SOURCE_BATCH}
a.sources.r1.batchDurationMillis = 100
a.channels.c1.type = file
a.channels.c1.checkpointDir = {tmp / "checkpoint"}
a.channels.c1.dataDirs = {tmp / "data"}
a.channels.c1.capacity = 100000
a.channels.c1.transactionCapacity = 1000
a.sinks.k1.type = file_roll
a.sinks.k1.channel = c1
a.sinks.k1.sink.directory = {tmp / "out"}
a.sinks.k1.sink.batchSize = {SINK_BATCH}
a.sinks.k1.sink.rollInterval = 0
""")
    return conf


def _start(conf: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen([sys.executable, "-m", "flafka", "-n", "a", "-f", str(conf), "--no-reload-conf"],
                                cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=stderr,
                                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def _output(out: Path) -> tuple[list[bytes], int]:
    """Complete lines of every output file, and how many files end in a torn (unterminated) line."""
    lines: list[bytes] = []
    torn = 0
    for path in sorted(out.iterdir()) if out.exists() else []:
        data = path.read_bytes()
        complete, _, rest = data.rpartition(b"\n")
        if rest:
            torn += 1  # a kill during a write; the take was not committed, so the record comes again
        if complete:
            lines.extend(complete.split(b"\n"))
    return lines, torn


def test_sigkill_at_random_moments_loses_nothing(kafka: KafkaTools, devstack: Devstack, tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("FLAFKA_CRASH_SEED", "7")))
    topic = kafka.create_topic(partitions=2)
    conf = _config(tmp_path, devstack.kafka_bootstrap, topic, f"g-{uuid.uuid4().hex[:8]}")
    log = tmp_path / "agent.log"
    produced: list[bytes] = []
    stop = threading.Event()

    def produce() -> None:  # records keep flowing, so the kills land in the middle of batches
        chunk = 0
        while not stop.is_set() and chunk < 300:
            values = [f"c{chunk:03d}-{i:03d}".encode() for i in range(PER_CHUNK)]
            kafka.produce(topic, values)
            produced.extend(values)
            chunk += 1
            stop.wait(0.05)

    producer = threading.Thread(target=produce)
    producer.start()
    kills = 0
    try:
        for _ in range(ROUNDS):
            agent = _start(conf, log)
            time.sleep(rng.uniform(1.0, 3.0))  # the kill moment is random on purpose, not synchronisation
            agent.send_signal(signal.SIGKILL)
            agent.wait(timeout=10)
            kills += 1
    finally:
        stop.set()
        producer.join(timeout=120)
    final = _start(conf, log)
    try:
        wanted = set(produced)
        wait_until(lambda: wanted <= set(_output(tmp_path / "out")[0]), timeout=180, interval=1.0,
                   message=f"every produced record in the output (agent log: {log})")
    finally:
        final.send_signal(signal.SIGTERM)
        assert final.wait(timeout=30) == 0
    lines, torn = _output(tmp_path / "out")
    counts = Counter(lines)
    assert set(counts) == set(produced)  # nothing lost, nothing invented
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= kills * (SOURCE_BATCH + SINK_BATCH), (duplicates, kills)
    assert torn <= kills
    print(f"records={len(produced)} kills={kills} duplicates={duplicates} torn={torn}")  # shown with -s
