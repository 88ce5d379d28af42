"""Type names to classes: aliases, Flume class names, import paths, entry points, errors."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import pytest

from flafka import registry
from flafka.channels.memory import MemoryChannel
from flafka.errors import ComponentNotFound
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.sinks.null import NullSink


class PluginInterceptor(Interceptor):
    def intercept(self, event: Event) -> Event | None:
        return event


class NotAComponent:
    pass


@pytest.mark.parametrize("name", ["memory", "MEMORY", "org.apache.flume.channel.MemoryChannel",
                                  "ORG.APACHE.FLUME.CHANNEL.MEMORYCHANNEL"])
def test_aliases_and_flume_class_names(name: str) -> None:
    assert registry.resolve("channel", name) is MemoryChannel


def test_interceptor_builder_suffix_is_accepted() -> None:
    cls = registry.resolve("interceptor", "org.apache.flume.interceptor.StaticInterceptor$Builder")
    assert cls.__name__ == "StaticInterceptor"


@pytest.mark.parametrize("path", [
    "tests.unit.config.test_registry:PluginInterceptor",
    "tests.unit.config.test_registry.PluginInterceptor",
    "tests.unit.config.test_registry.PluginInterceptor$Builder",
])
def test_python_import_paths(path: str) -> None:
    assert registry.resolve("interceptor", path) is PluginInterceptor


def test_class_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(ComponentNotFound) as info:
        registry.resolve("interceptor", "tests.unit.config.test_registry:NotAComponent")
    assert "not a subclass of flafka.interceptors.base.Interceptor" in str(info.value)


def test_entry_point_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    point = importlib.metadata.EntryPoint("geo", "tests.unit.config.test_registry:PluginInterceptor",
                                          "flafka.interceptors")
    real = importlib.metadata.entry_points

    def fake(**kwargs: Any) -> Any:
        if kwargs.get("group") == "flafka.interceptors":
            return importlib.metadata.EntryPoints([point])
        return real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    assert registry.resolve("interceptor", "GEO") is PluginInterceptor


def test_unknown_name_says_what_was_tried_and_suggests() -> None:
    with pytest.raises(ComponentNotFound) as info:
        registry.resolve("sink", "nulll")
    assert info.value.suggestion == "null"
    assert "not a built-in alias, a Flume class flafka implements, or an installed plugin" in info.value.message


def test_every_implemented_builtin_resolves_to_its_kind() -> None:
    for kind, builtins in registry.BUILTINS.items():
        for builtin in builtins:
            if builtin.target is not None:
                assert registry.resolve(kind, builtin.alias).__name__ == builtin.target.rpartition(":")[2]
    assert registry.resolve("sink", "org.apache.flume.sink.NullSink") is NullSink


def test_kafka_alias_is_a_flafka_extension_for_every_kafka_component() -> None:
    assert registry.resolve("source", "kafka").__name__ == "KafkaSource"
    assert registry.resolve("sink", "KAFKA").__name__ == "KafkaSink"
    assert registry.resolve("source", "org.apache.flume.source.kafka.KafkaSource").__name__ == "KafkaSource"


def test_recognised_but_unimplemented_type_names_flumes_class() -> None:
    with pytest.raises(ComponentNotFound) as info:
        registry.resolve("sink", "avro")
    assert "org.apache.flume.sink.AvroSink" in str(info.value)


@pytest.mark.parametrize("name", ["hbase", "hbase2", "asynchbase", "org.apache.flume.sink.hbase.HBaseSink",
                                  "org.apache.flume.sink.hbase2.HBase2Sink",
                                  "org.apache.flume.sink.hbase.AsyncHBaseSink"])
def test_the_three_flume_hbase_types_are_one_sink(name: str) -> None:
    from flafka.sinks.hbase.sink import HBaseSink

    assert registry.resolve("sink", name) is HBaseSink


def test_a_module_that_raises_while_imported_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "flafka_test_boom.py").write_text("raise RuntimeError('no database here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ComponentNotFound) as info:
        registry.resolve("serializer", "flafka_test_boom:Serializer")
    assert str(info.value) == "importing 'flafka_test_boom:Serializer' failed: RuntimeError: no database here"
    assert isinstance(info.value.__cause__, RuntimeError)


@pytest.mark.parametrize(("kind", "base"), [
    ("deserializer", "flafka.sources.deserializers.EventDeserializer"),
    ("extractor_serializer", "flafka.interceptors.regex_extractor.ExtractorSerializer"),
    ("http_handler", "flafka.sources.http.HTTPSourceHandler"),
])
def test_nested_kinds_refuse_a_class_of_another_kind(kind: str, base: str) -> None:
    with pytest.raises(ComponentNotFound) as info:
        registry.resolve(kind, "tests.unit.config.test_registry:NotAComponent")
    assert f"not a subclass of {base}." in str(info.value)
