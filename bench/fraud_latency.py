"""The fraud demo's latency at steady rates: per transaction, input append → output append (both topics
LogAppendTime), on the real servers, with both agents running (enrich and ingest), as ``make demo`` runs them.

    python -m bench.fraud_latency [--rates 100,1000,5000] [--seconds 60]

Uses the servers in the environment / a running devstack, or starts (and stops) its own set. For each rate it
runs the demo (:func:`flafka.examples.fraud.demo.run`) for ``rate * seconds`` transactions and prints the
percentiles over all of them, the same over the run's thirds (a rate the pipeline cannot sustain shows a
latency that grows third by third), and the machine's CPU use while sending (all processes: the servers, the
two agents, the generator and the reader share the cores). Exit 1 if any transaction went missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from flafka.examples.fraud.demo import Options, run
from flafka.examples.fraud.results import Outcome, percentile
from flafka.examples.fraud.stack import Servers


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _thirds(outcome: Outcome) -> list[tuple[float, float]]:
    """(p50, p99) of the transactions sent in each third of the run, by input append time."""
    pairs = sorted((outcome.input_ms[t], out - outcome.input_ms[t]) for t, out in outcome.scored_ms.items()
                   if t in outcome.input_ms)
    if not pairs:
        return []
    size = max(1, len(pairs) // 3)
    out = []
    for start in range(0, size * 3, size):
        values = sorted(latency for _, latency in pairs[start:start + size])
        out.append((percentile(values, 50), percentile(values, 99)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100,1000,5000", help="comma-separated transactions per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to send at each rate")
    parser.add_argument("--warmup-seconds", type=float, default=0.0,
                        help="first send this many seconds' worth to warm the servers up, timed apart (default 0: "
                             "the figures cover every transaction)")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    cores = os.cpu_count() or 1
    rows = []
    missing = 0
    with Servers(say=lambda text: print(text, file=sys.stderr)) as servers:
        for rate in rates:
            count = int(rate * args.seconds)
            print(f"rate {rate:,.0f}/s: {count:,} transactions ...", file=sys.stderr, flush=True)
            before = _cpu_ticks()
            started = time.monotonic()
            report = run(servers.env, Options(count=count, rate=rate, settle_timeout_s=max(120.0, args.seconds),
                                                              warmup_s=args.warmup_seconds),
                         say=lambda text: print("  " + text, file=sys.stderr, flush=True))
            after = _cpu_ticks()
            busy = (after[0] - before[0]) / max(1, after[1] - before[1]) * cores
            p50, p95, p99, top = report.latency()
            thirds = " | ".join(f"{a:.0f}/{b:.0f}" for a, b in _thirds(report.outcome))
            missing += report.missing_kafka + report.missing_hdfs
            rows.append(f"| {rate:,.0f}/s | {report.sent:,} | {report.sent / report.send_seconds:,.0f}/s | {p50:.0f} | "
                        f"{p95:.0f} | {p99:.0f} | {top:.0f} | {thirds} | {busy:.2f} of {cores} | "
                        f"{report.missing_kafka + report.missing_hdfs} | {time.monotonic() - started:.0f} s |")
            print("\n".join("  " + line for line in report.lines()), file=sys.stderr)
    print("| rate | sent | sent at | p50 ms | p95 ms | p99 ms | max ms | p50/p99 by third | CPU (cores busy) "
          "| missing | run |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
