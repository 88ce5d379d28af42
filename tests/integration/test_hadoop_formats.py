"""What flafka.hadoop writes, read back by Hadoop 3.4's own code (devstack's jars; no HDFS server needed).

Every SequenceFile (Writable and Text values, NONE, and RECORD and BLOCK with every codec) and every
CompressedStream file, written in batches as the HDFS sink writes them, is read by:

* ``hadoop fs -text`` (FsShell: SequenceFile.Reader, codec streams), output compared exactly;
* MapReduce's SequenceFileInputFormat and TextInputFormat over many splits (what MapReduce jobs and
  Hive read with: splits start at sync entries, and bzip2 is read block by block);
* the codec's own input stream (``CompressionCodecFactory -out``) for CompressedStream files.

A file cut where a crash leaves it (at the end of the last finished batch) reads back too. And Hadoop's
own writers, given the same records and batches as Flume gives them, write byte for byte the same files
as flafka uncompressed and with the codecs whose compressor is the same (zlib: gzip, default, deflate),
and files flafka's reader reads for the others. Hadoop cannot read zstandard here (no libhadoop): that
refusal is checked too, so the codec's documented requirement stays true.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from flafka.hadoop.codecs import CODECS, Codec
from flafka.hadoop.compressed_stream import CompressedStream
from flafka.hadoop.reading import read_compressed_stream, read_sequence_file
from flafka.hadoop.sequence_file import WRITE_FORMATS, CompressionType, SequenceFileWriter
from tests.integration import hadoop_tools

pytestmark = pytest.mark.slow

# 1 + 99 + 1400 + 500 records: the big batch of text bodies (~1.2 MB) ends BLOCK blocks at
# io.seqfile.compress.blocksize inside the batch, spans sync intervals, and makes snappy/lz4 cut blocks
# into pieces. Binary bodies are short: fs -text prints them in hex, three bytes per byte.
BATCHES = (1, 99, 1400, 500)
SPLIT_BYTES = 200_000  # MapReduce splits per file: several, so readers start mid-file
NATIVE_ONLY = {codec.name for codec in CODECS.values() if codec.reader_needs_native}
# Hadoop's Java compressors that compress as flafka's do: their files must be identical.
SAME_BYTES = {"gzip", "default", "deflate"}


def _records() -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
    """(key, body) records: text bodies (UTF-8, no line breaks: they are lines too) and binary ones."""
    rng = random.Random(9)
    alphabet = "abcdefghijklmnopqrstuvwxyz ABC 0123456789 \t\"{}:,é€ß中𝄞"
    keys = [1_700_000_000_000 + 7 * i for i in range(sum(BATCHES))]
    keys[:3] = [-(2**63), 2**63 - 1, -1]
    text, binary = [], []
    for index, key in enumerate(keys):
        size = 0 if index == 3 else rng.choice((rng.randrange(700), rng.randrange(700), rng.randrange(3000)))
        text.append((key, "".join(rng.choices(alphabet, k=size)).encode()))
        binary.append((key, rng.randbytes(size // 10)))
    return text, binary


TEXT_RECORDS, BINARY_RECORDS = _records()


@dataclass(frozen=True)
class Written:
    """A file flafka wrote and what Hadoop's readers must give back for it."""

    name: str
    path: Path
    kind: str  # "seq" or "text"
    codec: Codec | None
    expected: bytes  # fs -text's output; MapReduce's, one record per line, is the same


def _batches(records: Sequence[tuple[int, bytes]]) -> Iterator[Sequence[tuple[int, bytes]]]:
    start = 0
    for size in BATCHES:
        yield records[start : start + size]
        start += size


def _seq_kinds() -> Iterator[tuple[CompressionType, Codec | None]]:
    yield CompressionType.NONE, None
    for compression in (CompressionType.RECORD, CompressionType.BLOCK):
        for codec in CODECS.values():
            yield compression, codec


def _write_sequence_file(path: Path, write_format: str, compression: CompressionType, codec: Codec | None, *,
                         records: Sequence[tuple[int, bytes]], sync_marker: bytes | None = None) -> bytes:
    out = io.BytesIO()
    writer = SequenceFileWriter(out, WRITE_FORMATS[write_format], compression, codec, sync_marker=sync_marker)
    for batch in _batches(records):
        writer.write_batch(batch)
        writer.finish_batch()
    path.write_bytes(out.getvalue())
    return out.getvalue()


def _write_stream(path: Path, codec: Codec) -> bytes:
    out = io.BytesIO()
    stream = CompressedStream(out, codec)
    for batch in _batches(TEXT_RECORDS):
        for _, body in batch:  # as Flume's text serializer writes: the body, then the newline
            stream.write(body)
            stream.write(b"\n")
        stream.finish_batch()
    path.write_bytes(out.getvalue())
    return out.getvalue()


def _fs_text_lines(write_format: str) -> bytes:
    if write_format == "Writable":  # BytesWritable.toString(): hex bytes separated by spaces
        return b"".join(b"%d\t%s\n" % (key, body.hex(" ").encode()) for key, body in BINARY_RECORDS)
    return b"".join(b"%d\t%s\n" % (key, body) for key, body in TEXT_RECORDS)


STREAM_TEXT = b"".join(body + b"\n" for _, body in TEXT_RECORDS)


@pytest.fixture(scope="module")
def conf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hadoop_tools.local_conf(tmp_path_factory.mktemp("hadoop-conf"))


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> list[Written]:
    directory = tmp_path_factory.mktemp("flafka-files")
    files = []
    for write_format in WRITE_FORMATS:
        for compression, codec in _seq_kinds():
            name = f"{write_format}-{compression.value}-{codec.name if codec else 'none'}"
            path = directory / f"{name}.seq"
            records = BINARY_RECORDS if write_format == "Writable" else TEXT_RECORDS
            _write_sequence_file(path, write_format, compression, codec, records=records)
            files.append(Written(name, path, "seq", codec, _fs_text_lines(write_format)))
    for codec in CODECS.values():
        path = directory / f"stream-{codec.name}{codec.extension}"
        _write_stream(path, codec)
        files.append(Written(f"stream-{codec.name}", path, "text", codec, STREAM_TEXT))
    return files


def _readable(written: list[Written]) -> list[Written]:
    return [file for file in written if file.codec is None or file.codec.name not in NATIVE_ONLY]


def _mismatches(files: Sequence[Written], output: bytes) -> list[str]:
    """The files whose part of ``output`` (their expected outputs, one after the other) differs."""
    wrong, offset = [], 0
    for file in files:
        got = output[offset : offset + len(file.expected)]
        if got != file.expected:
            at = next((i for i, (a, b) in enumerate(zip(got, file.expected, strict=False)) if a != b), len(got))
            wrong.append(f"{file.name}: differs from byte {at} of {len(file.expected)}")
        offset += len(file.expected)
    if offset != len(output):
        wrong.append(f"{len(output) - offset} bytes more than expected")
    return wrong


def test_fs_text_reads_every_sequence_file_and_stream(written: list[Written], conf: Path) -> None:
    files = _readable(written)
    assert len(files) == 2 * (1 + 2 * 6) + 6  # two write formats x (NONE, RECORD and BLOCK x codec), streams
    done = hadoop_tools.fs_text([file.path for file in files], conf)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    assert _mismatches(files, done.stdout) == [], done.stderr.decode(errors="replace")[-3000:]


def test_mapreduce_reads_every_file_split_by_split(written: list[Written], conf: Path, tmp_path: Path) -> None:
    files = _readable(written)
    args = ["read-splits", str(SPLIT_BYTES)]
    for file in files:
        args += [file.kind, file.path.resolve().as_uri(), str(tmp_path / f"{file.name}.out")]
    done = hadoop_tools.harness(args, conf)
    report = done.stderr.decode(errors="replace")
    assert done.returncode == 0, report[-3000:]
    wrong = [file.name for file in files if (tmp_path / f"{file.name}.out").read_bytes() != file.expected]
    assert wrong == [], report
    # MapReduce started readers mid-file: at sync entries in SequenceFiles, at block boundaries in bzip2
    # (the one splittable codec); it reads the other compressed streams whole.
    splits = dict(line.rsplit(": ", 1) for line in report.splitlines() if line.endswith(" splits"))
    for file in files:
        count = int(splits[file.path.resolve().as_uri()].split()[0])
        if file.name.startswith("Text-") or file.name == "stream-bzip2":
            assert count >= 5, file.name
        elif file.kind == "text":
            assert count == 1, file.name


def test_codec_input_streams_read_every_compressed_stream(written: list[Written], conf: Path) -> None:
    streams = [file for file in _readable(written) if file.kind == "text"]
    done = hadoop_tools.codec_cat([file.path for file in streams], conf)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    assert _mismatches(streams, done.stdout) == []


def test_a_file_cut_after_any_batch_reads_back(tmp_path: Path, conf: Path) -> None:
    """What a crash leaves: a file ending at the last finished batch (synced_length) reads back whole."""
    kept = sum(BATCHES[:-1])
    cuts, expected = [], b""
    for write_format, compression, codec in (
        ("Writable", CompressionType.NONE, None),
        ("Text", CompressionType.RECORD, CODECS["lz4"]),
        ("Text", CompressionType.BLOCK, CODECS["snappy"]),
    ):
        records = BINARY_RECORDS if write_format == "Writable" else TEXT_RECORDS
        out = io.BytesIO()
        writer = SequenceFileWriter(out, WRITE_FORMATS[write_format], compression, codec)
        writer.write_batch(records[:kept])
        writer.finish_batch()
        writer.write_batch(records[kept:])  # the batch the crash interrupts
        cuts.append(tmp_path / f"{write_format}-{compression.value}.seq")
        cuts[-1].write_bytes(out.getvalue()[: writer.synced_length])
        expected += b"".join(line + b"\n" for line in _fs_text_lines(write_format).split(b"\n")[:kept])
    for codec in (CODECS["gzip"], CODECS["bzip2"], CODECS["lz4"]):
        out = io.BytesIO()
        stream = CompressedStream(out, codec)
        stream.write(STREAM_TEXT)
        stream.finish_batch()
        stream.write(b"interrupted\n" * 50_000)
        cuts.append(tmp_path / f"stream{codec.extension}")
        cuts[-1].write_bytes(out.getvalue()[: stream.synced_length])
        expected += STREAM_TEXT
    done = hadoop_tools.fs_text(cuts, conf)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    assert done.stdout == expected


def test_hadoop_without_libhadoop_refuses_zstandard(written: list[Written], conf: Path) -> None:
    zstd = [file for file in written if file.codec is not None and file.codec.name in NATIVE_ONLY]
    for name in ("Text-BLOCK-zstandard", "stream-zstandard"):  # a SequenceFile and a stream
        file = next(file for file in zstd if file.name == name)
        done = hadoop_tools.fs_text([file.path], conf)
        assert done.returncode != 0, file.name
        assert b"native zStandard library not available" in done.stderr, file.name


def test_hadoops_writers_write_what_flafka_writes(tmp_path: Path, conf: Path) -> None:
    """Hadoop's SequenceFile.Writer and codec streams, driven as Flume drives them, against flafka's writers."""
    records = tmp_path / "records"
    records.write_bytes(b"".join(struct.pack(">qi", key, len(body)) + body for key, body in TEXT_RECORDS))
    args = ["write", str(records), ",".join(map(str, BATCHES))]
    expected = []
    for write_format in WRITE_FORMATS:
        for compression, codec in _seq_kinds():
            if codec is not None and codec.name in NATIVE_ONLY:
                continue
            name = f"{write_format}-{compression.value}-{codec.name if codec else 'none'}"
            args += ["seq", str(tmp_path / f"{name}.seq"), compression.value,
                     codec.class_name if codec else "-", write_format]
            expected.append((name, tmp_path / f"{name}.seq", write_format, compression, codec))
    for codec in CODECS.values():
        if codec.name not in NATIVE_ONLY:
            args += ["stream", str(tmp_path / f"stream-{codec.name}"), codec.class_name]
    done = hadoop_tools.harness(args, conf)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]

    differ = []
    for name, path, write_format, compression, codec in expected:
        hadoops = path.read_bytes()
        read = read_sequence_file(hadoops)  # flafka's reader reads every file Hadoop wrote
        assert read.records == TEXT_RECORDS, name
        # Written by flafka with Hadoop's (random) sync marker: the same file when the compressor is.
        ours = _write_sequence_file(tmp_path / f"{name}.flafka", write_format, compression, codec,
                                    records=TEXT_RECORDS, sync_marker=read.sync_marker)
        if (codec is None or codec.name in SAME_BYTES) and ours != hadoops:
            differ.append(name)
    for codec in CODECS.values():
        if codec.name in NATIVE_ONLY:
            continue
        hadoops = (tmp_path / f"stream-{codec.name}").read_bytes()
        assert read_compressed_stream(hadoops, codec) == STREAM_TEXT, codec.name
        ours = _write_stream(tmp_path / f"stream-{codec.name}.flafka", codec)
        if codec.name in SAME_BYTES and ours != hadoops:
            differ.append(f"stream-{codec.name}")
    assert differ == []
