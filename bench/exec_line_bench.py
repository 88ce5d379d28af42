"""Time the exec source takes to turn one very long output line into an event.

The command writes one line of ``--sizes`` MiB (``a`` repeated, then a newline) through a shell pipe;
the time is measured from the source's start to the event being in a memory channel. The source reads
its pipe 64 KiB at a time, so a line of N MiB arrives in 16·N reads: work per read that grows with the
line read so far makes the total grow with the square of the line length.

    python bench/exec_line_bench.py                 # 16 and 64 MiB lines
    python bench/exec_line_bench.py --sizes 1 4 16
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout, whatever is installed

from flafka.sources.exec import ExecSource
from flafka.testing import build, drain, memory_channel, wired_source


def run(mib: int, timeout: float) -> float:
    """Seconds from start to the one event of a ``mib`` MiB line being in the channel."""
    size = mib << 20
    channel = memory_channel()
    source = build(
        ExecSource,
        {"command": f"head -c {size} /dev/zero | tr '\\0' a; echo", "shell": "/bin/sh -c", "batchSize": "1"},
        "bench",
    )
    wired_source(source, [channel])
    try:
        started = time.perf_counter()
        source.start()
        while channel.size() < 1:
            channel.wait_for_events(0.05)
            if time.perf_counter() - started > timeout:
                raise SystemExit(f"{mib} MiB: no event after {timeout:g}s")
        elapsed = time.perf_counter() - started
        (event,) = drain(channel)
        if len(event.body) != size:
            raise SystemExit(f"{mib} MiB: the event holds {len(event.body)} bytes, expected {size}")
        return elapsed
    finally:
        source.stop()
        channel.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64], help="line lengths in MiB")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for one line")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}")
    for mib in args.sizes:
        elapsed = run(mib, args.timeout)
        print(f"exec source, one {mib} MiB line: {elapsed:.2f} s ({mib / elapsed:.1f} MiB/s)")


if __name__ == "__main__":
    main()
