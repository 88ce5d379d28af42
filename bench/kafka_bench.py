"""Kafka pipeline benchmarks against the devstack broker (real Kafka on loopback).

    eval "$(python -m devstack up)"
    python bench/kafka_bench.py                      # every measurement, 300,000 records per size
    python bench/kafka_bench.py --only raw,null --records 500000

Measurements (each on a fresh topic, prefilled before timing starts):
  raw      a confluent-kafka Consumer reading the topic with the Kafka source's default fetch settings:
           the ceiling for the source
  raw-produce  a confluent-kafka Producer writing as fast as it can: the ceiling for the Kafka sink
  null     Kafka source -> memory channel -> null sink
  kafka    Kafka source -> memory channel -> Kafka sink (acks=1)
  latency  Kafka -> memory -> Kafka at a fixed rate (--rate, default 1000/s), small batches, p50/p99 of
           the pipeline's own latency (broker LogAppendTime on the output topic minus on the input topic)
           and of client to client (load generator's send -> reader's poll, which adds two confluent-kafka
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

from confluent_kafka import Consumer, KafkaError, Message, Producer

from flafka.config.loader import plan_from_properties
from flafka.config.properties import parse_properties
from flafka.runtime.agent import Agent
from flafka.sources.kafka.source import CONSUMER_DEFAULTS
from tests.integration.kafka_tools import KafkaTools

#: How long a raw read may take before the bench gives up (a broker that stopped answering).
READ_DEADLINE_S = 600.0


def _failed(error: KafkaError, _msg: Message) -> None:
    # With delivery.report.only.error only failures come here: a record the bench counts on is missing.
    sys.exit(f"produce failed: {error}")


def produce_all(producer: Producer, topic: str, records: int, body: bytes) -> None:
    """``records`` copies of ``body`` through ``producer``, waiting for the broker's acknowledgements.

    poll(0) after each record serves the delivery queue; a full local queue (BufferError) waits for room."""
    for _ in range(records):
        while True:
            try:
                producer.produce(topic, value=body)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(120)
    if left:
        sys.exit(f"{left} records to {topic} were not acknowledged within 120 s")


def fill(bootstrap: str, topic: str, records: int, body: bytes) -> None:
    """Prefill ``topic`` fast: large batches, acks=1 (not timed; only the records matter)."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": 1, "linger.ms": 20, "batch.size": 1024 * 1024,
                         "delivery.report.only.error": True, "on_delivery": _failed})
    produce_all(producer, topic, records, body)


def prefill(tools: KafkaTools, records: int, size: int, partitions: int) -> str:
    topic = tools.create_topic(partitions=partitions, prefix=f"bench{size}")
    fill(tools.bootstrap, topic, records, b"x" * size)
    return topic


def raw_consume(bootstrap: str, topic: str, records: int) -> float:
    """A confluent-kafka Consumer alone: the ceiling for the source.

    It fetches with the source's own defaults (imported, so the two cannot drift apart): the ceiling of that
    source, not of some other tuning."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"raw-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False, **CONSUMER_DEFAULTS})
    consumer.subscribe([topic])
    got = 0
    started = None
    deadline = time.monotonic() + READ_DEADLINE_S
    try:
        while got < records:
            if time.monotonic() > deadline:
                sys.exit(f"raw: read {got:,} of {records:,} records within {READ_DEADLINE_S:g} s")
            for msg in consumer.consume(1000, timeout=1.0):
                if msg.error() is not None:
                    print(f"raw: consumer error: {msg.error()}", file=sys.stderr)
                    continue
                if started is None:
                    started = time.perf_counter()
                got += 1
        elapsed = time.perf_counter() - (started or time.perf_counter())
    finally:
        consumer.close()
    return records / elapsed


def raw_produce(bootstrap: str, records: int, size: int) -> float:
    """A confluent-kafka Producer alone (acks=1, linger 5 ms, 512 KiB batches): the ceiling for the Kafka sink."""
    topic = KafkaTools(bootstrap).create_topic(4, prefix="rawprod")
    producer = Producer({"bootstrap.servers": bootstrap, "acks": 1, "linger.ms": 5, "batch.size": 512 * 1024,
                         "delivery.report.only.error": True, "on_delivery": _failed})
    body = b"x" * size
    started = time.perf_counter()
    produce_all(producer, topic, records, body)
    elapsed = time.perf_counter() - started
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
    # Nagle off (TCP_NODELAY), as kafka-python had it and librdkafka does not by default: a lone small
    # request must not wait in the socket, since the client hops are measured too.
    producer = Producer({"bootstrap.servers": bootstrap, "acks": 1, "linger.ms": 0, "socket.nagle.disable": True})
    while not warm.is_set():
        producer.produce(topic, value=struct.pack(">d", time.time()) + _WARM_UP)
        producer.flush(10)
        warm.wait(0.05)
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # pacing to the requested rate, not synchronisation
        producer.produce(topic, value=struct.pack(">d", time.time()) + b"x" * 92)
        producer.poll(0)
    producer.flush(30)


def _read(bootstrap: str, topics: tuple[str, str], total: int, *, timeout_s: float, warm: Any,
          results: Any) -> None:
    """Reader (own process): per measured record, (client to client, broker to broker) latency in seconds.

    Client to client: produced by the load generator → read from the output topic by this reader.
    Broker to broker: appended to the input topic → appended to the output topic (both topics stamp
    records with the broker's LogAppendTime, in ms), the pipeline alone."""
    topic_in, topic_out = topics
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"latc-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "fetch.wait.max.ms": 5, "socket.nagle.disable": True})
    consumer.subscribe([topic_in, topic_out])
    appended_in: dict[bytes, int] = {}
    out: list[tuple[bytes, float, int]] = []  # (value, client to client, output append time)
    deadline = time.monotonic() + timeout_s
    while len(out) < total and time.monotonic() < deadline:
        # One record per poll(): consume(n, timeout) waits for n records or the whole timeout, which at a
        # fixed rate would add up to the timeout to every client-to-client figure.
        msg = consumer.poll(0.1)
        now = time.time()
        if msg is None or msg.error() is not None or (value := msg.value()) is None:
            continue
        appended = msg.timestamp()[1]  # LogAppendTime: both topics are created with it
        if value[8:] == _WARM_UP:
            if msg.topic() == topic_out:
                warm.set()
        elif msg.topic() == topic_in:
            appended_in[value] = appended
        else:
            out.append((value, now - struct.unpack(">d", value[:8])[0], appended))
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
            label = {"raw": "raw confluent-kafka consumer", "raw-produce": "raw confluent-kafka producer",
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
