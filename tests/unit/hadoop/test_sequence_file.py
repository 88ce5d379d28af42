"""SequenceFile writer: Hadoop's bytes, Flume's per-batch sync, every batch a readable prefix."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flafka.hadoop.codecs import CODECS, Codec
from flafka.hadoop.reading import FormatError, read_sequence_file
from flafka.hadoop.sequence_file import (
    BLOCK_SIZE,
    SYNC_INTERVAL,
    WRITE_FORMATS,
    CompressionType,
    SequenceFileWriter,
    record_key,
)
from flafka.hadoop.writables import BYTES_WRITABLE, TEXT, ValueWritable

SYNC = bytes(range(16))
KEYS = st.integers(min_value=-(2**63), max_value=2**63 - 1)
RECORDS = st.lists(st.tuples(KEYS, st.binary(max_size=400)), max_size=12)
BATCHES = st.lists(RECORDS, max_size=5)

# (compression, codec) pairs: every codec with RECORD and BLOCK
KINDS = [(CompressionType.NONE, None)] + [
    (compression, codec)
    for compression in (CompressionType.RECORD, CompressionType.BLOCK)
    for codec in CODECS.values()
    if codec.name != "deflate"  # the same bytes as default
]


def kind_id(kind: tuple[CompressionType, Codec | None]) -> str:
    compression, codec = kind
    return compression.value + (f"-{codec.name}" if codec else "")


def writer(value: ValueWritable = BYTES_WRITABLE, compression: CompressionType = CompressionType.NONE,
           codec: Codec | None = None, *, sync_interval: int = SYNC_INTERVAL, block_size: int = BLOCK_SIZE,
           ) -> tuple[io.BytesIO, SequenceFileWriter]:
    out = io.BytesIO()
    writer = SequenceFileWriter(out, value, compression, codec, sync_marker=SYNC, sync_interval=sync_interval,
                                block_size=block_size)
    return out, writer


def test_header_is_hadoops() -> None:
    # The header Hadoop 3.4.2's SequenceFile.Writer wrote for LongWritable/BytesWritable, uncompressed,
    # no metadata, before its (random) sync marker.
    out, _ = writer()
    assert out.getvalue() == (
        b'SEQ\x06!org.apache.hadoop.io.LongWritable"org.apache.hadoop.io.BytesWritable\x00\x00\x00\x00\x00\x00' + SYNC
    )


def test_block_header_names_the_codec() -> None:
    # Hadoop 3.4.2's header for LongWritable/Text, BLOCK-compressed with DefaultCodec.
    out, _ = writer(TEXT, CompressionType.BLOCK, CODECS["default"])
    assert out.getvalue() == (
        b"SEQ\x06!org.apache.hadoop.io.LongWritable\x19org.apache.hadoop.io.Text\x01\x01"
        b"*org.apache.hadoop.io.compress.DefaultCodec\x00\x00\x00\x00" + SYNC
    )


def test_metadata_goes_in_the_header() -> None:
    out = io.BytesIO()
    SequenceFileWriter(out, BYTES_WRITABLE, metadata={"writer": "flafka"}, sync_marker=SYNC)
    assert out.getvalue().endswith(b"\x00\x00\x00\x01\x06writer\x06flafka" + SYNC)
    assert read_sequence_file(out.getvalue()).metadata == {"writer": "flafka"}


def test_one_record_then_flumes_batch_sync() -> None:
    out, w = writer()
    header = len(out.getvalue())
    w.write_batch([(1_700_000_000_000, b"hi")])
    w.finish_batch()
    # record length 14 (key 8 + BytesWritable 6), key length 8, LongWritable, BytesWritable; then the
    # sync entry Flume's writer.sync() adds at the end of every batch
    assert out.getvalue()[header:].hex() == (
        "0000000e" "00000008" "0000018bcfe56800" "00000002" "6869" "ffffffff" + SYNC.hex()
    )
    w.finish_batch()  # nothing since the last sync entry: no second one
    assert len(out.getvalue()) == w.synced_length == header + 22 + 20


def test_text_values_carry_a_vint_length() -> None:
    out, w = writer(TEXT)
    header = len(out.getvalue())
    w.write_batch([(5, b"h\xc3\xa9")])
    assert out.getvalue()[header:].hex() == "0000000c" "00000008" "0000000000000005" "03" "68c3a9"


def test_sync_entries_every_interval_counted_from_the_start_of_the_file() -> None:
    # Hadoop's Writer starts counting at byte 0 (not at the header's end) and writes a sync entry
    # before the first record that begins `interval` bytes or more after the last one ended.
    # Header 95 bytes, records 30 bytes, interval 100: records start at 95, then sync at 125 (125 >= 100),
    # records at 145, 175, 205, 235, sync at 265 (265 >= 145 + 100), records at 285, 315.
    out, w = writer(sync_interval=100)
    w.write_batch([(i, b"0123456789") for i in range(7)])
    read = read_sequence_file(out.getvalue())
    assert read.sync_offsets == [145, 285]
    assert [key for key, _ in read.records] == list(range(7))


@pytest.mark.parametrize("value", [BYTES_WRITABLE, TEXT], ids=["Writable", "Text"])
@pytest.mark.parametrize("kind", KINDS, ids=kind_id)
@settings(max_examples=15, deadline=None)
@given(batches=BATCHES)
def test_every_finished_batch_leaves_a_file_that_reads_back_whole(
    value: ValueWritable, kind: tuple[CompressionType, Codec | None], batches: list[list[tuple[int, bytes]]]
) -> None:
    # A crash right after any finish_batch must leave a file Hadoop reads: the prefix up to
    # synced_length holds exactly the records of the batches finished so far.
    compression, codec = kind
    out, w = writer(value, compression, codec, block_size=500)
    written: list[tuple[int, bytes]] = []
    for batch in batches:
        w.write_batch(batch)
        w.finish_batch()
        written += batch
        assert w.synced_length == w.position == len(out.getvalue())
        read = read_sequence_file(out.getvalue()[: w.synced_length])
        assert read.records == written
        assert (read.compression, read.codec, read.value_class) == (compression, codec, value.class_name)


@pytest.mark.parametrize("codec", [CODECS["default"], CODECS["snappy"]], ids=["default", "snappy"])
def test_block_a_block_per_batch_and_one_more_per_block_size(codec: Codec) -> None:
    out, w = writer(compression=CompressionType.BLOCK, codec=codec, block_size=1000)
    w.write_batch([(i, b"x" * 10) for i in range(3)])
    assert w.position == w.synced_length  # held for the block
    w.finish_batch()
    w.write_batch([(i, b"y" * 200) for i in range(10)])  # (8 + 204) * 5 >= 1000: a block after the 5th
    w.finish_batch()
    w.finish_batch()  # nothing held: nothing written
    read = read_sequence_file(out.getvalue())
    assert len(read.sync_offsets) == 3  # one sync entry before each block
    assert [body for _, body in read.records] == [b"x" * 10] * 3 + [b"y" * 200] * 10


def test_rollback_forgets_the_unfinished_batch() -> None:
    for compression, codec in ((CompressionType.NONE, None), (CompressionType.BLOCK, CODECS["gzip"])):
        out, w = writer(compression=compression, codec=codec, block_size=100)
        w.write_batch([(1, b"kept")])
        w.finish_batch()
        w.write_batch([(2, b"lost " * 30), (3, b"lost")])  # BLOCK: the first fills a block, written
        out.truncate(w.synced_length)  # what the sink does when writing the batch failed
        out.seek(w.synced_length)
        w.rollback_batch()
        assert w.position == w.synced_length
        w.write_batch([(4, b"again")])
        w.finish_batch()
        assert read_sequence_file(out.getvalue()).records == [(1, b"kept"), (4, b"again")]


def test_compression_without_codec_is_hadoops_default_codec() -> None:
    out, _ = writer(compression=CompressionType.RECORD)
    assert read_sequence_file(out.getvalue()).codec is CODECS["default"]


def test_codec_without_compression_is_refused() -> None:
    with pytest.raises(ValueError, match="uncompressed"):
        writer(codec=CODECS["gzip"])


def test_sync_marker_has_16_bytes() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        SequenceFileWriter(io.BytesIO(), BYTES_WRITABLE, sync_marker=b"short")


def test_random_sync_markers_differ() -> None:
    markers = {SequenceFileWriter(io.BytesIO(), TEXT).sync_marker for _ in range(3)}
    assert len(markers) == 3


@pytest.mark.parametrize("compression", [CompressionType.NONE, CompressionType.BLOCK])
@pytest.mark.parametrize("key", [2**63, -(2**63) - 1])
def test_a_key_beyond_a_java_long_is_refused(compression: CompressionType, key: int) -> None:
    _, w = writer(compression=compression)
    with pytest.raises(OverflowError):
        w.write_batch([(key, b"x")])


def test_write_formats_are_flumes() -> None:
    assert WRITE_FORMATS == {"Writable": BYTES_WRITABLE, "Text": TEXT}


@pytest.mark.parametrize(("header", "key"), [("1700000000000", 1_700_000_000_000), ("+5", 5), ("-3", -3),
                                             ("007", 7), (str(2**63 - 1), 2**63 - 1)])
def test_record_key_reads_the_timestamp_header_as_java_does(header: str, key: int) -> None:
    assert record_key({"timestamp": header}, now_ms=42) == key


@pytest.mark.parametrize("header", ["", " 5", "5 ", "5.0", "1_000", "0x10", "\u0663", "+", str(2**63), "--1"])
def test_record_key_refuses_what_java_long_valueof_refuses(header: str) -> None:
    with pytest.raises(ValueError, match="timestamp header"):
        record_key({"timestamp": header}, now_ms=42)


def test_record_key_is_now_without_a_timestamp() -> None:
    assert record_key({"other": "1"}, now_ms=42) == 42


def test_reader_refuses_a_wrong_sync_marker_and_a_cut_record() -> None:
    out, w = writer()
    w.write_batch([(1, b"abc"), (2, b"def")])
    w.finish_batch()
    data = out.getvalue()
    with pytest.raises(FormatError, match="sync entry at byte"):
        read_sequence_file(data[:-1] + b"\x00")
    with pytest.raises(FormatError, match="bytes expected"):
        read_sequence_file(data[:-25])


def test_reader_refuses_what_is_not_a_version_6_sequence_file() -> None:
    with pytest.raises(FormatError, match="not a version 6"):
        read_sequence_file(b"SEQ\x05" + struct.pack(">i", 0))
