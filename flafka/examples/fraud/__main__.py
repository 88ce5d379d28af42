"""``python -m flafka.examples.fraud [demo|seed|generate]``: see :mod:`flafka.examples.fraud.demo`."""

from __future__ import annotations

import argparse
import sys

from flafka.examples.fraud.demo import LAYOUTS, Options, main_demo


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m flafka.examples.fraud",
                                description="The Flafka post's fraud demo on real Kafka, HBase and HDFS.")
    sub = p.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="start the servers and agents, send transactions, check every outcome "
                                       "(the default)")
    demo.add_argument("--count", type=int, default=100_000, help="transactions to send (default 100000)")
    demo.add_argument("--rate", type=float, default=1000.0, help="transactions per second (default 1000)")
    demo.add_argument("--layout", choices=sorted(LAYOUTS), default="memory",
                      help="how raw transactions reach HDFS: through a memory channel (conf/fraud/"
                           "kafka-to-hdfs.properties) or with the topic as the channel (kafka-channel.properties)")
    demo.add_argument("--warmup-seconds", type=float, default=20.0, metavar="S",
                      help="before the counted transactions, send S seconds' worth to warm the servers up (checked "
                           "too, their latency reported apart; default 20)")
    demo.add_argument("--unscorable-every", type=int, default=1000, metavar="N",
                      help="make every Nth transaction one that cannot be scored (0: none; default 1000)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in (None, "demo"):
        if args.command is None:
            args = _parser().parse_args(["demo", *(argv or [])])
        if args.count < 1 or args.rate <= 0:
            print("--count must be at least 1 and --rate above 0", file=sys.stderr)
            return 2
        return main_demo(Options(count=args.count, rate=args.rate, layout=args.layout, warmup_s=args.warmup_seconds,
                                 unscorable_every=args.unscorable_every))
    return 2


if __name__ == "__main__":
    sys.exit(main())
