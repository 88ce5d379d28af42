"""Apache Flume 1.11 and flafka side by side: the same .properties, the same pre-filled topic, alternating runs.

    eval "$(python3 -m devstack up)"                       # Kafka (+ HDFS for hdfs-1k) on 127.0.0.1
    python3 bench/compare_flume.py                         # every workload, 3 pairs, default record counts
    python3 bench/compare_flume.py --only null-100 --pairs 1 --records 300000
    python3 bench/compare_flume.py --only null-100,kafka-100 --agents 2   # flafka 1 process vs 2, no Flume
    python3 bench/compare_flume.py --flafka-ref HEAD       # measure the committed flafka, not the work tree

Workloads (``--only``, comma separated; default all):

  null-100, null-1k   Kafka -> memory -> null, 100 B / 1 KB records
  kafka-100, kafka-1k Kafka -> memory -> Kafka sink (acks=1) into a fresh topic
  file-1k             Kafka -> file channel (fsync per transaction, both agents' default) -> null, 1 KB
  hdfs-1k             Kafka -> memory -> HDFS sink, DataStream, 1 KB (needs FLAFKA_HDFS_URL, HADOOP_CONF_DIR)
  latency             Kafka -> memory -> Kafka at --rate events/s for --seconds: p50/p99 of (output record's
                      LogAppendTime - input record's LogAppendTime), and the agent's CPU % of one core

How a run is measured. Each workload's input topic is filled once (confluent-kafka producer) with ``--records``
records over ``--partitions`` partitions; then runs alternate Flume, flafka, Flume, flafka... (``--pairs``
pairs), each a new agent process with a fresh consumer group and its own temporary directory (properties,
file channel, HDFS sink journal, log). Both agents get the same properties text (only the paths and names
that must be fresh per run differ) and the same command-line tail ``-f FILE -n a --no-reload-conf
-Dflume.monitoring.type=http -Dflume.monitoring.port=P``:

- Flume: ``java -Xmx1g -cp bench/flume[:$HADOOP_CONF_DIR]:<flume jars>/* org.apache.flume.node.Application``,
  the jars being devstack's ``flume`` set (devstack/pom.xml, fetched with Maven on first use). log4j at WARN
  (bench/flume/log4j2.xml).
- flafka: ``python bench/flume/flafka_metrics.py`` (``flafka.cli.main``, i.e. ``flafka-agent``, which serves
  Flume's HTTP monitoring document itself on 127.0.0.1 from the same ``-D`` flags; a ``--flafka-ref`` older
  than that serves none), ``--log-level
  WARNING``, with PYTHONPATH set to the flafka tree under test (this repository's work tree by default;
  ``--flafka-root DIR`` or ``--flafka-ref GIT_REF`` for another).

The script polls each agent's own counters (``GET /metrics``, every 20 ms; every 200 ms in ``latency``):
timing starts at the first poll that sees the source's EventReceivedCount above 0 and ends at the first
poll that sees the drained count reach ``--records``. The drained count is the sink's
EventDrainSuccessCount, or, where the agent has no sink counter (Flume's null sink keeps none), the
channel's EventTakeSuccessCount (counted at take commit, the same moment). events/s is the events drained
inside that window divided by its length, so both ends are exact to one poll (20 ms), plus, at the end, the
source's last partial batch (the source waits up to batchDurationMillis = 100 ms to fill it; both agents
have the same setting). CPU is utime + stime of the agent process (all its threads: JIT, GC, librdkafka)
from /proc/PID/stat, read at both ends of the window; CPU-s/M is that over the events in the window, times
a million. The same two figures between the polls that saw 10 % and 90 % drained ("10-90 %") leave out
the JIT warm-up and the tail, where the last partition drains alone and Flume's source backs off 1 s
(backoffSleepIncrement) after an empty poll; they are printed beside the first-to-last figures, which stay
the headline. Peak RSS is VmHWM from /proc/PID/status just before the agent is stopped. The polling itself
costs each agent roughly 1-3 % of a core. After a Kafka-sink run the output topic is checked to hold at
least ``--records`` records (a failure if not); after an HDFS run, the bytes under the run's directory (a
warning if short). The window includes the JVM's JIT compiling Flume's hot paths in its first seconds (its
compiler threads are the agent's CPU too): small ``--records`` charge that warm-up to Flume.

Settings (the same for both): source batchSize 1000, batchDurationMillis 100; memory channel capacity
100,000, transactionCapacity 1000; file channel capacity 1,000,000, transactionCapacity 1000, fsync per
transaction (both defaults); sink batch 1000 (null batchSize, Kafka flumeBatchSize, hdfs.batchSize); Kafka
sink acks=1, linger.ms 5, batch.size 512 KiB, allowTopicOverride=false; HDFS DataStream rolled at 128 MB
only. ``latency`` uses one-partition topics stamped with LogAppendTime, source batchSize 100 with
batchDurationMillis 10, backoffSleepIncrement 10 ms / maxBackoffSleep 100 ms (Flume's guide: lower than the
1 s / 5 s defaults for low latency), fetch.max.wait.ms 5, linger.ms 0, and sink batch ``--latency-batch``
(default 100: Flume's memory channel take waits for each event of a batch, so the sink batch sets how long
a batch fills; 10 waits less but caps the sink at one batch per broker round trip). Timing starts once a
warm-up record went through (group joined, producer connected); the generator runs in this script.
Each run's properties are in the ``--json`` output.

``--agents 2`` (flafka only): two flafka processes with the same properties and consumer group share the
topic (``--partitions``, default 4), against one process; events/s is the combined rate, CPU the sum of
both processes, RSS the sum of their peaks.

Flume's HTTP monitoring server binds 0.0.0.0 (Flume 1.11 has no setting for its address): during a Flume run
its counters are reachable from the network on a random port. That is acceptable on this machine (no
network but the package registries); do not run this where it is not. flafka's binds 127.0.0.1.

One key only one agent reads: ``hdfs.journalDir`` (flafka's HDFS crash journal, put in the run's directory;
Flume ignores unknown keys silently). Flume runs with a 1 GB heap cap. A run that fails (an agent exits, no
event within --start-timeout, not all events within --timeout, a Kafka output short of records) prints the
agent's command and log tail, skips the rest of that workload, and makes the script exit 1 after the other
workloads ran. Agents are stopped by PID (SIGTERM, then SIGKILL after 15 s) in every case. Output topics and
HDFS output are removed after every run, the input topics at the end (``--keep-topics`` keeps them all); a
run's temporary directory is removed when it succeeded and kept, and named, when it failed.

The machine has 2 cores: the broker, the agent and this script share them, so figures are noisy under
other load (the load average is printed). ``--json PATH`` saves every run's raw figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # noqa: E402

from devstack.errors import DevstackError  # noqa: E402
from devstack.jars import ensure_jars, jar_set_version  # noqa: E402

FLUME_CONF = REPO / "bench" / "flume"  # log4j2.xml: the first classpath entry of the Flume JVM
FLAFKA_SHIM = FLUME_CONF / "flafka_metrics.py"
AGENT = "a"
POLL_S = 0.02  # counter polling in throughput runs: the resolution of both ends of the timed window
LATENCY_POLL_S = 0.2  # latency runs only need to know when everything came out; polling less costs less CPU
STOP_GRACE_S = 15.0
LOG_TAIL_LINES = 40
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- workloads -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    name: str
    label: str
    size: int  # record value bytes
    channel: str  # memory | file
    sink: str  # null | kafka | hdfs
    latency: bool = False


WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    Workload("null-100", "Kafka -> memory -> null, 100 B", 100, "memory", "null"),
    Workload("null-1k", "Kafka -> memory -> null, 1 KB", 1024, "memory", "null"),
    Workload("kafka-100", "Kafka -> memory -> Kafka, 100 B", 100, "memory", "kafka"),
    Workload("kafka-1k", "Kafka -> memory -> Kafka, 1 KB", 1024, "memory", "kafka"),
    Workload("file-1k", "Kafka -> file channel -> null, 1 KB", 1024, "file", "null"),
    Workload("latency", "latency Kafka -> memory -> Kafka", 100, "memory", "kafka", latency=True),
    Workload("hdfs-1k", "Kafka -> memory -> HDFS DataStream, 1 KB", 1024, "memory", "hdfs"),
)}
DEFAULT_RECORDS = {100: 1_000_000, 1024: 300_000}


@dataclass(frozen=True)
class Env:
    bootstrap: str
    hdfs_url: str | None
    hadoop_conf: str | None


def properties(w: Workload, env: Env, *, topic_in: str, topic_out: str | None, group: str, work: Path,
               hdfs_dir: str | None, latency_batch: int = 100) -> str:
    """The one properties text both agents run (Flume 1.7+ names, realistic equal settings)."""
    if w.latency:
        # What a latency-minded owner of a 1,000/s stream sets, per Flume's user guide: a source batch ends
        # after batchDurationMillis (10 ms, ~10 events here) instead of waiting for 100 events; an empty poll
        # backs the source off 10 ms (not Flume's 1 s, meant for bulk ingest), at most 100 ms; the broker
        # answers a fetch within 5 ms; the producer sends at once. The sink batch (--latency-batch, default
        # 100) matters for Flume: its memory channel take waits (keep-alive, 3 s) for each event of a batch,
        # so a batch fills by count (100 events: ~100 ms at 1,000/s); a smaller one (10) waits less but caps
        # the sink at one batch per broker round trip, which falls behind when the machine is loaded.
        batch, duration, sink_batch = 100, 10, latency_batch
        extra_source = (f"{AGENT}.sources.r1.backoffSleepIncrement = 10\n{AGENT}.sources.r1.maxBackoffSleep = 100\n"
                        f"{AGENT}.sources.r1.kafka.consumer.fetch.max.wait.ms = 5\n")
    else:
        batch, duration, sink_batch, extra_source = 1000, 100, 1000, ""
    lines = f"""\
{AGENT}.sources = r1
{AGENT}.channels = c1
{AGENT}.sinks = k1

{AGENT}.sources.r1.type = org.apache.flume.source.kafka.KafkaSource
{AGENT}.sources.r1.channels = c1
{AGENT}.sources.r1.kafka.bootstrap.servers = {env.bootstrap}
{AGENT}.sources.r1.kafka.topics = {topic_in}
{AGENT}.sources.r1.kafka.consumer.group.id = {group}
{AGENT}.sources.r1.kafka.consumer.auto.offset.reset = earliest
{AGENT}.sources.r1.batchSize = {batch}
{AGENT}.sources.r1.batchDurationMillis = {duration}
{extra_source}
"""
    if w.channel == "memory":
        lines += f"""\
{AGENT}.channels.c1.type = memory
{AGENT}.channels.c1.capacity = {10_000 if w.latency else 100_000}
{AGENT}.channels.c1.transactionCapacity = {batch}
"""
    else:
        lines += f"""\
{AGENT}.channels.c1.type = file
{AGENT}.channels.c1.checkpointDir = {work / "checkpoint"}
{AGENT}.channels.c1.dataDirs = {work / "data"}
{AGENT}.channels.c1.capacity = 1000000
{AGENT}.channels.c1.transactionCapacity = {batch}
"""
    lines += f"\n{AGENT}.sinks.k1.channel = c1\n"
    if w.sink == "null":
        lines += f"{AGENT}.sinks.k1.type = null\n{AGENT}.sinks.k1.batchSize = {sink_batch}\n"
    elif w.sink == "kafka":
        linger = 0 if w.latency else 5
        lines += f"""\
{AGENT}.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink
{AGENT}.sinks.k1.kafka.bootstrap.servers = {env.bootstrap}
{AGENT}.sinks.k1.kafka.topic = {topic_out}
{AGENT}.sinks.k1.flumeBatchSize = {sink_batch}
{AGENT}.sinks.k1.kafka.producer.acks = 1
{AGENT}.sinks.k1.kafka.producer.linger.ms = {linger}
{AGENT}.sinks.k1.kafka.producer.batch.size = 524288
# The Kafka source sets header 'topic'; Flume's default (true) would write every event back to the input topic.
{AGENT}.sinks.k1.allowTopicOverride = false
"""
    else:
        lines += f"""\
{AGENT}.sinks.k1.type = hdfs
{AGENT}.sinks.k1.hdfs.path = {hdfs_dir}
{AGENT}.sinks.k1.hdfs.fileType = DataStream
{AGENT}.sinks.k1.hdfs.batchSize = {sink_batch}
# Roll by size only (128 MB): Flume's defaults (30 s, 1 KB, 10 events) would roll a file per batch.
{AGENT}.sinks.k1.hdfs.rollSize = 134217728
{AGENT}.sinks.k1.hdfs.rollCount = 0
{AGENT}.sinks.k1.hdfs.rollInterval = 0
# flafka only (Flume ignores it): the sink's crash journal, one per sink, here one per run.
{AGENT}.sinks.k1.hdfs.journalDir = {work / "journal"}
"""
    return lines


# -- agents --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AgentKind:
    """One side of a comparison: Flume, or flafka with ``processes`` processes sharing the consumer group."""

    key: str  # "flume", "flafka", "flafka-x2"
    label: str
    flume: bool
    processes: int = 1


@dataclass
class Launch:
    flume_lib: Path | None
    hadoop_conf: str | None
    flafka_root: Path

    def command(self, kind: AgentKind, props: Path, port: int) -> tuple[list[str], dict[str, str]]:
        tail = ["-f", str(props), "-n", AGENT, "--no-reload-conf"]
        monitoring = ["-Dflume.monitoring.type=http", f"-Dflume.monitoring.port={port}"]
        env = dict(os.environ)
        if kind.flume:
            assert self.flume_lib is not None
            # Flume's HDFS sink finds fs.defaultFS and the client settings on its classpath, as with Hadoop.
            classpath = [str(FLUME_CONF)] + ([self.hadoop_conf] if self.hadoop_conf else []) + [
                f"{self.flume_lib}/*"]
            return (["java", "-Xmx1g", *monitoring, "-cp", ":".join(classpath),
                     "org.apache.flume.node.Application", *tail], env)
        env["PYTHONPATH"] = str(self.flafka_root)
        return [sys.executable, str(FLAFKA_SHIM), *monitoring, *tail, "--log-level", "WARNING"], env


class RunFailed(Exception):
    """A run that could not be measured; the message says why and holds the agent's log tail."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of the process so far (fields 14 and 15 of /proc/PID/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces; it ends at the last ')'
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text[-lines:]) or "(log is empty)"


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    port: int
    log: Path
    cmd: list[str]
    env_shown: str  # the environment the command needs beyond this script's (PYTHONPATH), to re-run it by hand

    def metrics(self) -> dict[str, dict[str, str]] | None:
        """The agent's counters, or None while its monitoring server does not answer yet."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
                document: dict[str, dict[str, str]] = json.loads(response.read())
                return document
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return None


def received(doc: dict[str, dict[str, str]]) -> int:
    return int(doc.get("SOURCE.r1", {}).get("EventReceivedCount", 0))


def drained(doc: dict[str, dict[str, str]]) -> int:
    sink = doc.get("SINK.k1")
    if sink is not None and "EventDrainSuccessCount" in sink:
        return int(sink["EventDrainSuccessCount"])
    # Flume's NullSink keeps no SinkCounter; the channel counts a take when its transaction commits.
    return int(doc.get("CHANNEL.c1", {}).get("EventTakeSuccessCount", 0))


@contextmanager
def agents(kind: AgentKind, launch: Launch, props: list[Path], work: Path) -> Iterator[list[Proc]]:
    """Start the agent process(es); always stop them by PID on the way out."""
    procs: list[Proc] = []
    try:
        for i, path in enumerate(props):
            port = free_port()
            cmd, env = launch.command(kind, path, port)
            log = work / f"agent{i}.log"
            with log.open("wb") as out:
                popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env=env, cwd=work)
            shown = f"PYTHONPATH={shlex.quote(env['PYTHONPATH'])} " if not kind.flume else ""
            procs.append(Proc(popen, port, log, cmd, shown))
        yield procs
    finally:
        for proc in procs:
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in procs:
            try:
                proc.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()  # by PID (Popen.kill), never by name
                proc.popen.wait()


def failure(kind: AgentKind, procs: list[Proc], why: str, work: Path) -> RunFailed:
    parts = [f"{kind.label}: {why} (run directory kept: {work})"]
    for i, proc in enumerate(procs):
        code = proc.popen.poll()
        state = "running" if code is None else f"exited with code {code}"
        parts.append(f"--- process {i} (pid {proc.popen.pid}, {state}): {proc.env_shown}{shlex.join(proc.cmd)}\n"
                     f"--- last lines of {proc.log}:\n{tail(proc.log)}")
    return RunFailed("\n".join(parts))


def check_alive(kind: AgentKind, procs: list[Proc], work: Path) -> None:
    for proc in procs:
        if proc.popen.poll() is not None:
            raise failure(kind, procs, f"agent pid {proc.popen.pid} exited (code {proc.popen.returncode})", work)


def totals(kind: AgentKind, procs: list[Proc], work: Path) -> tuple[int, int] | None:
    """(received, drained) summed over the processes, or None while one of them does not answer yet."""
    check_alive(kind, procs, work)
    docs = [proc.metrics() for proc in procs]
    if any(doc is None for doc in docs):
        return None
    return sum(received(d) for d in docs if d), sum(drained(d) for d in docs if d)


# -- results -------------------------------------------------------------------------------------------------

@dataclass
class RunResult:
    workload: str
    agent: str
    pair: int
    processes: int
    events: int = 0  # drained inside the timed window
    seconds: float = 0.0
    events_per_s: float = 0.0
    cpu_s: float = 0.0
    cpu_s_per_million: float = 0.0
    cpu_pct_of_core: float = 0.0
    peak_rss_mb: float = 0.0
    peak_rss_mb_each: list[float] = field(default_factory=list)
    startup_s: float = 0.0  # agent start -> first event (JVM/Python start, group join)
    # The same between the polls that saw 10 % and 90 % of the events drained: without the first seconds
    # (JIT warm-up) and the tail (the last partition drained alone, a source backing off on an empty poll).
    steady_events_per_s: float = 0.0
    steady_cpu_s_per_million: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    latency_measured: int = 0
    latency_missing: int = 0
    output_records: int | None = None  # Kafka sink: records in the output topic afterwards
    output_bytes: int | None = None  # HDFS sink: bytes under the run's directory afterwards
    properties: str = ""  # what the agent ran (process 0)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


# -- Kafka helpers -------------------------------------------------------------------------------------------

class Kafka:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def create_topic(self, prefix: str, partitions: int, config: dict[str, str] | None = None) -> str:
        name = f"cmpflume-{prefix}-{uuid.uuid4().hex[:10]}"
        for future in self.admin.create_topics([NewTopic(name, partitions, 1, config=config or {})]).values():
            future.result(30)
        # Wait until the broker's metadata lists every partition (a consumer that joins earlier sees fewer).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            topics = self.admin.list_topics(name, timeout=10).topics
            if name in topics and len(topics[name].partitions) == partitions and topics[name].error is None:
                return name
            time.sleep(0.1)
        raise RuntimeError(f"topic {name} did not appear with {partitions} partitions")

    def delete_topics(self, names: list[str]) -> None:
        if not names:
            return
        for topic, future in self.admin.delete_topics(names, operation_timeout=30).items():
            try:
                future.result(60)
            except KafkaException as exc:
                print(f"  (could not delete topic {topic}: {exc})", file=sys.stderr)

    def count(self, topic: str) -> int:
        """Records in the topic: the sum of its partitions' high watermarks (it was empty when created)."""
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"cmpflume-count-{uuid.uuid4().hex}",
                             "enable.auto.commit": False})
        try:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                       for p in meta.partitions)
        finally:
            consumer.close()

    def prefill(self, size: int, records: int, partitions: int) -> str:
        topic = self.create_topic(f"in{size}", partitions)
        producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "1", "enable.idempotence": False,
                             "linger.ms": 20, "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000,
                             "queue.buffering.max.kbytes": 1_048_576})
        body = b"x" * size
        started = time.monotonic()
        for i in range(records):
            while True:
                try:
                    # Round robin, so every partition holds the same number of records. librdkafka's sticky
                    # partitioner left them 35k-69k of 200k: the drain then ends on one partition alone, where
                    # Flume's consumer (kafka-clients 2.7) gets one 1 MB fetch per partition per long poll
                    # (fetch.max.wait.ms 500) and its source backs off 1 s after each empty poll: ~1,000
                    # events/s for the last third, a tail effect, not the agents' throughput.
                    producer.produce(topic, body, partition=i % partitions)
                    break
                except BufferError:  # the local queue is full: let librdkafka send some
                    producer.poll(0.05)
        if producer.flush(120) != 0:
            raise RuntimeError(f"prefill of {topic}: records still unsent after 120 s")
        have = self.count(topic)  # the sum of the partitions' high watermarks
        if have != records:
            raise RuntimeError(f"prefill of {topic}: {have} records instead of {records}")
        print(f"  prefilled {topic}: {records:,} x {size} B over {partitions} partitions in "
              f"{time.monotonic() - started:.1f}s", flush=True)
        return topic

    def append_times(self, topic: str) -> dict[bytes, int]:
        """value -> the broker's LogAppendTime (ms) of every record of a one-partition topic."""
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"cmpflume-read-{uuid.uuid4().hex}",
                             "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        out: dict[bytes, int] = {}
        try:
            end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
            consumer.assign([TopicPartition(topic, 0, 0)])
            deadline = time.monotonic() + 60
            last = -1
            while last < end - 1 and time.monotonic() < deadline:
                for msg in consumer.consume(1000, 1.0):
                    if msg.error():
                        continue
                    value = msg.value()
                    if value is not None:
                        out[value] = msg.timestamp()[1]
                    last = msg.offset() or 0
        finally:
            consumer.close()
        return out


# -- one run -------------------------------------------------------------------------------------------------

@dataclass
class Context:
    env: Env
    kafka: Kafka
    launch: Launch
    records: dict[int, int]  # size -> records
    partitions: int
    start_timeout: float
    timeout: float
    rate: int
    seconds: float
    latency_batch: int
    keep_topics: bool


def hdfs_delete(url: str, path: str) -> None:
    try:
        import hdfs_native  # noqa: PLC0415  # only the hdfs workload needs it

        hdfs_native.Client(url).delete(path, True)
    except Exception as exc:
        print(f"  (could not delete {url}{path}: {exc})", file=sys.stderr)


def hdfs_bytes(url: str, path: str) -> int | None:
    try:
        import hdfs_native  # noqa: PLC0415  # only the hdfs workload needs it

        return int(hdfs_native.Client(url).get_content_summary(path).length)
    except Exception as exc:
        print(f"  (could not measure {url}{path}: {exc})", file=sys.stderr)
        return None


def run_throughput(ctx: Context, w: Workload, kind: AgentKind, pair: int, topic_in: str) -> RunResult:
    records = ctx.records[w.size]
    result = RunResult(w.name, kind.key, pair, kind.processes)
    work = Path(tempfile.mkdtemp(prefix=f"cmpflume-{w.name}-{kind.key}-"))
    group = f"cmpflume-{w.name}-{kind.key}-{uuid.uuid4().hex[:8]}"  # fresh: the run reads from the start
    topic_out = ctx.kafka.create_topic(f"out-{w.name}", ctx.partitions) if w.sink == "kafka" else None
    hdfs_base = f"/cmpflume/{work.name}" if w.sink == "hdfs" else None
    ok = False
    try:
        props: list[Path] = []
        for i in range(kind.processes):
            agent_dir = work / f"agent{i}"
            agent_dir.mkdir()
            hdfs_dir = f"{ctx.env.hdfs_url}{hdfs_base}/agent{i}" if hdfs_base else None
            path = agent_dir / "agent.properties"
            path.write_text(properties(w, ctx.env, topic_in=topic_in, topic_out=topic_out, group=group,
                                       work=agent_dir, hdfs_dir=hdfs_dir))
            props.append(path)
        result.properties = props[0].read_text()
        launched = time.monotonic()
        with agents(kind, ctx.launch, props, work) as procs:
            pids = [p.popen.pid for p in procs]
            t0 = cpu0 = None
            drained0 = 0
            marks: dict[int, tuple[float, float, int]] = {}  # 10 / 90 (% drained) -> (time, CPU, drained)
            while True:
                now = time.monotonic()
                counts = totals(kind, procs, work)
                if counts is not None:
                    got, done = counts
                    if t0 is None and got > 0:
                        t0, cpu0, drained0 = now, sum(cpu_seconds(p) for p in pids), done
                        result.startup_s = now - launched
                    for pct in (10, 90):
                        if pct not in marks and done * 100 >= records * pct:
                            marks[pct] = (now, sum(cpu_seconds(p) for p in pids), done)
                    if done >= records:
                        cpu1 = sum(cpu_seconds(p) for p in pids)
                        break
                if t0 is None and now - launched > ctx.start_timeout:
                    raise failure(kind, procs, f"no event read within {ctx.start_timeout:.0f}s", work)
                if t0 is not None and now - t0 > ctx.timeout:
                    raise failure(kind, procs, f"only {counts[1] if counts else '?'} of {records} events drained "
                                  f"within {ctx.timeout:.0f}s", work)
                time.sleep(POLL_S)
            assert t0 is not None
            assert cpu0 is not None
            result.peak_rss_mb_each = [round(peak_rss_mb(p), 1) for p in pids]
            result.peak_rss_mb = round(sum(result.peak_rss_mb_each), 1)
            result.events = done - drained0
            result.seconds = now - t0
            result.cpu_s = cpu1 - cpu0
            if result.events <= 0 or result.seconds <= 0:
                raise failure(kind, procs, "every event was drained before the first poll saw one: "
                              "use more --records", work)
            result.events_per_s = result.events / result.seconds
            result.cpu_s_per_million = result.cpu_s / result.events * 1e6
            result.cpu_pct_of_core = 100 * result.cpu_s / result.seconds
            (ta, ca, da), (tb, cb, db) = marks[10], marks[90]
            if tb > ta and db > da:  # else both marks fell on one poll: too few records to tell
                result.steady_events_per_s = (db - da) / (tb - ta)
                result.steady_cpu_s_per_million = (cb - ca) / (db - da) * 1e6
        if hdfs_base is not None and ctx.env.hdfs_url:
            # After a graceful stop every file is closed, so the NameNode knows its full length: each event is
            # its body and a newline (the text serializer). A warning only: a writer killed after STOP_GRACE_S
            # leaves a file whose length the NameNode does not know yet.
            result.output_bytes = hdfs_bytes(ctx.env.hdfs_url, hdfs_base)
            if result.output_bytes is not None and result.output_bytes < records * (w.size + 1):
                result.warnings.append(f"{hdfs_base} holds {result.output_bytes:,} bytes, less than "
                                       f"{records:,} events of {w.size + 1} B")
        if topic_out is not None:
            result.output_records = ctx.kafka.count(topic_out)
            if result.output_records < records:
                raise RunFailed(f"{kind.label}: the sink counted {records} events but topic {topic_out} holds "
                                f"{result.output_records} records (run directory kept: {work})")
        ok = True
        return result
    finally:
        if topic_out is not None and not ctx.keep_topics:
            ctx.kafka.delete_topics([topic_out])
        if hdfs_base and ctx.env.hdfs_url:
            hdfs_delete(ctx.env.hdfs_url, hdfs_base)
        if ok:
            shutil.rmtree(work, ignore_errors=True)


def _generate(kafka: Kafka, topic: str, *, stop: threading.Event, warm: threading.Event, total: int, rate: int,
              size: int, sent: list[int], on_begin: Callable[[], None]) -> None:
    """Warm-up records every 50 ms until ``warm`` is set, then ``total`` measured records at ``rate``/s.

    Runs in a thread of this script (librdkafka does the sending outside the GIL); its CPU is not the agent's.
    """
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "1", "linger.ms": 0,
                         "enable.idempotence": False})
    try:
        n = 0
        while not warm.is_set() and not stop.is_set():
            producer.produce(topic, f"w{n:09d}".encode().ljust(size, b"x"))
            producer.poll(0)
            n += 1
            sent[0] += 1
            warm.wait(0.05)
        on_begin()  # the timed window (and the agent's CPU count) starts with the first measured record
        begin = time.monotonic()
        for i in range(total):
            if stop.is_set():
                break
            delay = begin + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            producer.produce(topic, f"m{i:09d}".encode().ljust(size, b"x"))
            producer.poll(0)
            sent[0] += 1
        producer.flush(30)
    finally:
        producer.flush(5)


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def run_latency(ctx: Context, w: Workload, kind: AgentKind, pair: int) -> RunResult:
    result = RunResult(w.name, kind.key, pair, kind.processes)
    work = Path(tempfile.mkdtemp(prefix=f"cmpflume-{w.name}-{kind.key}-"))
    append_time = {"message.timestamp.type": "LogAppendTime"}
    # One partition each: order is kept end to end, and a 1,000/s stream needs no more.
    topic_in = ctx.kafka.create_topic("lat-in", 1, append_time)
    topic_out = ctx.kafka.create_topic("lat-out", 1, append_time)
    group = f"cmpflume-lat-{kind.key}-{uuid.uuid4().hex[:8]}"
    total = int(ctx.rate * ctx.seconds)
    ok = False
    stop, warm = threading.Event(), threading.Event()
    sent: list[int] = [0]
    started: list[tuple[float, float]] = []  # (monotonic time, agent CPU seconds) when measuring began
    pid = 0

    def begin() -> None:
        started.append((time.monotonic(), cpu_seconds(pid)))

    generator = threading.Thread(target=_generate, name="load", daemon=True, args=(ctx.kafka, topic_in), kwargs={
        "stop": stop, "warm": warm, "total": total, "rate": ctx.rate, "size": w.size, "sent": sent, "on_begin": begin})
    try:
        path = work / "agent.properties"
        path.write_text(properties(w, ctx.env, topic_in=topic_in, topic_out=topic_out, group=group, work=work,
                                   hdfs_dir=None, latency_batch=ctx.latency_batch))
        result.properties = path.read_text()
        launched = time.monotonic()
        with agents(kind, ctx.launch, [path], work) as procs:
            pid = procs[0].popen.pid
            generator.start()
            t0 = cpu0 = None
            while True:
                now = time.monotonic()
                counts = totals(kind, procs, work)
                done = counts[1] if counts else 0
                if t0 is None:
                    if done > 0:
                        warm.set()  # a warm-up record went all the way through: the group joined, the sink is up
                        result.startup_s = now - launched
                    if started:  # the generator began the measured records
                        t0, cpu0 = started[0]
                    elif now - launched > ctx.start_timeout:
                        raise failure(kind, procs, f"no event came out within {ctx.start_timeout:.0f}s", work)
                elif not generator.is_alive() and done >= sent[0]:
                    cpu1 = cpu_seconds(pid)
                    break
                elif now - t0 > ctx.seconds + ctx.timeout:
                    raise failure(kind, procs, f"{done} of {sent[0]} events came out within "
                                  f"{ctx.seconds + ctx.timeout:.0f}s", work)
                time.sleep(LATENCY_POLL_S)
            assert t0 is not None
            assert cpu0 is not None
            result.seconds = now - t0
            result.cpu_s = cpu1 - cpu0
            result.cpu_pct_of_core = 100 * result.cpu_s / result.seconds
            result.peak_rss_mb_each = [round(peak_rss_mb(pid), 1)]
            result.peak_rss_mb = result.peak_rss_mb_each[0]
        appended_in, appended_out = ctx.kafka.append_times(topic_in), ctx.kafka.append_times(topic_out)
        latencies = sorted(float(appended_out[v] - appended_in[v]) for v in appended_out
                           if v[:1] == b"m" and v in appended_in)
        result.latency_measured = len(latencies)
        result.latency_missing = total - len(latencies)
        result.events = len(latencies)
        if not latencies:
            raise RunFailed(f"{kind.label}: no measured record reached {topic_out} (run directory kept: {work})")
        if result.latency_missing:
            result.warnings.append(f"{result.latency_missing} of {total} measured records not found in the output")
        result.latency_ms = {"p50": percentile(latencies, 0.50), "p99": percentile(latencies, 0.99),
                             "max": latencies[-1]}
        result.events_per_s = result.events / result.seconds
        result.cpu_s_per_million = result.cpu_s / max(1, result.events) * 1e6
        ok = True
        return result
    finally:
        stop.set()
        if generator.is_alive():
            generator.join(40)
        if not ctx.keep_topics:
            ctx.kafka.delete_topics([topic_in, topic_out])
        if ok:
            shutil.rmtree(work, ignore_errors=True)


# -- reporting -----------------------------------------------------------------------------------------------

def fmt_rate(v: float) -> str:
    return f"{v / 1000:,.1f}k/s" if v < 10_000 else f"{v / 1000:,.0f}k/s"


def ratio(b: float, a: float) -> float:
    return b / a if a else float("nan")


def describe(r: RunResult) -> str:
    if r.latency_ms:
        return (f"p50 {r.latency_ms['p50']:.1f} ms, p99 {r.latency_ms['p99']:.1f} ms, max "
                f"{r.latency_ms['max']:.0f} ms ({r.latency_measured:,} records), CPU {r.cpu_pct_of_core:.0f}% of a "
                f"core, peak RSS {r.peak_rss_mb:.0f} MB")
    return (f"{fmt_rate(r.events_per_s)} ({r.events:,} events in {r.seconds:.2f}s), {r.cpu_s_per_million:.1f} "
            f"CPU-s/M ({r.cpu_pct_of_core:.0f}% of a core), peak RSS {r.peak_rss_mb:.0f} MB, "
            f"first event after {r.startup_s:.1f}s; 10-90 %: {fmt_rate(r.steady_events_per_s)}, "
            f"{r.steady_cpu_s_per_million:.1f} CPU-s/M")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summary_tables(kinds: tuple[AgentKind, AgentKind], results: list[RunResult], order: list[str]) -> str:
    a, b = kinds
    out: list[str] = []
    by: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        if r.error is None:
            by.setdefault((r.workload, r.agent), []).append(r)

    def pairs(name: str) -> list[tuple[RunResult, RunResult]]:
        ra = {r.pair: r for r in by.get((name, a.key), [])}
        rb = {r.pair: r for r in by.get((name, b.key), [])}
        return [(ra[p], rb[p]) for p in sorted(ra) if p in rb]

    throughput = [n for n in order if not WORKLOADS[n].latency and pairs(n)]
    if throughput:
        out.append(f"| workload | {a.label} events/s | {b.label} events/s | ratio | {a.label} CPU-s/M | "
                   f"{b.label} CPU-s/M | ratio | {a.label} peak RSS | {b.label} peak RSS | "
                   f"10-90 % events/s {a.label} / {b.label} (ratio) | pairs |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for name in throughput:
            ps = pairs(name)
            ea, eb = median([x.events_per_s for x, _ in ps]), median([y.events_per_s for _, y in ps])
            ca, cb = median([x.cpu_s_per_million for x, _ in ps]), median([y.cpu_s_per_million for _, y in ps])
            ratio_e = median([ratio(y.events_per_s, x.events_per_s) for x, y in ps])
            ratio_c = median([ratio(y.cpu_s_per_million, x.cpu_s_per_million) for x, y in ps])
            ma, mb = median([x.peak_rss_mb for x, _ in ps]), median([y.peak_rss_mb for _, y in ps])
            sa, sb = median([x.steady_events_per_s for x, _ in ps]), median([y.steady_events_per_s for _, y in ps])
            ratio_s = median([ratio(y.steady_events_per_s, x.steady_events_per_s) for x, y in ps])
            out.append(f"| {WORKLOADS[name].label} | {fmt_rate(ea)} | {fmt_rate(eb)} | {ratio_e:.2f} | {ca:.1f} | "
                       f"{cb:.1f} | {ratio_c:.2f} | {ma:.0f} MB | {mb:.0f} MB | {fmt_rate(sa)} / {fmt_rate(sb)} "
                       f"({ratio_s:.2f}) | {len(ps)} |")
    if "latency" in order and pairs("latency"):
        ps = pairs("latency")
        if out:
            out.append("")
        out.append(f"| workload | {a.label} p50 / p99 | {b.label} p50 / p99 | {a.label} CPU | {b.label} CPU | "
                   f"{a.label} peak RSS | {b.label} peak RSS | pairs |")
        out.append("|---|---|---|---|---|---|---|---|")

        def lat(runs: list[RunResult]) -> str:
            return (f"{median([r.latency_ms['p50'] for r in runs]):.1f} / "
                    f"{median([r.latency_ms['p99'] for r in runs]):.1f} ms")

        xs, ys = [x for x, _ in ps], [y for _, y in ps]
        out.append(f"| {WORKLOADS['latency'].label} | {lat(xs)} | {lat(ys)} | "
                   f"{median([r.cpu_pct_of_core for r in xs]):.0f}% of a core | "
                   f"{median([r.cpu_pct_of_core for r in ys]):.0f}% of a core | "
                   f"{median([r.peak_rss_mb for r in xs]):.0f} MB | {median([r.peak_rss_mb for r in ys]):.0f} MB | "
                   f"{len(ps)} |")
    return "\n".join(out)


def machine() -> dict[str, Any]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr.splitlines()
    return {"cores": os.cpu_count(), "cpu": model, "memory_gb": round(mem_gb, 1), "python": platform.python_version(),
            "java": java[0] if java else "?", "load_average": os.getloadavg()}


def flafka_version(root: Path, ref: str | None) -> str:
    if ref:
        return f"git {ref}"
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "flafka"], capture_output=True,
                           text=True, check=False).stdout.strip()
    return f"{root} at {head or '?'}" + (" + uncommitted changes in flafka/" if dirty else "")


# -- main ----------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Apache Flume 1.11 vs flafka on the same properties and input.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(WORKLOADS), help=f"workloads, comma separated: {', '.join(WORKLOADS)}")
    p.add_argument("--pairs", type=int, default=3, help="runs of each agent, alternating (default 3)")
    p.add_argument("--records", type=int, default=None,
                   help="records per throughput run (default 1,000,000 at 100 B, 300,000 at 1 KB)")
    p.add_argument("--partitions", type=int, default=4, help="partitions of the input (and output) topics")
    p.add_argument("--agents", type=int, choices=(1, 2), default=1,
                   help="2: compare 1 flafka process with 2 sharing the group (no Flume run)")
    p.add_argument("--rate", type=int, default=1000, help="latency: events per second (default 1000)")
    p.add_argument("--seconds", type=float, default=20.0, help="latency: seconds of load (default 20)")
    p.add_argument("--latency-batch", type=int, default=100, choices=range(1, 101), metavar="1..100",
                   help="latency: the sink's flumeBatchSize (default 100; the source's batchSize is 100)")
    p.add_argument("--start-timeout", type=float, default=120.0,
                   help="seconds from an agent's start to its first event (default 120)")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds from the first event to the last one drained (default 300)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--flafka-root", type=Path, default=REPO,
                       help="the flafka tree to run (its directory holding flafka/; default this repository)")
    group.add_argument("--flafka-ref", metavar="GIT_REF",
                       help="run flafka/ as committed at this ref (git archive into a temp dir), e.g. HEAD")
    p.add_argument("--keep-topics", action="store_true", help="do not delete the topics this script created")
    p.add_argument("--json", type=Path, metavar="PATH", help="write every run's raw figures here")
    args = p.parse_args(argv)
    unknown = [n for n in args.only.split(",") if n not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    if args.pairs < 1:
        p.error("--pairs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    order = [n for n in WORKLOADS if n in args.only.split(",")]
    bootstrap = os.environ.get("FLAFKA_KAFKA_BOOTSTRAP")
    if not bootstrap:
        print('start the servers first: eval "$(python3 -m devstack up)"', file=sys.stderr)
        return 2
    env = Env(bootstrap, os.environ.get("FLAFKA_HDFS_URL"), os.environ.get("HADOOP_CONF_DIR"))
    if "hdfs-1k" in order and not (env.hdfs_url and env.hadoop_conf):
        if args.only == ",".join(WORKLOADS):  # the default list: skip what this environment cannot run
            print("# hdfs-1k skipped: FLAFKA_HDFS_URL and HADOOP_CONF_DIR are not set (python3 -m devstack up)")
            order.remove("hdfs-1k")
        else:
            print("hdfs-1k needs FLAFKA_HDFS_URL and HADOOP_CONF_DIR: eval \"$(python3 -m devstack up)\"",
                  file=sys.stderr)
            return 2
    if args.agents == 2 and "latency" in order:
        print("# latency skipped: --agents 2 compares throughput (a 1,000/s stream needs one process)")
        order.remove("latency")
    if not order:
        print("nothing to run", file=sys.stderr)
        return 2

    kinds: tuple[AgentKind, AgentKind]
    if args.agents == 2:
        kinds = (AgentKind("flafka", "flafka x1", flume=False), AgentKind("flafka-x2", "flafka x2", flume=False,
                                                                           processes=2))
    else:
        kinds = (AgentKind("flume", f"Flume {jar_set_version('flume')}", flume=True),
                 AgentKind("flafka", "flafka", flume=False))

    scratch: list[Path] = []
    try:
        flafka_root = args.flafka_root.resolve()
        if args.flafka_ref:
            extracted = Path(tempfile.mkdtemp(prefix="cmpflume-flafka-"))
            scratch.append(extracted)
            archive = subprocess.run(["git", "-C", str(REPO), "archive", args.flafka_ref, "flafka"],
                                     capture_output=True, check=False)
            if archive.returncode != 0:
                print(f"git archive {args.flafka_ref} failed: {archive.stderr.decode(errors='replace')}",
                      file=sys.stderr)
                return 2
            subprocess.run(["tar", "-x", "-C", str(extracted)], input=archive.stdout, check=True)
            flafka_root = extracted
        if not (flafka_root / "flafka" / "__init__.py").is_file():
            print(f"{flafka_root} has no flafka/ package", file=sys.stderr)
            return 2
        flume_lib = None
        if any(k.flume for k in kinds):
            if shutil.which("java") is None:
                print("java is not on PATH (Java 17: apt-get install openjdk-17-jre-headless)", file=sys.stderr)
                return 2
            try:
                flume_lib = ensure_jars("flume", lambda msg: print(f"# {msg}", flush=True))
            except DevstackError as exc:
                print(f"cannot get Flume's jars: {exc}", file=sys.stderr)
                return 2
        launch = Launch(flume_lib, env.hadoop_conf, flafka_root)
        records = {size: args.records or default for size, default in DEFAULT_RECORDS.items()}
        ctx = Context(env, Kafka(bootstrap), launch, records, args.partitions, args.start_timeout, args.timeout,
                      args.rate, args.seconds, args.latency_batch, args.keep_topics)

        info = machine()
        print(f"# command: {shlex.join([sys.executable, *sys.argv])}")
        print(f"# machine: {info['cores']} cores, {info['cpu']}, {info['memory_gb']} GB; Python {info['python']}; "
              f"{info['java']}; load average {' '.join(f'{x:.2f}' for x in info['load_average'])}")
        print(f"# flafka: {flafka_version(flafka_root, args.flafka_ref)}; agents: {kinds[0].label} vs "
              f"{kinds[1].label}; broker {bootstrap}; {args.partitions} partitions", flush=True)
        return run_all(args, ctx, kinds, order, info=info, flafka_root=flafka_root)
    finally:
        for path in scratch:
            shutil.rmtree(path, ignore_errors=True)


def run_all(args: argparse.Namespace, ctx: Context, kinds: tuple[AgentKind, AgentKind], order: list[str], *,
            info: dict[str, Any], flafka_root: Path) -> int:
    results: list[RunResult] = []
    failed: list[str] = []
    topics: dict[int, str] = {}
    try:
        for name in order:
            w = WORKLOADS[name]
            if w.latency:
                print(f"\n## {name}: {w.label} at {args.rate:,}/s for {args.seconds:.0f}s", flush=True)
            else:
                print(f"\n## {name}: {w.label}, {ctx.records[w.size]:,} records", flush=True)
                if w.size not in topics:  # one input per size, shared by its workloads and every run
                    topics[w.size] = ctx.kafka.prefill(w.size, ctx.records[w.size], ctx.partitions)
            try:
                for pair in range(1, args.pairs + 1):
                    done: dict[str, RunResult] = {}
                    for kind in kinds:
                        try:
                            result = (run_latency(ctx, w, kind, pair) if w.latency
                                      else run_throughput(ctx, w, kind, pair, topics[w.size]))
                        except RunFailed as exc:
                            results.append(RunResult(name, kind.key, pair, kind.processes, error=str(exc)))
                            raise
                        results.append(result)
                        done[kind.key] = result
                        print(f"  pair {pair} {kind.label:<12} {describe(result)}"
                              + "".join(f"; WARNING: {m}" for m in result.warnings), flush=True)
                    a, b = (done[k.key] for k in kinds)
                    if w.latency:
                        print(f"  pair {pair} ratio {kinds[1].label}/{kinds[0].label}: p50 "
                              f"{ratio(b.latency_ms['p50'], a.latency_ms['p50']):.2f}, p99 "
                              f"{ratio(b.latency_ms['p99'], a.latency_ms['p99']):.2f}, CPU "
                              f"{ratio(b.cpu_pct_of_core, a.cpu_pct_of_core):.2f}", flush=True)
                    else:
                        print(f"  pair {pair} ratio {kinds[1].label}/{kinds[0].label}: events/s "
                              f"{ratio(b.events_per_s, a.events_per_s):.2f}, CPU-s/M "
                              f"{ratio(b.cpu_s_per_million, a.cpu_s_per_million):.2f}, peak RSS "
                              f"{ratio(b.peak_rss_mb, a.peak_rss_mb):.2f}", flush=True)
            except RunFailed as exc:
                failed.append(name)
                print(f"\nFAILED {name}: {exc}\n(the rest of {name} is skipped)", file=sys.stderr, flush=True)
    finally:
        if not ctx.keep_topics:
            ctx.kafka.delete_topics(list(topics.values()))
        if args.json:
            args.json.write_text(json.dumps({
                "command": [sys.executable, *sys.argv], "machine": info,
                "flafka": flafka_version(flafka_root, args.flafka_ref),
                "agents": [asdict(k) for k in kinds], "records": ctx.records, "partitions": ctx.partitions,
                "runs": [asdict(r) for r in results]}, indent=2))
            print(f"# raw results: {args.json}")

    table = summary_tables(kinds, results, order)
    if table:
        print(f"\n### Medians of per-run figures; ratios are medians of per-pair {kinds[1].label}/{kinds[0].label} "
              f"ratios\n")
        print(table)
    if failed:
        print(f"\nFAILED: {', '.join(failed)} (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
