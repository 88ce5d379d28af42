"""Type names to component classes.

A ``type`` value is resolved, in order, as:

1. a flafka alias, case-insensitively (Flume's aliases such as ``memory`` or ``file_roll``, plus
   ``kafka`` for the Kafka components, a flafka extension);
2. the Java class name of a Flume built-in that flafka implements, case-insensitively
   (``org.apache.flume.sink.kafka.KafkaSink``), with or without a ``$Builder`` suffix;
3. an installed plugin's entry point in the group ``flafka.<kind>s`` (``flafka.sources``, ...);
4. a Python import path: ``pkg.mod:Class``, ``pkg.mod.Class`` or ``pkg.mod.Class$Builder`` (the
   ``$Builder`` suffix of a Flume interceptor name is dropped), imported from ``PYTHONPATH``.

Built-ins are imported lazily, so a module is only loaded when a config uses it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from typing import Any

from flafka.config.diagnostics import suggest
from flafka.errors import ComponentNotFound

KINDS = (
    "source",
    "channel",
    "sink",
    "interceptor",
    "selector",
    "sink_processor",
    "serializer",
    "extractor_serializer",
    "deserializer",
    "http_handler",
    "hbase_serializer",
)

_FLUME = "org.apache.flume."


@dataclass(frozen=True, slots=True)
class Builtin:
    """A built-in component: its alias, where flafka implements it, and Flume's class names for it."""

    alias: str
    target: str | None
    flume_classes: tuple[str, ...] = ()
    later: str = ""  # for names recognised but not implemented yet: which capability brings them


def _b(alias: str, target: str | None, *flume: str, later: str = "") -> Builtin:
    return Builtin(alias, target, tuple(_FLUME + f if not f.startswith("org.") else f for f in flume), later)


BUILTINS: dict[str, tuple[Builtin, ...]] = {
    "source": (
        _b("seq", "flafka.sources.seq:SequenceSource", "source.SequenceGeneratorSource"),
        _b("netcat", "flafka.sources.netcat:NetcatSource", "source.NetcatSource"),
        _b("exec", "flafka.sources.exec:ExecSource", "source.ExecSource"),
        _b("spooldir", "flafka.sources.spooldir:SpoolDirectorySource", "source.SpoolDirectorySource"),
        _b("taildir", "flafka.sources.taildir:TaildirSource", "source.taildir.TaildirSource"),
        _b("http", "flafka.sources.http:HTTPSource", "source.http.HTTPSource"),
        _b("kafka", "flafka.sources.kafka:KafkaSource", "source.kafka.KafkaSource"),
        _b("avro", None, "source.AvroSource", later="the Avro RPC source"),
        _b("thrift", None, "source.ThriftSource", later="the Thrift source"),
        _b("syslogtcp", None, "source.SyslogTcpSource", later="the syslog sources"),
        _b("multiport_syslogtcp", None, "source.MultiportSyslogTCPSource", later="the syslog sources"),
        _b("syslogudp", None, "source.SyslogUDPSource", later="the syslog sources"),
        _b("netcatudp", None, "source.NetcatUdpSource", later="the UDP netcat source"),
        _b("jms", None, "source.jms.JMSSource", later="the JMS source (no plan: JMS is Java-only)"),
    ),
    "channel": (
        _b("memory", "flafka.channels.memory:MemoryChannel", "channel.MemoryChannel"),
        _b("file", "flafka.channels.file:FileChannel", "channel.file.FileChannel"),
        _b("kafka", "flafka.channels.kafka:KafkaChannel", "channel.kafka.KafkaChannel"),
        _b("spillablememory", None, "channel.SpillableMemoryChannel", later="the spillable channel"),
        _b("jdbc", None, "channel.jdbc.JdbcChannel", later="the JDBC channel (no plan)"),
    ),
    "sink": (
        _b("null", "flafka.sinks.null:NullSink", "sink.NullSink"),
        _b("logger", "flafka.sinks.logger:LoggerSink", "sink.LoggerSink"),
        _b("file_roll", "flafka.sinks.file_roll:RollingFileSink", "sink.RollingFileSink"),
        _b("kafka", "flafka.sinks.kafka:KafkaSink", "sink.kafka.KafkaSink"),
        _b("hdfs", "flafka.sinks.hdfs.sink:HdfsSink", "sink.hdfs.HDFSEventSink"),
        _b("hbase", "flafka.sinks.hbase.sink:HBaseSink", "sink.hbase.HBaseSink"),
        _b("hbase2", "flafka.sinks.hbase.sink:HBaseSink", "sink.hbase2.HBase2Sink"),
        _b("asynchbase", "flafka.sinks.hbase.sink:HBaseSink", "sink.hbase.AsyncHBaseSink"),
        _b("avro", None, "sink.AvroSink", later="the Avro RPC sink"),
        _b("thrift", None, "sink.ThriftSink", later="the Thrift sink"),
        _b("http", None, "sink.http.HttpSink", later="the HTTP sink"),
    ),
    "interceptor": (
        _b("timestamp", "flafka.interceptors.timestamp:TimestampInterceptor",
           "interceptor.TimestampInterceptor$Builder"),
        _b("host", "flafka.interceptors.host:HostInterceptor", "interceptor.HostInterceptor$Builder"),
        _b("static", "flafka.interceptors.static:StaticInterceptor", "interceptor.StaticInterceptor$Builder"),
        _b("remove_header", "flafka.interceptors.remove_header:RemoveHeaderInterceptor",
           "interceptor.RemoveHeaderInterceptor$Builder"),
        _b("search_replace", "flafka.interceptors.search_replace:SearchAndReplaceInterceptor",
           "interceptor.SearchAndReplaceInterceptor$Builder"),
        _b("regex_filter", "flafka.interceptors.regex_filter:RegexFilteringInterceptor",
           "interceptor.RegexFilteringInterceptor$Builder"),
        _b("regex_extractor", "flafka.interceptors.regex_extractor:RegexExtractorInterceptor",
           "interceptor.RegexExtractorInterceptor$Builder"),
        _b("uuid", "flafka.interceptors.uuid:UUIDInterceptor",
           "sink.solr.morphline.UUIDInterceptor$Builder"),
        # The Flafka post's demo interceptor (flafka.examples.fraud), under the class name its flume.conf used.
        Builtin("fraud", "flafka.examples.fraud.interceptor:FraudEventInterceptor",
                ("cloudera.se.fraud.demo.flume.interceptor.FraudEventInterceptor$Builder",)),
    ),
    "selector": (
        _b("replicating", "flafka.selectors:ReplicatingSelector", "channel.ReplicatingChannelSelector"),
        _b("multiplexing", "flafka.selectors:MultiplexingSelector", "channel.MultiplexingChannelSelector"),
        _b("load_balancing", "flafka.selectors:LoadBalancingSelector",
           "channel.LoadBalancingChannelSelector"),
    ),
    "sink_processor": (
        _b("default", "flafka.runtime.sink_processors:DefaultSinkProcessor", "sink.DefaultSinkProcessor"),
        _b("failover", "flafka.runtime.sink_processors:FailoverSinkProcessor", "sink.FailoverSinkProcessor"),
        _b("load_balance", "flafka.runtime.sink_processors:LoadBalancingSinkProcessor",
           "sink.LoadBalancingSinkProcessor"),
    ),
    "serializer": (
        _b("text", "flafka.serializers.text:BodyTextSerializer", "serialization.BodyTextEventSerializer$Builder"),
        _b("header_and_text", "flafka.serializers.text:HeaderAndBodyTextSerializer",
           "serialization.HeaderAndBodyTextEventSerializer$Builder"),
        _b("avro_event", "flafka.serializers.avro_event:FlumeEventAvroSerializer",
           "serialization.FlumeEventAvroEventSerializer$Builder"),
    ),
    "extractor_serializer": (
        _b("DEFAULT", "flafka.interceptors.regex_extractor:PassThroughSerializer",
           "interceptor.RegexExtractorInterceptorPassThroughSerializer"),
        _b("millis", "flafka.interceptors.regex_extractor:MillisSerializer",
           "interceptor.RegexExtractorInterceptorMillisSerializer"),
    ),
    "deserializer": (
        _b("LINE", "flafka.sources.deserializers:LineDeserializer", "serialization.LineDeserializer$Builder"),
        _b("AVRO", "flafka.sources.deserializers:AvroDeserializer",
           "serialization.AvroEventDeserializer$Builder"),
        _b("BlobDeserializer", None, "sink.solr.morphline.BlobDeserializer$Builder",
           later="no plan: a Python EventDeserializer class can read a whole file"),
    ),
    "hbase_serializer": (
        _b("simple", "flafka.sinks.hbase.simple:SimpleHBaseEventSerializer", "sink.hbase.SimpleHbaseEventSerializer",
           "sink.hbase2.SimpleHBase2EventSerializer", "sink.hbase.SimpleAsyncHbaseEventSerializer"),
        _b("regex", "flafka.sinks.hbase.regex:RegexHBaseEventSerializer", "sink.hbase.RegexHbaseEventSerializer",
           "sink.hbase2.RegexHBase2EventSerializer"),
    ),
    "http_handler": (
        _b("JSON", "flafka.sources.http:JSONHandler", "source.http.JSONHandler"),
        _b("BLOB", None, "sink.solr.morphline.BlobHandler",
           later="no plan: a Python HTTPSourceHandler class can take the body as one event"),
    ),
}

_BASES: dict[str, str | None] = {
    "source": "flafka.sources.base:Source",
    "channel": "flafka.channels.base:Channel",
    "sink": "flafka.sinks.base:Sink",
    "interceptor": "flafka.interceptors.base:Interceptor",
    "selector": "flafka.selectors:ChannelSelector",
    "sink_processor": "flafka.runtime.sink_processors:SinkProcessor",
    "serializer": "flafka.serializers.base:EventSerializer",
    "extractor_serializer": "flafka.interceptors.regex_extractor:ExtractorSerializer",
    "deserializer": "flafka.sources.deserializers:EventDeserializer",
    "http_handler": "flafka.sources.http:HTTPSourceHandler",
    "hbase_serializer": "flafka.sinks.hbase.serializer:HBaseEventSerializer",
}

_LABELS = {
    "source": "source",
    "channel": "channel",
    "sink": "sink",
    "interceptor": "interceptor",
    "selector": "channel selector",
    "sink_processor": "sink processor",
    "serializer": "event serializer",
    "extractor_serializer": "regex_extractor serializer",
    "deserializer": "spooldir deserializer",
    "http_handler": "HTTP source handler",
    "hbase_serializer": "HBase event serializer",
}


def label(kind: str) -> str:
    """How messages name a component of ``kind`` (``event serializer``, ...)."""
    return _LABELS[kind]


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def known_names(kind: str) -> list[str]:
    """Every alias and Flume class name accepted for ``kind`` (for suggestions and docs)."""
    names: list[str] = []
    for builtin in BUILTINS[kind]:
        names.append(builtin.alias)
        names.extend(builtin.flume_classes)
    return names


def builtin_for(kind: str, type_name: str) -> Builtin | None:
    """The built-in that ``type_name`` names, by alias or Flume class name (case-insensitive)."""
    wanted = type_name.strip().lower()
    for builtin in BUILTINS[kind]:
        if wanted == builtin.alias.lower():
            return builtin
        for flume in builtin.flume_classes:
            if wanted in (flume.lower(), flume.lower().removesuffix("$builder")):
                return builtin
    return None


def resolve(kind: str, type_name: str) -> type[Any]:
    """The class for ``type_name``; raises :class:`ComponentNotFound` saying what was tried.

    A custom module that raises while it is imported is a configuration problem too (reported, not a
    crash of ``--check``): its exception becomes the :class:`ComponentNotFound`'s cause.
    """
    try:
        return _resolve(kind, type_name)
    except ComponentNotFound:
        raise
    except Exception as exc:
        raise ComponentNotFound(f"importing '{type_name}' failed: {type(exc).__name__}: {exc}") from exc


def _resolve(kind: str, type_name: str) -> type[Any]:
    label = _LABELS[kind]
    builtin = builtin_for(kind, type_name)
    if builtin is not None:
        if builtin.target is None:
            flume_name = builtin.flume_classes[0] if builtin.flume_classes else builtin.alias
            raise ComponentNotFound(
                f"{label} type '{type_name}' is Flume's {flume_name}, "
                f"which this version of flafka does not implement yet ({builtin.later})."
            )
        return _checked(kind, _load(builtin.target), type_name)

    group = f"flafka.{kind}s"
    for entry in importlib.metadata.entry_points(group=group):
        if entry.name.lower() == type_name.strip().lower():
            return _checked(kind, entry.load(), type_name)

    path = type_name.strip().replace("$Builder", "").replace("$", ".")
    if ":" in path:
        module, _, attr = path.partition(":")
    else:
        module, _, attr = path.rpartition(".")
    problem = "it is not a built-in alias, a Flume class flafka implements, or an installed plugin"
    if module and attr:
        try:
            return _checked(kind, _load(f"{module}:{attr}"), type_name)
        except ImportError as exc:
            problem += f", and importing module '{module}' failed ({exc})"
        except AttributeError:
            problem += f", and module '{module}' has no attribute '{attr}'"
    else:
        problem += ", nor a Python import path (pkg.module:Class)"
    hit = suggest(type_name, known_names(kind))
    raise ComponentNotFound(f"unknown {label} type '{type_name}': {problem}.", hit)


def _checked(kind: str, obj: Any, type_name: str) -> type[Any]:
    base_path = _BASES[kind]
    if not isinstance(obj, type):
        raise ComponentNotFound(f"{_LABELS[kind]} type '{type_name}' names {obj!r}, which is not a class.")
    if base_path is not None:
        base = _load(base_path)
        if not issubclass(obj, base):
            raise ComponentNotFound(
                f"{_LABELS[kind]} type '{type_name}' names {obj.__module__}.{obj.__qualname__}, "
                f"which is not a subclass of {base.__module__}.{base.__qualname__}."
            )
    return obj
