"""The HDFS sink's configuration: Flume's defaults, and every mistake reported with its key."""

from __future__ import annotations

import pytest

from flafka.errors import ConfigError
from flafka.sinks.hdfs.config import HdfsSinkConfig
from flafka.sinks.hdfs.sink import HdfsSink
from flafka.testing import parse_config, props


def test_flume_defaults() -> None:
    config = parse_config(HdfsSink, {"hdfs.path": "hdfs://nn:8020/flume/%{topic}"})
    assert (config.file_prefix, config.file_suffix, config.in_use_suffix, config.file_type) == (
        "FlumeData", "", ".tmp", "SequenceFile")
    assert (config.roll_interval, config.roll_size, config.roll_count, config.idle_timeout, config.batch_size) == (
        30.0, 1024, 10, 0.0, 100)
    assert (config.write_format, config.max_open_files, config.call_timeout_ms, config.retry_interval) == (
        "Writable", 5000, 30000, 180.0)
    assert config.serializer.type_name == "TEXT"
    assert config.events_per_transaction() == 100


@pytest.mark.parametrize(("values", "key", "message"), [
    ({"hdfs.fileType": "DataStream", "hdfs.codeC": "gzip"}, "hdfs.codeC", "is not used by fileType DataStream"),
    ({"hdfs.fileType": "CompressedStream"}, "hdfs.codeC", "is required by fileType CompressedStream"),
    ({"hdfs.codeC": "lzo"}, "hdfs.codeC", "lzo"),
    ({"hdfs.proxyUser": "etl"}, "hdfs.proxyUser", "is not supported"),
    ({"hdfs.kerberosPrincipal": "flume@EXAMPLE.COM"}, "hdfs.kerberosKeytab", "go together"),
    ({"hdfs.timeZone": "Mars/Olympus"}, "hdfs.timeZone", "Mars/Olympus"),
    ({"hdfs.round": "true", "hdfs.roundUnit": "hour", "hdfs.roundValue": "25"}, "hdfs.roundValue", "at most 24"),
    ({"hdfs.path": "/flume/%[hostname]"}, "hdfs.path", "hostname"),
    ({"hdfs.fileType": "Parquet"}, "hdfs.fileType", "must be one of SequenceFile, DataStream, CompressedStream"),
])
def test_mistakes_are_errors_naming_their_key(values: dict[str, str], key: str, message: str) -> None:
    config, diagnostics = HdfsSinkConfig.parse(props({"hdfs.path": "/flume", **values}), "sinks.k1")
    assert config is None
    errors = [d for d in diagnostics if d.is_error]
    assert [d.key for d in errors] == [key]
    assert message in errors[0].message


def test_settings_without_effect_are_warnings() -> None:
    config, diagnostics = HdfsSinkConfig.parse(props({
        "hdfs.path": "/flume/%Y", "hdfs.round": "true", "hdfs.roundUnit": "day", "hdfs.minBlockReplicas": "1",
        "hdfs.codeC": "zstd"}), "sinks.k1")
    assert config is not None
    warned = {d.key: d.message for d in diagnostics}
    assert set(warned) == {"hdfs.roundUnit", "hdfs.minBlockReplicas", "hdfs.codeC", "hdfs.path"}
    assert "rounding is off" in warned["hdfs.roundUnit"]
    assert "native library" in warned["hdfs.codeC"]
    assert "timestamp" in warned["hdfs.path"]  # time escapes need a timestamp header or useLocalTimeStamp


def test_a_bad_serializer_option_is_reported_with_its_full_key() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(HdfsSink, {"hdfs.path": "/f", "hdfs.fileType": "DataStream", "serializer": "avro_event",
                                "serializer.syncIntervalBytes": "lots"})
    assert [d.key for d in raised.value.diagnostics] == ["serializer.syncIntervalBytes"]
