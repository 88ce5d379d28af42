"""Hadoop's compression codecs as Flume names them, writing the bytes Hadoop's own streams write.

A codec compresses in *members*: what a Hadoop ``CompressionOutputStream`` writes between
``resetState()`` and ``finish()``. Flume's ``HDFSCompressedDataStream`` finishes a member at every
batch sync, and SequenceFile compresses each value (RECORD) or each buffer of a block (BLOCK) as one
member, so every codec here must read back as a *sequence* of members. How each codec frames one:

============  ===================================  ===========  ==========================================
Flume name    Hadoop class                         extension    one member is
============  ===================================  ===========  ==========================================
``gzip``      ``GzipCodec``                        ``.gz``      a gzip member (RFC 1952), with the header
                                                                Hadoop's pure-Java compressor writes
``bzip2``     ``BZip2Codec``                       ``.bz2``     a whole bzip2 stream, ``BZh9`` magic included
                                                                (``BZip2CompressionOutputStream`` writes
                                                                ``BZ``, then ``CBZip2OutputStream`` ``h9``…)
``default``   ``DefaultCodec``                     ``.deflate`` a zlib stream (RFC 1950), as Java's Deflater
``deflate``   ``DeflateCodec`` (a DefaultCodec)    ``.deflate`` the same
``snappy``    ``SnappyCodec``                      ``.snappy``  ``BlockCompressorStream`` blocks of raw snappy
``lz4``       ``Lz4Codec``                         ``.lz4``     ``BlockCompressorStream`` blocks of LZ4 *block*
                                                                format (not the LZ4 frame format)
``zstandard`` ``ZStandardCodec``                   ``.zst``     a zstd frame
============  ===================================  ===========  ==========================================

A ``BlockCompressorStream`` block is the uncompressed length (4 bytes, big-endian), then chunks, each
a 4-byte compressed length and that many bytes of one independently compressed piece, until the
pieces add up to the uncompressed length. As in Hadoop's writer, writes gather in one block until the
next one would take it past the largest piece (``io.compression.codec.{snappy,lz4}.buffersize``, 256
KiB by default, less the codec's worst-case overhead), and a longer write is a block of its own cut
into pieces of that size: Hadoop's reader decompresses each piece into a buffer of that size. It also
takes a block of length 0 for the end of the stream, so an empty member writes nothing at all.

For the same input, gzip and default/deflate members are byte for byte what Hadoop 3.4's Java codecs
write (both use zlib at level 6; compared in the integration tests, SequenceFiles and streams alike).
The other codecs come from other compressor implementations (libbz2, liblz4, Rust's snap through
cramjam, libzstd against Hadoop's CBZip2OutputStream, lz4-java, snappy-java), which choose matches
and literal runs differently: their bytes differ, their format does not.

Names are matched the way Flume's ``HDFSEventSink.getCodec`` matches them against Hadoop's codec
classes: the full class name, the simple name, or the simple name without ``Codec``, ignoring case
(``gzip``, ``GzipCodec``, ``org.apache.hadoop.io.compress.GzipCodec``); ``None`` means no codec.
flafka also takes ``zstd`` for ``zstandard``. ``lzo``/``lzop`` are hadoop-lzo's (GPL, outside
Hadoop): refused with that reason.

Reading: Hadoop 3.3.1 and later read gzip, bzip2, deflate, snappy (snappy-java) and lz4 (lz4-java, a
jar Hadoop's distribution ships) in pure Java. ``ZStandardCodec`` has no Java implementation: a cluster
reads ``.zst`` files and zstd-compressed SequenceFiles only where libhadoop was built with zstd
(``hadoop checknative``); :attr:`Codec.reader_needs_native` says so, and the sink should warn.
"""

from __future__ import annotations

import bz2
import difflib
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import cramjam
import lz4.block

__all__ = ["CODECS", "Codec", "Compressor", "UnknownCodec", "codec_for_name"]

_PACKAGE = "org.apache.hadoop.io.compress."
_INT32 = struct.Struct(">i")
_TWO_INT32 = struct.Struct(">ii")

# Hadoop's defaults: zlib.compress.level DEFAULT_COMPRESSION (6), CBZip2OutputStream's block size 9,
# io.compression.codec.zstd.level 3.
_ZLIB_LEVEL = 6
_BZIP2_LEVEL = 9
_ZSTD_LEVEL = 3
_ZLIB_WBITS = 15
_GZIP_WBITS = 31
_RAW_DEFLATE_WBITS = -15
# BuiltInGzipCompressor's member header: no flags, no mtime, OS 0 (zlib's own gzip wrapper writes OS 3,
# a difference no reader minds, but identical bytes make Hadoop's output the test oracle).
_GZIP_HEADER = bytes((0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0))
_GZIP_TRAILER = struct.Struct("<II")  # CRC-32 and length mod 2**32, little-endian

# io.compression.codec.{snappy,lz4}.buffersize default, and what Snappy/Lz4Codec leave of it for input
# (their compressionOverhead): the largest piece Hadoop's writer compresses at once.
_BLOCK_BUFFER = 256 * 1024
SNAPPY_MAX_INPUT = _BLOCK_BUFFER - (_BLOCK_BUFFER // 6 + 32)
LZ4_MAX_INPUT = _BLOCK_BUFFER - (_BLOCK_BUFFER // 255 + 16)


class Compressor(Protocol):
    """A streaming compressor of one codec, in members."""

    def compress(self, data: bytes) -> bytes:
        """Compress ``data`` into the current member; returns what is ready (maybe nothing yet)."""
        ...

    def finish(self) -> bytes:
        """The rest of the current member (nothing if nothing was compressed since the last finish).

        The next ``compress`` starts a new member.
        """
        ...


class UnknownCodec(ValueError):
    """A codec name that matches no codec flafka writes; the message lists the names that do."""


@dataclass(frozen=True, slots=True)
class Codec:
    """One Hadoop codec: its names, file extension, and how it writes and reads members."""

    #: Hadoop's class name, as SequenceFile headers carry it.
    class_name: str
    #: ``CompressionCodec.getDefaultExtension()``: the file suffix Flume uses when hdfs.fileSuffix is empty.
    extension: str
    #: Hadoop can read this codec only through libhadoop (no Java implementation).
    reader_needs_native: bool
    _new_compressor: Callable[[], Compressor] = field(repr=False)
    _compress: Callable[[bytes], bytes] = field(repr=False)
    _decompress: Callable[[bytes], bytes] = field(repr=False)

    @property
    def simple_name(self) -> str:
        """``GzipCodec``."""
        return self.class_name.rsplit(".", 1)[-1]

    @property
    def name(self) -> str:
        """The short name: ``gzip``."""
        return self.simple_name.removesuffix("Codec").lower()

    def compressor(self) -> Compressor:
        """A new streaming compressor (what ``createOutputStream`` wraps around a file)."""
        return self._new_compressor()

    def compress(self, data: bytes) -> bytes:
        """``data`` as one member (b"" for empty data with a block codec: see the module docstring)."""
        return self._compress(data)

    def decompress(self, data: bytes) -> bytes:
        """Every member of ``data``, concatenated; a truncated or corrupt member raises ValueError."""
        return self._decompress(data)


# --- zlib and gzip -------------------------------------------------------------------------------


class _ZlibCompressor:
    __slots__ = ("_obj",)

    def __init__(self) -> None:
        self._obj: zlib._Compress | None = None

    def compress(self, data: bytes) -> bytes:
        if self._obj is None:
            self._obj = zlib.compressobj(_ZLIB_LEVEL, zlib.DEFLATED, _ZLIB_WBITS)
        return self._obj.compress(data)

    def finish(self) -> bytes:
        obj, self._obj = self._obj, None
        return b"" if obj is None else obj.flush()


class _GzipCompressor:
    """Gzip members as Hadoop's pure-Java ``BuiltInGzipCompressor`` writes them, byte for byte."""

    __slots__ = ("_crc", "_obj", "_size")

    def __init__(self) -> None:
        self._obj: zlib._Compress | None = None
        self._crc = 0
        self._size = 0

    def compress(self, data: bytes) -> bytes:
        head = b""
        if self._obj is None:
            self._obj = zlib.compressobj(_ZLIB_LEVEL, zlib.DEFLATED, _RAW_DEFLATE_WBITS)
            self._crc, self._size = 0, 0
            head = _GZIP_HEADER
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        return head + self._obj.compress(data)

    def finish(self) -> bytes:
        obj, self._obj = self._obj, None
        if obj is None:
            return b""
        return obj.flush() + _GZIP_TRAILER.pack(self._crc, self._size & 0xFFFFFFFF)


def _gzip_compress(data: bytes) -> bytes:
    deflated = zlib.compress(data, _ZLIB_LEVEL, _RAW_DEFLATE_WBITS)
    return b"".join((_GZIP_HEADER, deflated, _GZIP_TRAILER.pack(zlib.crc32(data), len(data) & 0xFFFFFFFF)))


def _zlib_members(wbits: int, kind: str) -> Callable[[bytes], bytes]:
    def decompress(data: bytes) -> bytes:
        out = []
        rest = data
        while rest:
            obj = zlib.decompressobj(wbits)
            try:
                out.append(obj.decompress(rest))
            except zlib.error as exc:
                raise ValueError(f"corrupt {kind} member at byte {len(data) - len(rest)}: {exc}") from exc
            if not obj.eof:
                raise ValueError(f"truncated {kind} member at byte {len(data) - len(rest)}")
            rest = obj.unused_data
        return b"".join(out)

    return decompress


# --- bzip2 ---------------------------------------------------------------------------------------


class _Bzip2Compressor:
    __slots__ = ("_obj",)

    def __init__(self) -> None:
        self._obj: bz2.BZ2Compressor | None = None

    def compress(self, data: bytes) -> bytes:
        if self._obj is None:
            self._obj = bz2.BZ2Compressor(_BZIP2_LEVEL)
        return self._obj.compress(data)

    def finish(self) -> bytes:
        obj, self._obj = self._obj, None
        return b"" if obj is None else obj.flush()


def _bzip2_compress(data: bytes) -> bytes:
    return bz2.compress(data, _BZIP2_LEVEL)


def _bzip2_decompress(data: bytes) -> bytes:
    try:
        return bz2.decompress(data)  # reads concatenated streams
    except (OSError, EOFError, ValueError) as exc:
        raise ValueError(f"corrupt or truncated bzip2 data: {exc}") from exc


# --- zstandard -----------------------------------------------------------------------------------


class _ZstdCompressor:
    __slots__ = ("_obj",)

    def __init__(self) -> None:
        self._obj: cramjam.zstd.Compressor | None = None

    def compress(self, data: bytes) -> bytes:
        if self._obj is None:
            self._obj = cramjam.zstd.Compressor(_ZSTD_LEVEL)
        self._obj.compress(data)  # cramjam keeps the output until flush/finish
        return b""

    def finish(self) -> bytes:
        obj, self._obj = self._obj, None
        return b"" if obj is None else bytes(obj.finish())


def _zstd_compress(data: bytes) -> bytes:
    return bytes(cramjam.zstd.compress(data, _ZSTD_LEVEL))


def _zstd_decompress(data: bytes) -> bytes:
    if not data:
        return b""  # no frame at all (cramjam calls it an incomplete one)
    try:
        return bytes(cramjam.zstd.decompress(data))  # reads concatenated frames
    except cramjam.DecompressionError as exc:
        raise ValueError(f"corrupt or truncated zstd data: {exc}") from exc


# --- BlockCompressorStream (snappy, lz4) ---------------------------------------------------------


def _block(data: bytes, max_input: int, raw: Callable[[bytes], bytes]) -> bytes:
    """One block: the length of ``data``, then ``data`` compressed in pieces of at most ``max_input``."""
    parts = [_INT32.pack(len(data))]
    for start in range(0, len(data), max_input):
        compressed = raw(data[start : start + max_input])
        parts += (_INT32.pack(len(compressed)), compressed)
    return b"".join(parts)


def _block_compress(data: bytes, max_input: int, raw: Callable[[bytes], bytes]) -> bytes:
    return _block(data, max_input, raw) if data else b""


class _BlockCompressor:
    """``BlockCompressorStream``: writes gather in one block until the next would take it past
    ``max_input``; a write longer than that is a block of its own, in pieces."""

    __slots__ = ("_buffer", "_max_input", "_raw")

    def __init__(self, max_input: int, raw: Callable[[bytes], bytes]) -> None:
        self._max_input = max_input
        self._raw = raw
        self._buffer = bytearray()

    def compress(self, data: bytes) -> bytes:
        out = b""
        if self._buffer and len(self._buffer) + len(data) > self._max_input:
            out = self.finish()
        if len(data) > self._max_input:
            return out + _block(data, self._max_input, self._raw)
        self._buffer += data
        return out

    def finish(self) -> bytes:
        if not self._buffer:
            return b""
        out = _block(bytes(self._buffer), self._max_input, self._raw)
        self._buffer.clear()
        return out


def _block_decompress(kind: str, raw: Callable[[bytes, int], bytes]) -> Callable[[bytes], bytes]:
    def decompress(data: bytes) -> bytes:
        out = []
        offset = 0
        while offset < len(data):
            block_start = offset
            expected = _read_int(data, offset, kind)
            offset += 4
            if expected == 0:  # Hadoop's BlockDecompressorStream stops here too
                break
            got = 0
            while got < expected:
                length = _read_int(data, offset, kind)
                offset += 4
                if length < 0 or offset + length > len(data):
                    raise ValueError(f"truncated {kind} block at byte {block_start}")
                try:
                    piece = raw(data[offset : offset + length], expected - got)
                except Exception as exc:  # the libraries raise their own error types
                    raise ValueError(f"corrupt {kind} block at byte {block_start}: {exc}") from exc
                offset += length
                got += len(piece)
                out.append(piece)
            if got != expected:
                raise ValueError(f"{kind} block at byte {block_start}: {got} bytes, {expected} announced")
        return b"".join(out)

    return decompress


def _read_int(data: bytes, offset: int, kind: str) -> int:
    if offset + 4 > len(data):
        raise ValueError(f"truncated {kind} block header at byte {offset}")
    value: int = _INT32.unpack_from(data, offset)[0]
    return value


def _snappy_raw(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def _snappy_raw_decompress(data: bytes, _limit: int) -> bytes:
    return bytes(cramjam.snappy.decompress_raw(data))


def _lz4_raw(data: bytes) -> bytes:
    compressed: bytes = lz4.block.compress(data, store_size=False)
    return compressed


def _lz4_raw_decompress(data: bytes, limit: int) -> bytes:
    # python-lz4 returns what the block holds, `limit` being only the room given (cramjam pads to it).
    plain: bytes = lz4.block.decompress(data, uncompressed_size=limit)
    return plain


# --- the registry --------------------------------------------------------------------------------


def _zlib_codec(simple_name: str) -> Codec:
    return Codec(
        _PACKAGE + simple_name,
        ".deflate",
        reader_needs_native=False,
        _new_compressor=_ZlibCompressor,
        _compress=lambda data: zlib.compress(data, _ZLIB_LEVEL, _ZLIB_WBITS),
        _decompress=_zlib_members(_ZLIB_WBITS, "zlib"),
    )


def _block_codec(simple_name: str, extension: str, max_input: int, raw: Callable[[bytes], bytes],
                 raw_decompress: Callable[[bytes, int], bytes]) -> Codec:
    return Codec(
        _PACKAGE + simple_name,
        extension,
        reader_needs_native=False,
        _new_compressor=lambda: _BlockCompressor(max_input, raw),
        _compress=lambda data: _block_compress(data, max_input, raw),
        _decompress=_block_decompress(simple_name, raw_decompress),
    )


#: Every codec flafka writes, by short name (Hadoop 3.4's codec classes, PassthroughCodec aside: it
#: cannot write).
CODECS: dict[str, Codec] = {
    codec.name: codec
    for codec in (
        Codec(_PACKAGE + "GzipCodec", ".gz", False, _GzipCompressor, _gzip_compress,
              _zlib_members(_GZIP_WBITS, "gzip")),
        Codec(_PACKAGE + "BZip2Codec", ".bz2", False, _Bzip2Compressor, _bzip2_compress, _bzip2_decompress),
        _zlib_codec("DefaultCodec"),
        _zlib_codec("DeflateCodec"),
        _block_codec("SnappyCodec", ".snappy", SNAPPY_MAX_INPUT, _snappy_raw, _snappy_raw_decompress),
        _block_codec("Lz4Codec", ".lz4", LZ4_MAX_INPUT, _lz4_raw, _lz4_raw_decompress),
        Codec(_PACKAGE + "ZStandardCodec", ".zst", True, _ZstdCompressor, _zstd_compress, _zstd_decompress),
    )
}

_ALIASES = {"zstd": "zstandard"}
_GPL_CODECS = ("lzo", "lzocodec", "lzop", "lzopcodec")


def codec_for_name(name: str) -> Codec | None:
    """The codec ``name`` names (see the module docstring), or None for Flume's ``None``."""
    wanted = name.lower()
    if wanted == "none":
        return None
    wanted = _ALIASES.get(wanted, wanted)
    for codec in CODECS.values():
        if wanted in (codec.class_name.lower(), codec.simple_name.lower(), codec.name):
            return codec
    choices = ", ".join(["None", *(codec.simple_name for codec in CODECS.values())])
    if wanted.rsplit(".", 1)[-1] in _GPL_CODECS:
        raise UnknownCodec(
            f"compression codec {name!r} is hadoop-lzo's (GPL-licensed, not part of Hadoop); "
            f"flafka does not write it. Choose from: {choices}"
        )
    close = difflib.get_close_matches(wanted, [*CODECS, *(c.simple_name.lower() for c in CODECS.values())], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownCodec(f"unsupported compression codec {name!r}. Choose from: {choices}.{hint}")
