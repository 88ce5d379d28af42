"""Kafka pipeline benchmarks against the devstack broker (real Kafka on loopback).

    eval "$(python -m devstack up)"
    python bench/kafka_bench.py                      # every measurement, 300,000 records per size
    python bench/kafka_bench.py --only raw,null --records 500000

Measurements (each on a fresh topic, prefilled before timing starts):
  raw      kafka-python KafkaConsumer reading the topic: the ceiling for the source
  raw-produce  kafka-python KafkaProducer writing as fast as it can: the ceiling for the Kafka sink
  null     Kafka source -> memory channel -> null sink
  kafka    Kafka source -> memory channel -> Kafka sink (acks=1)
  latency  Kafka -> memory -> Kafka at a fixed rate (--rate, default 1000/s), small batches, p50/p99 of
           the pipeline's own latency (broker LogAppendTime on the output topic minus on the input topic)
           and of client to client (load generator's send -> reader's poll, which adds two kafka-python
           hops). The load generator and the reader run in their own processes; timing starts after a
           warm-up record went through.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import struct
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kafka import KafkaConsumer, KafkaProducer

from flafka.config.loader import plan_from_properties
from flafka.config.properties import parse_properties
from flafka.kafka.client_config import CONSUMER_RETRY_BACKOFF_MS
from flafka.runtime.agent import Agent
from tests.integration.kafka_tools import KafkaTools


def prefill(tools: KafkaTools, records: int, size: int, partitions: int) -> str:
    topic = tools.create_topic(partitions=partitions, prefix=f"bench{size}")
    producer = KafkaProducer(bootstrap_servers=tools.bootstrap, acks=1, enable_idempotence=False,
                             linger_ms=20, batch_size=512 * 1024)
    body = b"x" * size
    for _ in range(records):
        producer.send(topic, value=body)
    producer.flush()
    producer.close()
    return topic


def raw_consume(bootstrap: str, topic: str, records: int) -> float:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"raw-{uuid.uuid4().hex[:8]}",
                             auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=1000)
    got = 0
    started = None
    while got < records:
        for batch in consumer.poll(timeout_ms=1000, max_records=1000).values():
            if started is None:
                started = time.perf_counter()
            got += len(batch)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return records / elapsed


def raw_produce(bootstrap: str, records: int, size: int) -> float:
    """kafka-python KafkaProducer alone (acks=1, linger 5 ms): the ceiling for the Kafka sink."""
    topic = KafkaTools(bootstrap).create_topic(4, prefix="rawprod")
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, enable_idempotence=False, linger_ms=5,
                             batch_size=524288)
    body = b"x" * size
    started = time.perf_counter()
    for _ in range(records):
        producer.send(topic, value=body)
    producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    return records / elapsed


def pipeline(bootstrap: str, topic: str, records: int, sink: str) -> float:
    out_topic = f"{topic}-out"
    sinks = {
        "null": "a.sinks.k1.type = null\na.sinks.k1.batchSize = 1000\n",
        "kafka": f"a.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink\n"
                 f"a.sinks.k1.kafka.bootstrap.servers = {bootstrap}\na.sinks.k1.kafka.topic = {out_topic}\n"
                 f"a.sinks.k1.flumeBatchSize = 1000\na.sinks.k1.kafka.producer.linger.ms = 5\n"
                 f"a.sinks.k1.allowTopicOverride = false\n"
                 f"a.sinks.k1.kafka.producer.batch.size = 524288\n",
    }
    text = f"""
a.sources = r1
a.channels = c1
a.sinks = k1
a.sources.r1.type = kafka
a.sources.r1.channels = c1
a.sources.r1.kafka.bootstrap.servers = {bootstrap}
a.sources.r1.kafka.topics = {topic}
a.sources.r1.kafka.consumer.group.id = pipe-{uuid.uuid4().hex[:8]}
a.sources.r1.kafka.consumer.auto.offset.reset = earliest
a.sources.r1.batchSize = 1000
a.sources.r1.batchDurationMillis = 100
a.channels.c1.type = memory
a.channels.c1.capacity = 100000
a.channels.c1.transactionCapacity = 1000
a.sinks.k1.channel = c1
{sinks[sink]}"""
    agent = Agent(plan_from_properties(parse_properties(text, "bench"), "a").plan)
    agent.start()
    source = None
    started = None
    try:
        while True:
            source = agent.sources["r1"]
            if started is None and source.counter.event_received_count:
                started = time.perf_counter()
            if agent.sinks["k1"].counter.event_drain_success_count >= records:
                break
            time.sleep(0.005)
        elapsed = time.perf_counter() - (started or time.perf_counter())
    finally:
        agent.stop(10)
    return records / elapsed


_WARM_UP = b"w"


def _generate(bootstrap: str, topic: str, total: int, rate: int, warm: Any) -> None:
    """Load generator (own process): warm-up records until one came out, then ``total`` at ``rate``/s."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, enable_idempotence=False, linger_ms=0)
    while not warm.is_set():
        producer.send(topic, value=struct.pack(">d", time.time()) + _WARM_UP)
        producer.flush()
        warm.wait(0.05)
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        producer.send(topic, value=struct.pack(">d", time.time()) + b"x" * 92)
    producer.flush()
    producer.close()


def _read(bootstrap: str, topics: tuple[str, str], total: int, *, timeout_s: float, warm: Any,
          results: Any) -> None:
    """Reader (own process): per measured record, (client to client, broker to broker) latency in seconds.

    Client to client: produced by the load generator → read from the output topic by this reader.
    Broker to broker: appended to the input topic → appended to the output topic (both topics stamp
    records with the broker's LogAppendTime, in ms), the pipeline alone."""
    topic_in, topic_out = topics
    consumer = KafkaConsumer(topic_in, topic_out, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=f"latc-{uuid.uuid4().hex[:8]}", fetch_max_wait_ms=5,
                             retry_backoff_ms=CONSUMER_RETRY_BACKOFF_MS)  # as flafka's consumers
    appended_in: dict[bytes, int] = {}
    out: list[tuple[bytes, float, int]] = []  # (value, client to client, output append time)
    deadline = time.monotonic() + timeout_s
    while len(out) < total and time.monotonic() < deadline:
        polled = consumer.poll(timeout_ms=100)
        now = time.time()
        for tp, batch in polled.items():
            for record in batch:
                if record.value[8:] == _WARM_UP:
                    if tp.topic == topic_out:
                        warm.set()
                elif tp.topic == topic_in:
                    appended_in[record.value] = record.timestamp
                else:
                    out.append((record.value, now - struct.unpack(">d", record.value[:8])[0], record.timestamp))
    consumer.close()
    results.put([(client, (appended - appended_in[value]) / 1000.0) for value, client, appended in out
                 if value in appended_in])


def latency(bootstrap: str, rate: int, seconds: float) -> tuple[dict[str, tuple[float, float, float]], int, int]:
    """{"client": (p50, p99, max) ms, "broker": …}, records measured, records sent. The agent runs in this
    process; the load generator and the reader each run in their own, so neither competes with the agent
    for the GIL. Measuring starts once a warm-up record went all the way through (group joins are not
    latency)."""
    tools = KafkaTools(bootstrap)
    append_time = {"message.timestamp.type": "LogAppendTime"}
    topic_in = tools.create_topic(1, prefix="lat-in", configs=append_time)
    topic_out = tools.create_topic(1, prefix="lat-out", configs=append_time)
    text = f"""
a.sources = r1
a.channels = c1
a.sinks = k1
a.sources.r1.type = kafka
a.sources.r1.channels = c1
a.sources.r1.kafka.bootstrap.servers = {bootstrap}
a.sources.r1.kafka.topics = {topic_in}
a.sources.r1.kafka.consumer.group.id = lat-{uuid.uuid4().hex[:8]}
a.sources.r1.kafka.consumer.fetch.max.wait.ms = 5
a.sources.r1.batchSize = 100
a.sources.r1.batchDurationMillis = 1
a.channels.c1.type = memory
a.channels.c1.capacity = 10000
a.channels.c1.transactionCapacity = 100
a.sinks.k1.type = kafka
a.sinks.k1.channel = c1
a.sinks.k1.kafka.bootstrap.servers = {bootstrap}
a.sinks.k1.kafka.topic = {topic_out}
a.sinks.k1.flumeBatchSize = 100
a.sinks.k1.allowTopicOverride = false
a.sinks.k1.kafka.producer.linger.ms = 0
"""
    agent = Agent(plan_from_properties(parse_properties(text, "bench"), "a").plan)
    agent.start()
    total = int(rate * seconds)
    context = multiprocessing.get_context("spawn")  # no fork of a process with running threads
    warm = context.Event()
    results = context.Queue()
    reader = context.Process(target=_read, args=(bootstrap, (topic_in, topic_out), total),
                             kwargs={"timeout_s": seconds + 60, "warm": warm, "results": results})
    generator = context.Process(target=_generate, args=(bootstrap, topic_in, total, rate, warm))
    try:
        reader.start()
        generator.start()
        samples: list[tuple[float, float]] = results.get(timeout=seconds + 90)
        generator.join(30)
        reader.join(30)
    finally:
        for process in (generator, reader):
            if process.is_alive():
                process.kill()
        agent.stop(10)
    if not samples:
        sys.exit("latency: no record came out of the pipeline")
    figures = {}
    for name, column in (("client", 0), ("broker", 1)):
        ms = sorted(sample[column] * 1000 for sample in samples)
        figures[name] = (ms[len(ms) // 2], ms[min(len(ms) - 1, int(len(ms) * 0.99))], ms[-1])
    return figures, len(samples), total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--sizes", default="100,1024")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--only", default="raw,raw-produce,null,kafka,latency")
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    bootstrap = os.environ.get("FLAFKA_KAFKA_BOOTSTRAP")
    if not bootstrap:
        sys.exit('start the servers first: eval "$(python -m devstack up)"')
    only = set(args.only.split(","))
    tools = KafkaTools(bootstrap)
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{args.records:,} records, {args.partitions} partitions")
    for size in (int(s) for s in args.sizes.split(",")):
        topic = prefill(tools, args.records, size, args.partitions)
        for name in ("raw", "raw-produce", "null", "kafka"):
            if name not in only:
                continue
            if name == "raw":
                rate = raw_consume(bootstrap, topic, args.records)
            elif name == "raw-produce":
                rate = raw_produce(bootstrap, args.records, size)
            else:
                rate = pipeline(bootstrap, topic, args.records, name)
            label = {"raw": "raw kafka-python consumer", "raw-produce": "raw kafka-python producer",
                     "null": "Kafka -> memory -> null", "kafka": "Kafka -> memory -> Kafka"}[name]
            print(f"{size:>5} B  {label:<28} {rate:>10,.0f} events/s {rate * size / 1e6:>8.1f} MB/s", flush=True)
    if "latency" in only:
        figures, n, sent = latency(bootstrap, args.rate, args.seconds)
        print(f"latency Kafka -> memory -> Kafka at {args.rate}/s ({n:,} of {sent:,} events):")
        for name, label in (("broker", "input append -> output append"), ("client", "producer send -> consumer read")):
            p50, p99, worst = figures[name]
            print(f"  {label:<32} p50 {p50:5.1f} ms  p99 {p99:5.1f} ms  max {worst:6.1f} ms")


if __name__ == "__main__":
    main()
