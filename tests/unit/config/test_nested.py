"""Nested components (nested(), nested_list()): resolved through the registry, configured from their keys
with real lines, problems reported with the full key; and configs naming their batch-size key."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar

import pytest

from flafka.config.params import ComponentConfig, Nested, nested, nested_list, param, params_table
from flafka.config.properties import Prop, parse_properties
from flafka.serializers.base import EventSerializer
from flafka.serializers.text import BodyTextSerializer, TextSerializerConfig

HERE = __name__


@dataclass(frozen=True, kw_only=True)
class ShoutConfig(ComponentConfig):
    times: int = param("times", minimum=1, doc="How often.")
    mark: str = param("mark", default="!", deprecated=("bang",), doc="Appended.")


class Shout(EventSerializer):
    """A serializer with a required option, named by import path."""

    config_class = ShoutConfig
    config: ShoutConfig

    def __init__(self, config: ShoutConfig, stream: BinaryIO, extra: str = "") -> None:
        super().__init__(config, stream)
        self.extra = extra


@dataclass(frozen=True, kw_only=True)
class SinkLike(ComponentConfig):
    batch_size_key: ClassVar[str] = "sink.batchSize"

    serializer: Nested[EventSerializer] = nested(
        "sink.serializer", kind="serializer", default="TEXT", deprecated=("serializer",),
        doc="The serializer.", options_doc="Its options.",
    )
    batch_size: int = param("sink.batchSize", default=100, minimum=1, doc="Batch.")
    limit: int = param("limit", default=10, doc="A limit.")

    def check(self) -> list[tuple[str | None, str]]:
        return [("limit", "must not be below sink.batchSize")] if self.limit < self.batch_size else []


@dataclass(frozen=True, kw_only=True)
class ListLike(ComponentConfig):
    serializers: list[Nested[EventSerializer]] = nested_list(
        "serializers", kind="serializer", item_default="text", item_label="s", doc="Names.",
        type_doc="Type of each.", options_doc="Options of each.",
    )


def lines(text: str) -> dict[str, Prop]:
    """Properties of one component, keys relative to it, each at its line of ``conf``."""
    return parse_properties(textwrap.dedent(text), "conf")


def parse(cls: type[ComponentConfig], text: str) -> tuple[Any, list[str]]:
    config, found = cls.parse(lines(text), "sinks.k1")
    return config, [str(d) for d in found]


def test_the_type_is_resolved_and_its_options_parsed_by_its_own_config_class() -> None:
    config, found = parse(SinkLike, f"""\
        sink.serializer = {HERE}:Shout
        sink.serializer.times = 3
        limit = 100
        """)
    assert found == []
    chosen = config.serializer
    assert (chosen.kind, chosen.type_name, chosen.cls, chosen.prefix) == (
        "serializer", f"{HERE}:Shout", Shout, "sink.serializer.")
    assert chosen.config == ShoutConfig(times=3, mark="!")
    built = chosen.build(None, extra="x")
    assert isinstance(built, Shout)
    assert (built.config, built.extra) == (chosen.config, "x")


def test_the_default_type_with_default_options() -> None:
    config, found = parse(SinkLike, "limit = 100\n")
    assert found == []
    assert (config.serializer.cls, config.serializer.config) == (BodyTextSerializer, TextSerializerConfig())
    assert SinkLike().serializer == config.serializer  # the field's own default is the same


def test_problems_in_nested_keys_have_their_full_key_and_line() -> None:
    config, found = parse(SinkLike, f"""\
        limit = 100
        sink.serializer = {HERE}:Shout
        sink.serializer.times = 0
        sink.serializer.bang = ?
        sink.serializer.mrak = .
        """)
    assert config is None
    assert found == [
        "conf:3: sinks.k1 sink.serializer.times: must be at least 1, got 0",
        "conf:4: sinks.k1 sink.serializer.bang: warning: is deprecated, use sink.serializer.mark",
        "conf:5: sinks.k1 sink.serializer.mrak: warning: unknown property, ignored "
        "(did you mean 'sink.serializer.mark'?)",
    ]


def test_a_required_nested_key_points_at_the_type_key() -> None:
    _, found = parse(SinkLike, f"limit = 100\n\nsink.serializer = {HERE}:Shout\n")
    assert found == ["conf:3: sinks.k1 sink.serializer.times: is required (How often)"]


def test_an_unknown_type_is_reported_at_its_key_with_a_suggestion() -> None:
    _, found = parse(SinkLike, "limit = 100\nsink.serializer = header_and_txt\nsink.serializer.appendNewline = no\n")
    assert found == [
        "conf:2: sinks.k1 sink.serializer: unknown event serializer type 'header_and_txt': it is not a built-in "
        "alias, a Flume class flafka implements, or an installed plugin, nor a Python import path "
        "(pkg.module:Class). Did you mean 'header_and_text'?"
    ]


def test_a_deprecated_type_key_works_with_a_warning() -> None:
    config, found = parse(SinkLike, "limit = 100\nserializer = avro_event\n")
    assert found == ["conf:2: sinks.k1 serializer: warning: is deprecated, use sink.serializer"]
    assert config.serializer.type_name == "avro_event"


def test_a_bad_nested_value_does_not_hide_the_other_checks() -> None:
    # limit < batchSize does not depend on the serializer: it is reported beside the serializer's error.
    _, found = parse(SinkLike, "sink.serializer.appendNewline = perhaps\nsink.batchSize = 50\nlimit = 20\n")
    assert found == [
        "conf:1: sinks.k1 sink.serializer.appendNewline: expected true or false, got 'perhaps'",
        "conf:3: sinks.k1 limit: must not be below sink.batchSize",
    ]
    parsed = SinkLike.parse_all(lines("sink.serializer = nope\n"), "sinks.k1")
    assert parsed.agreed(lambda c: c.events_per_transaction()) == (True, 100)


def test_a_list_of_nested_components() -> None:
    config, found = parse(ListLike, f"""\
        serializers = a b a
        serializers.b.type = {HERE}:Shout
        serializers.b.times = 2
        serializers.a.appendNewline = false
        """)
    assert found == []
    first, second = config.serializers
    assert (first.name, first.prefix, first.cls, first.config) == (
        "a", "serializers.a.", BodyTextSerializer, TextSerializerConfig(append_newline=False))
    assert (second.name, second.type_name, second.config) == ("b", f"{HERE}:Shout", ShoutConfig(times=2))


def test_list_items_report_their_own_keys_and_stray_keys_are_warnings() -> None:
    config, found = parse(ListLike, """\
        serializers = alpha beta
        serializers.alpha.type = nope
        serializers.beta.appendNewline = x
        serializers.alpah.appendNewline = false
        serializers.beta = ?
        """)
    assert config is None
    assert found == [
        "conf:2: sinks.k1 serializers.alpha.type: unknown event serializer type 'nope': it is not a built-in alias, "
        "a Flume class flafka implements, or an installed plugin, nor a Python import path (pkg.module:Class).",
        "conf:3: sinks.k1 serializers.beta.appendNewline: expected true or false, got 'x'",
        "conf:4: sinks.k1 serializers.alpah.appendNewline: warning: event serializer 'alpah' is not listed in "
        "serializers; ignored (did you mean 'alpha'?)",
        "conf:5: sinks.k1 serializers.beta: warning: unknown property, ignored (the keys of event serializer 'beta' "
        "are under serializers.beta.)",
    ]


def test_a_required_list_is_reported() -> None:
    _, found = parse(ListLike, "serializers.a.type = text\n")
    assert found[0] == "sinks.k1 serializers: is required (Names)"


def test_docs_rows_of_nested_parameters() -> None:
    table = params_table(SinkLike)
    assert "| `sink.serializer` | `TEXT` | The serializer. (deprecated name: `serializer`) |" in table
    assert "| `sink.serializer.*` |  | Its options. |" in table
    table = params_table(ListLike)
    assert "| **`serializers`** |  | Names. |" in table
    assert "| `serializers.<s>.type` | `text` | Type of each. |" in table
    assert "| `serializers.<s>.*` |  | Options of each. |" in table


def test_the_batch_size_key_gives_the_events_per_transaction() -> None:
    config, _ = parse(SinkLike, "sink.batchSize = 7\nlimit = 7\n")
    assert config.events_per_transaction() == 7
    assert ShoutConfig(times=1).events_per_transaction() is None  # no batch_size_key: no batch


def test_a_batch_size_key_that_is_not_declared_is_a_programming_error() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Typo(ComponentConfig):
        batch_size_key: ClassVar[str] = "batchsize"
        batch_size: int = param("batchSize", default=1)

    with pytest.raises(TypeError, match=r"Typo\.batch_size_key names 'batchsize', which it does not declare"):
        Typo().events_per_transaction()
