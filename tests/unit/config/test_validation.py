"""One test per validation rule of reference §1.3: the message and the line of each problem."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest

from flafka.config.loader import LoadedConfig, plan_from_properties
from flafka.config.params import ComponentConfig, param
from flafka.config.properties import parse_properties
from flafka.errors import ConfigError
from flafka.event import Event
from flafka.interceptors.base import Interceptor

BASE = """\
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
"""


class Upper(Interceptor):
    """A custom interceptor importable by path, for these tests."""

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        return events


@dataclass(frozen=True, kw_only=True)
class StrictConfig(ComponentConfig):
    level: int = param("level", default=1, minimum=0, doc="A level.")


class Strict(Interceptor):
    config_class = StrictConfig

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        return events


def load(text: str, agent: str = "a1", *, lenient: bool = False) -> LoadedConfig:
    return plan_from_properties(parse_properties(textwrap.dedent(text), "agent.properties"), agent,
                                lenient=lenient, env={"DATA": "/data"})


def problems(text: str, agent: str = "a1") -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(text, agent)
    return [str(d) for d in info.value.diagnostics]


def errors(text: str, agent: str = "a1") -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(text, agent)
    return [str(d) for d in info.value.diagnostics if d.is_error]


def warnings(text: str) -> list[str]:
    return [str(d) for d in load(text).diagnostics]


def test_base_config_is_valid_and_wired() -> None:
    loaded = load(BASE)
    assert loaded.diagnostics == []
    plan = loaded.plan
    assert list(plan.sources) == ["r1"]
    assert plan.sources["r1"].channels == ["c1"]
    assert plan.sinks["k1"].channel == "c1"
    assert plan.groups["k1"].implicit
    assert plan.groups["k1"].sinks == ["k1"]


def test_no_channels_list_is_an_error() -> None:
    text = BASE.replace("a1.channels = c1\n", "")
    assert "a1 channels: no channels are listed (a1.channels is missing)" in errors(text)


def test_no_sources_and_no_sinks_is_an_error() -> None:
    text = "a1.channels = c1\na1.channels.c1.type = memory\n"
    assert "a1: has neither sources nor sinks: nothing to run" in errors(text)


def test_missing_sources_list_is_only_a_warning() -> None:
    text = "a1.channels = c1\na1.sinks = k1\na1.channels.c1.type = memory\na1.sinks.k1.type = null\n" \
           "a1.sinks.k1.channel = c1\n"
    assert warnings(text) == ["a1 sources: warning: no sources are listed (a1.sources is missing)"]


def test_listed_component_without_properties() -> None:
    text = BASE.replace("a1.sinks = k1", "a1.sinks = k1 k2")
    assert errors(text) == ["agent.properties:3: sinks.k2: is listed in a1.sinks but has no properties"]


def test_component_without_type() -> None:
    text = BASE.replace("a1.sinks.k1.type = null\n", "")
    assert errors(text) == ["agent.properties:7: sinks.k1 type: is required"]


def test_source_without_channels_and_with_unknown_channel() -> None:
    assert errors(BASE.replace("a1.sources.r1.channels = c1\n", "")) == [
        "agent.properties:4: sources.r1 channels: is required"
    ]
    assert errors(BASE.replace("a1.sources.r1.channels = c1", "a1.sources.r1.channels = c2")) == [
        "agent.properties:5: sources.r1 channels: channel 'c2' is not defined in a1.channels "
        "(did you mean 'c1'?)"
    ]


def test_source_with_singular_channel_key_gets_a_hint() -> None:
    text = BASE.replace("a1.sources.r1.channels = c1", "a1.sources.r1.channel = c1")
    assert any("a source writes to 'channels', plural" in e for e in errors(text))


def test_sink_without_channel_and_with_undefined_channel() -> None:
    assert errors(BASE.replace("a1.sinks.k1.channel = c1\n", "")) == [
        "agent.properties:7: sinks.k1 channel: is required"
    ]
    assert errors(BASE.replace("a1.sinks.k1.channel = c1", "a1.sinks.k1.channel = c9")) == [
        "agent.properties:8: sinks.k1 channel: channel 'c9' is not defined in a1.channels (did you mean 'c1'?)"
    ]


def test_sink_with_several_channels() -> None:
    text = BASE.replace("a1.sinks.k1.channel = c1", "a1.sinks.k1.channel = c1 c1")
    assert errors(text) == ["agent.properties:8: sinks.k1 channel: a sink reads exactly one channel, got 'c1 c1'"]


GROUPED = BASE.replace("a1.sinks = k1", "a1.sinks = k1 k2\na1.sinkgroups = g1") + """\
a1.sinks.k2.type = null
a1.sinks.k2.channel = c1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
"""


def test_valid_sink_group_replaces_implicit_groups() -> None:
    plan = load(GROUPED).plan
    assert list(plan.groups) == ["g1"]
    assert plan.groups["g1"].sinks == ["k1", "k2"]


def test_sink_group_with_undefined_sink_and_sink_in_two_groups() -> None:
    text = GROUPED.replace("g1.sinks = k1 k2", "g1.sinks = k1 k3")
    assert "agent.properties:12: sinkgroups.g1 sinks: sink 'k3' is not defined in a1.sinks (did you mean " \
           "'k2'?)" in errors(text)
    text = GROUPED.replace("a1.sinkgroups = g1", "a1.sinkgroups = g1 g2") + (
        "a1.sinkgroups.g2.sinks = k2\na1.sinkgroups.g2.processor.type = default\n"
    )
    assert errors(text) == ["agent.properties:14: sinkgroups.g2 sinks: sink 'k2' already belongs to sink group 'g1'"]


def test_sink_group_without_sinks_key() -> None:
    text = GROUPED.replace("a1.sinkgroups.g1.sinks = k1 k2\n", "")
    assert errors(text) == ["agent.properties:12: sinkgroups.g1 sinks: is required"]


def test_unknown_type_suggests_the_nearest_name() -> None:
    text = BASE.replace("a1.channels.c1.type = memory", "a1.channels.c1.type = memroy")
    (message,) = errors(text)
    assert message.startswith("agent.properties:6: channels.c1 type: unknown channel type 'memroy'")
    assert message.endswith("Did you mean 'memory'?")


def test_flume_class_names_resolve_case_insensitively() -> None:
    text = BASE.replace("type = memory", "type = org.apache.flume.channel.MEMORYChannel").replace(
        "type = null", "type = org.apache.flume.sink.NullSink")
    assert load(text).plan.channels["c1"].cls.__name__ == "MemoryChannel"


def test_recognised_but_unimplemented_type_says_so() -> None:
    text = BASE.replace("type = null", "type = org.apache.flume.sink.AvroSink")
    (message,) = errors(text)
    assert "does not implement yet (the Avro RPC sink)" in message
    assert message.startswith("agent.properties:7:")


def test_custom_class_by_import_path_that_does_not_exist() -> None:
    text = BASE.replace("type = null", "type = nosuchpkg.mod:Sink")
    (message,) = errors(text)
    assert "importing module 'nosuchpkg.mod' failed" in message


def test_bad_number_and_missing_required_property() -> None:
    text = BASE + "a1.sources.r1.batchSize = ten\n"
    assert errors(text) == ["agent.properties:9: sources.r1 batchSize: expected a whole number, got 'ten'"]


def test_transaction_capacity_above_capacity() -> None:
    text = BASE + "a1.channels.c1.capacity = 10\na1.channels.c1.transactionCapacity = 20\n"
    # The sink's default batch (100) does not fit the written transactionCapacity either: a second problem the
    # user would meet after fixing the first, so it is reported in the same run.
    assert errors(text) == [
        "agent.properties:10: channels.c1 transactionCapacity: (20) must not exceed capacity (10)",
        "agent.properties:7: sinks.k1: batch size 100 exceeds transactionCapacity 20 of channel c1; "
        "raise channels.c1.transactionCapacity or lower the batch size",
    ]


def test_batch_size_above_transaction_capacity() -> None:
    text = BASE + "a1.sources.r1.batchSize = 1000\n"
    assert errors(text) == [
        "agent.properties:9: sources.r1: batch size 1000 exceeds transactionCapacity 100 of channel c1; "
        "raise channels.c1.transactionCapacity or lower the batch size"
    ]


@pytest.mark.parametrize(("sink", "key"), [
    ("a1.sinks.k1.type = file_roll\na1.sinks.k1.sink.directory = /tmp/out\n", "sink.batchSize"),
    ("a1.sinks.k1.type = kafka\na1.sinks.k1.kafka.bootstrap.servers = b:9092\na1.sinks.k1.kafka.topic = t\n",
     "flumeBatchSize"),
    ("a1.sinks.k1.type = kafka\na1.sinks.k1.kafka.bootstrap.servers = b:9092\na1.sinks.k1.kafka.topic = t\n",
     "batchSize"),  # Flume 1.6's name (deprecated): still where the batch size is
])
def test_the_batch_size_error_points_at_the_key_the_component_declares(sink: str, key: str) -> None:
    text = BASE.replace("a1.sinks.k1.type = null\n", sink) + f"a1.sinks.k1.{key} = 500\n"
    line = text.count("\n")
    assert errors(text) == [
        f"agent.properties:{line}: sinks.k1: batch size 500 exceeds transactionCapacity 100 of channel c1; "
        "raise channels.c1.transactionCapacity or lower the batch size"
    ]


FILE_ROLL = BASE.replace("a1.sinks.k1.type = null\n", "a1.sinks.k1.type = file_roll\na1.sinks.k1.sink.directory = /o\n")


def test_nested_component_keys_are_checked_at_their_line_with_their_full_key() -> None:
    text = FILE_ROLL + (
        "a1.sinks.k1.sink.serializer = avro_event\n"            # 10
        "a1.sinks.k1.sink.serializer.syncIntervalBytes = 1\n"   # 11
        "a1.sinks.k1.sink.serializer.compresionCodec = null\n"  # 12
        "a1.sources.r1.interceptors = i1\n"                     # 13
        "a1.sources.r1.interceptors.i1.type = regex_extractor\n"
        "a1.sources.r1.interceptors.i1.regex = (a)\n"
        "a1.sources.r1.interceptors.i1.serializers = s1\n"
        "a1.sources.r1.interceptors.i1.serializers.s1.type = millis\n"
        "a1.sources.r1.interceptors.i1.serializers.s1.name = ts\n"
        "a1.sources.r1.interceptors.i1.serializers.s1.pattern = yyyy-ww\n"  # 19
    )
    assert problems(text) == [
        "agent.properties:11: sinks.k1 sink.serializer.syncIntervalBytes: must be at least 32, got 1",
        "agent.properties:12: sinks.k1 sink.serializer.compresionCodec: warning: unknown property, ignored "
        "(did you mean 'sink.serializer.compressionCodec'?)",
        "agent.properties:19: sources.r1 interceptors.i1.serializers.s1.pattern: pattern letter 'ww' of 'yyyy-ww' "
        "is not supported; use the tokens yyyy yy MM MMM MMMM dd D HH hh mm ss SSS a EEE EEEE Z ZZ and quoted text",
    ]


def test_a_nested_type_is_resolved_in_the_plan() -> None:
    flume_class = "org.apache.flume.serialization.HeaderAndBodyTextEventSerializer$Builder"
    plan = load(FILE_ROLL + f"a1.sinks.k1.sink.serializer = {flume_class}\n").plan
    serializer = plan.sinks["k1"].built.config.serializer
    assert (serializer.cls.__name__, serializer.config.append_newline) == ("HeaderAndBodyTextSerializer", True)


def test_interceptor_missing_type_and_unknown_type() -> None:
    text = BASE + "a1.sources.r1.interceptors = i1\n"
    assert errors(text) == [
        "agent.properties:9: sources.r1 interceptors.i1.type: is required: interceptor 'i1' is listed but has no type"
    ]
    text = BASE + "a1.sources.r1.interceptors = i1\na1.sources.r1.interceptors.i1.type = nosuch\n"
    (message,) = errors(text)
    assert message.startswith("agent.properties:10: sources.r1 interceptors.i1.type: unknown interceptor type 'nosuch'")


def test_custom_interceptor_parameters_are_checked_with_their_full_key() -> None:
    text = BASE + (
        "a1.sources.r1.interceptors = i1 i2\n"
        "a1.sources.r1.interceptors.i1.type = tests.unit.config.test_validation:Upper\n"
        "a1.sources.r1.interceptors.i2.type = tests.unit.config.test_validation.Strict$Builder\n"
        "a1.sources.r1.interceptors.i2.level = -1\n"
    )
    assert errors(text) == ["agent.properties:12: sources.r1 interceptors.i2.level: must be at least 0, got -1"]
    ok = load(text.replace("level = -1", "level = 3")).plan.sources["r1"]
    assert [b.cls for b in ok.interceptors] == [Upper, Strict]
    assert ok.interceptors[1].config.level == 3


def test_unknown_selector_and_selector_channel_outside_the_source() -> None:
    text = BASE + "a1.sources.r1.selector.type = multiplex\n"
    (message,) = errors(text)
    assert "unknown channel selector type 'multiplex'" in message
    assert "Did you mean 'multiplexing'?" in message
    text = BASE + "a1.sources.r1.selector.type = multiplexing\na1.sources.r1.selector.mapping.x = c2\n"
    assert errors(text) == [
        "agent.properties:10: sources.r1 selector.mapping.x: channel 'c2' is not one of this source's channels (c1) "
        "(did you mean 'c1'?)"
    ]


def test_sink_group_without_processor_type() -> None:
    text = GROUPED.replace("a1.sinkgroups.g1.processor.type = failover\n", "")
    (message,) = errors(text)
    assert message.startswith("agent.properties:12: sinkgroups.g1 processor.type: is required")


def test_load_balance_with_one_sink_and_default_with_two() -> None:
    text = GROUPED.replace("g1.sinks = k1 k2", "g1.sinks = k1").replace("= failover", "= load_balance")
    assert errors(text) == [
        "agent.properties:12: sinkgroups.g1 sinks: load_balance needs at least two sinks, the group has 1"
    ]
    text = GROUPED.replace("= failover", "= default")
    assert errors(text) == [
        "agent.properties:13: sinkgroups.g1 processor.type: default takes exactly one sink, the group has 2; "
        "use failover or load_balance"
    ]


def test_failover_duplicate_priorities() -> None:
    text = GROUPED + "a1.sinkgroups.g1.processor.priority.k1 = 5\na1.sinkgroups.g1.processor.priority.k2 = 5\n"
    assert errors(text) == [
        "agent.properties:15: sinkgroups.g1 processor.priority.k2: priority 5 is also given to sink 'k1'"
    ]


def test_channel_without_source_or_sink_is_a_warning_and_not_started() -> None:
    text = BASE.replace("a1.channels = c1", "a1.channels = c1 c2") + "a1.channels.c2.type = memory\n"
    assert warnings(text) == [
        "agent.properties:9: channels.c2: warning: no source or sink uses this channel; not started"
    ]
    assert list(load(text).plan.channels) == ["c1"]


def test_named_agent_not_in_file() -> None:
    assert errors(BASE, agent="a2") == [
        "agent 'a2' is not defined in the configuration (agents found: a1) (did you mean 'a1'?)"
    ]


def test_unknown_key_is_a_warning_with_suggestion() -> None:
    text = BASE + "a1.channels.c1.capcity = 5\n"
    assert warnings(text) == [
        "agent.properties:9: channels.c1 capcity: warning: unknown property, ignored (did you mean 'capacity'?)"
    ]


def test_defined_but_unlisted_component_is_a_warning() -> None:
    text = BASE + "a1.sinks.k9.type = null\n"
    assert warnings(text) == [
        "agent.properties:9: sinks.k9: warning: has properties but is not listed in a1.sinks (k1); ignored"
    ]


def test_every_problem_is_reported_in_one_run() -> None:
    text = BASE + (
        "a1.channels.c1.capcity = 5\n"
        "a1.sources.r1.batchSize = x\n"
    )
    text = text.replace("a1.sinks.k1.type = null", "a1.sinks.k1.type = nul")
    found = problems(text)
    assert len(found) == 3
    assert found[0].startswith("agent.properties:9: channels.c1 capcity: warning:")
    assert any(p.startswith("agent.properties:7: sinks.k1 type: unknown sink type 'nul'") for p in found)
    assert any(p.startswith("agent.properties:10: sources.r1 batchSize:") for p in found)


def test_lenient_drops_the_broken_component_and_what_depends_on_it() -> None:
    text = BASE.replace("a1.sinks = k1", "a1.sinks = k1 k2") + "a1.sinks.k2.type = nul\na1.sinks.k2.channel = c1\n"
    loaded = load(text, lenient=True)
    assert list(loaded.plan.sinks) == ["k1"]
    assert any("component dropped (--lenient)" in str(d) for d in loaded.diagnostics)
    broken_channel = BASE.replace("type = memory", "type = memroy")
    with pytest.raises(ConfigError):  # nothing left to run once the channel and its users are dropped
        load(broken_channel, lenient=True)


def test_environment_substitution_and_unset_variable() -> None:
    text = BASE.replace("a1.sinks.k1.type = null", "a1.sinks.k1.type = ${env:SINK}")
    with pytest.raises(ConfigError) as info:
        load(text)
    assert str(info.value.diagnostics[0]).startswith("agent.properties:7: sinks.k1 type: '${env:SINK}' is not set")


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "Infinity"])
def test_non_finite_keep_alive_is_an_error_at_its_line(text: str) -> None:
    # nan made a put never return and inf failed every put; both passed --check.
    assert errors(BASE + f"a1.channels.c1.keep-alive = {text}\n") == [
        f"agent.properties:9: channels.c1 keep-alive: must be a finite number, got '{text}'"
    ]


def test_a_source_with_a_bad_value_still_gets_its_batch_size_checked() -> None:
    text = BASE + "a1.sources.r1.totalEvents = lots\na1.sources.r1.batchSize = 500\n"
    assert errors(text) == [
        "agent.properties:9: sources.r1 totalEvents: expected a whole number, got 'lots'",
        "agent.properties:10: sources.r1: batch size 500 exceeds transactionCapacity 100 of channel c1; raise "
        "channels.c1.transactionCapacity or lower the batch size",
    ]


def test_a_channel_with_a_bad_value_still_checks_the_batch_sizes_against_its_transaction_capacity() -> None:
    text = BASE + "a1.channels.c1.keep-alive = x\na1.channels.c1.transactionCapacity = 50\n" \
                  "a1.sinks.k1.batchSize = 80\n"
    assert errors(text) == [
        "agent.properties:9: channels.c1 keep-alive: expected a number, got 'x'",
        "agent.properties:11: sinks.k1: batch size 80 exceeds transactionCapacity 50 of channel c1; raise "
        "channels.c1.transactionCapacity or lower the batch size",
    ]


@pytest.mark.parametrize(("extra", "only"), [
    # What capacity was meant to be is unknown: "transactionCapacity must not exceed capacity" would be a guess.
    ("a1.channels.c1.capacity = lots\na1.channels.c1.transactionCapacity = 2000000\n",
     "agent.properties:9: channels.c1 capacity: expected a whole number, got 'lots'"),
    # Same for transactionCapacity itself, and for the sink's batch size that is checked against it.
    ("a1.channels.c1.capacity = 50\na1.channels.c1.transactionCapacity = lots\n",
     "agent.properties:10: channels.c1 transactionCapacity: expected a whole number, got 'lots'"),
    ("a1.sinks.k1.batchSize = lots\na1.channels.c1.transactionCapacity = 1\n",
     "agent.properties:9: sinks.k1 batchSize: expected a whole number, got 'lots'"),
])
def test_no_error_follows_from_a_bad_value(extra: str, only: str) -> None:
    assert errors(BASE + extra) == [only]


KAFKA_SINK = BASE.replace("a1.sinks.k1.type = null", "a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink\n"
                                                     "a1.sinks.k1.kafka.bootstrap.servers = localhost:9092")


def test_every_bad_kafka_producer_key_is_reported() -> None:
    # kafka.producer.acks is a declared field: its error used to stop the check of every other producer key.
    text = KAFKA_SINK + (
        "a1.sinks.k1.kafka.producer.acks = 2\n"
        "a1.sinks.k1.kafka.producer.linger.ms = soon\n"
        "a1.sinks.k1.kafka.producer.compression.type = brotli\n"
        "a1.sinks.k1.kafka.producer.enable.idempotence = maybe\n"
    )
    assert errors(text) == [
        "agent.properties:10: sinks.k1 kafka.producer.acks: must be one of 0, 1, all, -1, got '2'",
        "agent.properties:11: sinks.k1 kafka.producer.linger.ms: expected a whole number, got 'soon'",
        "agent.properties:12: sinks.k1 kafka.producer.compression.type: must be one of none, gzip, snappy, lz4, "
        "zstd, got 'brotli'",
        "agent.properties:13: sinks.k1 kafka.producer.enable.idempotence: expected true or false, got 'maybe'",
    ]


def test_a_kafka_sink_without_brokers_still_has_its_producer_keys_checked() -> None:
    text = KAFKA_SINK.replace("a1.sinks.k1.kafka.bootstrap.servers = localhost:9092\n", "") + (
        "a1.sinks.k1.kafka.producer.retries = x\n")
    assert errors(text) == [
        "agent.properties:7: sinks.k1 kafka.bootstrap.servers: is required (Comma-separated brokers (host:port) the "
        "producer connects to first)",
        "agent.properties:9: sinks.k1 kafka.producer.retries: expected a whole number, got 'x'",
    ]


TWO_FILE_CHANNELS = """\
a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sources.r1.type = seq
a1.sources.r1.channels = c1 c2
a1.channels.c1.type = file
a1.channels.c1.checkpointDir = /var/flafka/c1/checkpoint
a1.channels.c1.dataDirs = /var/flafka/c1/data, /var/flafka/shared
a1.channels.c2.type = file
a1.channels.c2.checkpointDir = /var/flafka/c2/checkpoint
a1.channels.c2.dataDirs = /var/flafka/c2/../shared/
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
a1.sinks.k2.type = null
a1.sinks.k2.channel = c2
"""


def test_two_file_channels_on_one_directory_are_refused_naming_both_lines() -> None:
    # This passed --check and failed at start (the second channel found the directory locked).
    assert errors(TWO_FILE_CHANNELS) == [
        "agent.properties:11: channels.c2 dataDirs: /var/flafka/c2/../shared/ is also used by channels.c1 dataDirs "
        "at agent.properties:8 (as /var/flafka/shared); two components cannot share a directory: give each its own"
    ]
    assert load(TWO_FILE_CHANNELS.replace("c2/../shared/", "c2/data")).plan.channels.keys() == {"c1", "c2"}


def test_two_file_channels_on_the_default_directories() -> None:
    text = "\n".join(line for line in TWO_FILE_CHANNELS.splitlines() if "Dir" not in line) + "\n"
    found = errors(text)
    assert [f.split(" is also used by ")[0] for f in found] == [
        "agent.properties:7: channels.c2 checkpointDir: ~/.flume/file-channel/checkpoint (the default)",
        "agent.properties:7: channels.c2 dataDirs: ~/.flume/file-channel/data (the default)",
    ]
    assert found[0].split(" is also used by ")[1].startswith("channels.c1 checkpointDir at agent.properties:6 "
                                                             "(by default, both are ")


def test_a_shared_directory_is_reported_beside_the_channels_other_errors() -> None:
    text = TWO_FILE_CHANNELS + "a1.channels.c2.capacity = lots\n"
    found = errors(text)
    assert found[0] == "agent.properties:16: channels.c2 capacity: expected a whole number, got 'lots'"
    assert found[1].startswith("agent.properties:11: channels.c2 dataDirs: /var/flafka/c2/../shared/ is also used by")
    assert len(found) == 2


def test_a_channel_nobody_uses_takes_no_directory() -> None:
    text = TWO_FILE_CHANNELS.replace("a1.sources.r1.channels = c1 c2", "a1.sources.r1.channels = c1").replace(
        "a1.sinks.k2.channel = c2", "a1.sinks.k2.channel = c1")
    assert warnings(text) == ["agent.properties:9: channels.c2: warning: no source or sink uses this channel; not "
                              "started"]


def test_a_directory_may_serve_one_channel_twice() -> None:
    text = TWO_FILE_CHANNELS.replace("/var/flafka/c2/../shared/", "/var/flafka/c2/checkpoint")
    assert warnings(text) == []


def test_a_java_regex_python_would_read_differently_is_an_error_at_check() -> None:
    # [\w&&[^\d]] is "word characters but not digits" in Java; Python's re read it as a class of '\w&[^\d' then ']'.
    text = BASE + "a1.sources.r1.interceptors = i1\na1.sources.r1.interceptors.i1.type = regex_filter\n" \
                  "a1.sources.r1.interceptors.i1.regex = [\\\\w&&[^\\\\d]]\n"
    (message,) = errors(text)
    assert message.startswith("agent.properties:11: sources.r1 interceptors.i1.regex: '[\\w&&[^\\d]]' at position 0: "
                              "class intersection (&&) has no equivalent in Python's re")
