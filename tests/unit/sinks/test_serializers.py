"""The text, header_and_text and avro_event serializers: exact bytes and Avro round trips."""

from __future__ import annotations

import io
from typing import Any, cast

import fastavro
import pytest

from flafka.errors import ConfigError
from flafka.event import Event
from flafka.registry import resolve
from flafka.serializers.avro_event import FlumeEventAvroSerializer
from flafka.serializers.text import BodyTextSerializer, HeaderAndBodyTextSerializer, java_map_str
from flafka.testing import parse_config

EVENTS = [
    Event(b"first", {"a": "1", "b": "2"}),
    Event(b"", {}),
    Event(b"third \xff\x00", {"host": "web-1"}),
]


def _write(cls: type, options: dict[str, str], batches: list[list[Event]]) -> bytes:
    stream = io.BytesIO()
    serializer = cls(parse_config(cls, options), stream)
    serializer.after_create()
    for batch in batches:
        serializer.write_batch(batch)
        serializer.flush()
    serializer.before_close()
    return stream.getvalue()


def test_aliases_resolve_to_the_serializers() -> None:
    assert resolve("serializer", "TEXT") is BodyTextSerializer
    assert resolve("serializer", "header_and_text") is HeaderAndBodyTextSerializer
    assert resolve("serializer", "avro_event") is FlumeEventAvroSerializer
    assert resolve("serializer", "org.apache.flume.serialization.BodyTextEventSerializer$Builder") \
        is BodyTextSerializer


def test_text_appends_newline_by_default() -> None:
    assert _write(BodyTextSerializer, {}, [EVENTS, []]) == b"first\n\nthird \xff\x00\n"


def test_text_without_newline() -> None:
    out = _write(BodyTextSerializer, {"appendNewline": "false"}, [EVENTS[:1], EVENTS[2:]])
    assert out == b"firstthird \xff\x00"


def test_header_and_text_exact_bytes() -> None:
    assert _write(HeaderAndBodyTextSerializer, {}, [EVENTS]) == (
        b"{a=1, b=2} first\n{} \n{host=web-1} third \xff\x00\n"
    )


def test_header_and_text_without_newline() -> None:
    out = _write(HeaderAndBodyTextSerializer, {"appendNewline": "false"}, [EVENTS])
    assert out == b"{a=1, b=2} first{} {host=web-1} third \xff\x00"


def test_header_text_is_utf8_and_never_fails() -> None:
    out = _write(HeaderAndBodyTextSerializer, {}, [[Event(b"x", {"k": "é\udcff"})]])
    assert out == b"{k=\xc3\xa9?} x\n"


def test_java_map_str() -> None:
    assert java_map_str({}) == "{}"
    assert java_map_str({"x": "1"}) == "{x=1}"
    assert java_map_str({"x": "1", "y": ""}) == "{x=1, y=}"


def test_bad_append_newline_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="appendNewline"):
        parse_config(BodyTextSerializer, {"appendNewline": "yes"})


def _read_avro(data: bytes) -> tuple[list[Event], dict[str, str], dict[str, Any]]:
    reader = fastavro.reader(io.BytesIO(data))
    records = [cast(dict[str, Any], r) for r in reader]
    events = [Event(r["body"], r["headers"]) for r in records]
    return events, reader.metadata, cast(dict[str, Any], reader.writer_schema)


def test_avro_round_trip_over_several_batches() -> None:
    batches = [EVENTS, [Event(b"fourth", {"z": "26"})], EVENTS[:2]]
    data = _write(FlumeEventAvroSerializer, {}, batches)
    events, metadata, schema = _read_avro(data)
    assert events == [e for batch in batches for e in batch]
    assert metadata["avro.codec"] == "null"
    assert schema["name"] == "Event"
    assert "namespace" not in schema
    assert [f["name"] for f in schema["fields"]] == ["headers", "body"]


def test_avro_each_flush_ends_a_block() -> None:
    data = _write(FlumeEventAvroSerializer, {}, [EVENTS, EVENTS, EVENTS])
    blocks = list(fastavro.block_reader(io.BytesIO(data)))
    assert [b.num_records for b in blocks] == [3, 3, 3]


def test_avro_sync_interval_splits_a_batch() -> None:
    batch = [Event(b"x" * 40) for _ in range(5)]
    data = _write(FlumeEventAvroSerializer, {"syncIntervalBytes": "32"}, [batch])
    blocks = list(fastavro.block_reader(io.BytesIO(data)))
    assert [b.num_records for b in blocks] == [1, 1, 1, 1, 1]
    assert _read_avro(data)[0] == batch


@pytest.mark.parametrize("codec", ["deflate", "snappy", "bzip2", "xz"])
def test_avro_codecs(codec: str) -> None:
    batch = [Event(b"abc" * 100, {"n": str(i)}) for i in range(10)]
    data = _write(FlumeEventAvroSerializer, {"compressionCodec": codec.upper()}, [batch, batch])
    events, metadata, _ = _read_avro(data)
    assert events == batch + batch
    assert metadata["avro.codec"] == codec


def test_avro_unknown_codec_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="compressionCodec"):
        parse_config(FlumeEventAvroSerializer, {"compressionCodec": "lzo"})


def test_avro_sync_interval_bounds() -> None:
    with pytest.raises(ConfigError, match="syncIntervalBytes"):
        parse_config(FlumeEventAvroSerializer, {"syncIntervalBytes": "31"})


def test_avro_empty_file_has_a_valid_header() -> None:
    events, metadata, _ = _read_avro(_write(FlumeEventAvroSerializer, {}, []))
    assert events == []
    assert metadata["avro.codec"] == "null"
