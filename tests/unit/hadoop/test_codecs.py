"""The codec registry: Flume's names, Hadoop's framing of members, reading members back."""

from __future__ import annotations

import gzip
import struct
import zlib

import cramjam
import lz4.block
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flafka.hadoop.codecs import CODECS, LZ4_MAX_INPUT, SNAPPY_MAX_INPUT, Codec, UnknownCodec, codec_for_name

ALL = list(CODECS.values())
BLOCK_CODECS = [CODECS["snappy"], CODECS["lz4"]]


def ids(codec: Codec) -> str:
    return codec.name


@pytest.mark.parametrize("name", ["gzip", "GZIP", "GzipCodec", "gzipcodec", "org.apache.hadoop.io.compress.GzipCodec"])
def test_flume_names_a_codec_by_class_simple_name_or_short_name(name: str) -> None:
    gzip_codec = codec_for_name(name)
    assert gzip_codec is not None
    assert (gzip_codec.class_name, gzip_codec.extension) == ("org.apache.hadoop.io.compress.GzipCodec", ".gz")


@pytest.mark.parametrize("name", ["None", "none", "NONE"])
def test_none_is_no_codec(name: str) -> None:
    assert codec_for_name(name) is None


def test_deflate_and_default_are_two_classes_one_format() -> None:
    deflate, default = codec_for_name("deflate"), codec_for_name("default")
    assert deflate is not None
    assert default is not None
    # The header of a SequenceFile names the class the user chose; both write zlib streams to .deflate.
    assert deflate.class_name.endswith(".DeflateCodec")
    assert default.class_name.endswith(".DefaultCodec")
    assert deflate.extension == default.extension == ".deflate"
    assert deflate.compress(b"same") == default.compress(b"same")


def test_zstd_is_an_alias_and_needs_native_hadoop_to_be_read() -> None:
    zstd = codec_for_name("zstd")
    assert zstd is codec_for_name("ZStandardCodec")
    assert zstd is not None
    assert zstd.reader_needs_native
    assert zstd.extension == ".zst"
    assert [c.name for c in ALL if c.reader_needs_native] == ["zstandard"]


@pytest.mark.parametrize("name", ["lzo", "LzopCodec", "com.hadoop.compression.lzo.LzoCodec"])
def test_hadoop_lzo_is_refused_with_the_reason(name: str) -> None:
    with pytest.raises(UnknownCodec, match="hadoop-lzo's \\(GPL"):
        codec_for_name(name)


def test_an_unknown_name_lists_the_choices_and_a_close_match() -> None:
    with pytest.raises(UnknownCodec) as caught:
        codec_for_name("snapy")
    message = str(caught.value)
    assert "Choose from: None, GzipCodec, BZip2Codec" in message
    assert "Did you mean 'snappy'?" in message


@pytest.mark.parametrize("name", ["gzip ", "passthrough", ""])
def test_names_flume_would_not_match_are_unknown(name: str) -> None:
    # Flume compares the whole value (trailing blank included); PassthroughCodec cannot write.
    with pytest.raises(UnknownCodec):
        codec_for_name(name)


@pytest.mark.parametrize("codec", ALL, ids=ids)
@settings(max_examples=25, deadline=None)
@given(chunks=st.lists(st.binary(max_size=2000) | st.text(max_size=500).map(str.encode), max_size=6))
def test_members_in_a_row_read_back_as_one_stream(codec: Codec, chunks: list[bytes]) -> None:
    # A CompressedStream file is one member per batch; a reader must see their concatenation.
    assert codec.decompress(b"".join(map(codec.compress, chunks))) == b"".join(chunks)


@pytest.mark.parametrize("codec", ALL, ids=ids)
@settings(max_examples=25, deadline=None)
@given(writes=st.lists(st.lists(st.binary(max_size=700), max_size=5), max_size=4))
def test_streaming_members_read_back(codec: Codec, writes: list[list[bytes]]) -> None:
    compressor = codec.compressor()
    out = b""
    for member in writes:
        for data in member:
            out += compressor.compress(data)
        out += compressor.finish()
    assert codec.decompress(out) == b"".join(b"".join(member) for member in writes)


@pytest.mark.parametrize("codec", ALL, ids=ids)
def test_nothing_compressed_finishes_nothing(codec: Codec) -> None:
    compressor = codec.compressor()
    assert compressor.finish() == b""
    compressor.compress(b"abc")
    assert compressor.finish() != b""
    assert compressor.finish() == b""


@pytest.mark.parametrize("codec", [c for c in ALL if c not in BLOCK_CODECS], ids=ids)
def test_a_cut_member_is_an_error(codec: Codec) -> None:
    member = codec.compress(b"some text that compresses " * 20)
    with pytest.raises(ValueError, match=r"truncated|corrupt"):
        codec.decompress(member[:-3])


def test_gzip_members_are_those_of_hadoops_java_gzip_compressor() -> None:
    gzip_codec = CODECS["gzip"]
    member = gzip_codec.compress(b"hello\n")
    # BuiltInGzipCompressor's header (OS byte 0; zlib's own gzip wrapper writes 3), CRC-32 and size trailer
    assert member[:10] == bytes.fromhex("1f8b0800000000000000")
    assert member[-8:] == struct.pack("<II", zlib.crc32(b"hello\n"), 6)
    assert gzip.decompress(member * 2) == b"hello\n" * 2
    streamed = gzip_codec.compressor()
    assert streamed.compress(b"hel") + streamed.compress(b"lo\n") + streamed.finish() == member


def test_bzip2_members_are_whole_streams_with_their_magic() -> None:
    # BZip2CompressionOutputStream writes "BZ" itself, then CBZip2OutputStream "h9" and the blocks.
    assert CODECS["bzip2"].compress(b"x")[:4] == b"BZh9"


def test_default_codec_writes_zlib_streams() -> None:
    member = CODECS["default"].compress(b"hello")
    assert zlib.decompress(member) == b"hello"


@pytest.mark.parametrize("codec", BLOCK_CODECS, ids=ids)
def test_a_block_holds_its_length_then_one_compressed_piece(codec: Codec) -> None:
    member = codec.compress(b"hello hello hello")
    uncompressed, piece_length = struct.unpack(">ii", member[:8])
    assert uncompressed == 17
    assert len(member) == 8 + piece_length


@pytest.mark.parametrize(("codec", "max_input"), [(CODECS["snappy"], SNAPPY_MAX_INPUT), (CODECS["lz4"], LZ4_MAX_INPUT)],
                         ids=["snappy", "lz4"])
def test_blocks_gather_writes_and_pieces_stay_within_what_hadoops_reader_buffers(codec: Codec, max_input: int) -> None:
    # Hadoop's reader decompresses a piece into a 256 KiB buffer: no piece may hold more than its
    # writer's own limit (256 KiB less the codec's worst-case overhead).
    big = bytes(range(256)) * (2 * max_input // 256 + 7)
    compressor = codec.compressor()
    small = b"x" * (max_input // 3 + 1)
    out = b"".join(compressor.compress(data) for data in (small, small, small, big, small)) + compressor.finish()
    # Like BlockCompressorStream: two small writes fit a block (one piece), the third starts the next
    # one; a write longer than a piece is a block of its own, in pieces; what follows starts afresh.
    assert _blocks(codec, out) == [[2 * len(small)], [len(small)], [max_input, max_input, len(big) - 2 * max_input],
                                   [len(small)]]
    assert codec.decompress(out) == small * 3 + big + small
    assert _blocks(codec, codec.compress(big)) == [[max_input, max_input, len(big) - 2 * max_input]]
    assert max_input < 256 * 1024


@pytest.mark.parametrize("codec", BLOCK_CODECS, ids=ids)
def test_an_empty_member_is_no_block(codec: Codec) -> None:
    # Hadoop's BlockDecompressorStream ends the whole stream at a block of length 0.
    assert codec.compress(b"") == b""
    assert codec.decompress(struct.pack(">i", 0) + codec.compress(b"after")) == b""


@pytest.mark.parametrize("codec", BLOCK_CODECS, ids=ids)
def test_a_cut_block_is_an_error(codec: Codec) -> None:
    member = codec.compress(b"some text " * 50)
    for cut in (3, 6, len(member) - 1):
        with pytest.raises(ValueError, match="truncated"):
            codec.decompress(member[:cut])


def _blocks(codec: Codec, member: bytes) -> list[list[int]]:
    """The uncompressed length of each piece, block by block."""
    blocks, offset = [], 0
    while offset < len(member):
        (remaining,) = struct.unpack_from(">i", member, offset)
        offset += 4
        pieces = []
        while remaining > 0:
            (length,) = struct.unpack_from(">i", member, offset)
            piece = member[offset + 4 : offset + 4 + length]
            if codec is CODECS["snappy"]:
                plain = bytes(cramjam.snappy.decompress_raw(piece))
            else:
                plain = lz4.block.decompress(piece, uncompressed_size=remaining)
            pieces.append(len(plain))
            remaining -= len(plain)
            offset += 4 + length
        blocks.append(pieces)
    return blocks
