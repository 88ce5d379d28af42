from __future__ import annotations

import pytest

from flafka.errors import ConfigError
from flafka.event import Event
from flafka.interceptors.remove_header import RemoveHeaderInterceptor
from flafka.registry import resolve
from flafka.testing import build, intercept, parse_config


def _headers() -> dict[str, str]:
    return {"a": "1", "b": "2", "c": "3", "tmp-x": "4", "tmp-y": "5", "xtmp-z": "6"}


def _run(props: dict[str, str]) -> list[dict[str, str]]:
    out = intercept(
        [build(RemoveHeaderInterceptor, props)], [Event(b"1", _headers()), Event(b"2", {"b": "x"})]
    )
    assert [e.body for e in out] == [b"1", b"2"]
    return [e.headers for e in out]


def test_no_option_is_a_no_op() -> None:
    assert _run({}) == [_headers(), {"b": "x"}]


def test_with_name() -> None:
    assert _run({"withName": "b"}) == [{"a": "1", "c": "3", "tmp-x": "4", "tmp-y": "5", "xtmp-z": "6"}, {}]


def test_from_list_default_separator_allows_spaces() -> None:
    assert _run({"fromList": "a ,c,  missing"}) == [
        {"b": "2", "tmp-x": "4", "tmp-y": "5", "xtmp-z": "6"},
        {"b": "x"},
    ]


def test_from_list_custom_separator() -> None:
    assert _run({"fromList": "a|b", "fromListSeparator": r"\|"}) == [
        {"c": "3", "tmp-x": "4", "tmp-y": "5", "xtmp-z": "6"},
        {},
    ]


def test_matching_is_a_full_match() -> None:
    # 'tmp-.*' must not remove 'xtmp-z': the whole name has to match
    assert _run({"matching": "tmp-.*"}) == [{"a": "1", "b": "2", "c": "3", "xtmp-z": "6"}, {"b": "x"}]


def test_options_combine() -> None:
    assert _run({"withName": "a", "fromList": "b", "matching": "tmp-[xy]"}) == [{"c": "3", "xtmp-z": "6"}, {}]


@pytest.mark.parametrize("key", ["matching", "fromListSeparator"])
def test_invalid_regex_is_a_config_error(key: str) -> None:
    with pytest.raises(ConfigError, match=f"{key}: is not a valid Java regular expression") as info:
        parse_config(RemoveHeaderInterceptor, {key: "[unclosed"})
    assert "unclosed character class at position 0" in str(info.value)


@pytest.mark.parametrize(
    "name", ["remove_header", "org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder"]
)
def test_resolves_by_alias_and_flume_class(name: str) -> None:
    assert resolve("interceptor", name) is RemoveHeaderInterceptor
