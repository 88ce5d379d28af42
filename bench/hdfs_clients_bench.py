"""The two Python HDFS clients side by side on devstack's HDFS: what one durable, visible batch costs.

* ``hdfs-native`` (native RPC): one file kept open, each batch ``write`` + ``hsync`` (durable on the
  DataNodes and visible to readers at its new length without closing the file);
* ``hdfs`` (HdfsCLI, WebHDFS): each batch one ``append`` (the DataNode opens, writes and closes the file).

    eval "$(python -m devstack up hdfs)"; python bench/hdfs_clients_bench.py [--batches 30]

Reports MB/s and per-batch latency for batches of 1,000 and 10,000 events of 1 KB, and checks after each
client that the file's visible length (and what WebHDFS reads) is every byte written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

import hdfs_native
from hdfs import InsecureClient

EVENT = b"x" * 1023 + b"\n"


def native(client: hdfs_native.Client, web: InsecureClient, path: str, payload: bytes, batches: int) -> list[float]:
    latencies = []
    writer = client.create(path)
    try:
        for _ in range(batches):
            started = time.perf_counter()
            writer.write(payload)
            writer.hsync()
            latencies.append(time.perf_counter() - started)
        # Visible to other readers while still open: the guarantee a take's commit relies on.
        with web.read(path) as reader:
            assert len(reader.read()) == batches * len(payload)
    finally:
        writer.close()
    return latencies


def webhdfs(web: InsecureClient, path: str, payload: bytes, batches: int) -> list[float]:
    latencies = []
    web.write(path, b"")
    for _ in range(batches):
        started = time.perf_counter()
        web.write(path, payload, append=True)
        latencies.append(time.perf_counter() - started)
    assert web.status(path)["length"] == batches * len(payload)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    client = hdfs_native.Client(os.environ["FLAFKA_HDFS_URL"])
    web = InsecureClient(os.environ["FLAFKA_WEBHDFS_URL"])
    root = f"/bench-clients-{uuid.uuid4().hex[:8]}"
    client.mkdirs(root, create_parent=True)
    try:
        for events in (1000, 10_000):
            payload = EVENT * events
            for name in ("hdfs-native write+hsync", "WebHDFS append"):
                path = f"{root}/{name.split()[0]}-{events}"
                latencies = (native(client, web, path, payload, args.batches) if name.startswith("hdfs-native")
                             else webhdfs(web, path, payload, args.batches))
                rate = len(payload) * len(latencies) / sum(latencies) / 1e6
                print(f"{name:24} batch {events:>6} x 1 KB: {rate:6.1f} MB/s, per batch p50 "
                      f"{statistics.median(latencies) * 1000:6.1f} ms, max {max(latencies) * 1000:6.1f} ms")
    finally:
        client.delete(root, recursive=True)


if __name__ == "__main__":
    main()
