"""What the monitoring endpoints cost the hot path: seq → memory → null, with and without them.

    python -m bench.metrics_overhead [--seconds 10] [--pairs 3]     # from the repository root

Each run builds the agent in this process (as the tests do) and counts the events the null sink delivered
over ``--seconds`` (after a 1 s warm-up). "off": no monitoring server. "on": the server of
``--metrics-port`` on a free port, and a client thread in the same process fetching ``/metrics``,
``/metrics/prometheus``, ``/health`` and ``/status`` (what the status page and ``flafka-agent top`` read) every
second (so the client's own cost is charged to "on" too: an upper bound).
Runs alternate off/on for ``--pairs`` pairs; prints each run, the medians, and the median of each pair's on/off
(pairs are neighbours in time, so their ratio cancels the drift a shared machine shows). Goal: on/off ≥ 0.97.

Wall-clock rates on this shared 2-core machine vary by ±15% between runs of the same setting, more than the
goal resolves. So each run also reports events per CPU-second of the process (``time.process_time()``: what
the work cost, whoever else ran), and the "on" runs the wall time the client spent in its requests per second
of run (an upper bound of what serving them took from the pipeline).
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flafka.config.loader import plan_from_properties
from flafka.config.properties import parse_properties
from flafka.monitoring.http import MonitoringServer
from flafka.runtime.agent import Agent

PIPELINE = """
a.sources = r1
a.channels = c1
a.sinks = k1
a.sources.r1.type = seq
a.sources.r1.batchSize = 1000
a.sources.r1.channels = c1
a.channels.c1.type = memory
a.channels.c1.capacity = 100000
a.channels.c1.transactionCapacity = 1000
a.sinks.k1.type = null
a.sinks.k1.batchSize = 1000
a.sinks.k1.logEveryNEvents = 0
a.sinks.k1.channel = c1
"""


@dataclass
class Run:
    rate: float  # events/s, wall clock
    per_cpu_second: float  # events per CPU-second of the process
    scrapes: int = 0
    scrape_seconds: float = 0.0  # wall time inside requests


def _scrape_once(server: MonitoringServer, result: Run) -> None:
    for path in ("/metrics", "/metrics/prometheus", "/health", "/status"):
        began = time.perf_counter()
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                result.scrapes += 1
        finally:
            conn.close()
            result.scrape_seconds += time.perf_counter() - began


def _scrape(server: MonitoringServer, stop: threading.Event, result: Run) -> None:
    while not stop.wait(1.0):
        _scrape_once(server, result)


def run(seconds: float, monitored: bool) -> Run:
    """Events per second (wall and CPU) delivered over ``seconds``, and the scrapes made meanwhile."""
    agent = Agent(plan_from_properties(parse_properties(textwrap.dedent(PIPELINE), "bench.properties"), "a").plan)
    server = MonitoringServer(agent, port=0) if monitored else None
    stop = threading.Event()
    scraped = Run(0.0, 0.0)
    agent.start()
    scraper = None
    if server is not None:
        server.start()
        scraper = threading.Thread(target=_scrape, args=(server, stop, scraped), daemon=True)
        scraper.start()
    try:
        sink = agent.sinks["k1"]
        time.sleep(1.0)  # warm-up: a benchmark measures over a fixed wall-clock window
        first, began, cpu = sink.counter.event_drain_success_count, time.monotonic(), time.process_time()
        scraped.scrapes, scraped.scrape_seconds = 0, 0.0
        time.sleep(seconds)
        delivered = sink.counter.event_drain_success_count - first
        elapsed, cpu_used = time.monotonic() - began, time.process_time() - cpu
        scrapes, scrape_seconds = scraped.scrapes, scraped.scrape_seconds
    finally:
        stop.set()
        if scraper is not None:
            scraper.join(5)
        if server is not None:
            server.stop()
        agent.stop(2)
    return Run(delivered / elapsed, delivered / cpu_used, scrapes, scrape_seconds / elapsed)


def serving_cost(rounds: int) -> float:
    """CPU seconds one round of the four requests costs this process (client included: an upper bound),
    with the agent idle: what serving them takes from the pipeline, free of the machine's noise."""
    idle = PIPELINE.replace("a.sources.r1.type = seq", "a.sources.r1.type = seq\na.sources.r1.totalEvents = 10")
    agent = Agent(plan_from_properties(parse_properties(textwrap.dedent(idle), "bench.properties"), "a").plan)
    server = MonitoringServer(agent, port=0)
    agent.start()
    server.start()
    try:
        probe = Run(0.0, 0.0)
        began = time.process_time()
        for _ in range(rounds):
            _scrape_once(server, probe)
        return (time.process_time() - began) / rounds
    finally:
        server.stop()
        agent.stop(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    results: dict[bool, list[Run]] = {False: [], True: []}
    for pair in range(args.pairs):
        for monitored in (False, True):
            result = run(args.seconds, monitored)
            results[monitored].append(result)
            print(f"pair {pair + 1} {'on ' if monitored else 'off'}: {result.rate:,.0f} events/s, "
                  f"{result.per_cpu_second:,.0f} events/CPU-s"
                  + (f" ({result.scrapes} scrapes, {result.scrape_seconds * 1000:.1f} ms in requests per s)"
                     if monitored else ""), flush=True)
    measures: tuple[tuple[str, Callable[[Run], float]], ...] = (
        ("events/s", lambda r: r.rate), ("events/CPU-s", lambda r: r.per_cpu_second))
    for label, measure in measures:
        off = statistics.median(measure(r) for r in results[False])
        on = statistics.median(measure(r) for r in results[True])
        # Each pair's runs are neighbours in time: their ratio cancels the machine's drift between pairs.
        paired = statistics.median(measure(b) / measure(a) for a, b in zip(results[False], results[True], strict=True))
        print(f"{label}: median off {off:,.0f}, on {on:,.0f}, on/off {on / off:.3f}; median of the pairs' on/off "
              f"{paired:.3f} (goal >= 0.97)")
    cost = serving_cost(200)
    print(f"serving cost, idle agent: {cost * 1000:.2f} ms CPU per round of the four requests (client included) "
          f"= {cost * 100:.2f}% of one core at one round a second")
    in_requests = statistics.median(r.scrape_seconds for r in results[True])
    print(f"time in requests: median {in_requests * 1000:.1f} ms per second of run "
          f"({in_requests * 100:.2f}% of one core, at most)")


if __name__ == "__main__":
    main()
