"""The logger sink: one INFO record per event, shaped as Flume's EventHelper.dumpEvent."""

from __future__ import annotations

import io
import logging

import pytest

from flafka.channels.memory import MemoryChannel
from flafka.errors import ConfigError
from flafka.event import Event
from flafka.sinks.base import Status
from flafka.sinks.logger import LoggerSink, dump_event, hex_dump
from flafka.testing import build

LOGGER = "flafka.sinks.logger"


def _run(sink: LoggerSink, channel: MemoryChannel, events: list[Event]) -> int:
    with channel.transaction() as tx:
        tx.put_batch(events)
    sink.channel = channel
    sink.start()
    try:
        for calls in range(1, 1000):
            if sink.process() is Status.BACKOFF:
                return calls
    finally:
        sink.stop()
    raise AssertionError("sink never backed off")


def test_one_line_per_event_with_headers_and_first_16_bytes(
    channel: MemoryChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    events = [Event(f"hello world, event {i}".encode(), {"k": "v", "n": str(i)}) for i in range(150)]
    calls = _run(build(LoggerSink, {}, "k1"), channel, events)
    records = [r for r in caplog.records if r.name == LOGGER]
    assert len(records) == 150
    assert calls == 3  # 100 + 50, then an empty take
    assert all(r.levelno == logging.INFO for r in records)
    assert records[0].getMessage() == (
        "Event: { headers:{k=v, n=0} body: 68 65 6C 6C 6F 20 77 6F 72 6C 64 2C 20 65 76 65 hello world, eve }"
    )
    assert records[149].getMessage().startswith("Event: { headers:{k=v, n=149} body: 68 65")
    assert channel.size() == 0


def test_max_bytes_to_log_shorter_body_and_padding(
    channel: MemoryChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    _run(build(LoggerSink, {"maxBytesToLog": "4"}, "k1"), channel, [Event(b"hello\x01"), Event(b"")])
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert messages == [
        "Event: { headers:{} body: 68 65 6C 6C" + " " * 37 + "hell }",
        "Event: { headers:{} body: }",
    ]


def test_hex_dump_lines_like_commons_io() -> None:
    data = bytes(range(0x41, 0x41 + 16)) + b"\x00\x7f\x80\x20z"
    assert hex_dump(data) == (
        "00000000 41 42 43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F 50 ABCDEFGHIJKLMNOP\n"
        "00000010 00 7F 80 20 7A" + " " * 34 + "... z"
    )


def test_dump_event_drops_only_the_first_offset() -> None:
    text = dump_event(Event(b"0123456789abcdefXY", {"h": "1"}), 100)
    assert text == (
        "{ headers:{h=1} body: 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 0123456789abcdef\n"
        "00000010 58 59" + " " * 43 + "XY }"
    )


def test_hello_world_matches_flume_output() -> None:
    # The line Flume's user guide shows for the netcat example.
    assert dump_event(Event(b"Hello world!\r"), 16) == (
        "{ headers:{} body: 48 65 6C 6C 6F 20 77 6F 72 6C 64 21 0D          Hello world!. }"
    )


def test_nothing_is_logged_when_info_is_off(channel: MemoryChannel, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    _run(build(LoggerSink, {}, "k1"), channel, [Event(b"x")])
    assert [r for r in caplog.records if r.name == LOGGER] == []
    assert channel.size() == 0


def test_counters(channel: MemoryChannel) -> None:
    sink = build(LoggerSink, {}, "k1")
    _run(sink, channel, [Event(b"x")] * 5)
    assert sink.counter.event_drain_success_count == 5
    assert sink.counter.batch_underflow_count == 1


def test_bad_max_bytes_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="maxBytesToLog"):
        build(LoggerSink, {"maxBytesToLog": "lots"})


def test_a_lone_surrogate_in_a_header_does_not_lose_the_line_in_a_utf8_log(channel: MemoryChannel) -> None:
    # A log file handler writes UTF-8 strictly: a lone surrogate would make it drop the line.
    out = io.BytesIO()
    handler = logging.StreamHandler(io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True))
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        _run(build(LoggerSink, {}, "k1"), channel, [Event(b"a", {"k": "\u00e9\udcff"}), Event(b"b", {"k": "ok"})])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert out.getvalue().decode("utf-8").splitlines() == [
        "Event: { headers:{k=\u00e9\\udcff} body: 61" + " " * 46 + "a }",
        "Event: { headers:{k=ok} body: 62" + " " * 46 + "b }",
    ]
