"""The TAILDIR source, driven by calling ``process()`` as its runner would: complete lines in order,
positions committed only after delivery, restart from the position file, rotation, back-off."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flafka.channels.memory import MemoryChannel
from flafka.errors import ConfigError
from flafka.event import Event
from flafka.sources.base import Status
from flafka.sources.taildir import TaildirSource
from flafka.testing import build, drain, wired_source

SourceFactory = Callable[..., TaildirSource]


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    directory = tmp_path / "logs"
    directory.mkdir()
    return directory


@pytest.fixture
def position_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "taildir_position.json"


@pytest.fixture
def make_source(logs: Path, position_file: Path) -> Iterator[SourceFactory]:
    started: list[TaildirSource] = []

    def make(ch: MemoryChannel, **props: str) -> TaildirSource:
        values = {
            "filegroups": "f1",
            "filegroups.f1": str(logs / r"app.*\.log"),
            "positionFile": str(position_file),
            "writePosInterval": "0",
            **props,
        }
        source = build(TaildirSource, values, "r1")
        wired_source(source, [ch])
        source.start()
        started.append(source)
        return source

    yield make
    for source in started:
        source.stop()


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def bodies(events: list[Event]) -> list[bytes]:
    return [e.body for e in events]


def run(source: TaildirSource, limit: int = 50) -> None:
    """Call ``process()`` until it backs off (bounded)."""
    for _ in range(limit):
        if source.process() is Status.BACKOFF:
            return
    raise AssertionError("process() never backed off")


def positions(position_file: Path) -> list[dict[str, object]]:
    return json.loads(position_file.read_bytes())  # type: ignore[no-any-return]


def test_lines_appended_over_time_arrive_in_order(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    log = logs / "app.log"
    log.write_bytes(b"one\ntwo\nthree\n")
    source = make_source(channel)
    assert source.process() is Status.READY
    assert bodies(drain(channel)) == [b"one", b"two", b"three"]
    assert source.process() is Status.BACKOFF
    append(log, b"four\nfive\n")
    assert source.process() is Status.READY
    assert source.process() is Status.BACKOFF
    assert bodies(drain(channel)) == [b"four", b"five"]
    assert source.counter.event_accepted_count == 5


def test_a_partial_line_waits_for_its_newline_and_crlf_is_stripped(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    log = logs / "app.log"
    log.write_bytes(b"first\r\nsec")
    source = make_source(channel)
    run(source)
    assert bodies(drain(channel)) == [b"first"]
    run(source)
    assert drain(channel) == []
    append(log, b"ond\n\n")
    run(source)
    assert bodies(drain(channel)) == [b"second", b""]


def test_many_lines_in_batches(logs: Path, channel: MemoryChannel, make_source: SourceFactory) -> None:
    lines = [f"line {i}".encode() for i in range(1000)]
    (logs / "app.log").write_bytes(b"\n".join(lines) + b"\n")
    source = make_source(channel, batchSize="33")
    run(source)
    assert bodies(drain(channel)) == lines
    assert source.counter.append_batch_accepted_count == 31  # 30 full batches and one of 10


def test_two_filegroups_with_their_own_headers(
    tmp_path: Path, logs: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (logs / "app-1.log").write_bytes(b"a\n")
    (other / "x.txt").write_bytes(b"x\n")
    (other / "y.txt").write_bytes(b"not matched\n")
    source = make_source(
        channel,
        filegroups="f1 f2",
        **{
            "filegroups.f2": str(other / "x.txt"),
            "headers.f1.topic": "one",
            "headers.f2.topic": "two",
            "headers.f2.kind": "k",
            "fileHeader": "true",
            "fileHeaderKey": "path",
        },
    )
    run(source)
    got = {e.body: e.headers for e in drain(channel)}
    assert got == {
        b"a": {"topic": "one", "path": str(logs / "app-1.log")},
        b"x": {"topic": "two", "kind": "k", "path": str(other / "x.txt")},
    }


def test_byte_offset_header_gives_each_line_start(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    (logs / "app.log").write_bytes(b"aa\nbbb\r\n\nc\n")
    source = make_source(channel, byteOffsetHeader="true")
    run(source)
    assert [(e.body, e.headers) for e in drain(channel)] == [
        (b"aa", {"byteoffset": "0"}),
        (b"bbb", {"byteoffset": "3"}),
        (b"", {"byteoffset": "8"}),
        (b"c", {"byteoffset": "9"}),
    ]
    append(logs / "app.log", b"dd\n")
    run(source)
    assert [(e.body, e.headers) for e in drain(channel)] == [(b"dd", {"byteoffset": "11"})]


def test_position_file_holds_the_committed_position(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory, position_file: Path,
) -> None:
    log = logs / "app.log"
    log.write_bytes(b"0123\nabc\npartial")
    source = make_source(channel)
    run(source)
    assert positions(position_file) == [{"inode": log.stat().st_ino, "pos": 9, "file": str(log)}]
    # Flume's exact layout: compact JSON with keys inode, pos, file.
    assert position_file.read_text() == f'[{{"inode":{log.stat().st_ino},"pos":9,"file":"{log}"}}]'


def test_the_position_file_and_its_directory_are_synced(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory, position_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (logs / "app.log").write_bytes(b"x\n")
    source = make_source(channel)
    real_fsync = os.fsync
    synced: list[tuple[str, str]] = []  # (what was synced, the position file's text at that moment)

    def recording_fsync(fd: int) -> None:
        what = "directory" if os.fstat(fd).st_ino == position_file.parent.stat().st_ino else "file"
        synced.append((what, position_file.read_text() if position_file.exists() else ""))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    run(source)
    # The new content is synced before it replaces the old file, the directory once it is in place.
    new = f'[{{"inode":{(logs / "app.log").stat().st_ino},"pos":2,"file":"{logs / "app.log"}"}}]'
    assert [what for what, _ in synced] == ["file", "directory"]
    assert synced[0][1] != new
    assert synced[1][1] == new


def test_position_file_is_written_only_after_the_interval(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory, position_file: Path,
) -> None:
    (logs / "app.log").write_bytes(b"x\n")
    source = make_source(channel, writePosInterval="3600000")
    run(source)
    assert not position_file.exists()
    source.stop()
    assert positions(position_file)[0]["pos"] == 2


def test_restart_from_the_position_file_neither_loses_nor_repeats(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory, position_file: Path,
) -> None:
    log = logs / "app.log"
    log.write_bytes(b"1\n2\n")
    first = make_source(channel, writePosInterval="3600000")
    run(first)
    first.stop()
    append(log, b"3\n4\n")  # written while the source was down
    second = make_source(channel)
    append(log, b"5\n")
    run(second)
    assert bodies(drain(channel)) == [b"1", b"2", b"3", b"4", b"5"]
    assert positions(position_file)[0]["pos"] == 10


def test_a_flume_position_file_is_used_on_migration(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory, position_file: Path,
) -> None:
    log = logs / "app.log"
    log.write_bytes(b"old\nnew\n")
    position_file.parent.mkdir()
    position_file.write_text(f'[{{"inode":{log.stat().st_ino},"pos":4,"file":"{log}"}}]')
    source = make_source(channel)
    run(source)
    assert bodies(drain(channel)) == [b"new"]


def test_rotation_by_rename_finishes_the_old_file_then_reads_the_new_one(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    log = logs / "app.log"
    log.write_bytes(b"a1\n")
    source = make_source(channel, **{"filegroups.f1": str(logs / "app.log")})
    run(source)
    append(log, b"a2\na3\n")
    log.rename(logs / "app.log.1")
    log.write_bytes(b"b1\n")
    run(source)
    assert bodies(drain(channel)) == [b"a1", b"a2", b"a3", b"b1"]
    append(logs / "app.log.1", b"a4\n")  # a late write by the old writer still arrives
    append(log, b"b2\n")
    run(source)
    assert bodies(drain(channel)) == [b"a4", b"b2"]


def test_rotation_while_stopped_finishes_the_old_file_after_restart(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory, position_file: Path,
) -> None:
    log = logs / "app.log"
    log.write_bytes(b"a1\n")
    first = make_source(channel, **{"filegroups.f1": str(logs / "app.log")})
    run(first)
    first.stop()
    append(log, b"a2\n")
    log.rename(logs / "app.log.1")
    log.write_bytes(b"b1\n")
    second = make_source(channel, **{"filegroups.f1": str(logs / "app.log")})
    run(second)
    assert bodies(drain(channel)) == [b"a1", b"a2", b"b1"]


def test_a_file_renamed_to_another_matching_name_keeps_its_position(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    log = logs / "app.log"
    log.write_bytes(b"a1\n")
    source = make_source(channel, **{"filegroups.f1": str(logs / r"app\.log.*")})
    run(source)
    log.rename(logs / "app.log.1")
    append(logs / "app.log.1", b"a2\n")
    run(source)
    assert bodies(drain(channel)) == [b"a1", b"a2"]


def test_delivery_failure_keeps_the_position_and_redelivers(
    logs: Path, make_source: SourceFactory, position_file: Path,
) -> None:
    log = logs / "app.log"
    lines = [f"{i:02d}".encode() for i in range(12)]
    log.write_bytes(b"".join(line + b"\n" for line in lines))
    ch = build(MemoryChannel, {"capacity": "5", "transactionCapacity": "5", "keep-alive": "0"})
    ch.start()
    try:
        source = make_source(ch, batchSize="5")
        assert source.process() is Status.BACKOFF  # first batch accepted, second refused
        assert ch.size() == 5
        assert positions(position_file)[0]["pos"] == 15
        assert source.process() is Status.BACKOFF  # still full: nothing moves
        assert positions(position_file)[0]["pos"] == 15
        delivered = bodies(drain(ch))
        for _ in range(10):
            source.process()
            delivered += bodies(drain(ch))
        assert delivered == lines
        assert positions(position_file)[0]["pos"] == 36
        assert source.counter.channel_write_fail == 3
    finally:
        ch.stop()


def test_skip_to_end_skips_existing_content_but_not_recorded_positions(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory, position_file: Path,
) -> None:
    (logs / "app-a.log").write_bytes(b"old a\n")
    recorded = logs / "app-b.log"
    recorded.write_bytes(b"done\npending\n")
    position_file.parent.mkdir()
    position_file.write_text(json.dumps([{"inode": recorded.stat().st_ino, "pos": 5, "file": str(recorded)}]))
    source = make_source(channel, skipToEnd="true")
    run(source)
    assert bodies(drain(channel)) == [b"pending"]
    append(logs / "app-a.log", b"new a\n")
    (logs / "app-c.log").write_bytes(b"created later\n")  # a file appearing later is read from 0
    run(source)
    assert sorted(bodies(drain(channel))) == [b"created later", b"new a"]


def test_truncated_file_is_read_again_from_the_start(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    log = logs / "app.log"
    log.write_bytes(b"long line one\n")
    source = make_source(channel)
    run(source)
    log.write_bytes(b"re\n")
    run(source)
    assert bodies(drain(channel)) == [b"long line one", b"re"]


def test_idle_file_is_closed_and_its_partial_line_delivered(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    (logs / "app.log").write_bytes(b"whole\npart")
    source = make_source(channel, idleTimeout="0")
    run(source)
    assert bodies(drain(channel)) == [b"whole", b"part"]


def test_max_batch_count_moves_on_to_the_next_file(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    (logs / "app-1.log").write_bytes(b"a\nb\nc\nd\n")
    os.utime(logs / "app-1.log", (1_000_000, 1_000_000))
    (logs / "app-2.log").write_bytes(b"1\n2\n3\n")
    source = make_source(channel, batchSize="2", maxBatchCount="1")
    assert source.process() is Status.READY
    assert bodies(drain(channel)) == [b"a", b"b", b"1", b"2"]
    run(source)
    assert bodies(drain(channel)) == [b"c", b"d", b"3"]


def test_new_files_matching_the_pattern_are_picked_up(
    logs: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    source = make_source(channel)
    assert source.process() is Status.BACKOFF
    (logs / "app-new.log").write_bytes(b"hello\n")
    (logs / "other.txt").write_bytes(b"ignored\n")
    run(source)
    assert bodies(drain(channel)) == [b"hello"]


def test_runner_backoff_settings_come_from_the_config(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel, backoffSleepIncrement="250", maxBackoffSleep="900")
    assert (source.backoff_sleep_increment_ms, source.max_backoff_sleep_ms) == (250, 900)
    defaults = make_source(channel)
    assert (defaults.backoff_sleep_increment_ms, defaults.max_backoff_sleep_ms) == (1000, 5000)


def test_flume_defaults(tmp_path: Path) -> None:
    source = build(TaildirSource, {"filegroups": "f", "filegroups.f": str(tmp_path / "x")})
    config = source.config
    assert config.position_file == "~/.flume/taildir_position.json"
    assert (config.idle_timeout, config.write_pos_interval, config.batch_size) == (120000, 3000, 100)
    assert (config.max_batch_count, config.cache_pattern_matching, config.skip_to_end) == (2**63 - 1, True, False)
    assert (config.byte_offset_header, config.file_header, config.file_header_key) == (False, False, "file")


@pytest.mark.parametrize(
    ("props", "key"),
    [
        ({"filegroups": "f1 f2", "filegroups.f1": "/var/log/a"}, "filegroups.f2"),
        ({"filegroups": "f1", "filegroups.f1": "relative/a.log"}, "filegroups.f1"),
        ({"filegroups": "f1", "filegroups.f1": "/var/log/a(.log"}, "filegroups.f1"),
        # Java regexes, refused where Python's re would read them differently (class intersection)
        ({"filegroups": "f1", "filegroups.f1": r"/var/log/[a-z&&[^x]]\.log"}, "filegroups.f1"),
        ({"filegroups": "f1", "filegroups.f1": "/var/log/a", "headers.nodot": "v"}, "headers.nodot"),
        ({"filegroups.f1": "/var/log/a"}, "filegroups"),
        ({"filegroups": "f1", "filegroups.f1": "/var/log/a", "batchSize": "0"}, "batchSize"),
    ],
)
def test_bad_configuration_is_rejected(props: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(TaildirSource, props)
    assert [d.key for d in info.value.diagnostics] == [key]


def test_position_entries_of_other_directories_are_not_followed(
    tmp_path: Path, logs: Path, channel: MemoryChannel, make_source: SourceFactory, position_file: Path
) -> None:
    stranger = tmp_path / "elsewhere.log"
    stranger.write_bytes(b"not ours\n")
    position_file.parent.mkdir()
    position_file.write_text(json.dumps([{"inode": stranger.stat().st_ino, "pos": 0, "file": str(stranger)}]))
    (logs / "app.log").write_bytes(b"ours\n")
    source = make_source(channel)
    run(source)
    assert bodies(drain(channel)) == [b"ours"]
    assert [entry["file"] for entry in positions(position_file)] == [str(logs / "app.log")]
