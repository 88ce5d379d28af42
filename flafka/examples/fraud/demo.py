"""``make demo``: the Flafka post's fraud pipeline, end to end, on real servers.

1. servers: Kafka, ZooKeeper, HDFS, HBase + Thrift (:mod:`~flafka.examples.fraud.stack`);
2. topics ``flume.txn``, ``flume.auths``, ``flume.txn.dlq`` (LogAppendTime, for latency), HBase seeded;
3. two agents from ``conf/fraud/``: ``enrich`` (Kafka → FraudEventInterceptor → Kafka) and ``ingest``
   (Kafka → HDFS, through a memory channel or, with ``--layout kafka-channel``, the topic as the channel);
4. ``count`` transactions at ``rate`` per second, progress every 5 s;
5. every transaction's outcome read back from Kafka and HDFS: counts, latency p50/p95/p99;
6. everything it started stopped. Exit status 1 when a transaction is missing from either destination.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import happybase
import hdfs_native
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from flafka.examples.fraud.generator import TransactionMaker, send_steadily
from flafka.examples.fraud.results import Collector, Outcome, hdfs_ids, percentile
from flafka.examples.fraud.seed_data import seed
from flafka.examples.fraud.stack import Servers
from flafka.sinks.hbase.config import parse_address

__all__ = ["CONF", "DemoReport", "Options", "main_demo", "run"]

CONF = Path(__file__).resolve().parents[3] / "conf" / "fraud"
INPUT, OUTPUT, DEAD_LETTERS = "flume.txn", "flume.auths", "flume.txn.dlq"
HDFS_DIR = "/flafka/txn/flume.txn"
LAYOUTS = {"memory": ("kafka-to-hdfs.properties", "flafka-fraud-ingest"),
           "kafka-channel": ("kafka-channel.properties", "flafka-fraud-ingest-channel")}


@dataclass(frozen=True)
class Options:
    count: int = 100_000
    rate: float = 1000.0
    layout: str = "memory"
    unscorable_every: int = 1000
    settle_timeout_s: float = 120.0  #: how long to wait, after the last send, for every outcome
    #: Before the ``count`` measured transactions, this many seconds' worth at the same rate (checked like the
    #: others, timed apart): freshly started servers answer slowly until their JVMs have compiled the hot paths.
    warmup_s: float = 20.0
    keep_dir: bool = True


@dataclass
class DemoReport:
    sent: int
    outcome: Outcome
    in_hdfs: int
    hdfs_lines: int
    missing_kafka: int
    missing_hdfs: int
    send_seconds: float
    failures: list[str]
    warmup: set[str]  #: the transactions sent first, to warm the servers up (not in :meth:`latency`)
    warmup_s: float

    @property
    def ok(self) -> bool:
        return not self.failures and self.missing_kafka == 0 and self.missing_hdfs == 0

    def latency(self) -> tuple[float, float, float, float]:
        """p50, p95, p99 and max of the transactions sent after the warm-up."""
        return _summary(self.outcome.latencies_ms(skip=self.warmup))

    def lines(self) -> list[str]:
        o = self.outcome
        p50, p95, p99, top = self.latency()
        w50, w95, w99, wtop = _summary(o.latencies_of_ms(self.warmup))
        clock = "input append → output append (broker LogAppendTime)" if o.append_times else \
            "record timestamps (the topics are not LogAppendTime: producer clocks)"
        return [
            f"sent           {self.sent:>9,}   in {self.send_seconds:.1f} s "
            f"({self.sent / max(self.send_seconds, 1e-9):,.0f}/s; the first {len(self.warmup):,} to warm up)",
            f"scored         {len(o.scored_ms):>9,}   → {OUTPUT}",
            f"  declined     {len(o.declined):>9,}",
            f"  alerts       {len(o.alerts):>9,}",
            f"dead-lettered  {len(o.dead_lettered):>9,}   → {DEAD_LETTERS} (unknown card or store, bad record)",
            f"in HDFS        {self.in_hdfs:>9,}   ({self.hdfs_lines:,} lines under {HDFS_DIR})",
            f"missing        {self.missing_kafka:>9,}   from Kafka, {self.missing_hdfs:,} from HDFS; "
            f"{o.duplicates:,} duplicate outputs",
            f"latency ms     p50 {p50:.0f}   p95 {p95:.0f}   p99 {p99:.0f}   max {top:.0f}   (the "
            f"{self.sent - len(self.warmup):,} after the warm-up; {clock})",
            f"  warm-up      p50 {w50:.0f}   p95 {w95:.0f}   p99 {w99:.0f}   max {wtop:.0f}   (the first "
            f"{len(self.warmup):,}, {self.warmup_s:.0f} s, while the servers' JVMs compile)",
        ]


def _summary(values: list[int]) -> tuple[float, float, float, float]:
    return (percentile(values, 50), percentile(values, 95), percentile(values, 99),
            float(values[-1]) if values else float("nan"))


def _create_topics(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=30).topics
    wanted = [NewTopic(t, num_partitions=1, replication_factor=1,
                       config={"message.timestamp.type": "LogAppendTime"})
              for t in (INPUT, OUTPUT, DEAD_LETTERS) if t not in existing]
    for topic, future in admin.create_topics(wanted).items() if wanted else ():
        try:
            future.result(30)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise RuntimeError(f"creating topic {topic} failed: {exc}") from exc


def _groups_ready(bootstrap: str, groups: list[str], deadline: float, agents: list[subprocess.Popen[bytes]],
                  logs: list[Path]) -> None:
    """Wait until each consumer group has a member with partitions (the agents read from the first record on)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    while True:
        _check_alive(agents, logs)
        ready = 0
        for future in admin.describe_consumer_groups(groups).values():
            try:
                description = future.result(10)
            except Exception:
                continue
            if any(member.assignment.topic_partitions for member in description.members):
                ready += 1
        if ready == len(groups):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the agents' consumer groups {groups} got no partitions within the deadline")
        time.sleep(0.2)


def _check_alive(agents: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    for agent, log in zip(agents, logs, strict=True):
        if agent.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(f"agent {log.stem} exited with status {agent.returncode}; the end of {log}:\n"
                               + "\n".join(tail))


@contextmanager
def _agent(conf: Path, name: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        agent = subprocess.Popen([sys.executable, "-m", "flafka", "-f", str(conf), "-n", name, "--no-reload-conf"],
                                 env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield agent
        finally:
            _stop(agent)


def _stop(agent: subprocess.Popen[bytes]) -> None:
    if agent.poll() is None:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(30)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(10)


def run(env: dict[str, str], options: Options, say: Callable[[str], None] = print,
        workdir: Path | None = None) -> DemoReport:
    """One demo run against the servers in ``env``; the report (never raises for missing data: see ``ok``)."""
    bootstrap = env["FLAFKA_KAFKA_BOOTSTRAP"]
    workdir = workdir or Path(tempfile.mkdtemp(prefix="flafka-demo-"))
    agent_env = {**os.environ, **env}
    failures: list[str] = []

    _create_topics(bootstrap)
    host, port = parse_address(env["FLAFKA_HBASE_THRIFT"])
    connection = happybase.Connection(host, port, timeout=60_000)
    try:
        people, places = seed(connection)
    finally:
        connection.close()
    say(f"seeded HBase: {people} customers, {places:,} stores; agent logs in {workdir}")

    start = Collector.end_offsets(bootstrap, [INPUT, OUTPUT, DEAD_LETTERS])
    ingest_conf, ingest_group = LAYOUTS[options.layout]
    with ExitStack() as stack:
        logs = [workdir / "enrich.log", workdir / "ingest.log"]
        enrich = stack.enter_context(_agent(CONF / "enrich.properties", "enrich", agent_env, logs[0]))
        ingest = stack.enter_context(_agent(CONF / ingest_conf, "ingest", agent_env, logs[1]))
        agents = [enrich, ingest]
        _groups_ready(bootstrap, ["flafka-fraud-enrich", ingest_group], time.monotonic() + 120, agents, logs)
        say(f"agents up: enrich (conf/fraud/enrich.properties), ingest (conf/fraud/{ingest_conf})")

        collector = Collector(bootstrap, INPUT, OUTPUT, DEAD_LETTERS, start)
        collector.start()
        stack.callback(collector.stop)
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all"})
        maker = TransactionMaker(unscorable_every=options.unscorable_every)

        warm = int(options.warmup_s * options.rate)
        total = warm + options.count

        def progress(sent: Any) -> None:
            _check_alive(agents, logs)
            scored, dead, _ = collector.snapshot()
            if len(sent.ids) <= warm:
                say(f"  warm-up: sent {len(sent.ids):>7,}/{warm:,}   scored {scored:>7,}")
                return
            p99 = percentile(collector.latencies_ms(skip=set(sent.ids[:warm])), 99)
            say(f"  sent {len(sent.ids) - warm:>7,}/{options.count:,}   scored {scored:>7,}   dead-lettered {dead:>5,}"
                f"   p99 so far {p99:.0f} ms")

        say(f"sending {options.count:,} transactions at {options.rate:,.0f}/s to {INPUT}, after {warm:,} "
            f"({options.warmup_s:.0f} s) to warm the servers up")
        began = time.monotonic()
        sent = send_steadily(producer, INPUT, total, options.rate, maker, progress=progress)
        send_seconds = time.monotonic() - began
        failures.extend(f"send: {f}" for f in sent.failed[:5])
        wanted = set(sent.ids)

        deadline = time.monotonic() + options.settle_timeout_s
        while True:
            if collector.answered(wanted) or time.monotonic() > deadline or collector.error:
                break
            _check_alive(agents, logs)
            time.sleep(0.1)
        client = hdfs_native.Client(env["FLAFKA_HDFS_URL"])
        while True:  # the ingest agent's open files are readable up to its last flush
            found, _ = hdfs_ids(client, HDFS_DIR, wanted, include_open=True)
            if len(found) == len(wanted) or time.monotonic() > deadline:
                break
            _check_alive(agents, logs)
            time.sleep(1.0)
        _stop(ingest)  # closes (and renames) its files
        if ingest.returncode not in (0, None):
            failures.append(f"agent ingest exited with status {ingest.returncode} at stop")
        found, lines = hdfs_ids(client, HDFS_DIR, wanted, include_open=False)
        if collector.error:
            failures.append(f"reader: {collector.error}")

    outcome = collector.outcome
    answered = outcome.scored_ms.keys() | outcome.dead_lettered
    warmup = set(sent.ids[:warm])
    return DemoReport(len(wanted), outcome, len(found), lines, len(wanted - answered), len(wanted - found),
                      send_seconds, failures, warmup, options.warmup_s)


def main_demo(options: Options) -> int:
    began = time.monotonic()
    with Servers(say=print) as servers:
        report = run(servers.env, options)
    print()
    print(f"Flafka fraud demo: {options.count:,} transactions at {options.rate:,.0f}/s, HDFS layout "
          f"{options.layout} ({time.monotonic() - began:.0f} s in all)")
    for line in report.lines():
        print("  " + line)
    for failure in report.failures:
        print("  FAILED: " + failure)
    print("  OK: every transaction was scored or dead-lettered, and landed in HDFS" if report.ok
          else "  FAILED: transactions are missing (see above)")
    return 0 if report.ok else 1
