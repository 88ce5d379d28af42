"""HBaseLookupConfig: its parameters, and an interceptor's config class inheriting them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from flafka.config.params import param
from flafka.errors import ConfigError
from flafka.event import Event
from flafka.hbase import HBaseLookupConfig
from flafka.interceptors.base import Interceptor
from flafka.sinks.hbase.config import HBaseSinkConfig
from flafka.testing import parse_config


@dataclass(frozen=True, kw_only=True)
class EnrichConfig(HBaseLookupConfig):
    table: str = param("table", doc="Table to look up.")
    key_header: str = param("keyHeader", default="id", doc="Header holding the row key.")


class EnrichInterceptor(Interceptor):
    config_class = EnrichConfig

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        return events


def test_defaults() -> None:
    config = parse_config(EnrichInterceptor, {"table": "customer"})
    assert isinstance(config, EnrichConfig)
    assert (config.table, config.key_header) == ("customer", "id")
    assert (config.thrift_address, config.thrift_transport, config.thrift_protocol) == (
        "localhost:9090", "buffered", "binary")
    assert (config.timeout_ms, config.pool_size, config.cache_size, config.cache_ttl_seconds) == (5000, 4, 10000, 60.0)


def test_a_subclass_parses_its_own_and_the_inherited_keys() -> None:
    config = parse_config(EnrichInterceptor, {
        "table": "t", "keyHeader": "cust", "thriftAddress": " hb:9095 ", "thriftTransport": "FRAMED",
        "thriftProtocol": "compact", "timeout": "250", "poolSize": "2", "cacheSize": "0", "cacheTtlSeconds": "0.5"})
    assert (config.key_header, config.thrift_address, config.thrift_transport, config.thrift_protocol) == (
        "cust", "hb:9095", "framed", "compact")
    assert (config.timeout_ms, config.pool_size, config.cache_size, config.cache_ttl_seconds) == (250, 2, 0, 0.5)


@pytest.mark.parametrize(("values", "key"), [
    ({"thriftAddress": "nohostport"}, "thriftAddress"),
    ({"thriftTransport": "http"}, "thriftTransport"),
    ({"poolSize": "0"}, "poolSize"),
    ({"cacheSize": "-1"}, "cacheSize"),
    ({"cacheTtlSeconds": "0"}, "cacheTtlSeconds"),
    ({"timeout": "0"}, "timeout"),
    ({}, "table"),  # the subclass's own required key
])
def test_bad_values_are_reported_with_their_key(values: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(EnrichInterceptor, {"table": "t", **values} if key != "table" else values)
    assert [d.key for d in caught.value.diagnostics] == [key]


def test_transport_and_protocol_are_the_sinks_declarations() -> None:
    mine = {s.key: s for s in HBaseLookupConfig.params()}
    for spec in HBaseSinkConfig.params():
        if spec.key in ("thriftTransport", "thriftProtocol"):
            assert (mine[spec.key].choices, mine[spec.key].default, mine[spec.key].doc) == (
                spec.choices, spec.default, spec.doc)
    assert all(s.doc for s in HBaseLookupConfig.params())


def test_open_lookup_is_a_shared_handle() -> None:
    config = parse_config(EnrichInterceptor, {"table": "t", "thriftAddress": "127.0.0.1:1", "poolSize": "3"})
    first, second = config.open_lookup(), config.open_lookup()
    try:
        assert first.pool is second.pool
        assert first.pool.size == 3
        assert first.address == "127.0.0.1:1"
    finally:
        first.close()
        second.close()
    assert first.pool.closed
