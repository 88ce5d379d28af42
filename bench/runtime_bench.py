"""Throughput of the agent runtime: seq -> memory -> null and seq -> memory -> file_roll.

Runs a real Agent (the same code path as ``flafka-agent``) in-process, with a seq source of
``--events`` events, 100-byte bodies (an interceptor-free pipeline; bodies are padded by a custom seq
size), batch 1000, and reports events/s from the first event to the last one drained.

    python bench/runtime_bench.py                  # both pipelines, 2,000,000 events
    python bench/runtime_bench.py --pipeline null --events 5000000
    python bench/runtime_bench.py --pipeline null --poison 1000   # + an interceptor failing on 1 event in 1000

With ``--poison N`` the source has an interceptor that raises on every N-th event (``--poison 0``: the same
interceptor never raises); the failing events are found by the channel processor and dropped (counted), so
the figure is the cost of bad events on the pipeline's throughput.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout, whatever is installed

from flafka.config.loader import plan_from_properties
from flafka.config.properties import parse_properties
from flafka.runtime.agent import Agent

CONFIG = """
a.sources = r1
a.channels = c1
a.sinks = k1
a.sources.r1.type = bench.padded_seq:PaddedSequenceSource
a.sources.r1.channels = c1
a.sources.r1.batchSize = {batch}
a.sources.r1.totalEvents = {events}
a.sources.r1.bodySize = {body}
a.channels.c1.type = memory
a.channels.c1.capacity = {capacity}
a.channels.c1.transactionCapacity = {batch}
a.sinks.k1.channel = c1
"""

POISON = """
a.sources.r1.interceptors = poison
a.sources.r1.interceptors.poison.type = bench.poison:PoisonInterceptor
a.sources.r1.interceptors.poison.every = {every}
"""

SINKS = {
    "null": "a.sinks.k1.type = null\na.sinks.k1.batchSize = {batch}\n",
    "file_roll": "a.sinks.k1.type = file_roll\na.sinks.k1.sink.batchSize = {batch}\n"
    "a.sinks.k1.sink.directory = {directory}\na.sinks.k1.sink.rollInterval = 0\n",
}


def run(pipeline: str, events: int, batch: int, body: int, poison: int | None) -> float:
    with tempfile.TemporaryDirectory() as directory:
        text = (CONFIG + SINKS[pipeline] + (POISON if poison is not None else "")).format(
            batch=batch, events=events, body=body, capacity=batch * 100, directory=directory, every=poison
        )
        plan = plan_from_properties(parse_properties(text, "bench"), "a").plan
        agent = Agent(plan)
        started = time.perf_counter()
        agent.start()
        sink, source = agent.sinks["k1"], agent.sources["r1"]
        while sink.counter.event_drain_success_count + source.counter.event_drop_count < events:
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        agent.stop(5)
        if pipeline == "file_roll":
            lines = sum(p.read_bytes().count(b"\n") for p in Path(directory).iterdir())
            assert lines == events - source.counter.event_drop_count, (lines, events)
    return events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipeline", choices=[*SINKS, "all"], default="all")
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--body", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--poison", type=int, default=None, metavar="N",
                        help="add an interceptor raising on every N-th event (0: never raising)")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for pipeline in SINKS if args.pipeline == "all" else [args.pipeline]:
        rates = [run(pipeline, args.events, args.batch, args.body, args.poison) for _ in range(args.repeat)]
        chain = "" if args.poison is None else f"interceptor failing 1 in {args.poison or 'never'} -> "
        print(f"seq -> {chain}memory -> {pipeline}: best {max(rates):,.0f} events/s, median "
              f"{sorted(rates)[len(rates) // 2]:,.0f} events/s ({args.events:,} events, batch {args.batch}, "
              f"{args.body}-byte bodies)")


if __name__ == "__main__":
    main()
