"""VInt/VLong and the Writables Flume's SequenceFiles hold, byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flafka.hadoop.writables import (
    BYTES_WRITABLE,
    TEXT,
    ValueWritable,
    long_writable,
    read_long_writable,
    read_vint,
    read_vlong,
    vint,
    vlong,
)

JAVA_LONG = st.integers(min_value=-(2**63), max_value=2**63 - 1)
JAVA_INT = st.integers(min_value=-(2**31), max_value=2**31 - 1)

# What Hadoop 3.4.2's WritableUtils.writeVLong wrote for these values (run once from its jar): the
# edges of the one-byte range and of each width, both signs.
WRITTEN_BY_HADOOP = {
    0: "00",
    1: "01",
    127: "7f",
    128: "8f80",
    255: "8fff",
    256: "8e0100",
    -1: "ff",
    -112: "90",
    -113: "8770",
    -256: "87ff",
    -257: "860100",
    65535: "8effff",
    65536: "8d010000",
    2**31 - 1: "8c7fffffff",
    -(2**31): "847fffffff",
    2**63 - 1: "887fffffffffffffff",
    -(2**63): "807fffffffffffffff",
}


@pytest.mark.parametrize(("value", "encoded"), WRITTEN_BY_HADOOP.items())
def test_vlong_bytes_are_hadoops(value: int, encoded: str) -> None:
    assert vlong(value).hex() == encoded
    assert read_vlong(bytes.fromhex(encoded), 0) == (value, len(encoded) // 2)


def test_writables_bytes_are_hadoops() -> None:
    # BytesWritable("hi"), Text("hé"), LongWritable(1700000000000) as Hadoop 3.4.2 serialized them
    written = BYTES_WRITABLE.serialize(b"hi") + TEXT.serialize("hé".encode()) + long_writable(1_700_000_000_000)
    assert written.hex() == "00000002" "6869" "03" "68c3a9" "0000018bcfe56800"


@given(JAVA_LONG)
def test_vlong_round_trip_in_the_fewest_bytes(value: int) -> None:
    encoded = vlong(value)
    assert read_vlong(encoded, 0) == (value, len(encoded))
    magnitude = ~value if value < 0 else value
    assert len(encoded) == (1 if -112 <= value <= 127 else 1 + (magnitude.bit_length() + 7) // 8)


@given(st.lists(JAVA_INT, max_size=20), st.binary(max_size=3))
def test_vints_in_a_row_read_back_in_order(values: list[int], tail: bytes) -> None:
    data = b"".join(map(vint, values)) + tail
    offset, read = 0, []
    for _ in values:
        value, offset = read_vint(data, offset)
        read.append(value)
    assert read == values
    assert data[offset:] == tail


@given(st.integers(min_value=2**31, max_value=2**63 - 1) | st.integers(min_value=-(2**63), max_value=-(2**31) - 1))
def test_a_vint_is_32_bits(value: int) -> None:
    with pytest.raises(OverflowError):
        vint(value)
    with pytest.raises(ValueError, match="does not fit a Java int"):
        read_vint(vlong(value), 0)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1])
def test_a_vlong_is_64_bits(value: int) -> None:
    with pytest.raises(OverflowError):
        vlong(value)


@given(JAVA_LONG)
def test_a_cut_vlong_is_an_error(value: int) -> None:
    encoded = vlong(value)
    for cut in range(len(encoded)):
        with pytest.raises(ValueError, match="VLong at offset 0"):
            read_vlong(encoded[:cut], 0)


@given(JAVA_LONG)
def test_long_writable_round_trip(value: int) -> None:
    assert read_long_writable(long_writable(value), 0) == (value, 8)


@pytest.mark.parametrize("writable", [BYTES_WRITABLE, TEXT], ids=lambda w: w.class_name)
@given(body=st.binary(max_size=300), tail=st.binary(max_size=5))
def test_value_round_trip_and_cut(writable: ValueWritable, body: bytes, tail: bytes) -> None:
    serialized = writable.serialize(body)
    assert writable.read(serialized + tail, 0) == (body, len(serialized))
    with pytest.raises(ValueError, match=r"end of data|bytes left|VLong"):
        writable.read(serialized[:-1], 0)


def test_text_takes_bytes_as_they_are() -> None:
    # Flume's Text.set(byte[]) keeps a body that is not UTF-8 unchanged; so does TEXT.
    assert TEXT.serialize(b"\xff\xfe") == b"\x02\xff\xfe"
