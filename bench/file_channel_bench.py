"""Throughput and replay time of the file channel (fsync at every commit, the default).

Throughput: one putter thread and one taker thread run at the same time on one channel, each
committing batches of ``--batch`` events (bodies of ``--body`` bytes, two headers), until
``--events`` events have been taken; events/s is events moved end to end per second. Replay: a
channel filled with ``--replay-events`` events is stopped, and the time of the next ``start()``
(locks, scan of every segment with CRC checks, rebuilding the queue) is measured, cold page cache
not attempted (the numbers are for a warm cache, as after a process crash).

Directories are created under ``--dir`` (default: the system temp dir, /tmp: the same disk as /work here).

    python -m bench.file_channel_bench                          # the full matrix + replay of 1,000,000
    python -m bench.file_channel_bench --batch 1000 --body 1024 --no-replay
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout

from flafka.channels.file import FileChannel
from flafka.event import Event
from flafka.testing import build


def _channel(directory: str, batch: int, capacity: int) -> FileChannel:
    return build(FileChannel, {
        "checkpointDir": os.path.join(directory, "checkpoint"),
        "dataDirs": os.path.join(directory, "data"),
        "capacity": str(capacity),
        "transactionCapacity": str(batch),
        "keep-alive": "30",
        "minimumRequiredSpace": str(1024 * 1024),
    }, "bench")


def _batches(batch: int, body: int) -> list[list[Event]]:
    payload = os.urandom(body)
    return [[Event(payload, {"host": "bench-host", "timestamp": str(1700000000000 + i)}) for i in range(batch)]
            for _ in range(4)]


def throughput(base: str, events: int, batch: int, body: int) -> float:
    directory = tempfile.mkdtemp(prefix="fcbench-", dir=base)
    try:
        channel = _channel(directory, batch, max(batch * 20, 100_000))
        channel.start()
        batches = _batches(batch, body)
        taken = 0
        failure: list[BaseException] = []

        def put() -> None:
            try:
                for i in range(events // batch):
                    with channel.transaction() as tx:
                        tx.put_batch(batches[i % 4])
            except BaseException as exc:  # reported by the main thread
                failure.append(exc)

        def take() -> None:
            nonlocal taken
            try:
                while taken < events:
                    with channel.transaction() as tx:
                        taken += len(tx.take_batch(batch, 1.0))
            except BaseException as exc:  # reported by the main thread
                failure.append(exc)

        threads = [threading.Thread(target=put), threading.Thread(target=take)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        channel.stop()
        if failure:
            raise failure[0]
        return events / elapsed
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def replay(base: str, events: int, body: int) -> tuple[float, int]:
    directory = tempfile.mkdtemp(prefix="fcbench-", dir=base)
    try:
        batch = 1000
        channel = _channel(directory, batch, events)
        channel.start()
        batches = _batches(batch, body)
        for i in range(events // batch):
            with channel.transaction() as tx:
                tx.put_batch(batches[i % 4])
        channel.stop()
        channel = _channel(directory, batch, events)
        started = time.perf_counter()
        channel.start()
        elapsed = time.perf_counter() - started
        size = channel.size()
        channel.stop()
        return elapsed, size
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000, help="events moved per throughput run")
    p.add_argument("--batch", type=int, action="append", help="batch size (repeatable; default 100 and 1000)")
    p.add_argument("--body", type=int, action="append", help="body bytes (repeatable; default 100 and 1024)")
    p.add_argument("--replay-events", type=int, default=1_000_000)
    p.add_argument("--no-replay", action="store_true")
    p.add_argument("--dir", default=tempfile.gettempdir(), help="where the channel directories go")
    args = p.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; dir={args.dir}")
    for body in args.body or [100, 1024]:
        for batch in args.batch or [100, 1000]:
            rate = throughput(args.dir, args.events, batch, body)
            print(f"put+take concurrently, fsync per commit: body={body:5d} B batch={batch:5d}: {rate:10,.0f} events/s")
    if not args.no_replay:
        for body in args.body or [100, 1024]:
            seconds, size = replay(args.dir, args.replay_events, body)
            print(f"replay of {size:,} queued events, body={body:5d} B: {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
