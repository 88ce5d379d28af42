"""What the monitoring endpoints cost the hot path: seq → memory → null, with and without them.

    python -m bench.metrics_overhead [--seconds 10] [--pairs 3]     # from the repository root

Each run builds the agent in this process (as the tests do) and counts the events the null sink delivered
over ``--seconds`` (after a 1 s warm-up). "off": no monitoring server. "on": the server of
``--metrics-port`` on a free port, and a client thread in the same process fetching ``/metrics``,
``/metrics/prometheus``, ``/health`` and ``/status`` (what the status page and ``flafka-agent top`` read) every
second (so the client's own cost is charged to "on" too: an upper bound).
Runs alternate off/on for ``--pairs`` pairs; prints each run, the medians, and the median of each pair's on/off
(pairs are neighbours in time, so their ratio cancels the drift a shared machine shows). Goal: on/off ≥ 0.97.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import textwrap
import threading
import time

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


def _scrape(server: MonitoringServer, stop: threading.Event, scrapes: list[int]) -> None:
    while not stop.wait(1.0):
        for path in ("/metrics", "/metrics/prometheus", "/health", "/status"):
            conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    scrapes[0] += 1
            finally:
                conn.close()


def run(seconds: float, monitored: bool) -> tuple[float, int]:
    """Events per second delivered over ``seconds``, and the number of successful scrapes."""
    agent = Agent(plan_from_properties(parse_properties(textwrap.dedent(PIPELINE), "bench.properties"), "a").plan)
    server = MonitoringServer(agent, port=0) if monitored else None
    stop = threading.Event()
    scrapes = [0]
    agent.start()
    scraper = None
    if server is not None:
        server.start()
        scraper = threading.Thread(target=_scrape, args=(server, stop, scrapes), daemon=True)
        scraper.start()
    try:
        sink = agent.sinks["k1"]
        time.sleep(1.0)  # warm-up: a benchmark measures over a fixed wall-clock window
        first, began = sink.counter.event_drain_success_count, time.monotonic()
        time.sleep(seconds)
        delivered, elapsed = sink.counter.event_drain_success_count - first, time.monotonic() - began
    finally:
        stop.set()
        if scraper is not None:
            scraper.join(5)
        if server is not None:
            server.stop()
        agent.stop(2)
    return delivered / elapsed, scrapes[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    results: dict[bool, list[float]] = {False: [], True: []}
    for pair in range(args.pairs):
        for monitored in (False, True):
            rate, scrapes = run(args.seconds, monitored)
            results[monitored].append(rate)
            print(f"pair {pair + 1} {'on ' if monitored else 'off'}: {rate:,.0f} events/s"
                  + (f" ({scrapes} scrapes)" if monitored else ""), flush=True)
    off, on = statistics.median(results[False]), statistics.median(results[True])
    # Each pair's runs are neighbours in time: their ratio cancels the machine's drift between pairs.
    paired = statistics.median(b / a for a, b in zip(results[False], results[True], strict=True))
    print(f"median off {off:,.0f} events/s, on {on:,.0f} events/s, on/off {on / off:.3f}; median of the pairs' "
          f"on/off {paired:.3f} (goal >= 0.97)")


if __name__ == "__main__":
    main()
