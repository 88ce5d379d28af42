"""The HBase sinks' configuration without a server: Flume's keys and defaults, flafka's thriftAddress, every
mistake reported with its key, the serializer and its options nested under ``serializer.``; the sink by its
import path; and the coalescing of increments (pure logic)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from flafka import registry
from flafka.config.diagnostics import Diagnostic
from flafka.errors import ConfigError
from flafka.sinks.hbase import HBaseSink, HBaseSinkConfig, Increment, RegexHBaseEventSerializer
from flafka.sinks.hbase.simple import SimpleHBaseEventSerializer
from flafka.sinks.hbase.sink import coalesce
from flafka.testing import parse_config, props

REQUIRED = {"table": "events", "columnFamily": "cf"}


def parse(values: Mapping[str, str]) -> tuple[HBaseSinkConfig | None, list[Diagnostic]]:
    return HBaseSinkConfig.parse(props({**REQUIRED, **values}), "sinks.k1")


def warnings_of(values: Mapping[str, str]) -> dict[str | None, str]:
    config, diagnostics = parse(values)
    assert config is not None, [str(d) for d in diagnostics]
    return {d.key: d.message for d in diagnostics if not d.is_error}


def test_flume_defaults() -> None:
    config = parse_config(HBaseSink, REQUIRED)
    assert (config.table, config.column_family, config.batch_size) == ("events", "cf", 100)
    assert (config.coalesce_increments, config.enable_wal, config.timeout_ms) == (False, True, 60000)
    assert (config.zookeeper_quorum, config.znode_parent) == (None, "/hbase")
    assert config.thrift_host_port() == ("localhost", 9090)
    assert (config.thrift_transport, config.thrift_protocol) == ("buffered", "binary")
    assert config.serializer.cls is SimpleHBaseEventSerializer
    assert config.serializer.type_name == "org.apache.flume.sink.hbase.SimpleHbaseEventSerializer"
    assert config.serializer.config.payload_column == "pCol"
    assert config.serializer.config.increment_column == "iCol"
    assert config.events_per_transaction() == 100


def test_every_key_is_read() -> None:
    config = parse_config(HBaseSink, {
        **REQUIRED, "thriftAddress": "hbase-thrift.example:9095", "thriftTransport": "framed",
        "thriftProtocol": "compact", "batchSize": "1000", "coalesceIncrements": "true", "enableWal": "false",
        "timeout": "2500", "znodeParent": "/hbase-unsecure"})
    assert config.thrift_host_port() == ("hbase-thrift.example", 9095)
    assert (config.thrift_transport, config.thrift_protocol) == ("framed", "compact")
    assert (config.batch_size, config.coalesce_increments, config.enable_wal, config.timeout_ms) == (
        1000, True, False, 2500)
    assert config.znode_parent == "/hbase-unsecure"
    assert parse_config(HBaseSink, {**REQUIRED, "thriftAddress": "[::1]:9090"}).thrift_host_port() == ("::1", 9090)


@pytest.mark.parametrize(("values", "key", "message"), [
    ({"table": ""}, "table", "must not be empty"),
    ({"columnFamily": "cf:col"}, "columnFamily", "must not contain ':'"),
    ({"thriftAddress": "localhost"}, "thriftAddress", "must be host:port"),
    ({"thriftAddress": "localhost:99999"}, "thriftAddress", "must be host:port"),
    ({"batchSize": "0"}, "batchSize", ""),
    ({"timeout": "soon"}, "timeout", ""),
    ({"enableWal": "yes"}, "enableWal", "expected true or false"),
    ({"thriftTransport": "http"}, "thriftTransport", "buffered, framed"),
    ({"serializer": "org.apache.flume.sink.hbase.NoSuchSerializer"}, "serializer", "NoSuchSerializer"),
])
def test_mistakes_are_errors_naming_their_key(values: dict[str, str], key: str, message: str) -> None:
    config, diagnostics = parse(values)
    assert config is None
    errors = [d for d in diagnostics if d.is_error]
    assert [d.key for d in errors] == [key], [str(d) for d in errors]
    assert message in errors[0].message


@pytest.mark.parametrize("missing", ["table", "columnFamily"])
def test_table_and_column_family_are_required(missing: str) -> None:
    values = {k: v for k, v in REQUIRED.items() if k != missing}
    config, diagnostics = HBaseSinkConfig.parse(props(values), "sinks.k1")
    assert config is None
    assert [(d.key, d.message.startswith("is required")) for d in diagnostics if d.is_error] == [(missing, True)]


def test_zookeeper_quorum_without_thrift_address_warns_naming_thrift_address() -> None:
    warned = warnings_of({"zookeeperQuorum": "zk1:2181,zk2:2181"})
    assert list(warned) == ["zookeeperQuorum"]
    assert "thriftAddress" in warned["zookeeperQuorum"]
    assert warnings_of({"zookeeperQuorum": "zk1:2181", "thriftAddress": "thrift1:9090"}) == {}


def test_kerberos_and_asynchbase_client_keys_are_accepted_with_a_warning() -> None:
    warned = warnings_of({"kerberosPrincipal": "flume/_HOST@EXAMPLE.COM", "kerberosKeytab": "/etc/flume.keytab",
                          "async.zk.timeout": "5000"})
    assert set(warned) == {"kerberosPrincipal", "async."}
    assert "not tested here" in warned["kerberosPrincipal"]
    assert "Thrift server's authentication" in warned["kerberosPrincipal"]
    assert "zk.timeout" in warned["async."]


def test_an_unknown_key_is_a_warning_with_a_suggestion() -> None:
    warned = warnings_of({"colummFamily": "x"})
    assert "did you mean 'columnFamily'" in warned["colummFamily"]


def test_serializer_options_are_nested_under_serializer() -> None:
    config = parse_config(HBaseSink, {
        **REQUIRED, "serializer": "org.apache.flume.sink.hbase2.RegexHBase2EventSerializer",
        "serializer.regex": "([^ ]*) (.*)", "serializer.colNames": "ROW_KEY,msg", "serializer.rowKeyIndex": "0",
        "serializer.depositHeaders": "true"})
    assert config.serializer.cls is RegexHBaseEventSerializer
    assert config.serializer.config.col_names == "ROW_KEY,msg"
    assert config.serializer.config.row_key_index == 0
    simple = parse_config(HBaseSink, {**REQUIRED, "serializer": "simple", "serializer.incrementColumn": "",
                                      "serializer.suffix": "timestamp"})
    assert simple.serializer.cls is SimpleHBaseEventSerializer
    assert (simple.serializer.config.increment_column, simple.serializer.config.suffix) == ("", "timestamp")


def test_a_bad_serializer_option_is_reported_with_its_full_key() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(HBaseSink, {**REQUIRED, "serializer.suffix": "Timestamp"})
    assert [d.key for d in raised.value.diagnostics if d.is_error] == ["serializer.suffix"]


def test_the_sink_resolves_by_its_import_path() -> None:
    assert registry.resolve("sink", "flafka.sinks.hbase.sink:HBaseSink") is HBaseSink


# -- coalesceIncrements -------------------------------------------------------------------------


def test_coalesce_adds_the_amounts_of_each_cell_in_first_seen_order() -> None:
    incs = [Increment(b"r1", b"cf", b"a"), Increment(b"r2", b"cf", b"a", 5), Increment(b"r1", b"cf", b"a", 2),
            Increment(b"r1", b"cf", b"b"), Increment(b"r2", b"cf", b"a", -1)]
    assert coalesce(incs) == [Increment(b"r1", b"cf", b"a", 3), Increment(b"r2", b"cf", b"a", 4),
                              Increment(b"r1", b"cf", b"b", 1)]
    assert incs[0].amount == 1, "the serializer's increments are not modified"
