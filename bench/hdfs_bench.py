"""Kafka → HDFS throughput against devstack's real Kafka and HDFS.

    eval "$(python -m devstack up)"
    python bench/hdfs_bench.py                        # every combination, 200,000 records of 1 KB
    python bench/hdfs_bench.py --channels memory --file-types DataStream --batches 1000 --buckets 1
    python bench/hdfs_bench.py --source seq            # the sink's own ceiling: 1 KB events generated in-process

Each run prefills a 4-partition topic with 1 KB records, then times a real Agent (Kafka source → memory
or file channel → HDFS sink) from its first event to the last one committed, and reports events/s, MB/s
of event bodies into HDFS, and the HDFS sink's time per batch (write + hsync of every touched file).
``--buckets 8`` spreads the events over 8 directories (``%{bucket}`` from a header an interceptor sets).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.kafka_bench import fill
from flafka.config.loader import plan_from_properties
from flafka.config.properties import parse_properties
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.runtime.agent import Agent
from flafka.sinks.hdfs.sink import HdfsSink
from tests.integration.kafka_tools import KafkaTools

SIZE = 1024


class BucketInterceptor(Interceptor):
    """Sets header ``bucket`` to 0..7 round robin (the 8-bucket runs)."""

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        for n, event in enumerate(events):
            event.headers["bucket"] = str(n % 8)
        return events


def prefill(tools: KafkaTools, records: int) -> str:
    topic = tools.create_topic(partitions=4, prefix="hdfsbench")
    fill(tools.bootstrap, topic, records, b"x" * (SIZE - 1))
    return topic


def run(bootstrap: str, hdfs_url: str, topic: str | None, records: int, *, channel: str, file_type: str,
        batch: int, buckets: int, work: Path) -> tuple[float, list[float]]:
    base = f"/bench-{uuid.uuid4().hex[:8]}"
    channels = {
        "memory": f"a.channels.c1.type = memory\na.channels.c1.capacity = {max(100_000, 4 * batch)}\n"
                  f"a.channels.c1.transactionCapacity = {batch}\n",
        "file": f"a.channels.c1.type = file\na.channels.c1.checkpointDir = {work / 'cp'}\n"
                f"a.channels.c1.dataDirs = {work / 'data'}\na.channels.c1.capacity = 1000000\n"
                f"a.channels.c1.transactionCapacity = {batch}\n",
    }
    path = f"{hdfs_url}{base}" + ("/%{bucket}" if buckets > 1 else "")
    source = (f"""
a.sources.r1.type = kafka
a.sources.r1.kafka.bootstrap.servers = {bootstrap}
a.sources.r1.kafka.topics = {topic}
a.sources.r1.kafka.consumer.group.id = hdfs-{uuid.uuid4().hex[:8]}
a.sources.r1.kafka.consumer.auto.offset.reset = earliest
a.sources.r1.batchDurationMillis = 100
""" if topic is not None else f"""
a.sources.r1.type = bench.padded_seq:PaddedSequenceSource
a.sources.r1.totalEvents = {records}
a.sources.r1.bodySize = {SIZE - 1}
""")
    text = f"""
a.sources = r1
a.channels = c1
a.sinks = k1
a.sources.r1.channels = c1
a.sources.r1.batchSize = {min(batch, 1000)}
{source}
{"a.sources.r1.interceptors = b" if buckets > 1 else ""}
{"a.sources.r1.interceptors.b.type = bench.hdfs_bench:BucketInterceptor" if buckets > 1 else ""}
{channels[channel]}
a.sinks.k1.type = hdfs
a.sinks.k1.channel = c1
a.sinks.k1.hdfs.path = {path}
a.sinks.k1.hdfs.fileType = {file_type}
a.sinks.k1.hdfs.batchSize = {batch}
a.sinks.k1.hdfs.rollCount = 0
a.sinks.k1.hdfs.rollSize = 134217728
a.sinks.k1.hdfs.rollInterval = 0
a.sinks.k1.hdfs.journalDir = {work / 'journal'}
"""
    agent = Agent(plan_from_properties(parse_properties(text, "bench"), "a").plan)
    agent.start()
    sink = agent.sinks["k1"]
    assert isinstance(sink, HdfsSink)
    batch_times: list[float] = []
    original = sink.deliver

    def timed(events: list[Event]) -> None:
        began = time.perf_counter()
        original(events)
        batch_times.append(time.perf_counter() - began)

    sink.deliver = timed  # type: ignore[method-assign]  # bench instrumentation only
    started = None
    try:
        while sink.counter.event_drain_success_count < records:
            if started is None and agent.sources["r1"].counter.event_received_count:
                started = time.perf_counter()
            time.sleep(0.005)
        elapsed = time.perf_counter() - (started or time.perf_counter())
    finally:
        agent.stop(30)
    return records / elapsed, batch_times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--source", choices=("kafka", "seq"), default="kafka")
    parser.add_argument("--channels", default="memory,file")
    parser.add_argument("--file-types", default="DataStream,SequenceFile")
    parser.add_argument("--batches", default="1000,10000")
    parser.add_argument("--buckets", default="1,8")
    args = parser.parse_args()
    bootstrap, hdfs_url = os.environ["FLAFKA_KAFKA_BOOTSTRAP"], os.environ["FLAFKA_HDFS_URL"]
    tools = KafkaTools(bootstrap)
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.records:,} records of {SIZE} B")
    for channel in args.channels.split(","):
        for file_type in args.file_types.split(","):
            for batch in (int(b) for b in args.batches.split(",")):
                for buckets in (int(b) for b in args.buckets.split(",")):
                    topic = prefill(tools, args.records) if args.source == "kafka" else None
                    with tempfile.TemporaryDirectory() as work:
                        rate, times = run(bootstrap, hdfs_url, topic, args.records, channel=channel,
                                          file_type=file_type, batch=batch, buckets=buckets, work=Path(work))
                    print(f"{args.source:5} -> {channel:6} -> HDFS {file_type:12} batch {batch:>5} buckets {buckets}: "
                          f"{rate:9,.0f} events/s {rate * SIZE / 1e6:6.1f} MB/s; sink batch p50 "
                          f"{statistics.median(times) * 1000:6.1f} ms", flush=True)


if __name__ == "__main__":
    main()
