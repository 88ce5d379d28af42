"""CompressedStream: a codec member per batch, every finished batch a readable prefix."""

from __future__ import annotations

import gzip
import io
from typing import BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flafka.event import Event
from flafka.hadoop.codecs import CODECS, Codec
from flafka.hadoop.compressed_stream import CompressedStream
from flafka.hadoop.reading import FormatError, read_compressed_stream
from flafka.serializers.text import BodyTextSerializer, TextSerializerConfig

ALL = [codec for codec in CODECS.values() if codec.name != "deflate"]  # deflate: default's bytes


def ids(codec: Codec) -> str:
    return codec.name


@pytest.mark.parametrize("codec", ALL, ids=ids)
@settings(max_examples=20, deadline=None)
@given(batches=st.lists(st.lists(st.binary(max_size=3000), max_size=6), max_size=5))
def test_every_finished_batch_leaves_a_file_that_reads_back_whole(codec: Codec, batches: list[list[bytes]]) -> None:
    out = io.BytesIO()
    stream = CompressedStream(out, codec)
    written = b""
    for batch in batches:
        for data in batch:
            assert stream.write(data) == len(data)
        stream.flush()  # a serializer's flush ends no member
        stream.finish_batch()
        written += b"".join(batch)
        assert stream.synced_length == stream.position == len(out.getvalue())
        assert read_compressed_stream(out.getvalue(), codec) == written


def test_a_gzip_file_is_a_member_per_batch() -> None:
    out = io.BytesIO()
    stream = CompressedStream(out, CODECS["gzip"])
    for batch in (b"one\n", b"two\n"):
        stream.write(batch)
        stream.flush()
        stream.finish_batch()
    member = CODECS["gzip"].compress
    assert out.getvalue() == member(b"one\n") + member(b"two\n")
    assert gzip.decompress(out.getvalue()) == b"one\ntwo\n"


@pytest.mark.parametrize("codec", ALL, ids=ids)
def test_a_batch_that_wrote_nothing_writes_nothing(codec: Codec) -> None:
    out = io.BytesIO()
    stream = CompressedStream(out, codec)
    stream.write(b"")
    stream.finish_batch()
    assert out.getvalue() == b""


@pytest.mark.parametrize("codec", [CODECS["gzip"], CODECS["snappy"]], ids=ids)
def test_rollback_forgets_the_unfinished_batch(codec: Codec) -> None:
    out = io.BytesIO()
    stream = CompressedStream(out, codec)
    stream.write(b"kept\n")
    stream.finish_batch()
    stream.write(b"lost\n" * 100_000)  # enough for bytes to reach `out` before the batch ends
    assert stream.position > stream.synced_length
    out.truncate(stream.synced_length)  # what the sink does when writing the batch failed
    out.seek(stream.synced_length)
    stream.rollback_batch()
    stream.write(b"again\n")
    stream.finish_batch()
    assert read_compressed_stream(out.getvalue(), codec) == b"kept\nagain\n"


def test_a_cut_member_is_a_format_error() -> None:
    out = io.BytesIO()
    stream = CompressedStream(out, CODECS["gzip"])
    stream.write(b"some text " * 100)
    stream.finish_batch()
    with pytest.raises(FormatError, match="truncated gzip member"):
        read_compressed_stream(out.getvalue()[:-4], CODECS["gzip"])


def test_start_counts_a_file_that_already_holds_bytes() -> None:
    stream = CompressedStream(io.BytesIO(), CODECS["gzip"], start=100)
    assert stream.synced_length == stream.position == 100


def test_accepts_any_bytes_like_object_and_refuses_writes_once_closed() -> None:
    out = io.BytesIO()
    stream = CompressedStream(out, CODECS["default"])
    assert stream.write(bytearray(b"ab")) + stream.write(memoryview(b"cd")) == 4
    stream.finish_batch()
    stream.close()
    assert read_compressed_stream(out.getvalue(), CODECS["default"]) == b"abcd"
    assert not out.closed  # the file is the owner's
    with pytest.raises(ValueError, match="closed"):
        stream.write(b"x")


def test_a_serializer_writes_through_it() -> None:
    # Flume's HDFSCompressedDataStream hands its serializer the codec stream; so can the sink.
    out = io.BytesIO()
    stream = CompressedStream(out, CODECS["bzip2"])
    binary: BinaryIO = stream
    serializer = BodyTextSerializer(TextSerializerConfig(), binary)
    serializer.after_create()
    serializer.write_batch([Event(b"one"), Event(b"two")])
    serializer.flush()
    stream.finish_batch()
    assert read_compressed_stream(out.getvalue(), CODECS["bzip2"]) == b"one\ntwo\n"
