"""Hadoop's serialized forms of the Writables Flume's SequenceFiles hold, and of VInt/VLong.

* VLong/VInt (``WritableUtils.writeVLong``): -112..127 in one byte; otherwise a first byte giving the
  sign and the number of magnitude bytes (-113..-120: positive, 1..8 bytes; -121..-128: negative, its
  ones' complement in 1..8 bytes), then those bytes big-endian. A VInt is the same encoding of a value
  that fits 32 bits.
* ``LongWritable``: the long as 8 bytes big-endian.
* ``BytesWritable``: a 4-byte big-endian length, then the bytes.
* ``Text``: a VInt length, then the bytes. Flume's ``HDFSTextSerializer`` sets a Text from the body bytes
  as they are (``Text.set(byte[])`` does not check UTF-8), so a value here is bytes too.

The readers take a buffer and an offset and return the value and the offset after it: they serve the
SequenceFile reader (:mod:`flafka.hadoop.reading`) and tests.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "BYTES_WRITABLE",
    "LONG_WRITABLE",
    "TEXT",
    "ValueWritable",
    "long_writable",
    "read_long_writable",
    "read_vint",
    "read_vlong",
    "vint",
    "vlong",
]

LONG_WRITABLE = "org.apache.hadoop.io.LongWritable"

_INT32 = struct.Struct(">i")
_INT64 = struct.Struct(">q")
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1

# Every value below this encodes in at most 3 bytes; the table spares lengths (almost always small)
# the arithmetic below. 64 Ki entries of at most 3 bytes: ~2.5 MB once per process.
_TABLE_SIZE = 1 << 16


def _vlong_slow(value: int) -> bytes:
    if -112 <= value <= 127:
        return bytes((value & 0xFF,))
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise OverflowError(f"{value} does not fit a Java long")
    if value < 0:
        magnitude, base = ~value, -120
    else:
        magnitude, base = value, -112
    size = (magnitude.bit_length() + 7) // 8
    return bytes(((base - size) & 0xFF,)) + magnitude.to_bytes(size, "big")


_SMALL = tuple(_vlong_slow(v) for v in range(_TABLE_SIZE))


def vlong(value: int) -> bytes:
    """``WritableUtils.writeVLong``: 1 to 9 bytes."""
    if 0 <= value < _TABLE_SIZE:
        return _SMALL[value]
    return _vlong_slow(value)


def vint(value: int) -> bytes:
    """``WritableUtils.writeVInt``: a VLong of a value that fits a Java int (1 to 5 bytes)."""
    if 0 <= value < _TABLE_SIZE:
        return _SMALL[value]
    if not _INT_MIN <= value <= _INT_MAX:
        raise OverflowError(f"{value} does not fit a Java int")
    return _vlong_slow(value)


def read_vlong(data: bytes | memoryview, offset: int) -> tuple[int, int]:
    """The VLong at ``offset`` and the offset after it (``WritableUtils.readVLong``)."""
    try:
        first = data[offset]
    except IndexError:
        raise ValueError(f"VLong at offset {offset}: end of data") from None
    if first < 0x80 or first >= 0x90:  # -112..127 as a signed byte: the value itself
        return (first - 256 if first >= 0x80 else first), offset + 1
    signed = first - 256
    negative = signed < -120
    size = (-120 - signed) if negative else (-112 - signed)
    end = offset + 1 + size
    if end > len(data):
        raise ValueError(f"VLong at offset {offset}: {size} bytes announced, {len(data) - offset - 1} left")
    magnitude = int.from_bytes(data[offset + 1 : end], "big")
    return (~magnitude if negative else magnitude), end


def read_vint(data: bytes | memoryview, offset: int) -> tuple[int, int]:
    """The VInt at ``offset`` and the offset after it; a value beyond 32 bits is an error, as in Java."""
    value, end = read_vlong(data, offset)
    if not _INT_MIN <= value <= _INT_MAX:
        raise ValueError(f"VInt at offset {offset}: {value} does not fit a Java int")
    return value, end


def long_writable(value: int) -> bytes:
    """A ``LongWritable``: 8 bytes big-endian."""
    return _INT64.pack(value)


def read_long_writable(data: bytes | memoryview, offset: int) -> tuple[int, int]:
    if offset + 8 > len(data):
        raise ValueError(f"LongWritable at offset {offset}: end of data")
    return _INT64.unpack_from(data, offset)[0], offset + 8


def _bytes_writable_prefix(length: int) -> bytes:
    return _INT32.pack(length)


def _read_bytes_writable(data: bytes | memoryview, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(data):
        raise ValueError(f"BytesWritable at offset {offset}: end of data")
    (length,) = _INT32.unpack_from(data, offset)
    return _read_body(data, offset + 4, length, "BytesWritable")


def _read_text(data: bytes | memoryview, offset: int) -> tuple[bytes, int]:
    length, start = read_vint(data, offset)
    return _read_body(data, start, length, "Text")


def _read_body(data: bytes | memoryview, start: int, length: int, kind: str) -> tuple[bytes, int]:
    end = start + length
    if length < 0 or end > len(data):
        raise ValueError(f"{kind} at offset {start}: length {length}, {len(data) - start} bytes left")
    return bytes(data[start:end]), end


@dataclass(frozen=True, slots=True)
class ValueWritable:
    """A Writable class whose value is a byte string: how it is named and framed."""

    #: The Java class name SequenceFile headers carry.
    class_name: str
    #: The bytes written before a value of the given length (the value's bytes follow as they are).
    prefix: Callable[[int], bytes]
    #: Reads one serialized value at an offset: (value, offset after it).
    read: Callable[[bytes | memoryview, int], tuple[bytes, int]]

    def serialize(self, value: bytes) -> bytes:
        return self.prefix(len(value)) + value


#: Flume's ``hdfs.writeFormat = Writable``: the body as ``org.apache.hadoop.io.BytesWritable``.
BYTES_WRITABLE = ValueWritable("org.apache.hadoop.io.BytesWritable", _bytes_writable_prefix, _read_bytes_writable)
#: Flume's ``hdfs.writeFormat = Text``: the body as ``org.apache.hadoop.io.Text``.
TEXT = ValueWritable("org.apache.hadoop.io.Text", vint, _read_text)
