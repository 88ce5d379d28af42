"""AvroFlumeEvent codec: the reference §5 byte vectors, fastavro agreement, and bad input."""

from __future__ import annotations

import io

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flafka.kafka.avro_event import AvroDecodeError, decode, encode

SCHEMA = fastavro.parse_schema({
    "type": "record", "name": "AvroFlumeEvent", "namespace": "org.apache.flume.source.avro",
    "fields": [{"name": "headers", "type": {"type": "map", "values": "string"}}, {"name": "body", "type": "bytes"}],
})


@pytest.mark.parametrize(("headers", "body", "hexbytes"), [
    ({}, b"", "00 00"),
    ({}, b"hi", "00 04 68 69"),
    ({"a": "b"}, b"hi", "02 02 61 02 62 00 04 68 69"),
])
def test_reference_vectors(headers: dict[str, str], body: bytes, hexbytes: str) -> None:
    assert encode(headers, body) == bytes.fromhex(hexbytes)
    assert decode(bytes.fromhex(hexbytes)) == (headers, body)


@given(st.dictionaries(st.text(), st.text(), max_size=8), st.binary(max_size=300))
def test_agrees_with_fastavro_both_ways(headers: dict[str, str], body: bytes) -> None:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, SCHEMA, {"headers": headers, "body": body})
    assert decode(out.getvalue()) == (headers, body)
    assert fastavro.schemaless_reader(io.BytesIO(encode(headers, body)), SCHEMA) == {"headers": headers, "body": body}


def test_multi_block_and_negative_count_maps_are_read() -> None:
    # two blocks of one entry each, the second with a negative count and its byte size
    data = bytes.fromhex("02 02 61 02 62" "01 08 02 63 02 64" "00" "02 7a")
    assert decode(data) == ({"a": "b", "c": "d"}, b"z")


@pytest.mark.parametrize("data", [b"", b"\x02", b"\x00", b"\x00\x08ab", b"\x00\x02ab", b"\x02\x02\xff\x00\x00\x00",
                                  b"\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"])
def test_bad_values_raise_avro_decode_error(data: bytes) -> None:
    with pytest.raises(AvroDecodeError):
        decode(data)
