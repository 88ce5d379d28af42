"""The spooling directory source: every line of every file exactly once, files retired afterwards,
resume after a restart from the tracker, refused batches retried, bad bytes and Avro files."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import fastavro
import pytest

from flafka.channels.memory import MemoryChannel
from flafka.errors import ConfigError
from flafka.sources.deserializers import AVRO_SCHEMA_HEADER_HASH, AVRO_SCHEMA_HEADER_LITERAL
from flafka.sources.spooldir import META_FILE_NAME, SpoolDirectorySource
from flafka.testing import build, drain, memory_channel, props, wait_until, wired_source

TIMEOUT = 5.0

SourceFactory = Callable[..., SpoolDirectorySource]


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    directory = tmp_path / "spool"
    directory.mkdir()
    return directory


@pytest.fixture
def make_source(spool: Path) -> Iterator[SourceFactory]:
    started: list[SpoolDirectorySource] = []

    def make(ch: MemoryChannel, **props: str) -> SpoolDirectorySource:
        values = {"spoolDir": str(spool), "pollDelay": "10", "maxBackoff": "20", **props}
        source = build(SpoolDirectorySource, values, "r1")
        wired_source(source, [ch])
        source.start()
        started.append(source)
        return source

    yield make
    for source in started:
        source.stop()


def small_channel(capacity: int) -> MemoryChannel:
    """A started memory channel that refuses a commit at once when full (keep-alive 0)."""
    ch = build(MemoryChannel, {"capacity": str(capacity), "transactionCapacity": str(capacity), "keep-alive": "0"})
    ch.start()
    return ch


def write_file(path: Path, lines: list[str], mtime: int | None = None) -> None:
    """Place a complete file, as spooldir requires: written under a hidden name (which the source skips),
    then renamed, so a running source never sees it half written or before its mtime is set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    hidden = path.with_name(f".{path.name}.writing")
    hidden.write_bytes("".join(line + "\n" for line in lines).encode())
    if mtime is not None:
        os.utime(hidden, (mtime, mtime))
    hidden.rename(path)


def collect(channel: MemoryChannel, count: int, into: list[bytes] | None = None) -> list[bytes]:
    """Drain ``channel`` until ``count`` events were taken (fails on timeout); their bodies."""
    bodies = [] if into is None else into

    def enough() -> bool:
        bodies.extend(e.body for e in drain(channel))
        return len(bodies) >= count

    wait_until(enough, TIMEOUT, message=f"{count} events")
    return bodies


def completed(path: Path) -> Callable[[], bool]:
    return lambda: Path(str(path) + ".COMPLETED").exists() and not path.exists()


def test_lines_of_several_files_arrive_once_in_file_order_then_files_are_renamed(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    files = {"b.log": 50, "a.log": 120, "c.log": 7}
    expected: list[bytes] = []
    for age, (name, count) in enumerate(files.items()):
        lines = [f"{name}-{i}" for i in range(count)]
        write_file(spool / name, lines, mtime=1_000_000 + age)
        expected.extend(line.encode() for line in lines)
    source = make_source(channel, batchSize="10")
    for name in files:
        wait_until(completed(spool / name), TIMEOUT, message=f"{name} renamed")
    assert [e.body for e in drain(channel)] == expected  # oldest file first, lines in order, nothing twice
    assert source.counter.event_accepted_count == 177
    assert source.counter.append_batch_accepted_count == 5 + 12 + 1
    # The tracker goes once the last file's rename is on disk (just after the rename shows).
    wait_until(lambda: not (spool / ".flumespool" / META_FILE_NAME).exists(), TIMEOUT, message="tracker removed")
    assert (spool / "a.log.COMPLETED").read_bytes().count(b"\n") == 120


def test_tracker_and_retirement_are_synced_to_disk_in_order(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_file(spool / "a.log", ["1", "2", "3"])
    tracker_dir = spool / ".flumespool"
    real_fsync = os.fsync
    synced: list[tuple[str, bool, bool]] = []  # (directory synced, tracker present, a.log renamed)

    def recording_fsync(fd: int) -> None:
        inode = os.fstat(fd).st_ino
        what = {spool.stat().st_ino: "spool"}.get(inode, "")
        if tracker_dir.exists() and inode == tracker_dir.stat().st_ino:
            what = "tracker dir"
        if what:
            synced.append((what, (tracker_dir / META_FILE_NAME).exists(), (spool / "a.log.COMPLETED").exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    make_source(channel, batchSize="2")
    wait_until(completed(spool / "a.log"), TIMEOUT)
    wait_until(lambda: not (tracker_dir / META_FILE_NAME).exists(), TIMEOUT, message="tracker removed")
    # Each tracker write syncs the tracker directory; the rename is synced while the tracker still names
    # the file, so no crash can leave the file unrenamed with no position (it would be read again).
    assert synced == [("tracker dir", True, False), ("tracker dir", True, False), ("spool", True, True)]


def test_consume_order_youngest(spool: Path, channel: MemoryChannel, make_source: SourceFactory) -> None:
    write_file(spool / "old", ["old"], mtime=1_000_000)
    write_file(spool / "new", ["new"], mtime=2_000_000)
    make_source(channel, consumeOrder="youngest")
    wait_until(completed(spool / "old"), TIMEOUT)
    assert [e.body for e in drain(channel)] == [b"new", b"old"]


def test_delete_policy_immediate_removes_files(spool: Path, channel: MemoryChannel, make_source: SourceFactory) -> None:
    write_file(spool / "one", ["1", "2"], mtime=1_000_000)
    write_file(spool / "two", ["3"], mtime=1_000_001)
    make_source(channel, deletePolicy="immediate")
    wait_until(lambda: sorted(p.name for p in spool.iterdir()) == [".flumespool"], TIMEOUT, message="deleted")
    assert [e.body for e in drain(channel)] == [b"1", b"2", b"3"]


def test_tracker_dir_policy_writes_markers_and_keeps_names(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    write_file(spool / "top.log", ["t"], mtime=1_000_000)
    write_file(spool / "sub" / "deep.log", ["d"], mtime=1_000_001)
    make_source(channel, trackingPolicy="tracker_dir", recursiveDirectorySearch="true")
    top = spool / ".flumespool" / "top.log.COMPLETED"
    deep = spool / ".flumespool" / "sub" / "deep.log.COMPLETED"
    wait_until(lambda: top.exists() and deep.exists(), TIMEOUT, message="markers")
    assert top.read_bytes() == b""
    assert deep.read_bytes() == b""
    assert (spool / "top.log").exists()
    assert (spool / "sub" / "deep.log").exists()
    # A newer file is read after the marked ones would have been: they were not read again.
    write_file(spool / "later.log", ["l"], mtime=2_000_000)
    wait_until((spool / ".flumespool" / "later.log.COMPLETED").exists, TIMEOUT, message="later marker")
    assert [e.body for e in drain(channel)] == [b"t", b"d", b"l"]


def test_subdirectories_are_ignored_without_recursive_search(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    write_file(spool / "sub" / "deep.log", ["d"], mtime=1_000_000)
    write_file(spool / "top.log", ["t"], mtime=2_000_000)
    make_source(channel)
    wait_until(completed(spool / "top.log"), TIMEOUT)
    assert [e.body for e in drain(channel)] == [b"t"]
    assert (spool / "sub" / "deep.log").exists()


def test_file_and_basename_headers(spool: Path, channel: MemoryChannel, make_source: SourceFactory) -> None:
    write_file(spool / "x.log", ["line"])
    make_source(channel, fileHeader="true", basenameHeader="true", basenameHeaderKey="bn")
    wait_until(completed(spool / "x.log"), TIMEOUT)
    (event,) = drain(channel)
    assert event.headers == {"file": str(spool / "x.log"), "bn": "x.log"}


def test_no_headers_by_default(spool: Path, channel: MemoryChannel, make_source: SourceFactory) -> None:
    write_file(spool / "x.log", ["line"])
    make_source(channel)
    wait_until(completed(spool / "x.log"), TIMEOUT)
    assert [e.headers for e in drain(channel)] == [{}]


def test_include_and_ignore_patterns_hidden_and_completed_files(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    write_file(spool / "a.log", ["a"], mtime=1_000_000)
    write_file(spool / "b.log", ["b"], mtime=1_000_000)  # ignored by ignorePattern
    write_file(spool / "c.txt", ["c"], mtime=1_000_000)  # not included
    write_file(spool / ".hidden.log", ["h"], mtime=1_000_000)
    write_file(spool / "done.log.COMPLETED", ["x"], mtime=1_000_000)
    make_source(channel, includePattern=r"^.*\.log$", ignorePattern="^b.*")
    wait_until(completed(spool / "a.log"), TIMEOUT)
    write_file(spool / "z.log", ["z"], mtime=2_000_000)
    wait_until(completed(spool / "z.log"), TIMEOUT)
    assert [e.body for e in drain(channel)] == [b"a", b"z"]
    assert sorted(p.name for p in spool.iterdir() if p.is_file()) == [
        ".hidden.log", "a.log.COMPLETED", "b.log", "c.txt", "done.log.COMPLETED", "z.log.COMPLETED",
    ]


def test_refused_batches_are_retried_without_loss_or_duplicates(spool: Path, make_source: SourceFactory) -> None:
    lines = [f"line-{i}" for i in range(95)]
    write_file(spool / "f.log", lines)
    ch = small_channel(10)
    try:
        source = make_source(ch, batchSize="10")
        bodies = collect(ch, 95)
        wait_until(completed(spool / "f.log"), TIMEOUT)
        assert bodies == [line.encode() for line in lines]
        assert drain(ch) == []
        assert source.counter.channel_write_fail > 0  # the channel did refuse batches
        assert source.counter.event_accepted_count == 95
    finally:
        ch.stop()


def read_tracker(spool: Path) -> dict[str, object]:
    return json.loads((spool / ".flumespool" / META_FILE_NAME).read_bytes())  # type: ignore[no-any-return]


def test_restart_mid_file_resumes_from_the_tracker(spool: Path, make_source: SourceFactory) -> None:
    lines = [f"row {i:03d}" for i in range(100)]
    write_file(spool / "f.log", lines)
    first = small_channel(30)
    try:
        source = make_source(first, batchSize="10")
        wait_until(lambda: first.size() == 30 and source.counter.channel_write_fail > 0, TIMEOUT,
                   message="a full channel")
        source.stop()
        tracker = read_tracker(spool)
        assert tracker["file"] == str(spool / "f.log")
        assert tracker["offset"] == 30 * len(b"row 000\n")
        assert tracker["part"] == 0
        delivered = [e.body for e in drain(first)]
    finally:
        first.stop()
    second = memory_channel()
    try:
        make_source(second, batchSize="10")
        wait_until(completed(spool / "f.log"), TIMEOUT)
        delivered += [e.body for e in drain(second)]
    finally:
        second.stop()
    assert delivered == [line.encode() for line in lines]


def test_restart_in_the_middle_of_a_split_long_line(spool: Path, make_source: SourceFactory) -> None:
    lines = ["a" * 12, "b" * 12, "c" * 3]  # maxLineLength 5: 3 + 3 + 1 pieces
    write_file(spool / "f.log", lines)
    first = small_channel(4)
    try:
        source = make_source(first, batchSize="2", **{"deserializer.maxLineLength": "5"})
        wait_until(lambda: first.size() == 4 and source.counter.channel_write_fail > 0, TIMEOUT)
        source.stop()
        assert (read_tracker(spool)["offset"], read_tracker(spool)["part"]) == (13, 1)
        delivered = [e.body for e in drain(first)]
    finally:
        first.stop()
    second = memory_channel()
    try:
        make_source(second, batchSize="2", **{"deserializer.maxLineLength": "5"})
        wait_until(completed(spool / "f.log"), TIMEOUT)
        delivered += [e.body for e in drain(second)]
    finally:
        second.stop()
    assert delivered == [b"aaaaa", b"aaaaa", b"aa", b"bbbbb", b"bbbbb", b"bb", b"ccc"]


def test_a_changed_tracked_file_is_not_resumed_at_a_stale_offset(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    write_file(spool / "f.log", ["new content"])
    tracker_dir = spool / ".flumespool"
    tracker_dir.mkdir()
    (tracker_dir / META_FILE_NAME).write_text(json.dumps({
        "file": str(spool / "f.log"), "size": 999, "mtime_ns": 1, "inode": 1, "offset": 4, "part": 0,
        "deserializer": "flafka.sources.deserializers.LineDeserializer",
    }))
    make_source(channel)
    wait_until(completed(spool / "f.log"), TIMEOUT)
    assert [e.body for e in drain(channel)] == [b"new content"]


def test_long_lines_are_split_and_the_carriage_return_is_kept(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    (spool / "f.log").write_bytes(b"0123456789ab\r\n\nend")
    make_source(channel, **{"deserializer.maxLineLength": "5"})
    wait_until(completed(spool / "f.log"), TIMEOUT)
    assert [e.body for e in drain(channel)] == [b"01234", b"56789", b"ab\r", b"", b"end"]


def test_deprecated_buffer_max_line_length_sets_the_line_limit(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    write_file(spool / "f.log", ["abcdefg"])
    make_source(channel, bufferMaxLineLength="3", **{"deserializer.maxLineLength": "100"})
    wait_until(completed(spool / "f.log"), TIMEOUT)
    assert [e.body for e in drain(channel)] == [b"abc", b"def", b"g"]


def test_input_and_output_charsets(spool: Path, channel: MemoryChannel, make_source: SourceFactory) -> None:
    (spool / "f.log").write_bytes("café\n".encode("latin-1"))
    make_source(channel, inputCharset="ISO-8859-1", **{"deserializer.outputCharset": "UTF-8"})
    wait_until(completed(spool / "f.log"), TIMEOUT)
    assert [e.body for e in drain(channel)] == ["café".encode()]


def test_decode_error_fail_stops_that_file_and_goes_on_with_others(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory, caplog: pytest.LogCaptureFixture,
) -> None:
    (spool / "bad.log").write_bytes(b"ok 1\nok 2\nbad \xff\xfe\nnever\n")
    os.utime(spool / "bad.log", (1_000_000, 1_000_000))
    write_file(spool / "good.log", ["good"], mtime=2_000_000)
    source = make_source(channel, decodeErrorPolicy="FAIL")
    wait_until(completed(spool / "good.log"), TIMEOUT)
    assert [e.body for e in drain(channel)] == [b"ok 1", b"ok 2", b"good"]
    assert (spool / "bad.log").exists()
    assert not (spool / "bad.log.COMPLETED").exists()
    assert source.counter.event_read_fail == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert str(spool / "bad.log") in errors[0]
    assert "byte 14" in errors[0]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("REPLACE", "bad \ufffd\ufffd!".encode()), ("IGNORE", b"bad !")],
)
def test_decode_error_replace_and_ignore(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory, policy: str, expected: bytes,
) -> None:
    (spool / "f.log").write_bytes(b"bad \xff\xfe!\nfine\n")
    source = make_source(channel, decodeErrorPolicy=policy)
    wait_until(completed(spool / "f.log"), TIMEOUT)
    assert [e.body for e in drain(channel)] == [expected, b"fine"]
    assert source.counter.event_read_fail == 0


def test_a_file_modified_while_read_is_left_alone(spool: Path, make_source: SourceFactory) -> None:
    write_file(spool / "f.log", [f"{i}" for i in range(20)], mtime=1_000_000)
    ch = small_channel(5)
    try:
        source = make_source(ch, batchSize="5")
        wait_until(lambda: ch.size() == 5 and source.counter.channel_write_fail > 0, TIMEOUT)
        with (spool / "f.log").open("ab") as f:
            f.write(b"appended\n")
        write_file(spool / "next.log", ["next"], mtime=2_000_000)
        bodies = collect(ch, 6)
        wait_until(completed(spool / "next.log"), TIMEOUT)
        bodies.extend(e.body for e in drain(ch))
        # The batch read before the change is delivered; nothing after it.
        assert bodies == [b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9", b"next"]
        assert (spool / "f.log").exists()
        assert not (spool / "f.log.COMPLETED").exists()
    finally:
        ch.stop()


def test_an_existing_completed_name_is_not_overwritten(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    write_file(spool / "f.log", ["new"], mtime=1_000_000)
    write_file(spool / "f.log.COMPLETED", ["old"], mtime=1_000_000)
    write_file(spool / "g.log", ["g"], mtime=2_000_000)
    make_source(channel)
    wait_until(completed(spool / "g.log"), TIMEOUT)
    assert [e.body for e in drain(channel)] == [b"new", b"g"]
    assert (spool / "f.log").read_bytes() == b"new\n"
    assert (spool / "f.log.COMPLETED").read_bytes() == b"old\n"


SCHEMA = {
    "type": "record",
    "name": "Row",
    "namespace": "test",
    "fields": [{"name": "id", "type": "long"}, {"name": "name", "type": "string"}],
}


def write_avro(path: Path, records: list[dict[str, object]]) -> None:
    with path.open("wb") as f:
        fastavro.writer(f, fastavro.parse_schema(SCHEMA), records, sync_interval=64)


def crc64_avro_le_hex(text: str) -> str:
    """Avro's CRC-64-AVRO fingerprint as Java's SchemaNormalization.parsingFingerprint bytes, in hex."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in text.encode():
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp.to_bytes(8, "little").hex()


def decode_body(body: bytes) -> object:
    return fastavro.schemaless_reader(io.BytesIO(body), fastavro.parse_schema(SCHEMA))


def test_avro_deserializer_one_event_per_record_with_schema_hash(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    records: list[dict[str, object]] = [{"id": i, "name": f"n{i}" * (i % 4)} for i in range(40)]
    write_avro(spool / "rows.avro", records)
    make_source(channel, deserializer="AVRO", batchSize="7")
    wait_until(completed(spool / "rows.avro"), TIMEOUT)
    events = drain(channel)
    assert [decode_body(e.body) for e in events] == records
    canonical = (
        '{"name":"test.Row","type":"record","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"}]}'
    )
    assert {e.headers[AVRO_SCHEMA_HEADER_HASH] for e in events} == {crc64_avro_le_hex(canonical)}
    assert all(set(e.headers) == {AVRO_SCHEMA_HEADER_HASH} for e in events)


def test_avro_deserializer_literal_schema_header(
    spool: Path, channel: MemoryChannel, make_source: SourceFactory,
) -> None:
    write_avro(spool / "rows.avro", [{"id": 1, "name": "x"}])
    make_source(channel, deserializer="avro", **{"deserializer.schemaType": "LITERAL"})
    wait_until(completed(spool / "rows.avro"), TIMEOUT)
    (event,) = drain(channel)
    with (spool / "rows.avro.COMPLETED").open("rb") as f:
        stored = fastavro.reader(f).metadata["avro.schema"]
    assert event.headers[AVRO_SCHEMA_HEADER_LITERAL] == stored
    assert json.loads(stored)["name"] == "test.Row"
    assert decode_body(event.body) == {"id": 1, "name": "x"}


def test_avro_restart_resumes_at_the_next_record(spool: Path, make_source: SourceFactory) -> None:
    records: list[dict[str, object]] = [{"id": i, "name": "r" * 20} for i in range(50)]
    write_avro(spool / "rows.avro", records)
    first = small_channel(20)
    try:
        source = make_source(first, deserializer="AVRO", batchSize="10")
        wait_until(lambda: first.size() == 20 and source.counter.channel_write_fail > 0, TIMEOUT)
        source.stop()
        assert read_tracker(spool)["offset"] == 20
        delivered = [decode_body(e.body) for e in drain(first)]
    finally:
        first.stop()
    second = memory_channel()
    try:
        make_source(second, deserializer="AVRO", batchSize="10")
        wait_until(completed(spool / "rows.avro"), TIMEOUT)
        delivered += [decode_body(e.body) for e in drain(second)]
    finally:
        second.stop()
    assert delivered == records


def test_a_file_that_is_not_avro_is_left_alone(spool: Path, channel: MemoryChannel, make_source: SourceFactory) -> None:
    write_file(spool / "a.txt", ["not avro"], mtime=1_000_000)
    write_avro(spool / "b.avro", [{"id": 7, "name": "ok"}])
    os.utime(spool / "b.avro", (2_000_000, 2_000_000))
    source = make_source(channel, deserializer="AVRO")
    wait_until(completed(spool / "b.avro"), TIMEOUT)
    assert [decode_body(e.body) for e in drain(channel)] == [{"id": 7, "name": "ok"}]
    assert (spool / "a.txt").exists()
    assert source.counter.event_read_fail == 1


def test_missing_spool_dir_is_waited_for(tmp_path: Path, channel: MemoryChannel) -> None:
    spool = tmp_path / "later"
    source = build(SpoolDirectorySource, {"spoolDir": str(spool), "pollDelay": "10"}, "r1")
    wired_source(source, [channel])
    source.start()
    try:
        spool.mkdir()
        write_file(spool / "f", ["x"])
        wait_until(completed(spool / "f"), TIMEOUT)
        assert [e.body for e in drain(channel)] == [b"x"]
    finally:
        source.stop()


@pytest.mark.parametrize(
    ("props", "key"),
    [
        ({"deserializer": "NOPE"}, "deserializer"),
        ({"deserializer.maxLineLength": "0"}, "deserializer.maxLineLength"),
        ({"deserializer.outputCharset": "no-such-charset"}, "deserializer.outputCharset"),
        ({"deserializer": "AVRO", "deserializer.schemaType": "SHA"}, "deserializer.schemaType"),
        ({"inputCharset": "UTF-16"}, "inputCharset"),
        ({"decodeErrorPolicy": "SKIP"}, "decodeErrorPolicy"),
        ({"includePattern": "("}, "includePattern"),
        ({"ignorePattern": r"^[\w&&[^\d]]+$"}, "ignorePattern"),  # Java class intersection: not re's meaning
        ({"consumeOrder": "newest"}, "consumeOrder"),
        ({"trackingPolicy": "marker"}, "trackingPolicy"),
        ({"deletePolicy": "later"}, "deletePolicy"),
    ],
)
def test_bad_configuration_is_rejected(tmp_path: Path, props: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(SpoolDirectorySource, {"spoolDir": str(tmp_path), **props})
    assert [d.key for d in info.value.diagnostics] == [key]


def test_a_mistyped_deserializer_key_is_a_warning_with_its_full_key() -> None:
    config, diagnostics = SpoolDirectorySource.config_class.parse(
        props({"spoolDir": "/s", "deserializer": "AVRO", "deserializer.schematype": "LITERAL"}), "sources.r1")
    assert config is not None
    assert [str(d) for d in diagnostics] == [
        "<test>: sources.r1 deserializer.schematype: warning: unknown property, ignored "
        "(did you mean 'deserializer.schemaType'?)"
    ]


def test_the_deprecated_line_length_applies_to_a_line_deserializer_however_it_is_named(tmp_path: Path) -> None:
    flume_name = "org.apache.flume.serialization.LineDeserializer$Builder"
    source = build(SpoolDirectorySource, {"spoolDir": str(tmp_path), "deserializer": flume_name,
                                          "bufferMaxLineLength": "7"})
    assert source.config.effective_deserializer().config.max_line_length == 7
    avro = build(SpoolDirectorySource, {"spoolDir": str(tmp_path), "deserializer": "AVRO", "bufferMaxLineLength": "7"})
    assert avro.config.effective_deserializer() == avro.config.deserializer


def test_spool_dir_is_required() -> None:
    with pytest.raises(ConfigError) as info:
        build(SpoolDirectorySource, {})
    assert [d.key for d in info.value.diagnostics] == ["spoolDir"]


def test_flume_defaults_and_class_names(tmp_path: Path) -> None:
    source = build(SpoolDirectorySource, {"spoolDir": str(tmp_path)})
    config = source.config
    assert (config.file_suffix, config.delete_policy, config.tracker_dir, config.tracking_policy) == (
        ".COMPLETED", "never", ".flumespool", "rename",
    )
    assert (config.consume_order, config.poll_delay, config.max_backoff, config.batch_size) == (
        "oldest", 500, 4000, 100,
    )
    assert (config.input_charset, config.decode_error_policy, config.deserializer.type_name) == (
        "UTF-8", "FAIL", "LINE",
    )
    from flafka.registry import resolve

    assert resolve("source", "spooldir") is SpoolDirectorySource
    assert resolve("source", "org.apache.flume.source.SpoolDirectorySource") is SpoolDirectorySource
    assert resolve("deserializer", "org.apache.flume.serialization.LineDeserializer$Builder").__name__ == (
        "LineDeserializer"
    )



def test_patterns_are_java_regexes(spool: Path, channel: MemoryChannel, make_source: SourceFactory) -> None:
    # Java's \Q...\E quoting (no re equivalent) is translated: the dot is literal, so aXlog is not included.
    write_file(spool / "aXlog", ["x"], mtime=1_000_000)
    write_file(spool / "a.log", ["a"], mtime=1_000_000)
    make_source(channel, includePattern=r"^a\Q.log\E$")
    wait_until(completed(spool / "a.log"), TIMEOUT)
    assert [e.body for e in drain(channel)] == [b"a"]
    assert (spool / "aXlog").exists()
