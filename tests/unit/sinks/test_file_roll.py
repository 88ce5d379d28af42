"""The file_roll sink: contents, rolling, naming, durability (fsync before commit) and failed writes."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, ClassVar, cast

import fastavro
import pytest

from flafka.channels.memory import MemoryChannel
from flafka.errors import ConfigError, DeliveryError
from flafka.event import Event
from flafka.serializers.text import BodyTextSerializer
from flafka.sinks.base import Status
from flafka.sinks.file_roll import RollingFileSink
from flafka.testing import build, drain, drive, memory_channel, put


class BrokenSerializer(BodyTextSerializer):
    """``text``, but write_batch call number ``fail_on`` (counted across instances) writes one event
    and raises, like a disk filling up mid-batch."""

    calls: ClassVar[int] = 0
    fail_on: ClassVar[set[int]] = set()

    def write_batch(self, events: Sequence[Event]) -> None:
        type(self).calls += 1
        if type(self).calls in self.fail_on:
            super().write_batch(events[:1])
            self.stream.flush()
            raise OSError(28, "No space left on device")
        super().write_batch(events)


class UnbuildableSerializer(BodyTextSerializer):
    def __init__(self, config: Any, stream: IO[bytes]) -> None:
        raise RuntimeError("cannot build")


BROKEN = "tests.unit.sinks.test_file_roll:BrokenSerializer"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sinks() -> Iterator[list[RollingFileSink]]:
    started: list[RollingFileSink] = []
    try:
        yield started
    finally:
        for sink in started:
            sink.stop()


@pytest.fixture(autouse=True)
def _reset_broken() -> Iterator[None]:
    BrokenSerializer.calls = 0
    BrokenSerializer.fail_on = set()
    yield
    BrokenSerializer.fail_on = set()


def make_sink(
    sinks: list[RollingFileSink], channel: MemoryChannel, directory: Path, **options: str
) -> RollingFileSink:
    values = {"sink.directory": str(directory), **{k.replace("_", "."): v for k, v in options.items()}}
    sink = build(RollingFileSink, values, "k1")
    sink.channel = channel
    sink.clock = FakeClock()
    sink.start()
    sinks.append(sink)
    return sink



def seq(start: int, stop: int) -> list[Event]:
    return [Event(str(i).encode()) for i in range(start, stop)]



def read_avro(f: IO[bytes]) -> list[Event]:
    records = [cast(dict[str, Any], r) for r in fastavro.reader(f)]
    return [Event(r["body"], r["headers"]) for r in records]


def files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir(), key=lambda p: int(p.name.rsplit("-", 1)[1].split(".")[0]))


def lines(directory: Path) -> list[bytes]:
    return [line for path in files(directory) for line in path.read_bytes().splitlines()]


def test_seq_events_land_one_per_line_in_order(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    put(channel, seq(0, 250))
    sink = make_sink(sinks, channel, tmp_path)
    assert drive(sink) == 3
    assert channel.size() == 0
    [only] = files(tmp_path)
    assert only.read_bytes() == b"".join(b"%d\n" % i for i in range(250))
    assert sink.counter.event_drain_success_count == 250
    assert sink.counter.connection_created_count == 1
    sink.stop()
    assert sink.counter.connection_closed_count == 1
    assert only.read_bytes() == b"".join(b"%d\n" % i for i in range(250))


def test_default_names_use_start_millis_prefix_and_extension(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    before = int(time.time() * 1000)
    sink = make_sink(sinks, channel, tmp_path, sink_pathManager_prefix="ev-",
                     sink_pathManager_extension="log")
    after = int(time.time() * 1000)
    put(channel, seq(0, 1))
    drive(sink)
    [only] = files(tmp_path)
    match = re.fullmatch(r"ev-(\d+)-1\.log", only.name)
    assert match is not None, only.name
    assert before <= int(match.group(1)) <= after


def test_rolltime_names(sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path) -> None:
    sink = make_sink(sinks, channel, tmp_path, sink_pathManager="rollTime", sink_rollInterval="1")
    wall = 1_700_000_000.0
    sink.wall_clock = lambda: wall
    stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(wall))
    clock = sink.clock
    assert isinstance(clock, FakeClock)
    for batch in range(3):
        put(channel, seq(batch, batch + 1))
        drive(sink)
        clock.now += 1
        if batch == 1:
            wall += 1  # a new second: the counter starts again at 1
    next_stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(wall))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{stamp}-1", f"{stamp}-2", f"{next_stamp}-1"]
    )


def test_header_and_text_exact_bytes(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    put(channel, [Event(b"a", {"h1": "x", "h2": "y"}), Event(b"b", {})])
    sink = make_sink(sinks, channel, tmp_path, sink_serializer="HEADER_AND_TEXT")
    drive(sink)
    [only] = files(tmp_path)
    assert only.read_bytes() == b"{h1=x, h2=y} a\n{} b\n"


def test_serializer_options_are_passed(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    put(channel, seq(0, 3))
    sink = make_sink(sinks, channel, tmp_path, **{"sink.serializer.appendNewline": "false"})
    drive(sink)
    assert files(tmp_path)[0].read_bytes() == b"012"


def test_avro_event_over_three_batches(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    events = [Event(b"body %d" % i, {"n": str(i), "h": "x"}) for i in range(10)]
    put(channel, events)
    sink = make_sink(sinks, channel, tmp_path, sink_serializer="avro_event", sink_batchSize="4")
    seen: list[list[Event]] = []
    while sink.process() is Status.READY:
        # The file is a valid container holding every committed event after each batch.
        with files(tmp_path)[0].open("rb") as f:
            seen.append(read_avro(f))
        assert len(seen) <= 3
    assert [len(s) for s in seen] == [4, 8, 10]
    assert seen[-1] == events
    sink.stop()
    with files(tmp_path)[0].open("rb") as f:
        assert read_avro(f) == events


def test_roll_after_interval_splits_events_between_two_files(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    sink = make_sink(sinks, channel, tmp_path, sink_rollInterval="1")
    clock = sink.clock
    assert isinstance(clock, FakeClock)
    put(channel, seq(0, 50))
    drive(sink)
    clock.now += 0.99
    put(channel, seq(50, 60))
    drive(sink)
    assert len(files(tmp_path)) == 1
    clock.now += 0.01
    put(channel, seq(60, 100))
    drive(sink)
    first, second = files(tmp_path)
    assert first.read_bytes().splitlines() == [b"%d" % i for i in range(60)]
    assert second.read_bytes().splitlines() == [b"%d" % i for i in range(60, 100)]
    assert sink.counter.connection_created_count == 2
    assert sink.counter.connection_closed_count == 1


def test_idle_roll_closes_the_file_without_opening_an_empty_one(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    sink = make_sink(sinks, channel, tmp_path, sink_rollInterval="5", sink_serializer="avro_event")
    clock = sink.clock
    assert isinstance(clock, FakeClock)
    put(channel, seq(0, 3))
    drive(sink)
    clock.now += 5
    assert sink.process() is Status.BACKOFF
    assert sink.counter.connection_closed_count == 1
    assert len(files(tmp_path)) == 1


def test_roll_interval_zero_never_rolls(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    sink = make_sink(sinks, channel, tmp_path, sink_rollInterval="0")
    clock = sink.clock
    assert isinstance(clock, FakeClock)
    for start in range(0, 50, 10):
        put(channel, seq(start, start + 10))
        drive(sink)
        clock.now += 10_000
    assert len(files(tmp_path)) == 1
    assert lines(tmp_path) == [b"%d" % i for i in range(50)]


def test_failed_write_keeps_the_batch_in_the_channel_and_loses_nothing(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    BrokenSerializer.fail_on = {2}
    put(channel, seq(0, 30))
    sink = make_sink(sinks, channel, tmp_path, sink_batchSize="10",
                     sink_serializer=BROKEN)
    assert sink.process() is Status.READY
    with pytest.raises(DeliveryError, match="No space left on device"):
        sink.process()
    assert channel.size() == 20
    assert sink.counter.event_write_fail == 1
    # The half-written batch was cut off: the first file holds exactly the committed batch.
    assert lines(tmp_path) == [b"%d" % i for i in range(10)]
    assert drive(sink) == 2
    assert channel.size() == 0
    assert lines(tmp_path) == [b"%d" % i for i in range(30)]
    assert len(files(tmp_path)) == 2


def test_failure_on_a_fresh_file_leaves_no_empty_file(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    BrokenSerializer.fail_on = {1, 2}
    put(channel, seq(0, 5))
    sink = make_sink(sinks, channel, tmp_path, sink_serializer=BROKEN)
    for _ in range(2):
        with pytest.raises(DeliveryError):
            sink.process()
        assert channel.size() == 5
        assert list(tmp_path.iterdir()) == []
    drive(sink)
    [only] = files(tmp_path)
    assert only.name.endswith("-1")
    assert only.read_bytes() == b"0\n1\n2\n3\n4\n"


def test_serializer_that_cannot_be_built_leaves_no_file(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    put(channel, seq(0, 3))
    sink = make_sink(sinks, channel, tmp_path,
                     sink_serializer="tests.unit.sinks.test_file_roll.UnbuildableSerializer")
    with pytest.raises(DeliveryError, match="cannot build"):
        sink.process()
    assert channel.size() == 3
    assert list(tmp_path.iterdir()) == []
    assert sink.counter.connection_failed_count == 1
    assert sink.counter.connection_created_count == 0


def test_unknown_serializer_option_is_logged_at_start(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_sink(sinks, channel, tmp_path, **{"sink.serializer.appendNewLine": "false"})
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "appendNewLine" in warnings[0]
    assert "appendNewline" in warnings[0]


def test_fsync_happens_before_the_take_commits(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(channel, seq(0, 5))
    sink = make_sink(sinks, channel, tmp_path)
    real_fsync = os.fsync
    seen: list[tuple[bytes, int]] = []

    def recording_fsync(fd: Any) -> None:
        real_fsync(fd)
        data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        seen.append((data, channel.counter.event_take_success_count))

    monkeypatch.setattr(os, "fsync", recording_fsync)
    assert sink.process() is Status.READY
    assert channel.counter.event_take_success_count == 5
    # Some fsync saw the whole batch on disk while the take was still uncommitted.
    assert (b"0\n1\n2\n3\n4\n", 0) in seen
    assert seen[-1] == (b"0\n1\n2\n3\n4\n", 0)


def test_fsync_failure_rolls_back(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(channel, seq(0, 5))
    sink = make_sink(sinks, channel, tmp_path)
    real_fsync = os.fsync
    calls = 0

    def failing_fsync(fd: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:  # file and directory syncs at open, then the batch's sync
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(DeliveryError, match="Input/output error"):
        sink.process()
    assert channel.size() == 5
    assert drive(sink) == 1
    assert lines(tmp_path) == [b"%d" % i for i in range(5)]


def test_directory_is_created(sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path) -> None:
    directory = tmp_path / "a" / "b"
    put(channel, seq(0, 2))
    drive(make_sink(sinks, channel, directory))
    assert lines(directory) == [b"0", b"1"]


def test_existing_files_are_never_overwritten(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    sink = make_sink(sinks, channel, tmp_path)
    sink.wall_clock = lambda: 1.0
    sink.start()  # series start = 1000 ms
    (tmp_path / "1000-1").write_bytes(b"keep me\n")
    put(channel, seq(0, 1))
    drive(sink)
    assert (tmp_path / "1000-1").read_bytes() == b"keep me\n"
    assert (tmp_path / "1000-2").read_bytes() == b"0\n"


def test_batch_size_is_declared_for_the_channel_check() -> None:
    sink = build(RollingFileSink, {"sink.directory": "/tmp/x", "sink.batchSize": "7"})
    assert sink.batch_size == 7
    assert sink.config.events_per_transaction() == 7


def test_unknown_serializer_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"sink\.serializer.*nosuchformat"):
        build(RollingFileSink, {"sink.directory": "/tmp/x", "sink.serializer": "nosuchformat"})


def test_bad_serializer_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"sink\.serializer\.appendNewline"):
        build(RollingFileSink, {"sink.directory": "/tmp/x", "sink.serializer.appendNewline": "maybe"})


def test_missing_directory_and_bad_path_manager_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"sink\.directory.*required"):
        build(RollingFileSink, {})
    with pytest.raises(ConfigError, match=r"sink\.pathManager"):
        build(RollingFileSink, {"sink.directory": "/tmp/x", "sink.pathManager": "HOURLY"})


def mixed(good: list[Event], bad: list[Event]) -> list[Event]:
    """``good`` with a bad event before the first, after the last and after every third."""
    out = [bad[0]]
    for i, event in enumerate(good):
        out.append(event)
        if i % 3 == 2:
            out.append(bad[(i // 3 + 1) % len(bad)])
    out.append(bad[0])
    return out


BAD_HEADERS = [Event(b"bad value", {"k": "\udcff"}), Event(b"bad name", {"n\ud800": "v"})]


@pytest.mark.parametrize("serializer", ["avro_event", "header_and_text"])
def test_events_the_serializer_cannot_write_are_set_aside_and_the_rest_written_once_in_order(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    serializer: str,
) -> None:
    good = [Event(b"good %d" % i, {"n": str(i), "h": "\u00e9"}) for i in range(20)]
    events = mixed(good, BAD_HEADERS)
    bad_count = len(events) - len(good)
    put(channel, events)
    sink = make_sink(sinks, channel, tmp_path, sink_serializer=serializer, sink_batchSize="7")
    assert (len(events), bad_count) == (28, 8)
    assert drive(sink) == 4  # batches of 7: none of them stalls on its bad events
    sink.stop()
    assert channel.size() == 0
    [only] = files(tmp_path)
    if serializer == "avro_event":
        with only.open("rb") as f:
            assert read_avro(f) == good
    else:
        assert only.read_bytes() == b"".join(b"{n=%d, h=\xc3\xa9} good %d\n" % (i, i) for i in range(20))
    counter = sink.counter
    assert (counter.event_write_fail, counter.event_drop_count, counter.event_dead_letter_count) == (8, 8, 0)
    assert (counter.event_drain_attempt_count, counter.event_drain_success_count) == (28, 20)
    drops = [r for r in caplog.records if "dropped events" in r.getMessage()]
    assert len(drops) == 1  # once for the kind, not once per event or per batch
    assert drops[0].levelname == "ERROR"
    assert "sink k1" in drops[0].getMessage()
    assert "kind=serializer" in drops[0].getMessage()
    assert "lone surrogate U+DCFF" in drops[0].getMessage()


def test_events_the_serializer_cannot_write_go_to_the_dead_letter_channel(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    dead = memory_channel("dl")
    try:
        good = seq(0, 5)
        put(channel, [good[0], BAD_HEADERS[0], *good[1:], BAD_HEADERS[1]])
        sink = make_sink(sinks, channel, tmp_path, sink_serializer="avro_event")
        sink.dead_letters.channel = dead
        assert drive(sink) == 1
        letters = drain(dead)
        assert [e.body for e in letters] == [b"bad value", b"bad name"]
        assert letters[0].headers["k"] == "\udcff"  # the event as it was, with why and who
        assert letters[0].headers["flafka.error"].startswith("header 'k' value holds a lone surrogate")
        assert letters[0].headers["flafka.error.component"] == "sink k1"
        assert (sink.counter.event_dead_letter_count, sink.counter.event_drop_count) == (2, 0)
        with files(tmp_path)[0].open("rb") as f:
            assert read_avro(f) == good
    finally:
        dead.stop()


class LegacySerializer(BodyTextSerializer):
    """A serializer written before write_batch returned unwritable events: returns whatever it likes."""

    def write_batch(self, events: Sequence[Event]) -> Any:
        super().write_batch(events)
        return self.stream.write(b"")  # an int, ignored as before


def test_a_serializer_returning_something_else_wrote_everything(
    sinks: list[RollingFileSink], channel: MemoryChannel, tmp_path: Path
) -> None:
    put(channel, seq(0, 3))
    sink = make_sink(sinks, channel, tmp_path, sink_serializer="tests.unit.sinks.test_file_roll:LegacySerializer")
    assert drive(sink) == 1
    assert lines(tmp_path) == [b"0", b"1", b"2"]
    assert sink.counter.event_write_fail == 0
