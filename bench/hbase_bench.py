"""The HBase sink against raw happybase on devstack's HBase (Thrift1): rows/s for 1,000-row batches of ~300 B.

    eval "$(python -m devstack up hbase)"; python -m bench.hbase_bench [--batches 20] [--rounds 3]

Each round, in one run and on one server, alternating so both see the same server state:

* ``happybase``: ``table.batch()`` of 1,000 puts, ``send()`` (one ``mutateRows``) — the floor;
* ``sink puts``: the sink (simple serializer, ``incrementColumn`` empty: puts only), ``batchSize = 1000``,
  taking from a memory channel filled beforehand — what the sink adds: the channel take, the serializer
  (UUID row keys) and the commit;
* ``sink puts+counter``: the sink with Flume's default serializer settings (each batch also one
  ``incrementRows`` of 1,000 increments to one cell, applied one by one by the Thrift server);
* ``sink coalesced``: the same with ``coalesceIncrements = true`` (one increment per batch).

Prints the median rows/s of each over the rounds and checks every row landed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable

import happybase

from flafka.event import Event
from flafka.sinks.base import Status
from flafka.sinks.hbase import HBaseSink
from flafka.testing import build, memory_channel

BATCH = 1000
BODY = b"x" * 300


def raw(connection: happybase.Connection, table: str, batches: int) -> float:
    target = connection.table(table)
    started = time.perf_counter()
    for b in range(batches):
        batch = target.batch()
        for i in range(BATCH):
            batch.put(b"raw-%d-%04d-%s" % (b, i, uuid.uuid4().hex.encode()), {b"cf:pCol": BODY})
        batch.send()
    return batches * BATCH / (time.perf_counter() - started)


def through_sink(thrift: str, table: str, batches: int, **values: str) -> float:
    sink = build(HBaseSink, {"table": table, "columnFamily": "cf", "thriftAddress": thrift, "batchSize": str(BATCH),
                             **values}, name="bench")
    channel = memory_channel()
    sink.channel = channel
    for _ in range(batches):
        with channel.transaction() as tx:
            tx.put_batch([Event(BODY) for _ in range(BATCH)])
    sink.start()
    try:
        started = time.perf_counter()
        while sink.process() is Status.READY:
            pass
        elapsed = time.perf_counter() - started
    finally:
        sink.stop()
    assert sink.counter.event_drain_success_count == batches * BATCH
    return batches * BATCH / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="batches of 1,000 rows per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    thrift = os.environ.get("FLAFKA_HBASE_THRIFT", "localhost:9090")
    host, port = thrift.rsplit(":", 1)
    connection = happybase.Connection(host, int(port), timeout=60_000)
    table = f"bench_{uuid.uuid4().hex[:8]}"
    connection.create_table(table, {"cf": {"max_versions": 1}})
    runs: dict[str, Callable[[], float]] = {
        "happybase batch put": lambda: raw(connection, table, args.batches),
        "sink puts": lambda: through_sink(thrift, table, args.batches, **{"serializer.incrementColumn": ""}),
        "sink puts+counter": lambda: through_sink(thrift, table, args.batches),
        "sink coalesced": lambda: through_sink(thrift, table, args.batches, coalesceIncrements="true"),
    }
    results: dict[str, list[float]] = {name: [] for name in runs}
    try:
        raw(connection, table, 2)  # warm-up: the region and the connection
        for _ in range(args.rounds):
            for name, run in runs.items():
                results[name].append(run())
        rows = sum(1 for _ in connection.table(table).scan(filter=b"KeyOnlyFilter()"))
        expected = (2 + 4 * args.rounds * args.batches) * BATCH + 1  # + the counter row
        assert rows == expected, (rows, expected)
        print(f"HBase Thrift1 at {thrift}: {args.batches} batches of {BATCH} rows x {len(BODY)} B, "
              f"median of {args.rounds} rounds")
        for name, values in results.items():
            print(f"  {name:22s} {statistics.median(values):9,.0f} rows/s   "
                  f"({', '.join(f'{v:,.0f}' for v in values)})")
    finally:
        connection.delete_table(table, disable=True)
        connection.close()


if __name__ == "__main__":
    main()
