"""``flafka-agent channel inspect DIR [DIR...]``: what a file channel's directories hold.

Give the channel's data directories (and, optionally, its checkpoint directory: a directory holding
``checkpoint.json`` is read as the checkpoint). The log is scanned read-only, exactly as a start
would replay it, without taking the lock, truncating or deleting anything, so it is safe on the
directories of a running agent (the newest segment may then end in a commit being written). Prints
the queued events, the oldest and newest put time, the segments, any damage and a sample of events.

Exit codes: 0 the log is sound, 1 damage was found or the log cannot be replayed, 2 usage error.

It never advises deleting anything when segments are missing: the directories may merely be missing from
the command line (only the checkpoint directory given, or not every data directory), so it says which
segments it did not find and asks for all the channel's data directories.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from flafka.channels.file.checkpoint import CHECKPOINT_FILE, Checkpoint, read_checkpoint
from flafka.channels.file.log import LogError, find_segments, read_event, scan, segment_name, untaken_runs
from flafka.event import Event
from flafka.fsutil import lock_owner

EXIT_OK, EXIT_DAMAGED, EXIT_USAGE = 0, 1, 2


def format_ms(ms: int) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC, e.g. ``2023-11-14T22:13:20.000Z``."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _body(body: bytes, limit: int = 64) -> str:
    shown = repr(body[:limit]) + ("..." if len(body) > limit else "")
    return f"{shown} ({len(body)} bytes)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _describe(event_id: int, put_ms: int, event: Event) -> str:
    headers = json.dumps(event.headers, ensure_ascii=False, sort_keys=True)
    return f"event {event_id} put {format_ms(put_ms)} headers {headers} body {_body(event.body)}"


def _missing_segments(data_dirs: Sequence[str], checkpoint: Checkpoint | None) -> str | None:
    """What the directories given lack for a replay, with advice that deletes nothing; None if nothing.

    ``scan`` would refuse the same cases, with the advice a start needs (restore the files, or remove the
    channel to start empty); here the likelier cause is a directory left off the command line.
    """
    found = find_segments(data_dirs)
    first = checkpoint.first_segment if checkpoint else None
    live = sorted(seq for seq in found if first is None or seq >= first)
    pass_all = ("pass all the channel's data directories (its dataDirs) as well as the checkpoint directory: "
                "flafka-agent channel inspect CHECKPOINT_DIR DATA_DIR [DATA_DIR...]")
    if not live and first is not None:
        given = (f"the data directories {', '.join(data_dirs)} hold no log segment" if data_dirs
                 else "only the checkpoint directory was given, and it holds no log segment")
        return (f"{given}, but the checkpoint says segment {segment_name(first)} onwards; {pass_all}. "
                "Nothing was changed.")
    if live:
        expected = live[0] if first is None else first
        gaps = sorted(set(range(expected, live[-1] + 1)) - set(live))
        if gaps:
            names = ", ".join(segment_name(s) for s in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
            return (f"segment(s) {names} not found in {', '.join(data_dirs)} (live segments are "
                    f"{segment_name(expected)} to {segment_name(live[-1])}); if the channel has more data "
                    f"directories, {pass_all}. If these are all of them, events are missing: a start will "
                    "refuse the channel until the files are restored.")
    return None


def inspect(dirs: Sequence[str], sample: int, out: TextIO) -> int:
    """Print the report for ``dirs``; returns the exit code."""
    dirs = [os.path.abspath(d) for d in dirs]
    checkpoint: Checkpoint | None = None
    checkpoint_dir = None
    status = EXIT_OK
    for directory in dirs:
        if os.path.exists(os.path.join(directory, CHECKPOINT_FILE)):
            found, problem = read_checkpoint(directory)
            if problem is not None:
                print(f"checkpoint: {problem}", file=out)
                status = EXIT_DAMAGED
            elif found is not None and (checkpoint is None or found.first_segment > checkpoint.first_segment):
                checkpoint, checkpoint_dir = found, directory
    data_dirs = [d for d in dirs if d != checkpoint_dir or find_segments([d])]
    print(f"file channel: data {', '.join(data_dirs)}"
          + (f"; checkpoint {checkpoint_dir}" if checkpoint_dir else "; no checkpoint found"), file=out)
    owners = sorted({pid for pid in (lock_owner(d) for d in dirs) if pid is not None})
    if owners:
        print("in use: " + ", ".join(f"pid {pid} ({'running' if _alive(pid) else 'not running'})"
                                     for pid in owners), file=out)
    else:
        print("in use: no", file=out)
    if checkpoint is not None:
        print(f"checkpoint: first segment {segment_name(checkpoint.first_segment)}, next event id "
              f"{checkpoint.next_event_id}, {checkpoint.size} events, written {format_ms(checkpoint.written_at_ms)}",
              file=out)
    missing = _missing_segments(data_dirs, checkpoint)
    if missing is not None:
        print(f"error: {missing}", file=out)
        return EXIT_DAMAGED
    try:
        replay = scan(data_dirs, checkpoint.first_segment if checkpoint else None, repair=False)
    except LogError as exc:
        print(f"error: the log cannot be replayed: {exc}", file=out)
        return EXIT_DAMAGED
    segments = replay.segments
    runs = untaken_runs(segments, replay.taken)
    queued = sum(run[2] - run[1] for run in runs)
    total_bytes = sum(s.size for s in segments)
    if segments:
        print(f"segments: {len(segments)} ({os.path.basename(segments[0].path)} .. "
              f"{os.path.basename(segments[-1].path)}), {total_bytes} bytes", file=out)
    else:
        print("segments: none", file=out)
    for path in replay.stale:
        print(f"stale segment (fully consumed, deleted at the next start): {path}", file=out)
    print(f"events: {queued} queued, {sum(s.taken for s in segments)} taken and not yet deleted", file=out)
    if runs:
        first, last = runs[0], runs[-1]
        oldest = read_event(first[0], first[1])
        newest = read_event(last[0], last[2] - 1)
        if oldest is not None:
            print(f"oldest put: {format_ms(oldest[0])} (event {first[1]})", file=out)
        if newest is not None:
            print(f"newest put: {format_ms(newest[0])} (event {last[2] - 1})", file=out)
    problems = [str(d) for d in replay.damage]
    problems += [f"events {a}..{b - 1} are missing between two segments" for a, b in replay.lost_ids]
    if problems:
        status = EXIT_DAMAGED
        for problem in problems:
            print(f"damage: {problem}", file=out)
    else:
        print("damage: none", file=out)
    if runs and sample > 0:
        print(f"sample (first {min(sample, queued)} of {queued}):", file=out)
        shown = 0
        for segment, first_id, end_id in runs:
            for event_id in range(first_id, min(end_id, first_id + sample - shown)):
                decoded = read_event(segment, event_id)
                text = _describe(event_id, *decoded) if decoded else f"event {event_id}: damaged record"
                print("  " + text, file=out)
                shown += 1
            if shown >= sample:
                break
    return status


def main(argv: Sequence[str]) -> int:
    """``channel`` sub-commands of ``flafka-agent`` (argv after ``channel``)."""
    p = argparse.ArgumentParser(prog="flafka-agent channel",
                                description="Tools for file channel directories.")
    sub = p.add_subparsers(dest="command", required=True)
    ins = sub.add_parser("inspect", help="print what a file channel's directories hold (read-only)",
                         description=__doc__.split("\n\n")[1] if __doc__ else None)
    ins.add_argument("dirs", nargs="+", metavar="DIR", help="data directories (and the checkpoint directory)")
    ins.add_argument("--sample", type=int, default=3, metavar="N", help="events to print (default 3)")
    try:
        args = p.parse_args(list(argv))
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    missing = [d for d in args.dirs if not os.path.isdir(d)]
    if missing:
        print(f"flafka-agent channel inspect: not a directory: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return inspect(args.dirs, args.sample, sys.stdout)
    except OSError as exc:
        print(f"flafka-agent channel inspect: {exc}", file=sys.stderr)
        return EXIT_DAMAGED
