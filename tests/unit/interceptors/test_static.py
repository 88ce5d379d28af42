from __future__ import annotations

import pytest

from flafka.errors import ConfigError
from flafka.event import Event
from flafka.interceptors.static import StaticInterceptor
from flafka.registry import resolve
from flafka.testing import build, intercept, parse_config


def test_defaults_set_key_to_value_and_keep_existing() -> None:
    events = [Event(b"a"), Event(b"b", {"key": "old", "x": "1"})]
    out = intercept([build(StaticInterceptor)], events)
    assert [e.headers for e in out] == [{"key": "value"}, {"key": "old", "x": "1"}]
    assert [e.body for e in out] == [b"a", b"b"]


def test_configured_key_and_value_overwrite_when_not_preserving() -> None:
    chain = [build(StaticInterceptor, {"key": "dc", "value": "paris", "preserveExisting": "false"})]
    out = intercept(chain, [Event(b"a", {"dc": "lyon"}), Event(b"b")])
    assert [e.headers for e in out] == [{"dc": "paris"}, {"dc": "paris"}]


def test_two_instances_chain_in_order() -> None:
    first = build(StaticInterceptor, {"key": "k", "value": "1"})
    second = build(StaticInterceptor, {"key": "k", "value": "2", "preserveExisting": "false"})
    assert intercept([first, second], [Event()])[0].headers == {"k": "2"}
    assert intercept([second, first], [Event()])[0].headers == {"k": "2"}


def test_bad_boolean_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="preserveExisting: expected true or false, got 'yes'"):
        parse_config(StaticInterceptor, {"preserveExisting": "yes"})


@pytest.mark.parametrize(
    "name", ["static", "STATIC", "org.apache.flume.interceptor.StaticInterceptor$Builder"]
)
def test_resolves_by_alias_and_flume_class(name: str) -> None:
    assert resolve("interceptor", name) is StaticInterceptor
