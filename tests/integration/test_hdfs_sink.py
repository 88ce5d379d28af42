"""The HDFS sink against devstack's real HDFS: files, names, rolls, bad events, repairs."""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import fastavro
import hdfs_native
import pytest
from hdfs import InsecureClient

from flafka.channels.memory import MemoryChannel
from flafka.errors import DeliveryError
from flafka.event import Event
from flafka.sinks.hdfs.bucket import repair
from flafka.sinks.hdfs.filesystem import HdfsFileSystem
from flafka.sinks.hdfs.journal import Journal, OpenFile
from flafka.sinks.hdfs.sink import HdfsSink
from flafka.testing import build, drive, memory_channel, parse_config, put
from tests.integration.conftest import HdfsStack

SinkFactory = Callable[..., tuple[HdfsSink, MemoryChannel]]


@pytest.fixture
def root(hdfs_stack: HdfsStack) -> str:
    return f"{hdfs_stack.url}/sink-tests/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_sink(tmp_path: Path, hdfs_stack: HdfsStack) -> Iterator[SinkFactory]:
    made: list[HdfsSink] = []

    def make(path: str, name: str = "k1", clock: Callable[[], float] | None = None,
             **values: str) -> tuple[HdfsSink, MemoryChannel]:
        props = {"hdfs.path": path, "hdfs.journalDir": str(tmp_path / f"journal-{name}"),
                 "hdfs.hadoopConfDir": str(hdfs_stack.conf_dir), "hdfs.rollInterval": "0", "hdfs.rollSize": "0",
                 "hdfs.rollCount": "0"}
        props.update({k.replace("__", "."): v for k, v in values.items()})
        sink = (build(HdfsSink, props, name) if clock is None
                else HdfsSink(name, parse_config(HdfsSink, props, name), clock=clock))
        channel = memory_channel(f"c-{name}")
        sink.channel = channel
        sink.start()
        made.append(sink)
        return sink, channel

    yield make
    for sink in made:
        sink.stop()




def listing(url: str) -> dict[str, bytes]:
    """Every file under ``url`` (recursively, by path relative to it) with its bytes, read through WebHDFS: the
    DataNode serves a file still open for writing up to its synced length, as Hadoop's readers see it (the
    native client reads only its completed blocks)."""
    address, _, rest = url.partition("://")[2].partition("/")
    client = InsecureClient(os.environ["FLAFKA_WEBHDFS_URL"])
    base = "/" + rest
    out = {}
    for directory, _, files in client.walk(base):
        for name in files:
            path = f"{directory}/{name}"
            with client.read(path) as reader:
                out[path.removeprefix(base + "/")] = reader.read()
    del address
    return out


def test_events_land_in_datastream_files_named_as_flume_names_them(root: str, make_sink: SinkFactory) -> None:
    sink, channel = make_sink(f"{root}/%{{topic}}", hdfs__fileType="DataStream", hdfs__batchSize="100")
    put(channel, [Event(f"line {i}".encode(), {"topic": "a" if i % 3 else "b"}) for i in range(250)])
    assert drive(sink) == 3
    sink.stop()
    files = listing(root)
    assert sorted({path.split("/")[0] for path in files}) == ["a", "b"]
    assert all(path.split("/")[1].startswith("FlumeData.") and not path.endswith(".tmp") for path in files)
    lines = b"".join(files[p] for p in sorted(files)).splitlines()
    assert sorted(lines) == sorted(f"line {i}".encode() for i in range(250))
    assert sink.counter.event_drain_success_count == 250


@pytest.mark.parametrize(("write_format", "codec", "suffix"), [
    ("Writable", None, ""), ("Text", None, ""), ("Writable", "gzip", ".gz"), ("Text", "snappy", ".snappy"),
    ("Writable", "bzip2", ".bz2"), ("Text", "lz4", ".lz4"), ("Writable", "deflate", ".deflate"),
])
def test_sequence_files_are_read_back_by_hadoop(root: str, make_sink: SinkFactory, hdfs_stack: HdfsStack, *,
                                               write_format: str, codec: str | None, suffix: str) -> None:
    extra = {"hdfs__codeC": codec} if codec else {}
    sink, channel = make_sink(root, hdfs__writeFormat=write_format, hdfs__batchSize="50", **extra)
    put(channel, [Event(f"event {i}".encode(), {"timestamp": str(1_700_000_000_000 + i)}) for i in range(120)])
    assert drive(sink) == 3
    sink.stop()
    names = sorted(listing(root))
    assert len(names) == 1
    assert names[0].startswith("FlumeData.")
    assert names[0].endswith(suffix)
    text = hdfs_stack.text(f"{root}/{names[0]}").decode()
    rows = [line.split("\t") for line in text.splitlines()]
    assert [int(key) for key, _ in rows] == [1_700_000_000_000 + i for i in range(120)]
    values = [value for _, value in rows]
    if write_format == "Text":
        assert values == [f"event {i}" for i in range(120)]
    else:  # a BytesWritable prints as hex bytes
        assert values == [" ".join(f"{b:02x}" for b in f"event {i}".encode()) for i in range(120)]


@pytest.mark.parametrize(("codec", "suffix"), [("gzip", ".gz"), ("bzip2", ".bz2"), ("snappy", ".snappy"),
                                               ("lz4", ".lz4"), ("default", ".deflate")])
def test_compressed_streams_are_read_back_by_hadoop(root: str, make_sink: SinkFactory, hdfs_stack: HdfsStack,
                                                   codec: str, suffix: str) -> None:
    sink, channel = make_sink(root, hdfs__fileType="CompressedStream", hdfs__codeC=codec, hdfs__batchSize="40",
                              serializer="header_and_text")
    put(channel, [Event(f"e{i}".encode(), {"n": str(i)}) for i in range(100)])
    assert drive(sink) == 3
    sink.stop()
    [name] = listing(root)
    assert name.endswith(suffix)
    assert hdfs_stack.text(f"{root}/{name}").decode().splitlines() == [f"{{n={i}}} e{i}" for i in range(100)]


def test_roll_count_and_size_cut_files_before_the_event_that_would_not_fit(root: str, make_sink: SinkFactory) -> None:
    sink, channel = make_sink(f"{root}/count", hdfs__fileType="DataStream", hdfs__rollCount="10",
                              hdfs__batchSize="25")
    put(channel, [Event(b"%02d" % i) for i in range(25)])
    assert drive(sink) == 1
    sized, sized_channel = make_sink(f"{root}/size", name="k2", hdfs__fileType="DataStream", hdfs__rollSize="30",
                                     hdfs__batchSize="100")
    put(sized_channel, [Event(b"x" * 10) for _ in range(7)])  # 3 bodies reach 30 bytes: the 4th starts a file
    assert drive(sized) == 1
    sink.stop()
    sized.stop()
    counted = listing(f"{root}/count")
    assert [counted[n].count(b"\n") for n in sorted(counted)] == [10, 10, 5]
    assert b"".join(counted[n] for n in sorted(counted)) == b"".join(b"%02d\n" % i for i in range(25))
    by_size = listing(f"{root}/size")
    assert [by_size[n].count(b"\n") for n in sorted(by_size)] == [3, 3, 1]
    numbers = sorted(int(n.split(".")[1]) for n in counted)
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]  # one counter per bucket, one step per file


def test_a_file_stays_in_use_until_it_is_closed_and_is_visible_after_each_batch(
        root: str, make_sink: SinkFactory) -> None:
    sink, channel = make_sink(root, hdfs__fileType="DataStream", hdfs__batchSize="10")
    put(channel, [Event(b"a%d" % i) for i in range(10)])
    assert drive(sink) == 1
    [in_use] = listing(root)
    assert in_use.endswith(".tmp")
    assert listing(root)[in_use] == b"".join(b"a%d\n" % i for i in range(10))  # committed: durable and visible
    put(channel, [Event(b"b%d" % i) for i in range(10)])
    assert drive(sink) == 1
    assert listing(root)[in_use] == b"".join(b"%s%d\n" % (c, i) for c in (b"a", b"b") for i in range(10))
    sink.stop()
    assert list(listing(root)) == [in_use.removesuffix(".tmp")]


def test_events_that_cannot_be_placed_are_set_aside_and_the_rest_written(root: str, make_sink: SinkFactory) -> None:
    dead = memory_channel("dl")
    sink, channel = make_sink(f"{root}/%{{app}}/%Y", hdfs__fileType="DataStream", hdfs__batchSize="100",
                              hdfs__timeZone="UTC")
    sink.dead_letters.channel = dead
    good = [Event(f"g{i}".encode(), {"app": "web", "timestamp": "1700000000000"}) for i in range(5)]
    events = [*good[:2], Event(b"no-ts", {"app": "web"}), Event(b"no-app", {"timestamp": "1700000000000"}),
              Event(b"slash", {"app": "a/b", "timestamp": "1700000000000"}), *good[2:]]
    put(channel, events)
    assert drive(sink) == 1
    sink.stop()
    files = listing(root)
    assert list(files) == [next(iter(files))]
    assert next(iter(files)).startswith("web/2023/FlumeData.")
    assert next(iter(files.values())) == b"".join(b"g%d\n" % i for i in range(5))
    letters = {e.body: e.headers["flafka.error"] for e in drain_all(dead)}
    assert sorted(letters) == [b"no-app", b"no-ts", b"slash"]
    assert (sink.counter.event_dead_letter_count, sink.counter.event_drain_success_count) == (3, 5)


def drain_all(channel: MemoryChannel) -> list[Event]:
    from flafka.testing import drain

    return drain(channel)


def native_client(hdfs_stack: HdfsStack) -> hdfs_native.Client:
    return hdfs_native.Client(hdfs_stack.url)


def test_a_start_repairs_the_files_a_crashed_run_left_open(
        root: str, tmp_path: Path, hdfs_stack: HdfsStack, make_sink: SinkFactory) -> None:
    """A writer that died with bytes after its last committed batch (torn), one with nothing committed, and one
    whose file is exactly its committed length: the next start cuts, deletes and renames, leaving no in-use file."""
    client = native_client(hdfs_stack)
    base = root.partition("://")[2].partition("/")[2]
    journal = Journal(tmp_path / "journal-k1", "test")
    writers = []
    for name, committed, torn in (("torn", b"line 1\nline 2\n", b"line 3 cut sh"), ("empty", b"", b"partial"),
                                  ("whole", b"only line\n", b"")):
        in_use = f"/{base}/{name}.1.tmp"
        writer = client.create(in_use)
        writer.write(committed)
        writer.hsync()
        if torn:
            writer.write(torn)
            writer.hsync()
        writers.append(writer)  # never closed: the "crashed" writer keeps its lease
        record = OpenFile(f"{hdfs_stack.url}{in_use}", f"{hdfs_stack.url}/{base}/{name}.1")
        journal.opened(record)
        journal.committed({record.in_use: len(committed)})
    journal.close()
    sink, _ = make_sink(root)  # same journal directory: start() repairs
    assert listing(root) == {"torn.1": b"line 1\nline 2\n", "whole.1": b"only line\n"}
    sink.stop()
    assert Journal(tmp_path / "journal-k1", "test").files == {}


def test_repair_is_safe_to_run_again_after_an_interruption(root: str, hdfs_stack: HdfsStack) -> None:
    client = native_client(hdfs_stack)
    base = root.partition("://")[2].partition("/")[2]
    fs = HdfsFileSystem(30.0)
    # Interrupted after the cut-back copy was renamed to the final name: only the torn original is left over.
    record = OpenFile(f"{hdfs_stack.url}/{base}/a.1.tmp", f"{hdfs_stack.url}/{base}/a.1", committed=4)
    for path, data in (("a.1.tmp", b"abcdXY"), ("a.1", b"abcd")):
        writer = client.create(f"/{base}/{path}")
        writer.write(data)
        writer.close()
    assert repair(fs, record) == record.final
    assert listing(root) == {"a.1": b"abcd"}
    assert repair(fs, record) == record.final  # and again: nothing changes
    assert listing(root) == {"a.1": b"abcd"}


def test_roll_interval_and_idle_timeout_close_files_between_batches(root: str, make_sink: SinkFactory) -> None:
    now = [1000.0]
    sink, channel = make_sink(f"{root}/interval", clock=lambda: now[0], hdfs__fileType="DataStream",
                              hdfs__rollInterval="30")
    idle, idle_channel = make_sink(f"{root}/idle", name="k2", clock=lambda: now[0], hdfs__fileType="DataStream",
                                   hdfs__idleTimeout="10")
    for target in (channel, idle_channel):
        put(target, [Event(b"first")])
    drive(sink)
    drive(idle)
    now[0] += 9.0
    drive(idle)  # not idle long enough yet
    assert all(name.endswith(".tmp") for name in listing(f"{root}/idle"))
    now[0] += 1.0
    drive(idle)
    assert list(listing(f"{root}/idle").values()) == [b"first\n"]
    assert not any(name.endswith(".tmp") for name in listing(f"{root}/idle"))
    now[0] += 20.0  # 30 s since the interval sink's file opened
    put(channel, [Event(b"second")])
    drive(sink)  # the timer closes the first file before the take; "second" opens the next one
    files = listing(f"{root}/interval")
    assert sorted(files.values()) == [b"first\n", b"second\n"]
    assert sum(name.endswith(".tmp") for name in files) == 1


def test_max_open_files_closes_the_least_recently_written_bucket(root: str, make_sink: SinkFactory) -> None:
    sink, channel = make_sink(f"{root}/%{{b}}", hdfs__fileType="DataStream", hdfs__maxOpenFiles="2",
                              hdfs__batchSize="1")
    for bucket in ("x", "y", "z"):
        put(channel, [Event(bucket.encode(), {"b": bucket})])
        assert drive(sink) == 1
    in_use = sorted(name.split("/")[0] for name in listing(root) if name.endswith(".tmp"))
    assert in_use == ["y", "z"]  # x, written first, was closed when z made three
    sink.stop()
    assert not any(name.endswith(".tmp") for name in listing(root))


def test_a_batch_failed_by_a_datanode_restart_is_written_again_whole_into_a_new_file(
        private_hdfs: HdfsStack, tmp_path: Path) -> None:
    """The open file's pipeline dies with its DataNode: the batch fails (rolled back), the file is repaired (cut
    back to its committed batch, renamed) and the retried batch goes to a new file; nothing is torn or doubled."""
    root = f"{private_hdfs.url}/dn-restart"
    sink = build(HdfsSink, {"hdfs.path": root, "hdfs.journalDir": str(tmp_path / "journal"),
                            "hdfs.hadoopConfDir": str(private_hdfs.conf_dir), "hdfs.fileType": "DataStream",
                            "hdfs.rollInterval": "0", "hdfs.rollSize": "0", "hdfs.rollCount": "0",
                            "hdfs.callTimeout": "20000", "hdfs.retryInterval": "1"}, "k1")
    channel = memory_channel()
    sink.channel = channel
    sink.start()
    try:
        put(channel, [Event(b"first %d" % i) for i in range(50)])
        assert drive(sink) == 1
        private_hdfs.restart("datanode")
        put(channel, [Event(b"second %d" % i) for i in range(50)])
        failures = 0
        deadline = time.monotonic() + 120
        while channel.size() and time.monotonic() < deadline:
            try:
                sink.process()
            except DeliveryError:
                failures += 1  # rolled back: the events are back in the channel
        assert channel.size() == 0
    finally:
        sink.stop()
    files = listing_at(private_hdfs, "/dn-restart")
    assert not [name for name in files if name.endswith(".tmp")]
    lines = b"".join(files[name] for name in sorted(files)).split(b"\n")
    assert lines[-1] == b""  # every file ends with a whole line
    assert sorted(lines[:-1]) == sorted([b"first %d" % i for i in range(50)] + [b"second %d" % i for i in range(50)])
    assert failures >= 1
    assert len(files) == 2


def listing_at(hdfs: HdfsStack, directory: str) -> dict[str, bytes]:
    client = InsecureClient(hdfs.webhdfs_url)
    out = {}
    for name in client.list(directory):
        with client.read(f"{directory}/{name}") as reader:
            out[name] = reader.read()
    return out


def test_avro_event_files_are_read_back_by_fastavro(root: str, make_sink: SinkFactory) -> None:
    sink, channel = make_sink(root, hdfs__fileType="DataStream", serializer="avro_event", hdfs__batchSize="30")
    put(channel, [Event(f"body {i}".encode(), {"n": str(i)}) for i in range(70)])
    assert drive(sink) == 3
    sink.stop()
    [data] = listing(root).values()
    records = list(fastavro.reader(io.BytesIO(data)))
    assert [(r["headers"], r["body"]) for r in records] == [({"n": str(i)}, f"body {i}".encode()) for i in range(70)]


def test_buckets_by_header_and_by_rounded_hour_in_the_configured_zone(root: str, make_sink: SinkFactory) -> None:
    sink, channel = make_sink(f"{root}/%{{app}}/%Y%m%d/%H%M", hdfs__fileType="DataStream", hdfs__round="true",
                              hdfs__roundValue="2", hdfs__roundUnit="hour", hdfs__timeZone="America/Los_Angeles",
                              hdfs__filePrefix="events-%{app}")
    # 2023-11-14T22:13:20Z is 14:13 in Los Angeles (PST): the 14:00 bucket; an hour later is still 14:00 (two-hour
    # rounding); three hours later is 16:00.
    base = 1_700_000_000_000
    events = [Event(b"%d" % n, {"app": app, "timestamp": str(base + offset * 3_600_000)})
              for n, (app, offset) in enumerate([("web", 0), ("web", 1), ("web", 3), ("api", 0)])]
    put(channel, events)
    drive(sink)
    sink.stop()
    placed = {path.rsplit("/", 1)[0]: data for path, data in listing(root).items()}
    assert placed == {"web/20231114/1400": b"0\n1\n", "web/20231114/1600": b"2\n", "api/20231114/1400": b"3\n"}
    assert all(path.rsplit("/", 1)[1].startswith(f"events-{path.split('/')[0]}.") for path in listing(root))


class Killed(BaseException):
    """The process dying right after the NameNode created a file (a SIGKILL cannot be placed that precisely)."""


def test_a_death_right_after_a_file_is_created_strands_no_in_use_file(
        make_sink: SinkFactory, root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal knows a file before the NameNode creates it: the next start removes it (nothing committed).
    With the entry written after the create, a kill in between left an in-use file no start knew of."""
    sink, channel = make_sink(root)
    real_create = HdfsFileSystem.create

    def create_then_die(self: HdfsFileSystem, path: str) -> object:
        real_create(self, path)
        raise Killed

    monkeypatch.setattr(HdfsFileSystem, "create", create_then_die)
    put(channel, [Event(b"never committed")])
    with pytest.raises(Killed):
        sink.process()
    monkeypatch.undo()
    assert [name for name in listing(root) if name.endswith(".tmp")]  # the orphan, as the dead process left it
    sink.stop()  # releases the journal directory, as the process's end does; the journal keeps its entries
    again, _ = make_sink(root)  # the next start on the same journal
    again.stop()
    assert listing(root) == {}
