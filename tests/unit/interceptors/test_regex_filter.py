from __future__ import annotations

import pytest

from flafka.errors import ConfigError
from flafka.event import Event
from flafka.interceptors.regex_filter import RegexFilteringInterceptor
from flafka.registry import resolve
from flafka.testing import build, intercept, parse_config


def _batch() -> list[Event]:
    return [
        Event(b"INFO started"),
        Event(b"ERROR disk full"),
        Event(b"debug ERROR x"),
        Event(b"WARN \xff bad"),
    ]


def test_default_keeps_everything() -> None:
    events = _batch()
    assert intercept([build(RegexFilteringInterceptor)], events) == _batch()


def test_default_with_exclude_drops_everything() -> None:
    assert intercept([build(RegexFilteringInterceptor, {"excludeEvents": "true"})], _batch()) == []


def test_include_keeps_matches_anywhere_in_body() -> None:
    out = intercept([build(RegexFilteringInterceptor, {"regex": "ERROR"})], _batch())
    assert [e.body for e in out] == [b"ERROR disk full", b"debug ERROR x"]


def test_exclude_drops_matches() -> None:
    out = intercept(
        [build(RegexFilteringInterceptor, {"regex": "^ERROR", "excludeEvents": "true"})], _batch()
    )
    assert [e.body for e in out] == [b"INFO started", b"debug ERROR x", b"WARN \xff bad"]


def test_body_is_decoded_utf8_with_replacement() -> None:
    out = intercept([build(RegexFilteringInterceptor, {"regex": "WARN \ufffd"})], _batch())
    assert [e.body for e in out] == [b"WARN \xff bad"]
    out = intercept(
        [build(RegexFilteringInterceptor, {"regex": "caf\u00e9"})], [Event("café".encode()), Event(b"cafe")]
    )
    assert [e.body for e in out] == ["café".encode()]


def test_invalid_regex_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="regex: is not a valid Java regular expression"):
        parse_config(RegexFilteringInterceptor, {"regex": "(ERROR"})


@pytest.mark.parametrize(
    "name", ["regex_filter", "org.apache.flume.interceptor.RegexFilteringInterceptor$Builder"]
)
def test_resolves_by_alias_and_flume_class(name: str) -> None:
    assert resolve("interceptor", name) is RegexFilteringInterceptor
