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


def _write_with_unwritable(cls: type, options: dict[str, str], batches: list[list[Event]]
                           ) -> tuple[bytes, list[list[tuple[Event, str]]]]:
    stream = io.BytesIO()
    serializer = cls(parse_config(cls, options), stream)
    serializer.after_create()
    unwritable = []
    for batch in batches:
        unwritable.append(list(serializer.write_batch(batch) or []))
        serializer.flush()
    serializer.before_close()
    return stream.getvalue(), unwritable


SURROGATE_VALUE = Event(b"bad value", {"k": "\udcff"})
SURROGATE_NAME = Event(b"bad name", {"ok": "1", "n\ud800": "v"})


def test_header_and_text_writes_utf8_and_sets_aside_a_lone_surrogate() -> None:
    good = [Event(b"x", {"k": "\u00e9\U0001f600"}), Event(b"\xff", {})]
    out, unwritable = _write_with_unwritable(
        HeaderAndBodyTextSerializer, {}, [[good[0], SURROGATE_VALUE, SURROGATE_NAME, good[1]], [SURROGATE_VALUE]]
    )
    # Written faithfully or not at all: no "?" standing in for the surrogate, no half line.
    assert out == b"{k=\xc3\xa9\xf0\x9f\x98\x80} x\n{} \xff\n"
    assert [[event for event, _ in batch] for batch in unwritable] == [[SURROGATE_VALUE, SURROGATE_NAME],
                                                                       [SURROGATE_VALUE]]
    assert unwritable[0][0][1] == ("header 'k' value holds a lone surrogate U+DCFF at character 0, "
                                   "which UTF-8 cannot encode")
    assert unwritable[0][1][1] == ("header 'n\\ud800' name holds a lone surrogate U+D800 at character 1, "
                                   "which UTF-8 cannot encode")
    assert all(reason.isascii() for batch in unwritable for _, reason in batch)


def test_text_writes_every_body_whatever_the_headers() -> None:
    out, unwritable = _write_with_unwritable(BodyTextSerializer, {}, [[SURROGATE_VALUE, SURROGATE_NAME]])
    assert out == b"bad value\nbad name\n"
    assert unwritable == [[]]


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


def test_avro_sets_aside_what_the_schema_cannot_hold_and_the_file_stays_valid() -> None:
    good = [Event(b"good %d" % i, {"n": str(i), "text": "\u00e9t\u00e9"}) for i in range(20)]
    not_text = Event(b"x", {"n": 5})  # type: ignore[dict-item]  # a custom interceptor's mistake
    str_body = Event("text", {})  # type: ignore[arg-type]
    bad = [SURROGATE_VALUE, SURROGATE_NAME, not_text, str_body]
    first = [good[0], bad[0], *good[1:10], bad[1], bad[2]]
    second = [bad[3], *good[10:20], bad[0]]
    data, unwritable = _write_with_unwritable(FlumeEventAvroSerializer, {"syncIntervalBytes": "64"},
                                              [first, second])
    assert _read_avro(data)[0] == good
    assert [[event for event, _ in batch] for batch in unwritable] == [[bad[0], bad[1], bad[2]], [bad[3], bad[0]]]
    reasons = [reason for batch in unwritable for _, reason in batch]
    assert reasons[2] == "header 'n' value is a int, not a string"
    assert reasons[3] == "the body is a str, not bytes"


def test_avro_batch_of_only_bad_events_writes_an_empty_valid_file() -> None:
    data, unwritable = _write_with_unwritable(FlumeEventAvroSerializer, {}, [[SURROGATE_VALUE] * 3])
    assert len(unwritable[0]) == 3
    assert _read_avro(data)[0] == []
