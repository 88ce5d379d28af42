"""File channel specifics (reference §3.5): restart semantics, capacity at put, disk space, damaged
logs, directory locks, checkpoints, counters, configuration and ``channel inspect``.

The shared transaction contract runs against the file channel from ``test_channel_contract.py``;
crashes (SIGKILL of a child process) are in ``test_file_channel_crash.py``; the model-based test is
``test_file_channel_model.py``.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from flafka.channels.file import FileChannel, FileChannelConfig
from flafka.channels.file import log as file_log
from flafka.channels.file.checkpoint import CHECKPOINT_FILE, DirectoryInUse
from flafka.channels.file.inspect import format_ms, inspect
from flafka.channels.file.log import LogError
from flafka.cli import main as cli_main
from flafka.config.loader import plan_from_properties
from flafka.config.properties import parse_properties
from flafka.errors import ChannelError, ChannelFullError, ConfigError, TransactionError
from flafka.event import Event
from flafka.registry import resolve
from flafka.testing import drain, parse_config, props, wait_until

JOIN_TIMEOUT = 10.0
LONG_WAIT = 60.0
_KEY_ALIASES = {"keep_alive": "keep-alive"}


def dirs_props(root: Path) -> dict[str, str]:
    return {"checkpointDir": str(root / "checkpoint"), "dataDirs": str(root / "data")}


class Channels:
    """Makes started file channels on one set of directories and stops all of them at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: list[FileChannel] = []

    def __call__(self, values: Mapping[str, str] | None = None, *, root: Path | None = None,
                 free_space: Callable[[str], int] | None = None, clock_ms: Callable[[], int] | None = None,
                 start: bool = True, **flume_keys: object) -> FileChannel:
        props = dirs_props(root or self.root)
        props.update({"keep-alive": "0", "capacity": "10000", "transactionCapacity": "1000"})
        props.update({_KEY_ALIASES.get(k, k): str(v) for k, v in flume_keys.items()})
        props.update(values or {})
        channel = FileChannel("c1", parse_config(FileChannel, props, "c1"), free_space=free_space,
                              clock_ms=clock_ms)
        self.made.append(channel)
        if start:
            channel.start()
        return channel

    def restart(self, channel: FileChannel, **kwargs: object) -> FileChannel:
        channel.stop()
        return self(dict(channel_props(channel)), **kwargs)  # type: ignore[arg-type]


def channel_props(channel: FileChannel) -> dict[str, str]:
    config = channel.config
    return {"checkpointDir": config.checkpoint_dir, "dataDirs": config.data_dirs,
            "capacity": str(config.capacity), "transactionCapacity": str(config.transaction_capacity),
            "maxFileSize": str(config.max_file_size), "keep-alive": str(config.keep_alive)}


@pytest.fixture
def channels(tmp_path: Path) -> Iterator[Channels]:
    made = Channels(tmp_path)
    yield made
    for channel in made.made:
        channel.stop()


def events(start: int, stop: int, body_size: int = 0) -> list[Event]:
    out = []
    for i in range(start, stop):
        body = b"e%d" % i
        out.append(Event(body + b"." * max(0, body_size - len(body)), {"n": str(i)}))
    return out


def put(channel: FileChannel, batch: list[Event]) -> None:
    with channel.transaction() as tx:
        tx.put_batch(batch)


def bodies(batch: list[Event]) -> list[bytes]:
    return [e.body for e in batch]


def segment_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "data").glob("log-*"))


# --- restart semantics ----------------------------------------------------------------------------------


def test_committed_events_survive_a_restart_with_headers_and_bodies(channels: Channels) -> None:
    channel = channels()
    batch = [Event(b"", {}), Event(b"\x00\xffbinary", {"k": "v", "empty": "", "ünï": "çødé ✓", "": "no key"}),
             Event(b"x" * 100_000, {"n": "2"}), Event(b"tail", {"s": "\ud800 lone surrogate"})]
    put(channel, batch)
    channel = channels.restart(channel)
    assert channel.size() == 4
    with channel.transaction() as tx:
        assert tx.take_batch(10) == batch


def test_rolled_back_and_uncommitted_puts_never_appear_after_restart(channels: Channels) -> None:
    channel = channels()
    put(channel, events(0, 2))
    rolled_back = channel.transaction()
    rolled_back.put_batch(events(100, 105))
    rolled_back.rollback()
    rolled_back.close()
    open_tx = channel.transaction()
    open_tx.put_batch(events(200, 205))  # never committed: the channel stops under it
    channel = channels.restart(channel)
    assert bodies(drain(channel)) == [b"e0", b"e1"]


def test_committed_take_is_not_redelivered_and_uncommitted_take_is_after_restart(channels: Channels) -> None:
    channel = channels()
    put(channel, events(0, 10))
    with channel.transaction() as tx:
        assert bodies(tx.take_batch(3)) == [b"e0", b"e1", b"e2"]
    held = channel.transaction()
    assert bodies(held.take_batch(4)) == [b"e3", b"e4", b"e5", b"e6"]  # open when the channel stops
    channel = channels.restart(channel)
    assert channel.size() == 7
    assert bodies(drain(channel)) == [b"e%d" % i for i in range(3, 10)]
    channel = channels.restart(channel)
    assert channel.size() == 0
    assert drain(channel) == []


def test_rolled_back_take_is_redelivered_after_restart_in_id_order(channels: Channels) -> None:
    channel = channels()
    put(channel, events(0, 6))
    first = channel.transaction()
    assert bodies(first.take_batch(2)) == [b"e0", b"e1"]
    with channel.transaction() as tx:
        assert bodies(tx.take_batch(2)) == [b"e2", b"e3"]
    first.rollback()
    first.close()
    channel = channels.restart(channel)
    assert bodies(drain(channel)) == [b"e0", b"e1", b"e4", b"e5"]


def test_order_is_fifo_by_commit_across_transactions_and_restarts(channels: Channels) -> None:
    channel = channels()
    late = channel.transaction()
    late.put_batch(events(0, 3))  # put first, committed last
    put(channel, events(3, 6))
    late.commit()
    late.close()
    put(channel, events(6, 8))
    channel = channels.restart(channel)
    assert bodies(drain(channel)) == [b"e3", b"e4", b"e5", b"e0", b"e1", b"e2", b"e6", b"e7"]


def test_replay_of_100_000_events_delivers_all_in_order(channels: Channels) -> None:
    channel = channels(capacity=200_000, transactionCapacity=1000, maxFileSize=1_000_000)
    for start in range(0, 100_000, 1000):
        put(channel, events(start, start + 1000, body_size=20))
    with channel.transaction() as tx:
        tx.take_batch(500)
    channel = channels.restart(channel)
    assert channel.size() == 99_500
    assert len(channel.segment_paths()) > 1
    out = drain(channel)
    assert [int(e.headers["n"]) for e in out] == list(range(500, 100_000))
    assert out[-1].body == b"e99999" + b"." * 14


def test_put_and_take_in_one_transaction_commit_together(channels: Channels) -> None:
    channel = channels()
    put(channel, events(0, 3))
    with channel.transaction() as tx:
        assert bodies(tx.take_batch(2)) == [b"e0", b"e1"]
        tx.put_batch(events(3, 4))
    channel = channels.restart(channel)
    assert bodies(drain(channel)) == [b"e2", b"e3"]


# --- capacity and waiting ---------------------------------------------------------------------------------


def test_capacity_is_checked_at_put_and_nothing_is_written(channels: Channels, tmp_path: Path) -> None:
    channel = channels(capacity=10, transactionCapacity=10)
    put(channel, events(0, 10))
    size_before = os.path.getsize(channel.segment_paths()[-1])
    tx = channel.transaction()
    with pytest.raises(ChannelFullError, match=r"file channel c1 is full \(capacity 10 events\)"):
        tx.put(Event(b"one too many"))
    tx.rollback()
    tx.close()
    assert os.path.getsize(channel.segment_paths()[-1]) == size_before
    assert channel.size() == 10


def test_taken_but_uncommitted_events_occupy_capacity(channels: Channels) -> None:
    channel = channels(capacity=4, transactionCapacity=4)
    put(channel, events(0, 4))
    taker = channel.transaction()
    taker.take_batch(2)
    with pytest.raises(ChannelFullError), channel.transaction() as tx:
        tx.put(Event(b"x"))
    taker.commit()
    taker.close()
    put(channel, events(4, 6))
    assert bodies(drain(channel)) == [b"e2", b"e3", b"e4", b"e5"]


def test_open_puts_reserve_capacity_until_rollback(channels: Channels) -> None:
    channel = channels(capacity=4, transactionCapacity=4)
    holder = channel.transaction()
    holder.put_batch(events(0, 3))
    with pytest.raises(ChannelFullError), channel.transaction() as tx:
        tx.put_batch(events(3, 5))
    holder.rollback()
    holder.close()
    put(channel, events(3, 7))
    assert channel.size() == 4


def test_a_put_waits_keep_alive_for_room_made_by_a_take(channels: Channels) -> None:
    channel = channels(capacity=2, transactionCapacity=2, keep_alive=LONG_WAIT)
    put(channel, events(0, 2))
    started = threading.Event()
    result: list[object] = []

    def put_waiting() -> None:
        started.set()
        try:
            put(channel, events(2, 3))
            result.append("ok")
        except BaseException as exc:  # reported below
            result.append(exc)

    worker = threading.Thread(target=put_waiting)
    worker.start()
    try:
        assert started.wait(JOIN_TIMEOUT)
        with channel.transaction() as tx:
            assert bodies(tx.take_batch(1)) == [b"e0"]
        worker.join(JOIN_TIMEOUT)
        assert not worker.is_alive()
    finally:
        channel.wakeup()
        worker.join(JOIN_TIMEOUT)
    assert result == ["ok"]
    assert bodies(drain(channel)) == [b"e1", b"e2"]


def test_take_with_a_timeout_returns_within_it(channels: Channels) -> None:
    channel = channels()
    with channel.transaction() as tx:
        began = time.monotonic()
        assert tx.take_batch(5, 0.2) == []
        elapsed = time.monotonic() - began
    assert 0.15 <= elapsed < 2.0


def test_transaction_capacity_is_enforced_for_puts_and_takes(channels: Channels) -> None:
    channel = channels(capacity=100, transactionCapacity=3)
    with pytest.raises(TransactionError, match="at most transactionCapacity=3"), channel.transaction() as tx:
        tx.put_batch(events(0, 4))
    put(channel, events(0, 3))
    put(channel, events(3, 6))
    with channel.transaction() as tx:
        assert len(tx.take_batch(2)) == 2
        assert len(tx.take_batch(5)) == 1
        with pytest.raises(TransactionError, match="at most transactionCapacity=3"):
            tx.take_batch(1)


# --- disk space ----------------------------------------------------------------------------------------------


@dataclass
class FakeDisk:
    """A disk of ``size`` bytes holding only the channel's segment files."""

    data: Path
    size: int
    last_free: int = -1

    def free(self, path: str) -> int:
        assert path == str(self.data)
        used = sum(p.stat().st_size for p in self.data.glob("log-*"))
        self.last_free = self.size - used
        return self.last_free


def test_puts_are_refused_below_minimum_required_space_until_takes_reclaim_segments(
        channels: Channels, tmp_path: Path) -> None:
    minimum = 1024 * 1024
    disk = FakeDisk(tmp_path / "data", minimum + 40_000)
    channel = channels(free_space=disk.free, minimumRequiredSpace=minimum, maxFileSize=8000)
    accepted = 0
    error: ChannelFullError | None = None
    for i in range(100):
        try:
            put(channel, events(i * 10, i * 10 + 10, body_size=200))
        except ChannelFullError as exc:
            error = exc
            break
        accepted += 10
    assert error is not None, "the fake disk never filled"
    assert str(error) == (
        f"file channel c1: not enough disk space in {tmp_path / 'data'}: {disk.last_free} bytes free, this commit "
        f"needs {error_needs(error)} and minimumRequiredSpace is {minimum}; puts resume once sinks take events and "
        "old segments are deleted, or free space on the disk")
    assert channel.counter.event_put_error_count == 1
    assert channel.size() == accepted
    assert len(segment_files(tmp_path)) > 3
    with pytest.raises(ChannelFullError):
        put(channel, events(5000, 5010, body_size=200))
    assert channel.counter.event_put_error_count == 2

    assert len(drain(channel)) == accepted
    assert segment_files(tmp_path) == [os.path.basename(channel.segment_paths()[-1])]
    put(channel, events(9000, 9010, body_size=200))
    assert bodies(drain(channel))[0] == b"e9000" + b"." * 195


def error_needs(error: ChannelFullError) -> int:
    return int(str(error).split("this commit needs ")[1].split(" ")[0])


def test_consumed_segments_are_deleted_oldest_first_and_only_when_all_older_are_taken(
        channels: Channels, tmp_path: Path) -> None:
    channel = channels(maxFileSize=1200)
    for i in range(6):
        put(channel, events(i * 10, i * 10 + 10, body_size=50))
    files = segment_files(tmp_path)
    assert len(files) == 6
    held = channel.transaction()
    held.take_batch(1)  # the first event stays in flight: nothing may be deleted
    with channel.transaction() as tx:
        assert len(tx.take_batch(40)) == 40
    assert segment_files(tmp_path) == files
    held.commit()
    held.close()
    assert segment_files(tmp_path) == files[4:]  # e40 of the fifth segment was taken, e41..e49 were not
    assert [os.path.basename(p) for p in channel.segment_paths()] == files[4:]
    channel = channels.restart(channel)
    assert bodies(drain(channel)) == [b"e%d" % i + b"." * (50 - len(b"e%d" % i)) for i in range(41, 60)]


def test_data_dirs_are_used_in_rotation(channels: Channels, tmp_path: Path) -> None:
    data = [tmp_path / "d0", tmp_path / "d1", tmp_path / "d2"]
    channel = channels(dataDirs=",".join(str(d) for d in data), maxFileSize=500)
    for i in range(8):
        put(channel, events(i * 5, i * 5 + 5, body_size=40))
    for path in channel.segment_paths():
        seq = int(path.rsplit("-", 1)[1])
        assert os.path.dirname(path) == str(data[seq % 3])
    channel = channels.restart(channel)
    assert [int(e.headers["n"]) for e in drain(channel)] == list(range(40))


# --- damaged logs ---------------------------------------------------------------------------------------------


@dataclass
class Commit:
    segment: str
    start: int
    end: int
    bodies: list[bytes]


def write_commits(channels: Channels, rng: random.Random, count: int, max_file_size: int) -> list[Commit]:
    """Commit ``count`` small batches, recording where each one's bytes went; stops the channel."""
    channel = channels(maxFileSize=max_file_size)
    commits: list[Commit] = []
    n = 0
    for _ in range(count):
        batch = events(n, n + rng.randint(1, 4), body_size=rng.randint(0, 60))
        n += len(batch)
        before = {p: os.path.getsize(p) for p in channel.segment_paths()}
        put(channel, batch)
        path = channel.segment_paths()[-1]
        commits.append(Commit(path, before.get(path, file_log.HEADER_SIZE), os.path.getsize(path), bodies(batch)))
    channel.stop()
    return commits


def expected_before(commits: list[Commit], segment: str, offset: int) -> list[bytes]:
    """Bodies a replay must deliver when ``segment`` is unusable from ``offset`` on."""
    out: list[bytes] = []
    for commit in commits:
        if commit.segment != segment or commit.end <= offset:
            out.extend(commit.bodies)
    return out


def test_a_tail_cut_at_random_offsets_keeps_every_earlier_commit(
        channels: Channels, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(20240601)
    pristine = tmp_path / "pristine"
    pristine_channels = Channels(pristine)
    commits = write_commits(pristine_channels, rng, 40, max_file_size=1_000_000)
    segment = Path(commits[-1].segment)
    assert segment.parent == pristine / "data"
    length = segment.stat().st_size
    cuts = [*sorted(rng.sample(range(length), 28)), commits[5].end, length - 1]
    for round_, cut in enumerate(cuts):
        root = tmp_path / f"cut{round_}"
        shutil.copytree(pristine, root)
        with open(root / "data" / segment.name, "r+b") as f:
            f.truncate(cut)
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="flafka.channels.file"):
            channel = channels(root=root, maxFileSize=1_000_000)
        expected = expected_before(commits, str(segment), cut)
        assert bodies(drain(channel)) == expected, f"cut at {cut}"
        at_boundary = cut in {c.end for c in commits} or cut == file_log.HEADER_SIZE
        if not at_boundary:
            damaged = root / "data" / segment.name
            assert any(str(damaged) in r.getMessage() and "offset" in r.getMessage() for r in caplog.records), cut
            assert len(channel.replay_problems) == 1
        # The tail is gone: appends after a restart are readable by the next restart.
        put(channel, [Event(b"after restart", {"cut": str(cut)})])
        channel = channels.restart(channel)
        assert channel.replay_problems == []
        assert drain(channel) == [Event(b"after restart", {"cut": str(cut)})]
        channel.stop()


def test_a_flipped_byte_in_the_newest_segment_ends_its_valid_data(
        channels: Channels, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(7)
    commits = write_commits(channels, rng, 30, max_file_size=1_000_000)
    segment = commits[-1].segment
    damaged = commits[15]
    offset = (damaged.start + damaged.end) // 2
    with open(segment, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x40]))
    with caplog.at_level(logging.ERROR, logger="flafka.channels.file"):
        channel = channels()
    assert bodies(drain(channel)) == expected_before(commits, segment, damaged.start + 1)
    (problem,) = channel.replay_problems
    assert problem.startswith(f"damaged log data: {segment} at offset {damaged.start}: ")
    assert "truncated the segment there" in problem
    assert os.path.getsize(segment) >= damaged.start
    assert any(problem in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


def test_damage_in_an_older_segment_skips_the_rest_of_it_and_reports_the_bytes(
        channels: Channels, tmp_path: Path) -> None:
    rng = random.Random(11)
    commits = write_commits(channels, rng, 40, max_file_size=1500)
    first_segment = commits[0].segment
    in_first = [c for c in commits if c.segment == first_segment]
    assert len(in_first) >= 4
    assert commits[-1].segment != first_segment
    damaged = in_first[2]
    size = os.path.getsize(first_segment)
    with open(first_segment, "r+b") as f:
        f.seek(damaged.start + 12)
        f.write(b"\xde\xad")
    channel = channels(maxFileSize=1500)
    assert bodies(drain(channel)) == expected_before(commits, first_segment, damaged.start + 1)
    lost = sum(len(c.bodies) for c in in_first[2:])
    assert channel.replay_problems == [
        f"damaged log data: {first_segment} at offset {damaged.start}: a record fails its CRC check; skipped the "
        f"rest of the segment ({size - damaged.start} bytes)",
        f"events {sum(len(c.bodies) for c in in_first[:2])}..{sum(len(c.bodies) for c in in_first) - 1} are "
        "missing between two segments (lost with damaged data)",
    ]
    assert lost == sum(len(c.bodies) for c in in_first) - sum(len(c.bodies) for c in in_first[:2])
    assert not os.path.exists(first_segment)  # fully taken: deleted like any consumed segment


def test_a_missing_segment_between_live_ones_stops_the_start(channels: Channels, tmp_path: Path) -> None:
    commits = write_commits(channels, random.Random(3), 30, max_file_size=800)
    paths = sorted({c.segment for c in commits})
    assert len(paths) >= 3
    os.unlink(paths[1])
    with pytest.raises(LogError, match=f"segment\\(s\\) {os.path.basename(paths[1])} missing from the data "
                                       "directories"):
        channels()


def test_a_missing_first_segment_named_by_the_checkpoint_stops_the_start(channels: Channels) -> None:
    commits = write_commits(channels, random.Random(4), 20, max_file_size=800)
    os.unlink(commits[0].segment)
    with pytest.raises(LogError, match=f"{os.path.basename(commits[0].segment)} missing"):
        channels()


def test_a_stale_segment_below_the_checkpoint_is_deleted_at_start(
        channels: Channels, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    channel = channels(maxFileSize=800)
    for i in range(10):
        put(channel, events(i * 5, i * 5 + 5, body_size=30))
    drain(channel)
    first = channel.segment_paths()[0]
    channel.stop()
    stale = os.path.join(os.path.dirname(first), "log-00000000")
    assert first != stale
    assert not os.path.exists(stale)
    shutil.copyfile(first, stale)  # as if the process died between the checkpoint and the unlink
    with caplog.at_level(logging.WARNING, logger="flafka.channels.file"):
        channel = channels(maxFileSize=800)
    assert not os.path.exists(stale)
    assert any("fully consumed segment" in r.getMessage() and stale in r.getMessage() for r in caplog.records)
    assert drain(channel) == []


def test_a_damaged_checkpoint_falls_back_to_a_full_replay(channels: Channels, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    channel = channels()
    put(channel, events(0, 3))
    channel.stop()
    (tmp_path / "checkpoint" / CHECKPOINT_FILE).write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="flafka.channels.file"):
        channel = channels()
    assert any("ignores a damaged checkpoint" in r.getMessage() for r in caplog.records)
    assert bodies(drain(channel)) == [b"e0", b"e1", b"e2"]


def test_a_removed_data_directory_with_a_checkpoint_left_stops_the_start(channels: Channels, tmp_path: Path) -> None:
    channel = channels()
    put(channel, events(0, 3))
    channel.stop()
    for path in (tmp_path / "data").glob("log-*"):
        path.unlink()
    with pytest.raises(LogError, match="hold no live segment but the checkpoint says segment log-00000000"):
        channels()


def test_a_newest_segment_with_a_torn_header_is_replaced(channels: Channels, tmp_path: Path) -> None:
    channel = channels(maxFileSize=600)
    for i in range(6):
        put(channel, events(i * 4, i * 4 + 4, body_size=30))
    newest = channel.segment_paths()[-1]
    channel.stop()
    with open(newest, "r+b") as f:
        f.truncate(10)  # the crash came while the segment was being created
    channel = channels(maxFileSize=600)
    assert any("segment header is missing or damaged" in p for p in channel.replay_problems)
    delivered = [int(e.headers["n"]) for e in drain(channel)]
    assert delivered == list(range(len(delivered)))
    put(channel, events(100, 101))
    channel = channels.restart(channel)
    assert bodies(drain(channel)) == [b"e100"]


# --- disk errors -------------------------------------------------------------------------------------------------


def test_a_failed_write_rolls_the_commit_back_and_truncates(channels: Channels,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    channel = channels()
    put(channel, events(0, 2))
    segment = channel.segment_paths()[-1]
    size = os.path.getsize(segment)
    real_pwrite = os.pwrite

    def half_then_full(fd: int, data: bytes | memoryview, offset: int) -> int:
        written = real_pwrite(fd, bytes(data[: len(data) // 2]), offset)
        monkeypatch.setattr(file_log, "_pwrite", real_pwrite)
        del written
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(file_log, "_pwrite", half_then_full)
    with pytest.raises(ChannelError, match=r"writing to .* failed: .*No space left on device.*rolled back"):
        put(channel, events(2, 5))
    assert os.path.getsize(segment) == size
    assert channel.counter.event_put_error_count == 1
    put(channel, events(5, 6))
    channel = channels.restart(channel)
    assert bodies(drain(channel)) == [b"e0", b"e1", b"e5"]


def test_a_failed_fsync_of_the_last_write_is_undone(channels: Channels, monkeypatch: pytest.MonkeyPatch) -> None:
    channel = channels()
    put(channel, events(0, 2))
    segment = channel.segment_paths()[-1]
    size = os.path.getsize(segment)
    real = os.fdatasync

    def fail_once(fd: int) -> None:
        monkeypatch.setattr(file_log, "_fdatasync", real)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(file_log, "_fdatasync", fail_once)
    with pytest.raises(ChannelError, match=r"fsync of .* failed"):
        put(channel, events(2, 4))
    assert os.path.getsize(segment) == size
    assert channel.counter.unhealthy == 0
    put(channel, events(4, 5))
    channel = channels.restart(channel)
    assert bodies(drain(channel)) == [b"e0", b"e1", b"e4"]


def test_an_fsync_failure_that_cannot_be_undone_makes_the_channel_refuse_commits(
        channels: Channels, monkeypatch: pytest.MonkeyPatch) -> None:
    channel = channels()
    put(channel, events(0, 2))

    def always_fail(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(file_log, "_fdatasync", always_fail)
    with pytest.raises(ChannelError, match=r"fsync of .* failed"):
        put(channel, events(2, 4))
    assert channel.counter.unhealthy == 1
    assert channel.counter.snapshot()["Unhealthy"] == "1"
    monkeypatch.undo()
    with pytest.raises(ChannelError, match="commits are refused until the agent restarts"):
        put(channel, events(4, 5))
    channel = channels.restart(channel)
    delivered = bodies(drain(channel))
    assert delivered[:2] == [b"e0", b"e1"]
    assert b"e4" not in delivered


# --- directory locks ---------------------------------------------------------------------------------------------


def test_two_channels_on_the_same_directories_are_refused(channels: Channels, tmp_path: Path) -> None:
    channels()
    second = channels(start=False)
    with pytest.raises(DirectoryInUse) as info:
        second.start()
    assert str(info.value) == (
        f"channel directory {tmp_path / 'checkpoint'} is in use by another channel of this process "
        f"(pid {os.getpid()}); each file channel needs its own checkpointDir and dataDirs")


def test_a_shared_data_directory_is_refused(channels: Channels, tmp_path: Path) -> None:
    channels()
    second = channels({"checkpointDir": str(tmp_path / "other-checkpoint")}, start=False)
    with pytest.raises(DirectoryInUse, match=f"channel directory {tmp_path / 'data'} is in use"):
        second.start()
    assert not (tmp_path / "other-checkpoint" / CHECKPOINT_FILE).exists()


def test_the_lock_file_names_the_owner_and_is_released_at_stop(channels: Channels, tmp_path: Path) -> None:
    channel = channels()
    assert (tmp_path / "checkpoint" / "in_use.lock").read_text() == f"{os.getpid()}\n"
    assert (tmp_path / "data" / "in_use.lock").read_text() == f"{os.getpid()}\n"
    channel.stop()
    channels()  # the same directories can be opened again


# --- checkpoints ---------------------------------------------------------------------------------------------------


def read_json(path: Path) -> dict[str, int]:
    data: dict[str, int] = json.loads(path.read_text())
    return data


def test_checkpoints_are_written_to_both_dirs_at_start_close_and_interval(channels: Channels, tmp_path: Path) -> None:
    clock = [1_700_000_000_000]
    channel = channels({"useDualCheckpoints": "true", "backupCheckpointDir": str(tmp_path / "backup"),
                        "checkpointInterval": "50"}, clock_ms=lambda: clock[0])
    primary, backup = tmp_path / "checkpoint" / CHECKPOINT_FILE, tmp_path / "backup" / CHECKPOINT_FILE
    assert read_json(primary) == read_json(backup) == {
        "first_segment": 0, "format": 1, "next_event_id": 0, "size": 0, "written_at_ms": 1_700_000_000_000}
    put(channel, events(0, 5))
    clock[0] += 1
    wait_until(lambda: read_json(primary)["size"] == 5, timeout=JOIN_TIMEOUT, message="a periodic checkpoint")
    clock[0] += 1
    with channel.transaction() as tx:
        tx.take_batch(2)
    channel.stop()
    assert read_json(primary) == read_json(backup) == {
        "first_segment": 0, "format": 1, "next_event_id": 5, "size": 3, "written_at_ms": clock[0]}


def test_the_backup_checkpoint_is_used_when_the_primary_is_lost(channels: Channels, tmp_path: Path) -> None:
    props = {"useDualCheckpoints": "true", "backupCheckpointDir": str(tmp_path / "backup"), "maxFileSize": "600"}
    channel = channels(props)
    for i in range(8):
        put(channel, events(i * 4, i * 4 + 4, body_size=30))
    with channel.transaction() as tx:
        tx.take_batch(20)
    first = read_json(tmp_path / "backup" / CHECKPOINT_FILE)["first_segment"]
    assert first > 0
    channel.stop()
    (tmp_path / "checkpoint" / CHECKPOINT_FILE).unlink()
    channel = channels(props)
    assert [int(e.headers["n"]) for e in drain(channel)] == list(range(20, 32))


def test_checkpoint_write_errors_are_counted_and_keep_consumed_segments(
        channels: Channels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flafka.channels.file import channel as channel_module

    channel = channels(maxFileSize=600)
    for i in range(6):
        put(channel, events(i * 4, i * 4 + 4, body_size=30))
    files = segment_files(tmp_path)

    def broken(directory: str, checkpoint: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(channel_module, "write_checkpoint", broken)
    drain(channel)
    assert segment_files(tmp_path) == files
    assert channel.counter.checkpoint_write_error_count >= 1
    monkeypatch.undo()
    put(channel, events(100, 101))
    with channel.transaction() as tx:
        assert bodies(tx.take_batch(5)) == [b"e100"]
    assert len(segment_files(tmp_path)) == 1


# --- counters, configuration, registry ---------------------------------------------------------------------------


def test_counters_follow_flume_file_channel_counter(channels: Channels) -> None:
    channel = channels(capacity=50, transactionCapacity=10)
    put(channel, events(0, 4))
    with channel.transaction() as tx:
        tx.take_batch(3)
    with channel.transaction() as tx:
        tx.take_batch(10)
        tx.take_batch(10)
    snapshot = channel.counter.snapshot()
    assert {k: v for k, v in snapshot.items() if k not in ("StartTime", "StopTime")} == {
        "Type": "CHANNEL", "ChannelSize": "0", "ChannelCapacity": "50", "ChannelFillPercentage": "0.0",
        "EventPutAttemptCount": "4", "EventPutSuccessCount": "4", "EventTakeAttemptCount": "5",
        "EventTakeSuccessCount": "4", "Open": "true", "Closed": "0", "Unhealthy": "0", "EventPutErrorCount": "0",
        "EventTakeErrorCount": "0", "CheckpointWriteErrorCount": "0", "CheckpointBackupWriteErrorCount": "0"}
    channel.stop()
    assert channel.counter.snapshot()["Open"] == "false"
    assert channel.counter.snapshot()["Closed"] == "1"


def test_defaults_are_flumes() -> None:
    config = parse_config(FileChannel, {})
    assert (config.checkpoint_dir, config.data_dirs) == ("~/.flume/file-channel/checkpoint",
                                                          "~/.flume/file-channel/data")
    assert config.data_directories() == [os.path.expanduser("~/.flume/file-channel/data")]
    assert (config.capacity, config.transaction_capacity, config.keep_alive) == (1000000, 10000, 3.0)
    assert (config.checkpoint_interval, config.max_file_size, config.minimum_required_space) == (
        30000, 2146435071, 524288000)
    assert (config.checkpoint_on_close, config.fsync_per_transaction, config.fsync_interval) == (True, True, 5)
    assert (config.use_dual_checkpoints, config.backup_checkpoint_dir) == (False, None)


@pytest.mark.parametrize(("values", "message"), [
    ({"capacity": "10", "transactionCapacity": "11"}, "transactionCapacity: (11) must not exceed capacity (10)"),
    ({"useDualCheckpoints": "true"}, "backupCheckpointDir: is required when useDualCheckpoints is true"),
    ({"useDualCheckpoints": "true", "checkpointDir": "/x/cp", "backupCheckpointDir": "/x/cp/"},
     "backupCheckpointDir: must differ from checkpointDir (/x/cp)"),
    ({"dataDirs": " , "}, "dataDirs: names no directory"),
    ({"encryption.activeKey": "key-0", "encryption.cipherProvider": "AESCTRNOPADDING"},
     "encryption.activeKey: is not supported yet: flafka's file channel does not encrypt its log files (set: "
     "encryption.activeKey, encryption.cipherProvider); remove the encryption.* properties and use an encrypted "
     "filesystem for the data directories"),
    ({"encryption.keyProvider.keys.key-0.passwordFile": "/p"},
     "encryption.keyProvider.keys.key-0.passwordFile: is not supported yet"),
])
def test_invalid_configurations_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(FileChannel, values)
    assert message in str(info.value)


def test_flume_only_options_are_accepted_and_capped_values_warned() -> None:
    config, diagnostics = FileChannelConfig.parse(props({
        "use-log-replay-v1": "true", "use-fast-replay": "true", "compressBackupCheckpoint": "true",
        "maxFileSize": "3000000000", "minimumRequiredSpace": "1000", "backupCheckpointDir": "/b"}), "c1")
    assert config is not None
    assert config.effective_max_file_size() == 2146435071
    assert config.effective_minimum_required_space() == 1048576
    assert [(d.key, d.message) for d in diagnostics] == [
        ("maxFileSize", "(3000000000) is capped at 2146435071, as in Flume"),
        ("minimumRequiredSpace", "(1000) is raised to 1048576, as in Flume"),
        ("backupCheckpointDir", "is ignored: useDualCheckpoints is false"),
    ]


def test_the_file_type_and_flume_class_resolve_to_the_file_channel() -> None:
    assert resolve("channel", "file") is FileChannel
    assert resolve("channel", "org.apache.flume.channel.file.FileChannel") is FileChannel
    text = ("a.sources = r1\na.channels = c1\na.sinks = k1\na.sources.r1.type = seq\na.sources.r1.channels = c1\n"
            "a.sinks.k1.type = null\na.sinks.k1.channel = c1\na.channels.c1.type = FILE\n"
            "a.channels.c1.capacity = 500\na.channels.c1.transactionCapacity = 200\n")
    plan = plan_from_properties(parse_properties(text, "t"), "a").plan
    assert plan.channels["c1"].cls is FileChannel
    assert plan.channels["c1"].config.transaction_capacity == 200


def test_reconfigure_applies_capacities_in_place_and_refuses_new_directories(
        channels: Channels, tmp_path: Path) -> None:
    channel = channels(capacity=2, transactionCapacity=2)
    put(channel, events(0, 2))
    bigger = parse_config(FileChannel, {**dirs_props(tmp_path), "capacity": "5", "transactionCapacity": "5",
                                        "keep-alive": "0"})
    assert channel.reconfigure(bigger) is True
    put(channel, events(2, 5))
    assert channel.counter.channel_capacity == 5
    moved = parse_config(FileChannel, {**dirs_props(tmp_path), "dataDirs": str(tmp_path / "elsewhere")})
    assert channel.reconfigure(moved) is False
    assert bodies(drain(channel)) == [b"e0", b"e1", b"e2", b"e3", b"e4"]


def test_transactions_on_a_stopped_channel_fail_clearly(channels: Channels) -> None:
    channel = channels()
    tx = channel.transaction()
    tx.put(Event(b"x"))
    channel.stop()
    with pytest.raises(ChannelError, match="file channel c1 is stopped"):
        tx.commit()
    tx.rollback()
    tx.close()
    with pytest.raises(ChannelError, match="file channel c1 is not started"):
        channel.transaction()


def test_without_fsync_per_transaction_the_background_sync_and_stop_keep_events(channels: Channels) -> None:
    channel = channels(fsyncPerTransaction="false", fsyncInterval=1)
    put(channel, events(0, 3))
    channel = channels.restart(channel)
    assert bodies(drain(channel)) == [b"e0", b"e1", b"e2"]


# --- inspect -------------------------------------------------------------------------------------------------------


def test_inspect_prints_size_put_times_and_a_sample(channels: Channels, tmp_path: Path) -> None:
    clock = [1_700_000_000_000]

    def tick() -> int:
        clock[0] += 1500
        return clock[0]

    channel = channels(clock_ms=tick)
    put(channel, [Event(b"first", {"host": "h1"}), Event(b"second", {})])
    put(channel, [Event(b"x" * 100, {"k": "v"})])
    with channel.transaction() as tx:
        assert bodies(tx.take_batch(1)) == [b"first"]
    channel.stop()
    out = io.StringIO()
    status = inspect([str(tmp_path / "checkpoint"), str(tmp_path / "data")], 5, out)
    assert status == 0
    segment = tmp_path / "data" / "log-00000000"
    assert out.getvalue().splitlines() == [
        f"file channel: data {tmp_path / 'data'}; checkpoint {tmp_path / 'checkpoint'}",
        "in use: no",
        f"checkpoint: first segment log-00000000, next event id 3, 2 events, written {format_ms(clock[0])}",
        f"segments: 1 (log-00000000 .. log-00000000), {segment.stat().st_size} bytes",
        "events: 2 queued, 1 taken and not yet deleted",
        "oldest put: 2023-11-14T22:13:23.000Z (event 1)",
        "newest put: 2023-11-14T22:13:24.500Z (event 2)",
        "damage: none",
        "sample (first 2 of 2):",
        '  event 1 put 2023-11-14T22:13:23.000Z headers {} body b\'second\' (6 bytes)',
        '  event 2 put 2023-11-14T22:13:24.500Z headers {"k": "v"} body '
        f"{(b'x' * 64)!r}... (100 bytes)",
    ]
    assert format_ms(1_700_000_001_500) == "2023-11-14T22:13:21.500Z"


def test_inspect_reports_damage_and_a_running_owner(channels: Channels, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    channel = channels()
    put(channel, events(0, 3))
    segment = channel.segment_paths()[-1]
    size = os.path.getsize(segment)
    with open(segment, "r+b") as f:
        f.truncate(size - 3)
    assert cli_main(["channel", "inspect", str(tmp_path / "data"), "--sample", "0"]) == 1
    out = capsys.readouterr().out
    assert f"in use: pid {os.getpid()} (running)" in out
    assert "events: 0 queued" in out
    assert f"damage: {segment} at offset {file_log.HEADER_SIZE}: the last record is truncated" in out
    assert os.path.getsize(segment) == size - 3  # read-only
    assert cli_main(["channel", "inspect", str(tmp_path / "nowhere")]) == 2


def test_a_data_directory_named_twice_is_used_once(channels: Channels, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "data")
    channel = channels(dataDirs=f"{tmp_path / 'data'},{tmp_path / 'alias'},{tmp_path / 'data'}", maxFileSize=400)
    for i in range(5):
        put(channel, events(i * 3, i * 3 + 3, body_size=40))
    assert {os.path.dirname(p) for p in channel.segment_paths()} == {str(tmp_path / "data")}
    channel = channels.restart(channel)
    assert [int(e.headers["n"]) for e in drain(channel)] == list(range(15))


def test_a_segment_that_cannot_be_created_fails_the_commit_cleanly(
        channels: Channels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    channel = channels(maxFileSize=400)
    put(channel, events(0, 3, body_size=40))
    files = segment_files(tmp_path)

    def no_directory_sync(path: str) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(file_log, "_fsync_dir", no_directory_sync)
    with pytest.raises(ChannelError, match=r"cannot create a new log segment: .*Input/output error"):
        put(channel, events(3, 6, body_size=40))
    assert segment_files(tmp_path) == files
    assert channel.counter.event_put_error_count == 1
    monkeypatch.undo()
    put(channel, events(6, 9, body_size=40))
    channel = channels.restart(channel)
    assert [int(e.headers["n"]) for e in drain(channel)] == [0, 1, 2, 6, 7, 8]


def test_a_record_damaged_after_replay_is_dropped_counted_and_not_retried(
        channels: Channels, caplog: pytest.LogCaptureFixture) -> None:
    channel = channels()
    put(channel, events(0, 3, body_size=40))
    segment = channel.segment_paths()[-1]
    with open(segment, "r+b") as f:  # the body of e1 rots on disk
        data = f.read()
        at = data.index(b"e1.")
        f.seek(at)
        f.write(b"E")
    with caplog.at_level(logging.ERROR, logger="flafka.channels.file"), channel.transaction() as tx:
        assert [int(e.headers["n"]) for e in tx.take_batch(10)] == [0, 2]
    assert channel.counter.event_take_error_count == 1
    assert any("the PUT record of event 1" in r.getMessage() and "is damaged" in r.getMessage()
               for r in caplog.records)
    assert drain(channel) == []


def test_an_unusable_directory_fails_the_start_with_a_channel_error(channels: Channels, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    channel = channels({"dataDirs": str(tmp_path / "file" / "data")}, start=False)
    with pytest.raises(ChannelError, match=r"file channel c1 cannot start: \[Errno 20\] Not a directory"):
        channel.start()
    channels()  # the checkpoint directory's lock was released
